"""Bring features in from the files people actually have.

Reads GeoJSON, GeoPackage, Shapefile (a ``.zip``, a folder or the ``.shp``), KML/KMZ,
and CSV/XLSX tables with coordinate columns; works out the coordinate reference system
and the text encoding; maps the file's columns onto the catalog fields; checks every
row the way the registry does; and writes all of it in one transaction, or nothing.

The result is an :class:`ImportReport` that names every problem by row (or feature)
number, field and value. Problems with the file as a whole (unreadable, unsafe zip,
projected numbers with no CRS) raise :class:`ImportFileError` instead.

>>> from geo.importer import import_file, ImportOptions            # doctest: +SKIP
>>> report = import_file(reg, "巡河问题.csv", "violations",
...                      ImportOptions(crs="gcj02"), user="wang")     # doctest: +SKIP
>>> print(report.text())                                           # doctest: +SKIP

Notes for readers who know GIS:

- GeoJSON without a ``crs`` member, CSV and XLSX say nothing about their CRS. Their
  numbers are read as WGS84 lon/lat unless ``crs`` says otherwise, and refused, with a
  hint, when they cannot be degrees.
- ``crs`` given explicitly wins over what the file says: files traced on Amap are often
  labelled WGS84 but hold GCJ-02 coordinates. The report notes the override.
- EPSG:4490 (CGCS2000) is treated through pyproj like any EPSG code; over Jintan it is
  within centimetres of WGS84.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiLineString, MultiPolygon

from geo.crs import CRSError, normalize_crs, to_metric, transform_geometry
from geo.errors import HehuError, ValidationError
from geo.registry import SYSTEM_USER, Registry
from geo.validate import coerce_value, is_missing, validate_feature
from layers import Layer

#: Zip archives (shapefile .zip, .kmz, .xlsx) are refused beyond these limits, checked
#: before anything is extracted: a zip bomb expands a few kilobytes into gigabytes.
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 2000

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

#: How a problem says which fix would put a feature inside the district.
_FIX = "; it falls inside Jintan with"

# Jintan's neighbourhood in lon/lat, for telling "swapped" from "projected".
_REGION = (118.5, 30.5, 120.5, 32.5)


class ImportFileError(HehuError):
    """The file as a whole cannot be imported (unreadable, unsafe, no usable CRS...)."""

    code = "bad-import-file"


@dataclass
class ImportOptions:
    """What ``hehu import`` and the upload form let a person choose."""

    crs: str | None = None
    encoding: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    update: bool = False
    skip_invalid: bool = False
    dry_run: bool = False
    strict: bool = False
    source_layer: str | None = None
    rejects: Path | None = None


@dataclass
class Problem:
    """One thing wrong (or repaired) in one row: where, which field, which value, why."""

    row: int | None
    field: str | None
    value: Any
    message: str
    severity: str = "error"

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        if isinstance(value, float) and not np.isfinite(value):
            value = str(value)
        if isinstance(value, str):
            value = value[:120]
        return {
            "row": self.row,
            "field": self.field,
            "value": value,
            "message": self.message,
            "severity": self.severity,
        }

    def __str__(self) -> str:
        return self.describe()

    def describe(self, row_label: str = "row") -> str:
        """``row 3, field category, value '乱放': ...`` (``feature 3`` for vector files)."""
        where = [f"{row_label} {self.row}" if self.row is not None else "file"]
        if self.field:
            where.append(f"field {self.field}")
        if self.value is not None and self.value != "":
            where.append(f"value {str(self.value)[:60]!r}")
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{', '.join(where)}: {tag}{self.message}"


@dataclass
class ImportReport:
    """Everything an import found and did."""

    source: str
    layer: str
    format: str = ""
    crs: str | None = None
    encoding: str | None = None
    rows: int = 0
    row_label: str = "feature"
    mapping: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    rejected: list[int] = field(default_factory=list)
    fids: list[int] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False
    skip_invalid: bool = False
    rejects_path: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]

    @property
    def ok(self) -> bool:
        """No errors at all (a dry run that would write everything, or a clean import)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "layer": self.layer,
            "format": self.format,
            "crs": self.crs,
            "encoding": self.encoding,
            "rows": self.rows,
            "row_label": self.row_label,
            "mapping": self.mapping,
            "ignored": self.ignored,
            "ok": self.ok,
            "written": self.written,
            "dry_run": self.dry_run,
            "added": self.added,
            "updated": self.updated,
            "rejected": self.rejected,
            "fids": self.fids,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.to_dict() for p in self.problems],
            "hints": self.hints,
            "notes": self.notes,
            "rejects_path": self.rejects_path,
        }

    def text(self) -> str:
        """The report as a person reads it on a terminal."""
        head = (
            f"{self.source} -> {self.layer}: {self.format}, {self.rows} {self.row_label}(s), "
            f"CRS {self.crs or '?'}" + (f", encoding {self.encoding}" if self.encoding else "")
        )
        lines = [head]
        if self.mapping:
            lines.append("columns: " + ", ".join(f"{s} -> {d}" for s, d in self.mapping.items()))
        if self.ignored:
            lines.append("ignored columns (no matching field; use --map SRC=FIELD): " + ", ".join(self.ignored))
        lines += [f"note: {n}" for n in self.notes]
        if self.problems:
            lines.append(f"problems ({len(self.errors)} error(s), {len(self.warnings)} warning(s)):")
            lines += [f"  {p.describe(self.row_label)}" for p in self.problems]
        lines += [f"hint: {h}" for h in self.hints]
        lines.append("result: " + self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        if self.dry_run:
            verdict = "dry run, nothing written"
            counts = f"add {self.added}, update {self.updated}"
            if self.errors and not self.skip_invalid:
                return (
                    f"{verdict}; {len(self.errors)} error(s) in {len(self.rejected)} {self.row_label}(s) would refuse "
                    f"the whole import (without them it would {counts})"
                )
            return f"{verdict}; would {counts}, reject {len(self.rejected)} {self.row_label}(s)"
        if not self.written:
            return (
                f"nothing written: {len(self.errors)} error(s); the import is all-or-nothing "
                "(fix them, or --skip-invalid to import the valid rows)"
            )
        out = f"added {self.added}, updated {self.updated}"
        if self.rejected:
            out += f", rejected {len(self.rejected)} {self.row_label}(s)"
            if self.rejects_path:
                out += f" (written to {self.rejects_path})"
        return out


# -- zip safety ------------------------------------------------------------------------------


def check_zip(path: Path) -> list[zipfile.ZipInfo]:
    """The members of a zip, refusing zip bombs and unsafe names before any extraction."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{path.name}: not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ImportFileError(f"{path.name}: {len(infos)} files in the zip; at most {MAX_ZIP_MEMBERS}")
    total = 0
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or (len(name) > 1 and name[1] == ":")
            or ".." in parts
            or "\x00" in name
        ):
            raise ImportFileError(f"{path.name}: unsafe path {name!r} in the zip (absolute or '..'); refused")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise ImportFileError(f"{path.name}: symbolic link {name!r} in the zip; refused")
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise ImportFileError(
                f"{path.name}: {name!r} expands {info.file_size // max(info.compress_size, 1)}-fold "
                f"(limit {MAX_ZIP_RATIO}); refused as a likely zip bomb"
            )
    if total > MAX_UNZIPPED_BYTES:
        raise ImportFileError(
            f"{path.name}: {total / 1e6:.0f} MB uncompressed, over the "
            f"{MAX_UNZIPPED_BYTES / 1e6:.0f} MB limit; refused"
        )
    return infos


def safe_extract(path: Path, dest: Path) -> list[Path]:
    """Extract a checked zip into ``dest``, counting the bytes actually written."""
    infos = check_zip(path)
    out: list[Path] = []
    written = 0
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            if info.is_dir():
                continue
            rel = PurePosixPath(info.filename.replace("\\", "/"))
            target = dest.joinpath(*rel.parts)
            if dest.resolve() not in target.resolve().parents:
                raise ImportFileError(f"{path.name}: unsafe path {info.filename!r} in the zip; refused")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_UNZIPPED_BYTES:
                            raise ImportFileError(f"{path.name}: expands beyond the size limit; refused")
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise ImportFileError(f"{path.name}: cannot extract {info.filename!r} ({exc})") from None
            out.append(target)
    return out


# -- reading ---------------------------------------------------------------------------------


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
                    notes.append(f"no .cpg file: text read as {encoding} (detected); --encoding overrides")
        else:
            encoding = cpg[0].read_text(errors="replace").strip() or None
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # noqa: BLE001 - GDAL errors come in many kinds
        raise ImportFileError(f"{path.name}: cannot be read as {fmt} ({_short(exc)})") from None
    spatial = [str(name) for name, gtype in layers if gtype is not None]
    names = spatial or [str(name) for name, _ in layers]
    if fmt == "KML":
        chosen = names
    elif options.source_layer:
        if options.source_layer not in names:
            raise ImportFileError(
                f"{path.name}: no layer {options.source_layer!r}; layers: {', '.join(names)}"
            )
        chosen = [options.source_layer]
    elif len(names) == 1:
        chosen = names
    elif layer_id in names:
        chosen = [layer_id]
    else:
        raise ImportFileError(
            f"{path.name} holds several layers ({', '.join(names)}); choose one with --source-layer"
        )
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
        raise ImportFileError(f"{path.name}: cannot be read as {fmt} ({_short(exc)})") from None
    for w in caught:
        text = f"GDAL: {str(w.message)[:200]}"
        if text not in notes:
            notes.append(text)
    if not frames:
        raise ImportFileError(f"{path.name}: no layers with features")
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


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _decode_text(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise ImportFileError(f"cannot decode the file as {encoding} ({_short(exc)})") from None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc), "UTF-8" if enc == "utf-8-sig" else "GB18030"
        except UnicodeDecodeError:
            continue
    raise ImportFileError("the text is neither UTF-8 nor GBK/GB18030; give --encoding")


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
                    f"coordinates in {pair[0]}/{pair[1]} are missing or not numbers",
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
                problems.append(Problem(int(i), "geometry", texts.iloc[i], f"no readable WKT in column {col}"))
            return geoms, (col,), problems
    wanted = ", ".join("/".join(p) for p in COORD_COLUMNS[:5])
    raise ImportFileError(
        f"{name}: no coordinate columns; name them {wanted} (or give a WKT column 'wkt')"
    )


def _read_table(path: Path, fmt: str, options: ImportOptions) -> Source:
    encoding = None
    if fmt == "CSV":
        text, encoding = _decode_text(path.read_bytes(), options.encoding)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=None, engine="python")
        except Exception as exc:  # noqa: BLE001 - pandas raises several parser errors
            raise ImportFileError(f"{path.name}: cannot be read as CSV ({_short(exc)})") from None
    else:
        check_zip(path)
        try:
            sheet: Any = options.source_layer if options.source_layer else 0
            frame = pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl")
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise ImportFileError(f"{path.name}: cannot be read as XLSX ({_short(exc)})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise ImportFileError(f"{path.name}: the column {dup!r} appears twice")
    geoms, coord_cols, problems = _table_geometries(frame, path.name)
    src = Source(frame, geoms, None, fmt, encoding=encoding, row_offset=1, row_label="row")
    src.coord_columns = coord_cols
    src.row_problems = problems
    return src


def read_source(path: Path, options: ImportOptions, layer_id: str, workdir: Path) -> Source:
    """Read any supported file (extracting zips into ``workdir``)."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"{path}: no such file or folder")
    if path.is_dir():
        shps = sorted(p for p in path.iterdir() if p.suffix.lower() == ".shp")
        if not shps:
            raise ImportFileError(f"{path}: the folder holds no .shp file")
        return _pick_shapefile(shps, options, layer_id, path.name)
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PK\x03\x04" and suffix not in (".zip", ".kmz", ".xlsx"):
        suffix = ".zip"  # a zipped shapefile saved as .shp, as some tools (and exports) name it
    fmt = FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise ImportFileError(f"{path.name}: unknown file type {suffix or '(none)'}; known: {known}")
    if suffix in (".zip", ".kmz"):
        files = safe_extract(path, workdir)
        if suffix == ".kmz":
            kmls = [p for p in files if p.suffix.lower() == ".kml"]
            if not kmls:
                raise ImportFileError(f"{path.name}: no .kml document inside the KMZ")
            doc = next((p for p in kmls if p.name.lower() == "doc.kml"), kmls[0])
            return _read_vector(doc, "KML", options, layer_id)
        shps = sorted(p for p in files if p.suffix.lower() == ".shp")
        if shps:
            return _pick_shapefile(shps, options, layer_id, path.name)
        others = [p for p in files if p.suffix.lower() in FORMATS and p.suffix.lower() not in (".zip", ".kmz")]
        if len(others) == 1:
            return read_source(others[0], options, layer_id, workdir / "inner")
        raise ImportFileError(f"{path.name}: the zip holds no .shp (or no single other supported file)")
    if fmt in ("CSV", "XLSX"):
        return _read_table(path, fmt, options)
    if fmt == "GeoPackage":
        with path.open("rb") as fh:
            if not fh.read(16).startswith(b"SQLite format 3"):
                raise ImportFileError(f"{path.name}: not a GeoPackage (not an SQLite file)")
    return _read_vector(path, fmt, options, layer_id)


def _pick_shapefile(shps: list[Path], options: ImportOptions, layer_id: str, name: str) -> Source:
    if len(shps) > 1:
        wanted = options.source_layer or layer_id
        match = [p for p in shps if p.stem == wanted]
        if not match:
            stems = ", ".join(p.stem for p in shps)
            raise ImportFileError(f"{name} holds several shapefiles ({stems}); choose one with --source-layer")
        shps = match
    for ext in (".shx", ".dbf"):
        if not any(p.suffix.lower() == ext for p in shps[0].parent.glob(shps[0].stem + ".*")):
            raise ImportFileError(f"{name}: {shps[0].stem}.shp comes without its {ext} file")
    return _read_vector(shps[0], "Shapefile", options, layer_id)


# -- columns ---------------------------------------------------------------------------------


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["源列=code", ...]`` as a dict; refuses items without ``=``."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ImportFileError(f"--map {item!r}: write it as SOURCE=FIELD")
        src, dst = item.split("=", 1)
        if not src.strip() or not dst.strip():
            raise ImportFileError(f"--map {item!r}: write it as SOURCE=FIELD")
        out[src.strip()] = dst.strip()
    return out


def _field_named(layer: Layer, name: str) -> str | None:
    key = name.strip().lower()
    for f in layer.fields:
        if key in (f.name.lower(), f.title_zh.lower(), f.title_en.lower()):
            return f.name
    # DBF cuts field names to 10 characters: "descriptio" is "description".
    if len(key) == 10:
        hits = [f.name for f in layer.fields if f.name.lower().startswith(key)]
        if len(hits) == 1:
            return hits[0]
    return None


def map_columns(
    columns: list[str], layer: Layer, explicit: dict[str, str], skip: tuple[str, ...] = ()
) -> tuple[dict[str, str], list[str]]:
    """Source column -> catalog field, by explicit ``--map``, name, or 中文/English title."""
    mapping: dict[str, str] = {}
    for src, dst in explicit.items():
        if src not in columns:
            raise ImportFileError(f"--map {src}={dst}: the file has no column {src!r}; columns: {', '.join(columns)}")
        target = _field_named(layer, dst)
        if target is None:
            raise ImportFileError(
                f"--map {src}={dst}: layer {layer.id} has no field {dst!r}; fields: {', '.join(layer.field_names)}"
            )
        mapping[src] = target
    ignored = []
    for col in columns:
        if col in mapping or col in skip:
            continue
        target = _field_named(layer, str(col))
        if target is None:
            ignored.append(str(col))
        else:
            mapping[col] = target
    taken = Counter(mapping.values())
    clash = [f for f, n in taken.items() if n > 1]
    if clash:
        srcs = [s for s, d in mapping.items() if d == clash[0]]
        raise ImportFileError(
            f"columns {', '.join(srcs)} all map to field {clash[0]}; choose one with --map"
        )
    return mapping, ignored


# -- geometry checks ---------------------------------------------------------------------------


def _fit_type(layer: Layer, geom):
    """The geometry in a form the layer holds, or None when it cannot fit."""
    gtype = geom.geom_type
    if layer.geometry == "Point":
        if gtype == "Point":
            return geom
        if gtype == "MultiPoint" and len(geom.geoms) == 1:
            return geom.geoms[0]
        return None
    if layer.geometry == "LineString":
        if gtype == "LineString":
            return MultiLineString([geom])
        if gtype == "MultiLineString":
            return geom
        return None
    if layer.geometry == "Polygon":
        if gtype == "Polygon":
            return MultiPolygon([geom])
        if gtype == "MultiPolygon":
            return geom
        return None
    if gtype in ("Point", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "MultiPoint"):
        return geom
    return None


def _keep_dimension(layer: Layer, geom):
    """After make_valid: keep the parts of the layer's dimension (drop stray lines/points)."""
    want = {"Point": 0, "LineString": 1, "Polygon": 2}.get(layer.geometry)
    if want is None or geom.geom_type not in ("GeometryCollection",):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_dimensions(p) == want]
    if not parts:
        return geom
    if want == 2:
        polys = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
        return MultiPolygon(polys)
    if want == 1:
        lines = [q for p in parts for q in (p.geoms if p.geom_type == "MultiLineString" else [p])]
        return MultiLineString(lines)
    return parts[0]


def _district_hint(layer: Layer, raw, src: str, metric) -> str | None:
    """Which fix (swapped x/y, another CRS) would put ``raw`` inside the district."""
    candidates: list[tuple[str, Any, str]] = [
        ("swapping x and y (longitude/latitude columns reversed?)", shapely.transform(raw, lambda c: c[:, ::-1]), src),
    ]
    for other, text in (
        ("gcj02", "--crs gcj02 (coordinates from Amap/Gaode or Tencent)"),
        ("bd09", "--crs bd09 (coordinates from Baidu)"),
        ("EPSG:4326", "--crs EPSG:4326 (plain WGS84 longitude/latitude)"),
        ("EPSG:4549", "--crs EPSG:4549 (CGCS2000 Gauss-Kruger CM 120E)"),
        ("EPSG:4528", "--crs EPSG:4528 (CGCS2000 Gauss-Kruger zone 40, x with the 40 prefix)"),
    ):
        if other != src:
            candidates.append((text, raw, other))
    for text, geom, crs in candidates:
        try:
            g = transform_geometry(geom, crs, "EPSG:4326")
            coords = shapely.get_coordinates(g)
            if not np.isfinite(coords).all() or (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
                continue
            if shapely.covers(metric, to_metric(g)):
                return text
        except Exception:  # noqa: BLE001, S112 - a candidate that cannot convert is no hint
            continue
    return None


def _projected_hint(xs: np.ndarray, ys: np.ndarray) -> str:
    x, y = float(np.nanmedian(xs)), float(np.nanmedian(ys))
    lo_x, lo_y, hi_x, hi_y = _REGION
    if lo_x <= y <= hi_x and lo_y <= x <= hi_y:
        return (
            f"the numbers look like latitude/longitude with x and y swapped (x={x:.4f}, y={y:.4f}): "
            "swap the columns (经度 is x, 纬度 is y)"
        )
    if 40_000_000 < x < 41_000_000:
        return f"x={x:.0f} has the 40 zone prefix: give --crs EPSG:4528"
    if 200_000 < x < 800_000 and 3_000_000 < y < 4_000_000:
        return f"x={x:.0f}, y={y:.0f} look like CGCS2000 Gauss-Kruger metres: give --crs EPSG:4549"
    return f"coordinates such as x={x:.1f}, y={y:.1f} are not degrees: give --crs EPSG:xxxx"


# -- the import ------------------------------------------------------------------------------------


def import_file(
    registry: Registry,
    path: str | Path,
    layer_id: str,
    options: ImportOptions | None = None,
    *,
    user: str = SYSTEM_USER,
    source_name: str | None = None,
) -> ImportReport:
    """Read, check and (unless refused or a dry run) write a file into ``layer_id``."""
    options = options or ImportOptions()
    layer = registry.layer(layer_id)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="hehu-import-") as tmp:
        src = read_source(path, options, layer.id, Path(tmp))
    report = ImportReport(
        source=source_name or path.name,
        layer=layer.id,
        format=src.format,
        encoding=src.encoding,
        rows=len(src.frame),
        row_label=src.row_label,
        dry_run=options.dry_run,
    )
    report.notes += src.notes
    if src.row_label == "row":
        report.notes.append("row numbers count the header line as row 1")
    rownum = np.arange(len(src.frame)) + 1 + src.row_offset
    bad: dict[int, list[Problem]] = {}

    def problem(i: int, fld: str | None, value: Any, message: str, severity: str = "error") -> None:
        p = Problem(int(rownum[i]), fld, value, message, severity)
        report.problems.append(p)
        if severity == "error":
            bad.setdefault(i, []).append(p)

    for p in src.row_problems:
        problem(p.row, p.field, p.value, p.message)

    # Columns -> fields (entirely empty columns, like LIBKML's unused ones, are not noise).
    frame = src.frame
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    empty_cols = [c for c in columns if frame[c].map(is_missing).all()]
    mapping, ignored = map_columns(columns, layer, options.mapping, skip=src.coord_columns)
    report.mapping = {s: d for s, d in mapping.items()}
    report.ignored = [c for c in ignored if c not in empty_cols]

    # The CRS.
    crs = _resolve_crs(src, options, report)
    report.crs = crs

    # Values.
    props_rows = _coerce_rows(frame, layer, mapping, problem, update=options.update)

    # Geometries.
    reported = {p.row for p in src.row_problems if p.field == "geometry"}
    geoms = _check_geometries(registry, layer, src.geoms, crs, options, problem, reported)

    # Codes: within the file and against the registry.
    updates_for = _check_codes(registry, layer, props_rows, options, problem, bad, rownum)

    # Final check through the registry's own validator, for every row still clean.
    adds: list[tuple[dict[str, Any], Any]] = []
    updates: list[tuple[int, dict[str, Any], Any]] = []
    for i, props in enumerate(props_rows):
        if i in bad:
            continue
        fid = updates_for.get(i)
        try:
            clean, geom = validate_feature(layer, props, geoms[i], partial=fid is not None, row=int(rownum[i]))
        except ValidationError as exc:
            problem(i, exc.field, exc.value, exc.message.split(": ", 1)[-1])
            continue
        if fid is None:
            adds.append((clean, geom))
        else:
            updates.append((fid, clean, geom))

    report.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    fixes = Counter(p.message.split(_FIX, 1)[1].strip() for p in report.errors if _FIX in p.message)
    for fix, n in fixes.items():
        report.hints.append(f"{n} {src.row_label}(s) outside the district fall inside with {fix}")
    report.rejected = sorted(int(rownum[i]) for i in bad)
    report.added, report.updated = len(adds), len(updates)
    report.skip_invalid = options.skip_invalid
    if options.dry_run:
        return report
    if bad and not options.skip_invalid:
        report.added = report.updated = 0
        return report
    if bad and options.skip_invalid:
        report.rejects_path = _write_rejects(src, bad, rownum, options.rejects, path, crs)
    if adds or updates:
        batch = getattr(registry.store, "add_and_update", None)
        if batch is None:  # pragma: no cover - stores without batches
            raise ImportFileError("this registry's store cannot import in one transaction")
        fids = batch(layer, adds, updates, user=user)
        report.fids = list(fids)
    report.written = True
    return report


def _resolve_crs(src: Source, options: ImportOptions, report: ImportReport) -> str:
    coords = shapely.get_coordinates(src.geoms[~shapely.is_missing(src.geoms)])
    coords = coords[np.isfinite(coords).all(axis=1)] if len(coords) else coords
    if options.crs:
        try:
            crs = normalize_crs(options.crs)
        except CRSError as exc:
            raise ImportFileError(str(exc)) from None
        if src.crs and src.crs != crs:
            report.notes.append(f"the file says its CRS is {_crs_label(src.crs)}; read as {crs} as asked")
        projected_crs = crs.startswith("EPSG:") and _is_projected(crs)
        if len(coords) and projected_crs and (np.abs(coords) <= 180).all():
            raise ImportFileError(
                f"--crs {crs} is projected (metres) but the coordinates look like degrees "
                f"(e.g. {coords[0, 0]:.5f}, {coords[0, 1]:.5f}); leave --crs out or give EPSG:4326/gcj02"
            )
        return crs
    if src.crs:
        try:
            return normalize_crs(src.crs)
        except CRSError:
            return src.crs  # a WKT pyproj understands but with no EPSG code
    not_degrees = (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90) if len(coords) else np.zeros(0, bool)
    # Most coordinates not degrees: a projected file, refused. A few: those rows are
    # reported one by one (a swapped pair in a lon/lat table, say).
    if len(coords) and not_degrees.mean() > 0.5:
        hint = _projected_hint(coords[not_degrees, 0], coords[not_degrees, 1])
        raise ImportFileError(
            f"{report.source} does not say its CRS and its coordinates are not longitude/latitude; {hint}"
        )
    report.notes.append(
        "the file does not say its CRS: read as WGS84 longitude/latitude (EPSG:4326); "
        "give --crs gcj02 or bd09 for coordinates from Chinese phone maps"
    )
    return "EPSG:4326"


def _crs_label(crs: str) -> str:
    return crs if len(crs) < 40 else crs[:37] + "..."


def _is_projected(crs: str) -> bool:
    from pyproj import CRS

    try:
        return CRS.from_user_input(crs).is_projected
    except Exception:  # noqa: BLE001
        return False


def _coerce_rows(frame: pd.DataFrame, layer: Layer, mapping: dict[str, str], problem, *, update: bool):
    """Properties of every row in the fields' types, reporting each bad value.

    With ``update``, an empty cell leaves the stored value alone, and required fields
    are checked later, once it is known whether the row adds or updates a feature.
    """
    fields = {f.name: f for f in layer.fields}
    records = frame[list(mapping)].to_dict("records") if mapping else [{} for _ in range(len(frame))]
    mapped = set(mapping.values())
    out = []
    for i, rec in enumerate(records):
        props: dict[str, Any] = {}
        failed = set()
        for src, value in rec.items():
            fdef = fields[mapping[src]]
            try:
                coerced = coerce_value(fdef, value, layer.id)
            except ValidationError as exc:
                problem(i, fdef.name, value, exc.message.split(": ", 1)[-1])
                failed.add(fdef.name)
                continue
            if coerced is None and update:
                continue
            props[fdef.name] = coerced
        if not update:
            for f in layer.fields:
                if f.required and props.get(f.name) is None and f.name not in failed:
                    if f.name in mapped:
                        problem(i, f.name, None, "is required and empty")
                    else:
                        problem(i, f.name, None, f"is required; no column maps to it (use --map SRC={f.name})")
        out.append(props)
    return out


def _check_geometries(
    registry: Registry,
    layer: Layer,
    raw: np.ndarray,
    crs: str,
    options: ImportOptions,
    problem,
    reported: set[int] = frozenset(),
):
    """Geometries in lon/lat, fitted to the layer, repaired or refused, inside the district."""
    n = len(raw)
    out = np.full(n, None, dtype=object)
    raw = np.asarray(raw, dtype=object)
    missing = shapely.is_missing(raw)
    empty = np.zeros(n, dtype=bool)
    empty[~missing] = shapely.is_empty(raw[~missing])
    for i in np.flatnonzero(missing):
        if i not in reported:  # a table row whose coordinates were already reported
            problem(i, "geometry", None, "no geometry")
    for i in np.flatnonzero(empty):
        problem(i, "geometry", None, "the geometry is empty")
    live = np.flatnonzero(~missing & ~empty)
    if not len(live):
        return out
    geoms = shapely.force_2d(raw[live])
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    finite = np.ones(len(live), dtype=bool)
    finite[np.unique(idx[~np.isfinite(coords).all(axis=1)])] = False
    for j in np.flatnonzero(~finite):
        problem(live[j], "geometry", None, "coordinates must be finite numbers")
    live, geoms, raw_live = live[finite], geoms[finite], shapely.force_2d(raw[live][finite])
    try:
        if crs.startswith("EPSG:") or crs in ("gcj02", "bd09"):
            geoms = transform_geometry(geoms, crs, "EPSG:4326")
        else:
            from pyproj import Transformer

            tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
            geoms = shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    except Exception as exc:  # noqa: BLE001 - pyproj raises several kinds
        raise ImportFileError(f"cannot convert the coordinates from {crs} ({_short(exc)})") from None
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    wrong = ~np.isfinite(coords).all(axis=1) | (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    bad_range = np.zeros(len(live), dtype=bool)
    bad_range[np.unique(idx[wrong])] = True
    metric = registry.district_metric(layer.id) if hasattr(registry, "district_metric") else None
    for j in np.flatnonzero(bad_range):
        hint = _district_hint(layer, raw_live[j], crs, metric) if metric is not None else None
        sample = shapely.get_coordinates(raw_live[j])[0]
        problem(
            live[j],
            "geometry",
            f"{sample[0]:.6f},{sample[1]:.6f}",
            f"not longitude/latitude after reading as {crs}"
            + (f"{_FIX} {hint}" if hint else ""),
        )
    keep = ~bad_range
    live, geoms, raw_live = live[keep], geoms[keep], raw_live[keep]
    # Validity: repair with make_valid and report, or refuse with --strict.
    valid = shapely.is_valid(geoms)
    for j in np.flatnonzero(~valid):
        reason = shapely.is_valid_reason(geoms[j])
        if options.strict:
            problem(live[j], "geometry", reason, "invalid geometry (refused with --strict)")
            continue
        fixed = _keep_dimension(layer, shapely.make_valid(geoms[j]))
        problem(live[j], "geometry", reason, f"invalid geometry repaired with make_valid (now {fixed.geom_type})", "warning")
        geoms[j] = fixed
    if options.strict:
        live, geoms, raw_live = live[valid], geoms[valid], raw_live[valid]
    fitted = np.array([_fit_type(layer, g) for g in geoms], dtype=object)
    for j in np.flatnonzero(shapely.is_missing(fitted)):
        problem(
            live[j],
            "geometry",
            geoms[j].geom_type,
            f"a {geoms[j].geom_type} does not fit layer {layer.id}, which holds {layer.geometry} features",
        )
    ok = ~shapely.is_missing(fitted)
    live, geoms, raw_live = live[ok], fitted[ok], raw_live[ok]
    if metric is not None and len(geoms):
        shapely.prepare(metric)
        inside = shapely.covers(metric, to_metric(geoms))
        for j in np.flatnonzero(~inside):
            hint = _district_hint(layer, raw_live[j], crs, metric)
            sample = shapely.get_coordinates(geoms[j])[0]
            problem(
                live[j],
                "geometry",
                f"{sample[0]:.6f},{sample[1]:.6f}",
                "lies outside Jintan District"
                + (f"{_FIX} {hint}" if hint else "; check the CRS (--crs) and the coordinates"),
            )
    out[live] = geoms
    return out


def _check_codes(
    registry: Registry, layer: Layer, rows: list[dict], options: ImportOptions, problem, bad, rownum
) -> dict[int, int]:
    """Refuse codes repeated in the file or already stored; with ``update``, map rows to fids."""
    key = layer.id_field
    if not layer.has_field(key) or not layer.field(key).unique:
        return {}
    codes = [r.get(key) for r in rows]
    first: dict[Any, int] = {}
    for i, code in enumerate(codes):
        if code is None:
            continue
        if code in first:
            problem(i, key, code, f"the same {key} is already on row {int(rownum[first[code]])} of this file")
        else:
            first[code] = i
    existing: dict[Any, int] = {}
    wanted = list(first)
    for k in range(0, len(wanted), 500):
        hits = registry.read(layer.id, where={key: wanted[k : k + 500]})
        for fid, code in zip(hits.index, hits[key], strict=False):
            existing[code] = int(fid)
    updates: dict[int, int] = {}
    for code, i in first.items():
        if code not in existing:
            continue
        if options.update:
            updates[i] = existing[code]
        else:
            problem(i, key, code, f"already in the registry (feature {existing[code]}); use --update to update it")
    # A new feature (not an update) needs every required field.
    for i, props in enumerate(rows):
        if i in updates or i in bad or not options.update:
            continue
        for f in layer.fields:
            if f.required and props.get(f.name) is None:
                problem(i, f.name, None, "is required for a new feature")
    return updates


def _write_rejects(src: Source, bad: dict[int, list[Problem]], rownum, target: Path | None, path: Path, crs: str) -> str:
    """The refused rows, with their problems, as a UTF-8 CSV (Excel opens it)."""
    idx = sorted(bad)
    frame = src.frame.iloc[idx].copy()
    if not src.coord_columns:
        frame["wkt"] = [None if shapely.is_missing(g) else shapely.to_wkt(g) for g in src.geoms[idx]]
    frame.insert(0, "row", [int(rownum[i]) for i in idx])
    frame["problems"] = ["; ".join(f"{p.field or ''}: {p.message}" for p in bad[i]) for i in idx]
    target = Path(target) if target else path.with_name(path.stem + ".rejects.csv")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(target, index=False, encoding="utf-8-sig")
    except OSError as exc:  # before anything is written to the registry
        raise ImportFileError(f"cannot write the rejected rows to {target} ({exc.strerror or exc})") from None
    return str(target)


__all__ = [
    "ImportFileError",
    "ImportOptions",
    "ImportReport",
    "Problem",
    "check_zip",
    "dbf_encoding",
    "import_file",
    "map_columns",
    "parse_mapping",
    "read_source",
    "safe_extract",
]
