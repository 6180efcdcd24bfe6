"""The store interface: the few operations the registry needs from a database.

A GeoPackage store (:mod:`geo.stores.gpkg`) is the embedded default; a PostGIS store
implements the same methods. Stores know nothing of validation: the registry checks
every feature against the catalog before calling them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from layers import Layer

#: A filter: field -> value, or field -> list of accepted values.
Where = dict[str, Any]
BBox = tuple[float, float, float, float]


class Store(ABC):
    """Feature storage with row-level transactions and an edit history."""

    @abstractmethod
    def read(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        fids: Sequence[int] | None = None,
        order_by: Sequence[tuple[str, bool]] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        """Features as a GeoDataFrame indexed by ``fid`` (bbox: geometry intersects it)."""

    @abstractmethod
    def count(self, layer: Layer, *, bbox: BBox | None = None, where: Where | None = None) -> int:
        """Number of features that :meth:`read` would return without limit."""

    @abstractmethod
    def get(self, layer: Layer, fid: int) -> dict[str, Any] | None:
        """One feature as ``{"fid", "properties", "geometry"}``, or None."""

    @abstractmethod
    def add(
        self,
        layer: Layer,
        rows: Sequence[tuple[dict[str, Any], BaseGeometry]],
        *,
        user: str,
        history: bool = True,
    ) -> list[int]:
        """Insert features in one transaction; returns their fids."""

    @abstractmethod
    def update(
        self,
        layer: Layer,
        fid: int,
        properties: dict[str, Any],
        geometry: BaseGeometry | None,
        *,
        user: str,
        expected: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Replace the given properties (and geometry) of one feature; returns it.

        ``expected`` is the feature as the caller last saw it: when the stored feature
        differs, nothing is written and :class:`geo.errors.ConflictError` is raised.
        """

    @abstractmethod
    def delete(
        self, layer: Layer, fid: int, *, user: str, expected: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Delete one feature; returns what was deleted."""

    def add_and_update(
        self,
        layer: Layer,
        adds: Sequence[tuple[dict[str, Any], BaseGeometry]],
        updates: Sequence[tuple[int, dict[str, Any], BaseGeometry | None]],
        *,
        user: str,
    ) -> list[int]:
        """Insert ``adds`` and apply ``updates`` (fid, properties, geometry) in one
        transaction, all or nothing (imports with ``--update``); returns the new fids."""
        raise NotImplementedError(f"{type(self).__name__} cannot add and update in one transaction")

    @abstractmethod
    def history(
        self, layer: str | None = None, fid: int | None = None, since: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Edit-history rows (id, layer, fid, op, user, at, before, after), oldest first."""

    @abstractmethod
    def last_change(self) -> int:
        """Id of the newest history row (0 when none): a cheap "has anything changed"."""

    def layer_stamp(self, layer: Layer) -> object:
        """A value that changes whenever the layer changes (default: any change)."""
        return self.last_change()

    @abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Registry-level metadata (title, demo flag, credits...)."""

    @abstractmethod
    def set_metadata(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the registry metadata."""
