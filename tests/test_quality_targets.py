"""优Ⅲ率 on /targets is evidence: recomputed here from the observations, independently
of geo.quality (plain SQL, limits typed from GB 3838-2002 Table 1), it is the same."""

import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from geo.quality.importing import import_observations

# GB 3838-2002 Table 1, rivers, Ⅰ–Ⅴ (typed from the standard, not read from hehu's file).
RIVER = {
    "DO": (7.5, 6, 5, 3, 2), "CODMn": (2, 4, 6, 10, 15), "COD": (15, 15, 20, 30, 40),
    "BOD5": (3, 3, 4, 6, 10), "NH3-N": (0.15, 0.5, 1.0, 1.5, 2.0), "TP": (0.02, 0.1, 0.2, 0.3, 0.4),
}


def single_class(parameter: str, value: float) -> int:
    if parameter == "pH":
        return 1 if 6 <= value <= 9 else 6
    for k, limit in enumerate(RIVER[parameter], start=1):
        if (value >= limit) if parameter == "DO" else (value <= limit):
            return k
    return 6


def independent_rate(path, year: int, as_of: str) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    sections = conn.execute("SELECT code, name, counted FROM sections").fetchall()
    sums = defaultdict(lambda: [0.0, 0])
    for section, at, parameter, value in conn.execute("SELECT section, sampled_at, parameter, value FROM observations"):
        local = datetime.strptime(at[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc) + timedelta(hours=8)
        if local.year == year and local.date().isoformat() <= as_of:
            sums[(section, parameter)][0] += value
            sums[(section, parameter)][1] += 1
    conn.close()
    good = counted = 0
    for code, name, is_counted in sections:
        if not is_counted or name == "长荡湖心":
            continue
        classes = [single_class(p, round(s / n, 4)) for (c, p), (s, n) in sums.items() if c == code and p != "TN"]
        if classes:
            counted += 1
            good += max(classes) <= 3
    return good, counted


@pytest.mark.parametrize("as_of", ["2021-12-31", "2021-06-30"])
def test_the_class_iii_rate_on_targets_is_recomputed_from_the_observations(client, demo_copy, as_of):
    t = {x["id"]: x for x in client.get(f"/targets?f=json&as_of={as_of}").get_json()}["sections_class3_rate"]
    good, counted = independent_rate(demo_copy, 2021, as_of)
    assert t["details"]["basis"] == "observations"
    assert (t["details"]["good"], t["details"]["counted"]) == (good, counted)
    assert t["value"] == pytest.approx(good / counted)
    assert set(t["details"]["class_from"].values()) == {"observations"}


def test_the_demo_observations_give_every_section_its_typed_latest_class(registry):
    from geo.targets import compute_targets

    t = {x["id"]: x for x in compute_targets(registry, 2021, today="2021-12-31")}["sections_class3_rate"]
    s = registry.read("sections")
    assert t["details"]["classes"] == {str(c): int(v) for c, v in zip(s["code"], s["latest_class"], strict=True)}


def test_new_observations_worse_than_v_take_a_section_out_of_the_rate(registry, tmp_path):
    from geo.targets import compute_targets

    before = {x["id"]: x for x in compute_targets(registry, 2021, today="2021-12-31")}["sections_class3_rate"]
    lines = [f"DM-10,2021-{m:02d}-25 10:00,TP,2.5,mg/L" for m in range(1, 13)]
    path = tmp_path / "bad.csv"
    path.write_text("section,sampled_at,parameter,value,unit\n" + "\n".join(lines) + "\n", encoding="utf-8")
    import_observations(registry, path)
    after = {x["id"]: x for x in compute_targets(registry, 2021, today="2021-12-31")}["sections_class3_rate"]
    assert after["details"]["good"] == before["details"]["good"] - 1
    assert "DM-10" in [m["code"] for m in after["details"]["missing"]]
    assert after["details"]["classes"]["DM-10"] == 6


def test_tributaries_of_the_danjinlicao_worse_than_v_become_a_target(registry, tmp_path):
    from geo.targets import compute_targets

    t = {x["id"]: x for x in compute_targets(registry, 2021, today="2021-12-31")}["tributaries_no_worse_than_v"]
    # The demo's rivers meeting 丹金溧漕河 (within 30 m, measured in EPSG:4549).
    assert t["details"]["tributaries"] == ["中干河", "北干河", "湟里河"]
    assert {s["code"] for s in t["details"]["sections"]} == {"DM-07", "DM-08", "DM-09"}
    assert all(s["class_from"] == "observations" and s["month"] == "2021-12" for s in t["details"]["sections"])
    assert (t["value"], t["met"]) == (0, True)
    # December's samples at 湟里河 turn 劣Ⅴ: the latest month decides.
    lines = [f"DM-09,2021-12-{d} 10:00,NH3-N,6.0,mg/L" for d in (27, 28, 29)]
    path = tmp_path / "dec.csv"
    path.write_text("section,sampled_at,parameter,value,unit\n" + "\n".join(lines) + "\n", encoding="utf-8")
    import_observations(registry, path)
    t = {x["id"]: x for x in compute_targets(registry, 2021, today="2021-12-31")}["tributaries_no_worse_than_v"]
    assert (t["value"], t["met"]) == (1, False)
    assert [(r["code"], r["class"], r["month"]) for r in t["details"]["worse_than_v"]] == [("DM-09", 6, "2021-12")]
    assert sum(t["outstanding_by_town"].values()) == 1
    # Seen as of November, the December samples do not count yet.
    nov = {x["id"]: x for x in compute_targets(registry, 2021, today="2021-11-30")}["tributaries_no_worse_than_v"]
    assert nov["value"] == 0
