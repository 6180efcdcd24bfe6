"""Plan loading: ``geo/plans/<year>.yaml`` read and checked, naming file, target and key."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from geo.plan_files import available_plans
from geo.targets.measures import METRICS
from geo.targets.model import (
    COMPARISONS,
    FRACTION,
    PLANS_DIR,
    Plan,
    PlanError,
    TargetSpec,
    UnknownPlanError,
)

if TYPE_CHECKING:
    pass


def load_plan(plan: int | str | Path | None = None) -> Plan:
    """The plan for a year (``2021``), from a YAML file path, or the latest shipped plan.

    Raises UnknownPlanError for a year with no plan file and PlanError for a file that
    does not describe a plan (naming the file, target and key at fault).
    """
    if plan is None:
        years = available_plans()
        if not years:  # pragma: no cover - the package always ships one
            raise UnknownPlanError(f"no plan files in {PLANS_DIR}")
        path = PLANS_DIR / f"{years[-1]}.yaml"
    elif isinstance(plan, int) or (isinstance(plan, str) and plan.strip().isdigit()):
        # str.isdigit accepts "²" and "١"; a plan year is four ASCII digits.
        if not re.fullmatch(r"[0-9]{1,4}", str(plan).strip()):
            raise UnknownPlanError(
                f"plan {str(plan)[:40]!r} is not a plan year; plans: {', '.join(map(str, available_plans()))}",
                plan=str(plan)[:40],
            )
        path = PLANS_DIR / f"{int(plan)}.yaml"
        if not path.exists():
            raise UnknownPlanError(
                f"no plan for {int(plan)}; plans: {', '.join(map(str, available_plans()))}",
                plan=str(plan),
            )
    else:
        path = Path(plan)
        if not path.exists():
            raise UnknownPlanError(f"plan file {path} does not exist", plan=str(plan))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PlanError(f"plan file {path}: not readable YAML ({exc.__class__.__name__})") from None
    return _parse_plan(data, path)


def _parse_plan(data: Any, path: Path) -> Plan:
    def bad(message: str) -> PlanError:
        return PlanError(f"plan file {path}: {message}")

    if not isinstance(data, dict):
        raise bad("expected a mapping with year, title and targets")
    for key in ("year", "title", "targets"):
        if key not in data:
            raise bad(f"missing key {key!r}")
    try:
        year = int(data["year"])
    except (TypeError, ValueError):
        raise bad(f"year {data['year']!r} is not a year") from None
    since = data.get("since", f"{year}-01-01")
    try:
        since = since if isinstance(since, date) else date.fromisoformat(str(since))
    except ValueError:
        raise bad(f"since {since!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(data["targets"], list) or not data["targets"]:
        raise bad("targets must be a non-empty list")
    specs = []
    seen: set[str] = set()
    for i, t in enumerate(data["targets"], start=1):
        if not isinstance(t, dict):
            raise bad(f"target #{i} is not a mapping")
        tid = t.get("id")
        where = f"target {tid or '#' + str(i)}"
        for key in ("id", "metric", "title", "target", "unit", "comparison", "source"):
            if t.get(key) in (None, ""):
                raise bad(f"{where}: missing key {key!r}")
        if tid in seen:
            raise bad(f"{where}: duplicate id")
        seen.add(tid)
        if t["metric"] not in METRICS:
            raise bad(f"{where}: unknown metric {t['metric']!r}; metrics: {', '.join(METRICS)}")
        if t["comparison"] not in COMPARISONS:
            raise bad(f"{where}: comparison {t['comparison']!r} is not one of {', '.join(COMPARISONS)}")
        target = t["target"]
        if target != "all":
            if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
                raise bad(f"{where}: target {target!r} is neither a number nor 'all'")
            if t["unit"] == FRACTION and not 0 <= target <= 1:
                raise bad(f"{where}: a fraction target must be between 0 and 1, not {target}")
        plan_count = t.get("plan_count")
        if plan_count is not None and (isinstance(plan_count, bool) or not isinstance(plan_count, int) or plan_count < 0):
            raise bad(f"{where}: plan_count {plan_count!r} is not a count of features")
        params = t.get("params") or {}
        if not isinstance(params, dict):
            raise bad(f"{where}: params must be a mapping")
        specs.append(
            TargetSpec(
                id=str(tid),
                metric=str(t["metric"]),
                title=str(t["title"]),
                title_en=str(t.get("title_en", t["title"])),
                target=target,
                unit=str(t["unit"]),
                comparison=str(t["comparison"]),
                source=str(t["source"]).strip(),
                params=params,
                plan_count=plan_count,
                short=str(t.get("short") or t["title"]),
            )
        )
    return Plan(
        year=year,
        title=str(data["title"]),
        title_en=str(data.get("title_en", data["title"])),
        issued_by=str(data.get("issued_by", "")),
        issued_on=str(data.get("issued_on", "")),
        since=since,
        targets=tuple(specs),
        path=path,
    )
