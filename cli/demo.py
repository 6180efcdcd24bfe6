"""``hehu demo``: build the Jintan demo registry (synthetic except the outlines)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cli.common import format_table
from geo.errors import RegistryFileError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="build the Jintan demo registry (synthetic data on the real district outline)",
        description=(
            "Build a new registry at PATH filled with the Jintan demo district. Only the "
            "district outline, the 长荡湖 outline and the town seats are real; every other "
            "feature is synthetic and the file's metadata says so."
        ),
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="PATH", help="the GeoPackage to create"
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=2021,
        help="random seed, 0 or more (default 2021); the same seed gives the same data",
    )
    p.set_defaults(func=run)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def run(args: argparse.Namespace) -> int:
    from geo.demo import build_demo

    path: Path = args.out
    if path.exists():
        raise RegistryFileError(
            f"{path}: already exists; remove it or choose another --out", path=str(path)
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryFileError(
            f"{path.parent}: cannot create the folder ({exc.strerror})", path=str(path)
        ) from None
    started = time.perf_counter()
    registry = build_demo(path, seed=args.seed)
    try:
        rows = [[layer.id, layer.title_zh, registry.count(layer.id)] for layer in registry.layers]
    finally:
        registry.close()
    print(format_table(["layer", "图层", "features"], rows))
    print(
        f"\nhehu demo: wrote {path} (seed {args.seed}, {time.perf_counter() - started:.1f} s); synthetic demo data"
    )
    return 0
