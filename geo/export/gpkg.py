"""The GeoPackage writer: one table per layer, through pyogrio and Arrow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.export.columns import Column, _as_dates, _file_crs, _geometry_type_name
from geo.features import json_value as _plain


def _arrow_table(data: pd.DataFrame, geoms: np.ndarray, cols: list[Column], names: dict[str, str] | None = None):
    """A pyarrow table with catalog types (dates as dates) and WKB geometry."""
    import pyarrow as pa

    arrays, fields = [], []
    for c in cols:
        values = data[c.name]
        if c.type == "date":
            arr = pa.array(_as_dates(values), type=pa.date32())
        elif c.type == "datetime":
            # GeoPackage DATETIME (UTC), as GDAL writes it.
            stamps = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
            arr = pa.array(stamps, type=pa.timestamp("ms", tz="UTC"), from_pandas=True)
        elif c.type == "bool":
            arr = pa.array([None if v is None else bool(v) for v in map(_plain, values.tolist())], type=pa.bool_())
        elif c.type == "int":
            arr = pa.array([_plain(v) for v in values.tolist()], type=pa.int64())
        elif c.type == "float":
            arr = pa.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), type=pa.float64(), from_pandas=True)
        else:
            arr = pa.array([None if _plain(v) is None else str(v) for v in values.tolist()], type=pa.string())
        arrays.append(arr)
        fields.append(pa.field((names or {}).get(c.name, c.name), arr.type))
    arrays.append(pa.array(shapely.to_wkb(geoms) if len(geoms) else [], type=pa.binary()))
    fields.append(pa.field("geometry", pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _write_gpkg(items, path: Path, crs: str) -> None:
    """One GeoPackage table per layer, named by layer id, with real DATE columns."""
    import pyogrio

    for layer, data, geoms, cols in items:
        table = _arrow_table(data, geoms, cols)
        pyogrio.write_arrow(
            table,
            path,
            layer=layer.id,
            driver="GPKG",
            geometry_name="geometry",
            geometry_type=_geometry_type_name(layer),
            crs=_file_crs(crs),
            append=False,
            layer_options={"IDENTIFIER": layer.title_zh, "DESCRIPTION": layer.title_en},
        )
