"""A chief at a glance: their waters, their last patrols and their duty in a period.

What the map's chief popup shows (``/patrols/chiefs``): click a reach, read who answers
for it, where else they answer, when they last patrolled (valid or not, and why not) and
whether they met their duty for the period.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from geo.patrols.duty import duty_table, local_dates
from geo.patrols.importing import known_chiefs
from geo.patrols.report import parse_period
from geo.patrols.settings import PatrolSettings, patrol_settings

#: Patrols listed per chief, newest first.
LAST_PATROLS = 5
#: Fields of a patrol the summary carries (not the track nor its fix times).
PATROL_FIELDS = ("code", "started_at", "duration_min", "length_m", "source", "valid", "invalid_reason", "reaches")


def _codes(text: Any) -> list[str]:
    return [c.strip() for c in str(text or "").split(";") if c.strip()]


def latest_patrol_date(registry) -> date | None:
    """The China Standard Time date of the newest patrol, or None with no patrol.

    The map measures a track's age from it ("this week" is the week before the newest
    patrol), so a registry loaded from last year's files still shows its ages.
    """
    if "patrols" not in registry.catalog or not registry.count("patrols"):
        return None
    newest = registry.read("patrols", order_by=[("started_at", False)], limit=1)
    d = local_dates(newest["started_at"]).iloc[0]
    return None if pd.isna(d) else d


def month_of(day: date) -> tuple[date, date]:
    """The first and last day of ``day``'s calendar month."""
    first = day.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def chief_summaries(
    registry,
    *,
    reach: str | None = None,
    chief: str | None = None,
    start: Any = None,
    end: Any = None,
    last: int = LAST_PATROLS,
    lang: str = "zh",
    settings: PatrolSettings | None = None,
) -> list[dict[str, Any]]:
    """The chiefs of ``reach`` (a river/lake code) or the chief named ``chief``.

    Each: ``code, name, level, post, town, phone, reaches`` (codes), ``patrols`` (the
    ``last`` newest, any validity, with :data:`PATROL_FIELDS`) and ``duty``
    (``{from, to, required, done, met}`` over ``[start, end]``, by default the month of
    the newest patrol).
    """
    chiefs = known_chiefs(registry)
    if chiefs.empty:
        return []
    if reach:
        mask = chiefs["reaches"].map(lambda t: reach in _codes(t))
        chiefs = chiefs[mask.astype(bool)]
    if chief:
        chiefs = chiefs[chiefs["name"] == chief]
    if chiefs.empty:
        return []
    if start in (None, "") or end in (None, ""):
        newest = latest_patrol_date(registry) or date.today()
        s, e = month_of(newest)
    else:
        s, e = parse_period(start, end, lang)
    names = list(dict.fromkeys(chiefs["name"]))
    patrols = pd.DataFrame(registry.read("patrols", where={"chief": names})
                           .drop(columns="geometry")) if "patrols" in registry.catalog else pd.DataFrame()
    duty = duty_table(chiefs, patrols if len(patrols) else pd.DataFrame(columns=["chief", "started_at", "valid"]),
                      s, e, settings or patrol_settings())
    duty_by = duty.set_index("chief")
    out = []
    for row in chiefs.drop_duplicates("name").itertuples(index=False):
        mine = patrols[patrols["chief"] == row.name] if len(patrols) else patrols
        if len(mine):
            mine = mine.sort_values("started_at", ascending=False).head(last)
        recent = [
            {k: (None if pd.isna(v) else (bool(v) if k == "valid" else v))
             for k, v in r.items() if k in PATROL_FIELDS}
            for r in mine.to_dict("records")
        ] if len(mine) else []
        d = duty_by.loc[row.name] if row.name in duty_by.index else None
        out.append({
            "code": getattr(row, "code", None),
            "name": row.name,
            "level": row.level,
            "post": getattr(row, "post", None),
            "town": getattr(row, "town", None),
            "phone": getattr(row, "phone", None),
            "reaches": _codes(row.reaches),
            "patrols": recent,
            "duty": None if d is None else {
                "from": s.isoformat(), "to": e.isoformat(),
                "required": int(d["required"]), "done": int(d["done"]), "met": bool(d["met"]),
            },
        })
    return out
