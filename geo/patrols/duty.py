"""Each chief's duty: patrols required by level and period, valid patrols done, met.

Frequencies come from the plan file (defaults 村级 weekly, 镇级 monthly, 区级
quarterly; the district sets them). ``required`` counts the whole periods inside
``[start, end]``: ``days // 7`` weeks, and the calendar months, quarters or years that
lie entirely inside it. ``done`` counts the chief's valid patrols that started inside the
range, by the China Standard Time date (a patrol at 07:00 on 1 January Beijing time is
a January patrol although it is still 31 December in UTC). ``met`` is
``done >= required``. 巡河率 for a level is the share of its active chiefs who met their
duty.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from geo.patrols.settings import PatrolSettings

#: Dates of patrols are read in China Standard Time.
LOCAL_TZ = "Asia/Shanghai"
LEVELS = ("区级", "镇级", "村级")


def required_patrols(period: str, start: date, end: date) -> int:
    """Whole ``period``s (week, month, quarter, year) inside ``[start, end]``."""
    days = (end - start).days + 1
    if days <= 0:
        return 0
    if period == "week":
        return days // 7
    step = {"month": 1, "quarter": 3, "year": 12}[period]
    # Periods start on months that are multiples of the step (Jan, Apr, Jul, Oct).
    first = pd.Timestamp(start.year, ((start.month - 1) // step) * step + 1, 1)
    starts = pd.date_range(first, pd.Timestamp(end), freq=f"{step}MS")
    ends = starts + pd.DateOffset(months=step) - pd.Timedelta(days=1)
    inside = (starts >= pd.Timestamp(start)) & (ends <= pd.Timestamp(end))
    return int(inside.sum())


def local_dates(started_at: pd.Series) -> pd.Series:
    """ISO UTC instants → their China Standard Time calendar dates (``datetime.date``)."""
    t = pd.to_datetime(started_at, utc=True, format="ISO8601", errors="coerce")
    return t.dt.tz_convert(LOCAL_TZ).dt.date


def duty_table(
    chiefs: pd.DataFrame, patrols: pd.DataFrame, start: date, end: date, settings: PatrolSettings
) -> pd.DataFrame:
    """One row per active chief: ``chief, level, period, required, done, met``.

    ``chiefs`` has ``name``, ``level`` and optionally ``active``; ``patrols`` has
    ``chief``, ``started_at`` (ISO UTC) and ``valid``.
    """
    c = chiefs
    if "active" in c:
        c = c[c["active"].fillna(True).astype(bool)]
    c = c.drop_duplicates("name")
    period = c["level"].map({k: v[0] for k, v in settings.duty.items()})
    req_by_period = {p: required_patrols(p, start, end) for p in period.dropna().unique()}
    required = period.map(req_by_period).fillna(0).astype(int)
    if len(patrols):
        d = local_dates(patrols["started_at"])
        in_range = d.notna() & (d >= start) & (d <= end)
        ok = patrols["valid"].fillna(False).astype(bool) & in_range.astype(bool)
        done_by = patrols.loc[ok, "chief"].value_counts()
    else:
        done_by = pd.Series(dtype=np.int64)
    done = c["name"].map(done_by).fillna(0).astype(int)
    out = pd.DataFrame({
        "chief": c["name"].to_numpy(),
        "level": c["level"].to_numpy(),
        "period": period.to_numpy(),
        "required": required.to_numpy(),
        "done": done.to_numpy(),
    })
    out["met"] = out["done"] >= out["required"]
    return out.sort_values(["level", "chief"], key=lambda s: s.map({v: i for i, v in enumerate(LEVELS)})
                           if s.name == "level" else s).reset_index(drop=True)


def patrol_rate(duty: pd.DataFrame) -> pd.DataFrame:
    """巡河率 per level: ``level, chiefs, met, rate`` (rate 0–1; None with no chief)."""
    g = duty.groupby("level")["met"].agg(chiefs="size", met="sum")
    g = g.reindex([lv for lv in LEVELS if lv in g.index] + [lv for lv in g.index if lv not in LEVELS])
    g["rate"] = g["met"] / g["chiefs"]
    return g.reset_index()
