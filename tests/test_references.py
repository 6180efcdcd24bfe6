"""Town and river of a feature are registered names, on every write path; violation
codes are generated (QSL-YYYY-NNNN) and stay unique when two people save at once."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from geo.errors import ValidationError
from geo.references import add_with_code, next_code
from geo.registry import Registry
from geo.users import add_user

POINT = {"type": "Point", "coordinates": [119.57, 31.74]}


def violation(**props) -> dict:
    base = {"category": "乱堆", "status": "待交办", "found_on": "2021-05-01", "town": "金城镇", "river": "丹金溧漕河"}
    base.update(props)
    return {"type": "Feature", "properties": base, "geometry": POINT}


@pytest.fixture
def token(app):
    return add_user(app.extensions["hehu_registry"], "u-field", "field", iterations=1000)


def test_an_unknown_town_or_river_is_refused_with_suggestions(registry):
    with pytest.raises(ValidationError) as info:
        registry.add("violations", violation(code="R-1", town="儒林")["properties"], POINT)
    assert info.value.field == "town" and "儒林镇" in info.value.details["suggestions"]
    assert "不是登记的镇(街道)" in info.value.render("zh") and "儒林镇" in info.value.render("zh")
    with pytest.raises(ValidationError) as info:
        registry.add("violations", violation(code="R-1", river="丹金漕河")["properties"], POINT)
    assert info.value.field == "river" and "丹金溧漕河" in info.value.details["suggestions"]
    assert "R-1" not in set(registry.read("violations")["code"])


def test_updates_are_checked_too(registry):
    fid = int(registry.read("violations").index[0])
    with pytest.raises(ValidationError, match="registered town"):
        registry.update("violations", fid, {"town": "儒林"})
    registry.update("violations", fid, {"town": "儒林镇", "river": "长荡湖"})  # a lake is a water too


def test_the_api_answers_400_with_suggestions_and_writes_nothing(client, token, app):
    before = app.extensions["hehu_registry"].count("violations")
    r = client.post("/collections/violations/items", json=violation(town="儒林", river="丹金漕河"),
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400
    body = r.get_json()
    assert body["field"] == "town" and "儒林镇" in body["suggestions"]
    assert "儒林镇" in body["description"] and "不是登记的镇(街道)" in body["description"]
    assert app.extensions["hehu_registry"].count("violations") == before


def test_a_violation_without_a_code_gets_the_next_of_the_year(client, token, app):
    r = client.post("/collections/violations/items", json=violation(), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["properties"]["code"]
    year = date.today().year
    assert code.startswith(f"QSL-{year}-") and len(code) == len(f"QSL-{year}-0001")
    assert next_code(app.extensions["hehu_registry"], "violations") == f"QSL-{year}-{int(code[-4:]) + 1:04d}"


def test_generated_codes_are_unique_when_saved_at_once(demo_copy):
    """Eight writers on their own connections, all computing "the next code" at once."""
    codes, errors = [], []
    barrier = threading.Barrier(8)

    def writer(i):
        reg = Registry.open(demo_copy)
        try:
            barrier.wait()
            for _ in range(3):
                fid = add_with_code(reg, "violations", violation()["properties"], POINT, user=f"w{i}")
                codes.append(reg.get("violations", fid)["properties"]["code"])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            reg.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(codes) == 24 == len(set(codes))
