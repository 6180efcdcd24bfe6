"""The GeoJSON writer (RFC 7946: lon/lat, one FeatureCollection for every layer).
"""

from __future__ import annotations

from pathlib import Path

import shapely


def _write_geojson(items, path: Path, crs: str) -> None:
    """One RFC 7946 FeatureCollection; a ``layer`` property when several layers share it."""
    multi = len(items) > 1
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('{"type":"FeatureCollection","features":[')
        first = True
        for layer, data, geoms, _cols in items:
            if not len(data):
                continue
            # RFC 7946 section 3.1.6: exterior rings counterclockwise, holes clockwise.
            geoms = shapely.orient_polygons(geoms, exterior_cw=False)
            gjson = shapely.to_geojson(geoms)
            props = data.copy()
            for c in props.columns:
                if props[c].dtype == "boolean":
                    props[c] = props[c].astype(object).where(props[c].notna(), None)
            if multi:
                props.insert(0, "layer", layer.id)
            lines = props.to_json(orient="records", lines=True, force_ascii=False, double_precision=15)
            ids = [f'"{layer.id}.{int(i)}"' for i in data.index]
            body = ",\n".join(
                f'{{"type":"Feature","id":{i},"properties":{p},"geometry":{g}}}'
                for i, p, g in zip(ids, lines.splitlines(), gjson, strict=True)
            )
            fh.write(("\n" if first else ",\n") + body)
            first = False
        fh.write("\n]}\n")
