from __future__ import annotations

import pytest

from gateway.pii.recognizers.names import ContextNameScanner, is_mostly_one_case

scanner = ContextNameScanner()


def people(text: str) -> set[str]:
    return {text[f.start : f.end] for f in scanner.scan(text) if f.entity_type == "PERSON"}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi John, can you check this?", "John"),
        ("Dear Dr. Amelia Watson,\nthanks for the report", "Amelia Watson"),
        ("my name is john smith and i need help", "john smith"),
        ("MY NAME IS JOHN SMITH AND I LIVE HERE", "JOHN SMITH"),
        ("Mr. Bean and Ms Jane Austen", "Jane Austen"),
        ("From: Klaus Müller <klaus@example.de>", "Klaus Müller"),
        ("Signed-off-by: Jane Doe <jane@doe.org>", "Jane Doe"),
        ("Best regards,\nOlusegun Obasanjo\nCEO", "Olusegun Obasanjo"),
        ("Thanks,\nmaria", "maria"),
        ("I'm Carlos from sales", "Carlos"),
        ("please escalate: assigned to Priya Raman", "Priya Raman"),
        ("My daughter Kyra Schwartz needs a note", "Kyra Schwartz"),
    ],
)
def test_names_after_titles_greetings_and_headers_are_found(text, name):
    assert name in people(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Меня зовут Иван Петров.", "Иван Петров"),
        ("私の名前は山田太郎です。", "山田太郎"),
        ("제 이름은 김민준입니다", "김민준"),
        ("author='Иван Петров'", "Иван Петров"),
        ('{"full_name": "कैलाश चतुर्वेदी"}', "कैलाश चतुर्वेदी"),
    ],
)
def test_names_in_other_scripts_are_found_after_cues(text, name):
    assert name in people(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"customer": "Priya Natarajan", "email": "p@x.com"}', "Priya Natarajan"),
        ('{"name": "Kwame Mensah"}', "Kwame Mensah"),
        ("first_name: josé\nlast_name: garcía", "josé"),
        ('log: user_name="Sven Olsen" action=login', "Sven Olsen"),
        ("<customer_name>Ali Hassan</customer_name>", "Ali Hassan"),
        ("Patient: Maria Rossi", "Maria Rossi"),
    ],
)
def test_names_under_person_keys_are_found(text, name):
    assert name in people(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "checkout-service"}',
        '{"name": "Order Service"}',
        "file_name = 'report.pdf'",
        "hi there, how are you",
        "Hello World",
        "this is great",
        "i'm sorry",
        "thanks for the help",
        "please send the signed copy",
        "Talk to you later.\nBest,\nThe Team",
    ],
)
def test_ordinary_values_and_phrases_are_not_names(text):
    assert people(text) == set()


def test_csv_cells_under_a_name_column_are_found():
    text = "name,email,city\nJohn Smith,john@x.com,Springfield\n李娜,li@x.cn,上海\n"
    findings = {(f.entity_type, text[f.start : f.end]) for f in scanner.scan(text)}
    assert {("PERSON", "John Smith"), ("PERSON", "李娜"), ("LOCATION", "Springfield"), ("LOCATION", "上海")} <= findings


def test_markdown_table_cells_under_a_name_column_are_found():
    assert people("| Name | Role |\n|---|---|\n| Ana Souza | dev |") == {"Ana Souza"}


def test_rows_after_the_table_ends_are_not_cells():
    assert people("name,role\nAna Souza,dev\n\nthe next paragraph, with commas") == {"Ana Souza"}


def test_text_in_one_letter_case_is_recognised():
    assert is_mostly_one_case("hi my name is john and i need help with my account")
    assert is_mostly_one_case("PLEASE CALL ME BACK ABOUT MY ORDER")
    assert not is_mostly_one_case("Please ask John Smith to call Mary back about the order.")
