"""Access to the app's registry and settings from inside a request."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from flask import current_app, request

from geo.errors import QueryError
from geo.i18n import negotiate
from geo.registry import Registry


def registry() -> Registry:
    return current_app.extensions["hehu_registry"]


def lang() -> str:
    """``zh`` (default) or ``en``, from ``?lang=`` or the Accept-Language header.

    Every page and error uses this one rule: Chinese unless the request asks for English
    (``lang=en``, or an Accept-Language that lists English before Chinese).
    """
    asked = request.args.get("lang")
    if asked in ("zh", "en"):
        return asked
    if not request.headers.get("Accept-Language"):
        return current_app.config.get("LANG", "zh")
    return negotiate(None, request.headers.get("Accept-Language"))


def check_parameter_names(known: Sequence[str]) -> None:
    """Refuse a query parameter the endpoint does not take (suggesting the name it
    probably meant) or one given twice: a 400 naming it, in the request's language."""
    for name in request.args:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            raise QueryError(
                key="query.unknown_param",
                params={
                    "name": name,
                    "hint_en": f"did you mean {close[0]}? " if close else "",
                    "hint_zh": f"您要用的是否是 {close[0]}？" if close else "",
                    "path": request.path,
                    "known": ", ".join(known),
                },
                parameter=name,
            )
        if len(request.args.getlist(name)) > 1:
            raise QueryError(key="query.param_repeated", params={"name": name}, parameter=name)
