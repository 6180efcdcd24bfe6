"""The store is the only door: no database details outside geo/stores/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = re.compile(
    r"import sqlite3|sqlite3\.|\.conn\b|\bgpkg_(?:contents|ogr_contents|geometry_columns|extensions|spatial_ref_sys)\b"
    r"|\bhehu_(?:history|users|meta)\b|isinstance\([^)]*GeoPackageStore|getattr\([^)]*store"
)


def test_no_module_outside_the_stores_touches_the_database():
    offenders = []
    for folder in ("geo", "server", "cli", "layers"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "geo" / "stores"):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if FORBIDDEN.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
