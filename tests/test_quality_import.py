"""Importing lab sheets of water-quality results: both shapes, units, detection limits,
and every way a sheet is refused, with nothing written."""

import pandas as pd
import pytest

from cli.main import main
from geo.errors import HehuError
from geo.quality.importing import import_observations
from geo.quality.store import read_observations

LONG = "section,sampled_at,parameter,value,unit\n"


def write(tmp_path, text, name="sheet.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def state(reg):
    return reg.count("observations"), reg.version(), len(reg.history("observations", limit=None))


def test_a_long_sheet_is_imported_with_units_detection_limits_and_beijing_time(registry, tmp_path):
    path = write(tmp_path, LONG + "\n".join([
        "DM-01,2022-03-15 09:30,TP,120,µg/L",
        "DM-01,2022-03-15 09:30,氨氮,<0.025,mg/L",
        "DM-01,2022-03-15 09:30,COD,4L,mg/L",
        "丹金溧漕河城区,2022-03-15T09:30:00+08:00,pH,7.6,无量纲",
        "DM-02,2022-03-15,DO,8.1,mg/l",
    ]))
    before = registry.count("observations")
    report = import_observations(registry, path)
    assert (report.added, report.updated, report.rows, report.shape) == (5, 0, 5, "long")
    assert report.below_detection == 2 and report.converted == 1
    assert registry.count("observations") == before + 5
    obs = read_observations(registry, year=2022).set_index(["section", "parameter"])
    assert obs.loc[("DM-01", "TP"), "value"] == pytest.approx(0.12)
    assert obs.loc[("DM-01", "NH3-N"), "value"] == pytest.approx(0.0125)  # half the detection limit
    assert obs.loc[("DM-01", "COD"), "value"] == pytest.approx(2.0)
    assert "<0.025" in obs.loc[("DM-01", "NH3-N"), "note"]
    # 09:30 Beijing is 01:30 UTC; a date alone is 00:00 UTC; a section by its name.
    assert obs.loc[("DM-01", "TP"), "sampled_at"] == "2022-03-15T01:30:00.000Z"
    assert obs.loc[("DM-02", "pH"), "sampled_at"] == "2022-03-15T01:30:00.000Z"
    assert obs.loc[("DM-02", "pH"), "unit"] == "无量纲"
    assert obs.loc[("DM-02", "DO"), "sampled_at"] == "2022-03-15T00:00:00.000Z"
    # Every write has its history row, like any other layer.
    assert registry.history("observations")[-1]["op"] == "add"


def test_a_wide_xlsx_sheet_with_chinese_headers_and_units_in_brackets(registry, tmp_path):
    frame = pd.DataFrame({
        "断面编号": ["DM-03", "DM-04"],
        "采样时间": [pd.Timestamp("2022-04-10 10:00"), pd.Timestamp("2022-04-10 11:00")],
        "溶解氧": [7.2, 6.8],
        "总磷(µg/L)": [150, None],   # an empty cell is "not measured"
        "NH3-N": ["0.41", "0.02L"],
        "pH": [7.4, 7.9],
    })
    path = tmp_path / "月报.xlsx"
    frame.to_excel(path, index=False)
    report = import_observations(registry, path)
    assert (report.shape, report.added, report.converted, report.below_detection) == ("wide", 7, 1, 1)
    obs = read_observations(registry, year=2022).set_index(["section", "parameter"])
    assert obs.loc[("DM-03", "TP"), "value"] == pytest.approx(0.15)
    assert obs.loc[("DM-03", "DO"), "sampled_at"] == "2022-04-10T02:00:00.000Z"
    assert ("DM-04", "TP") not in obs.index


BAD = [
    ("DM-01,2021-03-15 09:30,TP,-0.1,mg/L", "row 3, column 'value'", "negative"),
    ("DM-01,2021-03-15 09:30,pH,15,", "row 3, column 'value'", "between 0 and 14"),
    ("DM-01,2021-03-15 09:30,pH,-1,", "row 3, column 'value'", "between 0 and 14"),
    ("DM-01,2021-03-15 09:30,TP,0.1,ppm", "row 3, column 'unit'", "unknown unit 'ppm'"),
    ("DM-01,2099-03-15 09:30,TP,0.1,mg/L", "row 3, column 'sampled_at'", "in the future"),
    ("DM-01,2021-02-30 09:30,TP,0.1,mg/L", "row 3, column 'sampled_at'", "not a sampling time"),
    ("DM 01,2021-03-15 09:30,TP,0.1,mg/L", "row 3, column 'section'", "did you mean 'DM-01'"),
    ("DM-01,2021-03-15 09:30,总憐,0.1,mg/L", "row 3, column 'parameter'", "did you mean '总磷'"),
    ("DM-01,2021-03-15 09:30,TP,abc,mg/L", "row 3, column 'value'", "not a number"),
    ("DM-01,2021-03-15 09:30,TP,,mg/L", "row 3, column 'value'", "missing"),
    ("DM-01,,TP,0.1,mg/L", "row 3, column 'sampled_at'", "not a sampling time"),
    ("DM-01,2021-03-15 09:30,TP,0.1,mg/L,卫星", "row 3, column 'source'", "unknown source '卫星'"),
]


@pytest.mark.parametrize(("line", "where", "what"), BAD, ids=[b[2] for b in BAD])
def test_a_bad_row_is_refused_by_row_and_column_and_nothing_is_written(registry, tmp_path, line, where, what):
    # A good row first: all or nothing means it is not written either.
    header = LONG if line.count(",") == 4 else LONG.replace("unit\n", "unit,source\n")
    good = "DM-02,2021-03-15 09:30,TP,0.1,mg/L" + ("" if line.count(",") == 4 else ",人工")
    path = write(tmp_path, header + good + "\n" + line + "\n")
    before = state(registry)
    with pytest.raises(HehuError) as exc:
        import_observations(registry, path, lang="en")
    assert where in exc.value.message and what in exc.value.message
    assert "nothing imported" in exc.value.message
    assert exc.value.details["row"] == 3  # the header is row 1, the good line row 2
    assert state(registry) == before


def test_every_problem_of_a_sheet_is_listed_not_only_the_first(registry, tmp_path):
    path = write(tmp_path, LONG + "DM-01,2021-03-15,TP,-1,mg/L\nDM-99,2021-03-15,TP,0.1,mg/L\nDM-01,2021-03-15,TP,0.1,kg\n")
    with pytest.raises(HehuError) as exc:
        import_observations(registry, path, lang="en")
    problems = exc.value.details["problems"]
    assert [(p["row"], p["column"]) for p in problems] == [(2, "value"), (3, "section"), (4, "unit")]
    assert "3 problem(s)" in exc.value.message


def test_a_wide_sheet_with_an_unknown_column_is_refused_with_the_closest_parameter(registry, tmp_path):
    path = write(tmp_path, "section,sampled_at,TP,NH3N-X\nDM-01,2021-03-15,0.1,0.5\n")
    before = state(registry)
    with pytest.raises(HehuError, match=r"row 1, column 'NH3N-X': unknown parameter; did you mean 'NH3-N'"):
        import_observations(registry, path, lang="en")
    assert state(registry) == before


def test_the_same_sample_twice_in_one_sheet_is_refused(registry, tmp_path):
    path = write(tmp_path, LONG + "DM-01,2021-03-15 09:30,TP,0.1,mg/L\nDM-01,2021-03-15T01:30:00Z,总磷,0.2,mg/L\n")
    before = state(registry)
    with pytest.raises(HehuError, match="row 3.*same section, time and parameter as row 2"):
        import_observations(registry, path, lang="en")
    assert state(registry) == before


def test_a_sample_already_in_the_registry_is_refused_unless_update(registry, tmp_path):
    path = write(tmp_path, LONG + "DM-05,2022-01-10 10:00,TP,0.1,mg/L\nDM-05,2022-01-10 10:00,DO,7,mg/L\n")
    import_observations(registry, path)
    changed = write(tmp_path, LONG + "DM-05,2022-01-10 10:00,TP,0.3,mg/L\nDM-05,2022-01-11 10:00,TP,0.2,mg/L\n", "again.csv")
    before = state(registry)
    with pytest.raises(HehuError, match="row 2.*already in the registry.*--update"):
        import_observations(registry, changed, lang="en")
    assert state(registry) == before
    report = import_observations(registry, changed, update=True)
    assert (report.added, report.updated) == (1, 1)
    obs = read_observations(registry, year=2022, sections=["DM-05"])
    assert sorted(obs[obs["parameter"] == "TP"]["value"]) == [0.2, 0.3]
    assert registry.history("observations")[-1]["op"] in ("add", "update")
    assert "update" in {h["op"] for h in registry.history("observations")[-2:]}


def test_dry_run_checks_everything_and_writes_nothing(registry, tmp_path):
    path = write(tmp_path, LONG + "DM-01,2022-05-01 08:00,TP,0.1,mg/L\n")
    before = state(registry)
    report = import_observations(registry, path, dry_run=True)
    assert report.added == 1 and report.dry_run
    assert state(registry) == before


@pytest.mark.parametrize(("name", "text", "what"), [
    ("a.csv", "", "cannot read"),
    ("a.csv", "section,sampled_at,parameter,value\n", "no data rows"),
    ("a.csv", "site,time,parameter,value\nDM-01,2021-01-01,TP,0.1\n", "missing column 'section'"),
    ("a.json", "{}", "unsupported format"),
])
def test_unreadable_empty_or_misshapen_files_are_refused(registry, tmp_path, name, text, what):
    path = write(tmp_path, text, name)
    before = state(registry)
    with pytest.raises(HehuError, match=what):
        import_observations(registry, path, lang="en")
    assert state(registry) == before


def test_cli_import_and_its_one_line_error(demo_copy, tmp_path, capsys):
    good = write(tmp_path, LONG + "DM-01,2022-06-01 09:00,TP,0.1,mg/L\n")
    assert main(["quality", "import", str(good), "--registry", str(demo_copy), "--dry-run"]) == 0
    assert "试运行" in capsys.readouterr().out
    assert main(["quality", "import", str(good), "--registry", str(demo_copy)]) == 0
    assert "新增 1 条" in capsys.readouterr().out
    assert main(["quality", "import", str(good), "--registry", str(demo_copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "第2行" in err and "--update" in err


def test_months_are_counted_in_beijing_time(registry, tmp_path):
    from geo.quality.report import quality_report

    # 00:30 on 1 January 2022 in Beijing is still 2021 in UTC: it is a January 2022 sample.
    path = write(tmp_path, LONG + "DM-05,2022-01-01 00:30,TP,0.35,mg/L\n")
    import_observations(registry, path)
    assert read_observations(registry, year=2022)["sampled_at"].tolist() == ["2021-12-31T16:30:00.000Z"]
    row = quality_report(registry, 2022, "DM-05")[0]
    assert row["months"]["2022-01"] == 5 and row["annual_class"] == 5 and row["main_pollutants"] == ["TP"]
    assert quality_report(registry, 2021, "DM-05")[0]["means"]["TP"] != 0.35


def test_a_gbk_csv_with_chinese_headers_as_excel_saves_it(registry, tmp_path):
    text = "断面编号,采样时间,指标,数值,单位,来源\nDM-06,2022-07-01 10:00,总磷,0.21,mg/L,自动站\n"
    path = tmp_path / "月报.csv"
    path.write_bytes(text.encode("gbk"))
    report = import_observations(registry, path)
    assert report.added == 1
    obs = read_observations(registry, year=2022, sections=["DM-06"])
    assert obs.iloc[0]["source"] == "自动站" and obs.iloc[0]["parameter"] == "TP"


def test_an_import_derives_the_sections_latest_class_from_its_latest_month(registry, tmp_path):
    s = registry.read("sections").set_index("code")
    assert s.loc["DM-09", "latest_class"] == 4 and s.loc["DM-09", "measured_on"].startswith("2021-12-")
    path = write(tmp_path, LONG + "DM-09,2022-01-05 10:00,NH3-N,2.4,mg/L\nDM-09,2022-01-05 10:00,DO,6.5,mg/L\n")
    report = import_observations(registry, path)
    assert report.latest == {"DM-09": {"from": 4, "to": 6, "month": "2022-01", "measured_on": "2022-01-05"}}
    s = registry.read("sections").set_index("code")
    assert (s.loc["DM-09", "latest_class"], s.loc["DM-09", "measured_on"]) == (6, "2022-01-05")
    assert registry.history("sections")[-1]["op"] == "update"
    # A dry run derives nothing.
    dry = write(tmp_path, LONG + "DM-08,2022-01-05 10:00,NH3-N,2.4,mg/L\n", "dry.csv")
    assert import_observations(registry, dry, dry_run=True).latest == {}
    assert registry.read("sections", where={"code": "DM-08"})["latest_class"].iloc[0] == 3


def test_an_xlsx_zip_bomb_is_refused_before_it_is_opened(registry, tmp_path):
    import zipfile

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (8 * 1024 * 1024))
    before = state(registry)
    with pytest.raises(HehuError, match="zip bomb"):
        import_observations(registry, path)
    with pytest.raises(HehuError, match="zip bomb"):
        import_observations(registry, path.read_bytes(), filename="bomb.xlsx")
    assert state(registry) == before
