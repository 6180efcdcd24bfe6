"""The last texts that were English only: the editing API's body and If-Match checks,
patrol/map/river parameter checks, settings files, the import report and the print line.
Each is Chinese by default (and for ``Accept-Language: zh-CN,en,*``) and English on
``lang=en`` or ``Accept-Language: en``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from geo import i18n
from geo.users import add_user

ZH_FIRST = {"Accept-Language": "zh-CN,en,*"}
EN = {"Accept-Language": "en"}
ROOT = Path(__file__).resolve().parent.parent
POINT = {"type": "Point", "coordinates": [119.57, 31.74]}


@pytest.fixture
def tokens(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"m-{role}", role, iterations=1000) for role in ("editor", "admin", "field")}


def _bearer(token: str, **extra: str) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}


def _with_lang(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "lang=en"


def assert_said_in_both(client, method: str, url: str, status: int, zh: str, en: str, headers=None, **kwargs):
    """Chinese with no header and with zh-CN,en,*; English with Accept-Language: en and lang=en."""
    headers = headers or {}
    call = getattr(client, method)
    for extra in ({}, ZH_FIRST):
        resp = call(url, headers={**headers, **extra}, **kwargs)
        assert resp.status_code == status, (url, resp.get_data(as_text=True)[:300])
        text = resp.get_json()["description"]
        assert zh in text, (url, text)
    for target, extra in ((url, EN), (_with_lang(url), {})):
        resp = call(target, headers={**headers, **extra}, **kwargs)
        assert resp.status_code == status, (target, resp.get_data(as_text=True)[:300])
        assert en in resp.get_json()["description"], (target, resp.get_json()["description"])


# -- the editing API -------------------------------------------------------------------------------


def test_body_checks_of_the_editing_api_speak_the_requests_language(client, tokens):
    h = _bearer(tokens["editor"])
    items = "/collections/violations/items"
    assert_said_in_both(client, "post", items, 400, "请求体须为 JSON 对象", "must be a JSON object", h, json=[1])
    assert_said_in_both(client, "post", items, 400, "须有 properties 对象", "needs a 'properties' object", h,
                        json={"type": "Feature", "geometry": POINT})
    assert_said_in_both(client, "post", items, 400, "properties 须为对象", "'properties' must be an object", h,
                        json={"type": "Feature", "properties": [1], "geometry": POINT})
    assert_said_in_both(client, "post", items, 400, "属性值须为文本", "property values must be text", h,
                        json={"type": "Feature", "properties": {"code": {"a": 1}}, "geometry": POINT})
    assert_said_in_both(client, "post", items, 400, "须有 geometry", "needs a 'geometry'", h,
                        json={"type": "Feature", "properties": {"code": "M-1"}})
    crs = {**h, "Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4549>"}
    assert_said_in_both(client, "post", items, 400, "写入只接受", "writes take coordinates in", crs,
                        json={"type": "Feature", "properties": {}, "geometry": POINT})


def test_if_match_problems_speak_the_requests_language(client, tokens):
    h = _bearer(tokens["editor"])
    url = "/collections/violations/items/1"
    body = {"properties": {"description": "x"}}
    assert_said_in_both(client, "patch", url, 428, "须在 If-Match 中带上", "send If-Match with the ETag", h, json=body)
    assert_said_in_both(client, "patch", url, 428, "没有说明读取的是要素", "does not say which version", {**h, "If-Match": "*"},
                        json=body)
    assert_said_in_both(client, "patch", url, 412, "在您读取之后已被修改", "was changed since you read it",
                        {**h, "If-Match": '"stale"'}, json=body)


def test_patch_and_transition_checks_speak_the_requests_language(client, tokens):
    from geo.etag import feature_etag

    reg = client.application.extensions["hehu_registry"]
    h = _bearer(tokens["editor"], **{"If-Match": feature_etag(reg.get("violations", 1))})
    url = "/collections/violations/items/1"
    assert_said_in_both(client, "patch", url, 400, "请发送要修改的 properties", "send 'properties' and/or 'geometry'", h,
                        json={"type": "Feature"})
    assert_said_in_both(client, "patch", url, 400, "几何不能删除", "the geometry cannot be removed", h,
                        json={"geometry": None})
    assert_said_in_both(client, "post", url + "/transition", 400, "请说明要流转到的状态", "say which status to move to",
                        h, json={})
    assert_said_in_both(client, "get", "/collections/towns/items/1/transition", 400, "没有状态流转",
                        "has no status lifecycle")
    assert_said_in_both(client, "get", "/collections/violations/items/x/history", 400, "须为整数", "a feature id is a whole number")
    assert_said_in_both(client, "get", "/collections/violations/items/1/history?f=xml", 400, "f 须为 json 或 html",
                        "f must be json or html")


def test_the_import_form_fields_are_asked_for_in_the_requests_language(client, tokens):
    h = _bearer(tokens["admin"])
    assert_said_in_both(client, "post", "/import", 400, "请在表单字段 file 中", "attach the file to import", h,
                        data={}, content_type="multipart/form-data")


def test_an_oversized_body_states_its_limit_in_chinese_by_default(demo_copy):
    from server import create_app

    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "MAX_CONTENT_LENGTH": 1000})
    token = add_user(app.extensions["hehu_registry"], "m-editor", "editor", iterations=1000)
    client = app.test_client()
    data = b"{" + b" " * 2000 + b"}"
    assert_said_in_both(client, "post", "/collections/violations/items", 413, "请求体超过 1000 字节 的上限",
                        "larger than the 1000 bytes limit", _bearer(token), data=data, content_type="application/json")


# -- patrols, map, rivers ------------------------------------------------------------------------


def test_patrol_checks_speak_the_requests_language(client, tokens):
    assert_said_in_both(client, "get", "/patrols/duty?to=2021-12-31", 400, "缺少参数 from", "parameter from is required")
    h = _bearer(tokens["field"])
    assert_said_in_both(client, "post", "/patrols/import", 400, "巡河轨迹文件", "attach the track files", h,
                        data={}, content_type="multipart/form-data")
    for url, extra, text in (("/patrols/import", {}, "哪位河长"), ("/patrols/import", ZH_FIRST, "哪位河长"),
                             ("/patrols/import", EN, "say whose patrol it is"),
                             ("/patrols/import?lang=en", {}, "say whose patrol it is")):
        resp = client.post(url, data={"file": (io.BytesIO(b"x"), "t.gpx")}, headers={**h, **extra},
                           content_type="multipart/form-data")
        assert resp.status_code == 400 and text in resp.get_json()["description"]


def test_map_parameter_checks_speak_the_requests_language(client):
    for extra, zh in (({}, "参数 lang：'fr'"), (ZH_FIRST, "参数 lang：'fr'")):
        resp = client.get("/map/config.json?lang=fr", headers=extra)
        assert resp.status_code == 400 and zh in resp.get_json()["description"]
    resp = client.get("/map/config.json?lang=fr", headers=EN)
    assert resp.status_code == 400 and "use zh or en" in resp.get_json()["description"]
    assert_said_in_both(client, "get", "/search?q=x&limit=many", 400, "不是 1 到", "is not an integer from 1 to")
    assert_said_in_both(client, "get", "/map/config.json?colour=1", 400, "未知查询参数 colour", "unknown query parameter")


def test_a_case_sheet_for_a_feature_id_that_is_no_number_is_said_in_both_languages(client):
    assert_said_in_both(client, "get", "/collections/violations/items/abc/case.pdf", 404, "没有要素 'abc'",
                        "no feature 'abc'")


# -- the import report ----------------------------------------------------------------------------


def _bad_csv() -> bytes:
    return ("code,category,status,found_on,lon,lat\n"
            "M-1,乱堆,待交办,2021-05-01,119.57,31.74\n"
            "M-2,乱放,待交办,2021-05-01,119.45,31.65\n"
            ",乱堆,待交办,2021-05-01,,\n").encode()


def test_the_import_report_is_one_text_in_both_languages(demo_copy, tmp_path):
    from geo.importer import ImportOptions, import_file
    from geo.registry import Registry

    path = tmp_path / "bad.csv"
    path.write_bytes(_bad_csv())
    reg = Registry.open(demo_copy)
    try:
        report = import_file(reg, path, "violations", ImportOptions(dry_run=True))
    finally:
        reg.close()
    zh, en = report.text("zh"), report.text("en")
    assert zh == report.text(None) and en == report.text()
    assert "bad.csv → violations：CSV，3 行" in zh and "bad.csv -> violations: CSV, 3 row(s)" in en
    assert "第 4 行，字段 geometry，值 ','：lon/lat 列的坐标缺失或不是数值" in zh and "row 4, field geometry, value ',': coordinates in lon/lat are missing or not numbers" in en
    assert "第 4 行，字段 code：为必填，但为空" in zh and "row 4, field code: is required and empty" in en
    assert zh.splitlines()[-1].startswith("结果：试导入") and en.splitlines()[-1].startswith("result: dry run")
    # No English sentence is left in the Chinese report (field names and options aside).
    assert not re.search(r"[a-z]{3,} [a-z]{3,} [a-z]{3,}", zh), zh


def _csrf(client, url: str) -> str:
    page = client.get(url, headers={"Accept": "text/html"}).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_the_import_page_shows_the_report_in_the_pages_language(client, tokens):
    h = {"Accept": "text/html"}
    client.post("/login", data={"token": tokens["admin"], "csrf_token": _csrf(client, "/login")}, headers=h)
    csrf = _csrf(client, "/import")

    def post(url, headers):
        data = {"file": (io.BytesIO(_bad_csv()), "bad.csv"), "layer": "violations", "dry_run": "1", "csrf_token": csrf}
        return client.post(url, data=data, headers=headers, content_type="multipart/form-data").get_data(as_text=True)

    for page in (post("/import", h), post("/import", {**h, **ZH_FIRST})):
        assert "bad.csv → violations：CSV，3 行" in page and "坐标缺失或不是数值" in page and "试导入" in page
    for page in (post("/import?lang=en", h), post("/import", {**h, **EN})):
        assert "bad.csv -&gt; violations: CSV, 3 row(s)" in page and "are missing or not numbers" in page and "dry run" in page


def test_the_import_api_answers_with_the_report_text_in_the_requests_language(client, tokens):
    def post(url, headers):
        data = {"file": (io.BytesIO(_bad_csv()), "bad.csv"), "layer": "violations", "dry_run": "1"}
        return client.post(url, data=data, headers={**_bearer(tokens["admin"]), **headers},
                           content_type="multipart/form-data").get_json()

    zh, en = post("/import", {}), post("/import", EN)
    assert zh["summary"].startswith("试导入") and "第 4 行，字段 geometry，值 ','：lon/lat 列的坐标缺失或不是数值" in zh["text"]
    assert en["summary"].startswith("dry run") and "row 4, field geometry, value ',': coordinates in lon/lat are missing or not numbers" in en["text"]
    assert zh["problems"] == en["problems"]  # the fields for programs do not change with the language


def test_hehu_import_prints_the_same_report_in_chinese_and_with_lang_en(capsys, demo_copy, tmp_path):
    from cli.main import main

    path = tmp_path / "bad.csv"
    path.write_bytes(_bad_csv())
    argv = ["import", str(path), "--layer", "violations", "--registry", str(demo_copy), "--dry-run"]
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert "第 4 行，字段 geometry，值 ','：lon/lat 列的坐标缺失或不是数值" in out
    assert main([*argv, "--lang", "en"]) == 2
    assert "row 4, field geometry, value ',': coordinates in lon/lat are missing or not numbers" in capsys.readouterr().out


# -- the print line -------------------------------------------------------------------------------


def test_the_print_line_is_geo_carto_s_in_both_languages():
    from geo.carto import PrintResult

    result = PrintResult(Path("m.pdf"), "pdf", 1, "A4", "portrait", (1.0, 1.0), 50000, [], [], matches=3)
    assert result.text() == "wrote PDF m.pdf (A4 portrait, 1:50,000, 1 page(s)); 3 matches"
    assert result.text("zh") == "已写入 PDF m.pdf（A4 纵向，1:50,000，1 页）；命中 3 个要素"


# -- every key in both languages ------------------------------------------------------------------

#: Keys whose Chinese text leaves out a placeholder on purpose: the Chinese "where"
#: prefix (第 3 行，图层 …，字段 …) already names the layer or the value.
SAME_PLACEHOLDERS_EXCEPT = {"validate.enum", "lifecycle.refuse", "lifecycle.needs"}


def _placeholders(text: str) -> set[str]:
    names = re.findall(r"(?<!\{)\{(\w+)(?:![rsa])?(?::[^}]*)?\}", text)
    return {n.removesuffix("_zh").removesuffix("_en") for n in names}


def test_every_message_has_the_same_placeholders_in_both_languages():
    for key, texts in i18n.catalog().items():
        if key not in SAME_PLACEHOLDERS_EXCEPT:
            assert _placeholders(texts["zh"]) == _placeholders(texts["en"]), key


def test_every_message_key_rendered_in_code_exists_in_both_languages():
    """Keys given as ``key="…"``, ``message("…")``, ``said("…")`` and ``_with_hint("…")``."""
    pattern = re.compile(r'(?:key=|\bmessage\(|\bsaid\(|_with_hint\()\s*"([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+)"')
    used = set()
    for folder in ("geo", "server", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert {"edit.body_not_object", "import.no_geometry", "print.wrote", "settings.unknown"} <= used
    missing = sorted(k for k in used if k not in i18n.catalog() and f"cli.{k}" not in i18n.catalog())
    assert missing == []


def test_a_file_that_cannot_be_imported_is_refused_in_the_requests_language(client, tokens):
    h = _bearer(tokens["admin"])
    for url, extra, text in (("/import", {}, "未知的文件类型 .dwg"), ("/import", ZH_FIRST, "未知的文件类型 .dwg"),
                             ("/import", EN, "unknown file type .dwg"), ("/import?lang=en", {}, "unknown file type .dwg")):
        data = {"file": (io.BytesIO(b"x,y\n1,2\n"), "w.dwg"), "layer": "violations"}
        resp = client.post(url, data=data, headers={**h, **extra}, content_type="multipart/form-data")
        assert resp.status_code == 400 and text in resp.get_json()["description"], resp.get_json()


def test_hehu_import_says_a_missing_file_in_chinese_and_with_lang_en(capsys, demo_copy, tmp_path):
    from cli.main import main

    argv = ["import", str(tmp_path / "nope.csv"), "--layer", "violations", "--registry", str(demo_copy)]
    assert main(argv) == 2
    assert "文件或文件夹不存在" in capsys.readouterr().err
    assert main([*argv, "--lang", "en"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "zh", "en"),
    [
        ("/query/intersects?geometry=POLYGON((0%200,1%201,1%200,0%201,0%200))&layers=rivers", "几何无效",
         "invalid geometry"),
        ("/query/intersects?geometry=POINT(500000%203500000)&layers=rivers", "坐标须为经纬度", "must be longitude/latitude"),
        ("/query/intersects?geometry=%7B%22a%22:1%7D&layers=rivers", "须为带 \"type\" 的对象", "must be an object with a"),
        ("/query/intersects?geometry=POINT(1&layers=rivers", "WKT 格式错误", "malformed WKT"),
        ("/query/near?target=丹金溧漕河&distance=5&units=leagues&layers=violations", "的单位 'leagues' 未知",
         "unknown unit 'leagues'"),
        ("/targets?plan=abc", "不是规划年份", "is not a plan year"),
    ],
)
def test_query_geometry_units_and_plan_errors_speak_the_requests_language(client, url, zh, en):
    assert_said_in_both(client, "get", url, 400, zh, en, headers={"Accept": "application/json"})


@pytest.mark.parametrize(
    ("url", "zh", "en"),
    [
        ("/print?layers=rivers&paper=B9", "纸张须为", "paper must be one of"),
        ("/print?layers=rivers&orientation=sideways", "方向须为", "orientation must be portrait or landscape"),
        ("/print?layers=rivers&format=png&dpi=abc", "dpi 须为整数", "dpi must be a whole number"),
    ],
)
def test_print_parameters_are_refused_in_the_requests_language(client, url, zh, en):
    assert_said_in_both(client, "get", url, 400, zh, en)


@pytest.mark.parametrize(
    ("geometry", "zh", "en"),
    [
        ({"type": "LineString", "coordinates": [[119.5, 31.7], [119.6, 31.8]]}, "不适合此图层", "does not fit this layer"),
        ({"type": "Point", "coordinates": [500000, 3500000]}, "坐标不是经纬度", "not longitude/latitude degrees"),
        ({"type": "Point", "coordinates": [116.4, 39.9]}, "位于金坛区范围之外", "lies outside Jintan District"),
    ],
)
def test_a_bad_geometry_in_the_body_is_refused_in_the_requests_language(client, tokens, geometry, zh, en):
    body = {"type": "Feature", "properties": {"category": "乱堆", "found_on": "2021-05-01", "town": "金城镇",
                                              "river": "丹金溧漕河"}, "geometry": geometry}
    assert_said_in_both(client, "post", "/collections/violations/items", 400, zh, en, _bearer(tokens["editor"]),
                        json=body)


def test_query_bbox_and_where_are_refused_in_the_requests_language(client, registry):
    from geo.errors import QueryError
    from geo.query.operations import _parse_bbox

    assert_said_in_both(client, "get", "/query/near?target=丹金溧漕河&distance=50&bbox=1,2", 400,
                        "bbox 须为四个数", "bbox must be four numbers")
    with pytest.raises(QueryError) as err:
        _parse_bbox("a,b")
    assert "bbox 须为四个数" in err.value.render("zh") and "must be four numbers" in err.value.render("en")


# -- attachments and query names ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url, zh, en",
    [
        ("/collections/violations/items/1/attachments/1?size=huge", "size 只能是 thumb", "size must be thumb or full"),
        ("/collections/violations/items/1/attachments/1?f=xml", "f 只能是 json", "f must be json"),
        ("/collections/violations/items/1/attachments/x", "附件编号应为整数", "an attachment id is a whole number"),
        ("/collections/violations/items/x/attachments", "要素编号应为整数", "a feature id is a whole number"),
    ],
)
def test_attachment_parameters_are_refused_in_the_requests_language(client, url, zh, en):
    assert_said_in_both(client, "get", url, 400, zh, en)


@pytest.mark.parametrize(
    "url, zh, en",
    [
        ("/query/near?target=丹金溧漕河&distance=50&layers=nope", "未知图层“nope”", "unknown layer 'nope'"),
        ("/query/near?target=violations:丹金溧漕河&distance=50", "没有可按名称查询的对象", "holds no named targets"),
    ],
)
def test_query_layer_names_are_refused_in_the_requests_language(client, url, zh, en):
    assert_said_in_both(client, "get", url, 400, zh, en)
