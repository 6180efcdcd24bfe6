"""The chiefs list and their 2021 patrol tracks."""

from __future__ import annotations

import numpy as np


class _People:
    """The chiefs list and their 2021 patrol tracks.

    Steps of :class:`geo.demo.build._Demo`, which holds the state they share (``rng``,
    ``district``, ``out``, and what earlier steps drew) and runs them in a fixed order.
    """

    def build_patrols(self) -> None:
        """Chiefs from the reaches' and the lake's chief labels, and their 2021 patrols."""
        from geo.patrols.demo import demo_chiefs, demo_patrols

        waters = [
            {**r["props"], "phone": r["phone"], "line": r["geom"]} for r in self.reaches
        ]
        for props, geom in self.out.get("lakes", []):
            if props.get("chief"):
                waters.append({"code": props["code"], "grade": "区级", "chief": props["chief"],
                               "chief_title": "区级湖长", "town": None, "phone": None,
                               "line": geom.boundary})
        chiefs = demo_chiefs(waters)
        # Their own generator, so the layers built before keep their features.
        rng = np.random.default_rng(self.seed + 15)
        self.out["chiefs"] = [(c, None) for c in chiefs]
        self.out["patrols"] = demo_patrols(waters, chiefs, rng)
