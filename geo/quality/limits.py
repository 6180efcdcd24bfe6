"""GB 3838-2002 Table 1 limits, read from ``gb3838_2002.yaml`` beside this module.

The numbers live in the data file, with the standard cited, so that a reader can check
them against the printed table without reading code.

>>> from geo.quality.limits import standard
>>> standard().parameter("TP").limits_for(lake=True)
(0.01, 0.025, 0.05, 0.1, 0.2)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LIMITS_FILE = Path(__file__).with_name("gb3838_2002.yaml")
WORSE_THAN_V = 6  #: 劣Ⅴ
CLASS_NAMES = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ", 5: "Ⅴ", 6: "劣Ⅴ"}
#: The colours of 《地表水环境质量评价办法（试行）》: Ⅰ–Ⅱ blue (优), Ⅲ green (良好),
#: Ⅳ yellow (轻度污染), Ⅴ orange (中度污染), 劣Ⅴ red (重度污染); light enough to read
#: the class written on them.
CLASS_COLOURS = {1: "#5ab4e5", 2: "#9fd3f2", 3: "#7fcf7f", 4: "#ffe066", 5: "#ffa64d", 6: "#f0605a"}
CLASS_STATUS = {
    1: ("优", "excellent"), 2: ("优", "excellent"), 3: ("良好", "good"),
    4: ("轻度污染", "slightly polluted"), 5: ("中度污染", "moderately polluted"), 6: ("重度污染", "heavily polluted"),
}


@dataclass(frozen=True)
class Parameter:
    """One parameter of Table 1: its names, limits and whether it enters the class."""

    code: str
    zh: str
    en: str
    limits: tuple[float, ...] | None = None
    lake_limits: tuple[float, ...] | None = None
    sense: str = "max"  # "max": value ≤ limit; "min": value ≥ limit (DO)
    range: tuple[float, float] | None = None  # pH
    unit: str = "mg/L"
    assessed: bool = True
    lakes_only: bool = False
    decimals: int = 3

    def limits_for(self, lake: bool = False) -> tuple[float, ...] | None:
        """The Ⅰ–Ⅴ limits; the lake-and-reservoir column for a lake section when it has one."""
        return self.lake_limits if lake and self.lake_limits else self.limits

    def class3_limit(self, lake: bool = False) -> float | None:
        limits = self.limits_for(lake)
        return None if limits is None else limits[2]

    def name(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Standard:
    code: str
    title_zh: str
    title_en: str
    parameters: dict[str, Parameter]

    def parameter(self, code: str) -> Parameter:
        return self.parameters[code]

    @property
    def codes(self) -> list[str]:
        return list(self.parameters)

    def aliases(self) -> dict[str, str]:
        """Every accepted spelling (short code, Chinese name, lower case) → code."""
        out: dict[str, str] = {}
        for code, p in self.parameters.items():
            for name in (code, p.zh, p.en):
                out[name] = code
                out[name.lower()] = code
        # Spellings labs use.
        extra = {
            "nh3n": "NH3-N", "nh3_n": "NH3-N", "nh4-n": "NH3-N", "氨氮(nh3-n)": "NH3-N",
            "codmn": "CODMn", "cod_mn": "CODMn", "高锰酸钾指数": "CODMn",
            "codcr": "COD", "cod_cr": "COD", "bod": "BOD5", "bod5": "BOD5", "bod_5": "BOD5",
            "do": "DO", "tp": "TP", "tn": "TN", "ph值": "pH", "ph": "pH",
        }
        out.update({k: v for k, v in extra.items() if v in self.parameters})
        return out

    def resolve(self, name: str) -> str | None:
        """The parameter code for a name as written in a lab sheet, or None."""
        text = str(name).strip()
        table = self.aliases()
        return table.get(text) or table.get(text.lower()) or table.get(text.replace(" ", "").lower())

    def suggest(self, name: str) -> str | None:
        """The closest known parameter name, to suggest for an unknown one."""
        names = [n for n in self.aliases() if n]
        hit = difflib.get_close_matches(str(name).strip(), names, n=1, cutoff=0.4) or difflib.get_close_matches(
            str(name).strip().lower(), names, n=1, cutoff=0.4
        )
        return hit[0] if hit else None


def _parameter(code: str, d: dict[str, Any]) -> Parameter:
    def floats(key: str) -> tuple[float, ...] | None:
        v = d.get(key)
        if v is None:
            return None
        steps = [b - a for a, b in zip(v, v[1:], strict=False)]
        worse_up = d.get("sense", "max") == "max"  # DO's limits fall from Ⅰ to Ⅴ
        if len(v) != 5 or any((s < 0) if worse_up else (s > 0) for s in steps):
            raise ValueError(f"{LIMITS_FILE.name}: {code}.{key} needs five limits ordered from Ⅰ to Ⅴ")
        return tuple(float(x) for x in v)

    rng = d.get("range")
    return Parameter(
        code=code,
        zh=str(d["zh"]),
        en=str(d["en"]),
        limits=floats("limits"),
        lake_limits=floats("lake_limits"),
        sense=str(d.get("sense", "max")),
        range=None if rng is None else (float(rng[0]), float(rng[1])),
        unit=str(d.get("unit", "mg/L")),
        assessed=bool(d.get("assessed", True)),
        lakes_only=bool(d.get("lakes_only", False)),
        decimals=int(d.get("decimals", 3)),
    )


@cache
def standard(path: str | None = None) -> Standard:
    """The limits of GB 3838-2002 as shipped (or from another file of the same shape)."""
    data = yaml.safe_load(Path(path or LIMITS_FILE).read_text(encoding="utf-8"))
    params = {str(code): _parameter(str(code), d) for code, d in data["parameters"].items()}
    return Standard(str(data["standard"]), str(data["title_zh"]), str(data["title_en"]), params)


def class_name(value: int | None) -> str:
    """Ⅰ…Ⅴ, 劣Ⅴ; an empty string for no class."""
    return "" if value is None else CLASS_NAMES.get(int(value), "")
