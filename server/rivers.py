"""一河一档 and 交办单 over HTTP.

``GET /rivers/{code}[?lang=en&year=2021]`` the river's page (a reach code, name or alias;
every reach of the river is shown); ``/rivers/{code}.pdf`` the printable dossier;
``/rivers/{code}.json`` the dossier as JSON; ``/rivers/{code}/map.png`` its map;
``/collections/violations/items/{fid}/case.pdf`` the 交办单 of one violation. A code
that matches nothing is a 404 page with the closest names. Views read parameters,
call :mod:`geo.dossier` / :mod:`geo.casesheet`, shape the answer.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from geo.attachments import file_href
from geo.dossier import (
    NEAR_LAYERS,
    PLANT_DISTANCE_M,
    PROBLEM_DISTANCE_M,
    RiverNotFound,
    river_dossier,
)
from geo.errors import HehuError, NotFoundError
from geo.i18n import message
from server.context import registry
from server.rights import check_export

bp = Blueprint("rivers", __name__)

#: Layers whose features a dossier PDF hands over (export rights, as /print).
DOSSIER_LAYERS = ("rivers", "lakes", "towns", "chiefs", "signboards", "patrols", "sewage_plants", *NEAR_LAYERS)
CASE_LAYERS = ("violations", "towns", "rivers", "lakes")
MAX_FID = 2**63 - 1


def _lang() -> str:
    """``zh`` (default) or ``en``; any other ``lang`` is a 400, not a silent fallback."""
    raw = request.args.get("lang")
    if raw is None or raw == "":
        return "zh"
    if raw not in ("zh", "en"):
        raise HehuError(message("rivers.bad_lang", "zh" if not raw.startswith("en") else "en", value=raw[:40]),
                        parameter="lang")
    return raw


def _year(language: str) -> int | None:
    raw = request.args.get("year")
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit() or not 1900 <= int(raw) <= 2100:
        raise HehuError(message("rivers.bad_year", language, value=raw[:40]), parameter="year")
    return int(raw)


def _dossier(key: str, language: str):
    return river_dossier(registry(), key, year=_year(language))


def _not_found(exc: RiverNotFound, language: str):
    key = str(exc.details.get("target") or "")
    html = render_template(
        "rivers/not_found.html", lang=language, key=key, suggestions=exc.details.get("suggestions") or [],
        m=lambda k, **kw: message(k, language, **kw), root=request.script_root,
        suffix="" if language == "zh" else "?lang=en",
    )
    return html, 404, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/rivers/<path:key>.pdf")
def river_pdf(key: str):
    """The dossier as an A4 PDF."""
    from geo.dossier import render_dossier_pdf

    language = _lang()
    check_export(DOSSIER_LAYERS)
    try:
        d = _dossier(key, language)
    except RiverNotFound as exc:
        return _not_found(exc, language)
    data = render_dossier_pdf(registry(), d)
    ascii_name = f"river-{quote(d.reaches[0]['code'], safe='')}.pdf"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(d.name + '_一河一档.pdf')}"})


@bp.get("/rivers/<path:key>.json")
def river_json(key: str):
    """The dossier as JSON (what the page shows)."""
    language = _lang()
    try:
        d = _dossier(key, language)
    except RiverNotFound as exc:
        raise NotFoundError(message("rivers.unknown", language, value=exc.details.get("target"),
                                    suggestions="、".join(exc.details.get("suggestions") or []) or "—"),
                            suggestions=exc.details.get("suggestions") or []) from None
    return jsonify(d.to_json())


@bp.get("/rivers/<path:key>/map.png")
def river_map(key: str):
    """The dossier's map (reaches coloured, labelled with their chiefs; problems; boards)."""
    from geo.dossier import render_river_map

    language = _lang()
    try:
        d = _dossier(key, language)
    except RiverNotFound as exc:
        return _not_found(exc, language)
    return Response(render_river_map(registry(), d), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=60"})


@bp.get("/rivers/<path:key>")
def river_page(key: str):
    """The 一河一档 page (Chinese by default, ``?lang=en``)."""
    language = _lang()
    try:
        d = _dossier(key, language)
    except RiverNotFound as exc:
        return _not_found(exc, language)
    reg = registry()
    code = d.reaches[0]["code"]
    extra = {"lang": "en"} if language == "en" else {}
    if request.args.get("year"):
        extra["year"] = request.args["year"]
    def value(layer_id: str, field: str, v):
        """An enum value in the page's language (the catalog's English label)."""
        if language == "zh" or v is None or layer_id not in reg.catalog:
            return v
        layer = reg.layer(layer_id)
        if not layer.has_field(field):
            return v
        return (layer.field(field).enum_en or {}).get(str(v), v)

    html = render_template(
        "rivers/river.html", d=d, lang=language, v=value, m=lambda k, **kw: message(k, language, **kw),
        problem_m=PROBLEM_DISTANCE_M, plant_m=PLANT_DISTANCE_M, root=request.script_root,
        layers={lyr.id: lyr for lyr in reg.layers},
        map_url=url_for("rivers.river_map", key=code, **extra),
        pdf_url=url_for("rivers.river_pdf", key=code),
        json_url=url_for("rivers.river_json", key=code, **extra),
        lang_url=url_for("rivers.river_page", key=code, **({} if language == "en" else {"lang": "en"})),
        query_url=url_for("query.near", target=d.target, distance=int(PROBLEM_DISTANCE_M)),
        href=lambda rec, thumb=False: file_href(request.script_root, rec, thumbnail=thumb),
    )
    return html, 200, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/collections/violations/items/<feature_id>/case.pdf")
def case_pdf(feature_id: str):
    """The 交办单 of one violation (its fid), as one A4 page."""
    from geo.casesheet import render_case_pdf

    language = _lang()
    text = feature_id.strip()
    if not text.isdigit() or int(text) > MAX_FID:
        raise NotFoundError(key="rivers.case_no_feature", params={"value": repr(feature_id[:40])},
                            layer="violations", fid=feature_id[:40])
    check_export(CASE_LAYERS)
    reg = registry()
    feature = reg.get("violations", int(text))
    code = str(feature["properties"]["code"])
    data = render_case_pdf(reg, [code], language)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"case-{quote(code, safe='')}.pdf\""})


@bp.get("/signboards.pdf")
def signboards_pdf():
    """Printable signboard sheets (``?river=`` one river's), their QR codes opening
    ``PUBLIC_BASE_URL``/rivers/{reach code} (default: this server's address)."""
    from flask import current_app

    from geo.signboards import render_signboards_pdf, signboard_sheets

    language = _lang()
    check_export(("signboards", "rivers", "chiefs"))
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/") + request.script_root
    boards = signboard_sheets(registry(), base, (request.args.get("river") or "").strip()[:200] or None, language)
    return Response(render_signboards_pdf(registry(), boards), mimetype="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="signboards.pdf"'})
