"""The server's own errors speak the request's language: OGC API parameters, sign-in and
roles, export rights, and the print/export/query views' flags. Chinese by default and for
``Accept-Language: zh-CN,en,*`` (QGIS in a Chinese locale), English on ``lang=en`` or an
English-first Accept-Language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from geo import i18n
from geo.users import add_user
from server import create_app

ZH_FIRST = {"Accept-Language": "zh-CN,en,*"}
EN = {"Accept-Language": "en"}
ROOT = Path(__file__).resolve().parent.parent


def _with_lang(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "lang=en"


def assert_both_languages(client, url: str, status: int, zh: str, en: str, headers=None, lang_param=True):
    """Chinese with no header and with zh-CN,en,*; English with Accept-Language: en (and lang=en)."""
    headers = headers or {}
    for extra in ({}, ZH_FIRST):
        resp = client.get(url, headers={**headers, **extra})
        assert resp.status_code == status, (url, resp.get_data(as_text=True)[:300])
        text = resp.get_json()["description"]
        assert zh in text and not text.isascii(), (url, text)
    resp = client.get(url, headers={**headers, **EN})
    assert resp.status_code == status and en in resp.get_json()["description"], url
    if lang_param:
        resp = client.get(_with_lang(url), headers=headers)
        assert resp.status_code == status and en in resp.get_json()["description"], url


def test_every_message_key_named_in_the_code_exists_in_both_languages():
    known = i18n.catalog()
    used = set()
    for folder in ("geo", "server", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r'key="([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+)"', path.read_text(encoding="utf-8")))
    assert used, "no message keys found"
    missing = sorted(k for k in used if k not in known)
    assert missing == []
    for key in used:
        assert known[key]["zh"].strip() and known[key]["en"].strip(), key


def test_every_server_message_has_the_same_placeholders_in_both_languages():
    import yaml

    data = yaml.safe_load((ROOT / "geo" / "messages" / "server.yaml").read_text(encoding="utf-8"))
    for key, texts in data.items():
        names = {lang: set(re.findall(r"{(\w+)}", texts[lang])) for lang in ("zh", "en")}
        # Chinese and English may pick their own form of a role (role_zh / role_en).
        strip = {lang: {n.removesuffix("_zh").removesuffix("_en") for n in names[lang]} for lang in names}
        assert strip["zh"] == strip["en"], key


@pytest.mark.parametrize(
    ("url", "status", "zh", "en"),
    [
        ("/collections/violations/items?limit=0", 400, "参数 limit：须至少为 1", "parameter limit: must be at least 1"),
        ("/collections/violations/items?offset=-1", 400, "须为 0 或正数", "must be 0 or more"),
        ("/collections/violations/items?bbox=1,2,3", 400, "应为 4 个数", "expected 4 numbers"),
        ("/collections/violations/items?bbox=119.6,31.6,119.5,31.7", 400, "须先写左下角", "the lower corner must come first"),
        ("/collections/violations/items?bbox=a,2,3,4", 400, "不是数值", "is not a number"),
        ("/collections/violations/items?nope=1", 400, "未知查询参数", "unknown query parameter"),
        ("/collections/violations/items?sortby=colour", 400, "没有属性 'colour'", "has no property 'colour'"),
        ("/collections/violations/items?datetime=yesterday", 400, "不是 RFC 3339", "is not an RFC 3339"),
        ("/collections/towns/items?datetime=2021-01-01", 400, "没有时间属性", "has no temporal property"),
        ("/collections/violations/items?crs=EPSG:4549", 400, "不支持的坐标系", "unsupported CRS"),
        ("/collections/violations/items?filter-lang=sql", 400, "不支持的过滤语言", "unsupported filter language"),
        ("/collections/violations/items?filter=%20", 400, "过滤条件为空", "empty filter"),
        ("/collections/violations/items?f=xml", 400, "未知格式", "unknown format"),
        ("/collections/nope/items", 404, "没有数据集 'nope'", "unknown collection 'nope'"),
        ("/collections/violations/items/abc", 404, "没有要素 'abc'", "no feature 'abc'"),
        ("/collections/violations/items/1?limit=5", 400, "单个要素可用参数", "a feature takes"),
    ],
)
def test_ogcapi_parameter_errors_speak_the_requests_language(client, url, status, zh, en):
    assert_both_languages(client, url, status, zh, en)


def test_an_unknown_lang_is_refused_in_chinese(client):
    resp = client.get("/collections?lang=fr")
    assert resp.status_code == 400 and "未知语言 'fr'" in resp.get_json()["description"]
    resp = client.get("/collections?lang=fr", headers=EN)
    assert "unknown language 'fr'" in resp.get_json()["description"]


@pytest.fixture
def users(app):
    reg = app.extensions["hehu_registry"]
    return {role: add_user(reg, f"u-{role}", role, iterations=1000) for role in ("viewer", "field", "editor")}


def test_sign_in_errors_speak_the_requests_language(client, users):
    def patch(headers):
        return client.patch("/collections/violations/items/1", json={"properties": {"note": "x"}}, headers=headers)

    for headers, zh, en in (
        ({}, "请先登录", "sign in first"),
        ({"Authorization": "Basic abc"}, "须为「Bearer <令牌>」", "must be 'Bearer <token>'"),
        ({"Authorization": "Bearer wrong"}, "令牌不存在、错误或已停用", "the token is unknown"),
        ({"Authorization": f"Bearer {users['viewer']}"}, "用户 u-viewer（查看者）无权执行此操作：需要编辑者", "u-viewer (viewer) may not do this"),
    ):
        resp = patch(headers)
        assert resp.status_code in (401, 403)
        assert zh in resp.get_json()["description"], resp.get_json()
        assert zh in patch({**headers, **ZH_FIRST}).get_json()["description"]
        assert en in patch({**headers, **EN}).get_json()["description"]


def test_a_session_write_without_csrf_is_refused_in_chinese(client, users):
    client.post("/login", data={"token": users["editor"], "csrf_token": _csrf(client)})
    resp = client.patch("/collections/violations/items/1", json={"properties": {"note": "x"}})
    assert resp.status_code == 403 and "CSRF 令牌缺失或错误" in resp.get_json()["description"]
    resp = client.patch("/collections/violations/items/1?lang=en", json={"properties": {"note": "x"}})
    assert "missing or wrong CSRF token" in resp.get_json()["description"]


def _csrf(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_wrong_token_on_the_login_page_is_said_in_the_pages_language(client):
    csrf = _csrf(client)
    resp = client.post("/login", data={"token": "nope", "csrf_token": csrf}, headers={"Accept": "text/html"})
    assert resp.status_code == 401 and "令牌错误或已停用" in resp.get_data(as_text=True)
    resp = client.post("/login?lang=en", data={"token": "nope", "csrf_token": csrf}, headers={"Accept": "text/html"})
    assert "wrong or disabled token" in resp.get_data(as_text=True)


def test_too_many_failed_sign_ins_are_said_in_chinese(demo_copy):
    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "LOGIN_MAX_FAILURES": 1})
    client = app.test_client()
    client.get("/auth/me", headers={"Authorization": "Bearer wrong"})
    resp = client.patch("/collections/violations/items/1", json={}, headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 429 and "登录失败次数过多" in resp.get_json()["description"]
    resp = client.patch("/collections/violations/items/1", json={}, headers={"Authorization": "Bearer wrong", **EN})
    assert resp.status_code == 429 and "too many failed sign-ins" in resp.get_json()["description"]


def test_reads_behind_sign_in_are_refused_in_chinese(demo_copy):
    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "READ_REQUIRES_LOGIN": True})
    assert_both_languages(app.test_client(), "/collections", 401, "所有读取都需要登录", "requires sign-in for every read")


@pytest.mark.parametrize(
    "url",
    ["/export?layers=violations&format=geojson", "/collections/violations/items?f=csv"],
)
def test_export_rights_are_said_in_the_requests_language(demo_copy, url):
    app = create_app({"REGISTRY": str(demo_copy), "TESTING": True, "EXPORT_ROLES": {"violations": "editor"}})
    reg = app.extensions["hehu_registry"]
    viewer = add_user(reg, "u-viewer", "viewer", iterations=1000)
    client = app.test_client()
    assert_both_languages(client, url, 401, "需要编辑者或更高角色：请先登录", "needs the editor role or above: sign in first")
    assert_both_languages(
        client, url, 403, "用户 u-viewer（查看者）无权导出 violations", "u-viewer (viewer) may not export violations",
        headers={"Authorization": f"Bearer {viewer}"},
    )


@pytest.mark.parametrize(
    ("url", "zh", "en"),
    [
        ("/export?layers=violations&format=geojson&problems=maybe", "problems 须为 true 或 false", "problems must be true or false"),
        ("/print?layers=violations&problems=maybe", "problems 须为 true 或 false", "problems must be true or false"),
        ("/query/within?area=儒林镇&all=maybe", "查询参数 all 须为 true 或 false", "query parameter all must be true or false"),
        ("/query/within?area=儒林镇&f=kml", "f 须为 json 或 geojson", "f must be json or geojson"),
        ("/query/within?area=儒林镇&limit=-1", "limit 须为不小于 0 的整数", "limit must be a whole number >= 0"),
        ("/query/within?area=儒林镇&filter-lang=sql", "不支持 filter-lang", "is not supported; use cql2-text"),
        ("/query/within?area=儒林镇&download=1&format=shp", "format 须为 geojson 或 kml", "format must be geojson or kml"),
        ("/query/within?area=儒林镇&download=1&crs=bd09", "crs 须为 wgs84 或 gcj02", "crs must be wgs84 or gcj02"),
        ("/query/nearest?lon=east&lat=31.7&layer=violations", "lon 和 lat 须为数值", "lon and lat must be numbers"),
    ],
)
def test_print_export_and_query_flags_are_refused_in_the_requests_language(client, url, zh, en):
    assert_both_languages(client, url, 400, zh, en)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("是", True),
     ("0", False), ("false", False), ("No", False), ("off", False), ("否", False),
     ("maybe", None), ("", None), (None, None)],
)
def test_one_yes_no_vocabulary(raw, expected):
    from geo.values import parse_bool

    assert parse_bool(raw) is expected


def test_yes_no_words_mean_the_same_in_every_interface(client):
    on = client.get("/export?layers=violations&format=geojson&problems=on")
    yes = client.get("/export?layers=violations&format=geojson&problems=是")
    assert on.status_code == yes.status_code == 200
    assert on.headers["X-Hehu-Count"] == yes.headers["X-Hehu-Count"]
    on.close()
    yes.close()
