"""Access to the app's registry and settings from inside a request."""

from __future__ import annotations

from flask import current_app, request

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
