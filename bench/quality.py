"""Water-quality classification and the annual report at scale.

    python -m bench.quality [--observations 1000000] [--naive-rows 1000000]

1. Classify 1,000,000 observations of mixed parameters (rivers and lakes) by GB 3838-2002
   with :func:`geo.quality.classify.classify_values` (numpy ``searchsorted`` per
   parameter), against a naive per-row Python loop over the limits in the same process;
   the two must agree on every row.
2. Build the annual report (monthly and annual classes from means, main pollutants) for
   11 sections × 8,760 hourly samples × 8 parameters (770,880 observations) with
   :func:`geo.quality.report.build_report`, against a naive per-row Python accumulation
   of the same means. The frame is built in memory: this times the computation, not the
   registry's reads.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from geo.quality.classify import LOCAL_OFFSET, classify_values
from geo.quality.limits import standard
from geo.quality.report import build_report

PARAMS = np.array(["pH", "DO", "CODMn", "COD", "BOD5", "NH3-N", "TP", "TN"], dtype=object)
SCALE = {"pH": 7.5, "DO": 6.0, "CODMn": 5.0, "COD": 20.0, "BOD5": 4.0, "NH3-N": 0.8, "TP": 0.15, "TN": 1.5}


def naive_class(std, parameter: str, value: float, lake: bool) -> int:
    """One value, the way a per-row script would do it."""
    p = std.parameter(parameter)
    if p.range is not None:
        return 1 if p.range[0] <= value <= p.range[1] else 6
    for k, limit in enumerate(p.limits_for(lake), start=1):
        if (value >= limit) if p.sense == "min" else (value <= limit):
            return k
    return 6


def synthetic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    params = PARAMS[rng.integers(0, len(PARAMS), n)]
    scale = np.array([SCALE[p] for p in PARAMS])[np.searchsorted(np.sort(PARAMS), params)]
    # Values spread over every class; pH around 7.5.
    values = np.round(scale * rng.lognormal(0.0, 0.5, n), 3)
    lakes = rng.random(n) < 0.1
    return params, values, lakes


def bench_classify(n: int, naive_rows: int) -> None:
    rng = np.random.default_rng(3838)
    params, values, lakes = synthetic(n, rng)
    std = standard()
    classify_values(params[:1000], values[:1000], lakes[:1000])  # warm-up: imports, limits file
    fast = float("inf")
    for _ in range(3):  # best of three
        t = time.perf_counter()
        classes = classify_values(params, values, lakes)
        fast = min(fast, time.perf_counter() - t)
    m = min(naive_rows, n)
    t = time.perf_counter()
    naive = [naive_class(std, p, v, lk) for p, v, lk in zip(params[:m].tolist(), values[:m].tolist(), lakes[:m].tolist(), strict=True)]
    slow = (time.perf_counter() - t) * n / m
    assert classes[:m].tolist() == naive, "vectorised and naive classes differ"
    counts = np.bincount(classes, minlength=7)[1:]
    print(f"classify {n:,} observations: vectorised {fast:.3f} s, naive per-row Python "
          f"{slow:.3f} s{'' if m == n else f' (extrapolated from {m:,} rows)'}: {slow / fast:.1f}× faster; "
          f"classes Ⅰ–劣Ⅴ {counts.tolist()}")


def hourly_year(sections: int = 11, year: int = 2021) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(2021)
    hours = pd.date_range(f"{year}-01-01", periods=8760, freq="h", tz="UTC")
    codes = [f"DM-{i:02d}" for i in range(sections)]
    n = len(hours) * len(PARAMS)
    frames = []
    for i, code in enumerate(codes):
        level = 0.6 + 0.15 * i
        values = np.concatenate([
            np.round(SCALE[p] * (1 if p in ("pH", "DO") else level) * rng.lognormal(0.0, 0.15, len(hours)), 3)
            for p in PARAMS
        ])
        frames.append(pd.DataFrame({
            "section": code,
            "local": np.tile(hours.to_numpy(), len(PARAMS)),
            "parameter": np.repeat(PARAMS, len(hours)),
            "value": values,
        }))
    obs = pd.concat(frames, ignore_index=True)
    obs["local"] = pd.to_datetime(obs["local"], utc=True) + LOCAL_OFFSET
    sections_df = pd.DataFrame({
        "code": codes, "name": [f"断面{i}" for i in range(sections)],
        "river": ["长荡湖" if i == 0 else "河" for i in range(sections)],
        "counted": [i != 0 for i in range(sections)], "target_class": 3,
    })
    assert len(obs) == sections * n
    return obs, sections_df


def naive_report(obs: pd.DataFrame, sections: pd.DataFrame) -> dict:
    """Per-row Python: sums per (section, month, parameter), then the classes of the means."""
    std = standard()
    lake = dict(zip(sections["code"], sections["river"] == "长荡湖", strict=True))
    sums: dict = {}
    months = obs["local"].dt.strftime("%Y-%m").tolist()
    for s, mo, p, v in zip(obs["section"].tolist(), months, obs["parameter"].tolist(), obs["value"].tolist(), strict=True):
        for key in ((s, mo, p), (s, "year", p)):
            acc = sums.setdefault(key, [0.0, 0])
            acc[0] += v
            acc[1] += 1
    worst: dict = {}
    for (s, mo, p), (total, count) in sums.items():
        if not std.parameter(p).assessed:
            continue
        c = naive_class(std, p, round(total / count, std.parameter(p).decimals), lake[s])
        worst[(s, mo)] = max(worst.get((s, mo), 0), c)
    return worst


def bench_report() -> None:
    t = time.perf_counter()
    obs, sections = hourly_year()
    made = time.perf_counter() - t
    fast = float("inf")
    for _ in range(3):  # best of three
        t = time.perf_counter()
        rows = build_report(obs, sections, 2021)
        fast = min(fast, time.perf_counter() - t)
    t = time.perf_counter()
    worst = naive_report(obs, sections)
    slow = time.perf_counter() - t
    for r in rows:
        assert r["annual_class"] == worst[(r["code"], "year")]
        assert all(c == worst[(r["code"], m)] for m, c in r["months"].items())
    print(f"annual report, 11 sections × 8,760 hourly samples × 8 parameters = {len(obs):,} observations "
          f"(frame built in {made:.2f} s): vectorised {fast:.3f} s, naive per-row Python {slow:.3f} s: "
          f"{slow / fast:.1f}× faster; annual classes {[r['annual_class'] for r in rows]}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--observations", type=int, default=1_000_000)
    ap.add_argument("--naive-rows", type=int, default=1_000_000, help="rows the naive loop classifies (extrapolated)")
    args = ap.parse_args(argv)
    bench_classify(args.observations, args.naive_rows)
    bench_report()


if __name__ == "__main__":
    main()
