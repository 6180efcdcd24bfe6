"""Read the tracks phones and drones record: GPX, KML/KMZ, CSV and XLSX.

A file may hold several tracks (GPX ``trk``, KML ``Placemark``, a CSV ``track`` column);
each becomes one :class:`Track`, and each becomes one patrol. A track keeps its
segments (GPX ``trkseg``, KML ``MultiGeometry``) apart: the gap between two segments is a
phone that lost its fix, not a straight walk.

XML is parsed with lxml with entity resolution, DTD loading and network access off,
so a crafted file cannot read local files or expand entities (XXE, "billion laughs").

>>> t = read_tracks_bytes(b'''<gpx version="1.1"><trk><trkseg>
... <trkpt lat="31.7" lon="119.5"><time>2021-03-01T08:00:00Z</time></trkpt>
... <trkpt lat="31.71" lon="119.5"><time>2021-03-01T08:20:00Z</time></trkpt>
... </trkseg></trk></gpx>''', "a.gpx")[0]
>>> len(t), t.duration_min
(2, 20.0)
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from lxml import etree

from geo.errors import HehuError
from geo.i18n import message

#: Largest track file accepted, in bytes (a day of 1 s fixes in GPX is ~10 MB).
MAX_FILE_BYTES = 50 * 1024 * 1024

_PARSER_OPTIONS = dict(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)

_LON = ("lon", "lng", "longitude", "long", "x", "经度")
_LAT = ("lat", "latitude", "y", "纬度")
_TIME = ("time", "timestamp", "datetime", "date_time", "时间", "定位时间")
_TRACK = ("track", "track_id", "trackid", "trk", "轨迹", "轨迹编号")


class TrackError(HehuError):
    """A track file that cannot become a patrol: says which file, track and point."""

    code = "bad-track"


@dataclass
class Track:
    """One track: lon/lat (in the file's CRS until cleaned), UTC times, segment numbers.

    ``times`` is ``None`` for a track recorded without timestamps. ``start``/``end``
    override the first/last fix time when the file gives only a span (KML TimeSpan).
    """

    file: str
    name: str
    lon: np.ndarray
    lat: np.ndarray
    times: np.ndarray | None  # datetime64[s], UTC
    segment: np.ndarray
    start: np.datetime64 | None = None
    end: np.datetime64 | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.lon.size)

    @property
    def started_at(self) -> np.datetime64 | None:
        if self.start is not None:
            return self.start
        return self.times[0] if self.times is not None and len(self) else None

    @property
    def ended_at(self) -> np.datetime64 | None:
        if self.end is not None:
            return self.end
        return self.times[-1] if self.times is not None and len(self) else None

    @property
    def duration_min(self) -> float | None:
        s, e = self.started_at, self.ended_at
        if s is None or e is None:
            return None
        return float((e - s) / np.timedelta64(1, "s")) / 60.0

    def take(self, keep: np.ndarray) -> Track:
        """The same track with only the fixes where ``keep`` is true."""
        return replace(
            self,
            lon=self.lon[keep],
            lat=self.lat[keep],
            times=None if self.times is None else self.times[keep],
            segment=self.segment[keep],
            notes=list(self.notes),
        )

    def geometry(self):
        """A MultiLineString, one part per segment of two fixes or more (lon/lat)."""
        xy = np.column_stack([self.lon, self.lat])
        _, starts, counts = np.unique(self.segment, return_index=True, return_counts=True)
        parts = [xy[s : s + c] for s, c in zip(starts, counts, strict=True) if c >= 2]
        return shapely.MultiLineString(parts) if parts else None


def iso(t: np.datetime64 | None) -> str | None:
    """An instant as the registry stores it: ISO 8601 UTC, whole seconds written with
    milliseconds and 'Z' as GDAL writes GeoPackage DATETIME (``2021-03-01T08:00:00.000Z``)."""
    if t is None or np.isnat(t):
        return None
    return str(np.datetime64(t, "s")) + ".000Z"


def parse_times(values, file: str, track: str, lang: str = "zh") -> np.ndarray:
    """UTC datetime64[s] from ISO strings (offsets honoured, naive taken as UTC)."""
    values = list(values)
    if all(isinstance(v, str) and v.endswith("Z") for v in values):
        # What GPS receivers and phones write: numpy parses it directly (fast path).
        try:
            return np.array([v[:-1] for v in values], dtype="datetime64[s]")
        except ValueError:
            pass
    raw = pd.Series(values, dtype=object)
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if present.any():
        try:
            out[present] = pd.to_datetime(raw[present].astype(str).str.strip(), utc=True, format="ISO8601")
        except (ValueError, TypeError):
            try:
                out[present] = pd.to_datetime(raw[present], utc=True, format="mixed")
            except (ValueError, TypeError):
                bad = next(i for i, v in raw[present].items() if pd.isna(pd.to_datetime(v, errors="coerce")))
                raise TrackError(
                    message("patrols.bad_time", lang, file=file, track=track, point=bad + 1, value=raw[bad]),
                    file=file,
                ) from None
    return out.dt.tz_localize(None).to_numpy().astype("datetime64[s]")


def _local(tag) -> str:
    """The tag without its namespace: GPX 1.0 and 1.1, KML 2.1 and 2.2 alike."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el, name: str):
    return [c for c in el if _local(c.tag) == name]


def _descendants(el, name: str):
    return [c for c in el.iter() if _local(c.tag) == name]


def _text(el, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return (c.text or "").strip()
    return None


def _make(file: str, name: str, lon, lat, times, segment, lang: str, **kw) -> Track:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    t = None
    if times is not None and any(v not in (None, "") for v in times):
        t = parse_times(times, file, name, lang)
    return Track(file, name, lon, lat, t, np.asarray(segment, dtype=np.int64), **kw)


def _xml_root(data: bytes, file: str, lang: str):
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise TrackError(message("patrols.unreadable", lang, file=file, reason=str(exc)[:120]), file=file) from None


def read_gpx(data: bytes, file: str, lang: str = "zh") -> list[Track]:
    """Tracks of a GPX 1.0 or 1.1 file (``trk/trkseg/trkpt``; routes ``rte`` too)."""
    root = _xml_root(data, file, lang)
    out = []
    trks = _descendants(root, "trk") + _descendants(root, "rte")
    for i, trk in enumerate(trks, start=1):
        name = _text(trk, "name") or f"{i}"
        segs = _children(trk, "trkseg") if _local(trk.tag) == "trk" else [trk]
        lon, lat, times, seg = [], [], [], []
        for k, s in enumerate(segs):
            for p in s:
                if _local(p.tag) not in ("trkpt", "rtept"):
                    continue
                lon.append(p.get("lon"))
                lat.append(p.get("lat"))
                times.append(_text(p, "time"))
                seg.append(k)
        if lon:
            out.append(_make(file, name, _floats(lon, file, "lon", lang), _floats(lat, file, "lat", lang), times, seg, lang))
    return out


def _floats(values, file: str, column: str, lang: str) -> np.ndarray:
    s = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    bad = s.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrackError(
            message("patrols.bad_number", lang, file=file, row=i + 1, column=column, value=values[i]), file=file
        )
    return s.to_numpy(dtype=float)


def _kml_coords(text: str, file: str, lang: str) -> tuple[list[str], list[str]]:
    lon, lat = [], []
    for tup in (text or "").split():
        parts = tup.split(",")
        if len(parts) >= 2:
            lon.append(parts[0])
            lat.append(parts[1])
    return lon, lat


def read_kml(data: bytes, file: str, lang: str = "zh") -> list[Track]:
    """Tracks of a KML document: ``gx:Track`` (``when`` + ``gx:coord``) or a LineString
    whose Placemark has a ``TimeSpan`` (begin/end only: per-fix times are unknown)."""
    root = _xml_root(data, file, lang)
    out = []
    for i, pm in enumerate(_descendants(root, "Placemark"), start=1):
        name = _text(pm, "name") or f"{i}"
        gx_tracks = _descendants(pm, "Track")
        lines = _descendants(pm, "LineString")
        if gx_tracks:
            lon, lat, times, seg = [], [], [], []
            for k, trk in enumerate(gx_tracks):
                whens = [(w.text or "").strip() for w in _children(trk, "when")]
                coords = [(c.text or "").split() for c in _children(trk, "coord")]
                for j, c in enumerate(coords):
                    if len(c) >= 2:
                        lon.append(c[0])
                        lat.append(c[1])
                        times.append(whens[j] if j < len(whens) else None)
                        seg.append(k)
            if lon:
                out.append(_make(file, name, _floats(lon, file, "lon", lang), _floats(lat, file, "lat", lang), times, seg, lang))
        elif lines:
            lon, lat, seg = [], [], []
            for k, ls in enumerate(lines):
                lo, la = _kml_coords(_text(ls, "coordinates") or "", file, lang)
                lon += lo
                lat += la
                seg += [k] * len(lo)
            if not lon:
                continue
            span = _descendants(pm, "TimeSpan")
            start = end = None
            if span:
                b, e = _text(span[0], "begin"), _text(span[0], "end")
                start, end = (parse_times([v], file, name, lang)[0] if v else None for v in (b, e))
            out.append(
                _make(file, name, _floats(lon, file, "lon", lang), _floats(lat, file, "lat", lang), None, seg, lang,
                      start=start, end=end)
            )
    return out


def read_kmz(data: bytes, file: str, lang: str = "zh") -> list[Track]:
    """Tracks of the KML inside a KMZ (``doc.kml``, else the first ``.kml``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [n for n in z.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise TrackError(message("patrols.empty_file", lang, file=file), file=file)
            doc = next((n for n in names if n.lower().endswith("doc.kml")), names[0])
            info = z.getinfo(doc)
            if info.file_size > MAX_FILE_BYTES:
                raise TrackError(message("patrols.unreadable", lang, file=file, reason="too large"), file=file)
            return read_kml(z.read(doc), file, lang)
    except zipfile.BadZipFile:
        raise TrackError(message("patrols.unreadable", lang, file=file, reason="not a zip"), file=file) from None


def _column(columns: list[str], names: tuple[str, ...]) -> str | None:
    low = {str(c).strip().lower(): c for c in columns}
    return next((low[n] for n in names if n in low), None)


def read_table(frame: pd.DataFrame, file: str, lang: str = "zh") -> list[Track]:
    """Tracks of a table of points: lon, lat, optional time and track columns."""
    cols = list(frame.columns)
    lon_c, lat_c = _column(cols, _LON), _column(cols, _LAT)
    if lon_c is None or lat_c is None:
        raise TrackError(
            message("patrols.no_columns", lang, file=file, columns=", ".join(map(str, cols))), file=file
        )
    time_c, track_c = _column(cols, _TIME), _column(cols, _TRACK)
    frame = frame.dropna(how="all")
    if frame.empty:
        return []
    lon = _floats(frame[lon_c].tolist(), file, str(lon_c), lang)
    lat = _floats(frame[lat_c].tolist(), file, str(lat_c), lang)
    keys = frame[track_c].astype(str).to_numpy() if track_c is not None else np.full(len(frame), "1")
    out = []
    # Tracks in order of first appearance; each track's fixes in file order.
    _, first = np.unique(keys, return_index=True)
    for key in keys[np.sort(first)]:
        m = keys == key
        times = frame[time_c].to_numpy()[m] if time_c is not None else None
        if times is not None:
            times = [None if pd.isna(v) else (v.isoformat() if hasattr(v, "isoformat") else str(v)) for v in times]
        out.append(_make(file, str(key), lon[m], lat[m], times, np.zeros(int(m.sum())), lang))
    return out


def read_tracks_bytes(data: bytes, file: str, lang: str = "zh") -> list[Track]:
    """Tracks of a file's bytes; the format comes from the file name's suffix."""
    suffix = Path(file).suffix.lower()
    if not data.strip():
        raise TrackError(message("patrols.empty_file", lang, file=file), file=file)
    if len(data) > MAX_FILE_BYTES:
        raise TrackError(message("patrols.unreadable", lang, file=file, reason="too large"), file=file)
    if suffix == ".gpx":
        tracks = read_gpx(data, file, lang)
    elif suffix == ".kml":
        tracks = read_kml(data, file, lang)
    elif suffix == ".kmz":
        tracks = read_kmz(data, file, lang)
    elif suffix in (".csv", ".txt"):
        text = None
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        if text is None:
            raise TrackError(message("patrols.unreadable", lang, file=file, reason="encoding"), file=file)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise TrackError(message("patrols.unreadable", lang, file=file, reason=str(exc)[:80]), file=file) from None
        tracks = read_table(frame, file, lang)
    elif suffix in (".xlsx", ".xlsm"):
        try:
            frame = pd.read_excel(io.BytesIO(data), engine="openpyxl")
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise TrackError(message("patrols.unreadable", lang, file=file, reason=type(exc).__name__), file=file) from None
        tracks = read_table(frame, file, lang)
    else:
        raise TrackError(message("patrols.unknown_format", lang, file=file), file=file)
    tracks = [t for t in tracks if len(t)]
    if not tracks:
        raise TrackError(message("patrols.empty_file", lang, file=file), file=file)
    return tracks


def read_tracks(path: str | Path, lang: str = "zh") -> list[Track]:
    """Tracks of a file on disk."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrackError(message("patrols.unreadable", lang, file=path.name, reason=exc.strerror or "OSError"), file=path.name) from None
    return read_tracks_bytes(data, path.name, lang)
