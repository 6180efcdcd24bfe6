"""The answer: every target of a plan computed, compared and shaped as a plain dict."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.errors import HehuError
from geo.targets.measures import METRICS
from geo.targets.model import COMPARISONS, FRACTION, Plan, PlanError
from geo.targets.plans import load_plan
from geo.targets.towns import _Context

if TYPE_CHECKING:
    from geo.registry import Registry


def _gap(value: float, target: float, comparison: str) -> float:
    if comparison == ">=":
        return max(target - value, 0)
    if comparison == "<=":
        return max(value - target, 0)
    return abs(value - target)


def parse_today(value: str | date | None) -> date:
    """"Today" for the overdue target: a date, an ISO string, or None for the real today."""
    if value is None:
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise HehuError(f"as-of date {value!r} is not a date (YYYY-MM-DD)", parameter="as_of") from None


def compute_targets(
    registry: Registry,
    plan: Plan | int | str | Path | None = None,
    *,
    today: date | str | None = None,
) -> list[dict[str, Any]]:
    """Every target of ``plan`` (default: the latest shipped plan) computed from ``registry``.

    ``today`` decides what is overdue (default: the real today), so reports and tests can
    be reproduced for any day.

    For example (on the demo registry)::

        from geo.registry import Registry
        reg = Registry.open("data/jintan.gpkg")
        t = {x["id"]: x for x in compute_targets(reg, 2021)}
        t["violations_open"]["value"], t["violations_open"]["target"]
        # → (37, 0)
    """
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    ctx = _Context(registry, plan, parse_today(today))
    results = []
    for spec in plan.targets:
        m = METRICS[spec.metric](ctx, spec)
        target = m.total if spec.target == "all" else spec.target
        if target is None:
            raise PlanError(f"plan file {plan.path}: target {spec.id}: metric {spec.metric} has no 'all'")
        if spec.target == "all" and spec.plan_count is not None:
            # "All 739": every feature the registry holds, and never fewer than the plan
            # counted (a registry missing some of them has not reached the plan).
            target = max(int(target), int(spec.plan_count))
        value = m.value
        if spec.unit == FRACTION:
            value = float(value)
            target = float(target)
        met = bool(COMPARISONS[spec.comparison](value, target))
        gap = _gap(value, target, spec.comparison)
        results.append(
            {
                "id": spec.id,
                "metric": spec.metric,
                "title": spec.title,
                "title_en": spec.title_en,
                "short": spec.short,
                "value": value,
                "target": target,
                "unit": spec.unit,
                "comparison": spec.comparison,
                "met": met,
                "gap": float(gap) if spec.unit == FRACTION else int(round(gap)),
                "progress": round(m.progress if m.progress is not None else _progress(value, target, spec.comparison), 4),
                "by_town": m.by_town,
                "outstanding_by_town": m.outstanding_by_town,
                "outstanding": None
                if m.outstanding is None
                else {"layer": m.outstanding[0], "filter": m.outstanding[1], "where": m.outstanding_where},
                "source": spec.source,
                "year": plan.year,
                "details": m.details,
                "links": m.links,
            }
        )
    return results


def format_value(value: float | int | None, unit: str) -> str:
    """A value as people read it: fractions as percentages, counts with their unit."""
    if value is None:
        return "—"
    if unit == FRACTION:
        return f"{100 * float(value):.1f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}{unit}"
    return f"{int(value)}{unit}"


def _progress(value: float, target: float, comparison: str) -> float:
    """How far along a target is, 0-1, for progress bars ("at most N" targets: 1 when met)."""
    value, target = float(value), float(target)
    if comparison == ">=":
        return 1.0 if target <= 0 else max(0.0, min(1.0, value / target))
    if comparison == "<=":
        return 1.0 if value <= target else max(0.0, min(1.0, (target + 1) / (value + 1)))
    return 1.0 if value == target else 0.0
