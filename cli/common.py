"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

from geo.registry import DEFAULT_PATH, Registry


def add_registry_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        type=Path,
        default=DEFAULT_PATH,
        metavar="PATH",
        help=f"the registry GeoPackage (default: {DEFAULT_PATH})",
    )


def open_registry(args: argparse.Namespace) -> Registry:
    return Registry.open(args.registry)


def display_width(text: str) -> int:
    """Terminal columns a string takes: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """An aligned plain-text table that stays aligned with Chinese text."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], display_width(v))

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (widths[i] - display_width(v)) for i, v in enumerate(values)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)
