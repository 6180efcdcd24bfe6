"""``hehu demo``: build the Jintan demo registry (synthetic except the outlines)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cli.common import format_table
from cli.lang import current, h, t
from geo.errors import RegistryFileError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help=h("demo.help"),
        description=h("demo.description"),
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="PATH", help=h("demo.out")
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=2021,
        help=h("demo.seed"),
    )
    p.set_defaults(func=run)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("demo.seed_not_number", text=repr(text))) from None
    if value < 0:
        raise argparse.ArgumentTypeError(t("demo.seed_negative", value=value))
    return value


def run(args: argparse.Namespace) -> int:
    from geo.demo import build_demo

    path: Path = args.out
    if path.exists():
        raise RegistryFileError(key="cli.demo.exists", params={"path": path}, path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryFileError(
            key="cli.demo.no_folder", params={"folder": path.parent, "reason": exc.strerror}, path=str(path)
        ) from None
    started = time.perf_counter()
    registry = build_demo(path, seed=args.seed)
    try:
        rows = [[layer.id, layer.title(current()), registry.count(layer.id)] for layer in registry.layers]
    finally:
        registry.close()
    print(format_table([t("demo.col_id"), t("demo.col_layer"), t("demo.col_features")], rows))
    seconds = f"{time.perf_counter() - started:.1f}"
    print("\n" + t("demo.done", path=path, seed=args.seed, seconds=seconds))
    return 0
