"""Import patrol tracks into the registry: read, clean, match reaches, judge, write.

``import_tracks`` is what ``hehu patrols import`` and ``POST /patrols/import`` call. It
is all or nothing: every file and every track is read, cleaned and checked first, and
only when none is refused are the patrols written, in one transaction. ``dry_run``
stops before writing and returns the same report.

Reaches are matched from the geometry: the chief's own reaches first (those the track
follows), else any river or lake the track follows for a quarter of its length or more,
else the one it runs nearest to. A patrol with no river or lake within the on-reach
distance is still imported, and invalid ("no reach patrolled").
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geo.crs import to_metric
from geo.i18n import message
from geo.patrols.clean import clean_track
from geo.patrols.settings import PatrolSettings, patrol_settings
from geo.patrols.tracks import Track, TrackError, iso, read_tracks_bytes
from geo.patrols.validity import judge

if TYPE_CHECKING:
    from geo.registry import Registry

#: Share of a track that must lie near a reach for the reach to count as patrolled.
MATCH_SHARE = 0.25
WATER_LAYERS = ("rivers", "lakes")


@dataclass
class ImportResult:
    """What an import did (or, with ``dry_run``, would do)."""

    patrols: list[tuple[dict[str, Any], Any]]
    report: list[str] = field(default_factory=list)
    written: bool = False
    fids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "fids": self.fids,
            "patrols": [
                {k: v for k, v in props.items() if k != "fix_seconds"} for props, _ in self.patrols
            ],
            "report": self.report,
        }


def chiefs_from_reaches(registry: Registry) -> pd.DataFrame:
    """Chiefs derived from the ``chief`` labels of rivers and lakes (a registry made
    before the chiefs layer, and the demo): name, level, post, town, reaches."""
    rows = []
    for layer_id in WATER_LAYERS:
        if layer_id not in registry.catalog:
            continue
        gdf = registry.read(layer_id)
        if gdf.empty or "chief" not in gdf:
            continue
        df = pd.DataFrame({
            "name": gdf["chief"],
            "level": gdf["grade"] if "grade" in gdf else "区级",
            "post": gdf["chief_title"] if "chief_title" in gdf else None,
            "town": gdf["town"] if "town" in gdf else None,
            "code": gdf["code"],
        })
        rows.append(df[df["name"].notna() & (df["name"].astype(str).str.strip() != "")])
    if not rows:
        return pd.DataFrame(columns=["name", "level", "post", "town", "reaches"])
    df = pd.concat(rows, ignore_index=True)
    rank = df["level"].map({"区级": 0, "镇级": 1, "村级": 2}).fillna(3)
    df = df.assign(rank=rank).sort_values(["rank"], kind="stable")
    out = df.groupby("name", sort=False).agg(
        level=("level", "first"), post=("post", "first"), town=("town", "first"),
        reaches=("code", lambda s: ";".join(map(str, s))),
    ).reset_index()
    return out


def derive_chiefs(registry: Registry, *, user: str = "migrate") -> int:
    """Fill an empty ``chiefs`` layer from the reach labels (a registry made before the
    layer existed); returns how many chiefs were written. Refuses a layer already filled."""
    from geo.errors import ValidationError

    if registry.count("chiefs"):
        raise ValidationError("the chiefs layer is not empty: edit it instead", layer="chiefs")
    df = chiefs_from_reaches(registry)
    rows = [
        ({"code": f"HZ-{i:04d}", "name": r["name"], "level": r["level"], "post": r["post"], "town": r["town"],
          "active": True, "reaches": r["reaches"]}, None)
        for i, r in enumerate(df.to_dict("records"), start=1)
    ]
    registry.add_many("chiefs", rows, user=user)
    return len(rows)


def known_chiefs(registry: Registry) -> pd.DataFrame:
    """The chiefs layer (active ones); derived from reach labels when it is empty."""
    if "chiefs" in registry.catalog and registry.count("chiefs"):
        df = pd.DataFrame(registry.read("chiefs").drop(columns="geometry"))
        return df[df["active"].fillna(True).astype(bool)] if "active" in df else df
    return chiefs_from_reaches(registry)


def _waters(registry: Registry) -> tuple[list[str], np.ndarray]:
    codes, geoms = [], []
    for layer_id in WATER_LAYERS:
        if layer_id in registry.catalog:
            gdf = registry.read(layer_id)
            codes += gdf["code"].astype(str).tolist()
            geoms += list(gdf.geometry.values)
    metric = to_metric(np.array(geoms, dtype=object)) if geoms else np.array([], dtype=object)
    # A lake is patrolled along its shore: measure nearness to its outline, not its water.
    if len(metric):
        polygon = np.isin(shapely.get_type_id(metric), (3, 6))
        metric = np.where(polygon, shapely.boundary(metric), metric)
    return codes, metric


def match_reaches(
    track_metric,
    codes: list[str],
    waters_metric: np.ndarray,
    own: set[str],
    distance_m: float,
    tree: shapely.STRtree | None = None,
) -> list[str]:
    """Codes of the waters a track patrolled (the chief's own first; see module docstring)."""
    if not len(codes):
        return []
    tree = tree if tree is not None else shapely.STRtree(waters_metric)
    idx = tree.query(track_metric, predicate="dwithin", distance=distance_m)
    if idx.size == 0:
        return []
    zone = shapely.buffer(waters_metric[idx], distance_m)
    near = shapely.length(shapely.intersection(track_metric, zone))
    share = near / max(track_metric.length, 1e-9)
    cand = [(codes[i], s, n) for i, s, n in zip(idx, share, near, strict=True)]
    mine = [c for c, s, _ in cand if c in own and s >= MATCH_SHARE]
    if mine:
        return sorted(mine)
    follow = [c for c, s, _ in cand if s >= MATCH_SHARE]
    if follow:
        return sorted(follow)
    best = max(cand, key=lambda c: c[2])
    return [best[0]] if best[2] > 0 else []


def seconds_text(times: np.ndarray) -> str:
    """Fix times as whole seconds after the first, space-separated (``0 60 121``).

    Offsets rather than instants: four characters a fix instead of twenty-one, and a
    value GDAL and QGIS read as text (a string of ISO instants is taken for one
    DateTime by GDAL's GeoJSON reader, which drops the rest).
    """
    offsets = (times - times[0]).astype("timedelta64[s]").astype(np.int64)
    return " ".join(map(str, offsets.tolist()))


def fix_instants(started_at: str, fix_seconds: str) -> list[str]:
    """ISO UTC instants of the fixes from ``started_at`` and ``fix_seconds``."""
    t0 = np.datetime64(started_at.rstrip("Z"), "s")
    offsets = np.array(fix_seconds.split(), dtype=np.int64).astype("timedelta64[s]")
    return [s + "Z" for s in np.datetime_as_string(t0 + offsets, unit="s")]


def _code(chief: str, started: str | None, geom) -> str:
    digest = hashlib.sha1(f"{chief}|{started}|{shapely.to_wkb(geom, hex=True)}".encode()).hexdigest()[:8]
    stamp = started.replace("-", "").replace(":", "")[:13] if started else "NT"
    return f"XH-{stamp}-{digest}"


def _source_for(file: str) -> str:
    return "GPX" if file.lower().endswith(".gpx") else "河长通APP"


def import_tracks(
    registry: Registry,
    files: list[tuple[str, bytes]],
    chief: str,
    *,
    crs: str = "wgs84",
    source: str | None = None,
    dry_run: bool = False,
    user: str = "import",
    lang: str = "zh",
    settings: PatrolSettings | None = None,
) -> ImportResult:
    """Read, clean, match and judge every track of ``files``; write them all, or none."""
    settings = settings or patrol_settings()
    if source is not None:  # checked first, so that a dry run refuses it too
        from geo.validate import coerce_value

        source = coerce_value(registry.layer("patrols").field("source"), source, "patrols")
    chiefs = known_chiefs(registry)
    names = chiefs["name"].astype(str).tolist()
    if chief not in names:
        close = difflib.get_close_matches(chief, names, n=5, cutoff=0.3) or names[:5]
        raise TrackError(message("patrols.unknown_chief", lang, name=chief, suggestions="、".join(close) or "—"))
    own_row = chiefs[chiefs["name"] == chief].iloc[0]
    own = {c.strip() for c in str(own_row.get("reaches") or "").split(";") if c.strip()}
    district = registry.district_metric("patrols")

    cleaned = []
    report: list[str] = []
    for name, data in files:
        for track in read_tracks_bytes(data, name, lang):
            c = clean_track(track, crs=crs, district_metric=district,
                            max_speed_ms=settings.max_speed_ms.value, lang=lang)
            cleaned.append(c)
            notes = c.report(lang, settings.max_speed_ms.value)
            if notes:
                report.append(f"{name} ({track.name}): " + "; ".join(notes))

    codes, waters = _waters(registry)
    geoms = np.array([c.track.geometry() for c in cleaned], dtype=object)
    metric = np.array(
        [shapely.MultiLineString([np.column_stack([c.x[c.track.segment == s], c.y[c.track.segment == s]])
                                  for s in np.unique(c.track.segment) if (c.track.segment == s).sum() >= 2])
         for c in cleaned],
        dtype=object,
    )
    d = settings.on_reach_distance_m.value
    tree = shapely.STRtree(waters) if len(codes) else None
    matched = [match_reaches(m, codes, waters, own, d, tree) for m in metric]
    by_code = dict(zip(codes, waters, strict=True))
    reach_geoms = np.array(
        [shapely.union_all([by_code[c] for c in m]) if m else None for m in matched], dtype=object
    )
    durations = np.array([np.nan if c.track.duration_min is None else c.track.duration_min for c in cleaned])
    valid, reasons = judge(metric, durations, reach_geoms, settings, lang)

    existing = _existing(registry, chief)
    rows = []
    seen: set[str] = set()
    for i, c in enumerate(cleaned):
        t: Track = c.track
        started, ended = iso(t.started_at), iso(t.ended_at)
        key = _code(chief, started, geoms[i])
        dup = existing.get((started, shapely.to_wkb(shapely.set_precision(geoms[i], 1e-7), hex=True)))
        if dup is not None or key in seen:
            raise TrackError(
                message("patrols.duplicate", lang, file=t.file, track=t.name, chief=chief,
                        started_at=started or "—", code=dup or key),
                file=t.file,
            )
        seen.add(key)
        fix_seconds = None
        if t.times is not None:
            fix_seconds = seconds_text(t.times)
        props = {
            "code": key,
            "chief": chief,
            "reaches": ";".join(matched[i]) or None,
            "started_at": started,
            "ended_at": ended,
            "duration_min": None if np.isnan(durations[i]) else round(float(durations[i]), 1),
            "length_m": round(float(metric[i].length), 1),
            "source": source or _source_for(t.file),
            "valid": bool(valid[i]),
            "invalid_reason": reasons[i] or None,
            "fix_seconds": fix_seconds,
            "cleaning": "; ".join(c.report(lang, settings.max_speed_ms.value)) or None,
            "file": t.file,
        }
        rows.append((props, geoms[i]))
    result = ImportResult(rows, report)
    if not dry_run:
        result.fids = registry.add_many("patrols", rows, user=user)
        result.written = True
    return result


def _existing(registry: Registry, chief: str) -> dict[tuple[str | None, str], str]:
    """(started_at, geometry at 1e-7°) → code of the chief's patrols already recorded."""
    gdf = registry.read("patrols", where={"chief": chief})
    if gdf.empty:
        return {}
    wkb = shapely.to_wkb(shapely.set_precision(gdf.geometry.values, 1e-7), hex=True)
    started = gdf["started_at"].where(gdf["started_at"].notna(), None)
    return dict(zip(zip(started, wkb, strict=True), gdf["code"], strict=True))
