"""A synthetic year (2021) of patrols for the demo's chiefs — labelled synthetic.

The chiefs are the demo's river and lake chiefs (the ``chief`` label of each reach and
of 长荡湖), with their level from the reach's grade. Each chief has a habit: most are
diligent (a patrol in nearly every period their level requires, often more), some lapse
(miss a third of them), a few neglect the duty. Tracks walk a stretch of one of the
chief's reaches at walking pace with a fix every 60 s and a few metres of GPS noise;
some are too short to count, some carry GPS jumps that cleaning removes (and says so),
and a few are drone flights (fast, a fix every 5 s). Times are China Standard Time
mornings and afternoons, stored in UTC.

Everything is generated in EPSG:4549 with numpy; validity is judged by the same
:func:`geo.patrols.validity.judge` an import uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.patrols.clean import jump_mask
from geo.patrols.importing import seconds_text
from geo.patrols.settings import PatrolSettings, patrol_settings
from geo.patrols.tracks import iso
from geo.patrols.validity import judge

YEAR = 2021
#: Patrols per required period, by habit: (chance of patrolling in a period, extra patrols).
HABITS = {"diligent": (0.99, 0.45), "lapsing": (0.65, 0.0), "neglectful": (0.3, 0.0)}
HABIT_SHARES = (0.7, 0.2, 0.1)
PERIOD_DAYS = {"week": 7, "month": 30.4, "quarter": 91.25, "year": 365}
FIX_S = 60.0
DRONE_FIX_S = 5.0


def demo_chiefs(waters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chief rows from the demo's waters: ``{code, name, grade, chief, chief_title, town, phone}``."""
    by_name: dict[str, dict[str, Any]] = {}
    rank = {"区级": 0, "镇级": 1, "村级": 2}
    for w in waters:
        name = w["chief"]
        row = by_name.get(name)
        if row is None:
            by_name[name] = {
                "code": f"HZ-{len(by_name) + 1:04d}",
                "name": name,
                "level": w["grade"],
                "post": w.get("chief_title"),
                "town": w.get("town"),
                "phone": w.get("phone"),
                "active": True,
                "reaches": w["code"],
            }
        else:
            row["reaches"] += f";{w['code']}"
            if rank[w["grade"]] < rank[row["level"]]:
                row["level"] = w["grade"]
    return list(by_name.values())


def _walk(line: BaseGeometry, rng: np.random.Generator, drone: bool, short: bool) -> tuple[np.ndarray, float]:
    """Fix positions (n, 2) along ``line`` and the seconds between fixes."""
    total = line.length
    if short:
        length = rng.uniform(250, 700)
    elif drone:
        length = rng.uniform(3000, 6000)
    else:
        length = rng.uniform(1500, 4000)
    length = min(length, total)
    s0 = rng.uniform(0, total - length)
    speed = rng.uniform(8, 12) if drone else rng.uniform(1.0, 1.5)
    dt = DRONE_FIX_S if drone else FIX_S
    n = max(int(length / (speed * dt)) + 1, 2)
    s = s0 + np.minimum(np.arange(n) * speed * dt, length)
    if rng.random() < 0.5:
        s = s[::-1]
    pts = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    pts = pts + rng.normal(0, 2.0 if drone else 6.0, pts.shape)
    return pts, dt


def demo_patrols(
    waters: list[dict[str, Any]],
    chiefs: list[dict[str, Any]],
    rng: np.random.Generator,
    settings: PatrolSettings | None = None,
) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """A year of patrols as (properties, EPSG:4549 MultiLineString) pairs."""
    settings = settings or patrol_settings()
    lines = {w["code"]: w["line"] for w in waters}
    start = np.datetime64(f"{YEAR}-01-01T00:00:00")
    rows: list[dict[str, Any]] = []
    tracks: list[np.ndarray] = []
    habits = list(HABITS)
    for chief in chiefs:
        period = settings.duty.get(chief["level"], ("month", ""))[0]
        pdays = PERIOD_DAYS[period]
        n_periods = int(round(365 / pdays))
        p, extra = HABITS[habits[rng.choice(3, p=HABIT_SHARES)]]
        reaches = chief["reaches"].split(";")
        for k in range(n_periods):
            count = int(rng.random() < p) + int(rng.random() < extra)
            for _ in range(count):
                day = k * pdays + rng.uniform(0, pdays - 0.5)
                # 08:00-16:00 Beijing time is 00:00-08:00 UTC.
                t0 = start + np.timedelta64(int(day) * 86400 + int(rng.uniform(0, 8 * 3600)), "s")
                code = reaches[int(rng.integers(len(reaches)))]
                kind = rng.random()
                drone = kind < 0.03 and chief["level"] != "村级"
                short = 0.03 <= kind < 0.07
                pts, dt = _walk(lines[code], rng, drone, short)
                n = len(pts)
                secs = np.arange(n) * dt + rng.normal(0, 1, n).clip(-2, 2)
                secs = np.maximum.accumulate(np.round(secs))
                jumps = 0
                if 0.07 <= kind < 0.13 and n > 6:  # GPS jumps: fixes thrown 1.2-3 km off
                    jumps = int(rng.integers(1, 3))
                    at = rng.choice(np.arange(1, n - 1, 2), size=jumps, replace=False)  # never adjacent
                    ang = rng.uniform(0, 2 * np.pi, jumps)
                    pts[at] += rng.uniform(1200, 3000, (jumps, 1)) * np.column_stack([np.cos(ang), np.sin(ang)])
                keep = jump_mask(pts[:, 0], pts[:, 1], secs, settings.max_speed_ms.value)
                secs = secs[keep]
                pts = pts[keep]
                _, first = np.unique(secs, return_index=True)  # repeated timestamps
                pts, secs = pts[first], secs[first]
                times = t0 + secs.astype("timedelta64[s]")
                tracks.append(pts)
                dropped = int((~keep).sum())
                rows.append({
                    "chief": chief["name"],
                    "reaches": code,
                    "started_at": iso(times[0]),
                    "ended_at": iso(times[-1]),
                    "duration_min": round(float(secs[-1] - secs[0]) / 60, 1),
                    "source": "无人机" if drone else ("GPX" if rng.random() < 0.15 else "河长通APP"),
                    "fix_seconds": seconds_text(times),
                    "cleaning": f"剔除 {dropped} 个速度不可能的点（GPS 漂移）" if dropped else None,
                    "file": "演示数据（虚构）",
                })
    geoms = np.array([shapely.MultiLineString([t]) for t in tracks], dtype=object)
    durations = np.array([r["duration_min"] for r in rows], dtype=float)
    reach_geoms = np.array([lines[r["reaches"]] for r in rows], dtype=object)
    valid, reasons = judge(geoms, durations, reach_geoms, settings, "zh")
    order = np.argsort([r["started_at"] for r in rows], kind="stable")
    out = []
    for n, i in enumerate(order, start=1):
        r = rows[i]
        r.update(
            code=f"XH-{YEAR}-{n:05d}",
            length_m=round(float(geoms[i].length), 1),
            valid=bool(valid[i]),
            invalid_reason=reasons[i] or None,
        )
        out.append((r, geoms[i]))
    return out
