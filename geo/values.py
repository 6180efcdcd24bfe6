"""Small value parsers every interface shares (a leaf module: it imports nothing of hehu).

>>> parse_bool("Yes"), parse_bool(" 否 "), parse_bool("maybe")
(True, False, None)
"""

from __future__ import annotations

import math
import re
from typing import Any

#: Words read as true or false in query parameters and form fields, case-insensitive.
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "是"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "否"})


def parse_bool(text: object) -> bool | None:
    """``True`` or ``False`` for a yes/no word (``1``, ``true``, ``on``, ``是``...), else None.

    One vocabulary for the OGC API's boolean filters, the query and export flags and
    the upload forms, so that ``problems=on`` means the same everywhere. The caller
    decides what an absent or unrecognised value is (a default, or a 400 naming it).
    """
    if text is None:
        return None
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


#: What separates a feature's aliases in its aliases field (both ASCII and full-width
#: punctuation, as typed on Chinese keyboards): "丹金河；丹金漕河、金溧河".
ALIAS_SEPARATORS = re.compile(r"[;；,，、]")


def split_aliases(value: Any) -> list[str]:
    """The aliases in one aliases-field value, trimmed, empty ones dropped.

    >>> split_aliases("丹金河；丹金漕河、 金溧河,")
    ['丹金河', '丹金漕河', '金溧河']
    >>> split_aliases(None)
    []
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [a.strip() for a in ALIAS_SEPARATORS.split(str(value)) if a.strip()]
