"""Shared fixtures: the demo registry is built once per session; tests that write get
their own copy in ``tmp_path``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geo.registry import Registry


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory) -> Path:
    """The demo registry file, built once for the whole session. Do not write to it."""
    from geo.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "jintan.gpkg"
    build_demo(path, seed=2021).close()
    return path


@pytest.fixture
def demo_copy(demo_path, tmp_path) -> Path:
    """A private copy of the demo registry file, free to modify."""
    dst = tmp_path / "jintan.gpkg"
    shutil.copyfile(demo_path, dst)
    return dst


@pytest.fixture
def registry(demo_copy):
    """A writable registry on a private copy of the demo."""
    reg = Registry.open(demo_copy)
    yield reg
    reg.close()


@pytest.fixture
def empty_registry(tmp_path):
    """A new registry with no features (and so no district check)."""
    reg = Registry.create(tmp_path / "empty.gpkg")
    yield reg
    reg.close()


@pytest.fixture
def app(demo_copy):
    from server import create_app

    return create_app({"REGISTRY": str(demo_copy), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


# -- PostgreSQL + PostGIS (tests/pg.py) ------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL + PostGIS server for the whole session.

    Skipped with what to install when PostgreSQL is missing, except in CI
    (``HEHU_REQUIRE_POSTGIS`` or ``CI`` set), where that is a failure.
    """
    import pg

    try:
        cluster = pg.start_cluster()
    except LookupError as exc:
        if pg.required():
            pytest.fail(f"{exc}; HEHU_REQUIRE_POSTGIS/CI is set, so the PostGIS tests must run")
        pytest.skip(str(exc))
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_uri(pg_cluster):
    """A registry URI naming a fresh schema of the session's database (dropped after)."""
    import pg

    schema = pg.new_schema()
    yield pg_cluster.uri(schema)
    pg_cluster.drop_schema(schema)
