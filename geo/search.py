"""Find features by name or code across every layer the catalog makes searchable.

Which fields are searched is the catalog's ``search`` list of each layer (river names,
codes and aliases, lake names, town names, plant names, violation codes, ...): a layer
with no ``search`` fields is not searched, and a new layer is searchable by declaring
them. Matches rank exact > prefix > contains > fuzzy (case-insensitive), then matches on
a feature's own name, code or aliases before matches on a field naming something else
(a signboard's river), then by map order of the layer, then shorter labels first.

For example (on the demo registry)::

    from geo.search import search
    search(reg, "丹金")[0]["label"]
    # → '丹金溧漕河'

The index (one row per searchable value, with the feature's bounding box) is built once
per registry version and kept in ``registry.cache``, so a search after an edit sees the
edit, and typing into a suggestion box does not re-read 100,000 violations per key.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geo.errors import QueryError
from geo.values import ALIAS_SEPARATORS

if TYPE_CHECKING:
    from geo.registry import Registry

#: Ranks, best first; the number is what a result's ``rank`` holds.
EXACT, PREFIX, CONTAINS, FUZZY = 0, 1, 2, 3
RANK_NAMES = {EXACT: "exact", PREFIX: "prefix", CONTAINS: "contains", FUZZY: "fuzzy"}

MAX_LIMIT = 50
#: Features a grouped "related" result highlights at most (a river's signboards).
MAX_RELATED_FIDS = 50
MAX_QUERY_CHARS = 100
#: Fuzzy matching (difflib ratio) only runs when the better ranks found fewer hits than
#: asked for, on queries at least this long, and keeps matches at least this similar.
FUZZY_MIN_CHARS = 2
FUZZY_CUTOFF = 0.6
FUZZY_POOL = 3000



#: Layers with more features than this are searched in the store per query (a LIKE
#: pushed into SQL) instead of being held in the in-memory search index.
INDEX_MAX_FEATURES = 200_000
#: Rows a store-side search may return per layer.
STORE_SEARCH_ROWS = 500


def _layer_rows(registry: Registry, layer, gdf=None) -> pd.DataFrame:
    """One row per (feature, searchable value) of one layer, with the feature's bbox."""
    gdf = registry.read(layer.id) if gdf is None else gdf
    if gdf.empty:
        return pd.DataFrame()
    bounds = shapely.bounds(np.asarray(gdf.geometry.values, dtype=object))
    label = gdf[layer.label_field].astype("string").fillna("")
    code = gdf[layer.id_field].astype("string").fillna("") if layer.has_field(layer.id_field) else label
    town = gdf["town"].astype("string").fillna("") if layer.has_field("town") else pd.Series("", index=gdf.index)
    base = pd.DataFrame(
        {
            "fid": gdf.index.to_numpy(),
            "label": label.to_numpy(),
            "code": code.to_numpy(),
            "town": town.to_numpy(),
            "minx": bounds[:, 0],
            "miny": bounds[:, 1],
            "maxx": bounds[:, 2],
            "maxy": bounds[:, 3],
        }
    )
    parts = []
    for name in layer.search:
        if not layer.has_field(name):
            continue
        values = gdf[name].astype("string").fillna("")
        if name == layer.aliases_field:
            values = values.str.split(ALIAS_SEPARATORS)
            frame = base.assign(value=values.to_numpy()).explode("value")
        else:
            frame = base.assign(value=values.to_numpy())
        frame["value"] = frame["value"].astype("string").str.strip()
        frame["field"] = name
        parts.append(frame[frame["value"] != ""])
    if not parts:
        return pd.DataFrame()
    rows = pd.concat(parts, ignore_index=True)
    rows["layer"] = layer.id
    rows["order"] = layer.order
    rows["key"] = rows["value"].str.lower()
    # A match on a field that names something else (a signboard's river, a reach's
    # neighbour) ranks after matches on the feature's own name, code or aliases.
    own = {layer.label_field, layer.id_field, layer.aliases_field}
    rows["secondary"] = ~rows["field"].isin(own)
    return rows


def search_index(registry: Registry) -> pd.DataFrame:
    """The search index of the registry at its current version (built on first use)."""
    version = registry.version()
    key = ("search", version)
    index = registry.cache.get(key)
    if index is None:
        frames = [
            _layer_rows(registry, layer)
            for layer in registry.catalog
            if layer.search and not _is_big(registry, layer.id)
        ]
        frames = [f for f in frames if not f.empty]
        index = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["fid", "label", "code", "town", "minx", "miny", "maxx", "maxy",
                     "value", "field", "layer", "order", "key", "secondary"]
        )
        registry.cache = {k: v for k, v in registry.cache.items() if k[0] != "search"}
        registry.cache[key] = index
    return index


def _is_big(registry: Registry, layer_id: str) -> bool:
    return registry.count(layer_id) > INDEX_MAX_FEATURES


def _store_rows(registry: Registry, layer, q: str) -> pd.DataFrame:
    """Index rows of a big layer's features whose searchable fields contain ``q``,
    found by the store (a LIKE in SQL, in the cases people type: as typed, upper, lower)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    tree = None
    for name in layer.search:
        if not layer.has_field(name):
            continue
        for variant in dict.fromkeys([escaped, escaped.upper(), escaped.lower()]):
            term = ("like", ("prop", name, 0), ("lit", f"%{variant}%"), 0)
            tree = term if tree is None else ("or", tree, term)
    if tree is None:
        return pd.DataFrame()
    return _layer_rows(registry, layer, registry.read(layer.id, filter=tree, limit=STORE_SEARCH_ROWS))


def _rank(keys: pd.Series, q: str) -> np.ndarray:
    """Rank of each key for the (lower-cased) query; -1 where it does not match."""
    rank = np.full(len(keys), -1, dtype=np.int64)
    contains = keys.str.contains(q, regex=False).to_numpy(dtype=bool, na_value=False)
    prefix = keys.str.startswith(q).to_numpy(dtype=bool, na_value=False)
    exact = (keys == q).to_numpy(dtype=bool, na_value=False)
    rank[contains] = CONTAINS
    rank[prefix] = PREFIX
    rank[exact] = EXACT
    return rank


def search(
    registry: Registry,
    q: str,
    *,
    layers: list[str] | None = None,
    limit: int = 10,
    lang: str = "zh",
) -> list[dict[str, Any]]:
    """Features whose searchable fields match ``q``, best first.

    Each result is ``{"label", "layer", "layer_title", "fid", "fids", "bbox", "code",
    "town", "field", "match", "rank"}``: ``bbox`` is (minlon, minlat, maxlon, maxlat) of
    the feature, ``match`` the value that matched (an alias, a code...). A named water
    (a layer with an aliases field: rivers, lakes) recorded as several reaches is one
    result whose ``fids`` lists every reach and whose ``bbox`` covers them all.

    Raises :class:`QueryError` for an empty or over-long ``q``, a bad ``limit`` or an
    unknown layer.
    """
    q = (q or "").strip()
    if not q:
        raise QueryError("parameter q: give some text to search for", parameter="q")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(f"parameter q: at most {MAX_QUERY_CHARS} characters", parameter="q")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"parameter limit: an integer from 1 to {MAX_LIMIT}", parameter="limit")
    searchable = [layer.id for layer in registry.catalog if layer.search]
    if layers:
        unknown = [lid for lid in layers if lid not in searchable]
        if unknown:
            raise QueryError(
                f"parameter layers: {', '.join(unknown)} not searchable; searchable layers: "
                f"{', '.join(searchable)}",
                parameter="layers",
            )
    index = search_index(registry)
    big = [
        registry.catalog[lid]
        for lid in (layers or searchable)
        if _is_big(registry, lid)
    ]
    if big:
        extra = [f for f in (_store_rows(registry, layer, q) for layer in big) if not f.empty]
        if extra:
            index = pd.concat([index, *extra], ignore_index=True)
    if layers:
        index = index[index["layer"].isin(layers)]
    if index.empty:
        return []
    key = q.lower()
    rank = _rank(index["key"], key)
    hits = index.assign(rank=rank)[rank >= 0]
    if _distinct(hits) < limit and len(key) >= FUZZY_MIN_CHARS:
        rest = index[rank < 0]
        pool = _fuzzy_pool(pd.Series(rest["key"].unique(), dtype="string"), key)
        close = difflib.get_close_matches(key, pool, n=limit * 3, cutoff=FUZZY_CUTOFF)
        if close:
            fuzzy = rest[rest["key"].isin(close)].assign(rank=FUZZY)
            score = {c: difflib.SequenceMatcher(None, key, c).ratio() for c in close}
            fuzzy = fuzzy.assign(score=-fuzzy["key"].map(score))
            hits = pd.concat([hits.assign(score=0.0), fuzzy], ignore_index=True)
    if "score" not in hits:
        hits = hits.assign(score=0.0)
    if hits.empty:
        return []
    hits = hits.assign(length=hits["label"].str.len())
    hits = hits.sort_values(["rank", "secondary", "score", "order", "length", "label", "fid"], kind="stable")
    return _collect(registry, hits, limit, lang)


def _fuzzy_pool(keys: pd.Series, q: str) -> list[str]:
    """At most :data:`FUZZY_POOL` candidate values for fuzzy matching ``q``.

    difflib compares one pair at a time, too slow over 100,000 look-alike violation
    codes for a suggestion box: while there are too many candidates, keep those sharing
    a longer prefix with ``q`` (a misspelling is rarely in the first characters), then
    those of a similar length.
    """
    pool = keys
    k = 1
    while len(pool) > FUZZY_POOL and k <= len(q):
        narrower = pool[pool.str.startswith(q[:k]).to_numpy(dtype=bool, na_value=False)]
        if narrower.empty:
            break
        pool = narrower
        k += 1
    if len(pool) > FUZZY_POOL:
        lengths = pool.str.len().to_numpy()
        pool = pool[np.abs(lengths - len(q)) <= 2]
    return pool.iloc[:FUZZY_POOL].tolist()


def _distinct(hits: pd.DataFrame) -> int:
    return int(hits[["layer", "fid"]].drop_duplicates().shape[0]) if len(hits) else 0


def _collect(registry: Registry, hits: pd.DataFrame, limit: int, lang: str) -> list[dict[str, Any]]:
    """Turn ranked index rows into results: one per feature (or per named water)."""
    results: list[dict[str, Any]] = []
    seen: dict[tuple, dict[str, Any]] = {}
    grouped_layers = {layer.id for layer in registry.catalog if layer.aliases_field}
    related: dict[tuple, list] = {}
    for row in hits.itertuples(index=False):
        group = row.layer in grouped_layers
        ident = (row.layer, row.label) if group else (row.layer, int(row.fid))
        if row.secondary:
            # Features that only name the match (a river's signboards) are one result
            # per layer: "丹金溧漕河 · 河长公示牌（9）", not nine bare codes.
            ident = (row.layer, "related", row.value)
            if ident in seen:
                related[ident].append(row)
                continue
        if ident in seen:
            continue
        if len(results) >= limit:
            break
        layer = registry.catalog[row.layer]
        result = {
            "label": row.label,
            "layer": row.layer,
            "layer_title": layer.title(lang),
            "fid": int(row.fid),
            "fids": [int(row.fid)],
            "bbox": [float(row.minx), float(row.miny), float(row.maxx), float(row.maxy)],
            "code": row.code,
            "town": row.town,
            "field": row.field,
            "match": row.value,
            "rank": RANK_NAMES[int(row.rank)],
        }
        if row.secondary:
            result["related"] = True
            related[ident] = [row]
        seen[ident] = result
        results.append(result)
    for ident, rows in related.items():
        result = seen[ident]
        fids = list(dict.fromkeys(int(r.fid) for r in rows))
        layer = registry.catalog[result["layer"]]
        result["fids"] = fids[:MAX_RELATED_FIDS]
        result["count"] = len(fids)
        result["label"] = f"{result['match']} · {layer.title(lang)}" + (
            f"（{len(fids)}）" if lang == "zh" else f" ({len(fids)})"
        )
        result["code"] = ""
        result["town"] = ""
        result["bbox"] = [
            float(min(r.minx for r in rows)), float(min(r.miny for r in rows)),
            float(max(r.maxx for r in rows)), float(max(r.maxy for r in rows)),
        ]
    # A named water is every feature bearing its name, not just the best-matching reach.
    index = search_index(registry)
    for result in results:
        if result["layer"] not in grouped_layers:
            continue
        same = index[(index["layer"] == result["layer"]) & (index["label"] == result["label"])]
        same = same.drop_duplicates("fid").sort_values("fid")
        # A river recorded reach by reach crosses several towns: name them all.
        towns = [t for t in dict.fromkeys(same["town"].tolist()) if t]
        if towns:
            result["town"] = "、".join(towns)
            result["towns"] = towns
        if len(same) > 1:
            result["fids"] = [int(f) for f in same["fid"]]
            result["bbox"] = [
                float(same["minx"].min()),
                float(same["miny"].min()),
                float(same["maxx"].max()),
                float(same["maxy"].max()),
            ]
    return results
