"""What a plan and a measure are: the plan's targets, the comparisons, the statuses the targets rely on."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.errors import HehuError, NotFoundError
from geo.plan_files import PLANS_DIR  # noqa: F401  (re-exported: geo.targets.PLANS_DIR)

if TYPE_CHECKING:
    pass




FRACTION = "fraction"


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
}


#: Statuses of the catalog that the targets rely on (values of enum fields in layers/).
VIOLATION_CLOSED = "已销号"


VIOLATION_RELAPSED = "反弹"


MICRO_REMEDIATED = "已整治"


MICRO_OPEN = ("问题", "整治中")


PLANT_RUNNING = "运行"


class PlanError(HehuError):
    """A plan file that cannot be used: names the file, the target and the key."""

    code = "bad-plan"


class UnknownPlanError(NotFoundError):
    code = "unknown-plan"


@dataclass(frozen=True)
class TargetSpec:
    """One quantitative target of a plan, as its YAML declares it."""

    id: str
    metric: str
    title: str
    title_en: str
    target: float | str
    unit: str
    comparison: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    plan_count: int | None = None
    short: str = ""


@dataclass(frozen=True)
class Plan:
    """A year's work plan: its targets and where they come from."""

    year: int
    title: str
    title_en: str
    issued_by: str
    issued_on: str
    since: date
    targets: tuple[TargetSpec, ...]
    path: Path


@dataclass
class Measure:
    """What a metric computes; :func:`compute_targets` adds the plan's side."""

    value: float | int
    by_town: dict[str, Any]
    outstanding_by_town: dict[str, int]
    details: dict[str, Any]
    links: list[dict[str, str]]
    total: int | None = None  # what ``target: all`` means for this metric
    progress: float | None = None  # 0-1 for progress bars, when the ratio value/target is not it
    #: (layer, CQL2-text filter) selecting the features counted in ``outstanding_by_town``.
    outstanding: tuple[str, str] | None = None
    #: The same selection as field -> accepted values, when plain equality can say it (the
    #: map page takes only that: ``/map?layer=…&filter=field:v1,v2``).
    outstanding_where: dict[str, Any] | None = None
