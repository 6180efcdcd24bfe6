"""The work plan's targets, computed live from the registry.

A plan is one YAML file in ``geo/plans/`` (``2021.yaml``): its year, title, and a list
of targets, each naming a *metric* this module knows how to compute, the plan's number,
the comparison that decides whether it is met and the plan's own words. Next year's plan
is a new file, not new code; a new kind of target is one new metric function here.

>>> from geo.registry import Registry
>>> from geo.targets import compute_targets
>>> reg = Registry.open("data/jintan.gpkg")                          # doctest: +SKIP
>>> [(t["id"], t["value"], t["met"]) for t in compute_targets(reg)]  # doctest: +SKIP
[('sections_class3_rate', 0.909..., True), ...]

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

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from geo.crs import to_metric
from geo.errors import HehuError, NotFoundError, QueryError
from geo.registry import Registry

PLANS_DIR = Path(__file__).resolve().parent / "plans"
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


# -- the plan -----------------------------------------------------------------------------


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


def available_plans() -> list[int]:
    """Years of the plans shipped in ``geo/plans/``, oldest first."""
    return sorted(int(p.stem) for p in PLANS_DIR.glob("*.yaml") if p.stem.isdigit())


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


# -- reading the registry -------------------------------------------------------------------


class _Context:
    """What every metric needs: layers read once, the towns, "today" and the plan."""

    def __init__(self, registry: Registry, plan: Plan, today: date):
        self.registry = registry
        self.plan = plan
        self.today = today
        self._frames: dict[str, gpd.GeoDataFrame] = {}
        self._towns: dict[str, pd.Series] = {}

    def read(self, layer_id: str) -> gpd.GeoDataFrame:
        if layer_id not in self._frames:
            self._frames[layer_id] = self.registry.read(layer_id)
        return self._frames[layer_id]

    @property
    def town_names(self) -> list[str]:
        """Towns in the order of the towns layer (by code)."""
        towns = self.read("towns").sort_values("code")
        return [str(n) for n in towns["name"].dropna().unique()]

    def towns_of(self, layer_id: str) -> pd.Series:
        """The town of every feature: its ``town`` field, else where it lies on the map.

        Lines and polygons go to the town holding most of their length or area
        (measured in EPSG:4549), points to the town that contains them. A ``town`` that
        names no town of the towns layer (one renamed since, or mistyped) is placed by
        location too: every page must stand on a registry whose towns were renamed.
        """
        if layer_id not in self._towns:
            gdf = self.read(layer_id)
            if "town" in gdf.columns:
                known = gdf["town"].notna() & gdf["town"].astype(str).isin(self.town_names)
                town = gdf["town"].astype(object).where(known, None)
            else:
                town = pd.Series(None, index=gdf.index, dtype=object)
            missing = town.isna()
            if missing.any():
                town.loc[missing] = _spatial_town(gdf.loc[missing], self.read("towns"))
            self._towns[layer_id] = town
        return self._towns[layer_id]

    def empty_by_town(self, fill: Any = 0) -> dict[str, Any]:
        return {name: fill for name in self.town_names}


def _spatial_town(features: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> pd.Series:
    """Town name for each feature by location (None outside every town)."""
    out = pd.Series(None, index=features.index, dtype=object)
    towns = towns[towns.geometry.notna() & ~towns.geometry.is_empty]
    features = features[features.geometry.notna() & ~features.geometry.is_empty]
    if features.empty or towns.empty:
        return out
    feat_m = to_metric(np.asarray(features.geometry.values))
    town_m = to_metric(np.asarray(towns.geometry.values))
    tree = shapely.STRtree(town_m)
    left, right = tree.query(feat_m, predicate="intersects")
    if len(left) == 0:
        return out
    pieces = shapely.intersection(feat_m[left], town_m[right])
    dim = shapely.get_dimensions(feat_m[left])
    size = np.where(dim == 2, shapely.area(pieces), np.where(dim == 1, shapely.length(pieces), 1.0))
    pairs = pd.DataFrame({"left": left, "size": size, "town": towns["name"].to_numpy()[right]})
    best = pairs.sort_values(["left", "size"], ascending=[True, False]).drop_duplicates("left")
    out.loc[features.index[best["left"].to_numpy()]] = best["town"].to_numpy()
    return out


def _count_by_town(ctx: _Context, layer_id: str, mask: pd.Series) -> dict[str, int]:
    counts = ctx.towns_of(layer_id)[mask].value_counts()
    out = ctx.empty_by_town(0)
    for town, n in counts.items():
        out[str(town)] = int(n)
    return out


def _rate_by_town(ctx: _Context, layer_id: str, good: pd.Series, counted: pd.Series) -> dict[str, float | None]:
    towns = ctx.towns_of(layer_id)
    frame = pd.DataFrame({"town": towns[counted], "good": good[counted].astype(bool)})
    rates = frame.groupby("town")["good"].mean()
    out: dict[str, float | None] = ctx.empty_by_town(None)
    for town, r in rates.items():
        out[str(town)] = float(r)
    return out


def _bool(series: pd.Series) -> pd.Series:
    """A nullable boolean column as plain booleans (missing is False)."""
    return series.astype("boolean").fillna(False).astype(bool)


def _present(series: pd.Series) -> pd.Series:
    """True where a text field holds something other than blanks."""
    return series.notna() & (series.astype(str).str.strip() != "")


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce", format="%Y-%m-%d")


# -- links ------------------------------------------------------------------------------------


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def map_link(layer_id: str, where: dict[str, Any] | None = None) -> str:
    """The map page showing one layer, filtered: ``/map?layer=violations&filter=status:反弹``.

    Several accepted values are comma-separated; several fields are separate ``filter``
    parameters.
    """
    parts = [f"layer={_q(layer_id)}"]
    for name, value in (where or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        parts.append(f"filter={_q(name)}:{','.join(_q(v) for v in values)}")
    return "/map?" + "&".join(parts)


def items_links(layer_id: str, where: dict[str, Any] | None = None, title: str = "") -> list[dict[str, str]]:
    """The OGC API items link for the features behind a number.

    Several accepted values of an enum field are comma-separated
    (``/collections/violations/items?status=待交办,反弹``), as the items endpoint takes them.
    """
    base = f"/collections/{_q(layer_id)}/items"
    query = "&".join(
        f"{_q(name)}={','.join(_q(v) for v in (value if isinstance(value, (list, tuple)) else [value]))}"
        for name, value in (where or {}).items()
    )
    return [{"rel": "items", "href": f"{base}?{query}" if query else base, "title": title}]


def _cql_text(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def cql_items_link(layer_id: str, cql: str, title: str = "") -> dict[str, str]:
    """An OGC API items link selecting features with a CQL2-text filter."""
    return {
        "rel": "items",
        "href": f"/collections/{_q(layer_id)}/items?filter-lang=cql2-text&filter={_q(cql)}",
        "title": title,
    }


def outstanding_link(result: dict[str, Any], town: str | None = None) -> str | None:
    """Items link to the features holding a target back, in one town if given.

    None when the target has no such features (met by definition) or when the layer has
    no ``town`` field to filter on.
    """
    spec = result.get("outstanding")
    if not spec:
        return None
    cql = spec["filter"]
    if town is not None:
        from layers import load_catalog

        if not load_catalog()[spec["layer"]].has_field("town"):
            return None
        cql = f"({cql}) AND town = {_cql_text(town)}"
    return cql_items_link(spec["layer"], cql)["href"]


def outstanding_map_link(result: dict[str, Any], town: str | None = None) -> str | None:
    """Map link showing the features holding a target back, in one town if given.

    None when the selection is not plain equality on fields (overdue: a date before the
    as-of day; sections below Class III) or, for a town, when the layer has no ``town``
    field: :func:`outstanding_link` (the OGC API items) serves those.
    """
    spec = result.get("outstanding")
    if not spec or not spec.get("where"):
        return None
    where = dict(spec["where"])
    if town is not None:
        from layers import load_catalog

        if not load_catalog()[spec["layer"]].has_field("town"):
            return None
        where["town"] = town
    return map_link(spec["layer"], where)


def _links(layer_id: str, where: dict[str, Any] | None, title: str) -> list[dict[str, str]]:
    return [{"rel": "map", "href": map_link(layer_id, where), "title": title}] + items_links(
        layer_id, where, title
    )


# -- metrics ----------------------------------------------------------------------------------


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


def _observed_classes(ctx: _Context, sections: pd.DataFrame) -> pd.Series | None:
    """Each section's class from the plan year's observations up to the as-of day (GB
    3838-2002, the year's means), or None when the registry holds no observation of that
    year. Sections without observations that year have no entry."""
    if "observations" not in ctx.registry.catalog:
        return None
    from geo.quality.report import build_report
    from geo.quality.store import read_observations

    obs = read_observations(ctx.registry, year=ctx.plan.year)
    obs = obs[obs["local"].dt.date <= ctx.today]
    if obs.empty:
        return None
    rows = build_report(obs, pd.DataFrame(sections.drop(columns=sections.geometry.name)), ctx.plan.year)
    return pd.Series({r["code"]: r["annual_class"] for r in rows if r["annual_class"]}, dtype=object)


def _sections_class3_rate(ctx: _Context, spec: TargetSpec) -> Measure:
    """Share of counted sections at ``max_class`` (III) or better.

    A section's class is computed by GB 3838-2002 from the plan year's observations (up
    to the as-of day) when the registry holds any for that year, and is its typed-in
    ``latest_class`` otherwise (``details.basis`` and ``details.class_from`` say which).
    A section counts when its ``counted`` flag is true and the plan does not name it in
    ``params.not_counted`` (the 2021 plan: 长荡湖心, whatever its flag says).
    """
    max_class = int(spec.params.get("max_class", 3))
    excluded = spec.params.get("not_counted") or []
    if not isinstance(excluded, list):
        raise PlanError(f"plan file {ctx.plan.path}: target {spec.id}: params.not_counted must list section names")
    s = ctx.read("sections")
    counted = _bool(s["counted"]) & ~s["name"].astype(str).isin([str(x) for x in excluded])
    typed = pd.to_numeric(s["latest_class"], errors="coerce")
    observed = _observed_classes(ctx, s)
    if observed is not None:
        from_obs = pd.to_numeric(s["code"].astype(str).map(observed), errors="coerce")
        latest = from_obs.fillna(typed)
        class_from = {str(c): ("observations" if pd.notna(o) else "latest_class") for c, o in zip(s["code"], from_obs, strict=True)}
        basis = "observations"
    else:
        latest = typed
        class_from = {str(c): "latest_class" for c in s["code"]}
        basis = "latest_class"
    good = latest.le(max_class).fillna(False).astype(bool)
    n = int(counted.sum())
    value = float(good[counted].sum() / n) if n else 0.0
    towns = ctx.towns_of("sections")
    missing = s[counted & ~good]
    target_class = pd.to_numeric(missing["target_class"], errors="coerce")
    miss_latest = latest[counted & ~good]
    rows = [
        {
            "code": str(code),
            "name": str(name),
            "town": towns.get(fid),
            "river": None if pd.isna(river) else str(river),
            "latest_class": None if pd.isna(lc) else int(lc),
            "target_class": None if pd.isna(tc) else int(tc),
            "classes_above": None if pd.isna(lc) else int(lc) - max_class,
            "measured": not pd.isna(lc),
            "class_from": class_from[str(code)],
        }
        for fid, code, name, river, lc, tc in zip(
            missing.index, missing["code"], missing["name"], missing["river"], miss_latest, target_class, strict=True,
        )
    ]
    rows.sort(key=lambda r: -(r["classes_above"] if r["classes_above"] is not None else 99))
    not_counted = s[~counted]
    below_own_target = s[latest.gt(pd.to_numeric(s["target_class"], errors="coerce")).fillna(False).astype(bool)]
    if basis == "observations":
        # The classes come from the observations: name the sections behind the gap.
        codes = [r["code"] for r in rows]
        outstanding = "code IN (" + ", ".join(_cql_text(c) for c in codes) + ")" if codes else "code IS NULL AND code IS NOT NULL"
    else:
        outstanding = f"counted = TRUE AND (latest_class > {max_class} OR latest_class IS NULL)" + "".join(
            f" AND name <> {_cql_text(x)}" for x in excluded
        )
    return Measure(
        value=value,
        by_town=_rate_by_town(ctx, "sections", good, counted),
        outstanding_by_town=_count_by_town(ctx, "sections", counted & ~good),
        details={
            "counted": n,
            "good": int(good[counted].sum()),
            "max_class": max_class,
            "basis": basis,
            "basis_note": (
                f"GB 3838-2002 classes from the {ctx.plan.year} observations up to {ctx.today.isoformat()} "
                "(annual means); sections without observations use latest_class"
                if basis == "observations"
                else "typed-in latest_class of each section (no observations in the plan year)"
            ),
            "classes": {str(c): (None if pd.isna(v) else int(v)) for c, v in zip(s["code"], latest, strict=True)},
            "class_from": class_from,
            "missing": rows,
            "not_counted": [str(x) for x in not_counted["name"]],
            "below_own_target": [str(x) for x in below_own_target["name"]],
        },
        outstanding=("sections", outstanding),
        links=_links("sections", {"counted": "true"}, "计入考核断面")
        + [{"rel": "items", "href": f"/collections/sections/items?code={_q(r['code'])}", "title": f"未达Ⅲ类 {r['name']}"} for r in rows]
        + ([{"rel": "related", "href": f"/quality?year={ctx.plan.year}", "title": "水质月报（由监测数据计算）"}] if basis == "observations" else []),
    )


def _tributaries_worse_than_v(ctx: _Context, spec: TargetSpec) -> Measure:
    """Sections on the tributaries of a river (``params.river``) worse than Class V.

    The tributaries are the rivers whose lines come within ``params.touch_m`` metres of
    the river (EPSG:4549, the registry's ``near``), its own reaches excepted. A section's
    class is its latest month's class from the plan year's observations up to the as-of
    day (GB 3838-2002, that month's means) when it has any, else its ``latest_class``.
    """
    river = str(spec.params.get("river") or "")
    touch_m = float(spec.params.get("touch_m", 30))
    worst_ok = int(spec.params.get("worst_class", 5))
    if not river:
        raise PlanError(f"plan file {ctx.plan.path}: target {spec.id}: params.river names the main river")
    try:
        near = ctx.registry.near(river, touch_m, layers="rivers", all_features=True)
    except QueryError:  # a registry without that river (an empty one): no tributaries
        near = pd.DataFrame({"name": []})
    tributaries = sorted({str(n) for n in near["name"]} - {river}) if len(near) else []
    s = ctx.read("sections")
    on = s["river"].astype(str).isin(tributaries)
    typed = pd.to_numeric(s["latest_class"], errors="coerce")
    latest = typed.copy()
    class_from = pd.Series("latest_class", index=s.index, dtype=object)
    month_of: dict[str, str] = {}
    if "observations" in ctx.registry.catalog:
        from geo.quality.report import build_report
        from geo.quality.store import read_observations

        obs = read_observations(ctx.registry, year=ctx.plan.year, sections=[str(c) for c in s.loc[on, "code"]])
        obs = obs[obs["local"].dt.date <= ctx.today]
        if len(obs):
            for r in build_report(obs, pd.DataFrame(s[on].drop(columns=s.geometry.name)), ctx.plan.year):
                filled = [(m, c) for m, c in r["months"].items() if c]
                if filled:
                    fid = s.index[s["code"] == r["code"]][0]
                    latest.loc[fid] = filled[-1][1]
                    class_from.loc[fid] = "observations"
                    month_of[r["code"]] = filled[-1][0]
    bad = on & latest.gt(worst_ok).fillna(False).astype(bool)
    rows = [
        {"code": str(c), "name": str(n), "river": str(rv), "class": int(k), "class_from": class_from[fid],
         "month": month_of.get(str(c))}
        for fid, c, n, rv, k in zip(s.index[bad], s.loc[bad, "code"], s.loc[bad, "name"], s.loc[bad, "river"], latest[bad], strict=True)
    ]
    codes = [r["code"] for r in rows]
    return Measure(
        value=int(bad.sum()),
        by_town=_count_by_town(ctx, "sections", bad),
        outstanding_by_town=_count_by_town(ctx, "sections", bad),
        details={
            "river": river,
            "tributaries": tributaries,
            "sections": [
                {"code": str(c), "name": str(n), "river": str(rv), "class": None if pd.isna(k) else int(k),
                 "class_from": class_from[fid], "month": month_of.get(str(c))}
                for fid, c, n, rv, k in zip(s.index[on], s.loc[on, "code"], s.loc[on, "name"], s.loc[on, "river"], latest[on], strict=True)
            ],
            "worse_than_v": rows,
        },
        outstanding=("sections", "code IN (" + ", ".join(_cql_text(c) for c in codes) + ")" if codes else "code IS NULL AND code IS NOT NULL"),
        links=[cql_items_link("sections", "river IN (" + ", ".join(_cql_text(t) for t in tributaries) + ")" if tributaries else "code IS NULL AND code IS NOT NULL", f"{river}支流上的断面")]
        + [{"rel": "items", "href": f"/collections/sections/items?code={_q(r['code'])}", "title": f"劣Ⅴ类 {r['name']}"} for r in rows],
    )


def _micro_remediated(ctx: _Context, spec: TargetSpec) -> Measure:
    """Micro water bodies remediated under this plan (status 已整治, done since the plan began)."""
    m = ctx.read("micro_water_bodies")
    done_on = _dates(m["remediated_on"])
    since = pd.Timestamp(spec.params.get("since", ctx.plan.since))
    remediated = m["status"].eq(MICRO_REMEDIATED) & (done_on.isna() | (done_on >= since))
    still_open = m["status"].isin(MICRO_OPEN)
    by_status = {s: int(n) for s, n in m["status"].value_counts().items()}
    return Measure(
        value=int(remediated.sum()),
        by_town=_count_by_town(ctx, "micro_water_bodies", remediated),
        outstanding_by_town=_count_by_town(ctx, "micro_water_bodies", still_open),
        details={
            "since": since.date().isoformat(),
            "still_open": int(still_open.sum()),
            "by_status": by_status,
            "remediated_without_date": int((remediated & done_on.isna()).sum()),
            "remediated_before_plan": int((m["status"].eq(MICRO_REMEDIATED) & (done_on < since)).sum()),
            "open_by_town": _count_by_town(ctx, "micro_water_bodies", still_open),
        },
        outstanding=("micro_water_bodies", f"status IN ({', '.join(map(_cql_text, MICRO_OPEN))})"),
        outstanding_where={"status": list(MICRO_OPEN)},
        links=_links("micro_water_bodies", {"status": MICRO_REMEDIATED}, "已整治")
        + _links("micro_water_bodies", {"status": list(MICRO_OPEN)}, "待整治"),
    )


def _micro_maintained(ctx: _Context, spec: TargetSpec) -> Measure:
    """Micro water bodies with a custodian (管护责任人) assigned."""
    m = ctx.read("micro_water_bodies")
    kept = _present(m["custodian"])
    details: dict[str, Any] = {"total": len(m), "without_custodian": int((~kept).sum())}
    if spec.plan_count is not None:
        details["plan_count"] = int(spec.plan_count)
    return Measure(
        value=int(kept.sum()),
        by_town=_count_by_town(ctx, "micro_water_bodies", kept),
        outstanding_by_town=_count_by_town(ctx, "micro_water_bodies", ~kept),
        details=details,
        outstanding=("micro_water_bodies", "custodian IS NULL OR custodian = ''"),
        links=[{"rel": "map", "href": map_link("micro_water_bodies"), "title": "小微水体"}]
        + items_links("micro_water_bodies", None, "全部小微水体"),
        total=len(m),
    )


def _demo_villages(ctx: _Context, spec: TargetSpec) -> Measure:
    """Distinct villages (town + village) with at least one micro water body marked 示范村."""
    m = ctx.read("micro_water_bodies")
    flagged = m[_bool(m["demo_village"]) & _present(m["village"])]
    villages = (
        pd.DataFrame({"town": ctx.towns_of("micro_water_bodies")[flagged.index], "village": flagged["village"]})
        .drop_duplicates()
        .sort_values(["town", "village"])
    )
    by_town = ctx.empty_by_town(0)
    for town, n in villages.groupby("town")["village"].nunique().items():
        by_town[str(town)] = int(n)
    return Measure(
        value=len(villages),
        by_town=by_town,
        outstanding_by_town=ctx.empty_by_town(0),
        details={"villages": [{"town": t, "village": v} for t, v in villages.itertuples(index=False)]},
        links=_links("micro_water_bodies", {"demo_village": "true"}, "示范村小微水体"),
    )


def _violation_breakdown(ctx: _Context, mask: pd.Series) -> dict[str, Any]:
    v = ctx.read("violations")[mask]
    return {
        "by_category": {str(k): int(n) for k, n in v["category"].value_counts().items()},
        "by_status": {str(k): int(n) for k, n in v["status"].value_counts().items()},
        "by_river": {str(k): int(n) for k, n in v["river"].dropna().value_counts().items()},
    }


def _open_statuses(ctx: _Context) -> list[str]:
    enum = ctx.registry.layer("violations").field("status").enum or ()
    return [s for s in enum if s != VIOLATION_CLOSED]


def _violations_open(ctx: _Context, spec: TargetSpec) -> Measure:
    """Violations not yet 已销号 (closed); relapses (反弹) are open again."""
    v = ctx.read("violations")
    open_ = v["status"].ne(VIOLATION_CLOSED)
    relapsed = v["status"].eq(VIOLATION_RELAPSED)
    return Measure(
        value=int(open_.sum()),
        by_town=_count_by_town(ctx, "violations", open_),
        outstanding_by_town=_count_by_town(ctx, "violations", open_),
        details={
            "total": len(v),
            "closed": int((~open_).sum()),
            "relapsed": int(relapsed.sum()),
            **_violation_breakdown(ctx, open_),
        },
        outstanding=("violations", f"status <> {_cql_text(VIOLATION_CLOSED)}"),
        outstanding_where={"status": _open_statuses(ctx)},
        links=_links("violations", {"status": _open_statuses(ctx)}, "未销号问题"),
        progress=float((~open_).mean()) if len(v) else 1.0,
    )


def _violations_overdue(ctx: _Context, spec: TargetSpec) -> Measure:
    """Violations past their deadline (strictly before today) and not 已销号."""
    v = ctx.read("violations")
    deadline = _dates(v["deadline"])
    today = pd.Timestamp(ctx.today)
    overdue = v["status"].ne(VIOLATION_CLOSED) & deadline.notna() & (deadline < today)
    overdue_cql = f"status <> {_cql_text(VIOLATION_CLOSED)} AND deadline < DATE('{ctx.today.isoformat()}')"
    late = v[overdue]
    towns = ctx.towns_of("violations")
    rows = [
        {
            "code": str(code),
            "category": str(cat),
            "status": str(status),
            "town": towns.get(fid),
            "river": None if pd.isna(river) else str(river),
            "deadline": str(dl),
            "days_overdue": int((today - pd.Timestamp(dl)).days),
        }
        for fid, code, cat, status, river, dl in zip(
            late.index, late["code"], late["category"], late["status"], late["river"], late["deadline"], strict=True,
        )
    ]
    rows.sort(key=lambda r: (-r["days_overdue"], r["code"]))
    return Measure(
        value=int(overdue.sum()),
        by_town=_count_by_town(ctx, "violations", overdue),
        outstanding_by_town=_count_by_town(ctx, "violations", overdue),
        details={"today": ctx.today.isoformat(), "overdue": rows, **_violation_breakdown(ctx, overdue)},
        outstanding=("violations", overdue_cql),
        links=[{"rel": "map", "href": map_link("violations", {"status": _open_statuses(ctx)}), "title": "未销号问题"},
               cql_items_link("violations", overdue_cql, "逾期未销号问题")],
    )


def _violations_relapsed(ctx: _Context, spec: TargetSpec) -> Measure:
    """Violations whose status is 反弹 (closed once, then back)."""
    v = ctx.read("violations")
    relapsed = v["status"].eq(VIOLATION_RELAPSED)
    return Measure(
        value=int(relapsed.sum()),
        by_town=_count_by_town(ctx, "violations", relapsed),
        outstanding_by_town=_count_by_town(ctx, "violations", relapsed),
        details={"codes": sorted(str(c) for c in v.loc[relapsed, "code"]), **_violation_breakdown(ctx, relapsed)},
        outstanding=("violations", f"status = {_cql_text(VIOLATION_RELAPSED)}"),
        outstanding_where={"status": [VIOLATION_RELAPSED]},
        links=_links("violations", {"status": VIOLATION_RELAPSED}, "反弹问题"),
    )


def _plants_built(ctx: _Context, spec: TargetSpec) -> Measure:
    """Plants the plan names, each found by part of its name, meeting what the plan asks."""
    wanted = spec.params.get("plants") or []
    if not isinstance(wanted, list) or not all(isinstance(w, dict) and w.get("name_contains") for w in wanted):
        raise PlanError(f"plan file {ctx.plan.path}: target {spec.id}: params.plants must list {{name_contains: ...}}")
    p = ctx.read("sewage_plants")
    towns = ctx.towns_of("sewage_plants")
    rows = []
    met_by_town = ctx.empty_by_town(0)
    short_by_town = ctx.empty_by_town(0)
    links: list[dict[str, str]] = []
    for w in wanted:
        hits = p[p["name"].astype(str).str.contains(str(w["name_contains"]), regex=False)]
        ok = pd.Series(True, index=hits.index)
        if "status" in w:
            ok &= hits["status"].eq(w["status"])
        if "upgraded" in w:
            ok &= _bool(hits["upgraded"]).eq(bool(w["upgraded"]))
        met = bool(len(hits)) and bool(ok.all())
        town = towns.get(hits.index[0]) if len(hits) else None
        rows.append(
            {
                "plan": str(w.get("label", w["name_contains"])),
                "found": [str(n) for n in hits["name"]],
                "status": [str(s) for s in hits["status"]],
                "upgraded": [bool(u) for u in _bool(hits["upgraded"])],
                "town": town,
                "met": met,
                "codes": [str(c) for c in hits["code"]],
            }
        )
        if town is not None:
            (met_by_town if met else short_by_town)[town] += 1
        for code, name in zip(hits["code"], hits["name"], strict=True):
            links.append({"rel": "items", "href": f"/collections/sewage_plants/items?code={_q(code)}", "title": str(name)})
    short_codes = [str(c) for r, w in zip(rows, wanted, strict=True) if not r["met"] for c in r.pop("codes")]
    for r in rows:
        r.pop("codes", None)
    return Measure(
        value=sum(r["met"] for r in rows),
        outstanding=("sewage_plants", f"code IN ({', '.join(map(_cql_text, short_codes))})") if short_codes else None,
        by_town=met_by_town,
        outstanding_by_town=short_by_town,
        details={"plants": rows},
        links=[{"rel": "map", "href": map_link("sewage_plants"), "title": "污水处理厂"}] + links,
        total=len(rows),
    )


def _cross_boundary_mechanisms(ctx: _Context, spec: TargetSpec) -> Measure:
    """Cross-boundary reaches with a joint mechanism established, against all of them."""
    c = ctx.read("cross_boundary_reaches")
    has = _bool(c["mechanism"])
    without = c[~has]
    return Measure(
        value=int(has.sum()),
        by_town=_count_by_town(ctx, "cross_boundary_reaches", has),
        outstanding_by_town=_count_by_town(ctx, "cross_boundary_reaches", ~has),
        details={
            "total": len(c),
            "without": [
                {"code": str(code), "river": str(r), "neighbor": str(n)}
                for code, r, n in zip(without["code"], without["river"], without["neighbor"], strict=True)
            ],
            "by_neighbor": {str(k): int(n) for k, n in c.loc[has, "neighbor"].value_counts().items()},
        },
        outstanding=("cross_boundary_reaches", "mechanism = FALSE OR mechanism IS NULL"),
        links=_links("cross_boundary_reaches", {"mechanism": "false"}, "未建立机制"),
        total=len(c),
    )


def _happy_rivers(ctx: _Context, spec: TargetSpec) -> Measure:
    """Distinct river names with a reach marked 幸福河湖; the 五好河道 list in details."""
    r = ctx.read("rivers")
    happy = _bool(r["happy"])
    five = _bool(r["five_good"])
    towns = ctx.towns_of("rivers")
    by_town = ctx.empty_by_town(0)
    for town, n in pd.DataFrame({"town": towns[happy], "name": r.loc[happy, "name"]}).groupby("town")["name"].nunique().items():
        by_town[str(town)] = int(n)
    return Measure(
        value=int(r.loc[happy, "name"].nunique()),
        by_town=by_town,
        outstanding_by_town=ctx.empty_by_town(0),
        details={
            "happy": sorted(str(n) for n in r.loc[happy, "name"].unique()),
            "five_good": sorted(str(n) for n in r.loc[five, "name"].unique()),
        },
        links=_links("rivers", {"happy": "true"}, "幸福河湖") + _links("rivers", {"five_good": "true"}, "五好河道"),
    )


def _signboards_compliant(ctx: _Context, spec: TargetSpec) -> Measure:
    """Share of river-chief signboards that meet the standard."""
    s = ctx.read("signboards")
    ok = _bool(s["compliant"])
    bad = s[~ok]
    return Measure(
        value=float(ok.mean()) if len(s) else 0.0,
        by_town=_rate_by_town(ctx, "signboards", ok, pd.Series(True, index=s.index)),
        outstanding_by_town=_count_by_town(ctx, "signboards", ~ok),
        details={
            "total": len(s),
            "compliant": int(ok.sum()),
            "non_compliant": int((~ok).sum()),
            "non_compliant_by_river": {str(k): int(n) for k, n in bad["river"].value_counts().items()},
        },
        outstanding=("signboards", "compliant = FALSE OR compliant IS NULL"),
        links=_links("signboards", {"compliant": "false"}, "不规范公示牌"),
    )


def _patrol_period(ctx: _Context) -> tuple[date, date]:
    """From the plan's start to today, within the plan year."""
    end = min(ctx.today, date(ctx.plan.year, 12, 31))
    return ctx.plan.since, max(end, ctx.plan.since)


def _patrol_rate(ctx: _Context, spec: TargetSpec) -> Measure:
    """巡河率 of one level (``params.level``): share of its active chiefs whose valid
    patrols since the plan began reach the number their level's frequency requires."""
    from geo.patrols.duty import duty_table
    from geo.patrols.importing import known_chiefs
    from geo.patrols.settings import patrol_settings

    level = str(spec.params.get("level", "村级"))
    start, end = _patrol_period(ctx)
    chiefs = known_chiefs(ctx.registry)
    patrols = pd.DataFrame(ctx.read("patrols").drop(columns="geometry"))
    table = duty_table(chiefs, patrols, start, end, patrol_settings(ctx.plan.path))
    table = table[table["level"] == level]
    town_of = dict(zip(chiefs["name"], chiefs.get("town", pd.Series(None, index=chiefs.index)), strict=True))
    towns = table["chief"].map(town_of)
    by_town: dict[str, float | None] = ctx.empty_by_town(None)
    missed: dict[str, int] = ctx.empty_by_town(0)
    for town, group in table.groupby(towns):
        if str(town) in by_town:
            by_town[str(town)] = float(group["met"].mean())
            missed[str(town)] = int((~group["met"]).sum())
    behind = table[~table["met"]]
    return Measure(
        value=float(table["met"].mean()) if len(table) else 0.0,
        by_town=by_town,
        outstanding_by_town=missed,
        details={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "chiefs": len(table),
            "met": int(table["met"].sum()),
            "behind": {str(r.chief): f"{int(r.done)}/{int(r.required)}" for r in behind.itertuples()},
        },
        # The chiefs are a table, not a map layer: items links only.
        links=items_links("chiefs", {"level": level}, f"{level}河湖长"),
    )


def _reaches_unpatrolled(ctx: _Context, spec: TargetSpec) -> Measure:
    """River reaches with no valid patrol in the ``params.days`` (92) days up to today."""
    from geo.patrols.duty import local_dates

    days = int(spec.params.get("days", 92))
    end = ctx.today
    start = end - timedelta(days=days - 1)
    rivers = ctx.read("rivers")
    p = ctx.read("patrols")
    if len(p):
        d = local_dates(p["started_at"])
        ok = _bool(p["valid"]) & (d >= start).fillna(False).astype(bool) & (d <= end).fillna(False).astype(bool)
        seen = set(p.loc[ok, "reaches"].dropna().str.split(";").explode().str.strip())
    else:
        seen = set()
    missing = ~rivers["code"].isin(seen)
    codes = sorted(rivers.loc[missing, "code"].astype(str))
    return Measure(
        value=int(missing.sum()),
        by_town=_count_by_town(ctx, "rivers", missing),
        outstanding_by_town=_count_by_town(ctx, "rivers", missing),
        details={"from": start.isoformat(), "to": end.isoformat(), "reaches": codes},
        outstanding=("rivers", "code IN (" + ", ".join(_cql_text(c) for c in codes) + ")" if codes else "1 = 0"),
        # No outstanding_where: the map's equality filters take lists for enum fields only.
        links=_links("rivers", None, "河道"),
    )


#: Metric name (as plans write it) -> function computing it from the registry.
METRICS: dict[str, Callable[[_Context, TargetSpec], Measure]] = {
    "sections_class3_rate": _sections_class3_rate,
    "micro_remediated": _micro_remediated,
    "micro_maintained": _micro_maintained,
    "demo_villages": _demo_villages,
    "violations_open": _violations_open,
    "violations_overdue": _violations_overdue,
    "violations_relapsed": _violations_relapsed,
    "plants_built": _plants_built,
    "cross_boundary_mechanisms": _cross_boundary_mechanisms,
    "happy_rivers": _happy_rivers,
    "signboards_compliant": _signboards_compliant,
    "patrol_rate": _patrol_rate,
    "reaches_unpatrolled": _reaches_unpatrolled,
    "tributaries_worse_than_v": _tributaries_worse_than_v,
}


# -- the answer ----------------------------------------------------------------------------


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

    >>> from geo.registry import Registry
    >>> reg = Registry.open("data/jintan.gpkg")                      # doctest: +SKIP
    >>> t = {x["id"]: x for x in compute_targets(reg, 2021)}        # doctest: +SKIP
    >>> t["violations_open"]["value"], t["violations_open"]["target"]  # doctest: +SKIP
    (37, 0)
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


def town_table(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per town, worst first: the features standing between it and each target.

    A town's ``outstanding`` is the sum over targets of its features behind the gap
    (open and overdue violations, problem micro water bodies, sections below Class III,
    non-compliant signboards...); ties are broken by the number of targets concerned.
    """
    towns: list[str] = []
    for r in results:
        for t in r["outstanding_by_town"]:
            if t not in towns:
                towns.append(t)
    rows = []
    for town in towns:
        per_target = {r["id"]: int(r["outstanding_by_town"].get(town, 0)) for r in results}
        rows.append(
            {
                "town": town,
                "outstanding": sum(per_target.values()),
                "targets_concerned": sum(1 for n in per_target.values() if n),
                "by_target": per_target,
            }
        )
    rows.sort(key=lambda r: (-r["outstanding"], -r["targets_concerned"], towns.index(r["town"])))
    return rows


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


__all__ = [
    "FRACTION",
    "METRICS",
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
