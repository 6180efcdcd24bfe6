"""Per-layer spatial indexes in metres (EPSG:4549), kept current write by write.

Why pieces: an index over whole features is only as selective as their bounding boxes,
and the box of a winding 40 km river covers much of the district, so every point in it
would become a candidate. Lines are therefore cut into pieces of at most
:data:`PIECE_VERTICES` vertices (consecutive pieces share their end vertex, so the
pieces keep exactly the segments of the line). A point's distance to a line is the
minimum over its segments; the minimum over pieces is the same computation over the
same segments. Points and polygons are indexed whole (a polygon's interior matters:
a point inside a lake is 0 m from it).

Why an STRtree plus a delta (measured in ``bench/query.py``): shapely's STRtree answers
a river's pieces against a million points in one vectorised call and builds in a
fraction of a second, but it is immutable. Writes are therefore kept in a small delta
(appended rows, searched with their own small tree built on demand) and removed rows
are masked out; when the delta grows past :data:`COMPACT_MIN_ROWS` rows or a tenth of
the base, base and delta are merged in one rebuild. A thousand inserts cost a few
milliseconds this way, against hundreds for a rebuild.

The index only finds candidates; the distances it returns are computed by shapely in
EPSG:4549 on the feature's own segments, and :mod:`geo.query` re-measures any result
within a micrometre of the limit against the whole geometry, so answers equal a brute
force ``to_metric(geoms).distance(to_metric(target)) <= d``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import from_metric, to_metric

if TYPE_CHECKING:
    from geo.registry import Registry

#: Vertices per indexed piece of a line (3 segments): measured in bench/query.py, 4 answers
#: single-river and all-river questions faster than 6, 8 or 12.
PIECE_VERTICES = 4
#: The delta is merged into the base when it holds more rows than this and than a
#: tenth of the base.
COMPACT_MIN_ROWS = 20_000

_LINES = ("LineString", "MultiLineString", "LinearRing")


def split_lines(geoms: np.ndarray, max_vertices: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut lines into pieces of at most ``max_vertices`` vertices; other parts stay whole.

    Returns ``(pieces, owner)``: the piece geometries and, for each, the position in
    ``geoms`` of the geometry it came from. Consecutive pieces of a line share their end
    vertex, so together they hold exactly the line's segments.

    >>> from shapely import LineString
    >>> pieces, owner = split_lines(np.array([LineString([(i, 0) for i in range(20)])]), 8)
    >>> [len(p.coords) for p in pieces], owner.tolist()
    ([8, 8, 6], [0, 0, 0])
    """
    max_vertices = max_vertices or PIECE_VERTICES
    if max_vertices < 2:
        raise ValueError("a piece needs at least two vertices")
    geoms = np.asarray(geoms, dtype=object)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    if len(parts) == 0:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    types = shapely.get_type_id(parts)
    is_line = (types == 1) | (types == 2)
    keep_parts, keep_owner = parts[~is_line], owner[~is_line]
    lines, line_owner = parts[is_line], owner[is_line]
    if len(lines) == 0:
        return keep_parts, keep_owner.astype(np.int64)
    coords, cidx = shapely.get_coordinates(lines, return_index=True)
    n = np.bincount(cidx, minlength=len(lines))
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    step = max_vertices - 1
    m = np.maximum(1, np.ceil((n - 1) / step)).astype(np.int64)
    piece_line = np.repeat(np.arange(len(lines)), m)
    j = np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m)
    first = start[piece_line] + j * step
    last = np.minimum(first + step, start[piece_line] + n[piece_line] - 1)
    count = last - first + 1
    vertex = np.repeat(first, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    pieces = shapely.linestrings(coords[vertex], indices=np.repeat(np.arange(len(count)), count))
    all_pieces = np.concatenate([keep_parts, pieces])
    all_owner = np.concatenate([keep_owner, line_owner[piece_line]]).astype(np.int64)
    return all_pieces, all_owner


class _Part:
    """Rows of one layer with their metric geometries, pieces and a tree over the pieces."""

    def __init__(self, frame: gpd.GeoDataFrame, metric: np.ndarray | None = None):
        self._frames = [frame]
        self._frame: gpd.GeoDataFrame | None = frame
        self.fids = frame.index.to_numpy(dtype=np.int64)
        geoms = frame.geometry.values
        self.metric = to_metric(np.asarray(geoms, dtype=object)) if metric is None else metric
        self.alive = np.ones(len(frame), dtype=bool)
        self.pieces, self.piece_row = split_lines(self.metric)
        self._tree: shapely.STRtree | None = None

    @property
    def frame(self) -> gpd.GeoDataFrame:
        """The rows' attributes and lon/lat geometries (concatenated when first needed)."""
        if self._frame is None:
            first = self._frames[0]
            self._frame = gpd.GeoDataFrame(pd.concat(self._frames), geometry=first.geometry.name, crs="EPSG:4326")
            self._frames = [self._frame]
        return self._frame

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(self.pieces)
        return self._tree

    def __len__(self) -> int:
        return len(self.fids)

    def pairs_dwithin(self, queries: np.ndarray, distance: float):
        """(query, row, distance) for every piece within ``distance`` of a query geometry.

        The tree is searched with each query's box grown by ``distance`` and the
        candidates measured in one vectorised ``shapely.distance`` call: measured faster
        than the tree's own ``dwithin`` predicate, and it yields the distances too.
        """
        if len(self.pieces) == 0 or len(queries) == 0:
            return _EMPTY_PAIRS
        b = shapely.bounds(queries)
        boxes = shapely.box(b[:, 0] - distance, b[:, 1] - distance, b[:, 2] + distance, b[:, 3] + distance)
        qi, pi = self.tree.query(boxes)
        rows = self.piece_row[pi]
        live = self.alive[rows]
        qi, pi, rows = qi[live], pi[live], rows[live]
        dist = shapely.distance(queries[qi], self.pieces[pi])
        near = dist <= distance
        return qi[near], rows[near], dist[near]

    def rows_intersecting(self, queries: np.ndarray):
        """(query, row) for every piece intersecting a query geometry."""
        if len(self.pieces) == 0 or len(queries) == 0:
            return _EMPTY_PAIRS[:2]
        qi, pi = self.tree.query(queries, predicate="intersects")
        rows = self.piece_row[pi]
        live = self.alive[rows]
        return qi[live], rows[live]


_EMPTY_PAIRS = (np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([], dtype=float))


class LayerIndex:
    """A spatial index of one layer, in EPSG:4549, that follows writes incrementally.

    Rows are numbered across the base and the delta (base rows first); ``take(rows)``
    gives them back as a GeoDataFrame in lon/lat with a ``fid`` column.

    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> frame = gpd.GeoDataFrame({"code": ["a"]}, geometry=[Point(119.5, 31.7)],
    ...                          index=pd.Index([7], name="fid"), crs="EPSG:4326")
    >>> index = LayerIndex("violations", frame)
    >>> index.alive_count
    1
    """

    def __init__(
        self,
        layer_id: str,
        frame: gpd.GeoDataFrame,
        *,
        compact_min_rows: int = COMPACT_MIN_ROWS,
        attributes=None,
    ):
        self.layer_id = layer_id
        self.compact_min_rows = compact_min_rows
        #: For an index built from geometries only: fids -> their full features.
        self.attributes = attributes
        self._set_base(frame.sort_index())

    def _set_base(self, frame: gpd.GeoDataFrame, metric: np.ndarray | None = None) -> None:
        self.base = _Part(frame, metric)
        self.delta = _Part(frame.iloc[:0])
        self._delta_rows: dict[int, int] = {}
        self._pending: list[gpd.GeoDataFrame] = []
        self._pending_fids: set[int] = set()
        self.rebuilds = getattr(self, "rebuilds", -1) + 1
        self.version = getattr(self, "version", 0) + 1

    # -- size and lookup -----------------------------------------------------------

    @property
    def alive_count(self) -> int:
        self._flush()
        return int(self.base.alive.sum() + self.delta.alive.sum())

    @property
    def delta_size(self) -> int:
        self._flush()
        return len(self.delta)

    def fids_of(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self.base)
        out = np.empty(len(rows), dtype=np.int64)
        in_base = rows < n
        out[in_base] = self.base.fids[rows[in_base]]
        out[~in_base] = self.delta.fids[rows[~in_base] - n]
        return out

    def metric_of(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self.base)
        out = np.empty(len(rows), dtype=object)
        in_base = rows < n
        out[in_base] = self.base.metric[rows[in_base]]
        out[~in_base] = self.delta.metric[rows[~in_base] - n]
        return out

    def take(self, rows: np.ndarray) -> gpd.GeoDataFrame:
        """The features at ``rows`` (in that order), lon/lat, with ``fid`` as a column."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.attributes is not None:
            return self._take_loaded(rows)
        n = len(self.base)
        in_base = rows < n
        if in_base.all():
            out = self.base.frame.iloc[rows]
        elif not in_base.any():
            out = self.delta.frame.iloc[rows - n]
        else:
            order = np.argsort(np.argsort(~in_base, kind="stable"), kind="stable")
            both = pd.concat([self.base.frame.iloc[rows[in_base]], self.delta.frame.iloc[rows[~in_base] - n]])
            out = both.iloc[order]
        out = out.reset_index()
        if not isinstance(out, gpd.GeoDataFrame):
            out = gpd.GeoDataFrame(out, geometry=self.base.frame.geometry.name, crs="EPSG:4326")
        return out

    def _take_loaded(self, rows: np.ndarray) -> gpd.GeoDataFrame:
        """:meth:`take` for an index built from geometries only: the attributes of just
        these features are read now, in one call."""
        fids = self.fids_of(rows)
        full = self.attributes(fids)
        out = full.reindex(pd.Index(fids, name=full.index.name or "fid")).reset_index()
        out = out.rename(columns={out.columns[0]: "fid"}) if out.columns[0] != "fid" else out
        if not isinstance(out, gpd.GeoDataFrame):
            out = gpd.GeoDataFrame(out, geometry=full.geometry.name, crs="EPSG:4326")
        return out

    def all_rows(self) -> np.ndarray:
        self._flush()
        n = len(self.base)
        return np.concatenate([np.flatnonzero(self.base.alive), n + np.flatnonzero(self.delta.alive)])

    # -- searching ---------------------------------------------------------------------

    def pairs_dwithin(self, queries: np.ndarray, distance: float):
        """(query, row, distance in m) for pieces within ``distance`` m of metric ``queries``."""
        self._flush()
        q1, r1, d1 = self.base.pairs_dwithin(queries, distance)
        if not len(self.delta):
            return q1, r1, d1
        q2, r2, d2 = self.delta.pairs_dwithin(queries, distance)
        return np.concatenate([q1, q2]), np.concatenate([r1, r2 + len(self.base)]), np.concatenate([d1, d2])

    def rows_intersecting(self, queries: np.ndarray):
        """(query, row) for features intersecting metric ``queries``."""
        self._flush()
        q1, r1 = self.base.rows_intersecting(queries)
        if not len(self.delta):
            return q1, r1
        q2, r2 = self.delta.rows_intersecting(queries)
        return np.concatenate([q1, q2]), np.concatenate([r1, r2 + len(self.base)])

    # -- keeping current --------------------------------------------------------------

    def apply(self, current: gpd.GeoDataFrame, touched: Sequence[int]) -> None:
        """Bring the index up to date after writes to the features ``touched``.

        ``current`` holds those of them that still exist, as stored now (added or
        updated); the others were deleted. Additions are queued and indexed in one
        batch by the next search, so a burst of writes costs one small tree build.
        """
        touched = np.unique(np.asarray(list(touched), dtype=np.int64))
        if len(touched) == 0:
            return
        self.version += 1
        if self._pending_fids.intersection(touched.tolist()):
            self._flush()
        pos = np.searchsorted(self.base.fids, touched)
        pos_ok = pos < len(self.base.fids)
        hit = np.zeros(len(touched), dtype=bool)
        hit[pos_ok] = self.base.fids[pos[pos_ok]] == touched[pos_ok]
        self.base.alive[pos[hit]] = False
        if self._delta_rows:
            for fid in touched.tolist():
                row = self._delta_rows.pop(fid, None)
                if row is not None:
                    self.delta.alive[row] = False
        if len(current):
            self._pending.append(current)
            self._pending_fids.update(current.index.tolist())

    def _flush(self) -> None:
        """Index the queued additions (one concat, one CRS transform, one split)."""
        if not self._pending:
            return
        frames, self._pending = self._pending, []
        self._pending_fids = set()
        if len(frames) == 1:
            frame = frames[0]
        else:
            frame = pd.concat(frames)
            frame = frame[~frame.index.duplicated(keep="last")]
        if not frame.index.is_monotonic_increasing:
            frame = frame.sort_index()
        if not isinstance(frame, gpd.GeoDataFrame):
            frame = gpd.GeoDataFrame(frame, geometry=self.base.frame.geometry.name, crs="EPSG:4326")
        self._append(frame)
        self.version += 1
        if len(self.delta) > max(self.compact_min_rows, len(self.base) // 10):
            self.compact()

    def _append(self, frame: gpd.GeoDataFrame) -> None:
        old = self.delta
        added = _Part(frame)
        if not len(old):
            self.delta = added
        else:
            new = _Part.__new__(_Part)
            new._frames = [*old._frames, frame]
            new._frame = None
            new.fids = np.concatenate([old.fids, added.fids])
            new.metric = np.concatenate([old.metric, added.metric])
            new.alive = np.concatenate([old.alive, added.alive])
            new.pieces = np.concatenate([old.pieces, added.pieces])
            new.piece_row = np.concatenate([old.piece_row, added.piece_row + len(old)])
            new._tree = None
            self.delta = new
        self._delta_rows.update(zip(added.fids.tolist(), range(len(old), len(old) + len(added)), strict=True))

    def compact(self) -> None:
        """Merge the delta into the base: one rebuild, without re-reading the store."""
        self._flush()
        keep_b = np.flatnonzero(self.base.alive)
        keep_d = np.flatnonzero(self.delta.alive)
        frame = pd.concat([self.base.frame.iloc[keep_b], self.delta.frame.iloc[keep_d]])
        frame = gpd.GeoDataFrame(frame, geometry=self.base.frame.geometry.name, crs="EPSG:4326")
        metric = np.concatenate([self.base.metric[keep_b], self.delta.metric[keep_d]])
        order = np.argsort(frame.index.to_numpy(), kind="stable")
        self._set_base(frame.iloc[order], metric[order])


# -- one registry's indexes, kept current -------------------------------------------------


class RegistryIndexes:
    """The spatial indexes of one registry, kept in ``registry.cache`` and kept current.

    Small layers (up to :attr:`FULL_INDEX_MAX` features, which is every layer of a
    district) get a whole-layer index, built the first time a question needs that layer
    and kept: the warm path of a long-running server. A bigger layer is never loaded
    whole: each question reads only the candidates the store's own spatial index (the
    GeoPackage R-tree, PostGIS GiST) finds around it, and indexes those.

    Before each question the store is asked what changed since the indexes last looked
    (:meth:`geo.stores.base.Store.stamps`: per layer a change stamp and feature count,
    moved by every write from any process or tool, and the newest history id). History
    rows name the features written; those are re-read and applied to the index of
    their layer. A layer that changed with no history explaining it (a bulk load
    without history, an edit in QGIS) is rebuilt. A lock makes one thread at a time
    refresh or search.
    """

    KEY = ("query", "spatial-indexes")
    #: More history rows than this since the last look: rebuild instead of replaying.
    MAX_REPLAY = 50_000
    #: More changed features than this in one layer: rebuild it.
    MAX_REREAD = 20_000
    #: Layers with more features than this are searched through the store's index.
    FULL_INDEX_MAX = 200_000

    def __init__(self) -> None:
        import threading

        self.lock = threading.RLock()
        self.layers: dict[str, LayerIndex] = {}
        self.history_id: int | None = None
        self.stamps: dict[str, Any] = {}
        self.full_builds = 0
        self.candidate_builds = 0
        self.applied = 0
        self.full_index_max = self.FULL_INDEX_MAX

    @classmethod
    def of(cls, registry: Registry) -> RegistryIndexes:
        state = registry.cache.get(cls.KEY)
        if state is None:
            state = registry.cache.setdefault(cls.KEY, cls())
        return state

    def use(self, registry: Registry, layer_ids: Sequence[str], around: tuple[np.ndarray, float] | None = None):
        """Context manager: fresh indexes of ``layer_ids`` (a dict), locked while in use.

        ``around`` is (metric query geometries, distance in m): what the question will
        ask. A layer too big for a whole-layer index is then indexed from the store's
        candidates within that distance of the queries; without ``around`` every layer
        is indexed whole.
        """
        return _Using(self, registry, list(layer_ids), around)

    def is_big(self, registry: Registry, layer_id: str, stamps: dict[str, Any]) -> bool:
        count = stamps.get(layer_id, (None, None))[1]
        if count is None:
            count = registry.count(layer_id)
        return int(count) > self.full_index_max

    # -- freshness --------------------------------------------------------------------

    def refresh(self, registry: Registry, layer_ids: Sequence[str], around=None) -> dict[str, LayerIndex]:
        out: dict[str, LayerIndex] = {}
        with registry.snapshot():
            stamps, last_id = registry.stamps()
            if stamps != self.stamps or last_id != self.history_id:
                self._catch_up(registry, stamps, last_id)
            for lid in layer_ids:
                if lid in self.layers:
                    out[lid] = self.layers[lid]
                elif around is not None and self.is_big(registry, lid, stamps):
                    out[lid] = self._candidates(registry, lid, *around)
                else:
                    self.layers[lid] = out[lid] = LayerIndex(lid, registry.read(lid))
                    self.full_builds += 1
        return out

    def _candidates(self, registry: Registry, layer_id: str, queries_m: np.ndarray, distance_m: float) -> LayerIndex:
        """An index of only the features the store finds within reach of the queries."""
        fids = registry.candidates(layer_id, lonlat_boxes(queries_m, distance_m))
        self.candidate_builds += 1
        # Geometries first: the exact test keeps about half of the candidates, and only
        # their attributes are read, when the question takes them.
        geoms = registry.read_geometries(layer_id, fids.tolist())
        return LayerIndex(
            layer_id, geoms, attributes=lambda wanted: registry.read(layer_id, fids=[int(f) for f in wanted])
        )

    def _catch_up(self, registry: Registry, stamps: dict[str, Any], last_id: int) -> None:
        previous = self.history_id
        touched: dict[str, set[int]] = {}
        replayable = previous is not None and previous <= last_id and last_id - previous <= self.MAX_REPLAY
        if replayable and last_id > previous:
            for lid, fid in registry.changes_since(previous):
                touched.setdefault(lid, set()).add(int(fid))
        for lid in list(self.layers):
            fids = touched.get(lid)
            stamp_changed = stamps.get(lid) != self.stamps.get(lid)
            if not replayable:
                del self.layers[lid]
                continue
            if fids and len(fids) > self.MAX_REREAD:
                del self.layers[lid]  # cheaper to rebuild than to re-read that many
            elif fids:
                index = self.layers[lid]
                index.apply(registry.read(lid, fids=sorted(fids)), fids)
                self.applied += len(fids)
                count = stamps.get(lid, (None, None))[1] if lid in stamps else None
                if count is not None and count != index.alive_count:
                    del self.layers[lid]  # a write without history happened too
            elif stamp_changed:
                del self.layers[lid]
        self.stamps, self.history_id = stamps, last_id


def lonlat_boxes(queries_m: np.ndarray, distance_m: float) -> np.ndarray:
    """Lon/lat boxes (n, 4) covering each metric geometry grown by ``distance_m``.

    Each metric box is densified before it goes back to lon/lat, so the curved edges of
    its image are covered too; a micro-degree of margin absorbs rounding.
    """
    queries_m = np.asarray(queries_m, dtype=object)
    if len(queries_m) == 0:
        return np.zeros((0, 4))
    b = shapely.bounds(queries_m)
    boxes = shapely.box(b[:, 0] - distance_m, b[:, 1] - distance_m, b[:, 2] + distance_m, b[:, 3] + distance_m)
    size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) + 2 * distance_m
    boxes = shapely.segmentize(boxes, np.maximum(size / 8, 1.0))
    out = shapely.bounds(from_metric(boxes))
    return out + np.array([-1e-6, -1e-6, 1e-6, 1e-6])


class _Using:
    def __init__(self, state: RegistryIndexes, registry: Registry, layer_ids: list[str], around):
        self.state, self.registry, self.layer_ids, self.around = state, registry, layer_ids, around

    def __enter__(self) -> dict[str, LayerIndex]:
        self.state.lock.acquire()
        try:
            return self.state.refresh(self.registry, self.layer_ids, self.around)
        except BaseException:
            self.state.lock.release()
            raise

    def __exit__(self, *exc) -> None:
        self.state.lock.release()
