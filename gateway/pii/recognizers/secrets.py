# ruff: noqa: RUF001, RUF003 - Chinese full-width punctuation (，：。) is part of the patterns and examples
"""Credentials in prompts and answers: provider API keys, cloud keys, tokens, private keys, passwords.

Pure pattern scanners. Provider keys have documented prefixes (`sk-ant-`, `ghp_`, `AKIA`) and
are reported on sight; shapes without a prefix (an AWS secret key is 40 base64 characters,
like many other things) are reported only next to a context word. For `password=...`,
`"api_key": "..."` and similar assignments only the value is reported, never the key, so
a redacted config still reads as a config. Placeholders (`***`, `<token>`, `${VAR}`) and
code that merely passes a secret along (`password=settings.db_password`) are not secrets.

Entity types reported (all also in `SECRET_ENTITIES`):

- `API_KEY`: OpenAI (`sk-`, `sk-proj-`), Anthropic (`sk-ant-`), GitHub (`ghp_`, `gho_`,
  `ghu_`, `ghs_`, `ghr_`, `github_pat_`), GitLab (`glpat-`, ...), Slack (`xoxb-`, `xoxa-`,
  `xoxp-`, `xoxr-`, `xoxs-`), Google (`AIza`), Stripe (`sk_live_`, `rk_live_`), Hugging Face (`hf_`).
- `AWS_ACCESS_KEY`: AWS access key ids (`AKIA`, `ASIA`, ... and 16 more characters).
- `AWS_SECRET_KEY`: 40-character AWS secret access keys, with context.
- `PRIVATE_KEY`: PEM private key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP).
- `JWT`: JSON Web Tokens whose header decodes to JSON with an `alg`.
- `PASSWORD`: the value of a password assignment, a password in a URL (`scheme://user:pw@host`),
  or after "my password is".
- `SECRET`: the value of any other secret assignment (`secret`, `token`, `api_key`,
  `client_secret`, ...), bearer tokens, Slack webhook URLs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from gateway.pii.findings import Finding

SECRET_ENTITIES = frozenset({"API_KEY", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PRIVATE_KEY", "JWT", "PASSWORD", "SECRET"})
"""Entity types of credentials; a policy can treat them as one class."""

_B = r"(?<![A-Za-z0-9_-])"
_E = r"(?![A-Za-z0-9_-])"
_PROVIDER_KEYS = re.compile(
    _B + r"(?:sk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{20,}"
    r"|sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}"
    r"|sk-[A-Za-z0-9]{20,}(?:T3BlbkFJ[A-Za-z0-9]{20,})?"
    r"|gh[pousr]_[A-Za-z0-9]{36,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|gl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|agent|soat)-[A-Za-z0-9_-]{20,}"
    r"|xox[abprse]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,}"
    r"|hf_[A-Za-z]{34,})" + _E
)
_AWS_ACCESS = re.compile(
    r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}(?![A-Z0-9])"
)
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_SECRET_CONTEXT = re.compile(r"aws|secret.?access|secretaccesskey|secret_key|secret key", re.IGNORECASE)
_PEM = re.compile(
    r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP |SSH2 ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----"
    r"(?:[\s\S]*?-----END \1-----|[A-Za-z0-9+/=\s:,\\-]*)"
)
_JWT = re.compile(
    r"(?<![A-Za-z0-9_.-])(ey[A-Za-z0-9_-]{10,})\.(ey[A-Za-z0-9_-]{6,})\.([A-Za-z0-9_-]*)(?![A-Za-z0-9_.-])"
)
_SLACK_WEBHOOK = re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+")
_BEARER = re.compile(
    r"(?:authorization|bearer|x-api-key|api-key)\b[\"']?\s*[:=]?\s*[\"']?(?:bearer|token|basic)?\s*([A-Za-z0-9._~+/=-]{16,})",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:([^/\s@\"']{1,128})@[^\s/\"']+", re.IGNORECASE)

# Names of keys that hold secrets (not a secret itself).
_CREDENTIAL_KEYS = (
    r"password|passwd|passphrase|pass|pwd|secret|client_?secret|secret_?key|api_?key|apikey|access_?key|"
    r"private_?key|auth_?token|access_?token|refresh_?token|session_?token|id_?token|bearer_?token|token|"
    r"credentials?|auth|密码|口令|密钥|秘钥|令牌"
)
# `password=...`, `"api_key": "..."`, `DB_PASSWORD: ...`, `--password ...`: the key ends in a secret word.
_ASSIGNMENT = re.compile(
    r"(?P<key>(?<![A-Za-z0-9])[\"']?(?:[A-Za-z0-9]+[_.-])*(?:" + _CREDENTIAL_KEYS + r")[\"']?)"
    r"(?:[ \t]*(?::=|=>|[:=：])[ \t]*|(?<=[A-Za-z])[ \t]+(?=[\"']))"
    r"(?:(?P<q>[\"'`])(?P<quoted>[^\"'`\n]{1,256})(?P=q)|(?P<bare>[^\s\"'`,;&)}\]]{1,256}))",
    re.IGNORECASE,
)
_CLI_FLAG = re.compile(
    r"(?<!\S)--?(?:password|passwd|pass|secret|token|api-key)(?:=|[ \t]+)(?P<value>[^\s\"'-][^\s\"']*)", re.IGNORECASE
)
_PROSE_PASSWORD = re.compile(
    r"\b(?:my|the|our|your|his|her|new|temporary|temp|wifi|wi-fi)\s+(?:password|passcode|pin|passphrase)"
    r"\s+(?:is|was|will be|=|:)\s+[\"'“]?(?P<value>[^\s\"'”]{3,64}?)[\"'”]?(?=[\s.,;!?)]|$)"
    r"|密码(?:是|为)[:：]?\s*(?P<zh>[^\s，。,]{3,64})",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"^(?:\*+|x{3,}|\.{3,}|<[^>]*>|\{\{?[^}]*\}\}?|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%\(?[a-z_]*\)?s?|null|none|nil|"
    r"true|false|undefined|redacted|\[redacted\]|hidden|changeme_?placeholder|your[_-]?\w*|\?+|-+|"
    r"str|string|int|bytes|secretstr|optional\[?.*|bool|any|required|env|environ.*)$",
    re.IGNORECASE,
)
_CODE_VALUE = re.compile(
    r"^(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Za-z_]\w*\(.*|[A-Za-z_]\w*\[.*|[a-z]+(?:_[a-z0-9]+)+|[A-Z]+(?:_[A-Z0-9]+)+)$"
)
_SHELL_OR_CALL = re.compile(r"^\$|[(\[]")
_PASSWORD_KEY = re.compile(r"pass|pwd|密码|口令", re.IGNORECASE)
_TOKEN_KEY_TAIL = re.compile(r"(?:max|num|count|total|input|output|prompt|completion)[_.-]?(?:tokens?)", re.IGNORECASE)


def _jwt_header_ok(segment: str) -> bool:
    """Whether a base64url JWT header segment decodes to a JSON object with an `alg`."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = json.loads(raw)
    except (binascii.Error, ValueError):
        return False
    return isinstance(header, dict) and "alg" in header


def _secret_value_ok(key: str, value: str, *, quoted: bool) -> bool:
    """Whether an assigned value is a literal secret rather than a placeholder or code."""
    if _PLACEHOLDER.match(value) or (not quoted and (_CODE_VALUE.match(value) or _SHELL_OR_CALL.search(value))):
        return False
    if value.strip("'\"").lower() == key.strip("'\"").lower():
        return False
    if value.isdigit() and not _PASSWORD_KEY.search(key) and len(value) < 8:
        return False
    return len(value) >= 3


@dataclass(frozen=True, slots=True)
class SecretScanner:
    """Provider keys, cloud keys, private keys, JWTs and secret assignments (see the module docstring)."""

    aws_context_chars: int = 80
    """How far before a 40-character candidate an AWS context word (or access key id) may stand."""

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(sorted(SECRET_ENTITIES))

    def scan(self, text: str, /) -> list[Finding]:
        found = [Finding("API_KEY", m.start(), m.end(), 0.95) for m in _PROVIDER_KEYS.finditer(text)]
        found += [Finding("AWS_ACCESS_KEY", m.start(), m.end(), 0.95) for m in _AWS_ACCESS.finditer(text)]
        found += self._aws_secrets(text)
        found += [Finding("PRIVATE_KEY", m.start(), m.end(), 1.0) for m in _PEM.finditer(text)]
        found += [Finding("JWT", m.start(), m.end(), 0.95) for m in _JWT.finditer(text) if _jwt_header_ok(m.group(1))]
        found += [Finding("SECRET", m.start(), m.end(), 0.95) for m in _SLACK_WEBHOOK.finditer(text)]
        found += [Finding("SECRET", m.start(1), m.end(1), 0.85) for m in _BEARER.finditer(text)]
        found += [Finding("PASSWORD", m.start(1), m.end(1), 0.9) for m in _URL_PASSWORD.finditer(text)]
        found += self._assignments(text)
        return found

    def _aws_secrets(self, text: str) -> list[Finding]:
        found = []
        for m in _AWS_SECRET.finditer(text):
            value = m.group()
            if not (
                any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)
            ):
                continue
            before = text[max(0, m.start() - self.aws_context_chars) : m.start()]
            if _AWS_SECRET_CONTEXT.search(before) or _AWS_ACCESS.search(text[max(0, m.start() - 200) : m.start()]):
                found.append(Finding("AWS_SECRET_KEY", m.start(), m.end(), 0.9))
        return found

    def _assignments(self, text: str) -> list[Finding]:
        found = []
        for m in _ASSIGNMENT.finditer(text):
            key = m.group("key")
            if _TOKEN_KEY_TAIL.search(key):
                continue
            quoted = m.group("quoted") is not None
            group = "quoted" if quoted else "bare"
            value = m.group(group)
            if not _secret_value_ok(key, value.strip(), quoted=quoted):
                continue
            start = m.start(group) + len(value) - len(value.lstrip())
            end = m.start(group) + len(value.rstrip())
            entity = "PASSWORD" if _PASSWORD_KEY.search(key) else "SECRET"
            found.append(Finding(entity, start, end, 0.85))
        for m in _CLI_FLAG.finditer(text):
            if _secret_value_ok("flag", m.group("value"), quoted=False):
                entity = "PASSWORD" if _PASSWORD_KEY.search(m.group()) else "SECRET"
                found.append(Finding(entity, m.start("value"), m.end("value"), 0.85))
        for m in _PROSE_PASSWORD.finditer(text):
            group = "value" if m.group("value") is not None else "zh"
            found.append(Finding("PASSWORD", m.start(group), m.end(group), 0.8))
        return found
