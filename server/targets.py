"""``/targets``: the work plan's targets, live from the registry.

* ``/targets`` — the page: a progress bar and a small per-town chart for every target,
  the plan's sentence, what holds it back, links to the features on the map and in the
  OGC API, and the towns worst first.
* ``/targets?f=json`` — the JSON list, the same as ``hehu targets --format json``.
* ``/targets.pdf`` — the one-page A4 summary for officials.

Every form takes ``plan`` (a plan year, default the latest) and ``as_of`` (YYYY-MM-DD,
the day that decides what is overdue; default today). The numbers come from
:mod:`geo.targets`; this module only adapts them to HTTP.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from geo.errors import HehuError
from geo.targets import (
    FRACTION,
    compute_targets,
    format_value,
    load_plan,
    outstanding_link,
    outstanding_map_link,
    parse_today,
    town_table,
)
from server.context import lang as request_lang
from server.context import registry

bp = Blueprint("targets", __name__)

FORMATS = ("html", "json")

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "heading": "目标进展",
        "as_of": "截至",
        "as_of_apply": "查看",
        "towns_no_total": "各列分别计数，不相加。",
        "summary": "共 {n} 项指标，已达成 {met} 项，未达成 {missed} 项",
        "met": "达成",
        "missed": "未达成",
        "gap": "差距",
        "current": "当前",
        "target": "目标",
        "by_town": "各镇（街道）",
        "source": "工作要点",
        "on_map": "地图",
        "features": "要素",
        "towns_heading": "各镇（街道）待办事项（由多到少）",
        "targets_heading": "各项指标",
        "towns_note": "每项指标下拖后腿的要素数：未销号及逾期问题、问题小微水体、未落实管护、未达Ⅲ类断面、不规范公示牌等。一个问题可同时计入“未销号”和“逾期”。",
        "town": "镇(街道)",
        "total": "合计",
        "json": "JSON",
        "pdf": "PDF 摘要",
        "map": "地图",
        "demo": "演示数据（合成）",
        "data_source": "数据来源",
        "plan_source": "目标依据",
        "other_lang": "English",
        "no_value": "无",
    },
    "en": {
        "heading": "progress",
        "as_of": "As of",
        "as_of_apply": "Show",
        "towns_no_total": "Columns count on their own and are not added up.",
        "summary": "{n} targets: {met} met, {missed} not met",
        "met": "met",
        "missed": "not met",
        "gap": "gap",
        "current": "current",
        "target": "target",
        "by_town": "By town",
        "source": "Plan",
        "on_map": "On the map",
        "features": "Features",
        "towns_heading": "Towns, worst first",
        "targets_heading": "Targets",
        "towns_note": "Features holding each target back: open and overdue violations, problem micro water bodies, missing custodians, sections below Class III, non-compliant signboards... A violation may count as both open and overdue.",
        "town": "Town",
        "total": "Total",
        "json": "JSON",
        "pdf": "PDF summary",
        "map": "Map",
        "demo": "Demo data (synthetic)",
        "data_source": "Data",
        "plan_source": "Targets from",
        "other_lang": "中文",
        "no_value": "none",
    },
}


def _plan_and_day():
    raw_plan = request.args.get("plan")
    # str.isdigit() accepts "²" and other Unicode digits: a plan year is ASCII.
    if raw_plan is not None and not re.fullmatch(r"[0-9]{1,4}", raw_plan.strip()):
        raise HehuError(key="targets.bad_plan", params={"value": repr(raw_plan[:40])}, parameter="plan")
    raw_day = request.args.get("as_of")
    plan = load_plan(raw_plan)
    if not raw_day:
        # A past year's plan is judged at its year's end: "overdue 2508 days" in 2028
        # says nothing about 2021. The page's date picker asks for any other day.
        return plan, min(date.today(), date(int(plan.year), 12, 31))
    return plan, parse_today(raw_day)


@bp.get("/targets")
def targets_page():
    """Render the targets page, or the JSON list with ``?f=json``."""
    fmt = request.args.get("f", "html")
    if fmt not in FORMATS:
        raise HehuError(f"f {fmt!r} is not one of {', '.join(FORMATS)}; the PDF is /targets.pdf", parameter="f")
    asked_lang = request.args.get("lang")
    if asked_lang is not None and asked_lang not in STRINGS:
        raise HehuError(f"unknown language {asked_lang!r}; use {' or '.join(STRINGS)}", parameter="lang")
    plan, today = _plan_and_day()
    results = compute_targets(registry(), plan, today=today)
    if fmt == "json":
        return jsonify(results)
    lang = request_lang()
    reg = registry()
    from geo.targets_report import source_lines

    data_line, plan_line = source_lines(reg, plan)
    params = {k: v for k, v in (("plan", request.args.get("plan")), ("as_of", request.args.get("as_of"))) if v}
    return render_template(
        "targets/targets.html",
        plan=plan,
        today=today,
        results=results,
        towns=town_table(results),
        charts={r["id"]: _town_chart(r) for r in results},
        fmt=format_value,
        outstanding_link=outstanding_link,
        outstanding_map_link=outstanding_map_link,
        fraction=FRACTION,
        is_demo=reg.is_demo,
        data_line=data_line,
        plan_line=plan_line,
        lang=lang,
        t=STRINGS[lang],
        json_url=url_for("targets.targets_page", f="json", **params),
        pdf_url=url_for("targets.targets_pdf", **params),
        # Links of geo.targets are root-relative; the app may be mounted below a prefix.
        root=request.script_root,
        lang_url=url_for("targets.targets_page", lang="en" if lang == "zh" else "zh", **params),
    )


@bp.get("/targets.pdf")
def targets_pdf():
    """The one-page A4 summary as a PDF download."""
    from geo.targets_report import render_targets_pdf

    plan, today = _plan_and_day()
    data = render_targets_pdf(registry(), plan=plan, today=today)
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="targets-{plan.year}-{today.isoformat()}.pdf"'},
    )


def _town_chart(result: dict[str, Any]) -> dict[str, Any]:
    """Bars of a target's per-town values, scaled 0-1 for the page's inline SVG."""
    by_town = result["by_town"]
    values = [v for v in by_town.values() if v is not None]
    if result["unit"] == FRACTION:
        top = 1.0
    else:
        top = max([float(v) for v in values] + [1.0])
    bars = []
    for town, v in by_town.items():
        bars.append(
            {
                "town": town,
                "value": v,
                "label": "—" if v is None else format_value(v, result["unit"] if result["unit"] == FRACTION else ""),
                "share": 0.0 if v is None else float(v) / top,
            }
        )
    return {"bars": bars, "target_share": float(result["target"]) if result["unit"] == FRACTION else None}
