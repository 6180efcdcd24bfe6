"""Single-factor classification by GB 3838-2002, vectorised over numpy arrays.

The rules (limits in ``gb3838_2002.yaml``):

- a value **exactly at a limit belongs to the better class** (Ⅲ's limit of 0.2 mg/L TP
  is Ⅲ, 0.2001 is Ⅳ); where two classes share a limit (COD Ⅰ and Ⅱ are both 15) the value
  takes the better one;
- dissolved oxygen is the other way round: the class is the best whose limit the value
  reaches (≥);
- pH 6–9 (inclusive) sets no limit on the class (Ⅰ); outside it the sample is 劣Ⅴ;
- worse than the Ⅴ limit is class 6, 劣Ⅴ;
- a lake or reservoir section uses Table 1's lake column for total phosphorus;
- the class of a sample or of a period's means is the worst over the *assessed*
  parameters: total nitrogen is classified but reported on its own (lakes);
- a month's class comes from the month's mean of each parameter, the year's (or the
  year-to-date) from the year's means, each mean rounded to the parameter's reporting
  precision first.

Classes are small integers 1–6 (6 = 劣Ⅴ); 0 means "no class" (no value).

>>> import numpy as np
>>> classify_values("TP", np.array([0.2, 0.2001, 0.05]), lake=np.array([False, False, True])).tolist()
[3, 4, 3]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.quality.limits import WORSE_THAN_V, Standard, standard

NO_CLASS = 0
#: Beijing time, in which months are counted (a sample at 00:30 on 1 March, Beijing
#: time, is a March sample though it is 28 February in UTC).
LOCAL_OFFSET = pd.Timedelta(hours=8)


def _one(values: np.ndarray, limits: tuple[float, ...], sense: str) -> np.ndarray:
    lim = np.asarray(limits, dtype=float)
    if sense == "min":
        # value ≥ limit: negate both to reuse the ascending search.
        idx = np.searchsorted(-lim, -values, side="left")
    else:
        # side="left": the first class whose limit is ≥ value, so a value equal to a
        # limit (or to two equal limits) gets the better class.
        idx = np.searchsorted(lim, values, side="left")
    return (idx + 1).astype(np.int8)


def classify_values(
    parameter: str | np.ndarray | pd.Series,
    values: np.ndarray | pd.Series,
    lake: bool | np.ndarray | pd.Series = False,
    std: Standard | None = None,
) -> np.ndarray:
    """Class (1–6, 0 for a missing value) of each value of one or of many parameters.

    ``parameter`` is one code for all values or an array of codes (one per value);
    ``lake`` likewise a flag or an array of flags (lake TP column).
    """
    std = std or standard()
    vals = np.asarray(values, dtype=float)
    out = np.zeros(vals.shape, dtype=np.int8)
    lake_arr = np.broadcast_to(np.asarray(lake, dtype=bool), vals.shape)
    if isinstance(parameter, str):
        groups = {parameter: np.ones(vals.shape, dtype=bool)}
    else:
        codes = pd.Categorical(np.asarray(parameter, dtype=object))
        groups = {str(c): np.asarray(codes.codes == i) for i, c in enumerate(codes.categories)}
    for code, mask in groups.items():
        p = std.parameter(code)
        present = mask & ~np.isnan(vals)
        if p.range is not None:
            v = vals[present]
            out[present] = np.where((v >= p.range[0]) & (v <= p.range[1]), 1, WORSE_THAN_V)
            continue
        for is_lake in (False, True):
            sel = present & (lake_arr == is_lake)
            if sel.any():
                out[sel] = _one(vals[sel], p.limits_for(is_lake), p.sense)
    return out


def exceedance(parameter: str, values: np.ndarray, lake: bool | np.ndarray = False, std: Standard | None = None) -> np.ndarray:
    """How far each value lies beyond the Ⅲ limit, as a multiple of it (超标倍数);
    ≤ 0 when within Ⅲ. pH: distance outside 6–9 relative to the bound crossed."""
    std = std or standard()
    p = std.parameter(parameter)
    v = np.asarray(values, dtype=float)
    if p.range is not None:
        lo, hi = p.range
        return np.where(v < lo, (lo - v) / lo, np.where(v > hi, (v - hi) / hi, 0.0))
    lake_arr = np.broadcast_to(np.asarray(lake, dtype=bool), v.shape)
    lim = np.where(lake_arr, p.class3_limit(True), p.class3_limit(False))
    if p.sense == "min":
        return (lim - v) / lim
    return (v - lim) / lim


def local_month(sampled_at: pd.Series) -> pd.Series:
    """``YYYY-MM`` in Beijing time of ISO 8601 UTC instants."""
    t = pd.to_datetime(sampled_at, utc=True, format="ISO8601") + LOCAL_OFFSET
    return t.dt.strftime("%Y-%m")


def period_means(obs: pd.DataFrame, by: list[str], std: Standard | None = None) -> pd.DataFrame:
    """Mean of each parameter per group, rounded to its reporting precision.

    ``obs`` has columns ``parameter`` and ``value`` plus the ``by`` columns; the result
    is indexed by ``by`` with one column per parameter present.
    """
    std = std or standard()
    means = obs.groupby([*by, "parameter"], sort=True, observed=True)["value"].mean().unstack("parameter")
    for code in means.columns:
        means[code] = means[code].round(std.parameter(str(code)).decimals)  # numpy: half to even
    return means


def classes_of_means(means: pd.DataFrame, lake: np.ndarray | pd.Series, std: Standard | None = None) -> pd.DataFrame:
    """The class of every mean (same shape as ``means``), plus ``class`` (worst over the
    assessed parameters, 0 when none) and ``tn_class`` (total nitrogen on its own)."""
    std = std or standard()
    lake = np.asarray(lake, dtype=bool)
    out = pd.DataFrame(index=means.index)
    assessed = []
    for code in means.columns:
        out[code] = classify_values(str(code), means[code].to_numpy(dtype=float), lake, std)
        if std.parameter(str(code)).assessed:
            assessed.append(code)
    out["class"] = out[assessed].max(axis=1).astype(np.int8) if assessed else np.int8(0)
    tn = out["TN"] if "TN" in out.columns else pd.Series(0, index=out.index)
    out["tn_class"] = np.where(lake, tn, 0).astype(np.int8)
    return out


def main_pollutants(
    means: pd.Series, lake: bool, std: Standard | None = None, limit: int = 3
) -> list[tuple[str, float]]:
    """The assessed parameters worse than Ⅲ, worst exceedance of the Ⅲ limit first, at
    most ``limit``: ``[(code, 超标倍数), ...]``."""
    std = std or standard()
    found = []
    for code, value in means.items():
        if pd.isna(value) or not std.parameter(str(code)).assessed:
            continue
        cls = classify_values(str(code), np.array([value]), lake, std)[0]
        if cls > 3:
            found.append((str(code), round(float(exceedance(str(code), np.array([value]), lake, std)[0]), 2)))
    found.sort(key=lambda x: -x[1])
    return found[:limit]
