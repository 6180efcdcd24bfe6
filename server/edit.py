"""Writing features over HTTP, in the style of OGC API – Features Part 4.

``POST /collections/{id}/items`` adds a feature; ``PUT``, ``PATCH`` and ``DELETE`` on
``/collections/{id}/items/{fid}`` replace, change and remove one. Every response with a
feature carries its ``ETag`` (:func:`geo.etag.feature_etag`, the same tag the read API
sends); every change to an existing feature needs it back in ``If-Match``: without it
the answer is 428, with a stale one 412 and the current feature, so two editors never
overwrite each other silently. Status changes follow :mod:`geo.lifecycle`, through
``POST .../transition`` or a plain edit alike, and every write lands in the history
(``GET .../history``).

``POST /import`` takes a file upload for administrators (the same importer as
``hehu import``); ``GET /import`` is its form.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from geo.attachments import check_close_evidence
from geo.errors import ConflictError, HehuError, ValidationError
from geo.etag import feature_etag
from geo.features import feature_from_record
from geo.importer.report import Said
from geo.item_params import _CRS84_NAMES as CRS84_NAMES
from geo.item_params import CRS84
from geo.lifecycle import LIFECYCLES, check_edit, describe, lifecycle, plan_transition
from geo.references import add_with_code
from geo.validate import validate_properties
from geo.values import parse_bool
from layers import load_catalog
from server.auth import current_user, require, wants_html
from server.context import lang, registry

bp = Blueprint("edit", __name__)

#: Layers the ``field`` role may add features to (``edit_role: field`` in the catalog:
#: field teams report violations).
FIELD_LAYERS = tuple(layer.id for layer in load_catalog() if layer.edit_role == "field")


class PreconditionRequired(HehuError):
    status = 428
    code = "precondition-required"


class UploadTooLarge(HehuError):
    status = 413
    code = "upload-too-large"


# -- helpers ------------------------------------------------------------------------------


def feature_json(layer_id: str, feature: dict[str, Any]) -> dict[str, Any]:
    """The written feature as GeoJSON (geo.features, id = fid) with its ``self`` link."""
    out = feature_from_record(feature)
    out["links"] = [{"rel": "self", "href": f"/collections/{layer_id}/items/{feature.get('fid')}"}]
    return out


def _feature_response(layer_id: str, feature: dict[str, Any], status: int = 200):
    resp = jsonify(feature_json(layer_id, feature))
    resp.status_code = status
    resp.mimetype = "application/geo+json"
    resp.set_etag(feature_etag(feature))
    return resp


def _check_content_crs() -> None:
    """Refuse a body whose ``Content-Crs`` (OGC API – Features Part 4) is not CRS84.

    Features are written in longitude/latitude, WGS84; coordinates declared in another
    CRS (EPSG:4549 metres, EPSG:4326 in its latitude-first order...) would otherwise be
    misread without a word. ``hehu import --crs`` converts files from those CRSs.
    """
    raw = request.headers.get("Content-Crs")
    if raw is None:
        return
    if raw.strip().strip("<>").strip() not in CRS84_NAMES:
        raise ValidationError(
            key="edit.content_crs",
            params={"crs": repr(raw.strip()[:100]), "crs84": CRS84},
            field="Content-Crs",
        )


def _body() -> dict[str, Any]:
    _check_content_crs()
    try:
        data = request.get_json(force=True, silent=True)
    except RecursionError:  # the decoder's answer to "[[[[…" thousands deep
        raise ValidationError(key="edit.body_too_deep", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError(key="edit.body_not_object", field="body")
    return data


def _properties(data: dict[str, Any], layer_id: str, required: bool = True) -> dict[str, Any]:
    props = data.get("properties", {} if not required else None)
    if props is None and required:
        raise ValidationError(key="edit.properties_missing", layer=layer_id, field="properties")
    if not isinstance(props, dict):
        raise ValidationError(key="edit.properties_not_object", layer=layer_id, field="properties")
    for key, value in props.items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ValidationError(
                key="edit.property_value_type",
                layer=layer_id,
                field=str(key),
                value=str(value)[:40],
            )
    return props


def _current_for_write(layer_id: str, fid: Any) -> dict[str, Any]:
    """The feature as stored, after checking ``If-Match`` against it (428/412)."""
    current = registry().get(layer_id, fid)
    if not request.if_match:
        raise PreconditionRequired(
            key="edit.if_match_missing",
            params={"layer": layer_id, "fid": current["fid"]},
            layer=layer_id,
            fid=current["fid"],
        )
    if request.if_match.star_tag:
        # RFC 9110 13.1.1: "*" matches any current representation, so on a feature that
        # exists it is always true and protects nothing. The editing API exists to stop
        # lost updates: it wants the ETag of the version the client read (docs/security.md).
        raise PreconditionRequired(
            key="edit.if_match_star",
            params={"layer": layer_id, "fid": current["fid"]},
            layer=layer_id,
            fid=current["fid"],
        )
    if not request.if_match.contains(feature_etag(current)):
        raise ConflictError(
            key="edit.changed_since_read",
            params={"layer": layer_id, "fid": current["fid"]},
            layer=layer_id,
            fid=current["fid"],
            current=feature_json(layer_id, current),
        )
    return current


def _size(n: int, language: str | None = None) -> str:
    """``50 MB``, ``200 KB``, ``900 bytes`` (``900 字节``): a limit as a person reads it."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} {'bytes' if language == 'en' else '字节'}"


def _upload_name(filename: str) -> str:
    """The uploaded file's own name, made safe to save: the importer's messages name it.

    Only the last path component is kept, and only letters (Chinese too), digits and
    ``. _ - ( )``; the last two suffixes (``.shp.zip``) survive so the format is known.
    """
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    safe = "".join(ch for ch in base if ch.isalnum() or ch in "._-()（）")[:120].lstrip(".")
    suffix = "".join(Path(base).suffixes[-2:]).lower()
    suffix = "".join(ch for ch in suffix if ch.isalnum() or ch == ".")[:16]
    if not safe or not suffix or not safe.lower().endswith(suffix):
        return "upload" + (suffix or ".bin")
    return safe


def _check_closing(layer_id: str, current: dict[str, Any], changes: dict[str, Any]) -> None:
    """A move to 已销号 needs an "after" photo when CLOSE_REQUIRES_PHOTO is on (default)."""
    lc = lifecycle(layer_id)
    if lc is None or changes.get(lc.field) in (None, current["properties"].get(lc.field)):
        return
    required = bool(current_app.config.get("CLOSE_REQUIRES_PHOTO", True))
    check_close_evidence(registry(), layer_id, current["fid"], changes[lc.field], required=required)


def _write_role(layer_id: str) -> str:
    return "field" if layer_id in FIELD_LAYERS else "editor"


@bp.app_errorhandler(ConflictError)
def _conflict(exc: ConflictError):
    body = exc.to_dict(lang())
    resp = jsonify(body)
    resp.status_code = exc.status
    current = body.get("current")
    if isinstance(current, dict) and "properties" in current:
        resp.set_etag(feature_etag(current))
    return resp


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    err = UploadTooLarge(key="edit.body_too_large", params={"limit": _size(limit, lang())}, limit_bytes=limit)
    if request.endpoint == "edit.import_upload" and wants_html():  # the form: say it on the page
        html = render_template(
            "edit/import.html", layers=registry().layers, lang=lang(), report=None, error=err.render(lang())
        )
        return html, 413
    resp = jsonify(err.to_dict(lang()))
    resp.status_code = 413
    return resp


# -- features -------------------------------------------------------------------------------


@bp.route("/collections/<layer_id>/items", methods=["POST"])
def create_item(layer_id: str):
    """Add one feature (GeoJSON Feature body); 201 with Location and ETag."""
    reg = registry()
    layer = reg.layer(layer_id)
    user = require(_write_role(layer.id))
    data = _body()
    props = dict(_properties(data, layer.id))
    lc = lifecycle(layer.id)
    if lc is not None:
        first = next(iter(lc.steps))
        props.setdefault(lc.field, first)
        if not user.can("editor") and props.get(lc.field) != first:
            raise ValidationError(
                key="edit.new_starts_as",
                params={"first": first},
                layer=layer.id,
                field=lc.field,
                value=props.get(lc.field),
            )
    if "geometry" not in data:
        raise ValidationError(key="edit.geometry_missing", layer=layer.id, field="geometry")
    # A violation's code may be left out: generated (QSL-YYYY-NNNN), unique under concurrency.
    fid = add_with_code(reg, layer.id, props, data["geometry"], user=user.name)
    resp = _feature_response(layer.id, reg.get(layer.id, fid), 201)
    resp.headers["Location"] = f"/collections/{layer.id}/items/{fid}"
    return resp


@bp.route("/collections/<layer_id>/items/<fid>", methods=["PUT"])
def replace_item(layer_id: str, fid: str):
    """Replace a feature's properties and geometry (fields left out become empty)."""
    reg = registry()
    layer = reg.layer(layer_id)
    user = require("editor")
    data = _body()
    props = _properties(data, layer.id)
    validate_properties(layer, props)  # a replacement must be complete
    if data.get("geometry") is None:
        raise ValidationError(key="edit.geometry_missing", layer=layer.id, field="geometry")
    current = _current_for_write(layer.id, fid)
    full = {f.name: props.get(f.name) for f in layer.fields}
    full = check_edit(layer.id, current["properties"], full)
    _check_closing(layer.id, current, full)
    after = reg.update(layer.id, current["fid"], full, data["geometry"], user=user.name, expected=current)
    return _feature_response(layer.id, after)


@bp.route("/collections/<layer_id>/items/<fid>", methods=["PATCH"])
def patch_item(layer_id: str, fid: str):
    """Change some properties and/or the geometry (JSON merge-patch style)."""
    reg = registry()
    layer = reg.layer(layer_id)
    user = require("editor")
    data = _body()
    if "properties" not in data and "geometry" not in data:
        raise ValidationError(key="edit.nothing_to_change", layer=layer.id, field="body")
    props = _properties(data, layer.id, required=False)
    if "geometry" in data and data["geometry"] is None:
        raise ValidationError(key="edit.geometry_removed", layer=layer.id, field="geometry")
    current = _current_for_write(layer.id, fid)
    props = check_edit(layer.id, current["properties"], props)
    _check_closing(layer.id, current, props)
    after = reg.update(
        layer.id, current["fid"], props, data.get("geometry"), user=user.name, expected=current
    )
    return _feature_response(layer.id, after)


@bp.route("/collections/<layer_id>/items/<fid>", methods=["DELETE"])
def delete_item(layer_id: str, fid: str):
    """Delete a feature (its history stays)."""
    reg = registry()
    layer = reg.layer(layer_id)
    user = require("editor")
    current = _current_for_write(layer.id, fid)
    reg.delete(layer.id, current["fid"], user=user.name, expected=current)
    return "", 204


# -- lifecycle ----------------------------------------------------------------------------------


@bp.route("/collections/<layer_id>/items/<fid>/transition", methods=["GET"])
def transitions(layer_id: str, fid: str):
    """The feature's status and the moves allowed from it (with the fields each needs)."""
    reg = registry()
    layer = reg.layer(layer_id)
    lc = lifecycle(layer.id)
    if lc is None:
        raise ValidationError(
            key="edit.no_lifecycle",
            params={"layer": layer.id, "layers": ", ".join(LIFECYCLES)},
            layer=layer.id,
        )
    current = reg.get(layer.id, fid)
    status = current["properties"].get(lc.field)
    resp = jsonify({"fid": current["fid"], "status": status, "allowed": describe(layer.id, status)})
    resp.set_etag(feature_etag(current))
    return resp


@bp.route("/collections/<layer_id>/items/<fid>/transition", methods=["POST"])
def transition(layer_id: str, fid: str):
    """Move the feature's status along its lifecycle: ``{"to": "已交办", "unit": ..., ...}``."""
    reg = registry()
    layer = reg.layer(layer_id)
    user = require("field")
    lc = lifecycle(layer.id)
    if lc is None:
        raise ValidationError(
            key="edit.no_lifecycle",
            params={"layer": layer.id, "layers": ", ".join(LIFECYCLES)},
            layer=layer.id,
        )
    data = _body()
    target = data.get("to", data.get("status"))
    if not isinstance(target, str) or not target:
        raise ValidationError(key="edit.say_status", layer=layer.id, field="to")
    given = {k: v for k, v in data.items() if k not in ("to", "status")}
    _properties({"properties": given}, layer.id)
    current = _current_for_write(layer.id, fid)
    step = next((s for s in lc.allowed(current["properties"].get(lc.field)) if s.to == target), None)
    if step is None:  # refused, listing the allowed moves
        plan_transition(layer.id, current["properties"], target, {})
    allowed_fields = {"note"} if layer.has_field("note") else set()
    allowed_fields |= set(step.requires) | set(step.sets)
    extra = sorted(set(given) - allowed_fields)
    if extra:
        raise ValidationError(
            key="edit.transition_fields" if allowed_fields else "edit.transition_status_only",
            params={"fields": ", ".join(sorted(allowed_fields))},
            layer=layer.id,
            field=extra[0],
        )
    changes = plan_transition(layer.id, current["properties"], target, given)
    _check_closing(layer.id, current, changes)
    after = reg.update(layer.id, current["fid"], changes, None, user=user.name, expected=current)
    return _feature_response(layer.id, after)


# -- history ------------------------------------------------------------------------------------


def _diff(before: dict | None, after: dict | None) -> dict[str, list[Any]]:
    bp_ = (before or {}).get("properties") or {}
    ap = (after or {}).get("properties") or {}
    changes = {k: [bp_.get(k), ap.get(k)] for k in sorted(set(bp_) | set(ap)) if bp_.get(k) != ap.get(k)}
    if "attachment" in (before or {}) or "attachment" in (after or {}):  # a photo added or removed
        return {"attachment": [_attachment_text((before or {}).get("attachment")), _attachment_text((after or {}).get("attachment"))]}
    if (before or {}).get("geometry") != (after or {}).get("geometry"):
        changes["geometry"] = [(before or {}).get("geometry"), (after or {}).get("geometry")]
    return changes


@bp.route("/collections/<layer_id>/items/<fid>/history", methods=["GET"])
def history(layer_id: str, fid: str):
    """Every change to one feature, oldest first: who, when, what changed, before/after."""
    reg = registry()
    layer = reg.layer(layer_id)
    try:
        fid_int = int(fid)
    except ValueError:
        raise ValidationError(key="edit.fid_whole_number", layer=layer.id, field="fid", value=fid) from None
    rows = reg.history(layer.id, fid_int)
    current = reg.store.get(layer, fid_int)
    if not rows and current is None:
        reg.get(layer.id, fid_int)  # 404 naming the feature
    entries = [
        {
            "id": r["id"],
            "op": r["op"],
            "user": r["user"],
            "at": r["at"],
            "changes": _diff(r["before"], r["after"]),
            "before": r["before"],
            "after": r["after"],
        }
        for r in rows
    ]
    fmt = request.args.get("f")
    if fmt not in (None, "json", "html"):
        raise ValidationError(key="edit.bad_format", layer=layer.id, field="f", value=fmt)
    if fmt == "html" or (fmt is None and wants_html()):
        return _history_page(layer, fid_int, current, entries)
    resp = jsonify({"layer": layer.id, "fid": fid_int, "exists": current is not None, "history": entries})
    if current is not None:
        resp.set_etag(feature_etag(current))
    return resp


_OPS = {"zh": {"add": "新增", "update": "修改", "delete": "删除"}, "en": {"add": "added", "update": "changed", "delete": "deleted"}}
_OPS["zh"].update(attach="添加附件", detach="删除附件")
_OPS["en"].update(attach="attachment added", detach="attachment removed")


def _attachment_text(record: dict | None) -> str | None:
    """``整改后 · IMG_0001.jpg (#3)``: an attachment as one line of the history."""
    if not record:
        return None
    from geo.attachments import kind_label

    return f"{kind_label(record.get('kind') or 'other', lang())} · {record.get('name')} (#{record.get('id')})"


def local_time(at: Any) -> str:
    """A stored UTC time as people in Jintan read it: Asia/Shanghai, to the second."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    try:
        when = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return str(at)[:19].replace("T", " ")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")


def _history_page(layer, fid: int, current: dict[str, Any] | None, entries: list[dict[str, Any]]):
    """The history as a page a person reads (newest first, fields by their titles)."""
    language = lang()
    titles = {f.name: f.title(language) for f in layer.fields}
    titles["geometry"] = "位置" if language == "zh" else "geometry"
    titles["attachment"] = "附件" if language == "zh" else "attachment"
    last = (current or (entries[-1]["before"] if entries else None) or {}).get("properties") or {}
    label = last.get(layer.label_field) or last.get(layer.id_field) or f"#{fid}"
    html = render_template(
        "edit/history.html",
        layer=layer,
        fid=fid,
        exists=current is not None,
        entries=entries,
        titles=titles,
        ops=_OPS[language],
        label=label,
        lang=language,
        local_time=local_time,
    )
    return html, 200, {"Content-Type": "text/html; charset=utf-8"}


# -- import -------------------------------------------------------------------------------------

#: A path in the server's temporary folder (where uploads are unpacked), up to the end
#: of the path: GDAL and the zip readers name the file they could not read.
_TEMP_PATH = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^\s'\"()<>;,]*")


def _without_temporary_paths(value: Any) -> Any:
    """``value`` with every server temporary path shortened to its file name."""
    if isinstance(value, Said):  # a report's note or hint: keep its Chinese text
        return Said.pair(_without_temporary_paths(str(value)), _without_temporary_paths(value.zh))
    if isinstance(value, str):
        return _TEMP_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], value)
    if isinstance(value, list):
        return [_without_temporary_paths(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_temporary_paths(v) for k, v in value.items()}
    return value


def _hide_temporary_paths(obj: Any) -> None:
    """Scrub an import error or report in place: where the server unpacks an upload is
    none of the client's business (and tells an attacker about the machine)."""
    if isinstance(obj, HehuError):
        obj.message = _without_temporary_paths(obj.message)
        obj.args = (obj.message,)
        obj.details = _without_temporary_paths(obj.details)
        obj.params = _without_temporary_paths(obj.params)  # rendered in the request's language
        if hasattr(obj, "_bare"):
            obj._bare = _without_temporary_paths(obj._bare)
        return
    for name, value in list(vars(obj).items()):
        if isinstance(value, list) and value and hasattr(value[0], "__dict__"):
            for item in value:  # the report's problems
                _hide_temporary_paths(item)
        elif isinstance(value, (str, list, dict)):
            setattr(obj, name, _without_temporary_paths(value))


#: Upload form fields and the importer options they set.
_FLAGS = ("update", "skip_invalid", "dry_run", "strict")


def _flag(name: str) -> bool:
    return parse_bool(request.form.get(name)) is True


@bp.route("/import", methods=["GET"])
def import_page():
    """The upload form (administrators)."""
    if current_user() is None and wants_html():
        return redirect(url_for("auth.login", next="/import"))
    require("admin")
    reg = registry()
    return render_template("edit/import.html", layers=reg.layers, lang=lang(), report=None)


@bp.route("/import", methods=["POST"])
def import_upload():
    """Import an uploaded file into a layer; the answer is the validation report."""
    from geo.importer import ImportOptions, import_file, parse_mapping

    user = require("admin")
    reg = registry()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError(key="edit.import_no_file", field="file")
    layer_id = request.form.get("layer", "").strip()
    if not layer_id:
        raise ValidationError(key="edit.import_no_layer", field="layer")
    reg.layer(layer_id)
    maps = [line for line in request.form.get("map", "").replace(",", "\n").splitlines() if line.strip()]
    options = ImportOptions(
        crs=request.form.get("crs") or None,
        encoding=request.form.get("encoding") or None,
        mapping=parse_mapping(maps),
        update=_flag("update"),
        skip_invalid=_flag("skip_invalid"),
        dry_run=_flag("dry_run"),
        strict=_flag("strict"),
        source_layer=request.form.get("source_layer") or None,
    )
    tmp = Path(tempfile.mkdtemp(prefix="hehu-upload-"))
    try:
        path = tmp / _upload_name(upload.filename)
        upload.save(path)
        report = import_file(reg, path, layer_id, options, user=user.name, source_name=upload.filename)
        rejects_csv = None
        if report.rejects_path:  # written in the upload's temporary folder: send it back
            rejects_csv = Path(report.rejects_path).read_text(encoding="utf-8-sig")
            report.rejects_path = None
    except HehuError as exc:
        _hide_temporary_paths(exc)
        if not wants_html():
            raise
        html = render_template("edit/import.html", layers=reg.layers, lang=lang(), report=None, error=exc.render(lang()))
        return html, exc.status
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    status = 200 if report.ok or report.written else 400
    _hide_temporary_paths(report)
    if wants_html():
        html = render_template("edit/import.html", layers=reg.layers, lang=lang(), report=report)
        return html, status
    body = report.to_dict()
    # The report as a person reads it, in the request's language (the fields above stay
    # as they were for programs: English messages, with each problem's Chinese one).
    body["summary"] = report.summary(lang())
    body["text"] = report.text(lang())
    if rejects_csv is not None:
        body["rejects_csv"] = rejects_csv
    resp = jsonify(body)
    resp.status_code = status
    return resp
