"""Status lifecycles: the 清四乱 case flow and micro-water-body remediation.

A violation is reported (待交办), assigned to a responsible unit with a deadline by a
交办单 (已交办), fixed (整改中) and closed (已销号) with a closing date and a note. A
回头看 re-inspection that finds it back turns a closed case into 反弹, which is assigned
again. Micro water bodies go 问题 → 整治中 → 已整治, and into 问题 when a patrol finds
one (from 正常, or back after 已整治). Every other change of status is
refused, whether asked for as a transition or slipped into a plain edit.

The flows are declared in the catalog (``lifecycle:`` in ``layers/violations.yaml`` and
``layers/micro_water_bodies.yaml``, read into :class:`layers.Lifecycle`); this module
applies them.

>>> allowed_next("violations", "待交办")
['已交办']
>>> plan_transition("violations", {"status": "整改中"}, "已销号",
...                 {"closed_on": "2021-06-30", "note": "已拆除"})
{'status': '已销号', 'closed_on': '2021-06-30', 'note': '已拆除'}
"""

from __future__ import annotations

from datetime import date
from typing import Any

from geo.errors import HehuError
from geo.i18n import message
from geo.validate import is_missing
from layers import Lifecycle, Step, load_catalog

__all__ = [
    "LIFECYCLES",
    "Lifecycle",
    "Step",
    "TransitionError",
    "allowed_next",
    "check_edit",
    "describe",
    "lifecycle",
    "plan_transition",
]


class TransitionError(HehuError):
    """A change of status that the lifecycle does not allow, or lacks what it needs."""

    status = 400
    code = "bad-transition"


def _catalog_lifecycles() -> dict[str, Lifecycle]:
    return {layer.id: layer.lifecycle for layer in load_catalog() if layer.lifecycle is not None}


#: layer id -> its lifecycle, as the catalog declares it (``lifecycle:`` in layers/*.yaml).
LIFECYCLES: dict[str, Lifecycle] = _catalog_lifecycles()


def lifecycle(layer_id: str) -> Lifecycle | None:
    """The lifecycle of a layer, or None when its features have no managed status."""
    return LIFECYCLES.get(layer_id)


def allowed_next(layer_id: str, current: str | None) -> list[str]:
    """Statuses a feature whose status is ``current`` may move to."""
    lc = lifecycle(layer_id)
    return [] if lc is None else [s.to for s in lc.allowed(current)]


def _refuse(lc: Lifecycle, current: str | None, target: Any) -> TransitionError:
    allowed = allowed_next(lc.layer, current)
    return TransitionError(
        key="lifecycle.refuse",
        params={
            "layer": lc.layer,
            "current": current,
            "target": target,
            "allowed_zh": "、".join(allowed) if allowed else message("lifecycle.final", "zh"),
            "allowed_en": "、".join(allowed) if allowed else message("lifecycle.final", "en"),
        },
        layer=lc.layer,
        field=lc.field,
        value=target,
        current=current,
        allowed=allowed,
    )


def plan_transition(
    layer_id: str,
    current: dict[str, Any],
    target: str,
    given: dict[str, Any] | None = None,
    *,
    today: date | None = None,
) -> dict[str, Any]:
    """Properties to write to move a feature with properties ``current`` to ``target``.

    ``given`` holds the fields sent with the request (unit, deadline, closed_on, note,
    or anything else to record); the result includes them, the new status and any
    field the step fills itself. Raises :class:`TransitionError` listing the allowed
    statuses, or naming the missing fields.
    """
    lc = lifecycle(layer_id)
    if lc is None:
        raise TransitionError(key="lifecycle.none", params={"layer": layer_id}, layer=layer_id)
    given = dict(given or {})
    given.pop(lc.field, None)
    now = current.get(lc.field)
    step = next((s for s in lc.allowed(now) if s.to == target), None)
    if step is None:
        raise _refuse(lc, now, target)
    missing = [f for f in step.requires if is_missing(given.get(f))]
    if missing:
        fields = load_catalog()[layer_id]
        raise TransitionError(
            key="lifecycle.needs",
            params={
                "layer": layer_id,
                "target": target,
                "missing_en": ", ".join(missing),
                "missing_zh": "、".join(
                    fields.field(f).title("zh") if fields.has_field(f) else f for f in missing
                ),
            },
            layer=layer_id,
            field=missing[0],
            missing=missing,
            requires=list(step.requires),
        )
    out = {lc.field: target, **given}
    for name, rule in step.sets.items():
        if is_missing(given.get(name)) and rule == "today":
            out[name] = (today or date.today()).isoformat()
    return out


def check_edit(layer_id: str, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Refuse a plain edit whose status change skips the lifecycle; returns the changes.

    An edit that leaves the status alone passes untouched. One that changes it must be a
    move :func:`plan_transition` allows, carrying the fields that move needs.
    """
    lc = lifecycle(layer_id)
    if lc is None or lc.field not in changes:
        return changes
    target = changes[lc.field]
    if target == current.get(lc.field):
        return changes
    planned = plan_transition(layer_id, current, target, changes)
    return {**changes, **planned}


def describe(layer_id: str, current: str | None) -> list[dict[str, Any]]:
    """The allowed moves from ``current`` as JSON-ready dicts (for the map popup)."""
    lc = lifecycle(layer_id)
    if lc is None:
        return []
    return [
        {"to": s.to, "requires": list(s.requires), "label_zh": s.label_zh, "label_en": s.label_en}
        for s in lc.allowed(current)
    ]
