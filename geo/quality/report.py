"""The monthly water-quality report (水质月报): per section, the annual class, the class
of each month, the parameter means and the main pollutants.

For example (on the demo registry)::

    from geo.registry import Registry
    reg = Registry.open("data/jintan.gpkg")
    rows = quality_report(reg, 2021)
    rows[0]["annual_class"], rows[0]["months"]["2021-07"]
    # → (4, 5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geo.errors import NotFoundError
from geo.i18n import message
from geo.quality.classify import classes_of_means, period_means, pollutants_of_means
from geo.quality.limits import standard
from geo.quality.store import read_observations
from geo.registry import Registry

LAKES = ("长荡湖",)


def is_lake_section(props: dict[str, Any] | pd.Series) -> bool:
    """A section in a lake or reservoir (Table 1's lake column for TP): in the demo and in
    Jintan, the sections whose water is 长荡湖 (the sections layer's ``river``)."""
    return str(props.get("river") or "") in LAKES


def months_of(year: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def build_report(
    obs: pd.DataFrame, sections: pd.DataFrame, year: int
) -> list[dict[str, Any]]:
    """The report rows from observations (``section, local, parameter, value``) and the
    sections (``code, name, river, counted, target_class``), vectorised per period.

    Each row: ``{code, name, lake, counted, annual_class, months, means,
    main_pollutants}`` plus, for tables and pages, ``target_class``, ``tn_class``,
    ``month_main`` (main pollutants per month) and ``samples``.
    """
    std = standard()
    sections = sections.sort_values("code")
    lake_of = {str(c): is_lake_section(r) for c, r in zip(sections["code"], sections.to_dict("records"), strict=True)}
    # Months as datetime64[M] (fast on millions of rows), named "YYYY-MM" once grouped.
    obs = obs.assign(month=obs["local"].dt.tz_convert(None).to_numpy().astype("datetime64[M]")) if len(obs) else obs
    monthly = period_means(obs, ["section", "month"], std) if len(obs) else pd.DataFrame()
    if len(monthly):
        monthly.index = pd.MultiIndex.from_arrays(
            [monthly.index.get_level_values(0), pd.DatetimeIndex(monthly.index.get_level_values(1)).strftime("%Y-%m")],
            names=["section", "month"],
        )
    annual = period_means(obs, ["section"], std) if len(obs) else pd.DataFrame()
    if len(monthly):
        m_lake = np.array([lake_of.get(str(s), False) for s in monthly.index.get_level_values(0)])
        m_cls = classes_of_means(monthly, m_lake, std)
        a_lake = np.array([lake_of.get(str(s), False) for s in annual.index])
        a_cls = classes_of_means(annual, a_lake, std)
        m_poll = dict(zip(monthly.index, pollutants_of_means(monthly, m_cls, m_lake, std), strict=True))
        a_poll = dict(zip(annual.index, pollutants_of_means(annual, a_cls, a_lake, std), strict=True))
    counts = obs.groupby("section").size() if len(obs) else pd.Series(dtype=int)
    rows = []
    for rec in sections.to_dict("records"):
        code = str(rec["code"])
        lake = lake_of[code]
        months: dict[str, int | None] = dict.fromkeys(months_of(year))
        month_main: dict[str, list[str]] = {}
        means: dict[str, float] = {}
        annual_class = tn_class = None
        pollutants: list[str] = []
        exceed: dict[str, float] = {}
        if len(annual) and code in annual.index:
            sub = m_cls.xs(code, level=0)
            for month, cls in sub["class"].items():
                months[str(month)] = int(cls) or None
                found = m_poll[(code, month)]
                if found:
                    month_main[str(month)] = [c for c, _ in found]
            means = {str(k): float(v) for k, v in annual.loc[code].dropna().items()}
            annual_class = int(a_cls.loc[code, "class"]) or None
            tn_class = int(a_cls.loc[code, "tn_class"]) or None
            found = a_poll[code]
            pollutants = [c for c, _ in found]
            exceed = dict(found)
        rows.append(
            {
                "code": code,
                "name": str(rec["name"]),
                "lake": lake,
                "counted": bool(rec["counted"]) if pd.notna(rec["counted"]) else False,
                "annual_class": annual_class,
                "months": months,
                "means": means,
                "main_pollutants": pollutants,
                # Beyond the JSON: for tables and the printed page.
                "target_class": None if pd.isna(rec.get("target_class")) else int(rec["target_class"]),
                "tn_class": tn_class if lake else None,
                "exceedance": exceed,
                "month_main": month_main,
                "samples": int(counts.get(code, 0)),
            }
        )
    return rows


#: The keys of the report JSON (``hehu quality report --format json``, ``/quality.json``).
JSON_KEYS = ("code", "name", "lake", "counted", "annual_class", "months", "means", "main_pollutants")


def report_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Exactly the issue's shape: ``{code, name, lake, counted, annual_class, months,
    means, main_pollutants}``; classes are integers 1–6 (6 = 劣Ⅴ), null without data."""
    return [{k: r[k] for k in JSON_KEYS} for r in rows]


def quality_report(
    registry: Registry, year: int, section: str | None = None, lang: str = "zh"
) -> list[dict[str, Any]]:
    """The report of ``year`` (Beijing-time calendar year) for every section, or one."""
    sections = pd.DataFrame(registry.read("sections").drop(columns="geometry"))
    if section is not None:
        hit = sections[(sections["code"] == section) | (sections["name"] == section)]
        if hit.empty:
            codes = ", ".join(sections["code"].astype(str))
            raise NotFoundError(message("quality.no_section", lang, value=section, codes=codes), parameter="section")
        sections = hit
    obs = read_observations(registry, year=year, sections=[str(c) for c in sections["code"]])
    return build_report(obs, sections, int(year))


def class3_rate(rows: list[dict[str, Any]], not_counted: list[str] = ()) -> tuple[int, int]:
    """(sections at Ⅲ or better, sections counted) over the counted sections with a class."""
    counted = [r for r in rows if r["counted"] and r["name"] not in not_counted and r["annual_class"]]
    return sum(1 for r in counted if r["annual_class"] <= 3), len(counted)
