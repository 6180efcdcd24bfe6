"""``hehu db``: create and upgrade a registry in PostgreSQL + PostGIS.

``hehu db init URI`` creates the registry's schema and tables (one per catalog layer,
with their constraints and indexes) and records the schema version; ``hehu db upgrade
URI`` brings a registry made by an older hehu up to this one. Opening a registry whose
schema version differs says which of the two to run.
"""

from __future__ import annotations

import argparse
import sys

from geo.errors import RegistryFileError
from geo.stores import display_name, is_database_uri


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="create or upgrade a registry in PostgreSQL + PostGIS")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    init = actions.add_parser("init", help="create the registry's schema and tables in a database")
    init.add_argument("uri", metavar="URI", help="postgresql://user@host:5432/dbname[?schema=hehu]")
    init.add_argument("--title", default=None, help="the registry's title (default 河湖一张图)")
    init.set_defaults(func=run_init)

    up = actions.add_parser("upgrade", help="bring a registry made by an older hehu up to date")
    up.add_argument("uri", metavar="URI", help="postgresql://user@host:5432/dbname[?schema=hehu]")
    up.set_defaults(func=run_upgrade)


def _check_uri(uri: str) -> None:
    if not is_database_uri(uri):
        raise RegistryFileError(
            f"{display_name(uri)}: not a PostgreSQL URI; expected postgresql://user@host:5432/dbname "
            "(a GeoPackage registry needs no init: `hehu demo` or `hehu import --create`)"
        )


def run_init(args: argparse.Namespace) -> int:
    from geo.registry import Registry

    _check_uri(args.uri)
    from geo.stores.postgis import parse_uri

    _, options, name = parse_uri(args.uri)
    meta = {"title": args.title} if args.title else {}
    Registry.create(args.uri, metadata=meta).close()
    print(f"hehu db: created the registry in schema {options['schema']} of {name}", file=sys.stderr)
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    from geo.stores.postgis import SCHEMA_VERSION, PostGISStore
    from layers import load_catalog

    _check_uri(args.uri)
    done = PostGISStore.upgrade(args.uri, load_catalog())
    name = display_name(args.uri)
    if done:
        print(f"hehu db: upgraded {name}: added {', '.join(done)}", file=sys.stderr)
    else:
        print(f"hehu db: {name} is up to date (schema version {SCHEMA_VERSION})", file=sys.stderr)
    return 0
