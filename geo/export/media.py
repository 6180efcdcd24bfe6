"""Exports that carry the attachments (photos) of the features they write.

- **KMZ** (format ``kmz``): a zip of ``doc.kml`` (the KML export, balloons and all) and
  ``files/…`` with each feature's photos; the balloon shows them with
  ``<img src="files/…">`` (Google Earth, Ovital 奥维 and 两步路 read relative links in a
  KMZ). PDFs go in too, linked by name.
- **XLSX ledger**: a 照片 column with the feature's thumbnail (the first ``after``
  photo, else the first ``before``, else any) anchored in its row.
- **GeoJSON**: over HTTP, where the server's address is known, each feature with files
  gets a ``links`` member (``rel: enclosure``) pointing to them; a file written by the
  command line has no address to point to, so it carries none (use the KMZ or
  ``hehu export --with-attachments`` to take photos along).
- ``hehu export --with-attachments``: a zip of the files themselves, named by the
  feature's code and kind, e.g. ``QSL-2021-0001_整改前_1.jpg``.

The KMZ writer itself is in :mod:`geo.export.kml`. The registry and base URL reach the
writers through :func:`source` (a context set by
:func:`geo.export.write_frames`), so the writers of :mod:`geo.export` keep their shape.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from geo.attachments import file_of, records_of
from geo.export.files import atomic_path, check_out_path, safe_filename
from geo.export.tables import _sheet_title

_SOURCE: contextvars.ContextVar[tuple[Any, str | None] | None] = contextvars.ContextVar("hehu_export_media", default=None)

#: Height of a ledger thumbnail, in pixels (the row is made as tall).
LEDGER_THUMB_PX = 80
_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}


@contextlib.contextmanager
def source(registry: Any, base_url: str | None = None) -> Iterator[None]:
    """Within the block, writers take attachments from ``registry`` (None: no attachments)."""
    token = _SOURCE.set(None if registry is None else (registry, base_url))
    try:
        yield
    finally:
        _SOURCE.reset(token)


def _current() -> tuple[Any, str | None]:
    return _SOURCE.get() or (None, None)


def records_by_fid(registry: Any, layer, fids) -> dict[int, list[dict[str, Any]]]:
    """Attachment records of the features ``fids`` that have any (one store query)."""
    if registry is None or not len(fids):
        return {}
    return records_of(registry, layer.id, fids)


def _order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Before photos first, then after, then the rest (the order a reader compares them)."""
    rank = {"before": 0, "after": 1, "other": 2}
    return sorted(records, key=lambda r: (rank.get(r["kind"], 3), r["id"]))


def feature_file_names(code: str, records: list[dict[str, Any]]) -> list[str]:
    """``QSL-2021-0001_整改前_1.jpg``, … : the files of one feature, numbered per kind.

    >>> feature_file_names("QSL-1", [{"kind": "before", "content_type": "image/jpeg", "id": 1},
    ...                              {"kind": "before", "content_type": "image/png", "id": 2}])
    ['QSL-1_整改前_1.jpg', 'QSL-1_整改前_2.png']
    """
    from geo.attachments import kind_label

    seen: dict[str, int] = {}
    names = []
    for r in records:
        seen[r["kind"]] = seen.get(r["kind"], 0) + 1
        ext = _EXT.get(r["content_type"], ".bin")
        names.append(safe_filename(f"{code}_{kind_label(r['kind'], 'zh')}_{seen[r['kind']]}{ext}"))
    return names


def _code(layer, data, fid) -> str:
    value = data.at[fid, layer.id_field] if layer.id_field in data.columns else None
    return str(value) if value is not None and str(value) not in ("", "nan", "None", "<NA>") else f"{layer.id}-{int(fid)}"


# -- after a writer ----------------------------------------------------------------------------


def after_write(fmt: str, items, path: Path) -> list[str]:
    """Add attachments to a file a :mod:`geo.export` writer has just written."""
    registry, base_url = _current()
    if registry is None:
        return []
    if fmt == "xlsx":
        return _ledger_thumbnails(registry, items, Path(path))
    if fmt == "geojson" and base_url:
        return _geojson_links(registry, items, Path(path), base_url)
    return []


def _ledger_thumbnails(registry, items, path: Path) -> list[str]:
    """A 照片 column with one thumbnail per feature that has photos."""
    per_layer = [(layer, data, records_by_fid(registry, layer, data.index)) for layer, data, _g, _c in items]
    if not any(found for _l, _d, found in per_layer):
        return []
    from openpyxl import load_workbook
    from openpyxl.drawing.image import Image as XLImage
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter


    wb = load_workbook(path)
    used: set[str] = set()
    n = 0
    for layer, data, found in per_layer:
        ws = wb[_sheet_title(layer, used)]
        if not found:
            continue
        col = ws.max_column + 1
        letter = get_column_letter(col)
        head = ws.cell(row=1, column=col, value="照片")
        head.font, head.fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
        ws.column_dimensions[letter].width = 16
        row_of = {int(fid): i for i, fid in enumerate(data.index, start=2)}
        for fid, records in found.items():
            photos = [r for r in _order(records) if r["content_type"].startswith("image/")]
            if not photos:
                continue
            pick = next((r for r in photos if r["kind"] == "after"), photos[0])
            got = file_of(registry, pick["id"], thumbnail=True)
            if got is None or got[1] is None:
                continue
            img = XLImage(io.BytesIO(got[1]))
            scale = LEDGER_THUMB_PX / max(1, img.height)
            img.width, img.height = int(img.width * scale), LEDGER_THUMB_PX
            ws.add_image(img, f"{letter}{row_of[fid]}")
            ws.row_dimensions[row_of[fid]].height = LEDGER_THUMB_PX * 0.75 + 4  # points
            n += 1
        if ws.auto_filter.ref:
            ws.auto_filter.ref = f"A1:{letter}{max(1, len(data) + 1)}"
    wb.save(path)
    return [f"{n} thumbnail(s) in the 照片 column"]


def _geojson_links(registry, items, path: Path, base_url: str) -> list[str]:
    """Each feature with files gets ``links`` (rel ``enclosure``) to them."""
    found = {layer.id: records_by_fid(registry, layer, data.index) for layer, data, _g, _c in items}
    if not any(found.values()):
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    base = base_url.rstrip("/")
    n = 0
    for feature in doc["features"]:
        layer_id, _, fid = str(feature.get("id", "")).rpartition(".")
        records = found.get(layer_id, {}).get(int(fid)) if fid.isdigit() else None
        if not records:
            continue
        feature["links"] = [
            {
                "rel": "enclosure",
                "href": f"{base}/collections/{layer_id}/items/{fid}/attachments/{r['id']}",
                "type": r["content_type"],
                "title": f"{r['kind']}: {r['name']}",
            }
            for r in _order(records)
        ]
        n += len(records)
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return [f"{n} attachment link(s)"]


# -- the files themselves ----------------------------------------------------------------------


def write_attachments_zip(registry, frames, path: str | Path, catalog=None) -> int:
    """A zip of every attachment of the features in ``frames`` (layer id -> frame indexed
    by fid), named by feature code: ``QSL-2021-0001_整改前_1.jpg``. Returns the count."""

    catalog = catalog or registry.catalog
    out = check_out_path(path)
    n = 0
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        used: set[str] = set()
        for layer_id, gdf in frames.items():
            layer = catalog[layer_id]
            data = gdf.set_index("fid") if "fid" in gdf.columns else gdf
            for fid, records in records_by_fid(registry, layer, data.index).items():
                records = _order(records)
                for rec, name in zip(records, feature_file_names(_code(layer, data, fid), records), strict=True):
                    arc = name if name not in used else f"{layer.id}_{int(fid)}_{name}"
                    used.add(arc)
                    got = file_of(registry, rec["id"])
                    if got is not None and got[1] is not None:
                        zf.writestr(arc, got[1])
                        n += 1
    return n
