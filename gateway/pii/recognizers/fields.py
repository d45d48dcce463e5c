# ruff: noqa: RUF001 - Chinese keys (姓名, 地址, ...) are part of the patterns
"""Fields in structured text: keys in JSON, YAML, logfmt and XML, and columns of tables.

What a field's name says it holds (a person, a location, an address) is often the only sign
that its value is personal data: `"customer": "li wei"` has no title, no capital and no cue in
the value itself. This module finds such fields and their values; `names.py` decides which
values are reported, and with which score.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_PERSON_KEYS = (
    r"full_?name|first_?name|last_?name|given_?name|family_?name|sur_?name|middle_?name|maiden_?name|"
    r"legal_?name|display_?name|preferred_?name|real_?name|person(?:_?name)?|"
    r"(?:customer|client|contact|billing|shipping|bill_?to|ship_?to|account_?holder|card_?holder|holder|"
    r"patient|employee|member|student|guest|passenger|applicant|candidate|beneficiary|recipient|sender|"
    r"owner|author|assignee|reporter|requester|approver|signatory|spouse|parent|mother|father|emergency_?contact|"
    r"manager|doctor|physician|nurse|teacher|driver|tenant|landlord|buyer|seller)_?(?:full_?)?name|"
    r"customer|client|contact|contact_?person|cardholder|card_?holder|account_?holder|patient|employee|"
    r"passenger|guest|applicant|beneficiary|recipient|sender|author|assignee|reporter|requester|approver|"
    r"signatory|spouse|emergency_?contact|next_?of_?kin|attendee|speaker|"
    r"姓名|名字|联系人|收件人|收货人|客户|客户姓名|持卡人|负责人|申请人"
)
KEY_VALUE = re.compile(
    r"(?:(?<=[\s{,(\[\"'<])|^)(?P<q>[\"']?)(?P<key>(?:[A-Za-z]+[_.-])?(?:" + _PERSON_KEYS + r"|name|city|town|country|"
    r"province|address|street|street_?address|address_?line_?\d?|地址|住址|城市))(?P=q)"
    r"[ \t]*(?::=|=>|[:=：])[ \t]*"
    r"(?:(?P<qv>[\"'])(?P<quoted>[^\"'\n]{1,80})(?P=qv)|(?P<bare>[^\n,;{}\[\]\"'<>|]{1,80}))",
    re.IGNORECASE | re.MULTILINE,
)
XML_VALUE = re.compile(
    r"<(?P<key>(?:[A-Za-z]+[_-])?(?:" + _PERSON_KEYS + r"|name))(?:\s[^>]*)?>(?P<value>[^<\n]{1,80})</(?P=key)>",
    re.IGNORECASE,
)
_PERSON_KEY_RE = re.compile(
    r"^(?:[A-Za-z]+[_. -])?(?:" + _PERSON_KEYS.replace("_?", "[_ ]?") + r"|name)$", re.IGNORECASE
)
STRONG_PERSON_KEY = re.compile(r"^(?:" + _PERSON_KEYS + r")$", re.IGNORECASE)
NON_PERSON_NAME_KEYS = re.compile(
    r"^(?:file|host|app|service|model|class|table|column|bucket|db|database|project|product|company|"
    r"org|organization|organisation|domain|package|module|function|method|field|key|tag|branch|repo|image|"
    r"container|cluster|node|pod|queue|topic|event|metric|index|schema|server|device|region|zone|bank|"
    r"brand|team|group|role|display|job|task|step|stage|env|variable|var|param|argument|arg|type|kind|"
    r"resource|plugin|feature|tool|app_?)[_.-]?name$",
    re.IGNORECASE,
)
CSV_DELIMITERS = (",", "\t", ";", "|")
_LOCATION_KEY = re.compile(
    r"^(?:[A-Za-z]+[_ .-])?(?:city|town|country|province|county|birth_?place|place_?of_?birth|城市|省份|国家)$",
    re.IGNORECASE,
)
_ADDRESS_KEY = re.compile(
    r"^(?:[A-Za-z]+[_ .-])?(?:address|street|street_?address|address_?line_?\d?|addr|address\d|住址|地址|收货地址)$",
    re.IGNORECASE,
)


def column_entity(header: str) -> str | None:
    """The entity type of a table column or JSON key by its name, or None."""
    header = header.strip().strip("\"'")
    if _ADDRESS_KEY.match(header):
        return "ADDRESS"
    if _LOCATION_KEY.match(header):
        return "LOCATION"
    if _PERSON_KEY_RE.match(header) and not NON_PERSON_NAME_KEYS.match(header.replace(" ", "_")):
        return "PERSON"
    return None


def table_cells(text: str) -> Iterator[tuple[str, int, int]]:
    """(entity type, start, end) of every non-empty cell under a PII column of a CSV, TSV or
    Markdown table in `text`; a table ends at the first line with another number of cells."""
    lines = text.split("\n")
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    index = 0
    while index < len(lines):
        header = table_header(lines[index])
        index += 1
        if header is None:
            continue
        delimiter, columns, width = header
        while index < len(lines):
            line = lines[index]
            if delimiter == "|" and re.fullmatch(r"[\s|:-]+", line) and line.strip():
                index += 1
                continue
            cells = split_cells(line, delimiter)
            if len(cells) != width:
                break
            for column, entity in columns.items():
                cell_start, cell_end = cells[column]
                if cell_end > cell_start:
                    yield entity, offsets[index] + cell_start, offsets[index] + cell_end
            index += 1


def split_cells(line: str, delimiter: str) -> list[tuple[int, int]]:
    """Cell spans of one table line, trimmed of spaces and quotes (quoted delimiters are not split)."""
    cells = []
    start = 0
    quoted = False
    bounds = []
    for position, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            bounds.append((start, position))
            start = position + 1
    bounds.append((start, len(line)))
    if delimiter == "|":
        bounds = [
            bound
            for i, bound in enumerate(bounds)
            if not (i in (0, len(bounds) - 1) and not line[slice(*bound)].strip())
        ]
    for bound_start, bound_end in bounds:
        cell_start, cell_end = bound_start, bound_end
        while cell_start < cell_end and line[cell_start] in " \t\"'":
            cell_start += 1
        while cell_end > cell_start and line[cell_end - 1] in " \t\"'\r":
            cell_end -= 1
        cells.append((cell_start, cell_end))
    return cells


def table_header(line: str) -> tuple[str, dict[int, str], int] | None:
    """(delimiter, {column: entity type}, column count) when `line` is a table header with a PII column."""
    for delimiter in CSV_DELIMITERS:
        if line.count(delimiter) < 1:
            continue
        cells = [line[start:end] for start, end in split_cells(line, delimiter)]
        if len(cells) < 2:
            continue
        columns = {i: entity for i, cell in enumerate(cells) if (entity := column_entity(cell)) is not None}
        if columns and all(len(cell) <= 40 for cell in cells):
            return delimiter, columns, len(cells)
    return None
