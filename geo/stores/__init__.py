"""Stores: where a registry's features, history, users and metadata live.

:func:`open_store` and :func:`create_store` pick the store from how the registry is
named: a file path is a GeoPackage (:mod:`geo.stores.gpkg`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo.stores.base import Store
from layers import Catalog


def open_store(name: str | Path, catalog: Catalog) -> Store:
    """The store of an existing registry named by ``name``."""
    from geo.stores.gpkg import GeoPackageStore

    return GeoPackageStore.open(Path(name), catalog)


def create_store(name: str | Path, catalog: Catalog, metadata: dict[str, Any]) -> Store:
    """A new, empty registry named by ``name`` with a table for every catalog layer."""
    from geo.stores.gpkg import GeoPackageStore

    return GeoPackageStore.create(Path(name), catalog, metadata)
