"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import os
import unicodedata
from pathlib import Path

from cli.lang import add_lang_argument, h, t
from geo.registry import DEFAULT_PATH, Registry
from geo.stores import is_database_uri


class CliParser(argparse.ArgumentParser):
    """A parser of ``hehu`` or one of its subcommands: ``--lang`` everywhere, and usage
    mistakes in one line naming the command and where to find its help (exit 2)."""

    def __init__(self, *args, top: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        add_lang_argument(self, top=top)

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, t("usage_error", prog=self.prog, message=message) + "\n")


def registry_name(text: str) -> str | Path:
    """A ``--registry`` value: a PostgreSQL URI stays text, anything else is a path."""
    return text if is_database_uri(text) else Path(text)


def default_registry() -> str | Path:
    """``$HEHU_REGISTRY`` when set, else ``data/jintan.gpkg``."""
    env = os.environ.get("HEHU_REGISTRY")
    return registry_name(env) if env else DEFAULT_PATH


def add_registry_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        type=registry_name,
        default=default_registry(),
        metavar="PATH|URI",
        help=h("registry.help", default=DEFAULT_PATH),
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
