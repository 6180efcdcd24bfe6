"""Placeholder subcommand (being written)."""

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="(not yet available)")
    p.set_defaults(func=lambda args: 2)
