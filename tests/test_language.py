"""One language rule everywhere: Chinese unless the request asks for English.

QGIS in a Chinese locale sends ``Accept-Language: zh-CN,en,*``; it must get Chinese on
the map, the targets page and in error messages, just like a browser sending nothing.
"""

from __future__ import annotations

import pytest

from geo.errors import QueryError, ValidationError
from geo.i18n import negotiate
from geo.lifecycle import TransitionError, plan_transition

ZH_FIRST = {"Accept-Language": "zh-CN,en,*"}
EN_FIRST = {"Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.8"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,en,*", "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.5,zh;q=0.9", "zh"),
        ("fr-FR,*", "zh"),
        ("", "zh"),
        (None, "zh"),
        ("de,en-GB", "en"),
    ],
)
def test_accept_language_picks_the_first_of_chinese_or_english(header, expected):
    assert negotiate(None, header) == expected


def test_lang_parameter_wins_over_the_header():
    assert negotiate("en", "zh-CN,en,*") == "en"
    assert negotiate("zh", "en-US") == "zh"


def test_map_page_is_chinese_for_a_chinese_first_browser(client):
    html = client.get("/map", headers=ZH_FIRST).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "河湖一张图" in html
    config = client.get("/map/config.json", headers=ZH_FIRST).get_json()
    assert config["lang"] == "zh"


def test_map_page_follows_an_english_first_browser_like_targets(client):
    html = client.get("/map", headers=EN_FIRST).get_data(as_text=True)
    assert '<html lang="en">' in html
    targets = client.get("/targets", headers=EN_FIRST).get_data(as_text=True)
    assert '<html lang="en">' in targets


def test_targets_page_is_chinese_for_a_chinese_first_browser(client):
    html = client.get("/targets", headers=ZH_FIRST).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html


def test_search_labels_are_chinese_for_a_chinese_first_browser(client):
    body = client.get("/search?q=丹金", headers=ZH_FIRST).get_json()
    assert body["results"] and all(r["layer_title"] != "Rivers" for r in body["results"])
    assert body["results"][0]["layer_title"] == "河道"


@pytest.mark.parametrize(
    ("url", "zh_words", "en_words"),
    [
        ("/query/near?target=丹金漕河&distance=50", "不是", "is not a code"),
        ("/query/near?target=丹金溧漕河&distance=-1", "须大于 0", "greater than 0"),
        ("/query/near?target=丹金溧漕河&distance=abc", "数值", "must be a number"),
        ("/query/near?distance=50", "缺少查询参数", "is required"),
        ("/query/nearest?lon=121.47&lat=31.23&layer=sewage_plants", "范围之外", "outside the district"),
    ],
)
def test_query_errors_speak_the_requests_language(client, url, zh_words, en_words):
    zh = client.get(url, headers=ZH_FIRST)
    assert zh.status_code == 400
    assert zh_words in zh.get_json()["description"]
    assert zh.get_json()["description"].isascii() is False
    plain = client.get(url)
    assert zh_words in plain.get_json()["description"]
    en = client.get(url, headers=EN_FIRST)
    assert en_words in en.get_json()["description"]
    en2 = client.get(url + "&lang=en") if "/query/near" not in url else None
    if en2 is not None and en2.status_code == 400 and en2.get_json()["parameter"] != "lang":
        assert en_words in en2.get_json()["description"]


def test_unknown_target_suggests_in_both_languages(client):
    body = client.get("/query/near?target=丹金漕河&distance=50", headers=ZH_FIRST).get_json()
    assert "您要找的是否是" in body["description"] and "丹金溧漕河" in body["description"]
    body = client.get("/query/near?target=丹金漕河&distance=50", headers=EN_FIRST).get_json()
    assert "did you mean" in body["description"] and "丹金溧漕河" in body["description"]


def test_validation_errors_render_in_chinese_with_the_field_title(registry):
    point = registry.read("violations").geometry.iloc[0]
    with pytest.raises(ValidationError) as info:
        registry.add("violations", {"category": "乱占", "status": "待交办"}, point)
    err = info.value
    assert "is required" in err.message  # logs and tracebacks stay English
    zh = err.render("zh")
    assert "必填" in zh and "清四乱问题" in zh and "code" in zh
    assert "is required" in err.render("en")


def test_enum_errors_list_the_allowed_values_in_chinese(registry):
    point = registry.read("violations").geometry.iloc[0]
    with pytest.raises(ValidationError) as info:
        registry.add("violations", {"code": "QSL-T-1", "category": "乱放", "status": "待交办"}, point)
    zh = info.value.render("zh")
    assert "「乱放」不是可选值" in zh and "乱占、乱采" in zh
    assert "must be one of" in info.value.render("en")


def test_lifecycle_errors_render_in_chinese():
    with pytest.raises(TransitionError) as info:
        plan_transition("violations", {"status": "待交办"}, "已交办", {})
    assert info.value.render("zh").startswith("改为「已交办」需要填写：")
    assert "责任单位" in info.value.render("zh")
    assert "moving to 已交办 needs unit, deadline" in info.value.render("en")
    with pytest.raises(TransitionError) as info:
        plan_transition("violations", {"status": "待交办"}, "已销号", {})
    assert "状态不能从「待交办」改为「已销号」" in info.value.render("zh")


def test_an_error_without_a_key_says_the_same_in_every_language():
    err = QueryError("something plain", parameter="x")
    assert err.render("zh") == err.render("en") == "something plain"
    assert err.to_dict("zh")["parameter"] == "x"
