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
