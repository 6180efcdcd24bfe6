"""Every route, every parameter, hostile values: never a 5xx.

The routes come from ``app.url_map`` and their parameters from the OpenAPI document
(plus the few every route reads), so a new route or parameter is fuzzed without
touching this file. Values are what a hostile tester sends: integers beyond 64 bits,
``inf``/``nan``, superscript digits that ``str.isdigit`` accepts, control characters,
deeply nested CQL2 and JSON, very long strings. The heavy renderers (print, PDF) are
replaced by a stub once their parameters are parsed, so the run stays short;
derandomized, so CI sees the same examples every time (``HEHU_FUZZ_EXAMPLES=5000``
runs a longer, random search by hand).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.users import add_user
from server import create_app

HOSTILE = [
    "", " ", "0", "-1", "1", "4", "1e400", "inf", "-inf", "nan", "NaN", "Infinity",
    str(2**63), str(2**64 + 1), str(-(2**70)), "9" * 400, "²", "١٢", "Ⅻ", "½", "1_000",
    "0x10", "\x00", "\t", "\r\n", "%00", "../../etc/passwd", "a" * 5000, "'; DROP TABLE x; --",
    "<script>alert(1)</script>", "=HYPERLINK(\"http://evil\")", "NOT " * 3000 + "x = 1",
    "(" * 3000 + "x" + ")" * 3000, "[" * 3000, '{"a":' * 3000 + "1" + "}" * 3000,
    "1,2,3", "1,2,3,4", "inf,inf,inf,inf", "nan,nan,nan,nan", "1e308,1e308,-1e308,-1e308",
    "119,31,120,32", "2021-01-01", "2021-02-30", "9999-99-99", "0000-00-00", "-9999-01-01",
    "2021-01-01/..", "../..", "status = '已销号'", "found_on > '2021-06-01'",
    "DWITHIN(geometry, POINT(119 31), 1e400, meters)", "S_INTERSECTS(geometry, POINT(nan nan))",
    "json", "html", "csv", "xlsx", "pdf", "png", "geojson", "cql2-json", "cql2-text", "cql-text",
    "zh", "en", "true", "false", "all", "丹金溧漕河", "金城镇", "violations", "towns,rivers",
    "EPSG:4549", "http://www.opengis.net/def/crs/EPSG/0/4326", "+name", "-name",
]

values = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(-(2**80), 2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=30),
)

#: Read by many views besides what the OpenAPI document lists for them.
COMMON = ["f", "lang", "limit", "offset", "next", "v", "base", "all"]

json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
DEEP_JSON = '{"type":"Feature","properties":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}"
DEEP_LIST = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def fuzz_app(demo_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "jintan.gpkg"
    shutil.copyfile(demo_path, path)
    app = create_app({"REGISTRY": str(path), "TESTING": True, "LOGIN_MAX_FAILURES": 10**9})
    token = add_user(app.extensions["hehu_registry"], "fuzz-admin", "admin", iterations=1000)
    return app, token


@pytest.fixture(scope="module")
def stubbed_renderers():
    """Print and PDF drawing replaced by a stub after the parameters are parsed (speed only)."""
    import geo.carto as carto
    import geo.targets_report as report
    import server.printing as printing
    from geo.export import find_town, parse_bbox, parse_layers, select

    def parse_only(reg, layers, out, *, title, paper="A3", orientation="landscape", fmt=None, dpi=None,
                   town=None, bbox=None, near=None, where=None, problems=None, **_):
        fmt = carto.parse_format(carto.Path(out), fmt)
        paper, orientation, (pw, ph) = carto.parse_paper(paper, orientation)
        carto.parse_dpi(dpi, (pw, ph) if fmt == "png" else None)
        chosen = parse_layers(reg.catalog, layers) if layers else []
        parse_bbox(bbox)
        if town:
            find_town(reg, str(town).strip())
        if near:
            select(reg, [lyr.id for lyr in chosen] or ["violations"], near=near, where=where, problems=True, town=town)
        carto.Path(out).write_bytes(b"%PDF-1.4 stub")
        return carto.PrintResult(carto.Path(out), fmt, 1, paper, orientation, (1.0, 1.0), 1, [], [])

    mp = pytest.MonkeyPatch()
    mp.setattr(printing, "render_map", parse_only)
    mp.setattr(report, "render_targets_pdf", lambda reg, plan, today: b"%PDF-1.4 stub")
    yield
    mp.undo()


def _openapi_params(app) -> dict[tuple[str, str], list[str]]:
    """``(method, flask rule) -> parameter names`` from the OpenAPI document."""
    api = app.test_client().get("/api?f=json").get_json()
    out: dict[tuple[str, str], list[str]] = {}
    for path, ops in api["paths"].items():
        rule = re.sub(r"\{[^}]+\}", "<>", path)
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue
            names = []
            for p in op.get("parameters", []):
                if "$ref" in p:
                    ref = p["$ref"].split("/")[-1]
                    p = api["components"]["parameters"].get(ref, {})
                if p.get("in") == "query":
                    names.append(p["name"])
            out.setdefault((method.upper(), rule), [])
            out[(method.upper(), rule)] = sorted(set(out[(method.upper(), rule)]) | set(names))
    return out


def _routes(app):
    params = _openapi_params(app)
    all_names = sorted({n for names in params.values() for n in names} | set(COMMON))
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        generic = re.sub(r"<[^>]+>", "<>", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            names = params.get((method, generic))
            if names is None:  # a layer-specific path in the document, or none at all
                names = sorted({n for (m, r), ns in params.items() if m == method and re.sub(r"/collections/[a-z_]+", "/collections/<>", r) == generic for n in ns})
            routes.append((method, rule.rule, sorted(set(names) | set(COMMON)) or all_names))
    return routes, all_names


@st.composite
def requests(draw, routes, all_names, layers):
    method, rule, names = draw(st.sampled_from(routes))

    def fill(match):
        var = match.group(1).split(":")[-1]
        if var in ("collection_id", "layer_id"):
            return quote(draw(st.one_of(st.sampled_from(layers), values)), safe="")
        return quote(draw(values), safe="")

    path = re.sub(r"<([^>]+)>", fill, rule)
    # Mostly the route's own parameters; sometimes another route's (an unknown one here).
    name = st.one_of(st.sampled_from(names), st.sampled_from(names), st.sampled_from(all_names))
    picked = draw(st.lists(name, max_size=4, unique=True))
    query = [(n, draw(values)) for n in picked]
    body = None
    if method in ("POST", "PUT", "PATCH"):
        if rule in ("/login", "/logout", "/import"):  # forms: hostile fields, a hostile file
            names = ["token", "csrf_token", "next", "layer", "crs", "encoding", "map", "update", "dry_run", "source_layer"]
            body = {n: draw(values) for n in draw(st.lists(st.sampled_from(names), max_size=4, unique=True))}
            if rule == "/import" and draw(st.booleans()):
                import io

                name = draw(st.sampled_from(["a.csv", "a.zip", "a.gpkg", "../../a.geojson", "a.kml", "", "a"]))
                body["file"] = (io.BytesIO(draw(st.binary(max_size=200))), name)
        else:
            body = draw(st.one_of(st.sampled_from([DEEP_JSON, DEEP_LIST, "{", "", "null"]), json_bodies.map(json.dumps)))
    headers = draw(st.sampled_from([{}, {"If-Match": "*"}, {"If-Match": '"x"'}, {"Accept": "text/html"}]))
    who = draw(st.sampled_from(["admin", "admin", "anonymous", "bad"]))
    return method, path, query, body, headers, who


def test_no_route_answers_a_hostile_request_with_a_5xx(fuzz_app, stubbed_renderers):
    app, token = fuzz_app
    client = app.test_client()
    routes, all_names = _routes(app)
    layers = [lyr.id for lyr in app.extensions["hehu_registry"].catalog]
    failures = []

    @settings(max_examples=int(os.environ.get("HEHU_FUZZ_EXAMPLES", 400)), derandomize=not os.environ.get("HEHU_FUZZ_EXAMPLES"), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests(routes, all_names, layers))
    def run(req):
        method, path, query, body, headers, who = req
        if who != "anonymous":
            headers = {"Authorization": f"Bearer {token if who == 'admin' else 'x.' + token[-8:]}", **headers}
        if isinstance(body, dict):
            resp = client.open(path, method=method, query_string=query, data=body, headers=headers)
        else:
            resp = client.open(path, method=method, query_string=query, data=body, headers=headers,
                               content_type="application/json" if body is not None else None)
        if resp.status_code >= 500:
            failures.append((method, path, query, str(body or "")[:80], who, resp.status_code))

    run()
    assert not failures, "\n".join(map(repr, failures[:30]))


@pytest.mark.parametrize(
    "path",
    [
        "/collections/violations/items/" + str(2**64),
        "/collections/violations/items/" + "9" * 400,
        "/collections/violations/items/" + str(2**64) + "/history",
        "/collections/violations/items/" + str(2**64) + "/transition",
        "/collections/violations/items/²",
        "/collections/violations/items/²/history",
        "/print?dpi=inf",
        "/print?dpi=nan",
        "/print?dpi=1e400",
        "/targets?plan=²",
        "/targets.pdf?plan=²",
        "/targets?plan=" + "9" * 400,
        "/query/near?target=丹金溧漕河&distance=50&filter=" + "(" * 3000 + "code = 'x'" + ")" * 3000,
        "/collections/violations/items?offset=" + str(2**64),
        "/collections/violations/items?filter=" + "(" * 3000 + "code = 'x'" + ")" * 3000,
        "/collections/violations/items?filter=" + "NOT " * 3000 + "code = 'x'",
        "/query/near?target=丹金溧漕河&distance=inf",
        "/query/nearest?lon=inf&lat=nan",
    ],
)
def test_known_hostile_requests_are_refused_with_a_4xx(fuzz_app, stubbed_renderers, path):
    app, token = fuzz_app
    resp = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    assert 400 <= resp.status_code < 500, (path, resp.status_code, resp.get_data(as_text=True)[:200])


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
@pytest.mark.parametrize("body", [DEEP_JSON, DEEP_LIST])
def test_deeply_nested_json_bodies_are_refused_with_a_400(fuzz_app, method, body):
    app, token = fuzz_app
    path = "/collections/violations/items" + ("" if method == "POST" else "/1")
    resp = app.test_client().open(path, method=method, data=body, content_type="application/json",
                                  headers={"Authorization": f"Bearer {token}", "If-Match": "*"})
    assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)[:200]


@pytest.mark.parametrize("op", ["OR", "AND"])
def test_a_filter_chaining_thousands_of_conditions_is_answered(fuzz_app, op):
    app, _ = fuzz_app
    text = f"code = 'x' {op} " * 3000 + "code = 'y'"
    resp = app.test_client().get("/collections/violations/items", query_string={"filter": text})
    assert resp.status_code == 200
    assert resp.get_json()["features"] == []
