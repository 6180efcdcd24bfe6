"""``/patrols``: import chiefs' tracks, reach coverage and duty over HTTP.

- ``POST /patrols/import`` (multipart: ``file`` one or more times, ``chief``, optional
  ``crs`` wgs84|gcj02|bd09, ``source``, ``dry_run``): the ``field`` role or above. All or
  nothing, like ``hehu patrols import``; 201 with the patrols written, 200 for a dry run.
- ``GET /patrols/coverage?from=&to=[&river=][&buffer=50]``: a GeoJSON FeatureCollection,
  one feature per reach, its geometry the uncovered stretches and its properties
  ``code, name, length_m, covered_m, share``.
- ``GET /patrols/chiefs?reach=CODE|chief=NAME[&from=&to=][&last=5]``: the chiefs of a
  reach (or one chief) with their waters, last patrols and duty in the period (by
  default the month of the newest patrol): what the map's chief popup shows.
- ``GET /patrols/duty?from=&to=``: ``{"chiefs": [{chief, level, required, done, met}],
  "rate": [{level, chiefs, met, rate}]}``.

The tracks themselves are the ``patrols`` collection of the OGC API.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from geo.errors import QueryError, ValidationError
from geo.i18n import message
from geo.values import parse_bool
from server.auth import require
from server.context import check_parameter_names, lang, registry

bp = Blueprint("patrols", __name__, url_prefix="/patrols")

PARAMETERS = {
    "coverage": ("from", "to", "river", "buffer", "lang", "f"),
    "duty": ("from", "to", "lang", "f"),
    "chiefs": ("reach", "chief", "from", "to", "last", "lang", "f"),
}
#: Endpoints whose period is required (the chiefs' defaults to the newest patrol's month).
PERIOD_REQUIRED = ("coverage", "duty")


@bp.before_request
def _check_parameters() -> None:
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    known = PARAMETERS.get(endpoint)
    if known is None:
        return
    check_parameter_names(known)
    if endpoint not in PERIOD_REQUIRED:
        return
    for name in ("from", "to"):
        if not request.args.get(name):
            raise QueryError(key="patrols.period_required", params={"name": name}, parameter=name)


@bp.route("/import", methods=["POST"])
def import_tracks_view():
    """Import uploaded track files for one chief (all or nothing)."""
    from geo.patrols.importing import import_tracks

    user = require("field")
    uploads = [f for f in request.files.getlist("file") if f and f.filename]
    if not uploads:
        raise ValidationError(key="patrols.import_no_file", field="file")
    chief = request.form.get("chief", "").strip()
    if not chief:
        raise ValidationError(key="patrols.import_no_chief", field="chief")
    files = [(f.filename, f.read()) for f in uploads]
    result = import_tracks(
        registry(),
        files,
        chief,
        crs=(request.form.get("crs") or "wgs84").strip().lower(),
        source=request.form.get("source") or None,
        dry_run=parse_bool(request.form.get("dry_run")) is True,
        user=user.name,
        lang=lang(),
    )
    return jsonify(result.to_json()), 201 if result.written else 200


@bp.route("/coverage", methods=["GET"])
def coverage():
    from geo.patrols.report import coverage_report

    result = coverage_report(
        registry(), request.args["from"], request.args["to"],
        river=request.args.get("river") or None, buffer_m=request.args.get("buffer"), lang=lang(),
    )
    features = []
    for r in result:
        body = r.to_json()
        geometry = body.pop("uncovered")
        features.append({"type": "Feature", "id": r.code, "properties": body, "geometry": geometry})
    out = {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}
    return Response(json.dumps(out, ensure_ascii=False), mimetype="application/geo+json")


@bp.route("/duty", methods=["GET"])
def duty():
    from geo.patrols.report import duty_report

    table, rate = duty_report(registry(), request.args["from"], request.args["to"], lang=lang())
    chiefs = [
        {"chief": r.chief, "level": r.level, "required": int(r.required), "done": int(r.done), "met": bool(r.met)}
        for r in table.itertuples()
    ]
    rates = [
        {"level": r.level, "chiefs": int(r.chiefs), "met": int(r.met), "rate": round(float(r.rate), 4)}
        for r in rate.itertuples()
    ]
    return jsonify({"chiefs": chiefs, "rate": rates})


@bp.route("/chiefs", methods=["GET"])
def chiefs():
    """A reach's chiefs (or one chief): waters, last patrols, duty in the period."""
    from geo.patrols.chiefs import LAST_PATROLS, chief_summaries

    reach, chief = request.args.get("reach", "").strip(), request.args.get("chief", "").strip()
    if not reach and not chief:
        raise QueryError(message("patrols.chiefs_target", lang()), parameter="reach")
    raw_last = request.args.get("last", str(LAST_PATROLS))
    if not raw_last.isdigit() or not 1 <= int(raw_last) <= 50:
        raise QueryError(message("patrols.chiefs_last", lang(), value=raw_last), parameter="last")
    found = chief_summaries(
        registry(), reach=reach or None, chief=chief or None,
        start=request.args.get("from"), end=request.args.get("to"), last=int(raw_last), lang=lang(),
    )
    return jsonify({"chiefs": found, "numberReturned": len(found)})
