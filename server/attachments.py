"""Attachments over HTTP: photos and PDFs on any feature (geo/attachments.py does the work).

``POST /collections/{id}/items/{fid}/attachments`` takes one file (multipart field
``file``, with ``kind`` before/after/other) from the ``field`` role and up;
``GET .../attachments`` lists them with links; ``GET .../attachments/{aid}`` sends the
bytes (``?size=thumb`` the 320 px thumbnail) with a strong ETag (the content's SHA-256)
and a long private cache, since an attachment never changes (a new photo is a new id);
``DELETE .../attachments/{aid}`` is for editors. Writes need the CSRF token when signed
in by session, like every other write.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from geo import attachments
from geo.attachments import AttachmentError, check_size
from geo.errors import ValidationError
from server.auth import require
from server.context import check_parameter_names, lang, registry

bp = Blueprint("attachments", __name__)

#: Multipart framing around the file: headers, boundary, the kind field.
_MULTIPART_SLACK = 64 * 1024


def _fid(layer_id: str, fid: str) -> int:
    try:
        return int(fid)
    except ValueError:
        raise ValidationError(key="attachments.fid_number", layer=layer_id, field="fid", value=fid) from None


def _aid(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationError(key="attachments.aid_number", field="attachment", value=value) from None


def _max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES") or attachments.DEFAULT_MAX_BYTES)


def _links(layer_id: str, fid: int, rec: dict) -> list[dict]:
    base = f"{request.script_root}/collections/{layer_id}/items/{fid}/attachments/{rec['id']}"
    links = [
        {"rel": "self", "href": f"{base}?f=json", "type": "application/json"},
        {"rel": "enclosure", "href": base, "type": rec["content_type"], "title": rec["name"], "length": rec["size"]},
    ]
    if rec["content_type"].startswith("image/"):
        links.append({"rel": "preview", "href": f"{base}?size=thumb", "type": "image/jpeg"})
    return links


def _json(layer_id: str, fid: int, rec: dict) -> dict:
    out = {k: v for k, v in rec.items() if k not in ("layer",)}
    out["kind_label"] = attachments.kind_label(rec["kind"], lang())
    out["links"] = _links(layer_id, fid, rec)
    return out


@bp.route("/collections/<layer_id>/items/<fid>/attachments", methods=["GET"])
def list_attachments(layer_id: str, fid: str):
    """The files of one feature, oldest first, each with self / bytes / thumbnail links."""
    check_parameter_names(["f", "lang"])
    reg = registry()
    layer = reg.layer(layer_id)
    fid_int = _fid(layer.id, fid)
    records = attachments.listing(reg, layer.id, fid_int)
    return jsonify({
        "layer": layer.id,
        "fid": fid_int,
        "attachments": [_json(layer.id, fid_int, r) for r in records],
        "links": [{"rel": "collection", "href": f"{request.script_root}/collections/{layer.id}/items/{fid_int}", "type": "application/geo+json"}],
    })


@bp.route("/collections/<layer_id>/items/<fid>/attachments", methods=["POST"])
def add_attachment(layer_id: str, fid: str):
    """Store one uploaded file on the feature; 201 with its record and Location."""
    reg = registry()
    layer = reg.layer(layer_id)
    user = require("field")
    fid_int = _fid(layer.id, fid)
    limit = _max_bytes()
    # Refused before the body is read when the declared length is already too much.
    if request.content_length and request.content_length > limit + _MULTIPART_SLACK:
        check_size(request.content_length, "upload", limit)
    reg.get(layer.id, fid_int)  # 404 naming the feature before the body is parsed
    upload = request.files.get("file")
    if upload is None:
        raise AttachmentError(key="attachments.no_file", field="file")
    data = upload.stream.read(limit + 1)
    check_size(len(data), upload.filename or "upload", limit)
    rec = attachments.add(reg, layer.id, fid_int, data, upload.filename, request.form.get("kind"), user=user.name, max_bytes=limit)
    resp = jsonify(_json(layer.id, fid_int, rec))
    resp.status_code = 201
    resp.headers["Location"] = f"{request.script_root}/collections/{layer.id}/items/{fid_int}/attachments/{rec['id']}"
    return resp


@bp.route("/collections/<layer_id>/items/<fid>/attachments/<aid>", methods=["GET"])
def get_attachment(layer_id: str, fid: str, aid: str):
    """The file's bytes (``?size=thumb``: the thumbnail; ``?f=json``: its record)."""
    check_parameter_names(["size", "f", "lang"])
    reg = registry()
    layer = reg.layer(layer_id)
    fid_int, aid_int = _fid(layer.id, fid), _aid(aid)
    size = request.args.get("size")
    if size not in (None, "thumb", "full"):
        raise ValidationError(key="attachments.bad_size", field="size", value=size)
    fmt = request.args.get("f")
    if fmt not in (None, "json"):
        raise ValidationError(key="attachments.bad_f", field="f", value=fmt)
    thumb = size == "thumb"
    rec, data = attachments.get(reg, layer.id, fid_int, aid_int, thumbnail=thumb)
    if fmt == "json":
        return jsonify(_json(layer.id, fid_int, attachments.with_distance(reg, rec)))
    if thumb and data is None:  # a PDF has no thumbnail: the client shows its own icon
        raise ValidationError(key="attachments.no_thumbnail", field="size", value=size)
    etag = rec["sha256"] + ("-thumb" if thumb else "")
    resp = Response(data, mimetype="image/jpeg" if thumb else rec["content_type"])
    resp.set_etag(etag)
    # Content-addressed: the bytes behind an id never change, so caches may keep them.
    resp.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    name = rec["name"]
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "ignore").decode() or f"attachment-{rec['id']}"
    resp.headers["Content-Disposition"] = f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    # A PDF or image served from our origin must not run anything.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    return resp.make_conditional(request)


@bp.route("/collections/<layer_id>/items/<fid>/attachments/<aid>", methods=["DELETE"])
def delete_attachment(layer_id: str, fid: str, aid: str):
    """Remove one file (editor and up); its record stays in the feature's history."""
    reg = registry()
    layer = reg.layer(layer_id)
    user = require("editor")
    attachments.delete(reg, layer.id, _fid(layer.id, fid), _aid(aid), user=user.name)
    return "", 204
