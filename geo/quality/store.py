"""Observations as registry data: the ``observations`` layer of the catalog.

Each row is one parameter of one sample at one section: ``section`` (the section's
code), ``sampled_at`` (an instant, stored in UTC), ``parameter`` (GB 3838 code),
``value`` (mg/L; pH dimensionless), ``unit``, ``source`` (人工 manual / 自动站
automatic station) and ``note``. Its point is the section's location, so QGIS and the
OGC API see the observations where they were taken. The ``code`` joins section,
instant and parameter, and the catalog makes it unique: the same sample cannot be
stored twice.
"""

from __future__ import annotations

import pandas as pd

from geo.quality.classify import LOCAL_OFFSET
from geo.registry import Registry

LAYER = "observations"
SOURCES = {"manual": "人工", "automatic": "自动站"}


def observation_code(section: str, sampled_at: str, parameter: str) -> str:
    """``DM-01/2021-03-15T01:30:00.000Z/TP``: the business key of one observation."""
    return f"{section}/{sampled_at}/{parameter}"


def read_observations(
    registry: Registry, *, year: int | None = None, sections: list[str] | None = None
) -> pd.DataFrame:
    """Observations as a plain DataFrame (no geometry), with ``local`` (Beijing time)
    added; ``year`` keeps the samples of that calendar year in Beijing time."""
    where = {"section": sections} if sections else None
    gdf = registry.read(LAYER, where=where)
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    df["value"] = df["value"].astype(float)
    df["local"] = pd.to_datetime(df["sampled_at"], utc=True, format="ISO8601") + LOCAL_OFFSET
    if year is not None:
        df = df[df["local"].dt.year == int(year)]
    return df


def years_with_observations(registry: Registry) -> list[int]:
    df = read_observations(registry)
    return sorted({int(y) for y in df["local"].dt.year.unique()}) if len(df) else []
