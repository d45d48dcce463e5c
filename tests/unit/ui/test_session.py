"""Session cookies and sign-in form tokens: signed, expiring, bound to their purpose."""

from __future__ import annotations

import pytest

from gateway.ui.session import InvalidSecret, SessionCodec, TokenSigner, csrf_matches

SECRET = b"s" * 32
NOW = 1_750_000_000


def codec(secret: bytes = SECRET, ttl_s: int = 3600) -> SessionCodec:
    return SessionCodec(secret, ttl_s=ttl_s)


def test_an_issued_session_reads_back_with_who_signed_in():
    session, cookie = codec().issue(key_id="key_1", tenant="acme", roles=("auditor",), now=NOW)
    read = codec().read(cookie, now=NOW + 10)
    assert read == session
    assert read.key_id == "key_1"
    assert read.tenant == "acme"
    assert read.expires_at == NOW + 3600


def test_every_session_gets_its_own_csrf_token():
    first, _ = codec().issue(key_id="k", tenant="t", roles=("auditor",), now=NOW)
    second, _ = codec().issue(key_id="k", tenant="t", roles=("auditor",), now=NOW)
    assert first.csrf_token != second.csrf_token
    assert len(first.csrf_token) >= 32


def test_a_session_is_refused_once_it_expires():
    _, cookie = codec(ttl_s=60).issue(key_id="k", tenant="t", roles=("auditor",), now=NOW)
    assert codec().read(cookie, now=NOW + 59) is not None
    assert codec().read(cookie, now=NOW + 60) is None


def test_a_session_signed_with_another_secret_is_refused():
    _, cookie = codec(b"x" * 32).issue(key_id="k", tenant="t", roles=("auditor",), now=NOW)
    assert codec().read(cookie, now=NOW) is None


def test_a_changed_payload_is_refused():
    _, cookie = codec().issue(key_id="k", tenant="t", roles=("app",), now=NOW)
    body, _, mac = cookie.partition(".")
    forged_signer = TokenSigner(b"y" * 32)
    forged = forged_signer.seal(
        "session", {"key_id": "k", "tenant": "t", "roles": ["auditor"], "csrf": "c"}, expires_at=NOW + 99
    )
    assert codec().read(forged.partition(".")[0] + "." + mac, now=NOW) is None
    assert codec().read(body + "." + forged.partition(".")[2], now=NOW) is None


def test_a_sign_in_form_token_is_not_a_session():
    _, login_cookie = codec().login_token(now=NOW)
    assert codec().read(login_cookie, now=NOW) is None


@pytest.mark.parametrize("cookie", [None, "", "abc", "a.b.c", "!!!.???", "e30.e30", "." * 10])
def test_malformed_cookies_are_refused(cookie):
    assert codec().read(cookie, now=NOW) is None


def test_a_signed_token_without_the_session_fields_is_refused():
    token = TokenSigner(SECRET).seal("session", {"key_id": "k"}, expires_at=NOW + 10)
    assert codec().read(token, now=NOW) is None


def test_auditors_and_admins_may_review_and_apps_may_not():
    c = codec()
    for roles, allowed in ((("auditor",), True), (("admin",), True), (("app",), False)):
        _, cookie = c.issue(key_id="k", tenant="t", roles=roles, now=NOW)
        assert c.read(cookie, now=NOW).may_review() is allowed


def test_the_sign_in_token_matches_only_its_own_form_value():
    c = codec()
    nonce, cookie = c.login_token(now=NOW)
    assert c.login_token_matches(cookie, nonce, now=NOW + 1)
    assert not c.login_token_matches(cookie, nonce + "x", now=NOW + 1)
    assert not c.login_token_matches(cookie, "", now=NOW + 1)
    assert not c.login_token_matches(None, nonce, now=NOW + 1)
    assert not c.login_token_matches(cookie, nonce, now=NOW + c.login_ttl_s)


def test_csrf_token_must_be_echoed_exactly():
    session, _ = codec().issue(key_id="k", tenant="t", roles=("auditor",), now=NOW)
    assert csrf_matches(session, session.csrf_token)
    assert not csrf_matches(session, None)
    assert not csrf_matches(session, session.csrf_token[:-1])


def test_a_short_secret_is_rejected():
    with pytest.raises(InvalidSecret):
        SessionCodec(b"short", ttl_s=60)
