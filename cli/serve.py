"""``hehu serve``: the map server and OGC API under a production WSGI server (waitress).

``--workers N`` runs N server processes on one listening socket (the kernel hands each
new connection to one of them), each with its own registry connection. A worker that
dies (killed, crashed) is replaced. Several processes, or several machines, serve one
registry safely when it is in PostgreSQL; a GeoPackage takes them too, writes queueing
on SQLite's lock.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time

from cli.common import add_registry_argument, default_registry
from cli.lang import h, t
from geo.registry import DEFAULT_PATH
from geo.stores import display_name, is_database_uri


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help=h("serve.help"), description=h("serve.help"))
    add_registry_argument(p)
    p.add_argument("--host", default="127.0.0.1", help=h("serve.host"))
    p.add_argument("--port", type=int, default=8000, help=h("serve.port"))
    p.add_argument("--threads", type=int, default=8, help=h("serve.threads"))
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help=h("serve.workers"),
    )
    p.add_argument("--config", metavar="FILE", help=h("serve.config"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server import create_app, load_config

    if args.workers < 1:
        print(t("error_line", command="hehu serve", message=t("serve.workers_min")), file=sys.stderr)
        return 2
    config = load_config(args.config)
    registry = args.registry
    if "REGISTRY" in config and str(registry) == str(default_registry()):
        registry = config["REGISTRY"]  # the settings file names it, the command line did not
    if not is_database_uri(registry):
        from pathlib import Path

        path = Path(registry)
        if not path.exists():
            if path != DEFAULT_PATH:
                print(t("error_line", command="hehu serve", message=t("serve.no_file", path=path)), file=sys.stderr)
                return 2
            from geo.demo import build_demo

            print(t("serve.building_demo", path=path), file=sys.stderr)
            build_demo(path).close()
    config["REGISTRY"] = str(registry)
    name = display_name(registry)
    if args.workers == 1:
        from waitress import serve

        from server.security import waitress_options

        app = create_app(config)
        print(t("serve.serving", name=name, url=f"http://{args.host}:{args.port}/map"), file=sys.stderr)
        # waitress refuses a body over MAX_CONTENT_LENGTH from its headers, before reading it.
        serve(app, host=args.host, port=args.port, threads=args.threads, ident="hehu", **waitress_options(app))
        return 0
    # Open once here so a bad registry is one line now, not N tracebacks later.
    from geo.registry import Registry

    Registry.open(config["REGISTRY"]).close()
    sock = _listen(args.host, args.port)
    url = f"http://{args.host}:{sock.getsockname()[1]}/map"
    print(t("serve.serving_workers", name=name, url=url, workers=args.workers), file=sys.stderr)
    return _prefork(sock, args.workers, lambda: _worker(sock, config, args.threads))


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _worker(sock: socket.socket, config: dict, threads: int) -> None:
    """One server process: its own app, registry and connections, after the fork."""
    from waitress import serve

    from server import create_app

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from server.security import waitress_options

    app = create_app(dict(config))
    serve(app, sockets=[sock], threads=threads, ident="hehu", **waitress_options(app))


def _prefork(sock: socket.socket, workers: int, target) -> int:
    """Fork ``workers`` children running ``target``; replace any that dies until told to stop."""
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                target()
            except BaseException:  # noqa: BLE001 - a child never returns into the parent's loop
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        children.add(pid)

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    started = time.monotonic()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if not stopping:
            if time.monotonic() - started < 2 and os.WIFEXITED(status) and os.WEXITSTATUS(status):
                print(t("error_line", command="hehu serve", message=t("serve.failed_start")), file=sys.stderr)
                stop(None, None)
                continue
            print(t("serve.restart", pid=pid, how=_how(status)), file=sys.stderr)
            spawn()
    sock.close()
    return 0


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return t("serve.by_signal", signal=os.WTERMSIG(status))
    return t("serve.by_exit", code=os.WEXITSTATUS(status))
