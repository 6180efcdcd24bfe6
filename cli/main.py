"""``hehu``: one command, a subcommand per job (demo, serve, query, export, import, print,
targets, user, check, patrols, quality, db, copy). Each subcommand lives in its own module
with ``register(subparsers)``.

Errors a person can fix (unknown layer, bad distance, invalid file...) print one line on
stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from geo.errors import HehuError

SUBCOMMANDS = [
    "cli.demo",
    "cli.serve",
    "cli.query",
    "cli.export",
    "cli.importing",
    "cli.printing",
    "cli.targets",
    "cli.user",
    "cli.check",
    "cli.patrols",
    "cli.quality",
    "cli.db",
    "cli.copy",
]


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes get one line naming the command and where to find its help."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="hehu",
        description="河湖一张图 — the river-chief GIS registry of Jintan District",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HehuError as exc:
        print(f"hehu {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `hehu query ... | head`
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
