"""The targets page for officials: honest bars and totals, an as-of picker, readable
charts, and links that open the map where the numbers are."""

from __future__ import annotations

import re
from datetime import date

import pytest

AS_OF = "2021-11-30"


# Every request here only reads: one app on the demo for the whole module.
@pytest.fixture(scope="module")
def client(demo_app):
    return demo_app.test_client()


def test_at_most_targets_show_progress_towards_the_target_not_the_count(client):
    results = {r["id"]: r for r in client.get(f"/targets?f=json&as_of={AS_OF}").get_json()}
    relapsed = results["violations_relapsed"]
    assert relapsed["value"] > 0 and relapsed["target"] == 0
    # 14 relapsed against "at most 0" is far from done: a short bar, not a nearly full one.
    assert relapsed["progress"] == round(1 / (relapsed["value"] + 1), 4)
    overdue = results["violations_overdue"]
    assert overdue["value"] > 0 and overdue["progress"] == round(1 / (overdue["value"] + 1), 4)


def test_the_towns_table_adds_no_total_that_counts_a_violation_twice(client):
    html = client.get(f"/targets?as_of={AS_OF}").get_data(as_text=True)
    table = html[html.index('<table class="towns">'):html.index("</table>")]
    assert "合计" not in table and 'class="total"' not in table
    assert "不相加" in html


def test_the_page_has_an_as_of_picker_and_a_past_plan_is_judged_at_its_year_end(client):
    html = client.get("/targets").get_data(as_text=True)
    assert re.search(r'<input type="date" name="as_of" value="2021-12-31">', html)
    default = client.get("/targets?f=json").get_json()
    year_end = client.get("/targets?f=json&as_of=2021-12-31").get_json()
    assert default == year_end
    assert date.today().year > 2021  # the point of the default: not judged on today's date


def test_charts_are_readable(client):
    html = client.get(f"/targets?as_of={AS_OF}").get_data(as_text=True)
    # The page's styles are a static file (the CSP allows no inline <style>).
    sheet = re.search(r'href="(/static/site/targets\.css[^"]*)"', html).group(1)
    css = client.get(sheet).get_data(as_text=True)
    size = int(re.search(r"svg\.chart text \{ font-size: (\d+)px", css).group(1))
    assert size >= 12


def test_town_numbers_open_the_map_on_that_layer_in_that_town(client):
    html = client.get(f"/targets?as_of={AS_OF}").get_data(as_text=True)
    links = re.findall(r'href="(/map\?[^"]+)"', html)
    town_links = [h for h in links if "town" in h]
    assert town_links and all("layer=" in h for h in town_links)
