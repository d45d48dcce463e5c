# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the test texts
from __future__ import annotations

import pytest

from gateway.pii.recognizers.addresses import AddressScanner

scanner = AddressScanner()


def addresses(text: str) -> list[str]:
    return [text[f.start : f.end] for f in scanner.scan(text)]


@pytest.mark.parametrize(
    "address",
    [
        "7631 Johnson Village Suite 690\nAdamsbury, OR 13900",
        "1600 Pennsylvania Avenue NW, Washington, DC 20500",
        "42 elm st apt 3",
        "PSC 1234, Box 5678\nAPO AE 12345",
        "Hauptstraße 5, 10115 Berlin",
    ],
)
def test_street_addresses_are_found_whole(address):
    assert addresses(f"Ship to {address} please.") == [address]


@pytest.mark.parametrize(
    "text",
    ["we need 2 more days on the road", "version 2 of the road map", "Top 10 Best Practices", "Call me in 5 minutes"],
)
def test_numbers_before_street_words_in_prose_are_not_addresses(text):
    assert addresses(text) == []


@pytest.mark.parametrize(
    "address",
    ["广东省深圳市南山区科技园路1号3栋201室", "北京市朝阳区建国路88号", "江苏省淑华市永川罗街I座 762328"],
)
def test_chinese_addresses_are_found(address):
    assert address in addresses(f"我的地址是{address}，谢谢")


def test_free_standing_chinese_address_does_not_swallow_the_verb_before_it():
    assert addresses("公司在深圳市南山区科技园路1号") == ["深圳市南山区科技园路1号"]


@pytest.mark.parametrize("text", ["广东省深圳市", "我去过北京市", "今天天气很好"])
def test_chinese_regions_without_street_are_not_addresses(text):
    assert addresses(text) == []
