"""Derived fields: values computed from other fields, evaluated here and nowhere else.

The catalog declares them (``derived:`` in ``layers/*.yaml``, parsed into
:class:`layers.DerivedField`): ``meets_target: latest_class <= target_class`` colours
the water-quality sections on the map and on paper. Python reads them through this
module — :func:`derived_column` for a frame (exports' and prints' style values),
:func:`derived_properties` for one feature (a JSON record). The map page applies the
same parsed comparison in the browser (``derived`` in its layer config).

>>> import pandas as pd
>>> from layers import load_catalog
>>> sections = load_catalog()["sections"]
>>> derived_column(sections, pd.DataFrame({"latest_class": [2, 4], "target_class": [3, 3]}), "meets_target").tolist()
[True, False]
>>> derived_properties(sections, {"latest_class": 2, "target_class": None})
{'meets_target': None}
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from layers import DerivedField, Layer

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _field(layer: Layer, name: str) -> DerivedField:
    d = layer.derived_field(name)
    if d is None:
        raise KeyError(f"layer {layer.id} has no derived field {name!r}")
    return d


def derived_column(layer: Layer, frame: pd.DataFrame, name: str) -> pd.Series:
    """The derived field ``name`` for every row of ``frame``, compared column-wise.

    Rows with a missing operand compare as pandas compares NaN (False); a frame lacking
    an operand column, or holding values that do not compare, gives no value (None) for
    every row — as the exports and prints have always coloured such features.
    """
    d = _field(layer, name)

    def operand(o: dict[str, Any]) -> Any:
        return frame[o["field"]] if "field" in o else o["value"]

    try:
        out = _OPS[d.op](operand(d.left), operand(d.right))
        if not isinstance(out, pd.Series):
            out = pd.Series(out, index=frame.index)
        return out
    except Exception:  # noqa: BLE001 - missing columns, values that do not compare: no value
        return pd.Series(None, index=frame.index, dtype=object)


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def derived_properties(layer: Layer, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Every derived field of one feature: ``{name: True/False/None}``.

    A feature missing an operand gets None (no value: drawn in the default colour), the
    rule the map page follows too.
    """
    out: dict[str, Any] = {}
    for d in layer.derived_fields:
        values = [properties.get(o["field"]) if "field" in o else o["value"] for o in (d.left, d.right)]
        if any(_missing(v) for v in values):
            out[d.name] = None
            continue
        try:
            out[d.name] = bool(_OPS[d.op](values[0], values[1]))
        except TypeError:
            out[d.name] = None
    return out
