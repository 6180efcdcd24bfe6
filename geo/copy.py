"""Copy a whole registry between stores: GeoPackage ⇄ PostGIS (and either to itself).

For example (on the demo registry)::

    copy_registry("data/jintan.gpkg", "postgresql:///hehu")
    # → {'district': 1, 'towns': 10, ..., 'history': 0, 'users': 2}

Features keep their fids, history rows their ids, authors and times, users their
salted token hashes, and the metadata comes along, so a round trip is lossless. A target
that already holds features, history or users is refused unless ``replace=True``; the
copy is all or nothing either way.
"""

from __future__ import annotations

from pathlib import Path

from geo.errors import RegistryFileError
from geo.stores import create_store, display_name, is_database_uri, open_store
from geo.stores.base import Store
from layers import Catalog, load_catalog


def _is_empty(store: Store, catalog: Catalog) -> bool:
    return (
        store.last_change() == 0
        and not store.list_users()
        and all(store.count(layer) == 0 for layer in catalog)
    )


def copy_registry(source: str | Path, target: str | Path, *, replace: bool = False,
                  catalog: Catalog | None = None) -> dict[str, int]:
    """Copy every feature, history row, user and metadata of ``source`` into ``target``
    (a path or a ``postgresql://`` URI); returns how many of each were copied."""
    from geo.stores import transfer

    catalog = catalog or load_catalog()
    if display_name(source) == display_name(target) and str(source) == str(target):
        raise RegistryFileError(f"{display_name(source)}: source and target are the same registry")
    src = open_store(source, catalog)
    try:
        if is_database_uri(target):
            from geo.stores.postgis import PostGISStore

            try:
                dst = PostGISStore.open(str(target), catalog)
            except RegistryFileError as exc:
                if "hehu db init" not in exc.message:
                    raise
                dst = create_store(str(target), catalog, {})
            try:
                if not replace and not _is_empty(dst, catalog):
                    raise RegistryFileError(
                        f"{dst.name} already holds a registry with data; add --replace to overwrite it"
                    )
                return transfer.load_postgis(dst, catalog, src, replace=replace)
            finally:
                dst.close()
        path = Path(target)
        if path.exists() and not replace:
            dst = open_store(path, catalog)
            try:
                empty = _is_empty(dst, catalog)
            finally:
                dst.close()
            if not empty:
                raise RegistryFileError(f"{path} already holds a registry with data; add --replace to overwrite it")
        return transfer.load_geopackage(path, catalog, src)
    finally:
        src.close()
