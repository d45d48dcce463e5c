"""The PII steps of the request pipeline: detect in the prompt, then act on what was found.

`DetectPii` runs before the policy (which may choose actions from the counts) and only
attaches findings; `ApplyPiiActions` runs after it and refuses the call or rewrites the body
that is forwarded. Answers are guarded in `answer.py`. The steps log entity types and
counts, never text or values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import structlog

from gateway.errors import GatewayError, PiiBlocked, PiiDetectorUnavailable
from gateway.pii.answer import PSEUDONYMIZER_KEY
from gateway.pii.findings import Finding, PiiDetector
from gateway.pii.locations import Path, replace_texts, request_texts
from gateway.pii.pseudonyms import Pseudonymizer
from gateway.pii.redaction import blocked_types, normalize_actions, redact, resolve_overlaps, unknown_actions
from gateway.pii.scan import scan_texts
from gateway.pii.settings import PiiSettings
from gateway.pipeline import Context

FINDINGS_KEY = "pii.findings"
"""`Context.extras` key: findings per request text, aligned with `request_texts(ctx.body, ...)`;
None when detection failed open."""

UNSCANNED_REASON = "pii.unscanned"
REDACTED_REASON = "pii.redacted"
PSEUDONYMIZED_REASON = "pii.pseudonymized"

_log = structlog.get_logger(__name__)


class DetectPii:
    """Find PII in every text of the request (one batched detector call). Never changes the body.

    Puts entity counts in `ctx.pii_counts` and the findings in `ctx.extras["pii.findings"]`.
    If the detector fails the call fails with `PiiDetectorUnavailable` (503), unless
    `fail_open`: then the call goes on unscanned with reason `pii.unscanned`.
    """

    __slots__ = ("_detector", "_fail_open", "_timeout_s")
    name = "pii.scan"

    def __init__(self, detector: PiiDetector, *, fail_open: bool = False, timeout_s: float | None = None) -> None:
        self._detector = detector
        self._fail_open = fail_open
        self._timeout_s = timeout_s

    async def __call__(self, ctx: Context, /) -> Context:
        locations = request_texts(ctx.body, ctx.request.endpoint)
        texts = [location.text for location in locations]
        try:
            results = await scan_texts(self._detector, texts, timeout_s=self._timeout_s)
        except PiiDetectorUnavailable as exc:
            cause = exc.__cause__
            _log.warning(
                "pii.unavailable",
                direction="request",
                texts=len(texts),
                fail_open=self._fail_open,
                error_type=type(cause).__name__ if cause is not None else type(exc).__name__,
            )
            if not self._fail_open:
                raise
            ctx = replace(ctx, reasons=(*ctx.reasons, UNSCANNED_REASON))
            return ctx.with_extra(FINDINGS_KEY, None)
        findings = tuple(resolve_overlaps(found, len(text)) for found, text in zip(results, texts, strict=True))
        counts = dict(Counter(f.entity_type for group in findings for f in group))
        if counts:
            _log.info("pii.detected", direction="request", entity_counts=counts, texts=len(texts))
        return replace(ctx, pii_counts=counts).with_extra(FINDINGS_KEY, findings)


class ApplyPiiActions:
    """Act on the findings with `ctx.pii_actions`: refuse the call or rewrite the forwarded body.

    Any finding whose action is `block` denies the call with `PiiBlocked` (entity types only).
    Otherwise the body is rewritten (mask / pseudonymize / hash) and the request's
    `Pseudonymizer` is left in `ctx.extras["pii.pseudonymizer"]` for the answer guard. Does
    nothing when `DetectPii` did not run or failed open.
    """

    __slots__ = ("_hash_key",)
    name = "pii.apply"

    def __init__(self, hash_key: bytes | None = None) -> None:
        self._hash_key = hash_key

    async def __call__(self, ctx: Context, /) -> Context:
        stored = ctx.extras.get(FINDINGS_KEY)
        if not isinstance(stored, tuple):
            return ctx
        locations = request_texts(ctx.body, ctx.request.endpoint)
        if len(locations) != len(stored):
            raise GatewayError("PII findings do not match the request body")
        findings = tuple(_findings(group) for group in stored)
        unknown = unknown_actions(ctx.pii_actions)
        if unknown:
            _log.warning("pii.unknown_action", actions=unknown, fallback="mask")
        actions = normalize_actions(ctx.pii_actions)
        blocked = blocked_types(findings, actions)
        if blocked:
            _log.info("pii.blocked", direction="request", entity_types=list(blocked))
            return ctx.deny(PiiBlocked(blocked))
        if self._hash_key is None and "hash" in actions.values():
            _log.warning("pii.hash_key_missing", fallback="mask")
        pseudonymizer = Pseudonymizer()
        pseudonymizer.reserve(location.text for location in locations)
        replacements: dict[Path, str] = {}
        applied: Counter[str] = Counter()
        for location, found in zip(locations, findings, strict=True):
            if not found:
                continue
            result = redact(
                location.text,
                found,
                actions,
                pseudonymizer=pseudonymizer,
                hash_key=self._hash_key,
                kind=location.kind,
            )
            if result.changed:
                replacements[location.path] = result.text
                applied.update(f"{entity_type}:{action}" for entity_type, action in result.applied)
        ctx = ctx.with_extra(PSEUDONYMIZER_KEY, pseudonymizer)
        if not replacements:
            return ctx
        reasons = (REDACTED_REASON, PSEUDONYMIZED_REASON) if pseudonymizer.count else (REDACTED_REASON,)
        _log.info("pii.redacted", direction="request", applied=dict(applied), texts=len(replacements))
        return replace(ctx, body=replace_texts(ctx.body, replacements), reasons=(*ctx.reasons, *reasons))


def _findings(found: object) -> tuple[Finding, ...]:
    """Findings of one text from `ctx.extras` (typed `Any` there), checked."""
    if not isinstance(found, tuple) or not all(isinstance(f, Finding) for f in found):
        raise GatewayError("PII findings in the context are malformed")
    return found


class UseDefaultPiiActions:
    """Step: the configured action per entity type found, for deployments without a policy engine.

    With policy on, the policy step sets `ctx.pii_actions` instead (merging its decision over
    the same defaults).
    """

    name = "pii.actions"

    def __init__(self, settings: PiiSettings) -> None:
        self._settings = settings

    async def __call__(self, ctx: Context, /) -> Context:
        # Every configured type, so answers are scanned even when the prompt had no PII.
        actions = dict(self._settings.default_actions)
        actions.update({entity: self._settings.action_for(entity) for entity in ctx.pii_counts})
        return replace(ctx, pii_actions=actions)
