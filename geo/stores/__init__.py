"""Stores: where a registry keeps its features (see :mod:`geo.stores.base`).

A registry is named by a file path (a GeoPackage, :mod:`geo.stores.gpkg`) or by a
PostgreSQL URI (``postgresql://user@host:5432/hehu``, :mod:`geo.stores.postgis`);
:func:`open_store` and :func:`create_store` pick the store from the name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo.stores.base import Store
from layers import Catalog


def is_database_uri(name: str | Path) -> bool:
    """Whether ``name`` is a PostgreSQL URI (``postgresql://`` or ``postgres://``)."""
    return isinstance(name, str) and name.split(":", 1)[0].lower() in ("postgresql", "postgres")


def display_name(name: str | Path) -> str:
    """How to show a registry name to a person: a URI loses its password."""
    if is_database_uri(name):
        from geo.stores.postgis import safe_name

        return safe_name(str(name))
    return str(name)


def open_store(name: str | Path, catalog: Catalog) -> Store:
    """Open the existing registry named by a path or a PostgreSQL URI."""
    if is_database_uri(name):
        from geo.stores.postgis import PostGISStore

        return PostGISStore.open(str(name), catalog)
    from geo.stores.gpkg import GeoPackageStore

    return GeoPackageStore.open(Path(name), catalog)


def create_store(name: str | Path, catalog: Catalog, metadata: dict[str, Any]) -> Store:
    """Create a new, empty registry at a path or in a PostgreSQL schema."""
    if is_database_uri(name):
        from geo.stores.postgis import PostGISStore

        return PostGISStore.create(str(name), catalog, metadata)
    from geo.stores.gpkg import GeoPackageStore

    return GeoPackageStore.create(Path(name), catalog, metadata)
