"""Observations are registry data: a DATETIME column GDAL reads as UTC instants, a
unique sample key, history, exports; the datetime field type's rules."""

from datetime import date, datetime, timezone

import pandas as pd
import pyogrio
import pytest

from geo.errors import ValidationError
from geo.export import export
from geo.quality.store import read_observations
from geo.validate import coerce_value
from layers import load_catalog

SAMPLED_AT = load_catalog()["observations"].field("sampled_at")


@pytest.mark.parametrize(("given", "stored"), [
    ("2021-03-15T01:30:00Z", "2021-03-15T01:30:00.000Z"),
    ("2021-03-15 09:30", "2021-03-15T01:30:00.000Z"),            # no zone: Beijing time
    ("2021/3/15 09:30:05", "2021-03-15T01:30:05.000Z"),
    ("2021-03-15T09:30:00+08:00", "2021-03-15T01:30:00.000Z"),
    ("2021-03-15T09:30:00.25+0800", "2021-03-15T01:30:00.250Z"),
    ("2021-03-15", "2021-03-15T00:00:00.000Z"),                  # a date alone: 00:00 UTC
    (date(2021, 3, 15), "2021-03-15T00:00:00.000Z"),
    (datetime(2021, 3, 15, 9, 30), "2021-03-15T01:30:00.000Z"),
    (datetime(2021, 3, 15, 9, 30, tzinfo=timezone.utc), "2021-03-15T09:30:00.000Z"),
    (pd.Timestamp("2021-01-01 00:30"), "2020-12-31T16:30:00.000Z"),
])
def test_datetime_values_are_stored_as_utc_iso_with_z_like_gdal(given, stored):
    assert coerce_value(SAMPLED_AT, given, "observations") == stored


@pytest.mark.parametrize("bad", ["2021-02-30 10:00", "15/03/2021", "2021-03-15 25:00", "yesterday", "2021-03-15T10:00+25:00"])
def test_impossible_date_times_are_refused_naming_the_field(bad):
    with pytest.raises(ValidationError, match="field sampled_at"):
        coerce_value(SAMPLED_AT, bad, "observations")


def test_gdal_reads_the_registry_column_as_utc_datetimes(demo_path):
    df = pyogrio.read_dataframe(demo_path, layer="observations", max_features=50)
    assert str(df["sampled_at"].dtype).startswith("datetime64") and str(df["sampled_at"].dt.tz) == "UTC"
    from geo.registry import Registry

    with Registry.open(demo_path) as reg:
        ours = pd.to_datetime(reg.read("observations", limit=50)["sampled_at"], utc=True)
    assert (df["sampled_at"].to_numpy() == ours.to_numpy()).all()


def test_observations_lie_at_their_sections(demo_path):
    from geo.registry import Registry

    with Registry.open(demo_path) as reg:
        obs = reg.read("observations")
        sections = reg.read("sections").set_index("code")
        assert set(obs["section"]) == set(sections.index)
        import shapely

        assert shapely.equals(obs.geometry.values, sections.geometry.loc[obs["section"]].values).all()
        per = read_observations(reg, year=2021).groupby(["section", "source"]).size()
        assert per.loc[("DM-05", "人工")] == 12 * 8
        assert per.loc[("DM-00", "自动站")] == 365 * 6


def test_a_geopackage_export_keeps_sampled_at_a_datetime(registry, tmp_path):
    out = tmp_path / "obs.gpkg"
    export(registry, "observations", "gpkg", out, where={"section": "DM-04"})
    df = pyogrio.read_dataframe(out, layer="observations")
    assert len(df) == 96 and str(df["sampled_at"].dt.tz) == "UTC"


def test_the_same_sample_cannot_be_stored_twice_even_bypassing_the_importer(registry):
    row = registry.read("observations", where={"section": "DM-04"}).iloc[0]
    props = {k: row[k] for k in ("code", "section", "sampled_at", "parameter", "value", "unit", "source")}
    with pytest.raises(ValidationError, match="code must be unique"):
        registry.add("observations", props, row.geometry)
