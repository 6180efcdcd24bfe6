"""The catalog loader refuses a broken definition at load time, naming file and key."""

import copy

import pytest
import yaml

from geo import lifecycle
from layers import CatalogError, load_catalog

# A small but complete layer: an enum, a style by it, a problem rule, a lifecycle and a
# derived field, so each rejection below breaks exactly one thing of a valid file.
GOOD = {
    "id": "cases",
    "title_zh": "案件",
    "title_en": "Cases",
    "geometry": "Point",
    "id_field": "code",
    "label_field": "code",
    "fields": [
        {"name": "code", "type": "str", "title_zh": "编号", "title_en": "Code", "required": True},
        {"name": "status", "type": "str", "title_zh": "状态", "title_en": "Status",
         "enum": {"开": "open", "关": "closed"}},
        {"name": "closed_on", "type": "date", "title_zh": "关闭日期", "title_en": "Closed on"},
        {"name": "score", "type": "int", "title_zh": "得分", "title_en": "Score"},
    ],
    "popup": ["code", "status"],
    "problem": {"field": "status", "values": ["开"]},
    "derived": {"good": {"expression": "score >= 60", "title_zh": "及格", "title_en": "Passed",
                         "labels": {"True": {"zh": "及格", "en": "passed"}}}},
    "lifecycle": {"field": "status", "steps": {
        "开": [{"to": "关", "requires": ["closed_on"], "label_zh": "关闭", "label_en": "close"}],
        "关": [{"to": "开", "label_zh": "重开", "label_en": "reopen"}],
    }},
    "style": {"color": "#123456", "by": "status", "values": {"开": "#ff0000", "关": "#00ff00"}},
}


def _load(tmp_path, definition, name="cases.yaml"):
    folder = tmp_path / "catalog"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalog(str(folder))


def _broken(change):
    d = copy.deepcopy(GOOD)
    change(d)
    return d


def test_the_fixture_layer_loads_with_its_lifecycle_and_derived_field(tmp_path):
    layer = _load(tmp_path, GOOD)["cases"]
    assert layer.lifecycle.statuses == ["开", "关"]
    assert layer.lifecycle.allowed("开")[0].requires == ("closed_on",)
    assert layer.derived_field("good").label("True", "en") == "passed"
    assert layer.field_title("good", "zh") == "及格"


def test_the_shipped_lifecycles_come_from_the_catalog():
    catalog = load_catalog()
    assert lifecycle.LIFECYCLES == {
        layer.id: layer.lifecycle for layer in catalog if layer.lifecycle is not None
    }
    assert set(lifecycle.LIFECYCLES) == {"violations", "micro_water_bodies"}
    assert catalog["violations"].edit_role == "field"


REJECTIONS = {
    "unknown layer key": (lambda d: d.update(popups=["code"]), r"cases\.yaml: \(top level\): unknown key 'popups'.*did you mean 'popup'"),
    "unknown field key": (lambda d: d["fields"][0].update(requried=True), r"cases\.yaml: fields\[0\]: unknown key 'requried'"),
    "unknown style key": (lambda d: d["style"].update(colour="#000000"), r"cases\.yaml: style: unknown key 'colour'"),
    "unknown problem key": (lambda d: d["problem"].update(when="开"), r"cases\.yaml: problem: unknown key 'when'"),
    "unknown lifecycle key": (lambda d: d["lifecycle"].update(start="开"), r"cases\.yaml: lifecycle: unknown key 'start'"),
    "unknown step key": (lambda d: d["lifecycle"]["steps"]["开"][0].update(needs=["x"]),
                         r"cases\.yaml: lifecycle\.steps\.开\[0\]: unknown key 'needs'"),
    "unknown derived key": (lambda d: d["derived"]["good"].update(expr="x"), r"cases\.yaml: derived\.good: unknown key 'expr'"),
    "style value outside the enum": (lambda d: d["style"]["values"].update({"半开": "#0000ff"}),
                                     r"cases\.yaml: style\.values: value '半开' is not one of field 'status'"),
    "style by no field": (lambda d: d["style"].update(by="state"), r"cases\.yaml: style\.by: no field 'state'.*did you mean 'status'"),
    "problem value outside the enum": (lambda d: d["problem"].update(values=["打开"]), r"cases\.yaml: problem: value '打开'"),
    "problem on no field": (lambda d: d["problem"].update(field="stat"), r"cases\.yaml: problem\.field: no field 'stat'"),
    "problem with both rules": (lambda d: d["problem"].update(not_in=["关"]), r"cases\.yaml: problem: give exactly one"),
    "lifecycle status outside the enum": (lambda d: d["lifecycle"]["steps"].update({"挂起": []}),
                                          r"cases\.yaml: lifecycle\.steps\.挂起: value '挂起'"),
    "lifecycle target outside the enum": (lambda d: d["lifecycle"]["steps"]["开"][0].update(to="结案"),
                                          r"cases\.yaml: lifecycle\.steps\.开\[0\]\.to: value '结案'"),
    "lifecycle requires no field": (lambda d: d["lifecycle"]["steps"]["开"][0].update(requires=["closed"]),
                                    r"cases\.yaml: lifecycle\.steps\.开\[0\]: no field 'closed'"),
    "lifecycle fills in an unknown way": (lambda d: d["lifecycle"]["steps"]["开"][0].update(sets={"closed_on": "now"}),
                                          r"cases\.yaml: lifecycle\.steps\.开\[0\]\.sets\.closed_on: unknown fill 'now'"),
    "lifecycle on a field without enum": (lambda d: d["lifecycle"].update(field="code"),
                                          r"cases\.yaml: lifecycle\.field: field 'code' has no enum"),
    "derived on no field": (lambda d: d["derived"]["good"].update(expression="points >= 60"),
                            r"cases\.yaml: derived\.good: no field 'points'"),
    "derived outside the grammar": (lambda d: d["derived"]["good"].update(expression="score + 1"),
                                    r"cases\.yaml: derived\.good: derived field 'good': cannot evaluate"),
    "popup names no field": (lambda d: d["popup"].append("town"), r"cases\.yaml: popup: no field 'town'"),
    "label field names no field": (lambda d: d.update(label_field="name"), r"cases\.yaml: label_field: no field 'name'"),
    "field declared twice": (lambda d: d["fields"].append(dict(d["fields"][0])), r"cases\.yaml: fields\[4\]: field 'code' is declared twice"),
    "empty enum": (lambda d: d["fields"][1].update(enum=[]), r"cases\.yaml: fields\[1\]\.enum: an enum lists at least one value"),
    "unknown edit role": (lambda d: d.update(edit_role="patrol"), r"cases\.yaml: edit_role: unknown role 'patrol'"),
    "missing key": (lambda d: d.pop("id_field"), r"cases\.yaml: id_field: missing"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_a_broken_definition_is_refused_naming_file_and_key(tmp_path, case):
    change, message = REJECTIONS[case]
    with pytest.raises(CatalogError, match=message):
        _load(tmp_path, _broken(change))


def test_two_files_defining_one_layer_are_refused(tmp_path):
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "cases.yaml").write_text(yaml.safe_dump(GOOD, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"cases_copy\.yaml: id: layer 'cases' is already defined in cases\.yaml"):
        _load(tmp_path, GOOD, "cases_copy.yaml")


def test_a_file_that_is_not_yaml_is_refused_by_name(tmp_path):
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "bad.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"bad\.yaml: not valid YAML"):
        load_catalog(str(folder))
