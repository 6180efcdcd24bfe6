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
    config.addinivalue_line("markers", "slow: renders papers, starts PostGIS or servers, fuzzes (not in make test-fast)")
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright (not in make test-fast)")


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


# -- Markers: ``slow`` and ``browser``, applied by file and fixture -----------------------
#
# ``make test-fast`` runs ``-m "not slow and not browser"``: what a developer runs after
# each change, in under a minute. A new test is fast unless it lands in one of the files
# below or uses one of the fixtures below; a new slow file goes in SLOW_FILES.

#: Whole files that are slow: PDF/PNG rendering (prints, targets summary, sheets),
#: a PostgreSQL cluster, notebooks, fuzzing, subprocess servers and GDAL clients.
SLOW_FILES = {
    "test_notebooks.py",
    "test_postgis.py",
    "test_print.py",
    "test_print_context.py",
    "test_import_fuzz.py",
    "test_edit_fuzz.py",
    "test_fuzz_routes.py",
    "test_serve.py",
    "test_gpkg_clients.py",
    "test_ogcapi_clients.py",
    "test_ogcapi_gdal_filters.py",
    "test_quality_http.py",
    "test_rivers.py",
    "test_fonts.py",
    # the work plan computed over the whole demo (seconds a test), and its PDF
    "test_targets.py",
    "test_targets_page.py",
    "test_targets_cli.py",
    # properties checked against brute force on random writes and filters
    "test_query.py",
    "test_query_index.py",
    "test_filter_pushdown.py",
    # demo registries built from scratch, GDAL's ogrinfo on them
    "test_demo.py",
    "test_gpkg_rules.py",
}

#: Single tests measured over a second on a quiet run (property tests, two processes,
#: every format, the OpenAPI validator): slow wherever their file is.
SLOW_TESTS = {
    "test_two_processes_writing_at_once_lose_nothing",
    "test_export_then_read_is_identity_for_every_format",
    "test_gpkg_round_trip_with_real_dates",
    "test_duty_and_patrol_rate_equal_a_plain_pandas_recount",
    "test_coverage_equals_reach_intersected_with_buffered_tracks_within_1m",
    "test_any_query_string_gets_200_or_a_400_json_never_500",
    "test_any_values_classified_at_once_match_a_plain_reading_of_table_1",
    "test_openapi_document_is_valid_openapi_3_0",
    "test_read_rows_pages_match_read",
    "test_search_finds_features_of_a_big_layer_through_the_store",
    "test_within_and_nearest_through_the_rtree",
}

#: Fixtures that make a test slow wherever it is: a PostGIS cluster and its copies, and
#: a private copy of the demo registry per test (``registry``, ``app`` and ``client``
#: come through ``registry_name``). Fast tests read the session's demo (``demo_path``,
#: ``demo_registry``, ``demo_app``) or build a small registry of their own.
SLOW_FIXTURES = {"pg_cluster", "pg_uri", "pg_demo_uri", "pg_demo_copy_uri", "demo_copy", "registry_name"}

#: Words in a test's name that mean it renders a PDF (the targets summary, sheets...).
SLOW_NAME_WORDS = ("pdf",)


def _is_browser_test(item) -> bool:
    """Tests that drive Chromium: they use a ``browser`` fixture, or their module is
    built on ``tests/browser_support.py``."""
    module = getattr(item, "module", None)
    return "browser" in getattr(item, "fixturenames", ()) or (
        module is not None and any(n in vars(module) for n in ("browser_page", "offline_page", "chromium"))
    )


def _is_slow_test(item) -> bool:
    if item.path.name in SLOW_FILES or getattr(item, "originalname", item.name) in SLOW_TESTS:
        return True
    if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    if callspec is not None and (
        callspec.params.get("store_kind") == "postgis" or "postgis" in callspec.id.split("-")
    ):
        return True
    name = item.name.lower()
    return item.path.name.startswith("test_") and any(w in name for w in SLOW_NAME_WORDS)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)
        if _is_slow_test(item):
            item.add_marker(pytest.mark.slow)


# -- Read-only demo fixtures, one per module (the print and targets suites) --------------


@pytest.fixture(scope="module")
def demo_registry(demo_path):
    """The demo registry opened once for a module whose tests only read it."""
    reg = Registry.open(demo_path)
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def demo_app(demo_path):
    """One app on the demo for a module whose requests only read (GET pages, papers)."""
    from server import create_app

    app = create_app({"REGISTRY": str(demo_path), "TESTING": True})
    yield app
    app.extensions["hehu_registry"].close()
