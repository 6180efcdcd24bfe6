"""The work plan's targets, computed live from the registry.

A plan is one YAML file in ``geo/plans/`` (``2021.yaml``): its year, title, and a list
of targets, each naming a *metric* this module knows how to compute, the plan's number,
the comparison that decides whether it is met and the plan's own words. Next year's plan
is a new file, not new code; a new kind of target is one new function in
:mod:`geo.targets.measures`.

For example (on the demo registry)::

    from geo.registry import Registry
    from geo.targets import compute_targets
    reg = Registry.open("data/jintan.gpkg")
    [(t["id"], t["value"], t["met"]) for t in compute_targets(reg)]
    # → [('sections_class3_rate', 0.909..., True), ...]

The package by concern: :mod:`~geo.targets.plans` (plan loading),
:mod:`~geo.targets.measures` (one function per metric), :mod:`~geo.targets.towns`
(reading the registry, the per-town breakdown), :mod:`~geo.targets.links` (the links
behind each number) and :mod:`~geo.targets.answer` (:func:`compute_targets`).

Every result is a plain dict (what ``hehu targets --format json`` and ``/targets?f=json``
return) with ``id``, ``title`` (中文), ``title_en``, ``value``, ``target``, ``unit``,
``comparison``, ``met``, ``gap``, ``by_town`` (town -> value), ``outstanding_by_town``
(town -> number of features standing between the district and the target), ``source``
(the plan's sentence), ``details`` and ``links`` (the features behind the number, on the
map and in the OGC API).

Definitions that need a choice (see ``docs/targets.md``):

* ``micro_remediated``: micro water bodies whose status is 已整治 and whose
  ``remediated_on`` is on or after the plan's ``since`` day (a missing date counts: the
  remediation is recorded, only its day is not). Problem ones still open are those
  with status 问题 or 整治中.
* ``violations_overdue``: ``deadline`` strictly before "today" (injectable) and status
  not 已销号; a violation without a deadline is never overdue.
* Fractions (``unit: fraction``) are shares 0-1; a town with nothing to count has
  ``None`` in ``by_town``.
"""

from __future__ import annotations

from geo.targets.answer import compute_targets, format_value, parse_today
from geo.targets.links import (
    cql_items_link,
    items_links,
    map_link,
    outstanding_link,
    outstanding_map_link,
)
from geo.targets.measures import METRICS
from geo.targets.model import (
    COMPARISONS,
    FRACTION,
    MICRO_OPEN,
    MICRO_REMEDIATED,
    PLANS_DIR,
    PLANT_RUNNING,
    VIOLATION_CLOSED,
    VIOLATION_RELAPSED,
    Measure,
    Plan,
    PlanError,
    TargetSpec,
    UnknownPlanError,
)
from geo.targets.plans import available_plans, load_plan
from geo.targets.towns import town_table

__all__ = [
    "COMPARISONS",
    "FRACTION",
    "METRICS",
    "MICRO_OPEN",
    "MICRO_REMEDIATED",
    "PLANS_DIR",
    "PLANT_RUNNING",
    "VIOLATION_CLOSED",
    "VIOLATION_RELAPSED",
    "Measure",
    "Plan",
    "PlanError",
    "TargetSpec",
    "UnknownPlanError",
    "available_plans",
    "compute_targets",
    "cql_items_link",
    "format_value",
    "items_links",
    "load_plan",
    "map_link",
    "outstanding_link",
    "outstanding_map_link",
    "parse_today",
    "town_table",
]
