"""Clean a track before it is measured: datum, repeated fixes, GPS jumps, the district.

Phones built on Amap record GCJ-02 and Baidu-based ones BD-09: the track is converted to
WGS84 first (``geo.crs``), since the offset (~500 m here) is larger than the buffers
coverage is measured with. Then, each step vectorised over the fixes:

1. time going backwards is refused (a merged or edited file; dropping fixes would hide
   it), a fix repeating the previous timestamp is dropped;
2. fixes outside the district (grown by its 500 m tolerance) are dropped; a track with
   none inside is refused, with a hint when reading it as GCJ-02/BD-09 or with
   longitude and latitude swapped would put it inside;
3. GPS jumps: a fix reached from the previous one *and* left towards the next one at
   more than ``max_speed_ms`` is a spike and is dropped (repeated until none is left, a
   few passes at most). The first and last fixes need only their one neighbour. Fixes
   that jump away *together* and come back (two or more in a row, close to each other)
   are not spikes by this rule and are kept: the phone may really have been there.

What was dropped is counted in :class:`Cleaned` and said in the import report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import METRIC_CRS, STORAGE_CRS, transform_coords
from geo.i18n import message
from geo.patrols.tracks import Track, TrackError, iso

#: CRSs a track may be recorded in.
TRACK_CRS = ("wgs84", "gcj02", "bd09")


@dataclass
class Cleaned:
    """A cleaned track (WGS84), its metric coordinates, and what cleaning dropped."""

    track: Track
    x: np.ndarray
    y: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)

    def report(self, lang: str = "zh", max_speed_ms: float = 0.0) -> list[str]:
        keys = {
            "untimed": ("patrols.dropped_untimed", {}),
            "duplicates": ("patrols.dropped_duplicates", {}),
            "outside": ("patrols.dropped_outside", {}),
            "jumps": ("patrols.dropped_jumps", {"speed": f"{max_speed_ms:g}"}),
        }
        return [
            message(key, lang, n=self.dropped[name], **extra)
            for name, (key, extra) in keys.items()
            if self.dropped.get(name)
        ]


def to_wgs84(track: Track, crs: str, lang: str = "zh") -> Track:
    """The track's coordinates converted from ``crs`` (wgs84, gcj02, bd09) to WGS84."""
    crs = (crs or "wgs84").lower()
    if crs not in TRACK_CRS:
        raise TrackError(message("patrols.unknown_crs", lang, value=crs))
    if crs == "wgs84":
        return track
    lon, lat = transform_coords(track.lon, track.lat, crs, STORAGE_CRS)
    out = track.take(np.ones(len(track), dtype=bool))
    out.lon, out.lat = lon, lat
    return out


def _inside(district_metric: BaseGeometry | None, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    if district_metric is None:
        return np.ones(lon.size, dtype=bool)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    x, y = transform_coords(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0), STORAGE_CRS, METRIC_CRS)
    shapely.prepare(district_metric)
    return ok & shapely.contains_xy(district_metric, x, y)


def _outside_hint(track: Track, crs: str, district_metric: BaseGeometry, lang: str) -> str:
    """Why a track might lie outside: an undeclared offset datum, or swapped columns."""
    def share_inside(lon, lat) -> float:
        return float(_inside(district_metric, lon, lat).mean())

    if crs == "wgs84":
        for alt in ("gcj02", "bd09"):
            lon, lat = transform_coords(track.lon, track.lat, alt, STORAGE_CRS)
            if share_inside(lon, lat) > 0.5:
                return message(f"patrols.hint_{alt}", lang)
    if share_inside(track.lat, track.lon) > 0.5:
        return message("patrols.hint_swapped", lang)
    return ""


def jump_mask(x: np.ndarray, y: np.ndarray, secs: np.ndarray, max_speed_ms: float) -> np.ndarray:
    """False for GPS jumps: fixes both reached and left faster than ``max_speed_ms``.

    Each pass drops isolated spikes; a run of two or three bad fixes needs a few passes.
    An end fix is the odd one out when its one step is fast and the next is not.
    """
    keep = np.ones(x.size, dtype=bool)
    for _ in range(5):
        idx = np.flatnonzero(keep)
        if idx.size < 3:
            break
        step = np.hypot(np.diff(x[idx]), np.diff(y[idx]))
        fast = step / np.maximum(np.diff(secs[idx]), 1.0) > max_speed_ms
        spike = np.concatenate([[False], fast[:-1] & fast[1:], [False]])
        spike[0] = fast[0] and not fast[1]
        spike[-1] = fast[-1] and not fast[-2]
        if not spike.any():
            break
        keep[idx[spike]] = False
    return keep


def clean_track(
    track: Track,
    *,
    crs: str = "wgs84",
    district_metric: BaseGeometry | None = None,
    max_speed_ms: float = 15.0,
    lang: str = "zh",
) -> Cleaned:
    """The track converted to WGS84 and cleaned (see the module docstring), or a TrackError."""
    original = track
    track = to_wgs84(track, crs, lang)
    dropped: dict[str, int] = {}

    if track.times is not None:
        t = track.times
        timed = ~np.isnat(t)
        if not timed.all():
            dropped["untimed"] = int((~timed).sum())
            track = track.take(timed)
            t = track.times
        dt = np.diff(t).astype("timedelta64[s]").astype(np.int64)
        if (dt < 0).any():
            i = int(np.flatnonzero(dt < 0)[0])
            raise TrackError(
                message("patrols.backwards", lang, file=track.file, track=track.name, point=i + 2,
                        before=iso(t[i]), after=iso(t[i + 1])),
                file=track.file,
            )
        repeat = np.concatenate([[False], dt == 0])
        if repeat.any():
            dropped["duplicates"] = int(repeat.sum())
            track = track.take(~repeat)

    inside = _inside(district_metric, track.lon, track.lat)
    if not inside.any():
        hint = _outside_hint(original, crs, district_metric, lang) if district_metric is not None else ""
        raise TrackError(
            message("patrols.outside", lang, file=track.file, track=track.name) + hint, file=track.file
        )
    if not inside.all():
        dropped["outside"] = int((~inside).sum())
        track = track.take(inside)

    x, y = transform_coords(track.lon, track.lat, STORAGE_CRS, METRIC_CRS)
    if track.times is not None and len(track) >= 2:
        keep = jump_mask(x, y, track.times.astype(np.int64).astype(float), max_speed_ms)
        if not keep.all():
            dropped["jumps"] = int((~keep).sum())
            track, x, y = track.take(keep), x[keep], y[keep]

    if len(track) < 2 or track.geometry() is None:
        raise TrackError(
            message("patrols.single_point", lang, file=track.file, track=track.name, n=len(track)),
            file=track.file,
        )
    return Cleaned(track, x, y, dropped)
