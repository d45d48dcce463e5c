# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the test texts
from __future__ import annotations

import base64
import json

import pytest

from gateway.pii.recognizers.secrets import SECRET_ENTITIES, SecretScanner

scanner = SecretScanner()


def secrets(text: str) -> set[tuple[str, str]]:
    return {(f.entity_type, text[f.start : f.end]) for f in scanner.scan(text)}


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "key",
    [
        "sk-proj-abcDEF1234567890abcdEFGH1234567890xyz",
        "sk-" + "aB3" * 16,
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abc",
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "glpat-abcdefghij0123456789",
        "xoxb-123456789012-123456789012-abcdefghijklmnop",
    ],
)
def test_provider_keys_are_found_on_sight(key):
    assert ("API_KEY", key) in secrets(f"use {key} for the call")


def test_aws_access_key_and_secret_key_with_context_are_found():
    text = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    found = secrets(text)
    assert ("AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE") in found
    assert ("AWS_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") in found


def test_forty_character_string_without_aws_context_is_not_an_aws_secret():
    assert not {kind for kind, _ in secrets("checksum wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")} & {"AWS_SECRET_KEY"}


def test_git_and_sha_hashes_are_not_secrets():
    assert (
        secrets("commit 3f786850e387550fdab836ed7e6dc881de23001b sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709")
        == set()
    )


def test_jwt_with_json_header_is_found():
    token = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'sub': '42'})}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    assert ("JWT", token) in secrets(f"Authorization: Bearer {token}")


def test_three_dotted_base64_parts_without_alg_header_are_not_a_jwt():
    fake = f"{_b64({'hello': 'world'})}.{_b64({'sub': '42'})}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"
    assert "JWT" not in {kind for kind, _ in secrets(fake)}


def test_pem_private_key_block_is_found_across_lines():
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\nabcd==\n-----END RSA PRIVATE KEY-----"
    assert ("PRIVATE_KEY", block) in secrets(f"key:\n{block}\nrest")


def test_public_key_block_is_not_a_private_key():
    assert secrets("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----") == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('password="hunter2" user=bob', ("PASSWORD", "hunter2")),
        ("DB_PASSWORD: s3cr3t!", ("PASSWORD", "s3cr3t!")),
        ('{"api_key":"a1b2c3d4e5f6g7h8"}', ("SECRET", "a1b2c3d4e5f6g7h8")),
        ("client_secret = 'Zx9-Qw8_Er7'", ("SECRET", "Zx9-Qw8_Er7")),
        ("connect to postgres://admin:Pa55w0rd@db.example.com:5432/app", ("PASSWORD", "Pa55w0rd")),
        ("mysql -u root --password=toor", ("PASSWORD", "toor")),
        ("my password is Tr0ub4dor&3.", ("PASSWORD", "Tr0ub4dor&3")),
        ("我的密码是abc12345，别告诉别人", ("PASSWORD", "abc12345")),
    ],
)
def test_assigned_secret_values_are_found_without_their_keys(text, expected):
    assert expected in secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        "secret: ${SECRET}",
        "password=settings.db_password",
        "max_tokens: 100",
        "password: str",
        "def login(password):",
        "the token is expired",
        "token_type: bearer",
        "pwd=$(pwd)",
        'api_key = os.environ["OPENAI_API_KEY"]',
        "password: ********",
        "api_key: <your-api-key>",
    ],
)
def test_placeholders_and_code_are_not_secrets(text):
    assert secrets(text) == set()


def test_every_reported_type_is_a_secret_entity():
    assert set(scanner.entities) == SECRET_ENTITIES
