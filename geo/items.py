"""Reading a collection's items: one page (or every match) of a layer, counted.

The OGC API's ``/collections/{id}/items`` is a thin adapter over :func:`read_items`, the
way pygeoapi's API functions and tipg's ``Collection.features`` sit behind their web
layers: the view reads the request, calls this once and shapes the response. No Flask
here, so the planning (which parameters go to the store as SQL, when a big layer's
bbox page comes from the in-memory snapshot, how ``datetime`` becomes a filter) is read
and tested without a request.

Reads stay cheap on big layers: ``bbox`` goes to the store's R-tree, property filters,
``sortby``, ``limit`` and ``offset`` to SQL, ``datetime`` and a CQL2 ``filter`` travel
as one parsed CQL2 tree the store turns into SQL where it can, and ``numberMatched``
of an unfiltered layer is the GeoPackage feature count. A plain bbox page of a big
layer is served from :mod:`geo.feature_pages` (the same answer as SQL).

:func:`registry_state` gives the token that changes with every committed write and the
time of the last change, which the server turns into ``ETag`` and ``Last-Modified``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from geo.errors import HehuError
from geo.item_params import (
    ParameterError,
    check_crs,
    cql2_module,
    parse_bbox,
    parse_datetime,
    parse_limit,
    parse_offset,
    parse_properties,
    parse_property_filters,
    parse_sortby,
)
from layers import Layer

if TYPE_CHECKING:
    import geopandas as gpd

    from geo.feature_pages import SnapshotCache
    from geo.registry import Registry

#: What the caller will make of the page: pre-encoded GeoJSON feature texts allowed
#: (``texts``: a JSON page), store rows (``rows``: an HTML table), or a GeoDataFrame of
#: every match unless a ``limit`` is given (``frame``: a file download).
Want = Literal["texts", "rows", "frame"]


@dataclass(frozen=True)
class ItemsQuery:
    """The items parameters, parsed and checked against the layer."""

    bbox: tuple[float, float, float, float] | None = None
    limit: int | None = None
    offset: int = 0
    order_by: list[tuple[str, bool]] | None = None
    properties: list[str] | None = None
    span: tuple[date | None, date | None] | None = None
    where: dict[str, Any] | None = None
    cql_text: str | None = None


def parse_items(args: Any, layer: Layer, *, want: Want = "texts", page_max: int | None = None) -> ItemsQuery:
    """Check every items parameter of ``args`` (``get``/``getlist`` mapping) on ``layer``.

    ``page_max`` lowers the page size (an HTML page lists at most so many features); a
    ``frame`` read without ``limit`` holds every match.
    """
    check_crs("crs", args.get("crs"))
    check_crs("filter-crs", args.get("filter-crs"))
    bbox = parse_bbox(args.get("bbox"), args.get("bbox-crs"))
    limit: int | None = parse_limit(args.get("limit"))
    if want == "frame" and args.get("limit") is None:
        limit = None  # a download holds every match unless a page is asked for
    if page_max is not None and limit is not None:
        limit = min(limit, page_max)
    offset = parse_offset(args.get("offset"))
    order_by = parse_sortby(args.get("sortby"), layer)
    properties = parse_properties(args.get("properties"), layer)
    span = parse_datetime(args.get("datetime"), layer)
    where = parse_property_filters(args, layer) or None
    cql_text = args.get("filter")
    filter_lang = args.get("filter-lang")
    # "cql-text" is what GDAL (3.1 and later) sends: CQL2-text's name in the drafts.
    if filter_lang is not None and filter_lang.strip() not in ("cql2-text", "cql-text"):
        raise ParameterError("filter-lang", key="server.filter_lang_unsupported", params={"value": repr(filter_lang)})
    if cql_text is not None:
        if cql2_module() is None:
            raise ParameterError("filter", key="server.filter_unavailable")
        if not cql_text.strip():
            raise ParameterError("filter", key="server.filter_empty")
    return ItemsQuery(bbox, limit, offset, order_by, properties, span, where, cql_text)


def filter_tree(layer: Layer, span: tuple[date | None, date | None] | None, cql_text: str | None):
    """The items filter as one CQL2 tree: the ``filter`` parameter and ``datetime``
    (an inclusive day range on the layer's first temporal field), checked on the layer."""
    from geo import cql2

    tree = None
    if cql_text is not None:
        try:
            tree = cql2.parse(cql_text)
            cql2.check(tree, layer)
        except HehuError as exc:
            if "parameter" not in exc.details:
                exc.details["parameter"] = "filter"
            raise
        except (ValueError, TypeError, KeyError) as exc:
            if str(exc):
                raise ParameterError("filter", str(exc)) from None
            raise ParameterError("filter", key="server.filter_unparsable") from None
    if span is not None:
        prop = ("prop", layer.temporal[0], 0)
        terms: list[Any] = [("not", ("null", prop))]
        if span[0] is not None:
            terms.append(("cmp", ">=", prop, ("lit", span[0].isoformat()), 0))
        if span[1] is not None:
            # Before the next day: a date-time field's "2021-03-31T08:00:00.000Z" is on
            # the 31st, and as text it sorts after "2021-03-31".
            terms.append(("cmp", "<", prop, ("lit", (span[1] + timedelta(days=1)).isoformat()), 0))
        for term in terms:
            tree = term if tree is None else ("and", tree, term)
    return tree


@dataclass
class Page:
    """One page of items and how it sits among the matches.

    Exactly one of ``texts`` (GeoJSON Feature texts from a snapshot), ``rows``
    (``(fid, geometry, *values)`` from the store) and ``frame`` (a GeoDataFrame) holds
    the features.
    """

    matched: int
    limit: int | None
    offset: int
    properties: list[str] | None
    texts: list[bytes] | None = None
    rows: list[tuple] | None = None
    frame: gpd.GeoDataFrame | None = None
    returned: int = field(init=False)

    def __post_init__(self) -> None:
        held = self.texts if self.texts is not None else self.rows if self.rows is not None else self.frame
        self.returned = 0 if held is None else len(held)

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, or None on the last one."""
        end = self.offset + self.returned
        return end if end < self.matched else None

    @property
    def prev_offset(self) -> int | None:
        """The offset of the previous page, or None on the first one."""
        if self.offset <= 0:
            return None
        return max(0, self.offset - (self.limit or self.returned or 0))


def _is_plain_bbox_page(query: ItemsQuery) -> bool:
    return (
        query.bbox is not None
        and query.where is None
        and query.properties is None
        and query.span is None
        and query.cql_text is None
        and all(name == "fid" for name, _ in query.order_by or ())
    )


def layer_snapshot(registry: Registry, layer: Layer, snapshots: SnapshotCache, states: Mapping[str, tuple]):
    """The in-memory snapshot of a big layer at the registry's state, or None.

    Keyed by this layer's own state: writes to other layers leave its snapshot valid.
    Every write through the store moves the layer's last change, deletes and adds move
    its count, and edits add to its history.
    """
    if layer.id not in states:
        return None
    token = (layer.id, *states[layer.id], registry.last_change(layer.id))
    return snapshots.get(registry, layer, token)


def read_items(
    registry: Registry,
    layer: Layer,
    args: Any,
    *,
    want: Want = "texts",
    page_max: int | None = None,
    snapshots: Callable[[], SnapshotCache | None] | None = None,
    states: Mapping[str, tuple] | None = None,
) -> Page:
    """Check every items parameter in ``args``, then read one page and count the matches.

    ``snapshots`` gives the cache of in-memory snapshots (or None when the deployment
    has none), asked for only when a plain bbox page could use it; ``states`` are the
    per-layer change stamps of :func:`registry_state`.
    """
    query = args if isinstance(args, ItemsQuery) else parse_items(args, layer, want=want, page_max=page_max)
    common = {"limit": query.limit, "offset": query.offset, "properties": query.properties}
    if want == "texts" and snapshots is not None and states and _is_plain_bbox_page(query):
        cache = snapshots()
        snap = layer_snapshot(registry, layer, cache, states) if cache is not None else None
        if snap is not None:
            descending = bool(query.order_by) and not query.order_by[0][1]
            texts, matched = snap.page(query.bbox, descending=descending, limit=query.limit, offset=query.offset)
            return Page(matched=matched, texts=texts, **common)
    tree = filter_tree(layer, query.span, query.cql_text)
    if want == "frame":
        frame = registry.read(layer.id, bbox=query.bbox, where=query.where, filter=tree, order_by=query.order_by)
        start = query.offset
        page = frame.iloc[start:] if query.limit is None else frame.iloc[start : start + query.limit]
        return Page(matched=len(frame), frame=page, **common)
    # The store does the bbox (R-tree), equality filters, CQL2 and datetime (as SQL
    # where it can), order and paging; a bbox page is counted from the one R-tree
    # read it needs anyway. No GeoDataFrame is built.
    rows, matched = registry.read_rows(
        layer.id,
        bbox=query.bbox,
        where=query.where,
        filter=tree,
        order_by=query.order_by,
        limit=query.limit,
        offset=query.offset,
    )
    return Page(matched=matched, rows=rows, **common)


@dataclass(frozen=True)
class RegistryState:
    """The registry's change state: a token that changes with every committed write,
    when the data (or one layer) last changed, and each layer's stamps."""

    token: str
    modified: datetime | None
    layers: dict[str, tuple]


def registry_state(registry: Registry, layer_id: str | None = None) -> RegistryState:
    """Read the store's change stamps (per layer: last change and feature count, kept by
    every writer, and GDAL's feature counts), the same in every server thread and
    process; stores without them fall back to ``Registry.version()``.

    ``modified`` is the last change of ``layer_id``, or of any layer without one.
    """
    states, last = registry.stamps()
    token = f"{last}|" + "|".join(f"{k}:{v[0]}:{v[1]}" for k, v in sorted(states.items()))
    stamps = [v[0] for k, v in states.items() if v[0] and (layer_id is None or k == layer_id)]
    modified = None
    if stamps:
        try:
            modified = datetime.fromisoformat(max(stamps).replace("Z", "+00:00"))
        except ValueError:
            modified = None
    return RegistryState(token, modified, dict(states))


def temporal_extent(
    registry: Registry, layer: Layer, cache: MutableMapping[tuple, Any] | None = None, token: str | None = None
) -> list[str] | None:
    """[first, last] day over the layer's temporal fields, or None.

    With a ``cache`` and the registry state ``token``, the answer is kept until the
    next write (the cache is emptied past 256 entries).
    """
    if not layer.temporal:
        return None
    key = (layer.id, token)
    if cache is not None and key in cache:
        return cache[key]
    lows, highs = [], []
    for name in layer.temporal:
        span = registry.temporal_extent(layer.id, name)
        if span is not None:
            lows.append(str(span[0])[:10])
            highs.append(str(span[1])[:10])
    result = [min(lows), max(highs)] if lows else None
    if cache is not None:
        if len(cache) > 256:
            cache.clear()
        cache[key] = result
    return result


__all__ = [
    "ItemsQuery",
    "Page",
    "RegistryState",
    "filter_tree",
    "layer_snapshot",
    "parse_items",
    "read_items",
    "registry_state",
    "temporal_extent",
]


# -- attachment links ---------------------------------------------------------------------

_FEATURE_ID = re.compile(rb'^\{"type":"Feature","id":(-?\d+),')


def _text_fid(text: bytes) -> int | None:
    """The fid of one Feature text (``{"type":"Feature","id":N,...``, how hehu writes them)."""
    hit = _FEATURE_ID.match(text)
    if hit is not None:
        return int(hit.group(1))
    fid = json.loads(text).get("id")  # not hehu's own layout: read it the long way
    return int(fid) if isinstance(fid, int) else None


def feature_texts_with_links(registry: Registry, layer: Layer, page: Page, base_url: str) -> list[bytes]:
    """The page's Feature texts, each feature with files getting ``links``: one
    ``enclosure`` per file (its type, ``kind: name``, the href to its bytes).

    Part 1 of OGC API Features lets a Feature carry ``links`` (the featureGeoJSON schema);
    ``enclosure`` (RFC 4287) is the relation for a related, possibly large, resource,
    the one the collection already uses for its downloads. All the page's files come
    from one store query, whatever the page's size.
    """
    from geo.attachments import enclosure_links, records_of
    from geo.features import feature_texts

    if page.texts is not None:
        texts = list(page.texts)
        fids = [_text_fid(t) for t in texts]
    else:
        rows = page.rows or []
        texts = [t.encode("utf-8") for t in feature_texts(rows, layer, page.properties)]
        fids = [int(r[0]) for r in rows]
    found = records_of(registry, layer.id, [f for f in fids if f is not None])
    if not found:
        return texts
    out = []
    for text, fid in zip(texts, fids, strict=True):
        records = found.get(fid) if fid is not None else None
        if records:
            links = json.dumps(enclosure_links(base_url, records), ensure_ascii=False, separators=(",", ":"))
            text = text.rstrip()[:-1] + b',"links":' + links.encode("utf-8") + b"}"
        out.append(text)
    return out
