"""Coverage and duty over a registry, for a period: what the CLI and HTTP views call.

Parameters arrive as text (``from``, ``to``, ``river``, ``buffer``) and are checked
here, so ``hehu patrols`` and ``/patrols/*`` refuse the same things with the same words.
"""

from __future__ import annotations

import difflib
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo.errors import QueryError
from geo.i18n import message
from geo.patrols.coverage import DEFAULT_BUFFER_M, ReachCoverage, reach_coverage
from geo.patrols.duty import duty_table, local_dates, patrol_rate
from geo.patrols.importing import known_chiefs
from geo.patrols.settings import PatrolSettings, patrol_settings

if TYPE_CHECKING:
    from geo.registry import Registry

MAX_BUFFER_M = 1000.0


def parse_date(value: Any, param: str, lang: str = "zh") -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise QueryError(message("patrols.bad_date", lang, param=param, value=value), parameter=param) from None


def parse_period(start: Any, end: Any, lang: str = "zh") -> tuple[date, date]:
    """(from, to) as dates, inclusive; a QueryError naming the parameter otherwise."""
    s, e = parse_date(start, "from", lang), parse_date(end, "to", lang)
    if s > e:
        raise QueryError(message("patrols.bad_range", lang, start=s, end=e), parameter="from")
    return s, e


def parse_buffer(value: Any, lang: str = "zh") -> float:
    if value in (None, ""):
        return DEFAULT_BUFFER_M
    try:
        b = float(value)
    except (TypeError, ValueError):
        b = float("nan")
    if not 0 <= b <= MAX_BUFFER_M:  # NaN fails too
        raise QueryError(message("patrols.bad_buffer", lang, value=value), parameter="buffer")
    return b


def valid_patrols(registry: Registry, start: date, end: date) -> pd.DataFrame:
    """Valid patrols that started in ``[start, end]`` (China Standard Time dates)."""
    gdf = registry.read("patrols", where={"valid": True})
    if gdf.empty:
        return gdf
    d = local_dates(gdf["started_at"])
    keep = (d.notna() & (d >= start) & (d <= end)).to_numpy(dtype=bool)
    return gdf[keep]


def _reaches(registry: Registry, river: str | None, lang: str):
    rivers = registry.read("rivers")
    if not river:
        return rivers
    key = str(river).strip()
    aliases = rivers["aliases"].fillna("").str.split(";").apply(lambda xs: key in [x.strip() for x in xs])
    mask = (rivers["code"] == key) | (rivers["name"] == key) | aliases
    if not mask.any():
        names = sorted(set(rivers["name"].dropna()) | set(rivers["code"].dropna()))
        close = difflib.get_close_matches(key, names, n=5, cutoff=0.3)
        raise QueryError(
            message("patrols.unknown_river", lang, value=key, suggestions="、".join(close) or "—"),
            parameter="river",
        )
    return rivers[mask]


def coverage_report(
    registry: Registry, start: Any, end: Any, *, river: str | None = None, buffer_m: Any = None, lang: str = "zh"
) -> list[ReachCoverage]:
    """Coverage of every river reach (or of one river's) by the period's valid tracks."""
    s, e = parse_period(start, end, lang)
    b = parse_buffer(buffer_m, lang)
    reaches = _reaches(registry, river, lang)
    tracks = valid_patrols(registry, s, e)
    return reach_coverage(reaches, reaches.geometry.values, np.asarray(tracks.geometry.values, dtype=object), b)


def duty_report(
    registry: Registry, start: Any, end: Any, *, lang: str = "zh", settings: PatrolSettings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per chief: chief, level, required, done, met; 巡河率 per level)."""
    s, e = parse_period(start, end, lang)
    settings = settings or patrol_settings()
    chiefs = known_chiefs(registry)
    patrols = registry.read("patrols")
    table = duty_table(chiefs, pd.DataFrame(patrols.drop(columns="geometry")), s, e, settings)
    return table, patrol_rate(table)
