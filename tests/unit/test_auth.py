from __future__ import annotations

from gateway.auth import KeyStore, Principal, StoredKey, bearer_token, hash_key, key_id_for


def _store() -> KeyStore:
    principal = Principal(key_id="k1", tenant="acme", roles=frozenset({"app"}))
    return KeyStore([StoredKey(hash_key("sk-secret"), principal)])


def test_known_key_authenticates_to_its_principal() -> None:
    principal = _store().authenticate("sk-secret")
    assert principal is not None
    assert principal.tenant == "acme"


def test_unknown_or_missing_key_is_refused() -> None:
    store = _store()
    assert store.authenticate("sk-other") is None
    assert store.authenticate(None) is None
    assert store.authenticate("") is None


def test_store_keeps_no_key_in_the_clear() -> None:
    store = _store()
    assert "sk-secret" not in repr(vars(store))


def test_key_id_is_derived_from_the_hash_not_the_key() -> None:
    digest = hash_key("sk-secret")
    assert key_id_for(digest) == "key_" + digest[:12]
    assert "secret" not in key_id_for(digest)


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_admin_role_implies_the_others() -> None:
    admin = Principal(key_id="a", tenant="t", roles=frozenset({"admin"}))
    assert admin.has_role("auditor")
    app = Principal(key_id="b", tenant="t", roles=frozenset({"app"}))
    assert not app.has_role("auditor")
