"""The layer catalog is complete and consistent: everything else reads it."""

import re

import pytest

from layers import FIELD_TYPES, GEOMETRY_TYPES, CatalogError, load_catalog

CATALOG = load_catalog()

# DESIGN.md's layer table: ids are the contract, key fields a minimum.
KEY_FIELDS = {
    "towns": ["name", "code"],
    "rivers": ["code", "name", "grade", "chief", "five_good", "happy", "scope_m"],
    "lakes": ["code", "name", "chief"],
    "micro_water_bodies": ["code", "name", "kind", "town", "village", "status", "custodian", "demo_village"],
    "violations": ["code", "category", "status", "river", "town", "found_on", "source", "deadline", "unit", "closed_on"],
    "sewage_plants": ["name", "capacity_m3d", "status", "town"],
    "cross_boundary_reaches": ["code", "river", "neighbor", "mechanism", "mechanism_on"],
    "sections": ["code", "name", "level", "target_class", "latest_class", "counted"],
    "signboards": ["code", "river", "chief", "phone", "compliant"],
    "black_odorous": ["code", "name", "status"],
    "projects": ["name", "kind", "status"],
    "project_areas": ["name", "kind", "status"],
    "black_odorous_areas": ["code", "name", "status"],
}
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def test_every_design_layer_is_in_the_catalog_with_its_key_fields():
    for layer_id, fields in KEY_FIELDS.items():
        layer = CATALOG[layer_id]
        missing = [f for f in fields if not layer.has_field(f)]
        assert not missing, f"{layer_id} lacks {missing}"


@pytest.mark.parametrize("layer", list(CATALOG), ids=lambda x: x.id)
def test_layer_has_both_titles_valid_style_and_consistent_fields(layer):
    assert layer.title_zh and re.search(r"[\u4e00-\u9fff]", layer.title_zh)
    assert layer.title_en and layer.title_en.isascii()
    assert layer.geometry in GEOMETRY_TYPES
    assert HEX.match(layer.style.color)
    for colour in layer.style.values.values():
        assert HEX.match(colour)
    if layer.style.by:
        assert layer.has_field(layer.style.by) or layer.style.by in layer.derived
    names = layer.field_names
    assert len(names) == len(set(names)), "duplicate field names"
    assert layer.has_field(layer.id_field) and layer.field(layer.id_field).unique
    assert layer.has_field(layer.label_field)
    for name in layer.popup + layer.search + layer.temporal:
        assert layer.has_field(name), f"{layer.id}: {name} is not a field"
    for f in layer.fields:
        assert f.type in FIELD_TYPES
        assert f.title_zh and f.title_en
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.name)
        if f.type == "date":
            assert f.name in layer.temporal, f"{layer.id}.{f.name} is a date but not temporal"


def test_problem_rules_name_an_enum_field_and_its_values():
    assert {x.id for x in CATALOG.problem_layers} == {"violations", "micro_water_bodies", "black_odorous", "black_odorous_areas"}
    for layer in CATALOG.problem_layers:
        field = layer.field(layer.problem.field)
        assert field.enum
        for v in (layer.problem.values or ()) + (layer.problem.not_in or ()):
            assert v in field.enum


def test_problem_rules_follow_design():
    v = CATALOG["violations"].problem
    assert v.matches("整改中") and v.matches("反弹") and not v.matches("已销号")
    m = CATALOG["micro_water_bodies"].problem
    assert m.matches("问题") and m.matches("整治中") and not m.matches("已整治") and not m.matches("正常")
    b = CATALOG["black_odorous"].problem
    assert b.matches("黑臭") and not b.matches("已整治")


def test_enums_of_the_work_plan():
    assert CATALOG["violations"].field("category").enum == ("乱占", "乱采", "乱堆", "乱建")
    assert set(CATALOG["violations"].field("status").enum) == {"待交办", "已交办", "整改中", "已销号", "反弹"}
    assert set(CATALOG["micro_water_bodies"].field("kind").enum) == {"塘", "沟", "渠", "坑"}


def test_unknown_layer_error_lists_known_layers():
    with pytest.raises(CatalogError, match="known layers: .*violations"):
        CATALOG["violation"]


def test_resolve_accepts_comma_lists():
    assert [x.id for x in CATALOG.resolve("rivers, lakes")] == ["rivers", "lakes"]
