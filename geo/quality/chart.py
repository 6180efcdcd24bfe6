"""A section's small time-series chart: the monthly means of the key parameters against
their Class III limit, for the map's popup (SVG, drawn with the prints' CJK font)."""

from __future__ import annotations

import io

import numpy as np

from geo.quality.classify import period_means
from geo.quality.limits import standard
from geo.quality.report import is_lake_section, months_of
from geo.quality.store import read_observations
from geo.registry import Registry

#: The parameters that most often decide a Jintan section's class.
KEY_PARAMETERS = ("DO", "CODMn", "NH3-N", "TP")


def section_chart_svg(registry: Registry, code: str, year: int) -> bytes:
    """Four small panels (DO, CODMn, NH3-N, TP): monthly means and the Ⅲ limit (dashed)."""
    from matplotlib.figure import Figure

    from geo.fonts import use_cjk_font

    use_cjk_font()
    std = standard()
    section = registry.find("sections", code)["properties"]
    lake = is_lake_section(section)
    obs = read_observations(registry, year=year, sections=[code])
    months = months_of(year)
    if len(obs):
        obs = obs.assign(month=obs["local"].dt.strftime("%Y-%m"))
        means = period_means(obs, ["month"], std).reindex(months)
    else:
        means = None
    fig = Figure(figsize=(3.4, 2.3), dpi=100)
    axes = fig.subplots(2, 2, sharex=True)
    x = np.arange(1, 13)
    for ax, p in zip(axes.flat, KEY_PARAMETERS, strict=True):
        par = std.parameter(p)
        limit = par.class3_limit(lake)
        ys = means[p].to_numpy(dtype=float) if means is not None and p in means.columns else np.full(12, np.nan)
        worse = (ys < limit) if par.sense == "min" else (ys > limit)
        ax.plot(x, ys, color="#0868ac", lw=1.2, marker="o", ms=2.2)
        ax.scatter(x[worse], ys[worse], color="#d73027", s=9, zorder=3)
        ax.axhline(limit, color="#d73027", lw=0.8, ls="--")
        ax.set_title(f"{par.zh} {p}（Ⅲ {limit:g}）", fontsize=6.5, pad=2)
        ax.tick_params(labelsize=5.5, length=2, pad=1)
        ax.set_xticks([1, 4, 7, 10])
        ax.set_xlim(0.5, 12.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle(f"{section['name']} {year}年月均值（mg/L）", fontsize=7, y=0.995)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.84, bottom=0.09, wspace=0.28, hspace=0.45)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Creator": "hehu 河湖一张图"})
    return buf.getvalue()
