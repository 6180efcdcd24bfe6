"""`hehu serve --config`: settings files are checked, never half-understood."""

from __future__ import annotations

import pytest

from cli.main import main
from server import SettingsError, create_app, load_config


def test_a_yaml_settings_file_is_read(tmp_path):
    p = tmp_path / "hehu.yaml"
    p.write_text("READ_REQUIRES_LOGIN: true\nBASEMAPS:\n  tianditu: {key: abc}\n", encoding="utf-8")
    assert load_config(p) == {"READ_REQUIRES_LOGIN": True, "BASEMAPS": {"tianditu": {"key": "abc"}}}


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("typo.yaml", "READ_REQUIRE_LOGIN: true\n", "READ_REQUIRE_LOGIN (did you mean READ_REQUIRES_LOGIN?)"),
        ("broken.yaml", "BASEMAPS: [unclosed\n", "not valid YAML"),
        ("list.yaml", "- a\n- b\n", "expected a mapping"),
        ("broken.json", "{\"LANG\": ", "not valid JSON"),
    ],
)
def test_bad_settings_files_are_refused_with_the_reason(tmp_path, name, text, message):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        load_config(p)


def test_serve_with_a_bad_settings_file_exits_2_with_one_line(tmp_path, demo_copy, capsys):
    p = tmp_path / "hehu.yaml"
    p.write_text("MAX_UPLOAD: 10\n", encoding="utf-8")
    assert main(["serve", "--registry", str(demo_copy), "--config", str(p), "--lang", "en"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown setting(s) MAX_UPLOAD" in err and "\n" not in err
    assert main(["serve", "--registry", str(demo_copy), "--config", str(tmp_path / "nope.yaml"), "--lang", "en"]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, zh, en",
    [
        ("MAX_UPLOAD: 10\n", "未知设置 MAX_UPLOAD", "unknown setting(s) MAX_UPLOAD"),
        ("READ_REQUIRE_LOGIN: true\n", "READ_REQUIRE_LOGIN（您要用的是否是 READ_REQUIRES_LOGIN？）",
         "READ_REQUIRE_LOGIN (did you mean READ_REQUIRES_LOGIN?)"),
        ("- a\n", "应为“设置名: 值”的映射", "expected a mapping of settings"),
        ("BASEMAPS: [unclosed\n", "不是有效的 YAML", "not valid YAML"),
    ],
)
def test_settings_errors_are_said_in_chinese_by_default_and_english_with_lang_en(tmp_path, demo_copy, capsys,
                                                                                  text, zh, en):
    p = tmp_path / "hehu.yaml"
    p.write_text(text, encoding="utf-8")
    assert main(["serve", "--registry", str(demo_copy), "--config", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert zh in err and "设置文件" in err and "\n" not in err
    assert main(["serve", "--registry", str(demo_copy), "--config", str(p), "--lang", "en"]) == 2
    assert en in capsys.readouterr().err
    assert main(["serve", "--registry", str(demo_copy), "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "文件不存在" in capsys.readouterr().err


def test_behind_a_proxy_links_follow_the_forwarded_scheme_and_host(demo_copy):
    app = create_app({"REGISTRY": str(demo_copy), "BEHIND_PROXY": True})
    resp = app.test_client().get(
        "/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hehu.jintan.gov.cn"}
    )
    links = [link["href"] for link in resp.get_json()["links"]]
    assert links and all(h.startswith("https://hehu.jintan.gov.cn/") for h in links)
