"""GB 3838-2002 single-factor classification, checked against a table written by hand
from the printed standard (Table 1), not against the limits file the code reads."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.quality.classify import classes_of_means, classify_values, main_pollutants, period_means

# (parameter, lake?, value, expected class). For every limit: exactly at it, just
# above, just below. 6 = 劣Ⅴ.
HAND_TABLE = [
    # 溶解氧 DO ≥ 7.5 / 6 / 5 / 3 / 2 (the higher, the better)
    ("DO", False, 7.5, 1), ("DO", False, 7.51, 1), ("DO", False, 7.49, 2),
    ("DO", False, 6, 2), ("DO", False, 6.01, 2), ("DO", False, 5.99, 3),
    ("DO", False, 5, 3), ("DO", False, 5.01, 3), ("DO", False, 4.99, 4),
    ("DO", False, 3, 4), ("DO", False, 3.01, 4), ("DO", False, 2.99, 5),
    ("DO", False, 2, 5), ("DO", False, 2.01, 5), ("DO", False, 1.99, 6),
    ("DO", False, 12.0, 1), ("DO", False, 0.0, 6),
    # 高锰酸盐指数 CODMn ≤ 2 / 4 / 6 / 10 / 15
    ("CODMn", False, 2, 1), ("CODMn", False, 2.01, 2), ("CODMn", False, 1.99, 1),
    ("CODMn", False, 4, 2), ("CODMn", False, 4.01, 3), ("CODMn", False, 3.99, 2),
    ("CODMn", False, 6, 3), ("CODMn", False, 6.01, 4), ("CODMn", False, 5.99, 3),
    ("CODMn", False, 10, 4), ("CODMn", False, 10.01, 5), ("CODMn", False, 9.99, 4),
    ("CODMn", False, 15, 5), ("CODMn", False, 15.01, 6), ("CODMn", False, 14.99, 5),
    # 化学需氧量 COD ≤ 15 / 15 / 20 / 30 / 40 (Ⅰ and Ⅱ share 15: the better class)
    ("COD", False, 15, 1), ("COD", False, 15.1, 3), ("COD", False, 14.9, 1),
    ("COD", False, 20, 3), ("COD", False, 20.1, 4), ("COD", False, 19.9, 3),
    ("COD", False, 30, 4), ("COD", False, 30.1, 5), ("COD", False, 29.9, 4),
    ("COD", False, 40, 5), ("COD", False, 40.1, 6), ("COD", False, 39.9, 5),
    # 五日生化需氧量 BOD5 ≤ 3 / 3 / 4 / 6 / 10
    ("BOD5", False, 3, 1), ("BOD5", False, 3.01, 3), ("BOD5", False, 2.99, 1),
    ("BOD5", False, 4, 3), ("BOD5", False, 4.01, 4), ("BOD5", False, 3.99, 3),
    ("BOD5", False, 6, 4), ("BOD5", False, 6.01, 5), ("BOD5", False, 5.99, 4),
    ("BOD5", False, 10, 5), ("BOD5", False, 10.01, 6), ("BOD5", False, 9.99, 5),
    # 氨氮 NH3-N ≤ 0.15 / 0.5 / 1.0 / 1.5 / 2.0
    ("NH3-N", False, 0.15, 1), ("NH3-N", False, 0.151, 2), ("NH3-N", False, 0.149, 1),
    ("NH3-N", False, 0.5, 2), ("NH3-N", False, 0.501, 3), ("NH3-N", False, 0.499, 2),
    ("NH3-N", False, 1.0, 3), ("NH3-N", False, 1.001, 4), ("NH3-N", False, 0.999, 3),
    ("NH3-N", False, 1.5, 4), ("NH3-N", False, 1.501, 5), ("NH3-N", False, 1.499, 4),
    ("NH3-N", False, 2.0, 5), ("NH3-N", False, 2.001, 6), ("NH3-N", False, 1.999, 5),
    # 总磷 TP, rivers ≤ 0.02 / 0.1 / 0.2 / 0.3 / 0.4
    ("TP", False, 0.02, 1), ("TP", False, 0.021, 2), ("TP", False, 0.019, 1),
    ("TP", False, 0.1, 2), ("TP", False, 0.101, 3), ("TP", False, 0.099, 2),
    ("TP", False, 0.2, 3), ("TP", False, 0.201, 4), ("TP", False, 0.199, 3),
    ("TP", False, 0.3, 4), ("TP", False, 0.301, 5), ("TP", False, 0.299, 4),
    ("TP", False, 0.4, 5), ("TP", False, 0.401, 6), ("TP", False, 0.399, 5),
    # 总磷 TP, lakes and reservoirs ≤ 0.01 / 0.025 / 0.05 / 0.1 / 0.2
    ("TP", True, 0.01, 1), ("TP", True, 0.011, 2), ("TP", True, 0.009, 1),
    ("TP", True, 0.025, 2), ("TP", True, 0.026, 3), ("TP", True, 0.024, 2),
    ("TP", True, 0.05, 3), ("TP", True, 0.051, 4), ("TP", True, 0.049, 3),
    ("TP", True, 0.1, 4), ("TP", True, 0.101, 5), ("TP", True, 0.099, 4),
    ("TP", True, 0.2, 5), ("TP", True, 0.201, 6), ("TP", True, 0.199, 5),
    # 总氮 TN (lakes and reservoirs) ≤ 0.2 / 0.5 / 1.0 / 1.5 / 2.0
    ("TN", True, 0.2, 1), ("TN", True, 0.201, 2), ("TN", True, 0.199, 1),
    ("TN", True, 0.5, 2), ("TN", True, 0.501, 3), ("TN", True, 0.499, 2),
    ("TN", True, 1.0, 3), ("TN", True, 1.001, 4), ("TN", True, 0.999, 3),
    ("TN", True, 1.5, 4), ("TN", True, 1.501, 5), ("TN", True, 1.499, 4),
    ("TN", True, 2.0, 5), ("TN", True, 2.001, 6), ("TN", True, 1.999, 5),
    # pH 6–9 whatever the class; outside it 劣Ⅴ
    ("pH", False, 6, 1), ("pH", False, 5.99, 6), ("pH", False, 6.01, 1),
    ("pH", False, 9, 1), ("pH", False, 9.01, 6), ("pH", False, 8.99, 1),
    ("pH", False, 7.4, 1), ("pH", False, 0, 6), ("pH", False, 14, 6),
]


@pytest.mark.parametrize(("parameter", "lake", "value", "expected"), HAND_TABLE)
def test_each_value_gets_the_class_of_the_hand_written_table(parameter, lake, value, expected):
    assert classify_values(parameter, np.array([value]), lake)[0] == expected


def test_the_whole_table_classified_at_once_as_mixed_parameters_matches_too():
    params = np.array([r[0] for r in HAND_TABLE], dtype=object)
    lakes = np.array([r[1] for r in HAND_TABLE])
    values = np.array([r[2] for r in HAND_TABLE])
    expected = np.array([r[3] for r in HAND_TABLE])
    assert classify_values(params, values, lakes).tolist() == expected.tolist()


def test_the_same_phosphorus_is_class_iii_in_a_river_and_class_v_in_a_lake():
    out = classify_values("TP", np.array([0.15, 0.15]), np.array([False, True]))
    assert out.tolist() == [3, 5]


def test_missing_values_have_no_class():
    assert classify_values("TP", np.array([np.nan, 0.1])).tolist() == [0, 2]


def _obs(rows):
    return pd.DataFrame(rows, columns=["section", "month", "parameter", "value"])


def test_a_months_class_comes_from_the_mean_not_from_the_worst_sample():
    # TP 0.1, 0.2, 0.3: the worst sample is Ⅳ, the mean 0.2 is exactly Ⅲ (once the
    # float sum 0.6000000000000001 / 3 is rounded to TP's reporting precision).
    obs = _obs([("A", "2021-05", "TP", v) for v in (0.1, 0.2, 0.3)]
               + [("A", "2021-05", "NH3-N", v) for v in (0.9, 1.4)])
    means = period_means(obs, ["section", "month"])
    assert means.loc[("A", "2021-05"), "TP"] == 0.2
    assert means.loc[("A", "2021-05"), "NH3-N"] == 1.15
    classes = classes_of_means(means, [False])
    assert classes.loc[("A", "2021-05"), "TP"] == 3
    assert classes.loc[("A", "2021-05"), "NH3-N"] == 4
    assert classes.loc[("A", "2021-05"), "class"] == 4


def test_total_nitrogen_never_sets_the_class_and_is_reported_apart_for_a_lake():
    obs = _obs([("L", "2021-07", "TP", 0.04), ("L", "2021-07", "TN", 2.5), ("L", "2021-07", "DO", 8.0),
                ("R", "2021-07", "TP", 0.04), ("R", "2021-07", "TN", 2.5), ("R", "2021-07", "DO", 8.0)])
    means = period_means(obs, ["section", "month"])
    classes = classes_of_means(means, [True, False])
    assert classes.loc[("L", "2021-07"), "class"] == 3   # lake TP 0.04 ≤ 0.05
    assert classes.loc[("L", "2021-07"), "tn_class"] == 6
    assert classes.loc[("R", "2021-07"), "class"] == 2   # river TP 0.04 ≤ 0.1
    assert classes.loc[("R", "2021-07"), "tn_class"] == 0


def test_main_pollutants_are_those_worse_than_iii_by_exceedance_at_most_three():
    means = pd.Series({"TP": 0.3, "NH3-N": 2.5, "CODMn": 7.0, "DO": 2.5, "COD": 19.0, "TN": 9.0})
    # exceedance over Ⅲ: NH3-N 1.5, DO (5-2.5)/5 = 0.5, TP 0.5, CODMn 1/6 = 0.17; COD is Ⅲ; TN not assessed
    got = main_pollutants(means, lake=False)
    assert [c for c, _ in got][:1] == ["NH3-N"]
    assert len(got) == 3 and {c for c, _ in got[1:]} == {"DO", "TP"}
    assert dict(got)["NH3-N"] == 1.5
    assert main_pollutants(pd.Series({"TP": 0.2, "DO": 5.0}), lake=False) == []


# -- every value, not only the limits -------------------------------------------------------

# Table 1 typed again (≤ limits, DO ≥), to check any value against a plain reading of it.
TABLE_1 = {
    ("DO", False): (7.5, 6, 5, 3, 2), ("CODMn", False): (2, 4, 6, 10, 15), ("COD", False): (15, 15, 20, 30, 40),
    ("BOD5", False): (3, 3, 4, 6, 10), ("NH3-N", False): (0.15, 0.5, 1.0, 1.5, 2.0),
    ("TP", False): (0.02, 0.1, 0.2, 0.3, 0.4), ("TP", True): (0.01, 0.025, 0.05, 0.1, 0.2),
    ("TN", False): (0.2, 0.5, 1.0, 1.5, 2.0),
}


def plain_reading(parameter: str, lake: bool, value: float) -> int:
    if parameter == "pH":
        return 1 if 6 <= value <= 9 else 6
    limits = TABLE_1.get((parameter, lake)) or TABLE_1[(parameter, False)]
    for k, limit in enumerate(limits, start=1):
        if (value >= limit) if parameter == "DO" else (value <= limit):
            return k
    return 6


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["pH", "DO", "CODMn", "COD", "BOD5", "NH3-N", "TP", "TN"]), st.booleans(),
                          st.floats(min_value=0, max_value=60, allow_nan=False)), min_size=1, max_size=50))
def test_any_values_classified_at_once_match_a_plain_reading_of_table_1(rows):
    params = np.array([r[0] for r in rows], dtype=object)
    lakes = np.array([r[1] for r in rows])
    values = np.array([r[2] for r in rows])
    assert classify_values(params, values, lakes).tolist() == [plain_reading(*r) for r in rows]
