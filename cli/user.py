"""``hehu user``: add users (printing their token once), list and disable them."""

from __future__ import annotations

import argparse

from cli.common import add_registry_argument, format_table, open_registry
from cli.lang import h, t


def register(sub: argparse._SubParsersAction) -> None:
    from geo.users import ROLES

    p = sub.add_parser("user", help=h("user.help"), description=h("user.help"))
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help=h("user.add"), description=h("user.add"))
    add.add_argument("name", help=h("user.name"))
    add.add_argument("--role", required=True, choices=ROLES, help=h("user.role"))
    _common(add)
    add.set_defaults(func=run_add)

    ls = actions.add_parser("list", help=h("user.list"), description=h("user.list"))
    _common(ls)
    ls.set_defaults(func=run_list)

    off = actions.add_parser("disable", help=h("user.disable"), description=h("user.disable"))
    off.add_argument("name", help=h("user.name"))
    _common(off)
    off.set_defaults(func=run_disable)

    on = actions.add_parser("enable", help=h("user.enable"), description=h("user.enable"))
    on.add_argument("name", help=h("user.name"))
    _common(on)
    on.set_defaults(func=run_enable)

    reset = actions.add_parser("reset-token", help=h("user.reset"), description=h("user.reset"))
    reset.add_argument("name", help=h("user.name"))
    _common(reset)
    reset.set_defaults(func=run_reset)


def _common(p: argparse.ArgumentParser) -> None:
    add_registry_argument(p)
    p.add_argument("--security-log", metavar="FILE",
                   help=h("user.security_log"))


def _log_to(args: argparse.Namespace) -> None:
    if getattr(args, "security_log", None):
        import logging

        from server.security import log_to_file

        log_to_file(logging.getLogger("hehu.security"), args.security_log)


def _print_token(name: str, token: str) -> None:
    print(t("user.token_for", name=name))
    print(token)


def run_add(args: argparse.Namespace) -> int:
    _log_to(args)
    from geo.users import add_user

    with open_registry(args) as reg:
        token = add_user(reg, args.name, args.role)
    _print_token(args.name, token)
    return 0


def run_reset(args: argparse.Namespace) -> int:
    _log_to(args)
    from geo.users import reset_token

    with open_registry(args) as reg:
        token = reset_token(reg, args.name)
    _print_token(args.name, token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    _log_to(args)
    from geo.users import list_users

    with open_registry(args) as reg:
        users = list_users(reg)
    rows = [[u.name, u.role, t("yes") if u.active else t("user.disabled_mark"), u.created_at] for u in users]
    print(format_table(t("user.list_cols").split("|"), rows))
    return 0


def run_disable(args: argparse.Namespace) -> int:
    _log_to(args)
    from geo.users import set_active

    with open_registry(args) as reg:
        set_active(reg, args.name, False)
    print(t("user.disabled", name=args.name))
    return 0


def run_enable(args: argparse.Namespace) -> int:
    _log_to(args)
    from geo.users import set_active

    with open_registry(args) as reg:
        set_active(reg, args.name, True)
    print(t("user.enabled", name=args.name))
    return 0
