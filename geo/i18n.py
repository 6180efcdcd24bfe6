"""Every message a person can see, in Chinese and English, from one place.

Messages live in ``geo/messages/*.yaml``, one file per concern, each key holding a
``zh`` and an ``en`` text with ``{name}`` placeholders. Chinese is the default language;
English is given on request (``lang=en``, or an Accept-Language that prefers it).

>>> message("i18n.example", "en", name="丹金溧漕河")
'Example message about 丹金溧漕河'
>>> message("i18n.example", name="丹金溧漕河")
'关于丹金溧漕河的示例消息'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
MESSAGES_DIR = Path(__file__).parent / "messages"


class MessageCatalogError(Exception):
    """A message file that is malformed, or a key that lacks a language."""


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    """All messages by key: ``{key: {"zh": ..., "en": ...}}``, checked on load."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(MESSAGES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise MessageCatalogError(f"{path.name}: expected a mapping of message keys")
        for key, texts in data.items():
            if key in out:
                raise MessageCatalogError(f"{path.name}: message {key!r} is defined twice")
            if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
                raise MessageCatalogError(
                    f"{path.name}: message {key!r} needs exactly the languages {LANGUAGES}"
                )
            out[str(key)] = {lang: str(texts[lang]) for lang in LANGUAGES}
    return out


def normalise_language(lang: str | None) -> str:
    """``zh``/``zh-CN``/``zh_Hans`` → ``zh``, ``en*`` → ``en``; anything else → Chinese."""
    if not lang:
        return DEFAULT_LANGUAGE
    head = str(lang).strip().lower().replace("_", "-").split("-")[0]
    return head if head in LANGUAGES else DEFAULT_LANGUAGE


def negotiate(asked: str | None = None, accept_language: str | None = None) -> str:
    """The language of a request: ``asked`` (``?lang=``) when zh or en, else the first of
    zh/en in the Accept-Language header by quality, else Chinese.

    The header's order decides, not a wildcard: QGIS in a Chinese locale sends
    ``zh-CN,en,*`` and must get Chinese.

    >>> negotiate(None, "zh-CN,en,*")
    'zh'
    >>> negotiate(None, "en-US,en;q=0.9,zh-CN;q=0.8")
    'en'
    >>> negotiate("zh", "en-US")
    'zh'
    """
    if asked in LANGUAGES:
        return str(asked)
    entries: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, rest = part.strip().partition(";")
        q = 1.0
        rest = rest.strip()
        if rest.startswith("q="):
            try:
                q = float(rest[2:])
            except ValueError:
                q = 0.0
        head = tag.strip().lower().replace("_", "-").split("-")[0]
        if head in LANGUAGES and q > 0:
            entries.append((-q, i, head))
    return min(entries)[2] if entries else DEFAULT_LANGUAGE


def message(key: str, lang: str | None = None, **params: Any) -> str:
    """The message ``key`` in ``lang`` (default Chinese) with its placeholders filled."""
    texts = catalog().get(key)
    if texts is None:
        raise KeyError(f"no message {key!r} in geo/messages")
    return texts[normalise_language(lang)].format(**params)


def both(key: str, **params: Any) -> dict[str, str]:
    """The message in every language: ``{"zh": ..., "en": ...}``."""
    return {lang: message(key, lang, **params) for lang in LANGUAGES}
