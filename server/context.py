"""Access to the app's registry and settings from inside a request."""

from __future__ import annotations

from flask import current_app, request

from geo.registry import Registry


def registry() -> Registry:
    return current_app.extensions["hehu_registry"]


def lang() -> str:
    """``zh`` (default) or ``en``, from ``?lang=`` or the Accept-Language header."""
    asked = request.args.get("lang")
    if asked in ("zh", "en"):
        return asked
    best = request.accept_languages.best_match(["zh", "en"])
    return best or current_app.config.get("LANG", "zh")
