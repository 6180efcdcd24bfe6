"""Entity tags for features: the version a client read, for optimistic concurrency.

Every response that carries one feature (the OGC API read, the editing API) sets the
HTTP ``ETag`` header from :func:`feature_etag`; writes send it back in ``If-Match``,
and a feature changed in between no longer has that tag. The tag is a hash of what a
client can see (properties and geometry), so two processes computing it for the same
stored feature agree without keeping any version counter.

>>> from shapely.geometry import Point
>>> a = feature_etag({"properties": {"code": "A"}, "geometry": Point(119.5, 31.7)})
>>> a == feature_etag({"properties": {"code": "A"}, "geometry": Point(119.5, 31.7)})
True
>>> a == feature_etag({"properties": {"code": "B"}, "geometry": Point(119.5, 31.7)})
False
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def feature_etag(feature: dict[str, Any]) -> str:
    """The opaque tag (no quotes) of a feature ``{"properties", "geometry"}``.

    The geometry may be shapely or a GeoJSON mapping. Set it on a Flask response with
    ``response.set_etag(feature_etag(feature))``; compare an ``If-Match`` header with
    ``request.if_match.contains(tag)``.
    """
    props = {str(k): _plain(v) for k, v in (feature.get("properties") or {}).items()}
    geom = feature.get("geometry")
    if isinstance(geom, dict):
        geom = shape(geom)
    # WKB in a fixed byte order: the same stored geometry always hashes the same.
    wkb = b"" if geom is None else shapely.to_wkb(geom, byte_order=1, output_dimension=2)
    h = hashlib.sha256()
    h.update(json.dumps(props, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    h.update(b"\x00")
    h.update(wkb)
    return h.hexdigest()[:32]
