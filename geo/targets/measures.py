"""The measures: one function per metric a plan may name (:data:`METRICS`).

Each takes the reading context and the target's spec and returns a :class:`Measure`:
the value, the per-town breakdown, what stands between the district and the target,
the details and the links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo.errors import QueryError
from geo.patrols.duty import duty_table, local_dates
from geo.patrols.importing import known_chiefs
from geo.patrols.settings import patrol_settings
from geo.targets.links import _cql_text, _links, _q, cql_items_link, items_links, map_link
from geo.targets.model import (
    MICRO_OPEN,
    MICRO_REMEDIATED,
    VIOLATION_CLOSED,
    VIOLATION_RELAPSED,
    Measure,
    PlanError,
    TargetSpec,
)
from geo.targets.towns import _bool, _Context, _count_by_town, _dates, _present, _rate_by_town

if TYPE_CHECKING:
    pass


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
