"""`hehu serve`: the real command, under waitress, building the demo on first start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 120) -> urllib.request.addinfourl:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stderr.read().decode()}")
        try:
            return urllib.request.urlopen(url, timeout=5)
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def serve(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_serve_builds_the_demo_on_first_start_and_serves_the_map(tmp_path):
    port = free_port()
    proc = serve(["--port", str(port)], cwd=tmp_path)
    try:
        resp = wait_for(f"http://127.0.0.1:{port}/map", proc)
        assert resp.status == 200
        assert resp.headers["Server"] == "hehu"  # waitress, not Flask's development server
        assert (tmp_path / "data" / "jintan.gpkg").exists()
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_refuses_a_missing_registry_path(tmp_path):
    proc = serve(["--registry", str(tmp_path / "nope.gpkg"), "--port", str(free_port()), "--lang", "en"], cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "no such registry" in err.decode()
    assert not (tmp_path / "nope.gpkg").exists()


@pytest.mark.parametrize("content", [b"not a geopackage", b""])
def test_serve_refuses_a_file_that_is_not_a_registry(tmp_path, content):
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(content)
    proc = serve(["--registry", str(bad), "--port", str(free_port())], cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "not a GeoPackage" in err.decode() or "not an SQLite" in err.decode()
    assert "Traceback" not in err.decode()
    assert bad.read_bytes() == content
