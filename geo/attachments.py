"""Attachments: photos (and PDFs) on features, checked, cleaned and measured.

A 清四乱 problem is found with a photo and closed only when a photo shows it fixed.
What comes in from a phone is not trusted: its type is read from the first bytes (never
from the file name or the browser's Content-Type), images are decoded in full with
Pillow to prove they are images, and what is stored is a clean file:

- **JPEG**: the APP1–APP15 and COM segments (EXIF, XMP, maker notes, the phone's
  serial number, an embedded preview) are cut and bytes after the end-of-image marker
  dropped, *without re-encoding*, so the pixels are exactly the camera's. A photo
  whose EXIF orientation is not "upright" is turned upright and re-encoded (JPEG
  quality :data:`JPEG_QUALITY`), since without its EXIF it could no longer be shown
  the right way up.
- **PNG**: decoded and written again (lossless: same pixels, no text chunks).
- **HEIC** (iPhone): decoded with pillow-heif and stored as a JPEG.
- **PDF**: kept as sent, after checking it starts with ``%PDF-`` and has ``%%EOF``.

What hehu keeps of the metadata goes into the record instead: the time the photo was
taken and where (EXIF GPS, WGS84), so the map can show the photo against the feature
with the distance between them (:func:`distance_m`, in EPSG:4549 metres). A 320 px
JPEG thumbnail is made on upload for the popup, the ledger and the KMZ.

>>> sniff(b"\\xff\\xd8\\xff\\xe0")
'jpeg'
>>> sniff(b"PK\\x03\\x04") is None
True
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.errors import HehuError, NotFoundError

#: Kinds of attachment; the Chinese words are accepted too.
KINDS = ("before", "after", "other")
KIND_ALIASES = {"整改前": "before", "整改后": "after", "其他": "other", "其它": "other"}
#: Default size limit (setting ATTACHMENT_MAX_BYTES): a 48 MP phone photo is ~15 MB.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: Decoded images beyond this many pixels are refused (a "decompression bomb").
MAX_PIXELS = 120_000_000
THUMBNAIL_PX = 320
JPEG_QUALITY = 90

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "heic": "image/heic", "pdf": "application/pdf"}


class AttachmentError(HehuError):
    """A file refused as an attachment (type, size, content or name)."""

    status = 400
    code = "bad-attachment"


class AttachmentTooLarge(AttachmentError):
    status = 413
    code = "attachment-too-large"


class UnsupportedAttachment(AttachmentError):
    status = 415
    code = "unsupported-attachment"


@dataclass
class Prepared:
    """A checked, cleaned file ready for the store."""

    data: bytes
    thumbnail: bytes | None
    record: dict[str, Any]


# -- type and size ------------------------------------------------------------------------


def sniff(head: bytes) -> str | None:
    """The file type from its first bytes: ``jpeg``, ``png``, ``heic``, ``pdf`` or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc"):
        return "heic"
    return None


def _describe(head: bytes) -> str:
    """What an unaccepted file looks like, for the refusal."""
    text = head[:256].lstrip().lower()
    if head.startswith(b"PK\x03\x04"):
        return "ZIP"
    if text.startswith(b"<svg") or b"<svg" in text or text.startswith(b"<?xml"):
        return "SVG/XML"
    if text.startswith(b"<"):
        return "HTML"
    if head.startswith(b"GIF8"):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    return "unknown"


def human_size(n: int) -> str:
    """``20 MB``, ``512 KB``, ``900 bytes``."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def check_size(size: int | None, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse a file over ``max_bytes`` (413): called with the declared length before
    the body is read, and again with the real length."""
    if size is not None and size > max_bytes:
        raise AttachmentTooLarge(
            key="attachments.too_large",
            params={"name": name, "size": human_size(size), "limit": human_size(max_bytes)},
            limit_bytes=max_bytes,
        )


def safe_name(name: str | None, kind: str = "jpeg") -> str:
    """The file's own name, refused when it carries a path (``../x.jpg``, ``C:\\x``).

    Only letters (Chinese too), digits and ``. _ - ( )`` are kept; the extension follows
    what the file really is (a HEIC becomes ``.jpg``).
    """
    raw = (name or "").strip()
    if "/" in raw or "\\" in raw or raw.startswith("..") or ":" in raw or "\x00" in raw:
        raise AttachmentError(key="attachments.path_in_name", params={"name": raw}, field="file")
    stem = raw.rsplit(".", 1)[0] if "." in raw else raw
    stem = "".join(ch for ch in stem if ch.isalnum() or ch in "_-()（）")[:80] or "attachment"
    ext = {"jpeg": ".jpg", "heic": ".jpg", "png": ".png", "pdf": ".pdf"}[kind]
    return stem + ext


def parse_kind(value: Any) -> str:
    """``before`` / ``after`` / ``other`` (or 整改前 / 整改后 / 其他); default ``other``."""
    if value is None or str(value).strip() == "":
        return "other"
    v = str(value).strip()
    v = KIND_ALIASES.get(v, v.lower())
    if v not in KINDS:
        raise AttachmentError(key="attachments.bad_kind", params={"value": value}, field="kind", value=value)
    return v


# -- EXIF --------------------------------------------------------------------------------


def _ratio(v: Any) -> float:
    if isinstance(v, tuple) and len(v) == 2:
        return float(v[0]) / float(v[1]) if v[1] else math.nan
    return float(v)


def _dms(values: Any, ref: Any) -> float | None:
    try:
        d, m, s = (_ratio(x) for x in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    deg = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if str(ref).strip().upper() in ("S", "W"):
        deg = -deg
    return deg if math.isfinite(deg) else None


def read_exif(image) -> dict[str, Any]:
    """``taken_at`` (ISO, camera's local time) and ``lon``/``lat`` (WGS84, as phones
    record GPS) from a Pillow image's EXIF; missing values are None."""
    out: dict[str, Any] = {"taken_at": None, "lon": None, "lat": None, "orientation": 1}
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block is simply no EXIF
        return out
    out["orientation"] = int(exif.get(0x0112, 1) or 1)
    try:
        sub = exif.get_ifd(0x8769)
    except Exception:  # noqa: BLE001
        sub = {}
    when = sub.get(0x9003) or sub.get(0x9004) or exif.get(0x0132)
    if when:
        try:
            text = when.decode() if isinstance(when, bytes) else str(when)
            out["taken_at"] = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S").isoformat()
        except ValueError:
            pass
    try:
        gps = exif.get_ifd(0x8825)
    except Exception:  # noqa: BLE001
        gps = {}
    if gps and 2 in gps and 4 in gps:
        lat, lon = _dms(gps[2], gps.get(1, "N")), _dms(gps[4], gps.get(3, "E"))
        # 0,0 is what some phones write without a fix; outside China is no field photo here.
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0):
            out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
    return out


# -- cleaning ------------------------------------------------------------------------------


def _keep_segment(marker: int, body: bytes) -> bool:
    """Whether a JPEG segment before the image data stays: everything but metadata.

    APP1–APP15 and COM go (EXIF, XMP, maker notes, MPF pointers to more images, the
    phone's comments), except the two that change how the pixels are read: the ICC
    colour profile (APP2 ``ICC_PROFILE``) and Adobe's colour-transform flag (APP14
    ``Adobe``, which tells CMYK from YCCK)."""
    if marker == 0xFE:
        return False
    if 0xE1 <= marker <= 0xEF:
        return (marker == 0xE2 and body.startswith(b"ICC_PROFILE\x00")) or (marker == 0xEE and body.startswith(b"Adobe"))
    return True


def strip_jpeg(data: bytes) -> bytes:
    """A JPEG without its metadata segments and anything after its end, pixels untouched
    (the entropy-coded data is copied byte for byte).

    The walk follows the markers through every scan (a progressive JPEG has several,
    with tables between them) to the primary image's end-of-image marker, so the extra
    images some phones append after it (MPO previews, depth maps) are dropped too.
    """
    out = bytearray(b"\xff\xd8")
    i, n = 2, len(data)
    in_scan = False
    while i < n:
        if in_scan:
            # Entropy-coded data: 0xFF is followed by 0x00 (a stuffed byte) or a restart
            # marker inside it; any other marker ends the scan.
            j = data.find(b"\xff", i)
            while j != -1 and j + 1 < n and (data[j + 1] == 0x00 or 0xD0 <= data[j + 1] <= 0xD7 or data[j + 1] == 0xFF):
                j = data.find(b"\xff", j + (1 if data[j + 1] == 0xFF else 2))
            if j == -1 or j + 1 >= n:
                raise ValueError("no end-of-image marker")
            out += data[i:j]
            i, in_scan = j, False
            continue
        if data[i] != 0xFF:
            raise ValueError("broken JPEG marker")
        marker = data[i + 1] if i + 1 < n else None
        if marker is None:
            raise ValueError("no end-of-image marker")
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            out += b"\xff\xd9"
            return bytes(out)
        if i + 4 > n:
            raise ValueError("truncated JPEG segment")
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        segment = data[i : i + 2 + length]
        if len(segment) < 2 + length or length < 2:
            raise ValueError("truncated JPEG segment")
        if _keep_segment(marker, segment[4:]):
            out += segment
        i += 2 + length
        in_scan = marker == 0xDA
    raise ValueError("no end-of-image marker")


def _thumbnail(image) -> bytes:
    from PIL import Image

    thumb = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=80, optimize=True)
    return buf.getvalue()


def _open_image(data: bytes, kind: str, name: str):
    from PIL import Image, ImageOps

    if kind == "heic":
        try:
            import pillow_heif
        except ImportError:
            raise UnsupportedAttachment(key="attachments.heic_unsupported", params={"name": name}, field="file") from None
        pillow_heif.register_heif_opener()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
        if w * h > MAX_PIXELS:
            raise AttachmentError(
                key="attachments.too_many_pixels", params={"name": name, "pixels": w * h, "limit": MAX_PIXELS}, field="file"
            )
        image = Image.open(io.BytesIO(data))
        image.load()  # the whole image: a truncated or fake file fails here
    except AttachmentError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad data
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AttachmentError(
            key="attachments.not_an_image", params={"name": name, "kind": kind.upper(), "reason": reason[:160]}, field="file"
        ) from None
    meta = read_exif(image)
    upright = ImageOps.exif_transpose(image) if meta["orientation"] != 1 else image
    return image, upright, meta


def prepare(data: bytes, name: str | None, kind: Any = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Prepared:
    """Check and clean one uploaded file; returns the bytes to store, the thumbnail and
    the record (kind, name, content_type, size, sha256, taken_at, lon, lat).

    Raises :class:`AttachmentError` (400), :class:`AttachmentTooLarge` (413) or
    :class:`UnsupportedAttachment` (415) with a message in both languages.
    """
    shown = (name or "").strip() or "attachment"
    check_size(len(data), shown, max_bytes)
    if not data:
        raise AttachmentError(key="attachments.empty", params={"name": shown}, field="file")
    ftype = sniff(data[:32])
    if ftype is None:
        raise UnsupportedAttachment(key="attachments.bad_type", params={"name": shown, "found": _describe(data[:512])}, field="file")
    clean_name = safe_name(name, ftype)
    kind = parse_kind(kind)
    meta: dict[str, Any] = {"taken_at": None, "lon": None, "lat": None}
    thumb = None
    if ftype == "pdf":
        if b"%%EOF" not in data[-2048:]:
            raise AttachmentError(key="attachments.not_a_pdf", params={"name": shown}, field="file")
        out, content_type = data, CONTENT_TYPES["pdf"]
    else:
        image, upright, meta = _open_image(data, ftype, shown)
        if ftype == "jpeg" and meta["orientation"] == 1:
            try:
                out = strip_jpeg(data)
            except (ValueError, struct.error) as exc:
                raise AttachmentError(
                    key="attachments.not_an_image", params={"name": shown, "kind": "JPEG", "reason": str(exc)}, field="file"
                ) from None
            content_type = CONTENT_TYPES["jpeg"]
        elif ftype == "png":
            buf = io.BytesIO()
            upright.save(buf, "PNG", optimize=False)
            out, content_type = buf.getvalue(), CONTENT_TYPES["png"]
        else:  # a turned JPEG, or a HEIC: written as a fresh JPEG without metadata
            buf = io.BytesIO()
            rgb = upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright
            rgb.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
            out, content_type = buf.getvalue(), CONTENT_TYPES["jpeg"]
        thumb = _thumbnail(upright)
    record = {
        "kind": kind,
        "name": clean_name,
        "content_type": content_type,
        "size": len(out),
        "sha256": hashlib.sha256(out).hexdigest(),
        "taken_at": meta["taken_at"],
        "lon": meta["lon"],
        "lat": meta["lat"],
    }
    return Prepared(out, thumb, record)


# -- with a registry ------------------------------------------------------------------------


def distance_m(registry, layer_id: str, fid: int, lon: float | None, lat: float | None) -> float | None:
    """Metres (EPSG:4549) between a photo's EXIF position and the feature, or None."""
    if lon is None or lat is None:
        return None
    from shapely.geometry import Point

    from geo.crs import to_metric

    feature = registry.get(layer_id, fid)
    geom = feature["geometry"]
    if geom is None or geom.is_empty:
        return None
    a, b = to_metric([geom, Point(lon, lat)])
    return round(float(a.distance(b)), 1)


def add(registry, layer_id: str, fid: int, data: bytes, name: str | None, kind: Any = None, *,
        user: str, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Check, clean and store one file on a feature; returns its record with
    ``distance_m``. Nothing is stored when anything is refused."""
    layer = registry.layer(layer_id)
    fid = int(fid)
    registry.get(layer.id, fid)  # 404 naming the feature before any work
    prepared = prepare(data, name, kind, max_bytes=max_bytes)
    rec = registry.store.add_attachment(layer, fid, {**prepared.record, "uploader": user}, prepared.data, prepared.thumbnail, user=user)
    return with_distance(registry, rec)


def with_distance(registry, record: dict[str, Any]) -> dict[str, Any]:
    """The record with ``distance_m`` from its EXIF position to the feature (or None)."""
    try:
        d = distance_m(registry, record["layer"], record["fid"], record.get("lon"), record.get("lat"))
    except NotFoundError:
        d = None
    return {**record, "distance_m": d}


def listing(registry, layer_id: str, fid: int) -> list[dict[str, Any]]:
    """Records of the files on one feature (404 when the feature does not exist)."""
    layer = registry.layer(layer_id)
    feature = registry.get(layer.id, int(fid))
    records = registry.store.list_attachments(layer, int(fid))
    geom = feature["geometry"]
    if not records or geom is None or geom.is_empty:
        return [{**r, "distance_m": None} for r in records]
    from shapely.geometry import Point

    from geo.crs import to_metric

    located = [r for r in records if r.get("lon") is not None and r.get("lat") is not None]
    dist: dict[int, float] = {}
    if located:  # one projection for the feature and every photo
        metric = to_metric([geom, *(Point(r["lon"], r["lat"]) for r in located)])
        dist = {r["id"]: round(float(metric[0].distance(p)), 1) for r, p in zip(located, metric[1:], strict=True)}
    return [{**r, "distance_m": dist.get(r["id"])} for r in records]


def records_of(registry, layer_id: str, fids) -> dict[int, list[dict[str, Any]]]:
    """``{fid: [record, ...]}`` (oldest first) of the features ``fids`` of a layer that
    have files: one store query for a whole page, river or export, never one per feature."""
    fids = [int(f) for f in fids]
    if not fids:
        return {}
    return registry.store.attachments_by_fid(registry.layer(layer_id), fids)


def file_of(registry, attachment_id: int, *, thumbnail: bool = False) -> tuple[dict[str, Any], bytes | None] | None:
    """(record, bytes) of one file by its id (its 320 px thumbnail with ``thumbnail``), or
    None: for prints and exports that already hold the record from :func:`records_of`."""
    return registry.store.get_attachment(int(attachment_id), thumbnail=thumbnail)


def file_href(base_url: str, record: dict[str, Any], *, thumbnail: bool = False) -> str:
    """The address of a file's bytes (``?size=thumb``: its thumbnail) under ``base_url``
    (the server root, no trailing slash needed)."""
    href = f"{base_url.rstrip('/')}/collections/{record['layer']}/items/{record['fid']}/attachments/{record['id']}"
    return href + "?size=thumb" if thumbnail else href


def enclosure_links(base_url: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GeoJSON feature ``links`` to the files: ``rel: enclosure`` (a related resource that
    may be large, RFC 4287), the stored type, ``kind: name`` as title, before → after → other."""
    order = {k: i for i, k in enumerate(KINDS)}
    return [
        {"rel": "enclosure", "type": r["content_type"], "title": f"{r['kind']}: {r['name']}",
         "href": file_href(base_url, r), "length": r.get("size")}
        for r in sorted(records, key=lambda r: (order.get(r["kind"], 9), r["id"]))
    ]


def get(registry, layer_id: str, fid: int, attachment_id: int, *, thumbnail: bool = False) -> tuple[dict[str, Any], bytes | None]:
    """(record, bytes) of one file of one feature; 404 when either does not exist."""
    layer = registry.layer(layer_id)
    found = registry.store.get_attachment(int(attachment_id), thumbnail=thumbnail)
    if found is None or found[0]["layer"] != layer.id or found[0]["fid"] != int(fid):
        raise NotFoundError(key="attachments.not_found", params={"id": attachment_id, "layer": layer.id, "fid": fid})
    return found


def delete(registry, layer_id: str, fid: int, attachment_id: int, *, user: str) -> dict[str, Any]:
    """Remove one file of one feature (history keeps its record)."""
    get(registry, layer_id, fid, attachment_id)
    return registry.store.delete_attachment(int(attachment_id), user=user)


def kind_label(kind: str, lang: str | None = None) -> str:
    """整改前 / 整改后 / 其他 (or before / after / other)."""
    from geo.i18n import message

    return message(f"attachments.kind_{kind}", lang)


def check_close_evidence(registry, layer_id: str, fid: int, target: str, *, required: bool = True) -> None:
    """Refuse closing a violation (→ 已销号) that has no ``after`` photo, when ``required``
    (setting CLOSE_REQUIRES_PHOTO): the plan closes a case only on evidence it was fixed."""
    from geo.lifecycle import TransitionError

    if not required or layer_id != "violations" or target != "已销号":
        return
    layer = registry.layer(layer_id)
    counts = registry.store.attachment_counts(layer, [int(fid)]).get(int(fid), {})
    if counts.get("after", 0) > 0:
        return
    code = (registry.get(layer_id, int(fid))["properties"].get(layer.id_field) or f"#{fid}")
    raise TransitionError(
        key="attachments.close_needs_photo", params={"code": code}, layer=layer_id, field="attachments", value=target
    )
