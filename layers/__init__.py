"""The layer catalog: what every layer of the registry is.

Each layer is declared once, in a YAML file beside this module (``rivers.yaml``,
``violations.yaml``, ...). The store, validators, API, map, exports and prints read
these declarations instead of repeating field lists, so adding a layer means adding
one YAML file and nothing else.

>>> from layers import load_catalog
>>> catalog = load_catalog()
>>> catalog["violations"].title_zh
'清四乱问题'
"""

from __future__ import annotations

from layers.loader import CATALOG_DIR, load_catalog
from layers.model import (
    DECLARABLE_GEOMETRIES,
    DEFAULT_MAX_LENGTH,
    FIELD_TYPES,
    GEOMETRY_TYPES,
    Catalog,
    CatalogError,
    DerivedField,
    Field,
    Layer,
    Lifecycle,
    ProblemRule,
    Step,
    Style,
    parse_derived,
)

__all__ = [
    "CATALOG_DIR",
    "DEFAULT_MAX_LENGTH",
    "Catalog",
    "CatalogError",
    "DerivedField",
    "Field",
    "Layer",
    "Lifecycle",
    "ProblemRule",
    "Step",
    "Style",
    "parse_derived",
    "load_catalog",
    "FIELD_TYPES",
    "GEOMETRY_TYPES",
    "DECLARABLE_GEOMETRIES",
]
