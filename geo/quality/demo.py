"""Synthetic 2021 water-quality observations for the demo registry (labelled so).

Monthly manual samples at every section for the eight parameters, and an automatic
station series for two of them: simulated every 4 hours (the cadence of China's national
automatic stations) and stored as daily means (日均值), because every stored row is a
validated write with its history row (about 0.5 ms each): the 4-hourly series itself
would add some 13 s to building the demo, the daily means well under 2 s. Each section's annual class by GB 3838-2002 equals the demo's
``latest_class``: one "limiting" parameter sits well inside that class for the year,
the others at that class or better. Dissolved oxygen follows the seasons (high in
winter, low in summer, higher in the afternoon); total phosphorus in 长荡湖 peaks in
summer. Nothing here is a real measurement.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from geo.quality.store import SOURCES, observation_code

YEAR = 2021
NOTE = "演示数据（虚构） synthetic demo data"
#: Sections that also have an automatic station (codes of the demo's sections).
AUTOMATIC_SECTIONS = ("DM-00", "DM-01")
AUTOMATIC_EVERY_HOURS = 4
#: Store the automatic series as daily means (True) or at its own cadence.
AUTOMATIC_DAILY_MEANS = True
#: What a Chinese automatic station measures among the assessed parameters (COD and
#: BOD5 are laboratory methods).
AUTOMATIC_PARAMETERS = ("pH", "DO", "CODMn", "NH3-N", "TP", "TN")
PARAMETERS = ("pH", "DO", "CODMn", "COD", "BOD5", "NH3-N", "TP", "TN")

# A typical annual mean well inside each class (1–5), per parameter: ~60 % of the way
# through the class's interval, so monthly noise and rounding never move the year.
LEVELS: dict[str, tuple[float, ...]] = {
    "DO": (8.6, 6.9, 5.6, 4.2, 2.6),
    "CODMn": (1.6, 3.2, 5.1, 8.2, 12.5),
    "COD": (12.0, 13.0, 18.0, 26.0, 36.0),
    "BOD5": (2.2, 2.6, 3.6, 5.1, 8.2),
    "NH3-N": (0.10, 0.34, 0.78, 1.28, 1.78),
    "TP": (0.014, 0.068, 0.16, 0.26, 0.36),
    "TP_lake": (0.007, 0.018, 0.04, 0.078, 0.16),
}
LIMITING = ("NH3-N", "TP", "CODMn")


def _series_mean_exact(values: np.ndarray, mean: float) -> np.ndarray:
    return values * (mean / values.mean())


def _monthly(rng: np.random.Generator, code: str, lake: bool, cls: int, i: int) -> dict[str, np.ndarray]:
    """Twelve monthly values per parameter for a section of annual class ``cls``."""
    months = np.arange(12)
    limiting = "TP" if lake else LIMITING[i % len(LIMITING)]
    out: dict[str, np.ndarray] = {}
    for p in ("CODMn", "COD", "BOD5", "NH3-N", "TP"):
        key = "TP_lake" if p == "TP" and lake else p
        level = cls if p == limiting else int(rng.integers(max(1, cls - 1), cls + 1))
        if cls <= 2 and p in ("COD", "BOD5"):
            level = 1  # Ⅰ and Ⅱ share their limits for COD and BOD5
        mean = LEVELS[key][level - 1]
        # Summer peak (July–August) of phosphorus, strong in the lake; mild elsewhere.
        amp = 0.45 if (p == "TP" and lake) else 0.12
        season = 1 + amp * np.cos(2 * np.pi * (months - 6.5) / 12)
        noise = rng.lognormal(0.0, 0.08, 12)
        out[p] = _series_mean_exact(season * noise, mean)
    # DO: best in January, worst in July, around 7 mg/L (Ⅱ) in the rivers for the year.
    do_mean = 8.0 if lake else 7.0
    do = do_mean + 1.4 * np.cos(2 * np.pi * months / 12) + rng.normal(0, 0.2, 12)
    out["DO"] = do - do.mean() + do_mean
    out["pH"] = np.clip(7.6 + 0.25 * np.cos(2 * np.pi * (months - 6) / 12) + rng.normal(0, 0.1, 12), 6.6, 8.6)
    out["TN"] = _series_mean_exact(rng.lognormal(0.0, 0.1, 12), 1.75 if lake else 2.4)
    return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def demo_observations(
    sections: list[tuple[dict[str, Any], BaseGeometry]], seed: int = 2021
) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """(properties, point) of every demo observation, for ``Registry.add_many``."""
    rng = np.random.default_rng(seed + 3838)
    beijing = timezone(timedelta(hours=8))
    rows: list[tuple[dict[str, Any], BaseGeometry]] = []
    decimals = {"pH": 2, "DO": 2, "CODMn": 2, "COD": 1, "BOD5": 2, "NH3-N": 3, "TP": 3, "TN": 3}
    for i, (props, point) in enumerate(sorted(sections, key=lambda s: s[0]["code"])):
        code = props["code"]
        lake = props.get("river") == "长荡湖"
        monthly = _monthly(rng, code, lake, int(props["latest_class"]), i)
        days = rng.integers(8, 21, 12)
        hours = rng.integers(9, 12, 12)
        for m in range(12):
            at = _iso(datetime(YEAR, m + 1, int(days[m]), int(hours[m]), 30, tzinfo=beijing))
            for p in PARAMETERS:
                rows.append((_props(code, at, p, round(float(monthly[p][m]), decimals[p]), SOURCES["manual"]), point))
        if code in AUTOMATIC_SECTIONS:
            rows += _automatic(rng, code, point, monthly, beijing, decimals)
    return rows


def _automatic(rng, code, point, monthly, beijing, decimals) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """Every 4 hours for the year; each month's mean equals that month's manual value."""
    start = datetime(YEAR, 1, 1, tzinfo=beijing)
    n = 365 * 24 // AUTOMATIC_EVERY_HOURS
    steps = np.arange(n) * AUTOMATIC_EVERY_HOURS
    local = np.datetime64(f"{YEAR}-01-01T00:00") + steps.astype("timedelta64[h]")
    month = local.astype("datetime64[M]").astype(int) % 12
    hour = (steps % 24).astype(float)
    if AUTOMATIC_DAILY_MEANS:  # a day's mean is stamped at its noon, Beijing time
        stamps = [_iso(start + timedelta(days=d, hours=12)) for d in range(365)]
    else:
        stamps = [_iso(start + timedelta(hours=int(h))) for h in steps]
    rows = []
    source = SOURCES["automatic"]
    for p in AUTOMATIC_PARAMETERS:
        base = monthly[p][month]
        if p == "DO":
            values = base + 0.7 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.15, n)
        elif p == "pH":
            values = base + 0.1 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.04, n)
        else:
            values = base * rng.lognormal(0.0, 0.12, n)
            # Rescale each month so its mean is the month's value.
            sums = np.bincount(month, weights=values, minlength=12)
            counts = np.bincount(month, minlength=12)
            values = values * (monthly[p] / (sums / counts))[month]
        note = NOTE
        if AUTOMATIC_DAILY_MEANS:
            per_day = 24 // AUTOMATIC_EVERY_HOURS
            values = values.reshape(-1, per_day).mean(axis=1)
            note = f"自动站日均值 daily mean; {NOTE}"
        values = np.round(values, decimals[p])
        rows += [(_props(code, at, p, float(v), source, note), point) for at, v in zip(stamps, values, strict=True)]
    return rows


def _props(section: str, at: str, parameter: str, value: float, source: str, note: str = NOTE) -> dict[str, Any]:
    return {
        "code": observation_code(section, at, parameter),
        "section": section,
        "sampled_at": at,
        "parameter": parameter,
        "value": value,
        "unit": "无量纲" if parameter == "pH" else "mg/L",
        "source": source,
        "note": note,
    }
