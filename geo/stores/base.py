"""The store interface: the only door between hehu and a database.

Everything the registry, the users, the spatial indexes, the OGC API, the history,
the targets and the importers need from a database is an abstract method here. The
GeoPackage store (:mod:`geo.stores.gpkg`) is the embedded default; a PostGIS store
implements the same methods. Nothing outside ``geo/stores/`` sees a connection, a
cursor, SQL text or a table name.

Stores know nothing of validation: the registry checks every feature against the
catalog before calling them. They do know how to select: a read takes a bbox,
property equalities (``where``), a set of fids and a parsed CQL2 ``filter`` (the tuple
tree of :func:`geo.cql2.parse`); each store translates what its query language can
express (:mod:`geo.stores.sql_filter`) and evaluates the rest with the pure-Python
reference evaluator on the rows that remain, so the answer is the same either way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import geopandas as gpd
import numpy as np
from shapely.geometry.base import BaseGeometry

from layers import Layer

#: A filter: field -> value, or field -> list of accepted values.
Where = dict[str, Any]
BBox = tuple[float, float, float, float]
#: A parsed CQL2 filter (the tuple tree of :func:`geo.cql2.parse`).
FilterTree = tuple
#: (field, ascending) pairs; ``fid`` is always the last tie-breaker.
OrderBy = Sequence[tuple[str, bool]]
#: The columns of an attachment record, in store order (bytes and thumbnail apart).
ATTACHMENT_FIELDS = (
    "id", "layer", "fid", "kind", "name", "content_type", "size", "sha256",
    "taken_at", "lon", "lat", "uploader", "created_at",
)


class Store(ABC):
    """Feature storage with row-level transactions, an edit history, users and metadata."""

    #: How the registry is named to a person (a file path, or a URI without password).
    name: str = ""

    # -- reading -----------------------------------------------------------------------

    @abstractmethod
    def read(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
        fids: Sequence[int] | None = None,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        """Features as a GeoDataFrame indexed by ``fid`` (bbox: geometry intersects it)."""

    @abstractmethod
    def read_rows(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[tuple], int]:
        """One page as ``(fid, geometry, *values in catalog field order)`` tuples, and the
        number of features matched in all: :meth:`read` without a GeoDataFrame."""

    @abstractmethod
    def iter_frames(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
        order_by: OrderBy | None = None,
        chunk_size: int = 50_000,
    ) -> Iterator[gpd.GeoDataFrame]:
        """Every matching feature, in chunks of at most ``chunk_size`` rows (exports of a
        whole big layer stream through here instead of holding it in memory)."""

    def read_geometries(self, layer: Layer, fids: Sequence[int]) -> gpd.GeoDataFrame:
        """Only the geometries of ``fids``, as a GeoDataFrame indexed by ``fid`` (a store
        may do this cheaper than :meth:`read`)."""
        gdf = self.read(layer, fids=fids)
        return gdf[[gdf.geometry.name]]

    @abstractmethod
    def count(
        self,
        layer: Layer,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        filter: FilterTree | None = None,
    ) -> int:
        """Number of features that :meth:`read` would return without limit."""

    @abstractmethod
    def get(self, layer: Layer, fid: int) -> dict[str, Any] | None:
        """One feature as ``{"fid", "properties", "geometry"}``, or None."""

    @abstractmethod
    def candidates(self, layer: Layer, boxes: np.ndarray) -> np.ndarray:
        """Fids of the features whose envelope intersects any of ``boxes`` (an (n, 4)
        array of minlon, minlat, maxlon, maxlat), from the store's own spatial index.

        A superset of the features that truly intersect: callers measure exactly.
        """

    @abstractmethod
    def extent(self, layer: Layer) -> BBox | None:
        """(minlon, minlat, maxlon, maxlat) of the layer, or None when it is empty."""

    @abstractmethod
    def temporal_extent(self, layer: Layer, field: str) -> tuple[str, str] | None:
        """(first, last) ISO value of a date field, or None when no feature has one."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager:
        """A context in which every read of this thread sees one committed state."""

    # -- writing -----------------------------------------------------------------------

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

    @abstractmethod
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

    # -- change tracking ----------------------------------------------------------------

    @abstractmethod
    def history(
        self,
        layer: str | None = None,
        fid: int | None = None,
        since: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Edit-history rows (id, layer, fid, op, user, at, before, after), oldest first
        (or newest first), after history id ``since``."""

    @abstractmethod
    def last_change(self, layer: str | None = None) -> int:
        """Id of the newest history row (of one layer; 0 when none)."""

    @abstractmethod
    def stamps(self) -> tuple[dict[str, tuple], int]:
        """Per-layer change stamps ``{layer_id: (last change, feature count)}`` and the
        newest history id, read together. A write by any process or tool moves them."""

    @abstractmethod
    def changes_since(self, history_id: int) -> list[tuple[str, int]]:
        """(layer, fid) of every history row after ``history_id``, oldest first."""

    def layer_stamp(self, layer: Layer) -> tuple:
        """A value that changes whenever the layer changes."""
        stamps, _ = self.stamps()
        return (*stamps.get(layer.id, (None, None)), self.last_change(layer.id))

    def data_version(self) -> tuple:
        """A value that changes with every committed write by any connection or process."""
        stamps, last = self.stamps()
        return (last, tuple(sorted(stamps.items())))

    # -- attachments ------------------------------------------------------------------------
    # Files (photos, PDFs) on a feature, kept inside the registry so a copy carries them.
    # A record is a dict of ATTACHMENT_FIELDS (no bytes); every add and delete writes a
    # history row of the feature ("attach" / "detach") in the same transaction.

    @abstractmethod
    def add_attachment(
        self, layer: Layer, fid: int, record: dict[str, Any], data: bytes, thumbnail: bytes | None, *, user: str
    ) -> dict[str, Any]:
        """Store one file on feature ``fid``; returns its record with the new ``id``.
        :class:`geo.errors.NotFoundError` when the feature does not exist (nothing stored)."""

    @abstractmethod
    def list_attachments(self, layer: Layer, fid: int) -> list[dict[str, Any]]:
        """Records of the files on one feature, oldest first."""

    @abstractmethod
    def get_attachment(self, attachment_id: int, *, thumbnail: bool = False) -> tuple[dict[str, Any], bytes | None] | None:
        """(record, bytes) of one file (its thumbnail with ``thumbnail``), or None."""

    @abstractmethod
    def delete_attachment(self, attachment_id: int, *, user: str) -> dict[str, Any]:
        """Remove one file; returns its record (NotFoundError when there is none)."""

    @abstractmethod
    def attachment_counts(self, layer: Layer, fids: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
        """``{fid: {kind: count}}`` of the features (all of the layer's when None) that have files."""

    @abstractmethod
    def attachments_by_fid(self, layer: Layer, fids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """``{fid: [record, ...]}`` (oldest first) of the features ``fids`` that have files,
        in one query: a page of features or a river's problems, never one call per feature."""

    @abstractmethod
    def iter_attachments(self) -> Iterator[tuple[dict[str, Any], bytes, bytes | None]]:
        """Every file of the registry as (record, data, thumbnail), by id (``hehu copy``)."""

    # -- users --------------------------------------------------------------------------

    @abstractmethod
    def get_user(self, name: str) -> dict[str, Any] | None:
        """A user record ``{name, role, token_salt, token_hash, created_at, active}``."""

    @abstractmethod
    def list_users(self) -> list[dict[str, Any]]:
        """Every user record, by name."""

    @abstractmethod
    def add_user(self, record: dict[str, Any]) -> None:
        """Insert a user record; :class:`geo.errors.ValidationError` if the name is taken."""

    @abstractmethod
    def update_user(self, name: str, **changes: Any) -> bool:
        """Change fields of one user record; False when there is no such user."""

    # -- metadata and lifetime ------------------------------------------------------------

    @abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Registry-level metadata (title, demo flag, credits...)."""

    @abstractmethod
    def set_metadata(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the registry metadata."""

    @abstractmethod
    def close(self) -> None:
        """Release this thread's connection (the store can be used again afterwards)."""

    # -- renames carried through ----------------------------------------------------------

    @abstractmethod
    def update_cascade(
        self,
        layer: Layer,
        fid: int,
        properties: dict[str, Any],
        geometry: BaseGeometry | None,
        *,
        user: str,
        expected: dict[str, Any] | None = None,
        cascades: Sequence[tuple[Layer, str, Any, Any]] = (),
    ) -> dict[str, Any]:
        """:meth:`update` one feature and, in the same transaction, set ``field`` to
        ``new`` on every feature of each ``(layer, field, old, new)`` of ``cascades``
        whose ``field`` holds ``old``, each with an ``update`` history row: a town or
        river renamed, carried into the features that name it (geo/references.py)."""

    # -- signed-out sessions ----------------------------------------------------------------

    @abstractmethod
    def revoke_session(self, sid_hash: str, user: str, expires_at: str) -> None:
        """Record a signed-out session, by a hash of its id, until ``expires_at`` (ISO 8601
        UTC, when its cookie would have expired anyway), and drop the rows of sessions
        expired by now. Every app server on the registry, and each after a restart,
        then refuses the session's cookie. Never exported nor copied."""

    @abstractmethod
    def session_revoked(self, sid_hash: str) -> bool:
        """Whether the session with this id hash was signed out (and has not expired)."""
