"""``hehu query``: tables in Chinese, GeoJSON and CSV for piping, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cli.common import display_width
from cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["query", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_near_prints_an_aligned_chinese_table(capsys, demo_copy):
    code, out, err = run(capsys, "near", "--target", "丹金溧漕河", "--distance", "50",
                         "--layers", "violations", "--registry", str(demo_copy))
    assert code == 0 and err == ""
    lines = out.rstrip("\n").split("\n")
    assert lines[0].startswith("丹金溧漕河 50 米范围内（清四乱问题）：")
    assert lines[1].split()[:3] == ["距离(米)", "图层", "编号"]
    # Columns line up in terminal cells even with Chinese text.
    col = display_width(lines[1].split("图层")[0])
    assert all(display_width(line[: len(line.split("清四乱问题")[0])]) == col for line in lines[3:])
    distances = [float(line.split()[0]) for line in lines[3:]]
    assert distances == sorted(distances) and all(d <= 50 for d in distances)
    n = int(lines[0].rsplit("：", 1)[1].split()[0])
    assert n == len(lines) - 3


def test_geojson_output_pipes(capsys, demo_copy):
    code, out, _ = run(capsys, "near", "--target", "丹金溧漕河", "--distance", "0.1", "--units", "kilometers",
                       "--format", "geojson", "--registry", str(demo_copy))
    body = json.loads(out)
    assert code == 0 and body["type"] == "FeatureCollection"
    assert body["query"]["distance_m"] == 100
    assert all(f["properties"]["distance_m"] <= 100 for f in body["features"])


def test_within_csv(capsys, demo_copy):
    code, out, _ = run(capsys, "within", "--area", "儒林镇", "--layers", "violations", "--format", "csv",
                       "--registry", str(demo_copy))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows
    assert {r["layer"] for r in rows} == {"violations"}
    assert all(r["wkt"].startswith("POINT") for r in rows)


def test_within_and_intersects_tables_have_no_distance_column(capsys, demo_copy):
    code, out, _ = run(capsys, "within", "--area", "儒林镇", "--layers", "violations,rivers", "--registry", str(demo_copy))
    lines = out.rstrip("\n").split("\n")
    assert code == 0 and lines[0].startswith("儒林镇 范围内（清四乱问题、河道）")
    assert lines[1].split()[:2] == ["图层", "编号"] and "距离(米)" not in out
    col = display_width(lines[1].split("编号")[0])  # codes line up after 河道 and 清四乱问题 alike
    assert {display_width(line[: line.index(line.split()[1])]) for line in lines[3:]} == {col}
    assert {line.split()[0] for line in lines[3:]} == {"清四乱问题", "河道"}
    code, out, _ = run(capsys, "intersects", "--geometry", "LINESTRING (119.5 31.6, 119.6 31.8)", "--layers", "rivers",
                       "--registry", str(demo_copy))
    assert code == 0 and out.startswith("与线相交（河道）：") and "距离" not in out


def test_nearest_table_lists_k_features(capsys, demo_copy):
    code, out, _ = run(capsys, "nearest", "--point", "119.56,31.72", "--layer", "sewage_plants", "-k", "3",
                       "--registry", str(demo_copy))
    lines = out.rstrip("\n").split("\n")
    assert code == 0 and len(lines) == 3 + 3
    assert "名称" in lines[1]


def test_english_headings(capsys, demo_copy):
    code, out, _ = run(capsys, "near", "--target", "丹金河", "--distance", "50", "--lang", "en",
                       "--registry", str(demo_copy))
    assert code == 0 and "within 50 m of 丹金溧漕河" in out and "Distance (m)" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["near", "--target", "丹金溧漕", "--distance", "50"], "did you mean 丹金溧漕河"),
        (["near", "--target", "丹金溧漕河", "--distance", "-3"], "greater than 0"),
        (["near", "--target", "丹金溧漕河", "--distance", "abc"], "must be a number"),
        (["near", "--target", "丹金溧漕河", "--distance", "99999"], "50,000"),
        (["near", "--target", "丹金溧漕河", "--distance", "50", "--layers", "bogus"], "known layers"),
        (["near", "--target", "LINESTRING (119.5 31.7", "--distance", "50"], "malformed WKT"),
        (["nearest", "--point", "118.8,32.06", "--layer", "sewage_plants"], "outside the district"),
        (["nearest", "--point", "119.56,31.72", "--layer", "sewage_plants", "-k", "x"], "k must be"),
        (["near", "--target", "丹金溧漕河", "--distance", "50", "--where", "status = "], "--where: expected"),
        (["near", "--target", "丹金溧漕河", "--distance", "50", "--where", "category = '乱堆'"], "ask --layers violations"),
        (["nearest", "--point", "119.56,31.72", "--layer", "sewage_plants", "--max-distance", "0"], "--max-distance must"),
        (["near", "--target", "丹金溧漕河", "--distance", "nan"], "finite"),
        (["near", "--target", "丹金溧漕河", "--distance", "inf"], "finite"),
        (["near", "--target", "丹金溧漕河", "--distance", "1e999"], "finite"),
        (["near", "--target", "丹金溧漕河", "--distance", "60", "--units", "kilometres"], "50,000"),
        (["near", "--target", "丹金溧漕河", "--distance", "50", "--units", "meteres"], "did you mean met"),
        (["near", "--target", "hd-0001", "--distance", "50"], "did you mean HD-0001"),
        # GEOS ends this message with a newline: still one line
        (["near", "--target", "LINESTRING (119.57 31.74)", "--distance", "50"], "malformed WKT"),
        (["near", "--target", '{"type": "Point", "coordinates": [119.5]}', "--distance", "50"], "[lon, lat]"),
        (["near", "--target", '{"type": "Point"}', "--distance", "50"], "missing 'coordinates'"),
        (["near", "--target", "POINT (nan 31.7)", "--distance", "50"], "finite"),
        (["near", "--target", "丹金溧漕河", "--distance", "50", "--where", "DWITHIN(geometry, POINT(nan 31), 5, meters)"],
         "position 19"),
        (["within", "--area", "火星镇"], "not a code, name or alias in towns"),
        (["nearest", "--point", "31.72,119.56", "--layer", "sewage_plants"], "longitude/latitude"),
        (["nearest", "--point", "119.56,31.72", "--layer", "sewage_plant"], "known layers"),
    ],
)
def test_errors_exit_2_with_one_line(capsys, demo_copy, argv, words):
    code, out, err = run(capsys, *argv, "--registry", str(demo_copy), "--lang", "en")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("hehu query: error:")
    assert words in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["near", "--target", "丹金溧漕河"], "required: --distance"),
        (["nearest", "--point", "119.56,31.72", "--layer", "sewage_plants", "--format", "xml"], "invalid choice"),
        (["near", "--target", "丹金溧漕河", "--distance"], "expected one argument"),
    ],
)
def test_usage_errors_are_one_line_too(capsys, demo_copy, argv, words):
    with pytest.raises(SystemExit) as exit_:
        main(["--lang", "en", "query", *argv, "--registry", str(demo_copy)])
    _, err = capsys.readouterr()
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert words in err and err.startswith(f"hehu query {argv[0]}: error:") and "--help" in err


def test_a_missing_registry_is_one_line_too(capsys, tmp_path):
    code, _, err = run(capsys, "near", "--target", "x", "--distance", "5", "--registry", str(tmp_path / "no.gpkg"))
    assert code == 2 and err.count("\n") == 1
