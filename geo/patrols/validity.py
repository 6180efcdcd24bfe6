"""Is a patrol valid? The plan file's rules, each with its source sentence.

A patrol counts toward a chief's duty only when valid: long enough in time and in
metres, and following its reach (a share of the track within N metres of the reaches it
patrolled). An invalid patrol is kept and marked with every reason, in the user's
language; a track without timestamps is invalid because its duration is unknown.

Vectorised over patrols (shapely on arrays), so the demo year is judged in one call.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.i18n import message
from geo.patrols.settings import PatrolSettings


def judge(
    tracks_metric: np.ndarray,
    duration_min: np.ndarray,
    reaches_metric: np.ndarray,
    settings: PatrolSettings,
    lang: str = "zh",
) -> tuple[np.ndarray, list[str]]:
    """(valid flags, reasons joined by '；') for patrols given in EPSG:4549.

    ``duration_min`` holds NaN where the duration is unknown; ``reaches_metric`` holds,
    per patrol, the union of its reaches (None when no reach was matched).
    """
    tracks_metric = np.asarray(tracks_metric, dtype=object)
    duration = np.asarray(duration_min, dtype=float)
    reaches = np.asarray(reaches_metric, dtype=object)
    n = tracks_metric.size
    length = shapely.length(tracks_metric)
    d = settings.on_reach_distance_m.value
    has_reach = ~shapely.is_missing(reaches)
    near = np.zeros(n)
    if has_reach.any():
        zone = shapely.buffer(reaches[has_reach], d)
        near[has_reach] = shapely.length(shapely.intersection(tracks_metric[has_reach], zone))
    share = np.divide(near, length, out=np.zeros(n), where=length > 0)

    s = settings
    checks = [
        (np.isnan(duration), lambda i: message("patrols.rule_no_time", lang)),
        (
            ~np.isnan(duration) & (duration < s.min_duration_min.value),
            lambda i: message("patrols.rule_duration", lang, value=f"{duration[i]:.0f}",
                              min=f"{s.min_duration_min.value:g}"),
        ),
        (
            length < s.min_length_m.value,
            lambda i: message("patrols.rule_length", lang, value=f"{length[i]:.0f}", min=f"{s.min_length_m.value:g}"),
        ),
        (~has_reach, lambda i: message("patrols.rule_no_reach", lang)),
        (
            has_reach & (share < s.min_share_on_reach.value),
            lambda i: message("patrols.rule_on_reach", lang, value=f"{100 * share[i]:.0f}", distance=f"{d:g}",
                              min=f"{100 * s.min_share_on_reach.value:g}"),
        ),
    ]
    bad = np.zeros(n, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n)]
    for mask, text in checks:
        bad |= mask
        for i in np.flatnonzero(mask):  # only the failing patrols, to word their reasons
            reasons[i].append(text(i))
    return ~bad, ["；".join(r) if lang == "zh" else "; ".join(r) for r in reasons]
