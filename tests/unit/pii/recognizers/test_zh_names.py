# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the test texts
from __future__ import annotations

import pytest

from gateway.pii.recognizers.zh_names import ChineseNameScanner

scanner = ChineseNameScanner()


def names(text: str) -> set[str]:
    return {text[f.start : f.end] for f in scanner.scan(text) if f.score >= 0.4}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("姓名：张伟，电话见附件", "张伟"),
        ("我叫王秀英，今年三十岁", "王秀英"),
        ("联系人：欧阳娜娜", "欧阳娜娜"),
        ("请联系李娜女士", "李娜"),
        ("尊敬的阎雷先生：您好", "阎雷"),
        ("张建国的身份证丢了", "张建国"),
        ("会议由王成主持", "王成"),
        ("收件人司马懿，请签收", "司马懿"),
    ],
)
def test_names_with_context_are_found(text, name):
    assert name in names(text)


def test_surname_with_title_alone_is_found():
    assert "王" in names("王先生明天到")


def test_three_character_name_without_context_is_found():
    assert "刘秀兰" in names("刘秀兰明天请假")


@pytest.mark.parametrize(
    "text",
    [
        "同时推荐参加",
        "以及安全问题",
        "用户来自全国各地",
        "由于国际形势",
        "项目预算为120万元",
        "今天天气很好，我们去公园散步吧。",
    ],
)
def test_ordinary_words_starting_with_surname_characters_are_not_names(text):
    assert names(text) == set()


def test_isolated_name_in_mixed_language_text_is_found():
    assert "李伟" in names("Customer 李伟 asked for a refund")
