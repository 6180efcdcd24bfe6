"""The command line in Chinese first and in English on request: help, reports and
errors of several subcommands, argparse's own words, and how the language is chosen."""

from __future__ import annotations

import argparse
import re

import pytest

from cli import lang as cli_lang
from cli.main import build_parser, main

CJK = re.compile(r"[\u4e00-\u9fff]")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # --help and usage errors leave through argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# -- choosing the language ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "lang"),
    [
        ([], {}, "zh"),
        ([], {"LANG": "C"}, "zh"),
        ([], {"LANG": "POSIX"}, "zh"),
        ([], {"LANG": "C.UTF-8"}, "zh"),
        ([], {"LANG": "fr_FR.UTF-8"}, "zh"),
        ([], {"LANG": "en_US.UTF-8"}, "en"),
        ([], {"LANG": "zh_CN.UTF-8"}, "zh"),
        ([], {"LANG": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ([], {"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}, "zh"),
        ([], {"LANG": "zh_CN.UTF-8", "HEHU_LANG": "en"}, "en"),
        ([], {"LANG": "en_US.UTF-8", "HEHU_LANG": "klingon"}, "en"),
        (["--lang", "zh", "demo"], {"HEHU_LANG": "en", "LANG": "en_US"}, "zh"),
        (["query", "near", "--lang=en"], {"HEHU_LANG": "zh"}, "en"),
        (["query", "--", "--lang", "en"], {}, "zh"),
    ],
)
def test_the_language_is_lang_then_hehu_lang_then_the_locale(argv, env, lang):
    assert cli_lang.resolve(argv, env) == lang


def test_the_locale_decides_when_nothing_else_does(monkeypatch, capsys):
    monkeypatch.delenv("HEHU_LANG")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    code, out, _ = run(capsys, "demo", "--help")
    assert code == 0 and out.startswith("usage: hehu demo") and "the GeoPackage to create" in out
    monkeypatch.setenv("LANG", "C")
    code, out, _ = run(capsys, "demo", "--help")
    assert code == 0 and out.startswith("用法：hehu demo") and "要创建的 GeoPackage 文件" in out


def test_argparse_speaks_its_own_language_again_after_a_run(capsys):
    run(capsys, "--help")
    assert argparse._("usage: ") == "usage: "  # type: ignore[attr-defined]
    assert argparse.ngettext("expected %s argument", "expected %s arguments", 2) == "expected %s arguments"


# -- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "zh", "en"),
    [
        ([], "河湖一张图 —— 金坛区河长制", "the river-chief GIS registry"),
        (["query", "near"], "河湖编码、名称或别名", "river/lake code, name or alias"),
        (["export"], "只导出有问题规则的图层中的问题", "only problems in layers with a problem rule"),
        (["targets"], "判定逾期的日期", "the day that decides what is overdue"),
        (["user", "add"], "添加用户并显示其令牌", "add a user and print their token"),
        (["patrols", "coverage"], "轨迹两侧的米数", "metres either side of a track"),
    ],
)
def test_help_in_chinese_by_default_and_in_english_on_request(capsys, argv, zh, en):
    code, out, _ = run(capsys, *argv, "--help")
    assert code == 0
    assert out.startswith(f"用法：hehu {' '.join(argv)}".rstrip()) and "选项" in out and zh in out
    assert "usage:" not in out and "show this help" not in out and en not in out
    code, out, _ = run(capsys, *argv, "--help", "--lang", "en")
    assert code == 0
    assert out.startswith(f"usage: hehu {' '.join(argv)}".rstrip()) and "options:" in out and en in out
    assert "显示本帮助并退出" not in out and zh not in out


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def _help_texts(lang: str) -> dict[str, str]:
    """Every help and description of the whole command line, built in ``lang``."""
    cli_lang.use(lang)
    try:
        with cli_lang.argparse_language(lang):
            parser = build_parser()
    finally:
        cli_lang.use("zh")
    texts = {}
    for p in _parsers(parser):
        if p.description:
            texts[f"{p.prog} (description)"] = p.description
        for action in p._actions:
            if action.help and action.help is not argparse.SUPPRESS:
                texts[f"{p.prog} {'/'.join(action.option_strings) or action.dest}"] = action.help
            for choice in getattr(action, "_choices_actions", []):
                texts[f"{p.prog} {choice.dest}"] = choice.help
    return texts


# Help texts that are the same in both languages: a URI pattern says it all.
SAME_IN_BOTH = {"postgresql://user@host:5432/dbname[?schema=hehu]"}


def test_every_option_and_subcommand_has_chinese_and_english_help():
    zh, en = _help_texts("zh"), _help_texts("en")
    assert zh.keys() == en.keys() and len(zh) > 150
    untranslated = [k for k, v in zh.items() if not CJK.search(v) and v not in SAME_IN_BOTH]
    assert untranslated == []
    same = [k for k in zh if zh[k] == en[k] and zh[k] not in SAME_IN_BOTH]
    assert same == []


# -- reports ------------------------------------------------------------------------------


def test_check_reports_in_both_languages(capsys, demo_path):
    code, out, _ = run(capsys, "check", "--registry", str(demo_path))
    assert code == 0 and CJK.search(out)
    code, en, _ = run(capsys, "check", "--registry", str(demo_path), "--lang", "en")
    assert code == 0 and en != out and not CJK.search(en.replace(str(demo_path), ""))


def test_query_report_in_both_languages(capsys, demo_path):
    argv = ["query", "within", "--area", "儒林镇", "--layers", "violations", "--registry", str(demo_path)]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "儒林镇 范围内（清四乱问题）：" in out and "图层" in out.splitlines()[1]
    code, out, _ = run(capsys, "--lang", "en", *argv)
    assert code == 0 and re.fullmatch(r"\d+ feature\(s\) of .+ in 儒林镇", out.splitlines()[0])
    assert out.splitlines()[1].startswith("Layer")


def test_targets_table_in_both_languages(capsys, demo_path):
    argv = ["targets", "--registry", str(demo_path), "--as-of", "2021-11-30"]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "（截至 2021-11-30）" in out and "项指标，达成" in out and "各镇（街道）待办事项" in out
    code, out, _ = run(capsys, *argv, "--lang", "en")
    assert code == 0 and "(as of 2021-11-30)" in out and "targets," in out and "still has to do" in out
    assert "达成" not in out and "未达成" not in out


def test_user_list_in_both_languages(capsys, demo_copy):
    code, out, _ = run(capsys, "user", "add", "zhao", "--role", "editor", "--registry", str(demo_copy))
    assert code == 0 and out.startswith("zhao 的令牌（只显示这一次")
    code, out, _ = run(capsys, "user", "list", "--registry", str(demo_copy))
    assert code == 0 and out.split()[:4] == ["用户", "角色", "状态", "创建时间"]
    code, out, _ = run(capsys, "user", "list", "--registry", str(demo_copy), "--lang", "en")
    assert code == 0 and out.split()[:4] == ["name", "role", "active", "created"]


# -- errors: one line, exit 2, in the run's language -------------------------------------


@pytest.mark.parametrize(
    ("argv", "zh", "en"),
    [
        # argparse's own
        (["query", "near", "--target", "丹金溧漕河"], "缺少必需的参数：--distance", "the following arguments are required: --distance"),
        (["query", "near", "--target", "x", "--distance", "5", "--format", "xml"], "无效的选项值 'xml'", "invalid choice: 'xml'"),
        (["demo", "--out", "x.gpkg", "--seed"], "需要一个值", "expected one argument"),
        (["demo", "--out", "x.gpkg", "--nonsense"], "无法识别的参数：--nonsense", "unrecognized arguments: --nonsense"),
        (["frobnicate"], "无效的选项值 'frobnicate'", "invalid choice: 'frobnicate'"),
        # an argument type of ours
        (["demo", "--out", "x.gpkg", "--seed", "-1"], "-1 是负数", "-1 is negative"),
    ],
)
def test_usage_errors_are_one_line_in_the_runs_language(capsys, argv, zh, en):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "：错误：" in err and zh in err and "（用法见 hehu" in err and "--help" in err
    code, out, err = run(capsys, *argv, "--lang", "en")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert ": error: " in err and en in err and "(see hehu" in err


@pytest.mark.parametrize(
    ("argv", "zh", "en"),
    [
        (["print", "--out", "x.pdf"], "hehu print：错误：地图请给出 --layers", "hehu print: error: give --layers for a map"),
        (["print", "river", "丹金溧漕河", "--out", "x.png"], "表单只输出 PDF", "sheets are PDF"),
        (["db", "init", "plain.gpkg"], "hehu db：错误：plain.gpkg：不是 PostgreSQL 地址", "hehu db: error: plain.gpkg: not a PostgreSQL URI"),
        (["query", "near", "--target", "丹金溧漕河", "--distance", "-5"], "须大于 0", "must be greater than 0"),
        (["import", "x.csv", "--layer", "violations", "--rejects", "r.csv"],
         "两者须同时给出", "give both"),
    ],
)
def test_errors_are_one_line_in_the_runs_language(capsys, demo_path, tmp_path, monkeypatch, argv, zh, en):
    monkeypatch.chdir(tmp_path)
    reg = [] if argv[0] == "db" else ["--registry", str(demo_path)]
    code, out, err = run(capsys, *argv, *reg)
    assert code == 2 and out == "" and err.count("\n") == 1 and zh in err, err
    code, out, err = run(capsys, *argv, *reg, "--lang", "en")
    assert code == 2 and out == "" and err.count("\n") == 1 and en in err, err
    assert list(tmp_path.iterdir()) == []


def test_export_report_in_both_languages(capsys, demo_path, tmp_path):
    argv = ["export", "--registry", str(demo_path), "--layers", "violations", "--format", "geojson",
            "--town", "儒林镇"]
    code, out, _ = run(capsys, *argv, "--out", str(tmp_path / "zh.geojson"))
    assert code == 0 and out.startswith("已写入 ") and "清四乱问题(violations)" in out and "[geojson，EPSG:4326]" in out
    code, out, _ = run(capsys, *argv, "--out", str(tmp_path / "en.geojson"), "--lang", "en")
    assert code == 0 and out.startswith("wrote ") and "(violations " in out


def test_print_report_line_in_both_languages():
    from pathlib import Path

    from cli.printing import report_line
    from geo.carto import PrintResult

    result = PrintResult(Path("m.pdf"), "pdf", 2, "A3", "landscape", (1190.6, 841.9), 175000, ["violations"], [],
                         matches=7, message="wrote PDF m.pdf (A3 landscape, 1:175,000, 2 page(s)); 7 matches")
    cli_lang.use("zh")
    assert report_line(result) == "已写入 PDF m.pdf（A3 横向，1:175,000，2 页）；命中 7 个要素"
    cli_lang.use("en")
    try:
        assert report_line(result) == result.message
    finally:
        cli_lang.use("zh")


def test_import_report_in_both_languages(capsys, demo_copy, tmp_path):
    from test_import import table

    df = table()
    df.loc[1, "category"] = "乱放"  # one bad row: the report names it
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    argv = ["import", str(path), "--layer", "violations", "--registry", str(demo_copy), "--dry-run"]
    code, out, _ = run(capsys, *argv)
    assert code == 2 and "bad.csv → violations：CSV，2 行，坐标系 EPSG:4326" in out
    assert "问题（1 个错误，" in out and "第 3 行，字段 category，值 '乱放'：" in out
    assert out.rstrip().splitlines()[-1].startswith("结果：")
    code, out, _ = run(capsys, *argv, "--lang", "en")
    assert code == 2 and "row 3, field category, value '乱放'" in out and "result: dry run" in out
