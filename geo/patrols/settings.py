"""Patrol settings from the plan file: validity rules, duty frequencies, cleaning.

Provinces and districts set these differently (Jiangsu's own rule may differ from the
defaults), so they live in the plan file's ``patrols`` section, each with the sentence
it comes from, and a later plan changes them without code. Missing keys fall back to
:data:`DEFAULTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from geo.errors import HehuError
from geo.plan_files import PLANS_DIR, available_plans

#: Periods a duty frequency may name.
PERIODS = ("week", "month", "quarter", "year")

DEFAULTS: dict[str, Any] = {
    "max_speed_ms": {"value": 15.0, "source": "GPS 漂移：相邻定位点间速度超过 15 米/秒（54 公里/小时）视为跳点。"},
    "min_duration_min": {"value": 10.0, "source": "单次巡河时长不少于10分钟。"},
    "min_length_m": {"value": 1000.0, "source": "单次巡河里程不少于1公里。"},
    "on_reach_distance_m": {"value": 100.0, "source": "巡河轨迹应沿所巡河湖，距河湖100米以内。"},
    "min_share_on_reach": {"value": 0.6, "source": "沿河轨迹占全程比例不低于60%。"},
    "coverage_buffer_m": {"value": 50.0, "source": "轨迹两侧50米内的河段视为已巡。"},
    "duty": {
        "村级": {"every": "week", "source": "村级河长每周巡河不少于1次。"},
        "镇级": {"every": "month", "source": "镇级河长每月巡河不少于1次。"},
        "区级": {"every": "quarter", "source": "区级河长每季度巡河不少于1次。"},
    },
}


class PatrolSettingsError(HehuError):
    code = "bad-plan"
    status = 500


@dataclass(frozen=True)
class Rule:
    """One setting: its value and the plan's sentence it comes from."""

    value: float
    source: str


@dataclass(frozen=True)
class PatrolSettings:
    max_speed_ms: Rule
    min_duration_min: Rule
    min_length_m: Rule
    on_reach_distance_m: Rule
    min_share_on_reach: Rule
    coverage_buffer_m: Rule
    duty: dict[str, tuple[str, str]]  # level -> (period, source)


def _rule(section: dict[str, Any], key: str, path: Path | None) -> Rule:
    raw = section.get(key, DEFAULTS[key])
    if not isinstance(raw, dict) or "value" not in raw:
        raw = {"value": raw, "source": DEFAULTS[key]["source"]}
    try:
        value = float(raw["value"])
    except (TypeError, ValueError):
        raise PatrolSettingsError(f"plan file {path}: patrols.{key} {raw['value']!r} is not a number") from None
    return Rule(value, str(raw.get("source", "")).strip())


def patrol_settings(plan_path: str | Path | None = None) -> PatrolSettings:
    """Settings from the ``patrols`` section of a plan file (default: the latest plan).

    Read once per file version (path and modification time): an import calls this for
    every chief, and parsing the plan's YAML costs more than cleaning a track.
    """
    if plan_path is None:
        years = available_plans()
        path = PLANS_DIR / f"{years[-1]}.yaml"
    else:
        path = Path(plan_path)
    return _settings_of(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _settings_of(path: Path, mtime_ns: int) -> PatrolSettings:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = data.get("patrols") or {}
    if not isinstance(section, dict):
        raise PatrolSettingsError(f"plan file {path}: patrols must be a mapping")
    duty_raw = section.get("duty") or DEFAULTS["duty"]
    duty = {}
    for level, spec in duty_raw.items():
        every = spec.get("every") if isinstance(spec, dict) else spec
        if every not in PERIODS:
            raise PatrolSettingsError(
                f"plan file {path}: patrols.duty.{level}.every {every!r} is not one of {', '.join(PERIODS)}"
            )
        duty[str(level)] = (str(every), str(spec.get("source", "")) if isinstance(spec, dict) else "")
    rules = {k: _rule(section, k, path) for k in DEFAULTS if k != "duty"}
    return PatrolSettings(duty=duty, **rules)
