"""``hehu user``: add users (printing their token once), list and disable them."""

from __future__ import annotations

import argparse

from cli.common import add_registry_argument, format_table, open_registry


def register(sub: argparse._SubParsersAction) -> None:
    from geo.users import ROLES

    p = sub.add_parser("user", help="manage users and roles (viewer, field, editor, admin)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a user and print their token (shown once)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    _common(add)
    add.set_defaults(func=run_add)

    ls = actions.add_parser("list", help="list users and roles")
    _common(ls)
    ls.set_defaults(func=run_list)

    off = actions.add_parser("disable", help="disable a user: their token and sessions stop working")
    off.add_argument("name")
    _common(off)
    off.set_defaults(func=run_disable)

    on = actions.add_parser("enable", help="re-enable a disabled user")
    on.add_argument("name")
    _common(on)
    on.set_defaults(func=run_enable)

    reset = actions.add_parser("reset-token", help="issue a new token (the old one stops working)")
    reset.add_argument("name")
    _common(reset)
    reset.set_defaults(func=run_reset)


def _common(p: argparse.ArgumentParser) -> None:
    add_registry_argument(p)
    p.add_argument("--security-log", metavar="FILE",
                   help="append the change to this security log (the server's SECURITY_LOG)")


def _log_to(args: argparse.Namespace) -> None:
    if getattr(args, "security_log", None):
        import logging

        from server.security import log_to_file

        log_to_file(logging.getLogger("hehu.security"), args.security_log)


def _print_token(name: str, token: str) -> None:
    print(f"token for {name} (shown only this once; only a salted hash is stored):")
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
    rows = [[u.name, u.role, "yes" if u.active else "disabled", u.created_at] for u in users]
    print(format_table(["name", "role", "active", "created"], rows))
    return 0


def run_disable(args: argparse.Namespace) -> int:
    _log_to(args)
    from geo.users import set_active

    with open_registry(args) as reg:
        set_active(reg, args.name, False)
    print(f"user {args.name} disabled")
    return 0


def run_enable(args: argparse.Namespace) -> int:
    _log_to(args)
    from geo.users import set_active

    with open_registry(args) as reg:
        set_active(reg, args.name, True)
    print(f"user {args.name} enabled")
    return 0
