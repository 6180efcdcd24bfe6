"""The message catalog: every key in both languages, Chinese by default."""

import pytest

from geo import i18n


def test_every_message_exists_in_chinese_and_english():
    for key, texts in i18n.catalog().items():
        assert set(texts) == {"zh", "en"}, key
        assert texts["zh"].strip() and texts["en"].strip(), key


def test_chinese_is_the_default_and_english_on_request():
    assert i18n.message("i18n.example", name="X") == "关于X的示例消息"
    assert i18n.message("i18n.example", "en-GB", name="X") == "Example message about X"
    assert i18n.message("i18n.example", "fr", name="X") == "关于X的示例消息"


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(KeyError, match="no.such"):
        i18n.message("no.such")


def _placeholders(text: str) -> set[str]:
    """``{name}`` placeholders, and argparse's ``%(name)s``/``%s``/``%r`` ones."""
    import re

    return set(re.findall(r"\{(\w+)\}", text)) | set(re.findall(r"%(?:\(\w+\))?[sr]", text))


def test_both_languages_of_a_message_take_the_same_placeholders():
    for key, texts in i18n.catalog().items():
        if key.startswith(("cli.", "export.")):
            assert _placeholders(texts["zh"]) == _placeholders(texts["en"]), key


def test_every_cli_message_key_exists_in_both_languages():
    """Each text the command line asks for (``t("…")``, ``h("…")``, ``key="…"``, the
    argparse table) is in geo/messages in Chinese and in English."""
    import re
    from pathlib import Path

    from cli.lang import ARGPARSE_KEYS

    root = Path(__file__).resolve().parents[1] / "cli"
    asked = {f"cli.{k}" for k in ARGPARSE_KEYS.values()}
    for path in root.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        asked |= {f"cli.{k}" for k in re.findall(r"\b[th]\(\s*\"([\w.]+)\"", source)}
        asked |= set(re.findall(r"key=\"([\w.-]+)\"", source))
        for prefix in re.findall(r"\b[th]\(\s*f\"([\w.]+)\{", source):  # t(f"query.col_{k}")
            assert any(k.startswith(f"cli.{prefix}") for k in i18n.catalog()), prefix
    assert len(asked) > 150
    for key in sorted(asked):
        texts = i18n.catalog().get(key)
        assert texts is not None, f"{key} is asked for but not in geo/messages"
        assert texts["zh"].strip() and texts["en"].strip(), key
