"""The work-plan targets: each number recomputed here from the GeoPackage's features with
plain geopandas (not through the registry) and compared with ``hehu targets --format json``;
edits move exactly the numbers they should."""

from __future__ import annotations

import contextlib
import io
import json
from html import escape
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from cli.main import main
from geo.targets import PLANS_DIR

AS_OF = "2021-11-30"
METRIC_CRS = 4549
REQUIRED_IDS = [
    "sections_class3_rate",
    "micro_remediated",
    "micro_maintained",
    "demo_villages",
    "violations_open",
    "violations_overdue",
    "plants_built",
    "cross_boundary_mechanisms",
    "happy_rivers",
    "signboards_compliant",
]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def targets_json(path: Path, *extra: str, as_of: str = AS_OF) -> dict[str, dict]:
    code, out, err = run_cli("targets", "--format", "json", "--registry", str(path), "--as-of", as_of, *extra)
    assert code == 0, err
    return {t["id"]: t for t in json.loads(out)}


@pytest.fixture(scope="module")
def demo_targets(demo_path) -> dict[str, dict]:
    return targets_json(demo_path)


# Every request here only reads: one app on the demo for the whole module.
@pytest.fixture(scope="module")
def app(demo_app):
    return demo_app


@pytest.fixture(scope="module")
def client(demo_app):
    return demo_app.test_client()


def layer(path: Path, layer_id: str) -> gpd.GeoDataFrame:
    return gpd.read_file(path, layer=layer_id)


def town_names(path: Path) -> list[str]:
    return list(layer(path, "towns").sort_values("code")["name"])


def counts_by_town(path: Path, towns: pd.Series, fill=0) -> dict:
    out = {name: fill for name in town_names(path)}
    out.update({k: int(v) for k, v in towns.value_counts().items()})
    return out


def point_towns(path: Path, points: gpd.GeoDataFrame) -> pd.Series:
    """Town of each point by location, with a geopandas spatial join in metres."""
    towns = layer(path, "towns")[["name", "geometry"]].to_crs(METRIC_CRS)
    joined = gpd.sjoin(points.to_crs(METRIC_CRS), towns, predicate="intersects", how="left")
    return joined[~joined.index.duplicated()]["name"]


def line_towns(path: Path, lines: gpd.GeoDataFrame) -> pd.Series:
    """Town holding the longest part of each line, with a geopandas overlay in metres."""
    towns = layer(path, "towns")[["name", "geometry"]].to_crs(METRIC_CRS)
    lines = lines[["geometry"]].assign(row=range(len(lines))).to_crs(METRIC_CRS)
    pieces = gpd.overlay(lines, towns, how="intersection", keep_geom_type=True)
    pieces["length"] = pieces.length
    best = pieces.sort_values("length", ascending=False).drop_duplicates("row").set_index("row")["name"]
    return pd.Series([best.get(i) for i in range(len(lines))], index=lines.index)


# -- the shape of the answer --------------------------------------------------------------


def test_json_lists_every_required_target_with_its_plan_sentence(demo_targets):
    plan = yaml.safe_load((PLANS_DIR / "2021.yaml").read_text(encoding="utf-8"))
    assert set(REQUIRED_IDS) <= set(demo_targets)
    assert list(demo_targets) == [t["id"] for t in plan["targets"]]
    sentences = {t["id"]: t["source"].strip() for t in plan["targets"]}
    for tid, t in demo_targets.items():
        for key in ("id", "title", "title_en", "value", "target", "unit", "met", "gap", "by_town", "source", "details", "links"):
            assert key in t, (tid, key)
        assert isinstance(t["met"], bool)
        assert t["source"] == sentences[tid]
        assert t["year"] == 2021
        assert any(link["href"].startswith("/collections/") for link in t["links"]), tid


def test_met_and_gap_follow_the_comparison(demo_targets):
    for t in demo_targets.values():
        if t["comparison"] == ">=":
            assert t["met"] == (t["value"] >= t["target"])
            assert t["gap"] == pytest.approx(max(t["target"] - t["value"], 0))
        else:
            assert t["met"] == (t["value"] <= t["target"])
            assert t["gap"] == pytest.approx(max(t["value"] - t["target"], 0))


# -- each target, recomputed from the features ----------------------------------------------


def test_sections_class3_rate_is_the_share_of_counted_sections_at_class_iii_or_better(demo_path, demo_targets):
    s = layer(demo_path, "sections")
    counted = s[s["counted"]]
    good = counted["latest_class"] <= 3
    t = demo_targets["sections_class3_rate"]
    assert t["value"] == pytest.approx(good.mean())
    assert 0 <= t["value"] <= 1 and t["target"] == pytest.approx(0.909)
    assert "长荡湖心" not in set(counted["name"]) and t["details"]["not_counted"] == ["长荡湖心"]
    assert sorted(m["name"] for m in t["details"]["missing"]) == sorted(counted.loc[~good, "name"])
    for m in t["details"]["missing"]:
        row = counted[counted["code"] == m["code"]].iloc[0]
        assert m["classes_above"] == row["latest_class"] - 3
    expected = {name: None for name in town_names(demo_path)}
    expected.update(counted.assign(good=good).groupby("town")["good"].mean().to_dict())
    assert t["by_town"].keys() == expected.keys()
    for town, rate in expected.items():
        assert t["by_town"][town] == (None if rate is None else pytest.approx(rate)), town


def test_micro_remediated_counts_remediations_since_the_plan_began(demo_path, demo_targets):
    m = layer(demo_path, "micro_water_bodies")
    done = m[(m["status"] == "已整治") & (m["remediated_on"].isna() | (m["remediated_on"] >= "2021-01-01"))]
    t = demo_targets["micro_remediated"]
    assert t["value"] == len(done) and t["target"] == 110
    assert t["by_town"] == counts_by_town(demo_path, done["town"])
    still_open = m[m["status"].isin(["问题", "整治中"])]
    assert t["details"]["still_open"] == len(still_open)
    assert t["outstanding_by_town"] == counts_by_town(demo_path, still_open["town"])


def test_micro_maintained_counts_custodians_against_every_micro_water_body(demo_path, demo_targets):
    m = layer(demo_path, "micro_water_bodies")
    kept = m["custodian"].notna() & (m["custodian"].str.strip() != "")
    t = demo_targets["micro_maintained"]
    assert t["value"] == int(kept.sum())
    assert t["target"] == len(m) == 739
    assert t["by_town"] == counts_by_town(demo_path, m.loc[kept, "town"])


def test_demo_villages_are_distinct_villages_with_the_flag(demo_path, demo_targets):
    m = layer(demo_path, "micro_water_bodies")
    villages = m.loc[m["demo_village"], ["town", "village"]].dropna().drop_duplicates()
    t = demo_targets["demo_villages"]
    assert t["value"] == len(villages) and t["target"] == 3
    assert t["by_town"] == counts_by_town(demo_path, villages["town"])
    assert sorted((v["town"], v["village"]) for v in t["details"]["villages"]) == sorted(
        villages.itertuples(index=False, name=None)
    )


def test_violations_open_with_relapses_and_breakdowns(demo_path, demo_targets):
    v = layer(demo_path, "violations")
    open_ = v[v["status"] != "已销号"]
    t = demo_targets["violations_open"]
    assert t["value"] == len(open_) and t["target"] == 0 and t["met"] is (len(open_) == 0)
    assert t["by_town"] == counts_by_town(demo_path, open_["town"])
    assert t["details"]["relapsed"] == int((v["status"] == "反弹").sum())
    assert t["details"]["by_category"] == open_["category"].value_counts().to_dict()
    assert t["details"]["by_river"] == open_["river"].value_counts().to_dict()
    relapsed = demo_targets["violations_relapsed"]
    assert relapsed["value"] == int((v["status"] == "反弹").sum())


@pytest.mark.parametrize("as_of", [AS_OF, "2021-06-30"])
def test_violations_overdue_are_past_deadline_and_not_closed_on_the_given_day(demo_path, as_of):
    v = layer(demo_path, "violations")
    late = v[(v["status"] != "已销号") & (v["deadline"] < pd.Timestamp(as_of))]
    t = targets_json(demo_path, as_of=as_of)["violations_overdue"]
    assert t["value"] == len(late) > 0
    assert t["by_town"] == counts_by_town(demo_path, late["town"])
    assert sorted(o["code"] for o in t["details"]["overdue"]) == sorted(late["code"])
    assert t["details"]["today"] == as_of


def test_plants_built_checks_each_plant_the_plan_names(demo_path, demo_targets):
    p = layer(demo_path, "sewage_plants")

    def one(part: str) -> pd.Series:
        hits = p[p["name"].str.contains(part)]
        assert len(hits) == 1, part
        return hits.iloc[0]

    done = [one(part)["status"] == "运行" for part in ("儒林", "薛埠", "第一")] + [bool(one("第二")["upgraded"])]
    t = demo_targets["plants_built"]
    assert t["value"] == sum(done) and t["target"] == 4
    assert [r["met"] for r in t["details"]["plants"]] == done


def test_cross_boundary_mechanisms_against_all_reaches_by_town_on_the_map(demo_path, demo_targets):
    c = layer(demo_path, "cross_boundary_reaches")
    t = demo_targets["cross_boundary_mechanisms"]
    assert t["value"] == int(c["mechanism"].sum()) and t["target"] == len(c)
    towns = line_towns(demo_path, c)
    assert t["by_town"] == counts_by_town(demo_path, towns[c["mechanism"]])
    assert sorted(w["code"] for w in t["details"]["without"]) == sorted(c.loc[~c["mechanism"], "code"])


def test_happy_rivers_count_distinct_names_and_list_five_good(demo_path, demo_targets):
    r = layer(demo_path, "rivers")
    t = demo_targets["happy_rivers"]
    assert t["value"] == r.loc[r["happy"], "name"].nunique() and t["target"] == 1
    assert t["details"]["five_good"] == sorted(r.loc[r["five_good"], "name"].unique())


def test_signboards_compliant_share_by_town_on_the_map(demo_path, demo_targets):
    s = layer(demo_path, "signboards")
    t = demo_targets["signboards_compliant"]
    assert t["value"] == pytest.approx(s["compliant"].mean()) and t["target"] == 1.0
    towns = point_towns(demo_path, s)
    expected = {name: None for name in town_names(demo_path)}
    expected.update(s.assign(town=towns).groupby("town")["compliant"].mean().to_dict())
    assert t["by_town"].keys() == expected.keys()
    for town, rate in expected.items():
        assert t["by_town"][town] == (None if rate is None else pytest.approx(rate)), town


def test_every_target_has_a_value_for_every_town_in_the_towns_layers_order(demo_path, demo_targets):
    towns = town_names(demo_path)
    for tid, t in demo_targets.items():
        assert list(t["by_town"]) == towns, tid
        assert list(t["outstanding_by_town"]) == towns, tid
        if t["unit"] != "fraction":
            assert all(isinstance(n, int) and n >= 0 for n in t["by_town"].values()), tid


def test_happy_rivers_by_town_counts_each_river_once_per_town(demo_path, demo_targets):
    r = layer(demo_path, "rivers")
    happy = r[r["happy"]]
    expected = {name: 0 for name in town_names(demo_path)}
    expected.update({k: int(v) for k, v in happy.groupby("town")["name"].nunique().items()})
    assert demo_targets["happy_rivers"]["by_town"] == expected
    assert sum(expected.values()) >= 1


def test_plants_and_relapses_by_town_follow_the_features(demo_path, demo_targets):
    p = layer(demo_path, "sewage_plants")
    done = [p[p["name"].str.contains(part)] for part in ("儒林", "薛埠", "第一")]
    met_towns = [h.iloc[0]["town"] for h in done if (h["status"] == "运行").all()]
    upgraded = p[p["name"].str.contains("第二")]
    met_towns += [upgraded.iloc[0]["town"]] if upgraded["upgraded"].all() else []
    assert demo_targets["plants_built"]["by_town"] == counts_by_town(demo_path, pd.Series(met_towns, dtype=object))
    v = layer(demo_path, "violations")
    assert demo_targets["violations_relapsed"]["by_town"] == counts_by_town(demo_path, v.loc[v["status"] == "反弹", "town"])


# -- edits move the right number by one ----------------------------------------------------


def _changed(before: dict, after: dict) -> dict[str, tuple]:
    return {k: (before[k]["value"], after[k]["value"]) for k in before if before[k]["value"] != after[k]["value"]}


def test_closing_a_violation_lowers_open_and_overdue_by_exactly_one(registry, demo_copy):
    before = targets_json(demo_copy)
    v = registry.read("violations", where={"status": "整改中"})
    late = v[v["deadline"].notna() & (v["deadline"] < AS_OF)]
    fid = int(late.index[0])
    town = late.loc[fid, "town"]
    registry.update("violations", fid, {"status": "已销号", "closed_on": AS_OF})
    after = targets_json(demo_copy)
    open_, overdue = before["violations_open"]["value"], before["violations_overdue"]["value"]
    assert _changed(before, after) == {
        "violations_open": (open_, open_ - 1),
        "violations_overdue": (overdue, overdue - 1),
    }
    assert after["violations_open"]["by_town"][town] == before["violations_open"]["by_town"][town] - 1


def test_a_relapse_raises_open_and_relapsed_by_one(registry, demo_copy):
    before = targets_json(demo_copy)
    v = registry.read("violations", where={"status": "已销号"})
    registry.update("violations", int(v.index[0]), {"status": "反弹"})
    after = targets_json(demo_copy)
    changed = _changed(before, after)
    assert changed.pop("violations_open") == (before["violations_open"]["value"], before["violations_open"]["value"] + 1)
    assert changed.pop("violations_relapsed") == (
        before["violations_relapsed"]["value"],
        before["violations_relapsed"]["value"] + 1,
    )
    # Overdue moves too only when the reopened one's deadline has passed.
    assert set(changed) <= {"violations_overdue"}


def test_remediating_a_micro_water_body_raises_remediated_by_exactly_one(registry, demo_copy):
    before = targets_json(demo_copy)
    m = registry.read("micro_water_bodies", where={"status": "整治中"})
    fid = int(m.index[0])
    town = m.loc[fid, "town"]
    registry.update("micro_water_bodies", fid, {"status": "已整治", "remediated_on": AS_OF})
    after = targets_json(demo_copy)
    n = before["micro_remediated"]["value"]
    assert _changed(before, after) == {"micro_remediated": (n, n + 1)}
    assert after["micro_remediated"]["by_town"][town] == before["micro_remediated"]["by_town"][town] + 1
    assert after["micro_remediated"]["details"]["still_open"] == before["micro_remediated"]["details"]["still_open"] - 1


def test_assigning_a_custodian_raises_maintained_by_one(registry, demo_copy):
    before = targets_json(demo_copy)
    m = registry.read("micro_water_bodies")
    fid = int(m[m["custodian"].isna()].index[0])
    registry.update("micro_water_bodies", fid, {"custodian": "张三"})
    after = targets_json(demo_copy)
    n = before["micro_maintained"]["value"]
    assert _changed(before, after) == {"micro_maintained": (n, n + 1)}


def _section_fid(registry, name: str) -> int:
    s = registry.read("sections")
    return int(s.index[s["name"] == name][0])


def test_changdang_lake_centre_is_not_counted_even_when_flagged(registry, demo_copy):
    before = targets_json(demo_copy)
    fid = _section_fid(registry, "长荡湖心")
    registry.update("sections", fid, {"counted": True, "latest_class": 2})
    after = targets_json(demo_copy)
    assert _changed(before, after) == {}
    assert after["sections_class3_rate"]["details"]["not_counted"] == ["长荡湖心"]


def test_without_observations_a_section_reaching_class_iii_by_its_latest_class_raises_the_rate(
    registry, demo_copy, tmp_path
):
    # A plan year with no observations in the registry: the typed-in latest_class decides.
    plan = yaml.safe_load((PLANS_DIR / "2021.yaml").read_text(encoding="utf-8"))
    plan["year"] = 2031
    path = tmp_path / "plan-2031.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    before = targets_json(demo_copy, "--plan", str(path))["sections_class3_rate"]
    assert before["details"]["basis"] == "latest_class"
    worst = before["details"]["missing"][0]
    registry.update("sections", _section_fid(registry, worst["name"]), {"latest_class": 3})
    after = targets_json(demo_copy, "--plan", str(path))["sections_class3_rate"]
    n = before["details"]["counted"]
    assert after["value"] == pytest.approx(before["value"] + 1 / n)
    assert after["details"]["good"] == before["details"]["good"] + 1
    assert worst["name"] not in [m["name"] for m in after["details"]["missing"]]


def test_micro_maintained_target_stays_at_the_plans_739_when_the_registry_loses_one(registry, demo_copy):
    before = targets_json(demo_copy)["micro_maintained"]
    m = registry.read("micro_water_bodies")
    registry.delete("micro_water_bodies", int(m[m["custodian"].notna()].index[0]))
    after = targets_json(demo_copy)["micro_maintained"]
    assert (after["target"], after["value"]) == (739, before["value"] - 1)
    assert after["details"]["total"] == 738 and after["met"] is False


def test_micro_maintained_is_met_only_when_every_one_has_a_custodian(registry, demo_copy):
    m = registry.read("micro_water_bodies")
    for fid in m.index[m["custodian"].isna()]:
        registry.update("micro_water_bodies", int(fid), {"custodian": "李四"})
    t = targets_json(demo_copy)["micro_maintained"]
    assert (t["value"], t["target"], t["met"], t["gap"]) == (739, 739, True, 0)


# -- plans are data ---------------------------------------------------------------------------


def _plan_file(tmp_path: Path, **changes) -> Path:
    plan = yaml.safe_load((PLANS_DIR / "2021.yaml").read_text(encoding="utf-8"))
    for tid, values in changes.items():
        next(t for t in plan["targets"] if t["id"] == tid).update(values)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    return path


def test_a_new_plan_file_changes_the_targets_without_code(demo_path, demo_targets, tmp_path):
    n = demo_targets["micro_remediated"]["value"]
    path = _plan_file(tmp_path, micro_remediated={"target": n, "source": "完成整治。"})
    t = targets_json(demo_path, "--plan", str(path))["micro_remediated"]
    assert (t["target"], t["met"], t["gap"], t["source"]) == (n, True, 0, "完成整治。")


def test_a_later_plan_counts_only_its_own_remediations(demo_path, tmp_path):
    plan = yaml.safe_load((PLANS_DIR / "2021.yaml").read_text(encoding="utf-8"))
    plan.update(year=2022, since="2022-01-01")
    path = tmp_path / "2022.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    m = layer(demo_path, "micro_water_bodies")
    expected = int(((m["status"] == "已整治") & (m["remediated_on"].isna() | (m["remediated_on"] >= "2022-01-01"))).sum())
    t = targets_json(demo_path, "--plan", str(path))["micro_remediated"]
    assert t["value"] == expected and t["year"] == 2022


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "no_such_metric"}, "unknown metric 'no_such_metric'"),
        ({"target": "many"}, "neither a number nor 'all'"),
        ({"comparison": "~"}, "comparison '~'"),
        ({"source": ""}, "missing key 'source'"),
        ({"plan_count": "many"}, "plan_count 'many'"),
    ],
)
def test_a_bad_plan_file_is_refused_naming_file_and_target(demo_path, tmp_path, change, message):
    path = _plan_file(tmp_path, happy_rivers=change)
    code, out, err = run_cli("targets", "--registry", str(demo_path), "--plan", str(path))
    assert code == 2 and out == ""
    assert str(path) in err and "happy_rivers" in err and message in err


def test_a_fraction_target_outside_0_1_is_refused(demo_path, tmp_path):
    path = _plan_file(tmp_path, sections_class3_rate={"target": 90.9})
    code, _, err = run_cli("targets", "--registry", str(demo_path), "--plan", str(path))
    assert code == 2 and "between 0 and 1" in err


def test_an_empty_registry_gives_zeros_not_errors(empty_registry):
    code, out, err = run_cli("targets", "--format", "json", "--registry", str(empty_registry.path))
    assert code == 0, err
    results = {t["id"]: t for t in json.loads(out)}
    assert results["violations_open"]["value"] == 0 and results["violations_open"]["met"] is True
    assert results["sections_class3_rate"]["value"] == 0.0 and results["sections_class3_rate"]["met"] is False
    # "All 739" is not met by a registry that holds none of them.
    assert results["micro_maintained"]["target"] == 739 and results["micro_maintained"]["met"] is False
    assert all(t["by_town"] == {} for t in results.values())


# -- command line ------------------------------------------------------------------------------


def test_table_is_chinese_and_aligned(demo_path, demo_targets):
    from cli.common import display_width

    code, out, _ = run_cli("targets", "--registry", str(demo_path), "--as-of", AS_OF)
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("指标"))
    sep = lines[header + 1]
    rows = lines[header + 2 : header + 2 + len(demo_targets)]
    for t, line in zip(demo_targets.values(), rows, strict=True):
        assert line.startswith(t["title"])
        assert line.rstrip().endswith("达成") or line.rstrip().endswith("未达成")
        # Column 2 starts at the same terminal column on every row.
        first = line.split("  ")[0]
        assert display_width(first) <= sep.index(" ")
    worst = next(i for i, line in enumerate(lines) if line.startswith("镇(街道)"))
    assert "合计" in lines[worst]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--plan", "1999"], "no plan for 1999"),
        (["--plan", "/nonexistent/plan.yaml"], "does not exist"),
        (["--as-of", "2021-02-30"], "not a date"),
        (["--registry", "/nonexistent/x.gpkg"], "no such registry file"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(demo_path, argv, message):
    args = ["targets", "--registry", str(demo_path), *argv, "--lang", "en"]
    code, out, err = run_cli(*args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["missing/summary.pdf", "summary.png"])
def test_pdf_to_a_bad_path_writes_nothing(demo_path, tmp_path, name):
    code, _, err = run_cli("targets", "--registry", str(demo_path), "--pdf", str(tmp_path / name), "--lang", "en")
    assert code == 2 and "error" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def summary_pdf(demo_path, tmp_path_factory):
    """The one-page summary of the demo on AS_OF, written once by ``hehu targets --pdf``
    into a folder of its own; the tests below read it."""
    folder = tmp_path_factory.mktemp("summary")
    out = folder / "targets.pdf"
    code, stdout, err = run_cli("targets", "--registry", str(demo_path), "--pdf", str(out), "--as-of", AS_OF)
    return code, stdout, err, out


def test_pdf_summary_is_one_a4_page_with_the_title(summary_pdf):
    from pypdf import PdfReader

    code, stdout, err, out = summary_pdf
    tmp_path = out.parent
    assert code == 0 and stdout == "" and str(out) in err
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    text = reader.pages[0].extract_text()
    assert text.startswith("2021年常州市金坛区河湖长制工作要点 · 目标进展")
    assert "演示数据" in text and "数据来源" in text and AS_OF in text
    assert reader.metadata.title.startswith("2021年常州市金坛区河湖长制工作要点")
    assert [p.name for p in tmp_path.iterdir()] == ["targets.pdf"]


def test_pdf_without_a_path_is_named_for_the_plan_and_day_in_the_current_folder(demo_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("targets", "--registry", str(demo_path), "--as-of", AS_OF, "--pdf")
    assert code == 0 and out == "", err
    assert [p.name for p in tmp_path.iterdir()] == [f"targets-2021-{AS_OF}.pdf"]
    code, out, _ = run_cli("targets", "--registry", str(demo_path), "--as-of", AS_OF, "--pdf", "--format", "json")
    assert code == 0 and json.loads(out)[0]["id"] == "sections_class3_rate"


def _pdf_furniture(path: Path) -> dict:
    """Fonts, the top two lines (size and baseline), and the text of a one-page PDF."""
    from pypdf import PdfReader

    page = PdfReader(path).pages[0]
    fonts = {str(f.get_object()["/BaseFont"]).split("+")[-1] for f in page["/Resources"]["/Font"].values()}
    lines: dict[float, float] = {}

    def visit(text, cm, tm, font, size):
        if text.strip() and cm[1] == 0:  # upright text
            lines.setdefault(round(cm[5], 1), round(size, 2))

    text = page.extract_text(visitor_text=visit)
    top = sorted(lines.items(), reverse=True)[:2]
    return {"fonts": fonts, "top": top, "text": "".join(text.split())}  # wrapping may eat a space


def test_pdf_summary_shares_the_printed_maps_fonts_title_block_and_footer(demo_registry, tmp_path, summary_pdf):
    registry = demo_registry
    from geo.carto import _credits_line, render_map

    printed = render_map(registry, ["rivers"], tmp_path / "map.pdf", title="金坛区河道", subtitle="区级河道",
                         paper="A4", orientation="portrait").path
    summary = summary_pdf[3]  # write_targets_pdf's page, as `hehu targets --pdf` wrote it
    a, b = _pdf_furniture(printed), _pdf_furniture(summary)
    assert a["fonts"] == b["fonts"] == {"NotoSansCJKsc-Regular"}
    # Title and subtitle: the same type sizes on the same baselines.
    assert b["top"] == a["top"] and b["top"][0][1] > b["top"][1][1]
    credits = "".join(_credits_line(registry.metadata).split())
    assert credits in a["text"] and credits in b["text"]
    assert "演示数据/demodata：除注明来源者外，图中要素均为虚构。" in b["text"]


def test_pdf_summary_of_a_long_plan_keeps_every_row_above_the_towns_chart(demo_registry, tmp_path):
    registry = demo_registry
    from pypdf import PdfReader

    from geo.targets_report import write_targets_pdf

    plan = yaml.safe_load((PLANS_DIR / "2021.yaml").read_text(encoding="utf-8"))
    plan["title"] = "2021年常州市金坛区河湖长制暨小微水体长效管护与清四乱专项行动工作要点（修订稿）"
    extra = [{**t, "id": t["id"] + "_again", "title": t["title"] + "（续）"} for t in plan["targets"]]
    plan["targets"] += extra
    plan_path = tmp_path / "long.yaml"
    plan_path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    out = write_targets_pdf(registry, tmp_path / "long.pdf", plan=plan_path, today=AS_OF)
    reader = PdfReader(out)
    ys: dict[str, list[float]] = {}

    def visit(text, cm, tm, font, size):
        if text.strip() and cm[1] == 0:
            ys.setdefault(text.strip(), []).append(cm[5])

    reader.pages[0].extract_text(visitor_text=visit)
    assert len(reader.pages) == 1
    rows = [y for text, found in ys.items() if text.endswith("（续）") for y in found]
    assert len(rows) == len(extra)
    assert min(rows) > ys["各镇（街道）待办事项（由多到少）"][0] > ys["儒林镇"][0]
    # The long title stays inside the margins, as on the printed maps.
    page = reader.pages[0]
    title_chars = []

    def title_extent(text, cm, tm, font, size):
        if "修订稿" in text or "目标进展" in text:
            title_chars.append(size)

    page.extract_text(visitor_text=title_extent)
    assert title_chars and max(title_chars) < 17.8


# -- web ----------------------------------------------------------------------------------------


def test_json_endpoint_equals_the_command_line(client, demo_targets):
    resp = client.get(f"/targets?f=json&as_of={AS_OF}")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert {t["id"]: t for t in resp.get_json()} == demo_targets


def test_page_shows_progress_chart_and_links_for_every_target(client, demo_targets):
    resp = client.get(f"/targets?as_of={AS_OF}&lang=zh")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.count('role="progressbar"') == len(demo_targets)
    assert html.count('<svg class="chart"') == len(demo_targets)
    for t in demo_targets.values():
        assert t["title"] in html
        for link in t["links"][:2]:
            assert f'href="{escape(link["href"])}"' in html
    assert 'href="/collections/violations/items?status=' in html
    assert 'href="/map?layer=violations&amp;filter=status:' in html


def test_page_lists_towns_worst_first(client, demo_targets):
    from geo.targets import town_table

    html = client.get(f"/targets?as_of={AS_OF}").get_data(as_text=True)
    table = html[html.index('<table class="towns">') :]
    rows = town_table(list(demo_targets.values()))
    positions = [table.index(f"<td>{row['town']}</td>") for row in rows]
    assert positions == sorted(positions)
    totals = [row["outstanding"] for row in rows]
    assert totals == sorted(totals, reverse=True) and totals[0] > 0


def test_pdf_endpoint_serves_the_one_page_summary(client):
    from pypdf import PdfReader

    resp = client.get(f"/targets.pdf?as_of={AS_OF}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.data))
    assert len(reader.pages) == 1 and "目标进展" in reader.pages[0].extract_text()


@pytest.mark.parametrize(
    ("url", "status", "detail"),
    [
        ("/targets?f=xml", 400, {"parameter": "f"}),
        ("/targets?lang=fr", 400, {"parameter": "lang"}),
        ("/targets?plan=abc", 400, {"parameter": "plan"}),
        ("/targets?plan=1999", 404, {"plan": "1999"}),
        ("/targets?as_of=2021-13-01", 400, {"parameter": "as_of"}),
        ("/targets.pdf?as_of=yesterday", 400, {"parameter": "as_of"}),
        ("/targets.pdf?plan=../../etc/passwd", 400, {"parameter": "plan"}),
    ],
)
def test_bad_parameters_get_a_json_error(client, url, status, detail):
    resp = client.get(url)
    assert resp.status_code == status
    body = resp.get_json()
    assert body["description"] and detail.items() <= body.items()


def test_every_metric_and_target_is_documented():
    from geo.targets import METRICS, load_plan

    doc = (Path(__file__).resolve().parent.parent / "docs" / "targets.md").read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in doc, name
    for spec in load_plan(2021).targets:
        assert f"`{spec.id}`" in doc, spec.id


def _map_link_as_items_query(href: str) -> str:
    """What the map page asks the OGC API for a ``/map?layer=…&filter=field:v1,v2`` link."""
    from urllib.parse import parse_qs, quote, urlsplit

    query = parse_qs(urlsplit(href).query)
    (layer_id,) = query["layer"]
    params = "&".join(
        f"{quote(f.split(':', 1)[0])}={quote(f.split(':', 1)[1])}" for f in query.get("filter", [])
    )
    return f"/collections/{quote(layer_id)}/items?{params}"


def test_town_table_cells_link_to_exactly_the_features_they_count(client, demo_targets):
    """A number opens the map on exactly its features where field equality can select them
    (open violations, relapses, problem micro water bodies), else the OGC API items page."""
    from urllib.parse import unquote

    from geo.targets import outstanding_link, outstanding_map_link, town_table

    html = client.get(f"/targets?as_of={AS_OF}").get_data(as_text=True)
    on_map = in_items = 0
    for row in town_table(list(demo_targets.values())):
        for tid, n in row["by_target"].items():
            if not n:
                continue
            map_href = outstanding_map_link(demo_targets[tid], row["town"])
            if map_href is not None:
                assert f'href="{escape(map_href)}"' in html
                assert client.get(map_href).status_code == 200
                href = _map_link_as_items_query(map_href)
                on_map += 1
            else:
                href = outstanding_link(demo_targets[tid], row["town"])
                if href is None:
                    continue
                assert f'href="{escape(href)}&amp;f=html"' in html
                in_items += 1
            body = client.get(href + "&limit=1000").get_json()
            assert body["numberMatched"] == n, (row["town"], tid, unquote(href))
    assert on_map >= 15 and in_items >= 10
    for tid in ("violations_open", "violations_relapsed", "micro_remediated"):
        assert outstanding_map_link(demo_targets[tid]) is not None, tid
    for tid in ("violations_overdue", "sections_class3_rate", "micro_maintained"):
        assert outstanding_map_link(demo_targets[tid]) is None, tid


def test_language_switch_keeps_the_plan_and_the_day(client):
    html = client.get(f"/targets?as_of={AS_OF}&plan=2021&lang=zh").get_data(as_text=True)
    assert f'href="/targets?lang=en&amp;plan=2021&amp;as_of={AS_OF}"' in html


def test_page_links_stay_below_the_prefix_the_app_is_mounted_at(client):
    import re

    html = client.get(f"/targets?as_of={AS_OF}", base_url="http://localhost/hehu").get_data(as_text=True)
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert len(hrefs) > 60
    assert [h for h in hrefs if not h.startswith("/hehu/")] == []


def test_page_speaks_english_when_asked(client, demo_targets):
    html = client.get(f"/targets?as_of={AS_OF}&lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    for t in demo_targets.values():
        assert escape(t["title_en"]) in html


def test_overdue_matches_the_features_on_any_day(demo_path):
    from datetime import date, timedelta

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from geo.registry import Registry
    from geo.targets import compute_targets, load_plan

    v = layer(demo_path, "violations")
    plan = load_plan(2021)
    reg = Registry.open(demo_path)

    @settings(max_examples=25, deadline=None)
    @given(st.dates(min_value=date(2019, 6, 1), max_value=date(2022, 12, 31)))
    def check(day):
        t = next(r for r in compute_targets(reg, plan, today=day) if r["id"] == "violations_overdue")
        late = v[(v["status"] != "已销号") & (v["deadline"] < pd.Timestamp(day))]
        assert t["value"] == len(late)
        # A violation due on the day itself is not overdue yet; the next day it is.
        due = v[(v["status"] != "已销号") & (v["deadline"] == pd.Timestamp(day))]
        later = next(r for r in compute_targets(reg, plan, today=day + timedelta(days=1)) if r["id"] == "violations_overdue")
        assert later["value"] == len(late) + len(due)

    try:
        check()
    finally:
        reg.close()
