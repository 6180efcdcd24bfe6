"""``hehu quality import`` and ``/quality/import``: a lab sheet into the registry.

Parse and check every row (:mod:`geo.quality.parse`), refuse samples already in the
registry unless ``update`` (then they are replaced), and write everything in one
transaction through the registry (validated again, with history), or nothing.
``dry_run`` does every check and writes nothing. After the observations' transaction,
each imported section's ``latest_class`` and ``measured_on`` are derived again from its
latest month of observations (a second write, with its own history rows).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from geo.i18n import message
from geo.quality.parse import parse_sheet, raise_problems, read_table
from geo.quality.store import LAYER, observation_code
from geo.registry import Registry


@dataclass
class QualityImportReport:
    file: str
    shape: str
    rows: int
    added: int
    updated: int
    sections: list[str]
    first: str | None
    last: str | None
    below_detection: int
    converted: int
    dry_run: bool
    #: Sections whose latest_class / measured_on the import changed: code → {from, to, month}.
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self, lang: str = "zh") -> str:
        return message(
            "quality.import_done", lang, file=self.file, rows=self.rows, sections=len(self.sections),
            first=self.first or "-", last=self.last or "-", added=self.added, updated=self.updated,
            dry=message("quality.dry_run", lang) if self.dry_run else "",
        )


def section_lookup(registry: Registry) -> tuple[dict[str, str], dict[str, Any]]:
    """(spelling → code for every section code and name, code → point)."""
    s = registry.read("sections")
    names = {str(c): str(c) for c in s["code"]}
    names.update({str(n): str(c) for n, c in zip(s["name"], s["code"], strict=True)})
    points = {str(c): g for c, g in zip(s["code"], s.geometry.values, strict=True)}
    return names, points


def import_observations(
    registry: Registry,
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    dry_run: bool = False,
    update: bool = False,
    user: str = "system",
    lang: str = "zh",
    now: datetime | None = None,
) -> QualityImportReport:
    """Import one CSV/XLSX lab sheet (long or wide), all or nothing."""
    name = Path(filename or (str(source) if not isinstance(source, bytes) else "upload")).name
    frame = read_table(source, filename or (None if isinstance(source, bytes) else str(source)), lang)
    names, points = section_lookup(registry)
    parsed = parse_sheet(frame, names, filename=name, now=now, lang=lang)
    rows = parsed.rows
    codes = [observation_code(s, a, p) for s, a, p in zip(rows["section"], rows["sampled_at"], rows["parameter"], strict=True)]
    existing = registry.read(LAYER, where={"section": sorted(set(rows["section"]))})
    fid_of = dict(zip(existing["code"].astype(str), existing.index.astype(int), strict=True))
    adds, updates, problems = [], [], []
    for code, rec in zip(codes, rows.to_dict("records"), strict=True):
        props = {k: rec[k] for k in ("section", "sampled_at", "parameter", "value", "unit", "source", "note")}
        props["code"] = code
        fid = fid_of.get(code)
        if fid is None:
            adds.append((props, points[rec["section"]]))
        elif update:
            updates.append((fid, props, None))
        else:
            problems.append({
                "row": int(rec["row"]), "column": "sampled_at",
                "message": message("quality.row", lang, row=int(rec["row"]), column="sampled_at",
                                   text=message("quality.duplicate_in_registry", lang, code=code)),
                "value": code,
            })
    if problems:
        raise_problems(problems, name, lang)
    times = sorted(rows["sampled_at"])
    report = QualityImportReport(
        file=name, shape=parsed.shape, rows=len(rows), added=len(adds), updated=len(updates),
        sections=sorted(set(rows["section"])), first=times[0] if times else None, last=times[-1] if times else None,
        below_detection=parsed.below_detection, converted=parsed.converted, dry_run=dry_run,
    )
    if not dry_run and (adds or updates):
        registry.add_and_update(LAYER, adds, updates, user=user)
        report.latest = refresh_latest_classes(registry, report.sections, user=user)
    return report


def latest_month_classes(registry: Registry, codes: list[str]) -> dict[str, tuple[int | None, str, str]]:
    """Per section with observations: (class, "YYYY-MM", last sampling day) of its latest
    month with observations, the class from that month's means (Beijing time)."""
    from geo.quality.report import build_report
    from geo.quality.store import read_observations

    obs = read_observations(registry, sections=list(codes))
    if obs.empty:
        return {}
    obs = obs.assign(month=obs["local"].dt.strftime("%Y-%m"))
    last = obs.groupby("section")["local"].max()
    last_month = last.dt.strftime("%Y-%m")
    latest = obs[obs["month"].to_numpy() == obs["section"].map(last_month).to_numpy()]
    sections = registry.read("sections", where={"code": list(last.index)})
    sections = pd.DataFrame(sections.drop(columns=sections.geometry.name))
    out: dict[str, tuple[int | None, str, str]] = {}
    for year, part in latest.groupby(latest["local"].dt.year):
        for r in build_report(part, sections[sections["code"].isin(part["section"].unique())], int(year)):
            month = last_month[r["code"]]
            out[r["code"]] = (r["months"][month], month, last[r["code"]].strftime("%Y-%m-%d"))
    return out


def refresh_latest_classes(registry: Registry, codes: list[str], *, user: str = "system") -> dict[str, dict[str, Any]]:
    """Set each section's ``latest_class`` and ``measured_on`` from its latest month of
    observations (a write with history, after the observations' own transaction)."""
    changed: dict[str, dict[str, Any]] = {}
    latest = latest_month_classes(registry, codes)
    sections = registry.read("sections", where={"code": list(codes)})
    for fid, code, old, old_day in zip(sections.index, sections["code"], sections["latest_class"], sections["measured_on"], strict=True):
        if str(code) not in latest or latest[str(code)][0] is None:
            continue
        cls, month, day = latest[str(code)]
        before = None if pd.isna(old) else int(old)
        if before != cls or old_day != day:
            registry.update("sections", int(fid), {"latest_class": cls, "measured_on": day}, user=user)
            changed[str(code)] = {"from": before, "to": cls, "month": month, "measured_on": day}
    return changed
