"""Links to the features behind a number: the map page and the OGC API items.

The one place in :mod:`geo` that spells hehu's own URLs (relative to where the app is
mounted): every result of :func:`geo.targets.compute_targets` carries its links, so
that the CLI's JSON and the page's show the same ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from layers import load_catalog

if TYPE_CHECKING:
    pass


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def map_link(layer_id: str, where: dict[str, Any] | None = None) -> str:
    """The map page showing one layer, filtered: ``/map?layer=violations&filter=status:反弹``.

    Several accepted values are comma-separated; several fields are separate ``filter``
    parameters.
    """
    parts = [f"layer={_q(layer_id)}"]
    for name, value in (where or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        parts.append(f"filter={_q(name)}:{','.join(_q(v) for v in values)}")
    return "/map?" + "&".join(parts)


def items_links(layer_id: str, where: dict[str, Any] | None = None, title: str = "") -> list[dict[str, str]]:
    """The OGC API items link for the features behind a number.

    Several accepted values of an enum field are comma-separated
    (``/collections/violations/items?status=待交办,反弹``), as the items endpoint takes them.
    """
    base = f"/collections/{_q(layer_id)}/items"
    query = "&".join(
        f"{_q(name)}={','.join(_q(v) for v in (value if isinstance(value, (list, tuple)) else [value]))}"
        for name, value in (where or {}).items()
    )
    return [{"rel": "items", "href": f"{base}?{query}" if query else base, "title": title}]


def _cql_text(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def cql_items_link(layer_id: str, cql: str, title: str = "") -> dict[str, str]:
    """An OGC API items link selecting features with a CQL2-text filter."""
    return {
        "rel": "items",
        "href": f"/collections/{_q(layer_id)}/items?filter-lang=cql2-text&filter={_q(cql)}",
        "title": title,
    }


def outstanding_link(result: dict[str, Any], town: str | None = None) -> str | None:
    """Items link to the features holding a target back, in one town if given.

    None when the target has no such features (met by definition) or when the layer has
    no ``town`` field to filter on.
    """
    spec = result.get("outstanding")
    if not spec:
        return None
    cql = spec["filter"]
    if town is not None:
        if not load_catalog()[spec["layer"]].has_field("town"):
            return None
        cql = f"({cql}) AND town = {_cql_text(town)}"
    return cql_items_link(spec["layer"], cql)["href"]


def outstanding_map_link(result: dict[str, Any], town: str | None = None) -> str | None:
    """Map link showing the features holding a target back, in one town if given.

    None when the selection is not plain equality on fields (overdue: a date before the
    as-of day; sections below Class III) or, for a town, when the layer has no ``town``
    field: :func:`outstanding_link` (the OGC API items) serves those.
    """
    spec = result.get("outstanding")
    if not spec or not spec.get("where"):
        return None
    where = dict(spec["where"])
    if town is not None:
        if not load_catalog()[spec["layer"]].has_field("town"):
            return None
        where["town"] = town
    return map_link(spec["layer"], where)


def _links(layer_id: str, where: dict[str, Any] | None, title: str) -> list[dict[str, str]]:
    return [{"rel": "map", "href": map_link(layer_id, where), "title": title}] + items_links(
        layer_id, where, title
    )
