"""Every supported format read into attribute rows and geometries in the file's CRS.

Shapefile text encodings (``.cpg``, or detected: UTF-8 or GB18030), KML's extra
columns, coordinate columns in tables. Nothing here checks values or places.
"""

from __future__ import annotations

import codecs
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo.importer.report import ImportFileError, ImportOptions, Problem, Said, said
from geo.importer.zips import check_zip, safe_extract

#: Coordinate column pairs a table may use, x (easting, longitude) first.
COORD_COLUMNS = [
    ("lon", "lat"),
    ("lng", "lat"),
    ("longitude", "latitude"),
    ("x", "y"),
    ("经度", "纬度"),
    ("东经", "北纬"),
    ("x坐标", "y坐标"),
    ("横坐标", "纵坐标"),
    # The projected ledger (geo/export.py): surveyors' X is the northing.
    ("东坐标y(米)", "北坐标x(米)"),
    ("东坐标", "北坐标"),
]
WKT_COLUMNS = ("wkt", "geometry", "geom", "几何")

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".zip": "Shapefile",
    ".kml": "KML",
    ".kmz": "KMZ",
    ".csv": "CSV",
    ".txt": "CSV",
    ".xlsx": "XLSX",
}



@dataclass
class Source:
    """What was read: attribute columns, geometries in the file's CRS, and what the file said."""

    frame: pd.DataFrame
    geoms: np.ndarray
    crs: str | None
    format: str
    encoding: str | None = None
    row_offset: int = 0
    row_label: str = "feature"
    coord_columns: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    row_problems: list[Problem] = field(default_factory=list)


def dbf_encoding(dbf: Path) -> str | None:
    """Guess a DBF's text encoding when no ``.cpg`` says it: UTF-8, else GB18030.

    Chinese shapefiles from ArcGIS and older desktop tools are usually GBK without a
    ``.cpg``; GDAL would read them as Latin-1 and garble every name. The language-driver
    byte, when set, is left to GDAL.
    """
    try:
        data = dbf.read_bytes()
    except OSError:
        return None
    if len(data) < 32:
        return None
    ldid = data[29]
    if ldid not in (0, 0x57):  # 0x57 = "ANSI", says nothing useful
        return None
    header_len = int.from_bytes(data[8:10], "little")
    body = data[header_len:]
    try:
        body.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        body.decode("gb18030")
        return "GB18030"
    except UnicodeDecodeError:
        return None


def _crs_of(gdf_crs) -> str | None:
    if gdf_crs is None:
        return None
    try:
        epsg = gdf_crs.to_epsg(min_confidence=70)
    except Exception:  # noqa: BLE001 - pyproj raises several kinds
        epsg = None
    return f"EPSG:{epsg}" if epsg else gdf_crs.to_wkt()


def _read_vector(path: Path, fmt: str, options: ImportOptions, layer_id: str) -> Source:
    import pyogrio

    notes: list[str] = []
    encoding = options.encoding
    if fmt == "Shapefile" and encoding is None:
        cpg = [p for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() == ".cpg"]
        if not cpg:
            dbf = [p for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() == ".dbf"]
            if dbf:
                encoding = dbf_encoding(dbf[0])
                if encoding:
                    notes.append(Said.of("import.note_no_cpg", encoding=encoding))
        else:
            encoding = cpg[0].read_text(errors="replace").strip() or None
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # noqa: BLE001 - GDAL errors come in many kinds
        raise ImportFileError(key="import_file.cannot_read", params={"name": path.name, "format": fmt, "reason": short_error(exc)}) from None
    spatial = [str(name) for name, gtype in layers if gtype is not None]
    names = spatial or [str(name) for name, _ in layers]
    if fmt == "KML":
        chosen = names
    elif options.source_layer:
        if options.source_layer not in names:
            raise ImportFileError(key="import_file.no_such_layer", params={
                "name": path.name, "layer": repr(options.source_layer), "layers": ", ".join(names)})
        chosen = [options.source_layer]
    elif len(names) == 1:
        chosen = names
    elif layer_id in names:
        chosen = [layer_id]
    else:
        raise ImportFileError(key="import_file.several_layers", params={"name": path.name, "layers": ", ".join(names)})
    frames = []
    kwargs: dict[str, Any] = {}
    if encoding:
        kwargs["encoding"] = encoding
    try:
        # GDAL's warnings (a malformed point, an unsupported geometry) go into the report.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for name in chosen:
                frames.append(pyogrio.read_dataframe(path, layer=name, **kwargs))
    except Exception as exc:  # noqa: BLE001
        raise ImportFileError(key="import_file.cannot_read", params={"name": path.name, "format": fmt, "reason": short_error(exc)}) from None
    for w in caught:
        text = f"GDAL: {str(w.message)[:200]}"
        if text not in notes:
            notes.append(text)
    if not frames:
        raise ImportFileError(key="import_file.no_features", params={"name": path.name})
    gdf = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    if fmt == "KML":
        gdf = _kml_columns(gdf)
    crs = _crs_of(frames[0].crs) if hasattr(frames[0], "crs") else None
    if fmt == "GeoJSON" and not _geojson_declares_crs(path):
        crs = None
    if fmt == "KML":
        crs = "EPSG:4326"  # KML is lon/lat WGS84 by definition
    geoms = np.asarray(gdf.geometry.values, dtype=object) if "geometry" in gdf else np.full(len(gdf), None)
    frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore"))
    return Source(frame, geoms, crs, fmt, encoding=encoding, notes=notes)


#: Columns GDAL's LIBKML driver gives every placemark. An ExtendedData field of the same
#: name comes as ``<name>2`` ("description2"): the data's own value wins.
KML_STANDARD = (
    "id", "Name", "description", "timestamp", "begin", "end", "altitudeMode",
    "tessellate", "extrude", "visibility", "drawOrder", "icon", "snippet",
)


def _kml_columns(gdf):
    """Prefer ExtendedData fields over the placemark's own name/description."""
    renames = {}
    standard = {c.lower() for c in KML_STANDARD}
    for twin in [c for c in gdf.columns if str(c).endswith("2") and str(c)[:-1].lower() in standard]:
        own = [c for c in gdf.columns if str(c).lower() == str(twin)[:-1].lower()]
        gdf = gdf.drop(columns=own)
        renames[twin] = str(twin)[:-1]
    gdf = gdf.rename(columns=renames)
    # The placemark's styling and bookkeeping columns never hold registry data.
    noise = [c for c in ("id", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude",
                         "visibility", "drawOrder", "icon", "snippet") if c in gdf.columns and c not in renames.values()]
    return gdf.drop(columns=noise)


def _geojson_declares_crs(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    # The (obsolete, still common) "crs" member sits at the top of the file in practice.
    try:
        data = json.loads(path.read_bytes()) if path.stat().st_size < 64 << 20 else None
    except (ValueError, UnicodeDecodeError):
        return b'"crs"' in head
    return isinstance(data, dict) and isinstance(data.get("crs"), dict)


def short_error(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _decode_text(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise ImportFileError(key="import_file.cannot_decode", params={"encoding": encoding, "reason": short_error(exc)}) from None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc), "UTF-8" if enc == "utf-8-sig" else "GB18030"
        except UnicodeDecodeError:
            continue
    raise ImportFileError(key="import_file.unknown_text_encoding")


def _find_coord_columns(columns: list[str]) -> tuple[str, str] | None:
    lower = {str(c).strip().lower(): c for c in columns}
    for x, y in COORD_COLUMNS:
        if x in lower and y in lower:
            return lower[x], lower[y]
    return None


def _table_geometries(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, tuple[str, ...], list[Problem]]:
    """Points from coordinate columns, or shapes from a WKT column, row by row."""
    problems: list[Problem] = []
    pair = _find_coord_columns(list(frame.columns))
    if pair is not None:
        xs = pd.to_numeric(frame[pair[0]].astype(str).str.strip(), errors="coerce").to_numpy(float)
        ys = pd.to_numeric(frame[pair[1]].astype(str).str.strip(), errors="coerce").to_numpy(float)
        ok = np.isfinite(xs) & np.isfinite(ys)
        geoms = np.full(len(frame), None, dtype=object)
        geoms[ok] = shapely.points(xs[ok], ys[ok])
        for i in np.flatnonzero(~ok):
            problems.append(
                Problem(
                    int(i),
                    "geometry",
                    f"{frame[pair[0]].iloc[i]},{frame[pair[1]].iloc[i]}",
                    **said("import.coords_missing", x=pair[0], y=pair[1]),
                )
            )
        return geoms, pair, problems
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for key in WKT_COLUMNS:
        if key in lower:
            col = lower[key]
            texts = frame[col].astype(object).where(frame[col].notna(), None)
            geoms = shapely.from_wkt(np.asarray(texts, dtype=object), on_invalid="ignore")
            for i in np.flatnonzero(shapely.is_missing(geoms)):
                problems.append(Problem(int(i), "geometry", texts.iloc[i], **said("import.no_wkt", column=col)))
            return geoms, (col,), problems
    wanted = ", ".join("/".join(p) for p in COORD_COLUMNS[:5])
    raise ImportFileError(key="import_file.no_coordinate_columns", params={"name": name, "wanted": wanted})


def _read_table(path: Path, fmt: str, options: ImportOptions) -> Source:
    encoding = None
    if fmt == "CSV":
        text, encoding = _decode_text(path.read_bytes(), options.encoding)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=None, engine="python")
        except Exception as exc:  # noqa: BLE001 - pandas raises several parser errors
            raise ImportFileError(key="import_file.cannot_read", params={"name": path.name, "format": "CSV", "reason": short_error(exc)}) from None
    else:
        check_zip(path)
        try:
            sheet: Any = options.source_layer if options.source_layer else 0
            frame = pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl")
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise ImportFileError(key="import_file.cannot_read", params={"name": path.name, "format": "XLSX", "reason": short_error(exc)}) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise ImportFileError(key="import_file.column_twice", params={"name": path.name, "column": repr(dup)})
    geoms, coord_cols, problems = _table_geometries(frame, path.name)
    src = Source(frame, geoms, None, fmt, encoding=encoding, row_offset=1, row_label="row")
    src.coord_columns = coord_cols
    src.row_problems = problems
    return src


def read_source(path: Path, options: ImportOptions, layer_id: str, workdir: Path) -> Source:
    """Read any supported file (extracting zips into ``workdir``)."""
    path = Path(path)
    if options.encoding:
        try:
            codecs.lookup(options.encoding)
        except LookupError:  # GDAL would ignore it silently and garble the text
            raise ImportFileError(key="import_file.bad_encoding_name", params={"encoding": repr(options.encoding)}) from None
    if not path.exists():
        raise ImportFileError(key="import_file.no_such_file", params={"path": str(path)})
    if path.is_dir():
        shps = sorted(p for p in path.iterdir() if p.suffix.lower() == ".shp")
        if not shps:
            raise ImportFileError(key="import_file.folder_no_shp", params={"path": str(path)})
        return _pick_shapefile(shps, options, layer_id, path.name)
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PK\x03\x04" and suffix not in (".zip", ".kmz", ".xlsx"):
        suffix = ".zip"  # a zipped shapefile saved as .shp, as some tools (and exports) name it
    fmt = FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise ImportFileError(key="import_file.unknown_type", params={"name": path.name, "suffix": suffix or "(none)", "known": known})
    if suffix in (".zip", ".kmz"):
        files = safe_extract(path, workdir)
        if suffix == ".kmz":
            kmls = [p for p in files if p.suffix.lower() == ".kml"]
            if not kmls:
                raise ImportFileError(key="import_file.kmz_no_kml", params={"name": path.name})
            doc = next((p for p in kmls if p.name.lower() == "doc.kml"), kmls[0])
            return _read_vector(doc, "KML", options, layer_id)
        shps = sorted(p for p in files if p.suffix.lower() == ".shp")
        if shps:
            return _pick_shapefile(shps, options, layer_id, path.name)
        others = [p for p in files if p.suffix.lower() in FORMATS and p.suffix.lower() not in (".zip", ".kmz")]
        if len(others) == 1:
            return read_source(others[0], options, layer_id, workdir / "inner")
        raise ImportFileError(key="import_file.zip_nothing", params={"name": path.name})
    if fmt in ("CSV", "XLSX"):
        return _read_table(path, fmt, options)
    if fmt == "GeoPackage":
        with path.open("rb") as fh:
            if not fh.read(16).startswith(b"SQLite format 3"):
                raise ImportFileError(key="import_file.not_geopackage", params={"name": path.name})
    return _read_vector(path, fmt, options, layer_id)


def _pick_shapefile(shps: list[Path], options: ImportOptions, layer_id: str, name: str) -> Source:
    if len(shps) > 1:
        wanted = options.source_layer or layer_id
        match = [p for p in shps if p.stem == wanted]
        if not match:
            stems = ", ".join(p.stem for p in shps)
            raise ImportFileError(key="import_file.several_shapefiles", params={"name": name, "stems": stems})
        shps = match
    for ext in (".shx", ".dbf"):
        if not any(p.suffix.lower() == ext for p in shps[0].parent.glob(shps[0].stem + ".*")):
            raise ImportFileError(key="import_file.shp_without", params={"name": name, "stem": shps[0].stem, "ext": ext})
    return _read_vector(shps[0], "Shapefile", options, layer_id)
