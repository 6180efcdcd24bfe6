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


@pytest.fixture(scope="module")
def store_kind(request) -> str:
    """Which store the demo fixtures use: ``gpkg``, or each of ``gpkg`` and ``postgis``
    in modules marked ``both_stores`` (the query and OGC API suites)."""
    return getattr(request, "param", "gpkg")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "both_stores: run the module's registry/app fixtures on GeoPackage and on PostGIS"
    )


def pytest_generate_tests(metafunc):
    if "store_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store_kind", ["gpkg", "postgis"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def demo_name(request, store_kind, demo_path) -> str:
    """The read-only demo registry on this module's store: the file, or a PostGIS URI."""
    if store_kind == "postgis":
        return request.getfixturevalue("pg_demo_uri")
    return str(demo_path)


@pytest.fixture
def registry_name(request, store_kind) -> str:
    """A private, writable copy of the demo on this module's store (path or URI)."""
    if store_kind == "postgis":
        return request.getfixturevalue("pg_demo_copy_uri")
    return str(request.getfixturevalue("demo_copy"))


@pytest.fixture
def registry(registry_name):
    """A writable registry on a private copy of the demo."""
    reg = Registry.open(registry_name)
    yield reg
    reg.close()


@pytest.fixture
def empty_registry(tmp_path):
    """A new registry with no features (and so no district check)."""
    reg = Registry.create(tmp_path / "empty.gpkg")
    yield reg
    reg.close()


@pytest.fixture
def app(registry_name):
    from server import create_app

    app = create_app({"REGISTRY": registry_name, "TESTING": True})
    yield app
    app.extensions["hehu_registry"].close()  # a PostGIS registry closes its pool


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


@pytest.fixture(scope="session")
def pg_demo_uri(pg_cluster, demo_path) -> str:
    """The demo registry copied into a PostGIS schema once per session. Do not write."""
    from geo.copy import copy_registry

    uri = pg_cluster.uri("demo")
    copy_registry(demo_path, uri)
    return uri


@pytest.fixture
def pg_demo_copy_uri(pg_cluster, pg_uri, pg_demo_uri) -> str:
    """A private PostGIS copy of the demo in a schema of its own (dropped after)."""
    import pg

    pg.clone_registry(pg_cluster, pg_demo_uri, pg_uri)
    return pg_uri


# -- The command line's language ---------------------------------------------------------


@pytest.fixture(autouse=True)
def _cli_language(monkeypatch):
    """The CLI speaks the project's default, Chinese, whatever the developer's locale
    (``cli.lang``: ``--lang``, else ``HEHU_LANG``, else the locale). Tests of English
    output say ``--lang en``; tests of the choice itself set the variables they need."""
    monkeypatch.setenv("HEHU_LANG", "zh")
