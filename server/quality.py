"""Water quality over HTTP: the 水质月报 page, its JSON and PDF, and the upload form.

``GET /quality?year=2021[&lang=en]`` the matrix (sections × months coloured by class);
``GET /quality.json?year=2021[&section=DM-01]`` the report as JSON (the CLI's shape);
``GET /quality.pdf?year=2021`` the one-page A4 PDF; ``GET|POST /quality/import`` the
upload form for editors. Views read parameters, call :mod:`geo.quality`, shape the answer.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from geo.errors import HehuError
from geo.i18n import message
from geo.quality.limits import CLASS_COLOURS, CLASS_NAMES, CLASS_STATUS
from geo.quality.page import pollutant_text
from geo.quality.report import months_of, quality_report, report_json
from geo.values import parse_bool
from server.auth import current_user, require, wants_html
from server.context import lang, registry

bp = Blueprint("quality", __name__)


def _year() -> int:
    raw = request.args.get("year")
    if raw is None:
        from geo.quality.store import years_with_observations

        years = years_with_observations(registry())
        return years[-1] if years else date.today().year
    if not raw.strip().isdigit() or not 1900 <= int(raw) <= 2100:
        raise HehuError(message("quality.bad_year", lang(), value=raw), parameter="year")
    return int(raw)


@bp.get("/quality")
def quality_page():
    """The monthly report matrix (Chinese by default, ``?lang=en``)."""
    year = _year()
    language = lang()
    rows = quality_report(registry(), year, request.args.get("section"), lang=language)
    counted = [r for r in rows if r["counted"] and r["annual_class"]]
    good = sum(1 for r in counted if r["annual_class"] <= 3)
    html = render_template(
        "quality/quality.html",
        year=year,
        rows=rows,
        months=months_of(year),
        names=CLASS_NAMES,
        colours=CLASS_COLOURS,
        status=CLASS_STATUS,
        rate=message("quality.page.rate", language, counted=len(counted), good=good,
                     rate=f"{good / len(counted):.1%}" if counted else "—"),
        has_data=any(r["samples"] for r in rows),
        pollutants={r["code"]: pollutant_text(r, language).replace("\n", "") for r in rows},
        m=lambda key, **kw: message(key, language, **kw),
        lang=language,
        is_demo=registry().is_demo,
        json_url=url_for("quality.quality_json", year=year),
        pdf_url=url_for("quality.quality_pdf", year=year),
        lang_url=url_for("quality.quality_page", year=year, lang="en" if language == "zh" else "zh"),
        root=request.script_root,
    )
    return html, 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/quality.json")
def quality_json():
    """The report: ``[{code, name, lake, counted, annual_class, months, means, main_pollutants}]``."""
    rows = quality_report(registry(), _year(), request.args.get("section"), lang=lang())
    return jsonify(report_json(rows))


@bp.get("/quality.pdf")
def quality_pdf():
    """The report as one A4 landscape page."""
    from geo.quality.page import render_quality_pdf

    year = _year()
    data = render_quality_pdf(registry(), year)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="quality-{year}.pdf"'})


@bp.get("/quality/import")
def import_page():
    """The upload form (editors and above)."""
    if current_user() is None and wants_html():
        return redirect(url_for("auth.login", next="/quality/import"))
    require("editor")
    return render_template("quality/import.html", lang=lang(), report=None, m=_m())


def _m():
    language = lang()
    return lambda key, **kw: message(key, language, **kw)


def _flag(name: str) -> bool:
    return parse_bool(request.form.get(name)) is True


@bp.post("/quality/import")
def import_upload():
    """Import an uploaded lab sheet; the answer is the import report (JSON or the page)."""
    from geo.quality.importing import import_observations

    user = require("editor")
    upload = request.files.get("file")
    language = lang()
    try:
        if upload is None or not upload.filename:
            raise HehuError(message("quality.no_file", language), parameter="file")
        report = import_observations(
            registry(), upload.read(), filename=upload.filename, dry_run=_flag("dry_run"),
            update=_flag("update"), user=user.name, lang=language,
        )
    except HehuError as exc:
        if not wants_html():
            raise
        html = render_template("quality/import.html", lang=language, report=None, error=exc.message,
                               problems=exc.details.get("problems") or [], m=_m())
        return html, exc.status
    if wants_html():
        return render_template("quality/import.html", lang=language, report=report, m=_m())
    return jsonify({**report.to_dict(), "summary": report.summary(language)})


@bp.get("/quality/chart/<code>.svg")
def section_chart(code: str):
    """The popup's small chart of a section's monthly means against the Ⅲ limits."""
    from geo.quality.chart import section_chart_svg

    data = section_chart_svg(registry(), code, _year())
    return Response(data, mimetype="image/svg+xml", headers={"Cache-Control": "max-age=300"})
