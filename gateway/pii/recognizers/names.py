# ruff: noqa: RUF001, RUF003 - Chinese full-width punctuation (，：。) is part of the patterns and examples
"""Person names found by the context they stand in, in any script and any letter case.

spaCy's English NER finds most capitalised names in running English prose; it misses the
names real traffic is full of: in JSON and CSV, in log lines and code, in lower case, in
scripts it was never trained on. No name list can fix that (a list from a test-data
generator only learns the generator), so this scanner keys on context instead:

- titles: `Mr`, `Ms`, `Dr`, `Prof`, `Herr`, `Sra`, ... followed by name words;
- introductions and greetings: `my name is`, `call me`, `Dear`, `Hi`, `Hello`, and their
  French, Spanish, German, Italian, Portuguese, Russian, Japanese and Korean forms;
- header and trailer lines: `From:`, `To:`, `Cc:`, `Author:`, `Signed-off-by:`, a name line
  after `Regards,` / `Thanks,`, a display name before `<user@host>`;
- keys in JSON, YAML, logfmt, keyword arguments and XML whose name says person (`name`,
  `full_name`, `customer`, `author`, `assignee`, `patient`, `姓名`, ...);
- CSV, TSV and Markdown tables whose header has such a column: every cell in that column.

A "name word" is a word of letters (any script) that is not an English function word;
in normal text it must be capitalised, after a strong cue (`my name is`, a `first_name`
key, a title) or in text that is all lower or upper case any case is accepted. A
generic `name` key needs a value of two to four name words that are not product or
service words, since `"name": "checkout-service"` is everywhere in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.pii.findings import Finding
from gateway.pii.recognizers.base import words
from gateway.pii.recognizers.fields import (
    KEY_VALUE,
    NON_PERSON_NAME_KEYS,
    STRONG_PERSON_KEY,
    XML_VALUE,
    column_entity,
    table_cells,
)

STOPWORDS = frozenset(  # English function words and greeting objects: never a name word
    words(
        "a about above after again against all also am an and any are as at be because been before being "
        "below between both but by can could did do does doing down during each else ever every few for "
        "from further had has have having he her here hers herself him himself his how i if in into is it "
        "its itself just let me more most my myself no nor not now of off on once only or other our ours "
        "ourselves out over own same she should so some such than that the their theirs them themselves "
        "then there these they this those through to too under until up very was we were what when where "
        "which while who whom why will with would you your yours yourself yourselves yes ok okay please "
        "thanks thank hi hello hey dear regards best cheers sincerely team all everyone everybody folks "
        "guys world there friend friends sir madam maam customer customers user users admin support sales "
        "hr manager hiring committee colleague colleagues again both again morning afternoon evening "
        "today tomorrow yesterday chatgpt gpt claude gemini llama assistant bot copilot siri alexa "
        "mistral qwen deepseek here speaking from via re fwd fw subject new old null none true false "
        "undefined unknown n/a na tbd test example sample default anonymous i'm i’m im i've i'll i'd "
        "it's that's what's let's we're you're they're he's she's there's"
    )
)
# Words a person-name value is rarely made of, but product, service and team names often are.
_NOT_NAME_VALUE = frozenset(
    words(
        "service server app application api project product team group test default config main model "
        "data database db table admin client system module package plugin widget item order report task "
        "job queue cluster node pod bucket file folder document page store shop company inc ltd llc corp "
        "gmbh co bank university school hospital department dept office center centre international "
        "global solutions technologies technology systems services labs lab studio media network cloud "
        "platform engine dashboard portal account backend frontend gateway proxy worker pipeline build "
        "release deploy production staging dev prod region zone tier plan premium basic pro free "
        "enterprise standard edition version type category tag label field column value key record event "
        "schema index view function method class object string number list map set array error warning "
        "info debug log logger handler controller router middleware endpoint request response session "
        "token cache image video audio file text message chat bot agent tool"
    )
)
PARTICLES = frozenset(words("van von de da del della der den di du le la bin binti ibn ben al el dos das y st"))

# Letters of any script, with the combining marks of Indic, Thai, Arabic and Hebrew writing.
_LETTERS = (
    r"(?:[^\W\d_]|[\u0300-\u036f\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0900-\u0903\u093a-\u094f"
    r"\u0962\u0963\u0981-\u0983\u09bc-\u09cd\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])"
)
# A word of letters with inner apostrophes, hyphens or a dot-initial ("J."), any script.
_WORD = re.compile(rf"{_LETTERS}+(?:['’\-]{_LETTERS}+)*\.?")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

_TITLES = re.compile(
    r"(?<![\w.])(?:mr|mrs|ms|miss|mx|dr|prof|professor|sir|dame|madam|mme|mlle|herr|frau|sr|sra|srta|"
    r"sig|signor|signora|rev|fr|capt|captain|col|gen|lt|sgt|officer|judge|hon|mister|mistress)\.?[ \t]+",
    re.IGNORECASE,
)
# Cues after which a name is stated outright: any letter case is accepted.
_STRONG_CUES = re.compile(
    r"(?:(?<![\w])(?:my\s+name\s+is|my\s+name's|name\s+is|i\s+am\s+called|call\s+me|signed\s*[:,]|signed\s+by|"
    r"(?:full\s+|first\s+|last\s+|legal\s+|maiden\s+)?name\s*[:：]|contact\s+person\s*[:：]|attn\s*[:：]?|"
    r"attention\s*[:：]|me\s+llamo|mi\s+nombre\s+es|je\s+m'appelle|mon\s+nom\s+est|ich\s+hei(?:ß|ss)e|"
    r"mein\s+name\s+ist|mi\s+chiamo|il\s+mio\s+nome\s+è|meu\s+nome\s+é|chamo-me|меня\s+зовут|"
    r"моё\s+имя|мое\s+имя)|私の名前は|名前は|제\s*이름은|저는)[ \t]*",
    re.IGNORECASE,
)
# Verbs that put people on a list: a full name must follow ("add Python to PATH" is not one).
_LIST_CUES = re.compile(
    r"(?:^|(?<=[\s>\"'(]))(?:add|added|adding|invite|invited|inviting|welcome|welcoming|introduce|"
    r"introducing|include|remove|book|register|enroll|enrol|hire|hired|promote|promoted|congratulate)[ \t]+",
    re.IGNORECASE,
)
# Greetings: in all-lower-case text the name must end the phrase ("hi john," but not "hi there").
_GREETINGS = re.compile(
    r"(?:^|(?<=[\s>\"'(]))(?:dear|hi|hello|hey|greetings|good\s+(?:morning|afternoon|evening)|thanks|"
    r"thank\s+you|hola|bonjour|hallo|ciao|olá|привет|здравствуйте)[ \t,]+",
    re.IGNORECASE,
)
# Cues often followed by a name but also by other words: the name must be capitalised.
_WEAK_CUES = re.compile(
    r"(?:^|(?<=[\s>\"'(]))(?:this\s+is|i'm|i\s+am|cc|ask|tell|contact|ping|meet\s+with|met\s+with|"
    r"spoke\s+(?:to|with)|talked\s+to|assigned\s+to|according\s+to|forwarded\s+to|escalated\s+to|"
    r"reassigned\s+to|handed\s+over\s+to|on\s+behalf\s+of|belongs\s+to|owned\s+by|(?:signed|approved|"
    r"requested|reviewed|sent|written|prepared|submitted|reported|created|authored)\s+by|introduce\s+you\s+to|"
    r"(?:my|our|your|his|her|their)\s+(?:former\s+|new\s+|old\s+)?(?:colleague|co-?worker|manager|boss|"
    r"friend|wife|husband|son|daughter|mother|father|mom|dad|brother|sister|partner|client|tenant|landlord|"
    r"neighbou?r|patient|student|teacher|doctor|nurse|employee|customer|candidate|intern|assistant|uncle|aunt|"
    r"cousin|grandmother|grandfather|fianc[ée]e?|roommate|classmate|teammate|lawyer|accountant))[ \t]+",
    re.IGNORECASE,
)
_HEADER_CUES = re.compile(
    r"^[ \t>*#/-]*(?:from|to|cc|bcc|reply-to|author|@author|written\s+by|created\s+by|reported\s+by|"
    r"signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|reported-by|suggested-by|assignee|"
    r"assigned\s+to|reporter|owner|maintainer|contact|customer|client|patient|employee|applicant|"
    r"candidate|passenger|guest|member|student|requester|approver|submitted\s+by|prepared\s+by)"
    r"[ \t]*[:：][ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_CLOSINGS = re.compile(
    r"(?:^|\n)[ \t]*(?:best\s+regards|kind\s+regards|warm\s+regards|regards|best\s+wishes|best|thanks|"
    r"thank\s+you|many\s+thanks|cheers|sincerely|yours\s+sincerely|yours\s+truly|yours|respectfully|"
    r"br|rgds|with\s+thanks|talk\s+soon|love|xoxo|cordialement|saludos|mit\s+freundlichen\s+grüßen|"
    r"viele\s+grüße|gruß|此致|敬礼|谢谢)[ \t]*[,.!]?[ \t]*\r?\n[ \t]*(?:--[ \t]*\n[ \t]*)?",
    re.IGNORECASE,
)
# `Ada Lovelace <ada@example.com>`: found from the address backwards (searching for the name
# first would try a match at every word of the text).
_ANGLE_EMAIL = re.compile(r"<[^<>@\s]+@[^<>\s]+>")
_DISPLAY_NAME = re.compile(
    r"(?:^|(?<=[\s:,;(\"']))((?:" + _WORD.pattern + r"[ \t]+){0,3}" + _WORD.pattern + r")[ \t\"']*$"
)


def _is_cased(word: str) -> bool:
    return word.lower() != word.upper()


@dataclass(frozen=True, slots=True)
class _Take:
    """How name words are taken after a cue."""

    relaxed: bool
    max_words: int = 4
    min_words: int = 1
    """Fewer words than this are not taken (a CJK name counts as enough)."""


def _cjk_name_end(word: str, start: int) -> int:
    """End of a name written in CJK characters at the start of `word` (no spaces mark its end)."""
    run = 0
    script = _script(word[0])
    while run < len(word) and _script(word[run]) == script:
        run += 1
    longest = {"han": 4, "hangul": 3, "kana": 8}.get(script, 4)
    if script == "han" and run > longest:
        return start + 3  # the most common length; the run goes on into ordinary text
    return start + min(run, longest)


def _script(char: str) -> str:
    if "\uac00" <= char <= "\ud7af":
        return "hangul"
    if "\u3040" <= char <= "\u30ff":
        return "kana"
    if _CJK.match(char):
        return "han"
    return "other"


def _is_name_word(word: str, take: _Take, *, first: bool) -> bool:
    """Whether `word` can be part of a name: not a function word or title; capitalised unless relaxed."""
    lower = word.lower()
    if lower in PARTICLES and not first:
        return True
    if lower in STOPWORDS or _TITLES.fullmatch(word + " "):
        return False
    return take.relaxed or not _is_cased(word) or word[0].isupper()


def _take_name(text: str, pos: int, take: _Take) -> tuple[int, int] | None:
    """The span of up to `max_words` name words starting at `pos` (spaces between), or None."""
    end = pos
    words = 0
    cursor = pos
    while words < take.max_words:
        m = _WORD.match(text, cursor)
        if not m:
            break
        word = m.group()
        if _CJK.match(word):
            if not words:
                end, words = _cjk_name_end(word, m.start()), take.min_words
            break
        bare = word.rstrip(".")
        if not _is_name_word(bare, take, first=not words):
            break
        # Keep the dot of an initial ("J."), not a sentence's full stop.
        end = m.end() if len(bare) == 1 else m.start() + len(bare)
        words += 1
        gap = re.match(r"[ \t]+", text[end:])
        if not gap:
            break
        cursor = end + len(gap.group())
    if words < take.min_words:
        return None
    # A trailing particle ("Maria de") is not part of the name.
    while True:
        last = text[pos:end].rsplit(None, 1)
        if len(last) == 2 and last[1].lower() in PARTICLES:
            end = pos + len(last[0])
            continue
        break
    return (pos, end) if end > pos else None


def _looks_like_person_value(value: str) -> bool:
    """Whether a generic `name` value looks like a person's name (two to four name words)."""
    words = value.split()
    if _CJK.search(value):
        return 2 <= len(value.strip()) <= 4 and len(words) == 1
    if not 2 <= len(words) <= 4:
        return False
    for word in words:
        lower = word.lower().strip(".,")
        if not _WORD.fullmatch(word) or lower in _NOT_NAME_VALUE or (lower in STOPWORDS and lower not in PARTICLES):
            return False
        if _is_cased(word) and not word[0].isupper() and lower not in PARTICLES:
            return False
    return True


_MIN_CASED_LETTERS = 12  # shorter texts are too short to judge
_MOSTLY_LOWER = 0.03  # a capital per ~30 letters is ordinary prose
_MOSTLY_UPPER = 0.9


def is_mostly_one_case(text: str) -> bool:
    """Whether the cased letters of `text` are nearly all lower case or nearly all upper case."""
    upper = sum(map(str.isupper, text))
    cased = upper + sum(map(str.islower, text))
    if cased < _MIN_CASED_LETTERS:
        return False
    share = upper / cased
    return share < _MOSTLY_LOWER or share > _MOSTLY_UPPER


@dataclass(frozen=True, slots=True)
class ContextNameScanner:
    """Person names after titles, introductions, greetings, header keys and in name columns."""

    strong_score: float = 0.85
    """Score of a name after a strong cue (title, `my name is`, a person key, a name column)."""
    weak_score: float = 0.6
    """Score of a capitalised name after a weak cue (`Hi`, `Dear`, `this is`)."""

    @property
    def entities(self) -> tuple[str, ...]:
        return ("PERSON", "LOCATION", "ADDRESS")

    def scan(self, text: str, /) -> list[Finding]:
        relaxed_text = is_mostly_one_case(text)
        found: list[Finding] = []
        found += self._after(text, _TITLES, _Take(relaxed=relaxed_text, max_words=3), self.strong_score)
        found += self._after(text, _STRONG_CUES, _Take(relaxed=True, max_words=3), self.strong_score)
        found += self._after(text, _HEADER_CUES, _Take(relaxed=relaxed_text), self.strong_score)
        found += self._after(text, _CLOSINGS, _Take(relaxed=True, max_words=3), 0.75, whole_line=True)
        found += self._after(text, _WEAK_CUES, _Take(relaxed=False, max_words=3), self.weak_score)
        found += self._after(text, _LIST_CUES, _Take(relaxed=False, max_words=3, min_words=2), self.weak_score)
        found += self._greetings(text, relaxed=relaxed_text)
        for address in _ANGLE_EMAIL.finditer(text):
            window_start = max(0, address.start() - 80)
            m = _DISPLAY_NAME.search(text, window_start, address.start())
            if m is None:
                continue
            span = _take_name(text, m.start(1), _Take(relaxed=True))
            if span and span[1] >= m.end(1) - 1:
                found.append(Finding("PERSON", span[0], span[1], self.strong_score))
        found += self._key_values(text)
        found += self._tables(text)
        return found

    def _after(
        self, text: str, cue: re.Pattern[str], take: _Take, score: float, *, whole_line: bool = False
    ) -> list[Finding]:
        found = []
        for m in cue.finditer(text):
            span = _take_name(text, m.end(), take)
            if span is None:
                continue
            if whole_line:
                rest = text[span[1] :].split("\n", 1)[0].strip()
                if rest and not rest.startswith((",", "|", "-", "(")):
                    continue
            found.append(Finding("PERSON", span[0], span[1], score))
        return found

    def _greetings(self, text: str, *, relaxed: bool) -> list[Finding]:
        found = self._after(text, _GREETINGS, _Take(relaxed=False, max_words=3), self.weak_score)
        if relaxed:
            for m in _GREETINGS.finditer(text):
                span = _take_name(text, m.end(), _Take(relaxed=True, max_words=2))
                if span and re.match(r"[ \t]*(?:[,!.:\n]|$)", text[span[1] :]):
                    found.append(Finding("PERSON", span[0], span[1], self.weak_score))
        return found

    def _key_values(self, text: str) -> list[Finding]:
        found = []
        for m in KEY_VALUE.finditer(text):
            group = "quoted" if m.group("quoted") is not None else "bare"
            found.extend(self._value(text, m.group("key"), m.start(group), m.group(group)))
        for m in XML_VALUE.finditer(text):
            found.extend(self._value(text, m.group("key"), m.start("value"), m.group("value")))
        return found

    def _value(self, text: str, key: str, start: int, value: str) -> list[Finding]:
        stripped = value.strip()
        start += len(value) - len(value.lstrip())
        end = start + len(stripped)
        entity = column_entity(key)
        if entity in ("LOCATION", "ADDRESS"):
            # An address has words ("address": "10.0.0.1" is a network address).
            wordy = entity == "LOCATION" or len(stripped.split()) > 1 or bool(_CJK.search(stripped))
            ok = wordy and any(char.isalpha() for char in stripped)
            return [Finding(entity, start, end, self.strong_score)] if ok else []
        if (
            not stripped
            or "@" in stripped
            or any(char.isdigit() for char in stripped)
            or NON_PERSON_NAME_KEYS.match(key)
        ):
            return []
        if not STRONG_PERSON_KEY.match(key):
            # `name`, `user_name`, `x_name`: only a value that looks like a person's name.
            ok = _looks_like_person_value(stripped)
            return [Finding("PERSON", start, end, self.weak_score)] if ok else []
        span = _take_name(text, start, _Take(relaxed=True))
        ok = span is not None and span[1] - span[0] >= len(stripped) // 2
        return [Finding("PERSON", span[0], span[1], self.strong_score)] if span is not None and ok else []

    def _tables(self, text: str) -> list[Finding]:
        """Cells under a person, location or address column of a CSV, TSV or Markdown table."""
        found: list[Finding] = []
        for entity, start, end in table_cells(text):
            cell = text[start:end]
            digits_ok = entity == "ADDRESS" or not any(char.isdigit() for char in cell)
            if "@" not in cell and digits_ok and any(char.isalpha() for char in cell):
                found.append(Finding(entity, start, end, self.strong_score))
        return found
