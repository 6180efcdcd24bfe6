"""``hehu serve``: the map server and OGC API under a production WSGI server (waitress)."""

from __future__ import annotations

import argparse
import sys

from cli.common import add_registry_argument
from geo.registry import DEFAULT_PATH


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the web map and OGC API – Features")
    add_registry_argument(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    p.add_argument("--config", metavar="FILE", help="a YAML/JSON settings file (basemaps, auth...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from waitress import serve

    from server import create_app, load_config

    path = args.registry
    if not path.exists():
        if path != DEFAULT_PATH:
            print(f"hehu serve: error: {path}: no such registry file", file=sys.stderr)
            return 2
        from geo.demo import build_demo

        print(f"hehu: building the demo registry at {path} (first start)...", file=sys.stderr)
        build_demo(path).close()
    config = load_config(args.config)
    config["REGISTRY"] = str(path)
    app = create_app(config)
    print(f"hehu: serving {path} on http://{args.host}:{args.port}/map", file=sys.stderr)
    from server.security import waitress_options

    # waitress refuses a body over MAX_CONTENT_LENGTH from its headers, before reading it.
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="hehu", **waitress_options(app))
    return 0
