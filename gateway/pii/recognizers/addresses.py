# ruff: noqa: RUF001, RUF003 - Chinese full-width punctuation (，：。) is part of the patterns and examples
"""Postal addresses, English-style and Chinese, as `ADDRESS` findings.

Presidio ships no street-address recognizer, and NER finds a city (`LOCATION`) but not the
house number and street that make an address personal. These scanners look for the shape
of an address instead:

- English-style: a house number, a street name and a USPS street suffix (`Street`, `Ave`,
  `Ridge`, ...), optionally a unit (`Apt 4`, `Suite 690`) and a `City, ST 12345` line; US
  military addresses (`PSC 1234, Box 5678, APO AE 12345`); German `Hauptstraße 5`.
- Chinese: administrative levels in their fixed order, 省/自治区 > 市 > 区/县 > 镇/街道 >
  路/街/巷 > 号 > 栋/单元/室, anchored at a province name or a context word (地址, 住在,
  寄到, ...), or free-standing when a road and a house number are both present.

A city or province alone is not an address: NER reports those as `LOCATION`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.pii.findings import Finding
from gateway.pii.recognizers.base import words

# USPS Publication 28, appendix C1: the standard street suffixes and their abbreviations.
_SUFFIXES = words(
    "allee alley ally aly anex annex arcade arc avenue ave av bayou byu beach bch bend bnd bluffs? "
    "blf bottom btm boulevard blvd branch br bridge brg brooks? brk burgs? bg bypass byp camp cp "
    "canyon cyn cape cpe causeway cswy centers? ctr cir circles? cliffs? clf club clb close commons? "
    "cmn corners? cor course crse court ct courts cts coves? cv creek crk crescent cres crest crst "
    "crossing xing crossroad curve curv dale dl dam dm divide dv drive dr drives ests? estates? "
    "expressway expy extensions? ext falls? fall ferry fry fields? fld flats? flt fords? frd forest "
    "frst forges? frg forks? frk fort ft freeway fwy gardens? gdn gateway gtwy glens? gln greens? grn "
    "groves? grv harbors? hbr haven hvn heights hts highway hwy hills? hl hollow holw inlet islands? "
    "is isle junctions? jct keys? ky knolls? knl lakes? lk land landing lndg lane ln lights? lgt loaf "
    "lf locks? lck lodge ldg loop mall manors? mnr meadows? mdw mews mills? ml mission msn motorway "
    "mtwy mount mt mountains? mtn neck nck orchard orch oval overpass opas park parks parkways? pkwy "
    "pass passage psge path pike pines? pne place pl plains? pln plaza plz points? pt ports? prt "
    "prairie pr radial radl ramp ranch rnch rapids? rpd rest rst ridges? rdg river riv road rd roads "
    "route rte row rue run shoals? shl shores? shr skyway skwy springs? spg spurs? spur squares? sq "
    "station sta stravenue stra streams? strm street st streets summit smt terrace ter throughway "
    "trwy trace trce track trak trafficway trfy trail trl trailer trlr tunnel tunl turnpike tpke "
    "underpass upas unions? un valleys? vly viaduct via vista vis views? vw villages? vlg ville vl "
    "walks? wall way ways wells? wl"
)
_SUFFIX_RE = "(?:" + "|".join(sorted(_SUFFIXES, key=len, reverse=True)) + ")"
_STATES = words(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI FM MH PW AA AE AP"
)
_NOT_STREET_WORD = (
    r"(?!(?:of|the|a|an|and|or|to|in|on|at|for|with|by|from|is|are|was|were|be|more|than|per|our|your|"
    r"my|his|her|their|its|this|that|these|those|new|main points?|days?|years?|months?|weeks?|hours?|"
    r"minutes?|times?|items?|steps?|ways?|people|users?|files?)\b)"
)
_STREET_WORD = _NOT_STREET_WORD + r"[A-Za-z][A-Za-z'.-]*"
_UNIT = r"(?:\s*,?\s*(?:apt|apartment|suite|ste|unit|fl|floor|rm|room|bldg|building|#)\.?\s*#?\s*[A-Za-z0-9-]{1,6})"
_CITY_LINE = (
    r"(?:\s*[,\n]\s*[A-Z][A-Za-z.'-]*(?:\s+[A-Z][A-Za-z.'-]*){0,3},?\s+(?-i:" + "|".join(_STATES) + r")\s+"
    r"\d{5}(?:-\d{4})?)"
)
_EN_STREET = re.compile(
    r"(?<![\w.-])\d{1,6}[A-Za-z]?(?:-\d{1,4})?\s+(?:(?:[NSEW]|north|south|east|west)\.?\s+)?"
    rf"(?:{_STREET_WORD}\s+){{0,3}}{_STREET_WORD}\s+{_SUFFIX_RE}\.?(?:\s+(?-i:[NS][EW]|[NSEW])\b)?(?![\w-])({_UNIT}?)({_CITY_LINE}?)",
    re.IGNORECASE,
)
_MILITARY = re.compile(
    r"\b(?:(?:USNS|USNV|USS|USCGC)\s+[A-Z][A-Za-z]+|(?:PSC|Unit|CMR)\s+\d{4},?\s+Box\s+\d{4})"
    r"\s*[,\n]?\s*(?:FPO|APO|DPO)\s+A[AEP]\s+\d{5}\b"
)
_DE_STREET = re.compile(
    r"\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}[a-z]?\b"
    r"(?:,?\s+\d{5}\s+[A-ZÄÖÜ][\wäöüß-]+)?"
)
_ADDRESS_CONTEXT = re.compile(
    r"(?:address|addr|live at|lives at|living at|located at|ship to|deliver to|mail to|send to|residence|"
    r"billing|shipping|home)\W{0,3}$",
    re.IGNORECASE,
)

_CJK = "\u4e00-\u9fff"
_PROVINCE = (
    r"(?:(?:北京|天津|上海|重庆)市?|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|"
    r"广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾)省|(?:内蒙古|广西壮族|广西|西藏|宁夏回族|宁夏|新疆维吾尔|新疆)"
    r"自治区|(?:内蒙古|广西|西藏|宁夏|新疆)|(?:香港|澳门)(?:特别行政区)?)"
)
_ZH_CONTEXT = r"(?:地址|住址|住在|家住|居住在|位于|寄到|寄往|送到|送至|收货地址|通讯地址|户籍地|住所)[\s:：为是]{0,2}"
_NUM = r"[0-9０-９一二三四五六七八九十百零]"
_ZH_CITY = rf"(?:[{_CJK}]{{1,6}}?(?:市|州|盟|地区))"
_ZH_DISTRICT = rf"(?:[{_CJK}]{{1,6}}?(?:区|县|旗))"
_ZH_TOWN = rf"(?:[{_CJK}]{{1,8}}?(?:镇|乡|街道|村))"
_ZH_ROAD = rf"(?:[{_CJK}0-9]{{1,10}}?(?:大道|路|街|道|巷|胡同|弄|里))"
_ZH_NUMBER = rf"(?:{_NUM}+(?:-{_NUM}+)?(?:号|弄))"
_ZH_BUILDING = rf"(?:\s?[{_NUM[1:-1]}A-Za-z]+(?:号楼|栋|幢|座|单元|层|楼|室|号))"
_ZH_TAIL = rf"{_ZH_CITY}?{_ZH_DISTRICT}?{_ZH_TOWN}?{_ZH_ROAD}?{_ZH_NUMBER}?{_ZH_BUILDING}{{0,4}}(?:\s?\d{{6}}(?!\d))?"
_ZH_ANCHORED = re.compile(rf"{_ZH_CONTEXT}((?:{_PROVINCE})?{_ZH_TAIL})|({_PROVINCE}{_ZH_TAIL})")
_ZH_FREE = re.compile(
    rf"(?:[{_CJK}]{{2,3}}市)?(?:[{_CJK}]{{1,4}}(?:区|县))?[{_CJK}0-9]{{1,8}}?(?:大道|路|街|巷|胡同)"
    rf"{_ZH_NUMBER}{_ZH_BUILDING}{{0,4}}"
)
_ZH_SEGMENT_END = re.compile(
    r"省|自治区|行政区|市|州|盟|地区|区|县|旗|镇|乡|街道|村|大道|路|街|道|巷|胡同|弄|里|号|栋|幢|座|单元|层|楼|室"
)
# Characters a free-standing address does not start with (在深圳市... -> 深圳市...).
_ZH_LEADING_NOISE = set("在到于住是的我你他她从往去寄送位家址：:，,。请把给")


@dataclass(frozen=True, slots=True)
class AddressScanner:
    """Street addresses in English-style and Chinese notation (see the module docstring)."""

    @property
    def entities(self) -> tuple[str, ...]:
        return ("ADDRESS",)

    def scan(self, text: str, /) -> list[Finding]:
        found: list[Finding] = []
        for m in _EN_STREET.finditer(text):
            strong = bool(m.group(1) or m.group(2)) or bool(
                _ADDRESS_CONTEXT.search(text[max(0, m.start() - 30) : m.start()])
            )
            found.append(Finding("ADDRESS", m.start(), m.end(), 0.85 if strong else 0.6))
        found.extend(Finding("ADDRESS", m.start(), m.end(), 0.85) for m in _MILITARY.finditer(text))
        found.extend(Finding("ADDRESS", m.start(), m.end(), 0.7) for m in _DE_STREET.finditer(text))
        found.extend(self._chinese(text))
        return found

    def _chinese(self, text: str) -> list[Finding]:
        found = []
        for m in _ZH_ANCHORED.finditer(text):
            start, end = m.span(1) if m.group(1) is not None else m.span(2)
            # The province or context word alone, or plus one level, is a region, not an address.
            if len(_ZH_SEGMENT_END.findall(text[start:end])) >= 3:
                found.append(Finding("ADDRESS", start, end, 0.85))
        for m in _ZH_FREE.finditer(text):
            start = m.start()
            while start < m.end() and text[start] in _ZH_LEADING_NOISE:
                start += 1
            found.append(Finding("ADDRESS", start, m.end(), 0.7))
        return found
