"""``hehu``: one command, a subcommand per job (demo, serve, query, export, import, print,
targets, user, check, patrols, quality, db, copy). Each subcommand lives in its own module
with ``register(subparsers)``.

It speaks Chinese, or English with ``--lang en`` (or ``HEHU_LANG``/the locale, see
:mod:`cli.lang`): help, reports and errors, argparse's own words included. The texts
are in ``geo/messages/cli.yaml``.

Errors a person can fix (unknown layer, bad distance, invalid file...) print one line on
stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cli import lang as cli_lang
from cli.common import CliParser
from cli.lang import h, t
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

# The name older code and tests know the one-line parser by.
OneLineParser = CliParser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, its help in the run's language (:func:`cli.lang.use`)."""
    parser = CliParser(prog="hehu", description=h("hehu.description"), top=True)
    sub = parser.add_subparsers(dest="command", metavar=t("hehu.command_metavar"), required=True,
                                title=t("hehu.commands_title"))
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    lang = cli_lang.resolve(argv)
    cli_lang.use(lang)
    with cli_lang.argparse_language(lang):
        parser = build_parser()
        args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HehuError as exc:
        text = getattr(exc, "cli_text", None) or exc.render(lang)
        print(t("error_line", command=f"hehu {args.command}", message=text), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `hehu query ... | head`
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
