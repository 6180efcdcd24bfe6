"""Where the plan files live: ``geo/plans/<year>.yaml``.

A leaf with no geo imports, so both the targets (:mod:`geo.targets.plans`, which
reads whole plans) and the patrol settings (:mod:`geo.patrols.settings`, which reads
the ``patrols`` section) can find a plan file without importing one another.
"""

from __future__ import annotations

from pathlib import Path

PLANS_DIR = Path(__file__).resolve().parent / "plans"


def available_plans() -> list[int]:
    """Years of the plans shipped in ``geo/plans/``, oldest first."""
    return sorted(int(p.stem) for p in PLANS_DIR.glob("*.yaml") if p.stem.isdigit())
