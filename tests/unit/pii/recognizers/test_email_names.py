from __future__ import annotations

import pytest

from gateway.pii.recognizers.email_names import EmailNameScanner

scanner = EmailNameScanner()


def people(text: str) -> list[str]:
    return sorted(text[f.start : f.end] for f in scanner.scan(text) if f.entity_type == "PERSON")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "Please draft a short reply to David Chen (david.chen@example.org, +44 20 7946 0958) about ticket 7",
            ["David Chen"],
        ),
        ("Forward it to david.chen@example.org (David Chen) today.", ["David Chen"]),
        ("Chen, David <dchen@example.org> wrote the spec.", ["Chen, David"]),
        ('"David Chen" <david.chen@example.org>', ["David Chen"]),
        ("Send it to Chen David <david.c@example.org>", ["Chen David"]),
        ("cc Priya Raman (praman@example.org)", ["Priya Raman"]),
        ("David J. Chen <davidchen@example.org>", ["David J. Chen"]),
        ("Ask José Núñez (jose.nunez@example.es) for the contract.", ["José Núñez"]),
        ("Müller, Klaus <kmuller@example.de>", ["Müller, Klaus"]),
        ("Sean O'Brien <sobrien@example.ie>", ["Sean O'Brien"]),
        ("Mail Jean-Luc Picard <jean-luc.picard@example.org>", ["Jean-Luc Picard"]),
        ("Reach Maria at maria@example.com tomorrow", ["Maria"]),
        ("DAVID CHEN <DAVID.CHEN@EXAMPLE.ORG>", ["DAVID CHEN"]),
        ("Verónica Bonet\nveronica.bonet@example.es\n+34 600 000 000", ["Verónica Bonet"]),
    ],
)
def test_names_matching_the_address_beside_them_are_found(text: str, names: list[str]) -> None:
    assert people(text) == names


def test_each_name_in_a_list_is_matched_to_its_own_address() -> None:
    text = "Alice Jones <alice@x.org>, Bob Stone <bstone@x.org>"
    assert people(text) == ["Alice Jones", "Bob Stone"]
    assert people("alice@x.org (Alice Jones), bob@x.org (Bob Stone)") == ["Alice Jones", "Bob Stone"]


def test_words_before_the_name_are_not_part_of_it() -> None:
    assert people("Thanks Anna, please ask David Chen <david.chen@x.org>") == ["David Chen"]


@pytest.mark.parametrize(
    "text",
    [
        "support@acme.com (Support Team) handles refunds.",
        "Contact Sales (sales@acme.com).",
        "Billing <billing@acme.com>",
        "Help Desk <help.desk@acme.com>",
        "Customer Care <customer.care@acme.com>",
        "GitHub <noreply@github.com>",
        "Clone git@github.com:Acme/Git.git and build it",
        "Maria Garcia (j.smith@x.com) is on leave.",
        "Write to david.chen@example.org please.",
        "david chen <david.chen@example.org>",
        "Alexander Davidson wrote to chen@example.org",
        "Tess Hermans <tess.kennedy@example.com>",
        "cc Priya Raman (pramanr@example.org)",
    ],
)
def test_role_addresses_and_names_that_do_not_match_are_not_reported(text: str) -> None:
    assert people(text) == []


def test_common_words_given_to_the_scanner_are_not_one_word_names() -> None:
    text = "The Newsroom (newsroom@example.org)"
    assert people(text) == ["Newsroom"]
    assert EmailNameScanner(common_words=frozenset({"newsroom"})).scan(text) == []
