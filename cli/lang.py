"""The command line's language, and its texts from ``geo/messages/cli.yaml``.

The language is ``--lang zh|en`` (before or after the subcommand), else
``$HEHU_LANG``, else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, in POSIX
order): ``zh_*`` is Chinese, ``en_*`` English, and ``C``, ``POSIX``, an unset or any
other locale Chinese, the project's default.

>>> resolve(["--lang", "en", "demo"], {})
'en'
>>> resolve(["query", "near", "--lang=zh"], {"HEHU_LANG": "en"})
'zh'
>>> resolve([], {"HEHU_LANG": "en_GB"})
'en'
>>> resolve([], {"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.UTF-8"})
'zh'
>>> resolve([], {"LANG": "C.UTF-8"})
'zh'

Help strings are made when the parser is built, so :func:`cli.main.main` settles the
language first (:func:`use`) and every ``register`` reads it through :func:`t`.
argparse's own words (``usage:``, ``options``, its error messages) come through
:func:`argparse_language`, which feeds argparse's gettext hook the same catalog.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from geo.i18n import DEFAULT_LANGUAGE, LANGUAGES, message

LANG_ENV = "HEHU_LANG"
LOCALE_ENVS = ("LC_ALL", "LC_MESSAGES", "LANG")

_current = DEFAULT_LANGUAGE


def _language_of(value: str | None) -> str | None:
    """``zh``/``zh_CN.UTF-8`` → ``zh``, ``en*`` → ``en``, anything else → None."""
    if not value:
        return None
    head = value.strip().lower().replace("_", "-").split("-")[0].split(".")[0]
    return head if head in LANGUAGES else None


def _asked(argv: Sequence[str]) -> str | None:
    """The value of the last ``--lang`` on the command line (before a ``--``)."""
    asked = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            asked = argv[i + 1]
        elif arg.startswith("--lang="):
            asked = arg.split("=", 1)[1]
    return asked if asked in LANGUAGES else None


def resolve(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The language for this run: ``--lang``, ``$HEHU_LANG``, the locale, else Chinese."""
    env = os.environ if environ is None else environ
    asked = _asked(argv) or _language_of(env.get(LANG_ENV))
    if asked:
        return asked
    for name in LOCALE_ENVS:
        value = env.get(name)
        if value:  # the first one set decides, as for every POSIX program
            return _language_of(value) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def use(lang: str) -> None:
    """Make ``lang`` the language of :func:`t` for this run."""
    global _current
    _current = lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def current() -> str:
    """The run's language (``zh`` until :func:`use` says otherwise)."""
    return _current


def t(key: str, **params: Any) -> str:
    """The CLI text ``cli.<key>`` in the run's language."""
    return message(f"cli.{key}", _current, **params)


def h(key: str, **params: Any) -> str:
    """A help string: like :func:`t`, with ``%`` doubled (argparse %-formats help)."""
    return t(key, **params).replace("%", "%%")


def add_lang_argument(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--lang zh|en``: on ``hehu`` itself and on every subcommand, so it may go anywhere."""
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=_current if top else argparse.SUPPRESS,
        help=h("lang.help"),
    )


# argparse's own texts (Python 3.10-3.13), by the English msgid argparse asks gettext for.
ARGPARSE_KEYS = {
    "usage: ": "argparse.usage",
    "positional arguments": "argparse.positionals",
    "options": "argparse.options",
    "optional arguments": "argparse.options",
    "show this help message and exit": "argparse.help",
    "argument %(argument_name)s: %(message)s": "argparse.argument",
    "the following arguments are required: %s": "argparse.required",
    "unrecognized arguments: %s": "argparse.unrecognized",
    "invalid choice: %(value)r (choose from %(choices)s)": "argparse.invalid_choice",
    "invalid %(type)s value: %(value)r": "argparse.invalid_value",
    "expected one argument": "argparse.expected_one",
    "expected at most one argument": "argparse.expected_at_most_one",
    "expected at least one argument": "argparse.expected_at_least_one",
    "expected %s argument": "argparse.expected_n",
    "expected %s arguments": "argparse.expected_n",
    "one of the arguments %s is required": "argparse.one_of_required",
    "not allowed with argument %s": "argparse.not_allowed_with",
    "ambiguous option: %(option)s could match %(matches)s": "argparse.ambiguous",
    "ignored explicit argument %r": "argparse.ignored_explicit",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "argparse.unknown_parser",
    "can't open '%(filename)s': %(error)s": "argparse.cant_open",
    "%(prog)s: error: %(message)s\n": "argparse.error",
}


def argparse_text(text: str, lang: str) -> str:
    """argparse's ``text`` in ``lang`` (unchanged when it is not in the catalog)."""
    key = ARGPARSE_KEYS.get(text)
    return message(f"cli.{key}", lang) if key else text


@contextmanager
def argparse_language(lang: str) -> Iterator[None]:
    """argparse speaks ``lang`` inside the block (it looks its words up through the
    module's ``_``/``ngettext`` each time), and its own language again after."""
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]

    def gettext(text: str) -> str:
        return argparse_text(text, lang)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return argparse_text(singular if n == 1 else plural, lang)

    argparse._, argparse.ngettext = gettext, ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]
