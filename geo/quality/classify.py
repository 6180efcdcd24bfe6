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


def _limit_table(codes: list[str], std: Standard) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per parameter: the Ⅰ–Ⅴ limits for rivers and for lakes (n, 2, 5), the sense (+1 for
    "≤ limit", -1 for DO's "≥ limit") and whether it is a range (pH)."""
    table = np.zeros((len(codes), 2, 5))
    sign = np.ones(len(codes))
    is_range = np.zeros(len(codes), dtype=bool)
    for i, code in enumerate(codes):
        p = std.parameter(code)
        if p.range is not None:
            is_range[i] = True
            continue
        table[i, 0] = p.limits_for(False)
        table[i, 1] = p.limits_for(True)
        sign[i] = -1.0 if p.sense == "min" else 1.0
    return table, sign, is_range


def classify_values(
    parameter: str | np.ndarray | pd.Series,
    values: np.ndarray | pd.Series,
    lake: bool | np.ndarray | pd.Series = False,
    std: Standard | None = None,
) -> np.ndarray:
    """Class (1–6, 0 for a missing value) of each value of one or of many parameters.

    ``parameter`` is one code for all values or an array of codes (one per value);
    ``lake`` likewise a flag or an array of flags (lake TP column).

    The class is 1 + the number of limits the value is worse than: a value equal to a
    limit is not worse than it (the better class), two equal limits (COD Ⅰ and Ⅱ) are
    both passed or both not, and DO compares with its sign turned. One gather and one
    (n × 5) comparison for every row at once.
    """
    std = std or standard()
    vals = np.asarray(values, dtype=float)
    if isinstance(parameter, str):
        codes, names = np.zeros(vals.shape, dtype=np.intp), [parameter]
    else:
        codes, uniques = pd.factorize(parameter if isinstance(parameter, pd.Series) else np.asarray(parameter, dtype=object))
        names = [str(c) for c in uniques]
    table, sign, is_range = _limit_table(names, std)
    lake_idx = np.broadcast_to(np.asarray(lake, dtype=bool), vals.shape).astype(np.intp)
    lim = table[codes, lake_idx]  # (n, 5)
    sg = sign[codes]
    out = (1 + ((sg * vals)[:, None] > sg[:, None] * lim).sum(axis=1)).astype(np.int8)
    ranged = is_range[codes]
    if ranged.any():
        for i in np.flatnonzero(is_range):
            lo, hi = std.parameter(names[i]).range
            sel = codes == i
            v = vals[sel]
            out[sel] = np.where((v >= lo) & (v <= hi), 1, WORSE_THAN_V)
    out[np.isnan(vals)] = NO_CLASS
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
    is indexed by ``by`` (sorted) with one column per parameter present. Sums and counts
    come from one ``np.bincount`` over the flattened group keys: a pandas groupby on text
    keys costs seconds on an hourly year of eleven sections.
    """
    std = std or standard()
    keys = [*by, "parameter"]
    codes, levels = [], []
    for k in keys:
        c, u = pd.factorize(obs[k], sort=True)
        codes.append(c)
        levels.append(u)
    sizes = tuple(len(u) for u in levels)
    vals = obs["value"].to_numpy(dtype=float)
    ok = ~np.isnan(vals) & np.all([c >= 0 for c in codes], axis=0)
    flat = np.ravel_multi_index([c[ok] for c in codes], sizes)
    n = int(np.prod(sizes))
    sums = np.bincount(flat, weights=vals[ok], minlength=n)
    counts = np.bincount(flat, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = (sums / counts).reshape(-1, sizes[-1])
    if len(by) == 1:
        index = pd.Index(levels[0], name=by[0])
    else:
        index = pd.MultiIndex.from_product(levels[:-1], names=by)
    means = pd.DataFrame(grid, index=index, columns=[str(c) for c in levels[-1]])
    means = means[(counts.reshape(-1, sizes[-1]) > 0).any(axis=1)]
    for code in means.columns:
        means[code] = means[code].round(std.parameter(code).decimals)  # numpy: half to even
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


def pollutants_of_means(
    means: pd.DataFrame, classes: pd.DataFrame, lake: np.ndarray, std: Standard | None = None, limit: int = 3
) -> list[list[tuple[str, float]]]:
    """:func:`main_pollutants` for every row of ``means`` at once (``classes`` from
    :func:`classes_of_means`)."""
    std = std or standard()
    lake = np.asarray(lake, dtype=bool)
    cols = [c for c in means.columns if std.parameter(str(c)).assessed]
    if not cols:
        return [[] for _ in range(len(means))]
    ex = np.column_stack([exceedance(str(c), means[c].to_numpy(dtype=float), lake, std) for c in cols])
    worse = np.column_stack([classes[c].to_numpy() > 3 for c in cols])
    ex = np.where(worse, ex, -np.inf)
    order = np.argsort(-ex, axis=1, kind="stable")[:, :limit]
    out = []
    for i, idx in enumerate(order):
        out.append([(str(cols[j]), round(float(ex[i, j]), 2)) for j in idx if np.isfinite(ex[i, j])])
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
