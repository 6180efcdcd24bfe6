"""Errors that reach users: each says what is wrong and where, and maps to an HTTP status."""

from __future__ import annotations

from typing import Any

from geo.i18n import message as render_message
from geo.i18n import normalise_language
from layers import load_catalog


class HehuError(Exception):
    """Base of every error hehu reports to a person. ``status`` is the HTTP status.

    An error may carry a message ``key`` of ``geo/messages`` and its ``params``: then
    :meth:`render` gives it in the reader's language (the server uses the request's,
    Chinese by default), and ``message`` is its English text for logs and tracebacks.
    An error without a key says ``message`` in every language.

    >>> e = HehuError(key="query.distance_positive", params={"name": "distance", "unit": "meters", "value": -1})
    >>> e.render("zh")
    'distance 须大于 0（单位 meters），收到 -1'
    """

    status = 400
    code = "bad-request"

    def __init__(
        self,
        message: str | None = None,
        *,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        **details: Any,
    ):
        self.key = key
        self.params = dict(params or {})
        if message is None:
            message = self._text("en")
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    def _text(self, lang: str | None) -> str:
        if self.key is None:
            return self.message
        return render_message(self.key, lang, **self.params)

    def render(self, lang: str | None = None) -> str:
        """The message in ``lang`` (``zh`` default, ``en``)."""
        return self._text(lang)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        description = self.message if lang is None else self.render(lang)
        return {"code": self.code, "description": description, **self.details}


class ValidationError(HehuError):
    """A feature does not fit its layer: names the layer, field, value (and row)."""

    code = "invalid-feature"

    def __init__(
        self,
        message: str | None = None,
        *,
        layer: str | None = None,
        field: str | None = None,
        value: Any = None,
        row: int | None = None,
        problems: list[dict[str, Any]] | None = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        suggestions: list[str] | None = None,
    ):
        self.layer = layer
        self.field = field
        self.value = value
        self.row = row
        self.key = key
        self.params = dict(params or {})
        self._bare = message if message is not None else self._body("en")
        shown = value if value is None or isinstance(value, (int, float, bool)) else str(value)[:80]
        super().__init__(
            self._where("en") + self._bare,
            layer=layer,
            field=field,
            value=shown,
            row=row,
            problems=problems,
            suggestions=suggestions,
            key=key,
            params=params,
        )

    def _body(self, lang: str | None) -> str:
        if self.key is None:
            return self._bare
        return render_message(self.key, lang, value=self.value, **self.params)

    def body(self, lang: str | None = None) -> str | None:
        """The message without where it happened (row, layer, field), when it has a key."""
        return self._body(lang) if self.key is not None else None

    def _where(self, lang: str | None) -> str:
        """``row 3, layer violations, field code: `` or ``第 3 行，图层 清四乱问题，字段 编号(code)：``."""
        zh = normalise_language(lang) == "zh"
        where = []
        if self.row is not None:
            where.append(render_message("error.where_row", lang, row=self.row))
        if self.layer:
            where.append(render_message("error.where_layer", lang, layer=_layer_title(self.layer, zh)))
        if self.field:
            where.append(render_message("error.where_field", lang, field=_field_title(self.layer, self.field, zh)))
        if not where:
            return ""
        return ("，".join(where) + "：") if zh else (", ".join(where) + ": ")

    def _text(self, lang: str | None) -> str:
        return self._where(lang) + self._body(lang)


class NotFoundError(HehuError):
    status = 404
    code = "not-found"


class ConflictError(HehuError):
    """A write based on a stale version of a feature (optimistic concurrency)."""

    status = 412
    code = "conflict"


class RegistryFileError(HehuError):
    """A file that is not a GeoPackage, or a GeoPackage that is not a hehu registry."""

    status = 500
    code = "registry-file"


class QueryError(HehuError):
    """A spatial query that cannot be answered as asked (unknown target, bad distance...)."""

    code = "bad-query"


def _layer_title(layer_id: str, zh: bool) -> str:
    """``清四乱问题(violations)`` in Chinese texts, the id in English ones (as before)."""
    if not zh:
        return layer_id
    try:
        return f"{load_catalog()[layer_id].title('zh')}({layer_id})"
    except Exception:  # an unknown or test layer: the id is still a fine name
        return layer_id


def _field_title(layer_id: str | None, field: str, zh: bool) -> str:
    if not zh or not layer_id:
        return field
    try:
        return f"{load_catalog()[layer_id].field(field).title('zh')}({field})"
    except Exception:
        return field


class StoreUnavailableError(HehuError):
    """The database cannot answer now (restarting, every pooled connection busy, a
    statement timeout): HTTP 503 with ``Retry-After``; the next request may succeed."""

    status = 503
    code = "store-unavailable"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int = 2,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ):
        super().__init__(message, key=key, params=params)
        self.retry_after = int(retry_after)


class ReadOnlyRegistryError(HehuError):
    """A write to a registry opened read-only (a PostgreSQL read replica, or
    ``read_only=1`` in its URI): HTTP 405, saying where writes go instead."""

    status = 405
    code = "read-only-registry"
