"""``hehu targets`` with no options shows what /targets shows: the same plan, the same
as-of day (today, clipped to the plan's year), in the command line's language."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cli.main import main
from cli.targets import default_as_of
from geo.targets import load_plan


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_as_of_day_is_today_clipped_to_the_plans_year():
    plan = load_plan(2021)
    assert default_as_of(plan, date(2026, 12, 7)) == date(2021, 12, 31)
    assert default_as_of(plan, date(2021, 6, 1)) == date(2021, 6, 1)
    assert default_as_of(plan, date(2021, 12, 31)) == date(2021, 12, 31)


@pytest.fixture(scope="module")
def page_json(demo_path) -> list[dict]:
    from server import create_app

    app = create_app({"REGISTRY": str(demo_path), "TESTING": True})
    try:
        resp = app.test_client().get("/targets?f=json")
        assert resp.status_code == 200
        return resp.get_json()
    finally:
        app.extensions["hehu_registry"].close()


def test_the_defaults_show_what_the_targets_page_shows(capsys, demo_path, page_json):
    code, out, err = run(capsys, "targets", "--format", "json", "--registry", str(demo_path))
    assert code == 0, err
    assert json.loads(out) == page_json
    plan = load_plan(None)
    day = default_as_of(plan).isoformat()
    code, out, _ = run(capsys, "targets", "--format", "json", "--registry", str(demo_path), "--as-of", day)
    assert code == 0 and json.loads(out) == page_json


def test_the_table_heading_names_the_clipped_day(capsys, demo_path):
    plan = load_plan(None)
    code, out, _ = run(capsys, "targets", "--registry", str(demo_path))
    assert code == 0 and f"（截至 {default_as_of(plan).isoformat()}）" in out.splitlines()[0]


def test_the_table_speaks_the_command_lines_language(capsys, demo_path, monkeypatch):
    monkeypatch.setenv("HEHU_LANG", "en")
    code, out, _ = run(capsys, "targets", "--registry", str(demo_path))
    assert code == 0 and "(as of " in out.splitlines()[0] and "未达成" not in out
    code, out, _ = run(capsys, "targets", "--registry", str(demo_path), "--lang", "zh")
    assert code == 0 and "（截至 " in out.splitlines()[0]
