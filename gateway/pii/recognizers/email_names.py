"""Person names that stand next to their owner's email address and match its local part.

The small NER model misses some names right beside an address (`reply to David Chen
(david.chen@example.org, ...)`), and no cue word precedes them. The address itself is the
cue: people's addresses are made of their names. A run of one to four capitalised name words
within a short window before or after an address is reported when its words match the
local part, split on `. _ - +` and digits into pieces (accents folded, case ignored):

- two words equal two pieces (`David Chen` / `david.chen@`, `chen_david@`);
- a word and another word's initial make the local part (`dchen@`, `chend@`, `david.c@`), or
  two words do (`davidchen@`);
- one word is the whole alphabetic local part (`Alice` / `alice@`), unless it is a common or
  role word (`Contact Sales (sales@acme.com)`).

Role and team addresses (`support@`, `no-reply@`, `help.desk@`) are never matched. Names
that do not match their address (a nickname, a changed surname) are left to the other
recognizers; so is lower-case text. Not a name list: only the address and the text are used.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from gateway.pii.findings import Finding
from gateway.pii.recognizers.base import words
from gateway.pii.recognizers.names import PARTICLES, STOPWORDS

ROLE_WORDS = frozenset(  # role, team and system mailboxes: never a person's address or name
    words(
        "info information contact contacts enquiries enquiry inquiries inquiry hello office mail mailer "
        "email postmaster webmaster hostmaster abuse noreply donotreply reply no do not daemon bounce "
        "bounces root system notifications notification notify alerts alert news newsletter updates "
        "feedback help helpdesk desk service services servicedesk care success billing invoices invoice "
        "accounts accounting payments payroll finance legal privacy compliance security press media "
        "marketing partners partnerships jobs careers recruiting recruitment talent people hr ops "
        "operations devops it engineering dev developers product design research data science analytics "
        "orders order shipping returns bookings booking reservations reception frontdesk general "
        "department dept group staff board management community events social sales support admin team "
        "git www ftp ubuntu debian ec2 deploy build bot github gitlab docker postgres mysql guest nobody"
    )
)
_WINDOW = 48  # characters searched on each side of an address
_MAX_WORDS = 4
_EMAIL = re.compile(r"(?<![\w.%+-])([\w.%+-]+)@[\w-]+(?:\.[\w-]+)+")
_LETTER = r"(?:[^\W\d_]|[\u0300-\u036f])"
_WORD = re.compile(rf"(?<![\w'\u2019-]){_LETTER}+(?:['\u2019-]{_LETTER}+)*\.?")
_GAP = re.compile(r"[ \t]*(,)?[ \t]*")
_OPENERS, _CLOSERS = "(<[\"'\u201c\u2018", ")>]\"'\u201d\u2019"


def _fold(text: str) -> str:
    """Lower case without accents: `Núñez` -> `nunez`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@dataclass(frozen=True, slots=True)
class _Word:
    start: int
    end: int
    joined: str
    """Folded letters only (`O'Brien` -> `obrien`, `Jean-Luc` -> `jeanluc`)."""
    parts: tuple[str, ...]
    """Folded hyphen-separated parts (`Jean-Luc` -> `jean`, `luc`)."""
    comma_before: bool


@dataclass(frozen=True, slots=True)
class EmailNameScanner:
    """Person names beside an email address whose local part is made of them."""

    common_words: frozenset[str] = frozenset()
    """Ordinary words (folded) that a one-word match may not be, on top of the role words."""
    score: float = 0.85
    """As `ContextNameScanner`'s display name before `<user@host>`."""

    @property
    def entities(self) -> tuple[str, ...]:
        return ("PERSON",)

    def scan(self, text: str, /) -> list[Finding]:
        emails = list(_EMAIL.finditer(text))
        found: list[Finding] = []
        for index, email in enumerate(emails):
            pieces = [piece for piece in re.split(r"[._+\-%\d]+", _fold(email.group(1))) if piece]
            if not pieces or all(piece in ROLE_WORDS or piece in STOPWORDS for piece in pieces):
                continue
            previous_end = emails[index - 1].end() if index else 0
            next_start = emails[index + 1].start() if index + 1 < len(emails) else len(text)
            lo, hi = max(previous_end, email.start() - _WINDOW), min(next_start, email.end() + _WINDOW)
            for run in _runs(text, lo, email.start()):
                found += self._match(text, run, pieces, before=True)
            for run in _runs(text, email.end(), hi):
                found += self._match(text, run, pieces, before=False)
        return found

    def _match(self, text: str, run: list[_Word], pieces: list[str], *, before: bool) -> list[Finding]:
        matched = _matched(run, pieces, self.common_words)
        if not matched:
            return []
        first, last = min(matched), max(matched)
        # Words between the match and the address belong to the name (`Alice Jones <alice@...>`).
        while before and last + 1 < len(run) and not run[last + 1].comma_before:
            last += 1
        while not before and first > 0 and not run[first].comma_before:
            first -= 1
        if run[0].start > 0 and text[run[0].start - 1] in _OPENERS and text[run[-1].end : run[-1].end + 1] in _CLOSERS:
            first, last = 0, len(run) - 1  # the whole of `(Alice Jones)` or `"Alice Jones"`
        if last - first + 1 > _MAX_WORDS:
            return []
        return [Finding("PERSON", run[first].start, run[last].end, self.score)]


def _matched(run: list[_Word], pieces: list[str], common: frozenset[str]) -> set[int]:
    """Indices of the words of `run` that make up the local part, or an empty set."""
    by_piece = {part: i for i, word in enumerate(run) for part in word.parts if part in pieces}
    if len(by_piece) >= 2 and any(len(piece) > 1 for piece in by_piece):
        return set(by_piece.values())
    local = "".join(pieces)
    for i, x in enumerate(run):
        for j, y in enumerate(run):
            if i != j and local in (x.joined + y.joined, x.joined[0] + y.joined, x.joined + y.joined[0]):
                return {i, j}
    for i, word in enumerate(run):
        if word.joined == local and len(local) > 1 and local not in common:
            return {i}
    return set()


def _runs(text: str, lo: int, hi: int) -> list[list[_Word]]:
    """Runs of capitalised name words in `text[lo:hi]`, joined by spaces or a comma."""
    runs: list[list[_Word]] = [[]]
    previous_end = -1
    for m in _WORD.finditer(text, lo, hi):
        bare = m.group().rstrip(".")
        end = m.end() if len(bare) == 1 else m.start() + len(bare)  # keep an initial's dot only
        folded = _fold(bare)
        parts = tuple(part for part in folded.replace("'", "").replace("\u2019", "").split("-") if part)
        gap = _GAP.fullmatch(text, previous_end, m.start()) if previous_end >= 0 else None
        if gap is None:
            runs.append([])
        partial = m.end() == hi < len(text) and text[hi].isalpha()
        particle = folded in PARTICLES and bool(runs[-1])
        name_like = bare[:1].isupper() and folded not in STOPWORDS and folded not in ROLE_WORDS
        if partial or not parts or not (name_like or particle):
            runs.append([])
            previous_end = -1
            continue
        comma = gap is not None and gap.group(1) is not None
        runs[-1].append(_Word(m.start(), end, "".join(parts), parts, comma))
        previous_end = end
    trimmed = []
    for run in runs:
        while run and run[-1].joined in PARTICLES:
            run.pop()
        if run:
            trimmed.append(run)
    return trimmed
