"""Big layers held in memory as GeoJSON text, for bbox pages without a database read.

A map panning over 100,000 violations asks the same question many times a second: the
features in this box, in fid order, a page at a time. :class:`LayerSnapshot` answers
it from memory: each feature's GeoJSON text, encoded once, and a shapely STRtree over
the geometries that tests the box exactly in C. A page is then a tree query, a slice
and a join of ready bytes.

A snapshot belongs to one state of its layer (the caller's ``token``, which changes
with every committed write to the layer); :class:`SnapshotCache` keeps the newest
snapshot of each big layer and rebuilds it in a background thread when the token moves
on. Readers never
wait for a build and are never served an old snapshot: until the new one is ready,
:meth:`SnapshotCache.get` returns None and the caller reads the database as usual.

For example (on the demo registry)::

    from geo.registry import Registry
    cache = SnapshotCache(min_features=10_000)
    snap = cache.get(reg, reg.layer("violations"), token)
    texts, matched = snap.page((119.5, 31.7, 119.52, 31.72), limit=100)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from geo.features import feature_texts
from layers import Layer

if TYPE_CHECKING:
    from geo.registry import Registry

log = logging.getLogger("hehu.feature_pages")

#: Layers smaller than this are read from the database: it answers them fast enough.
DEFAULT_MIN_FEATURES = 10_000
#: Layers bigger than this are served by the store's own spatial index: an in-memory
#: copy of a million features would cost a server process more memory than it saves.
DEFAULT_MAX_FEATURES = 200_000


@dataclass
class LayerSnapshot:
    """One layer at one registry state: fids (ascending), geometries, Feature texts."""

    layer_id: str
    token: Hashable
    fids: np.ndarray
    tree: shapely.STRtree
    texts: list[bytes]

    @classmethod
    def build(cls, registry: Registry, layer: Layer, token: Hashable, chunk: int = 10_000) -> LayerSnapshot:
        """Read the whole layer once, ``chunk`` rows at a time, and encode every feature.

        ``token`` must be taken before the read starts: a write during the build then
        leaves the snapshot labelled with a state that is no longer current, and it is
        never served.
        """
        fids: list[int] = []
        geoms: list = []
        texts: list[bytes] = []
        offset = 0
        while True:
            rows, _ = registry.read_rows(layer.id, limit=chunk, offset=offset)
            fids += [r[0] for r in rows]
            geoms += [r[1] for r in rows]
            texts += [t.encode("utf-8") for t in feature_texts(rows, layer)]
            offset += len(rows)
            if len(rows) < chunk:
                break
        fid_array = np.array(fids, dtype=np.int64)
        if len(fid_array) and not (np.diff(fid_array) > 0).all():  # a write moved rows under us
            order = np.argsort(fid_array, kind="stable")
            fid_array = fid_array[order]
            geoms = [geoms[i] for i in order]
            texts = [texts[i] for i in order]
        return cls(layer.id, token, fid_array, shapely.STRtree(np.array(geoms, dtype=object)), texts)

    def __len__(self) -> int:
        return len(self.fids)

    def page(
        self,
        bbox: tuple[float, float, float, float],
        *,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[bytes], int]:
        """Texts of the features intersecting ``bbox`` in fid order, and how many match."""
        hits = np.sort(self.tree.query(shapely.box(*bbox), predicate="intersects"))
        if descending:
            hits = hits[::-1]
        chosen = hits[offset : None if limit is None else offset + limit]
        return [self.texts[i] for i in chosen.tolist()], len(hits)


class SnapshotCache:
    """The newest snapshot of each big layer, rebuilt in the background after writes."""

    def __init__(self, min_features: int = DEFAULT_MIN_FEATURES, max_features: int = DEFAULT_MAX_FEATURES):
        self.min_features = min_features
        self.max_features = max_features
        self._snapshots: dict[str, LayerSnapshot] = {}
        self._building: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def get(self, registry: Registry, layer: Layer, token: Hashable, count: int | None = None) -> LayerSnapshot | None:
        """The snapshot of ``layer`` at ``token``, or None (then read the database).

        ``count`` is the layer's feature count when the caller knows it; a layer under
        ``min_features`` gets no snapshot. A missing or outdated one starts a build.
        """
        snap = self._snapshots.get(layer.id)
        if snap is not None and snap.token == token:
            return snap
        if count is None:
            count = registry.count(layer.id)
        if count < self.min_features or count > self.max_features:
            return None
        with self._lock:
            building = self._building.get(layer.id)
            if building is None or not building.is_alive():
                thread = threading.Thread(
                    target=self._build, args=(registry, layer, token), name=f"snapshot-{layer.id}", daemon=True
                )
                self._building[layer.id] = thread
                thread.start()
        return None

    def _build(self, registry: Registry, layer: Layer, token: Hashable) -> None:
        try:
            snap = LayerSnapshot.build(registry, layer, token)
        except Exception:  # a failed build only means reads keep going to the database
            log.exception("could not build the in-memory snapshot of %s", layer.id)
            return
        finally:
            registry.close()  # this thread's own connection
        # Builds of one layer run one at a time, so this is the newest; get() still
        # checks its token against the caller's before serving it.
        self._snapshots[layer.id] = snap

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for the builds under way (tests and benchmarks use it)."""
        for thread in list(self._building.values()):
            thread.join(timeout)
