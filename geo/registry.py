"""The registry: every layer of the river-chief map, validated against the catalog.

For example (on the demo registry)::

    from geo.registry import Registry
    reg = Registry.open("data/jintan.gpkg")
    reg.read("violations", where={"status": "整改中"})
    reg.near("丹金溧漕河", 50)

A registry wraps a :class:`geo.stores.base.Store` (the GeoPackage store by default) and
checks every write with :mod:`geo.validate`. Spatial questions (``near``, ``within``,
``intersects``, ``nearest``) are answered by :mod:`geo.query`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo import cql2, query
from geo.crs import to_metric
from geo.errors import HehuError, NotFoundError, ValidationError
from geo.i18n import message
from geo.references import check_references, renames
from geo.stores import create_store, display_name, is_database_uri, open_store
from geo.stores.base import BBox, FilterTree, OrderBy, Store, Where
from geo.validate import DISTRICT_TOLERANCE_M, validate_feature, validate_properties
from layers import Catalog, CatalogError, Layer, load_catalog

DEFAULT_PATH = Path("data/jintan.gpkg")
SYSTEM_USER = "system"


class UnknownLayerError(NotFoundError):
    code = "unknown-layer"


def problem_filter(layer: Layer) -> FilterTree | None:
    """The catalog's problem rule as a filter the store can run (None: no rule).

    A missing value counts as a problem under a ``not_in`` rule, as in
    :func:`problem_mask`.
    """
    return None if layer.problem is None else layer.problem.filter_tree()


def problem_mask(layer: Layer, frame: pd.DataFrame) -> pd.Series:
    """Boolean mask of the rows that are "problems" under the layer's catalog rule."""
    if layer.problem is None:
        return pd.Series(False, index=frame.index)
    return layer.problem.mask(frame)


class LastOutlineError(HehuError):
    """Deleting the district's last outline, which would switch off the inside-Jintan check."""

    status = 409
    code = "last-district-outline"


#: Feature ids are SQLite's 64-bit integers; a larger number cannot name a feature.
_FID_MAX = 2**63 - 1


def _feature_id(layer_id: str, fid: Any) -> int:
    """``fid`` as an int, or NotFoundError: non-numbers and numbers beyond 64 bits name no feature."""
    if isinstance(fid, bool):
        fid = str(fid)
    try:
        value = fid if isinstance(fid, int) else int(str(fid).strip(), 10) if str(fid).strip().isascii() else None
    except (TypeError, ValueError):
        value = None
    if value is None or not -_FID_MAX <= value <= _FID_MAX:
        shown = str(fid)[:40]
        raise NotFoundError(f"layer {layer_id}: no feature {shown!r}", layer=layer_id, fid=shown)
    return value


class Registry:
    """The river-chief asset registry over one store."""

    def __init__(self, store: Store, catalog: Catalog | None = None, path: Path | None = None):
        self.store = store
        self.catalog = catalog or load_catalog()
        self.path = path
        # Derived data (district outline, spatial indexes) keyed by the store's version.
        self.cache: dict[str, Any] = {}

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path = DEFAULT_PATH, catalog: Catalog | None = None) -> Registry:
        """Open an existing registry (raises RegistryFileError if it is not one)."""
        catalog = catalog or load_catalog()
        store = open_store(path, catalog)
        return cls(store, catalog, None if is_database_uri(path) else Path(path))

    @classmethod
    def create(
        cls, path: str | Path, metadata: dict[str, Any] | None = None, catalog: Catalog | None = None
    ) -> Registry:
        """Create a new, empty registry with a table for every catalog layer."""
        catalog = catalog or load_catalog()
        meta = {"title": "河湖一张图", "demo": False, "synthetic": False, **(metadata or {})}
        store = create_store(path, catalog, meta)
        return cls(store, catalog, None if is_database_uri(path) else Path(path))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- catalog ----------------------------------------------------------------------

    def layer(self, layer_id: str) -> Layer:
        """The catalog layer, or UnknownLayerError listing the known ones."""
        try:
            return self.catalog[layer_id]
        except CatalogError as exc:
            raise UnknownLayerError(str(exc), layer=layer_id) from None

    @property
    def layers(self) -> list[Layer]:
        return list(self.catalog)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.store.metadata()

    @property
    def is_demo(self) -> bool:
        return bool(self.metadata.get("demo"))

    def version(self) -> tuple:
        """Changes whenever any connection commits a write to the registry."""
        return self.store.data_version()

    def stamps(self) -> tuple[dict[str, tuple], int]:
        """Per-layer change stamps and the newest history id (see Store.stamps)."""
        return self.store.stamps()

    def changes_since(self, history_id: int) -> list[tuple[str, int]]:
        """(layer, fid) of every write after history id ``history_id``."""
        return self.store.changes_since(history_id)

    def last_change(self, layer_id: str | None = None) -> int:
        """Id of the newest history row (of one layer)."""
        return self.store.last_change(layer_id)

    def snapshot(self) -> AbstractContextManager:
        """Reads inside see one committed state of the registry."""
        return self.store.snapshot()

    # -- reading ----------------------------------------------------------------------

    def read(
        self,
        layer_id: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | str | None = None,
        fids: Sequence[int] | None = None,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
        problems_only: bool = False,
    ) -> gpd.GeoDataFrame:
        """Features of one layer as a GeoDataFrame indexed by ``fid``.

        ``bbox`` is (minlon, minlat, maxlon, maxlat) and keeps features intersecting it;
        ``where`` maps fields to a value or a list of values; ``filter`` is CQL2 text (or
        its parsed tree); ``problems_only`` keeps the features the catalog's problem rule
        selects. All of it is done by the store.
        """
        layer = self.layer(layer_id)
        self._check_where(layer, where)
        tree = self._filter(layer, filter, problems_only)
        return self.store.read(
            layer, bbox=bbox, where=where, filter=tree, fids=fids, order_by=order_by, limit=limit, offset=offset
        )

    def iter_frames(
        self,
        layer_id: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | str | None = None,
        order_by: OrderBy | None = None,
        problems_only: bool = False,
        chunk_size: int = 50_000,
    ) -> Iterator[gpd.GeoDataFrame]:
        """:meth:`read` in chunks of at most ``chunk_size`` features (for exports and
        checks of whole big layers)."""
        layer = self.layer(layer_id)
        self._check_where(layer, where)
        tree = self._filter(layer, filter, problems_only)
        return self.store.iter_frames(
            layer, bbox=bbox, where=where, filter=tree, order_by=order_by, chunk_size=chunk_size
        )

    def read_rows(
        self,
        layer_id: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | str | None = None,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[tuple], int]:
        """One page of features as ``(fid, geometry, *values in catalog field order)``
        tuples, and how many match in all: :meth:`read` without the GeoDataFrame, for
        serving pages of big layers (the OGC API items)."""
        layer = self.layer(layer_id)
        self._check_where(layer, where)
        tree = self._filter(layer, filter, False)
        return self.store.read_rows(
            layer, bbox=bbox, where=where, filter=tree, order_by=order_by, limit=limit, offset=offset
        )

    def count(
        self,
        layer_id: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | str | None = None,
        problems_only: bool = False,
    ) -> int:
        layer = self.layer(layer_id)
        self._check_where(layer, where)
        tree = self._filter(layer, filter, problems_only)
        return self.store.count(layer, bbox=bbox, where=where, filter=tree)

    def candidates(self, layer_id: str, boxes: Any) -> Any:
        """Fids whose envelope meets any of the lon/lat ``boxes`` (the store's index)."""
        return self.store.candidates(self.layer(layer_id), boxes)

    def read_geometries(self, layer_id: str, fids: Sequence[int]) -> gpd.GeoDataFrame:
        """Only the geometries of ``fids`` (indexed by fid): the cheap first pass of a
        question about a big layer."""
        return self.store.read_geometries(self.layer(layer_id), fids)

    def temporal_extent(self, layer_id: str, field: str) -> tuple[str, str] | None:
        """(first, last) value of one date field of a layer, or None."""
        return self.store.temporal_extent(self.layer(layer_id), field)

    def _filter(self, layer: Layer, filter: FilterTree | str | None, problems_only: bool) -> FilterTree | None:
        """A checked filter tree, with the problem rule joined in when asked."""
        tree = cql2.parse(filter) if isinstance(filter, str) else filter
        if tree is not None:
            cql2.check(tree, layer)
        if problems_only:
            rule = problem_filter(layer)
            if rule is not None:
                tree = rule if tree is None else ("and", tree, rule)
        return tree

    def _check_where(self, layer: Layer, where: Where | None) -> None:
        for name in where or {}:
            if not layer.has_field(name):
                raise ValidationError(
                    f"unknown field; fields: {', '.join(layer.field_names)}",
                    layer=layer.id,
                    field=name,
                )

    def get(self, layer_id: str, fid: int) -> dict[str, Any]:
        """One feature ``{"fid", "properties", "geometry"}``; NotFoundError if absent."""
        layer = self.layer(layer_id)
        fid = _feature_id(layer_id, fid)
        feature = self.store.get(layer, fid)
        if feature is None:
            raise NotFoundError(f"layer {layer_id}: no feature {fid}", layer=layer_id, fid=fid)
        return feature

    def find(self, layer_id: str, code: str) -> dict[str, Any]:
        """One feature by its id field (``code``)."""
        layer = self.layer(layer_id)
        hits = self.store.read(layer, where={layer.id_field: code}, limit=1)
        if hits.empty:
            raise NotFoundError(f"layer {layer_id}: no feature with {layer.id_field} {code!r}")
        return self.get(layer_id, int(hits.index[0]))

    def extent(self, layer_id: str) -> tuple[float, float, float, float] | None:
        return self.store.extent(self.layer(layer_id))

    # -- the district --------------------------------------------------------------------

    def district(self) -> BaseGeometry | None:
        """The district outline (lon/lat), or None in a registry that has none yet."""
        return self._district_state()[0]

    def _district_state(self) -> tuple[BaseGeometry | None, BaseGeometry | None]:
        """(outline, outline in EPSG:4549 grown by the tolerance), cached per change."""
        if "district" not in self.catalog:
            return None, None
        layer = self.layer("district")
        key = ("district", self.store.layer_stamp(layer))
        state = self.cache.get("district")
        if state is None or state[0] != key:
            gdf = self.store.read(layer)
            geom = metric = None
            if not gdf.empty:
                geom = shapely.union_all(gdf.geometry.values)
                metric = to_metric(geom).buffer(DISTRICT_TOLERANCE_M)
            state = (key, geom, metric)
            self.cache["district"] = state
        return state[1], state[2]

    def _district_metric(self, layer: Layer) -> BaseGeometry | None:
        if layer.id == "district":
            return None
        return self._district_state()[1]

    def district_metric(self, layer_id: str) -> BaseGeometry | None:
        """The district outline in EPSG:4549 metres, buffered by the tolerance that writes
        to ``layer_id`` are checked against (None for the district layer itself, or when
        the registry has no outline yet)."""
        return self._district_metric(self.layer(layer_id))

    # -- writing ----------------------------------------------------------------------

    def add(
        self, layer_id: str, properties: dict[str, Any], geometry: Any, *, user: str = SYSTEM_USER
    ) -> int:
        """Validate and add one feature; returns its fid."""
        return self.add_many(layer_id, [(properties, geometry)], user=user)[0]

    def add_many(
        self,
        layer_id: str,
        features: Iterable[tuple[dict[str, Any], Any]] | gpd.GeoDataFrame,
        *,
        user: str = SYSTEM_USER,
        history: bool = True,
    ) -> list[int]:
        """Validate every feature, then add them all in one transaction (all or nothing)."""
        layer = self.layer(layer_id)
        if isinstance(features, gpd.GeoDataFrame):
            cols = [c for c in features.columns if c != features.geometry.name]
            records = features[cols].to_dict("records")
            features = list(zip(records, features.geometry.values, strict=False))
        rows = self._validate_many(layer, list(features))
        check_references(self, layer, [props for props, _ in rows])
        return self.store.add(layer, rows, user=user, history=history)

    def _validate_many(self, layer: Layer, features: list[tuple[dict[str, Any], Any]]) -> list[tuple]:
        district = self._district_metric(layer)
        rows = []
        # Many rows often share one geometry (every observation of a section lies at the
        # section's point): its geometry and district checks are done once per batch.
        # Keyed by the object itself (shapely geometries are immutable), not by its WKB,
        # which costs more to compute than a point's check.
        checked: dict[int, tuple[BaseGeometry, BaseGeometry]] = {}
        for i, (props, geom) in enumerate(features, start=1):
            row = i if len(features) > 1 else None
            seen = checked.get(id(geom)) if isinstance(geom, BaseGeometry) else None
            if seen is not None and seen[0] is geom:
                rows.append((validate_properties(layer, props, row=row), seen[1]))
                continue
            clean = validate_feature(layer, props, geom, district_metric=district, row=row)
            if isinstance(geom, BaseGeometry):
                checked[id(geom)] = (geom, clean[1])
            rows.append(clean)
        return rows

    def add_and_update(
        self,
        layer_id: str,
        adds: Sequence[tuple[dict[str, Any], Any]],
        updates: Sequence[tuple[int, dict[str, Any], Any]],
        *,
        user: str = SYSTEM_USER,
    ) -> list[int]:
        """Validate, then insert ``adds`` and apply ``updates`` (fid, properties, geometry
        or None) in one transaction, all or nothing; returns the new fids."""
        layer = self.layer(layer_id)
        clean_adds = self._validate_many(layer, list(adds))
        district = self._district_metric(layer)
        clean_updates = []
        for fid, props, geom in updates:
            p, g = validate_feature(layer, props, geom, district_metric=district, partial=True)
            clean_updates.append((int(fid), p, g))
        check_references(self, layer, [props for props, _ in clean_adds] + [p for _, p, _ in clean_updates])
        return self.store.add_and_update(layer, clean_adds, clean_updates, user=user)

    def update(
        self,
        layer_id: str,
        fid: int,
        properties: dict[str, Any] | None = None,
        geometry: Any = None,
        *,
        user: str = SYSTEM_USER,
        expected: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change some properties and/or the geometry of one feature; returns it.

        Pass the feature as last read in ``expected`` to refuse the write (ConflictError)
        when someone changed it in between.
        """
        layer = self.layer(layer_id)
        self.get(layer_id, fid)
        props, geom = validate_feature(
            layer,
            properties or {},
            geometry,
            district_metric=self._district_metric(layer),
            partial=True,
        )
        check_references(self, layer, [props])
        cascades = renames(self, layer, int(fid), props)
        if cascades:
            # A town or river renamed: the features naming it follow, in the same transaction.
            return self.store.update_cascade(layer, int(fid), props, geom, user=user, expected=expected,
                                             cascades=cascades)
        return self.store.update(layer, int(fid), props, geom, user=user, expected=expected)

    def delete(
        self, layer_id: str, fid: int, *, user: str = SYSTEM_USER, expected: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        layer = self.layer(layer_id)
        self.get(layer_id, fid)
        if layer.id == "district" and self.count("district") <= 1:
            # Every write is checked against the outline; without one nothing would be
            # (docs/security.md). Replace the outline instead, or add the new one first.
            raise LastOutlineError(message("hardening.last-outline", "en"), layer=layer.id, fid=int(fid))
        return self.store.delete(layer, int(fid), user=user, expected=expected)

    def history(
        self, layer_id: str | None = None, fid: int | None = None, since: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        if layer_id is not None:
            self.layer(layer_id)
        if fid is not None:
            fid = _feature_id(layer_id or "", fid)
        return self.store.history(layer_id, fid, since=since, limit=limit)

    # -- spatial questions (geo.query) ------------------------------------------------

    def near(self, target: Any, distance_m: float, layers=None, **kwargs) -> gpd.GeoDataFrame:
        """Features within ``distance_m`` metres of a river, lake, feature or geometry."""
        return query.near(self, target, distance_m, layers=layers, **kwargs)

    def within(self, area: Any, layers=None, **kwargs) -> gpd.GeoDataFrame:
        """Features inside a town, polygon or feature."""
        return query.within(self, area, layers=layers, **kwargs)

    def intersects(self, geometry: Any, layers=None, **kwargs) -> gpd.GeoDataFrame:
        return query.intersects(self, geometry, layers=layers, **kwargs)

    def nearest(self, point_or_feature: Any, layer: str, k: int = 1, **kwargs) -> gpd.GeoDataFrame:
        return query.nearest(self, point_or_feature, layer, k=k, **kwargs)


def registry_exists(name: str | Path) -> bool:
    """Whether the registry named by a file path exists (a ``postgresql://`` URI names a
    database, which :meth:`Registry.open` checks itself)."""
    return is_database_uri(name) or Path(name).exists()


def registry_label(name: str | Path) -> str:
    """How to show a registry's name to a person: the path, or the URI without password."""
    return display_name(name)


def open_registry(path: str | Path | None = None) -> Registry:
    """Open ``path`` (default ``data/jintan.gpkg``)."""
    return Registry.open(path or DEFAULT_PATH)
