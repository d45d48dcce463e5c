# ruff: noqa: RUF001 - the typographic apostrophe is part of names and patterns
"""From spaCy's entities to findings: the NER half of name and place detection, without spaCy.

Pure. spaCy's small English model finds most capitalised names in prose but makes the
same mistakes again and again: it runs a name into the next line's field name
(`Cibin\nEmail`), calls `order_id` or `TODO` a person, tags a plain `Mercedes Romano` as an
organisation and `Python` as a place, and reads every capitalised word as a name when
text is written all in one case. These functions take the model's `(label, start, end)`
triples and undo those mistakes; `analyzer.py` runs the model.

Text written all in lower or upper case is handed to NER as `capitalise_words(text)`, a
same-length copy in which content words are capitalised, so offsets map back one to one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.pii.findings import Finding
from gateway.pii.recognizers.base import is_cjk, words
from gateway.pii.recognizers.names import PARTICLES, STOPWORDS

_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def capitalise_words(text: str, lexicon: frozenset[str] = frozenset()) -> str:
    """A same-length copy of `text` in which the words that may be names are capitalised.

    NER finds names in all-lower or all-upper text far better once they are capitalised.
    Capitalising every word also makes it call `Accounting` a place, so with a `lexicon` of
    ordinary English words only the words missing from it are capitalised, plus a word
    right before one of those (the first name in `john garcia`): `forward this to cristina
    galán in accounting` -> `forward this to Cristina Galán in accounting`. Without a
    lexicon every word but a function word is. Characters whose case mapping changes length
    (`ß` -> `SS`) are left alone, so offsets map one to one.
    """
    chars = list(text)
    matches = list(_WORD_RE.finditer(text))
    capitalise = [m.group().lower() not in STOPWORDS and not _is_known(m.group(), lexicon) for m in matches]
    if lexicon:
        for index in range(len(matches) - 1):
            adjacent = matches[index + 1].start() - matches[index].end() == 1
            if capitalise[index + 1] and adjacent and matches[index].group().lower() not in STOPWORDS:
                capitalise[index] = True
    for m, upper in zip(matches, capitalise, strict=True):
        for offset, char in enumerate(m.group()):
            mapped = char.upper() if upper and offset == 0 else char.lower()
            if len(mapped) == 1:
                chars[m.start() + offset] = mapped
    return "".join(chars)


_INFLECTIONS = (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", ""))


def _is_known(word: str, lexicon: frozenset[str]) -> bool:
    """Whether `word` (or its base form, by a few English inflections) is in `lexicon`."""
    if not lexicon:
        return False
    lower = word.lower()
    if lower in lexicon:
        return True
    return any(lower.endswith(end) and lower[: -len(end)] + base in lexicon for end, base in _INFLECTIONS)


NER_LABELS = {
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "NORP": "NRP",
}
"""spaCy (OntoNotes) labels and the presidio entity types they are reported as."""


def ner_findings(
    text: str, entities: Iterable[tuple[str, int, int]], *, wanted: frozenset[str], cased: str | None = None
) -> list[Finding]:
    """Findings from NER entities `(label, start, end)`, cleaned of the model's usual mistakes.

    `cased` is the `capitalise_words(text)` copy when NER ran on that rather than on `text`:
    whether a span is written like a name is then judged on the copy.
    """
    found = []
    normalised = cased is not None
    for label, ent_start, ent_end in entities:
        entity = NER_LABELS.get(label)
        start, end = _trim_span(text, *_first_line(text, ent_start, ent_end))
        span = text[start:end]
        if not span or any(is_cjk(char) or char.isdigit() or char in "_@/\\=<>{}[]" for char in span):
            continue
        words = (cased or text)[start:end].split()
        if entity == "ORGANIZATION" and "PERSON" in wanted and _person_shaped(words):
            # The small English model often labels a plain "First Last" as ORG.
            found.append(Finding("PERSON", start, end, 0.5))
            continue
        if entity is None or entity not in wanted:
            continue
        if (len(words) == 1 and words[0].lower() in _TECH_WORDS | _ORG_WORDS) or _VERSION_AFTER.match(text, end):
            continue  # "Python", "Pixel", "Ubuntu 22.04": software and products, not places or people
        if entity != "PERSON":
            found.append(Finding(entity, start, end, 0.7))
        elif _plausible_person(text, end, words, normalised=normalised):
            found.append(Finding(entity, start, end, 0.85 if len(words) > 1 else 0.7))
    return found


def _plausible_person(text: str, end: int, words: list[str], *, normalised: bool) -> bool:
    """Whether an NER PERSON span is written like a name and is not a field name (`Email:`)."""
    if _KEY_AFTER.match(text, end):
        return False
    if len(words) == 1 and _IMPERATIVE_AFTER.match(text, end) and _SENTENCE_START.search(text[: end - len(words[0])]):
        return False  # "Email me at ...", "Call us": a verb that starts the sentence
    if normalised and len(words) < 2:
        # NER on a capitalised copy also capitalises rare common words: trust only full names there.
        return False
    return _looks_capitalised(words)


def _first_line(text: str, start: int, end: int) -> tuple[int, int]:
    """The part of a span before its first line break (NER runs names into the next line's key)."""
    newline = text.find("\n", start, end)
    return (start, newline) if newline != -1 else (start, end)


def _looks_capitalised(words: list[str]) -> bool:
    """Whether NER's name words are written like a name: `Ada Lovelace`, not `order_id`, `TODO`, `Invalid card`."""
    if not all(word[0].isupper() or word.lower() in PARTICLES for word in words):
        return False
    return not (len(words) == 1 and words[0].isupper() and len(words[0]) > 1)


def _person_shaped(words: list[str]) -> bool:
    """Whether an ORG span reads like a person's name: 2-3 capitalised words, none an organisation word."""
    if not 2 <= len(words) <= 3:
        return False
    for word in words:
        bare = word.strip(".,'’")
        if bare.lower() in PARTICLES:
            continue
        if not bare[:1].isupper() or (bare.isupper() and len(bare) > 1) or bare.lower() in _ORG_WORDS:
            return False
        if not all(char.isalpha() or char in "-'’" for char in bare):
            return False
    return True


_ORG_WORDS = frozenset(
    words(
        "inc corp corporation llc ltd co company companies group bank university college school academy "
        "institute hospital clinic center centre foundation association society council committee "
        "department ministry agency office service services system systems technologies technology tech "
        "solutions labs lab studio studios media network networks cloud software hardware partners "
        "capital holdings ventures international global national team teams club church airlines airways "
        "motors pharma health insurance news times post journal press store stores shop market mart cafe "
        "restaurant hotel hotels bar grill apple google microsoft amazon meta facebook twitter netflix "
        "tesla samsung ibm oracle intel nvidia openai anthropic github gitlab slack zoom teams azure aws "
        "watch pixel phone pay drive docs sheets office outlook chrome edge windows store app apps api "
        "sdk cli street avenue road park bridge river lake mountain county city state republic kingdom "
        "united federal court police army navy force party union league fund trust estate realty "
        "logistics express airlines energy oil gas power electric water foods food kitchen pizza coffee "
        "books records games entertainment pictures"
    )
)
_TECH_WORDS = frozenset(
    words(
        "python java javascript typescript ruby go golang rust swift kotlin scala perl php haskell elixir "
        "erlang docker kubernetes linux ubuntu debian fedora windows macos android ios react angular vue "
        "django flask rails spring node deno bun postgres postgresql mysql redis kafka spark hadoop "
        "terraform ansible jenkins excel word powerpoint jira confluence notion figma"
    )
)
_IMPERATIVE_AFTER = re.compile(
    r"[ \t]+(?:me|us|him|her|them|it|the|a|an|this|that|these|those|my|your|our|all|everyone|back|out|up)\b"
)
_SENTENCE_START = re.compile(r"(?:^|[.!?:\n]\s*)$")
_KEY_AFTER = re.compile(r"[ \t]*[:=]")
_VERSION_AFTER = re.compile(r"[ \t]+v?\d+(?:\.\d+)+")


_EDGE_WORDS = frozenset(
    words(
        "the a an my our your his her their and or of to in on at for with from by hi hello hey dear mr "
        "mrs ms dr tell ask call email ping thanks thank please"
    )
)


def _trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Strip punctuation and common words from the edges of an NER span ("Tell Ahmed" -> "Ahmed")."""
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not (text[end - 1].isalnum() or text[end - 1] == "."):
        end -= 1
    changed = True
    while changed:
        changed = False
        words = text[start:end].split()
        if len(words) > 1 and words[0].lower().rstrip(".") in _EDGE_WORDS:
            start = text.index(words[1], start + len(words[0]))
            changed = True
        words = text[start:end].split()
        if len(words) > 1 and words[-1].lower().rstrip(".") in _EDGE_WORDS:
            end = start + text[start:end].rindex(words[-1])
            end = start + len(text[start:end].rstrip())
            changed = True
    if end > start and text[end - 1] == "." and len(text[start:end].rsplit(maxsplit=1)[-1]) > 2:
        end -= 1
    return start, end
