"""A throwaway PostgreSQL + PostGIS cluster for the tests.

The suite starts one cluster per session from Debian's ``postgresql`` and ``postgis``
packages: ``initdb`` in a temporary folder owned by the ``postgres`` OS user (we may run
as root, and PostgreSQL refuses to run as root), a free TCP port on 127.0.0.1, its unix
socket in the same folder, and ``fsync`` off since nothing here must survive a crash of
the machine. Each test gets its own schema, so tests stay independent without a new
cluster each.

Without PostgreSQL the PostGIS tests are skipped with a line saying what to install,
unless ``HEHU_REQUIRE_POSTGIS`` or ``CI`` is set: there a missing PostgreSQL fails.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SKIP_REASON = "PostgreSQL not installed (apt-get install postgresql postgis)"
#: The superuser's password on TCP connections (the socket trusts local users).
PASSWORD = "hehu-test-secret"


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` holding initdb and postgres."""
    override = os.environ.get("HEHU_PG_BINDIR")
    candidates = [override] if override else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    for d in candidates:
        if d and Path(d, "initdb").exists() and Path(d, "postgres").exists():
            return Path(d)
    return None


def postgis_installed(bindir: Path) -> bool:
    version = bindir.parent.name
    return bool(glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"))


def required() -> bool:
    """Whether a missing PostgreSQL is a failure rather than a skip (CI)."""
    return bool(os.environ.get("HEHU_REQUIRE_POSTGIS") or os.environ.get("CI"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One running PostgreSQL server in a temporary folder."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="hehu-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.user = None
        if os.geteuid() == 0:
            # PostgreSQL will not run as root: the folder belongs to the postgres user.
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.dbname = "hehu_test"

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    def start(self) -> None:
        if not self.data.exists():
            pwfile = self.dir / "pw"
            pwfile.write_text(PASSWORD + "\n")
            if self.user:
                pw = pwd.getpwnam(self.user)
                os.chown(pwfile, pw.pw_uid, pw.pw_gid)
            subprocess.run(
                self._cmd(
                    str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                    "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
                    "-E", "UTF8", "--locale=C", "--no-sync",
                ),
                check=True, capture_output=True,
            )
        self.proc = subprocess.Popen(
            self._cmd(
                str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200", "-c", "shared_buffers=64MB",
            ),
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "ab"),  # noqa: SIM115
        )
        self._wait()

    def _wait(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.admin_conninfo("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start:\n{log}") from None
                time.sleep(0.1)

    def server_pid(self) -> int | None:
        """The postmaster's pid (``runuser`` in between does not pass signals on)."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            pid = self.server_pid()
            # SIGINT is PostgreSQL's "fast shutdown": abort sessions, then exit cleanly.
            if pid:
                os.kill(pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                if pid:
                    os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- names ------------------------------------------------------------------------

    def admin_conninfo(self, dbname: str | None = None) -> str:
        return f"host={self.dir} port={self.port} user=postgres dbname={dbname or self.dbname}"

    def uri(self, schema: str | None = None, dbname: str | None = None) -> str:
        """A hehu registry URI over the unix socket (trusted: no password)."""
        uri = f"postgresql://postgres@/{dbname or self.dbname}?host={self.dir}&port={self.port}"
        return uri + (f"&schema={schema}" if schema else "")

    def tcp_uri(self, password: str = PASSWORD, schema: str | None = None) -> str:
        uri = f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{self.dbname}"
        return uri + (f"?schema={schema}" if schema else "")

    def create_database(self, name: str, postgis: bool = True) -> None:
        import psycopg

        with psycopg.connect(self.admin_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        if postgis:
            with psycopg.connect(self.admin_conninfo(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")

    def drop_schema(self, schema: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def clone_registry(cluster: Cluster, src_uri: str, dst_uri: str) -> None:
    """Make ``dst_uri`` a copy of the registry at ``src_uri`` (same database), in SQL:
    much faster than ``hehu copy`` for a fixture run before every test."""
    import psycopg

    from geo.registry import Registry

    Registry.create(dst_uri).close()
    src, dst = src_uri.rsplit("schema=", 1)[1], dst_uri.rsplit("schema=", 1)[1]
    with psycopg.connect(cluster.admin_conninfo()) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (dst,),
        )]
        # The copy's hehu_changes rows are the source's: no trigger may count again.
        conn.execute("SET session_replication_role = replica")
        conn.execute(f"TRUNCATE {', '.join(f'{_q(dst)}.{_q(t)}' for t in tables)}")
        for t in tables:
            conn.execute(f"INSERT INTO {_q(dst)}.{_q(t)} SELECT * FROM {_q(src)}.{_q(t)}")
        serials = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND column_default LIKE 'nextval%%'",
            (dst,),
        ).fetchall()
        for t, col in serials:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                f"coalesce((SELECT max({_q(col)}) FROM {_q(dst)}.{_q(t)}), 0) + 1, false)",
                (f"{_q(dst)}.{_q(t)}", col),
            )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def new_schema() -> str:
    return "t_" + uuid.uuid4().hex[:12]


def start_cluster() -> Cluster:
    """Start a cluster with the test database and PostGIS in it (caller destroys it)."""
    bindir = find_bindir()
    if bindir is None or not postgis_installed(bindir):
        raise LookupError(SKIP_REASON)
    cluster = Cluster(bindir)
    try:
        cluster.start()
        cluster.create_database(cluster.dbname)
    except BaseException:
        cluster.destroy()
        raise
    return cluster
