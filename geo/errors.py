"""Errors that reach users: each says what is wrong and where, and maps to an HTTP status."""

from __future__ import annotations

from typing import Any


class HehuError(Exception):
    """Base of every error hehu reports to a person. ``status`` is the HTTP status."""

    status = 400
    code = "bad-request"

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "description": self.message, **self.details}


class ValidationError(HehuError):
    """A feature does not fit its layer: names the layer, field, value (and row)."""

    code = "invalid-feature"

    def __init__(
        self,
        message: str,
        *,
        layer: str | None = None,
        field: str | None = None,
        value: Any = None,
        row: int | None = None,
        problems: list[dict[str, Any]] | None = None,
    ):
        where = []
        if row is not None:
            where.append(f"row {row}")
        if layer:
            where.append(f"layer {layer}")
        if field:
            where.append(f"field {field}")
        prefix = f"{', '.join(where)}: " if where else ""
        shown = value if value is None or isinstance(value, (int, float, bool)) else str(value)[:80]
        super().__init__(
            prefix + message,
            layer=layer,
            field=field,
            value=shown,
            row=row,
            problems=problems,
        )
        self.layer = layer
        self.field = field
        self.value = value
        self.row = row


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


class StoreUnavailableError(HehuError):
    """The database cannot answer now (restarting, every pooled connection busy, a
    statement timeout): HTTP 503 with ``Retry-After``; the next request may succeed."""

    status = 503
    code = "store-unavailable"

    def __init__(self, message: str, *, retry_after: int = 2):
        super().__init__(message)
        self.retry_after = int(retry_after)


class ReadOnlyRegistryError(HehuError):
    """A write to a registry opened read-only (a PostgreSQL read replica, or
    ``read_only=1`` in its URI): HTTP 405, saying where writes go instead."""

    status = 405
    code = "read-only-registry"
