"""``hehu db``: create and upgrade a registry in PostgreSQL + PostGIS.

``hehu db init URI`` creates the registry's schema and tables (one per catalog layer,
with their constraints and indexes) and records the schema version; ``hehu db upgrade
URI`` brings a registry made by an older hehu up to this one. Opening a registry whose
schema version differs says which of the two to run.
"""

from __future__ import annotations

import argparse
import sys

from cli.lang import h, t
from geo.errors import RegistryFileError
from geo.stores import display_name, is_database_uri


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help=h("db.help"), description=h("db.help"))
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    init = actions.add_parser("init", help=h("db.init"), description=h("db.init"))
    init.add_argument("uri", metavar="URI", help="postgresql://user@host:5432/dbname[?schema=hehu]")
    init.add_argument("--title", default=None, help=h("db.title"))
    init.set_defaults(func=run_init)

    up = actions.add_parser("upgrade", help=h("db.upgrade"), description=h("db.upgrade"))
    up.add_argument("uri", metavar="URI", help="postgresql://user@host:5432/dbname[?schema=hehu]")
    up.set_defaults(func=run_upgrade)


def _check_uri(uri: str) -> None:
    if not is_database_uri(uri):
        raise RegistryFileError(key="cli.db.not_uri", params={"name": display_name(uri)})


def run_init(args: argparse.Namespace) -> int:
    from geo.registry import Registry

    _check_uri(args.uri)
    from geo.stores.postgis import parse_uri

    _, options, name = parse_uri(args.uri)
    meta = {"title": args.title} if args.title else {}
    Registry.create(args.uri, metadata=meta).close()
    print(t("db.created", schema=options["schema"], name=name), file=sys.stderr)
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    from geo.stores.postgis import SCHEMA_VERSION, PostGISStore
    from layers import load_catalog

    _check_uri(args.uri)
    done = PostGISStore.upgrade(args.uri, load_catalog())
    name = display_name(args.uri)
    if done:
        print(t("db.upgraded", name=name, added=", ".join(done)), file=sys.stderr)
    else:
        print(t("db.up_to_date", name=name, version=SCHEMA_VERSION), file=sys.stderr)
    return 0
