# ruff: noqa: RUF001, RUF003 - Chinese full-width punctuation (，：。) is part of the patterns and examples
"""Generate tests/data/pii_corpus.jsonl: a labelled synthetic corpus for PII detection quality.

Run: `.venv/bin/python tests/data/make_pii_corpus.py` (deterministic: fixed seeds).

Each record: {"id", "lang" (en | zh | mixed), "category", "text", "spans": [{start, end,
entity_type}]}. Values come from Faker (en_US and zh_CN, plus other locales for names, so
names of many cultures and scripts appear) and from generators here for identifiers with
check digits and for credentials. Negative records (no spans) hold what must NOT be
flagged: order numbers, versions, hashes, UUIDs, timestamps, invalid-checksum IDs and cards.

Labelling conventions: a span covers the value only (no title, no key, no quotes); a
postal address is one ADDRESS span including city, state and postcode; person names are
PERSON whatever the script; Chinese mobiles are PHONE_NUMBER, bank cards CREDIT_CARD.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import re
import string
import uuid
from pathlib import Path

from faker import Faker

SEED = 20261128
# Fixed bounds: dates must not depend on the day the generator runs.
_EPOCH_START = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
_EPOCH_END = dt.datetime(2025, 12, 31, tzinfo=dt.UTC)
OUT = Path(__file__).with_name("pii_corpus.jsonl")

rng = random.Random(SEED)
fake = Faker("en_US")
fake.seed_instance(SEED)
fake_zh = Faker("zh_CN")
fake_zh.seed_instance(SEED + 1)
LATIN_LOCALES = [
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "es_MX",
    "pt_BR",
    "it_IT",
    "pl_PL",
    "nl_NL",
    "en_IN",
    "tr_TR",
    "sv_SE",
    "en_NG",
]
SCRIPT_LOCALES = ["ru_RU", "ja_JP", "ko_KR", "el_GR", "uk_UA", "hi_IN", "ar_AA", "he_IL", "th_TH"]
fakers = {}
for index, locale in enumerate(LATIN_LOCALES + SCRIPT_LOCALES):
    try:
        fakers[locale] = Faker(locale)
    except AttributeError:
        continue
    fakers[locale].seed_instance(SEED + 10 + index)

_SLOT = re.compile(r"⟨(\w+)⟩")


def render(template: str, **slots: tuple[str | None, str]) -> tuple[str, list[dict]]:
    """Fill ⟨slot⟩ markers; slots whose type is not None become gold spans."""
    out: list[str] = []
    spans = []
    pos = 0
    length = 0
    for m in _SLOT.finditer(template):
        literal = template[pos : m.start()]
        out.append(literal)
        length += len(literal)
        entity, value = slots[m.group(1)]
        if entity is not None:
            spans.append({"start": length, "end": length + len(value), "entity_type": entity})
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), spans


def person(script: bool = False) -> str:
    locales = LATIN_LOCALES + (SCRIPT_LOCALES if script else [])
    f = fakers[rng.choice([loc for loc in locales if loc in fakers])]
    if f.locales[0] in ("ja_JP", "ko_KR", "zh_CN"):
        return f.last_name() + f.first_name()
    return f"{f.first_name()} {f.last_name()}"


def zh_person() -> str:
    return fake_zh.name()


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        candidate = body + check
        total = 0
        for i, c in enumerate(reversed(candidate)):
            d = int(c)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return candidate
    raise AssertionError


def luhn_broken(prefix: str, length: int) -> str:
    good = luhn_complete(prefix, length)
    return good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)


def group4(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def cn_id(valid: bool = True) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    region = rng.choice(["110101", "310104", "440305", "330106", "510107", "420102", "320102", "610113"])
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = region + birth + f"{rng.randint(0, 999):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return body + check


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc() -> str:
    body = (
        "91"
        + rng.choice(["110108", "310115", "440300", "330100"])
        + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    )
    body = body[:8] + rng.choice("MABCDEFGH") + body[9:]
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def cn_mobile() -> str:
    number = rng.choice(["13", "15", "17", "18", "19"]) + "".join(rng.choice(string.digits) for _ in range(9))
    style = rng.randint(0, 4)
    if style == 1:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 3:
        return "+86 " + number
    return number


def us_phone() -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(1000, 9999)
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}", f"+1-{a}-{b}-{c}"])


def intl_phone() -> str:
    return rng.choice(
        [
            f"+44 20 {rng.randint(7000, 7999)} {rng.randint(1000, 9999)}",
            f"+49 30 {rng.randint(100000, 999999)}{rng.randint(0, 99):02d}",
            f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
            f"+91 98{rng.randint(100, 999)} {rng.randint(10000, 99999)}",
        ]
    )


def ssn() -> str:
    return f"{rng.randint(101, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def rand(alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def openai_key() -> str:
    return rng.choice(["sk-proj-" + rand(ALNUM + "-_", 48), "sk-" + rand(ALNUM, 48)])


def anthropic_key() -> str:
    return "sk-ant-api03-" + rand(ALNUM + "-_", 93) + "AA"


def github_token() -> str:
    return (
        rng.choice(["ghp_", "gho_", "ghs_"]) + rand(ALNUM, 36)
        if rng.random() < 0.7
        else "github_pat_" + rand(ALNUM + "_", 82)
    )


def jwt() -> str:
    def seg(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = seg({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"})
    payload = seg({"sub": str(rng.randint(1000, 99999)), "iat": rng.randint(1600000000, 1800000000)})
    return f"{header}.{payload}.{rand(ALNUM + '-_', 43)}"


def pem() -> str:
    kind = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"])
    lines = [rand(B64, 64) for _ in range(rng.randint(3, 6))] + [rand(B64, 20) + "=="]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def us_address() -> str:
    unit = rng.choice(["", " Apt. " + str(rng.randint(1, 999))])
    return f"{fake.building_number()} {fake.street_name()}{unit}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"


def zh_address() -> str:
    if rng.random() < 0.5:
        return fake_zh.address().split(" ")[0]
    city = rng.choice(
        [
            "北京市朝阳区",
            "上海市浦东新区",
            "广东省深圳市南山区",
            "浙江省杭州市西湖区",
            "四川省成都市武侯区",
            "江苏省南京市鼓楼区",
        ]
    )
    road = rng.choice(["建国路", "人民路", "科技园南路", "文三路", "中山大道", "解放西路", "长江路"])
    number = rng.randint(1, 300)
    unit = rng.choice(
        ["", str(rng.randint(1, 20)) + "栋" + str(rng.randint(101, 2505)) + "室", str(rng.randint(1, 9)) + "单元"]
    )
    return f"{city}{road}{number}号{unit}"


def birth_date(faker: Faker, fmt: str) -> str:
    return faker.date_between(dt.date(1935, 1, 1), dt.date(2005, 12, 31)).strftime(fmt)


def email_for(name: str) -> str:
    ascii_name = re.sub(r"[^a-z]", "", name.lower().split()[0]) if name.isascii() else ""
    user = ascii_name or fake.user_name()
    suffix = rng.choice(["", "." + fake.last_name().lower(), str(rng.randint(1, 99))])
    domain = fake.free_email_domain() if rng.random() < 0.5 else fake.domain_name()
    return f"{user}{suffix}@{domain}"


def order_id() -> str:
    return rng.choice(
        [
            f"ORD-{rng.randint(2019, 2026)}-{rng.randint(0, 999999):06d}",
            f"#{rng.randint(1000000, 99999999)}",
            f"{rng.randint(10**9, 10**10 - 1)}",
            f"INV{rng.randint(100000, 999999)}",
            f"SO-{rand(string.ascii_uppercase + string.digits, 8)}",
        ]
    )


def version() -> str:
    return rng.choice(
        [
            f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
            f"v{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}-rc.{rng.randint(1, 4)}",
        ]
    )


def sha() -> str:
    return rand("0123456789abcdef", rng.choice([7, 12, 32, 40, 64]))


def timestamp() -> str:
    when = fake.date_time_between(start_date=_EPOCH_START, end_date=_EPOCH_END, tzinfo=dt.UTC)
    return rng.choice(
        [
            when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            when.strftime("%Y-%m-%d %H:%M:%S,%f")[:23],
            str(int(when.timestamp() * 1000)),
            when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        ]
    )


records: list[dict] = []


def add(lang: str, category: str, template: str, **slots: tuple[str | None, str]) -> None:
    text, spans = render(template, **slots)
    records.append(
        {"id": f"{category}-{len(records):04d}", "lang": lang, "category": category, "text": text, "spans": spans}
    )


def P(name: str | None = None) -> tuple[str, str]:  # noqa: N802 - slot constructors read like types
    return ("PERSON", name or person())


def V(value: str) -> tuple[None, str]:  # noqa: N802
    return (None, value)


def E(value: str) -> tuple[str, str]:  # noqa: N802
    return ("EMAIL_ADDRESS", value)


def PH(value: str) -> tuple[str, str]:  # noqa: N802
    return ("PHONE_NUMBER", value)


# ---------------------------------------------------------------- English chat prompts
CHAT = [
    (
        "Hi, my name is ⟨p⟩ and I need help writing a complaint to my landlord about the heating. "
        "You can mention my phone ⟨ph⟩."
    ),
    "Can you draft a polite reminder to ⟨p⟩ that the invoice ⟨o⟩ is overdue? Her email is ⟨e⟩.",
    (
        "Summarize this: ⟨p⟩ met with ⟨p2⟩ on Tuesday to discuss the Q3 roadmap; "
        "they agreed to ship version ⟨v⟩ next month."
    ),
    "Write a LinkedIn recommendation for my former colleague ⟨p⟩, who led our data team for three years.",
    "I'm ⟨p⟩. My SSN is ⟨ssn⟩ and I lost my card. What should I do first?",
    (
        "Please translate to Spanish: 'Dear ⟨p⟩, your appointment is confirmed. "
        "Call us at ⟨ph⟩ if you need to reschedule.'"
    ),
    "My credit card ⟨cc⟩ was charged twice for order ⟨o⟩. How do I dispute this with the bank?",
    "Help me fill out this form. Name: ⟨p⟩, Address: ⟨addr⟩, Phone: ⟨ph⟩.",
    "Is this IBAN valid? ⟨iban⟩ — it belongs to ⟨p⟩ and I want to send €250.",
    "Our server at ⟨ip⟩ keeps dropping connections since we upgraded to ⟨v⟩. Any idea why?",
    "Write a short bio for ⟨p⟩, a nurse from ⟨loc⟩ who volunteers at the food bank.",
    "Tell ⟨p⟩ that the meeting moved to 3pm and ask whether ⟨p2⟩ can join from ⟨loc⟩.",
    "Could you check the grammar: 'Mr. ⟨p⟩ and Dr. ⟨p2⟩ will present the results at the conference.'",
    "My daughter ⟨p⟩ (born 2014) needs a doctor's note for school, the doctor's email is ⟨e⟩.",
    "I want to send a package to ⟨p⟩ at ⟨addr⟩. What's the cheapest shipping option?",
    "Hey, this is ⟨p⟩ from accounting. Please reset the password for ⟨e⟩.",
    "Generate a thank-you note to ⟨p⟩ for hosting us in ⟨loc⟩ last weekend.",
    "What's the best way to reach ⟨p⟩? I have their number ⟨ph⟩ but they never answer.",
    "Fill in the insurance form for my father ⟨p⟩, date of birth ⟨dob⟩, SSN ⟨ssn⟩.",
]


def chat(n: int) -> None:
    for _ in range(n):
        template = rng.choice(CHAT)
        name = person()
        add(
            "en",
            "chat",
            template,
            p=P(name),
            p2=P(),
            ph=PH(us_phone() if rng.random() < 0.7 else intl_phone()),
            e=E(email_for(name)),
            o=V(order_id()),
            v=V(version()),
            ssn=("US_SSN", ssn()),
            cc=(
                "CREDIT_CARD",
                group4(luhn_complete(rng.choice(["4", "51", "55", "37"]), 16), rng.choice([" ", "-", ""])),
            ),
            addr=("ADDRESS", us_address()),
            iban=("IBAN_CODE", fake.iban()),
            ip=("IP_ADDRESS", fake.ipv4_public()),
            loc=("LOCATION", rng.choice([fake.state(), fake.country()])),
            dob=("DATE_OF_BIRTH", birth_date(fake, rng.choice(["%Y-%m-%d", "%m/%d/%Y", "%B %d, %Y"]))),
        )


TICKET = """Ticket ⟨o⟩ opened ⟨ts⟩
Customer: ⟨p⟩
Email: ⟨e⟩
Phone: ⟨ph⟩
Issue: The customer reports that the app crashes after updating to ⟨v⟩. Build hash ⟨sha⟩.
Notes: Called back, spoke with ⟨p⟩, escalated to ⟨p2⟩ (tier 2)."""


def tickets(n: int) -> None:
    for _ in range(n):
        name = person()
        add(
            "en",
            "ticket",
            TICKET,
            o=V(order_id()),
            ts=V(timestamp()),
            p=P(name),
            e=E(email_for(name)),
            ph=PH(us_phone()),
            v=V(version()),
            sha=V(sha()),
            p2=P(),
        )


EMAIL = """From: ⟨p⟩ <⟨e⟩>
To: ⟨e2⟩
Subject: Re: contract renewal

Hi ⟨first⟩,

Thanks for the call yesterday. As discussed, please send the signed copy to our office at ⟨addr⟩. \
If anything is unclear, my direct line is ⟨ph⟩.

Best regards,
⟨p3⟩"""


def emails(n: int) -> None:
    for _ in range(n):
        sender = person()
        recipient = person()
        add(
            "en",
            "email",
            EMAIL,
            p=P(sender),
            e=E(email_for(sender)),
            e2=E(email_for(recipient)),
            first=P(recipient.split()[0]),
            addr=("ADDRESS", us_address()),
            ph=PH(us_phone()),
            p3=P(sender),
        )


def json_records(n: int) -> None:
    keys = [
        ("customer", "name"),
        ("full_name", "name"),
        ("author", "name"),
        ("first_name", "first"),
        ("contact_name", "name"),
        ("name", "name"),
        ("patient_name", "name"),
    ]
    for _ in range(n):
        key, kind = rng.choice(keys)
        name = person(script=True)
        value = name.split()[0] if kind == "first" else name
        template = (
            '{"id": "⟨uuid⟩", "⟨key⟩": "⟨p⟩", "email": "⟨e⟩", "phone": "⟨ph⟩", '
            '"created_at": "⟨ts⟩", "plan": "pro", "version": "⟨v⟩"}'
        )
        if rng.random() < 0.4:
            template = (
                'Parse this JSON and tell me which fields are missing:\n{\n  "⟨key⟩": "⟨p⟩",\n  "address": "⟨addr⟩",\n'
                '  "ssn": "⟨ssn⟩",\n  "order_id": "⟨o⟩"\n}'
            )
        add(
            "en",
            "json",
            template,
            uuid=V(str(uuid.UUID(int=rng.getrandbits(128)))),
            key=V(key),
            p=P(value),
            e=E(email_for(name)),
            ph=PH(us_phone()),
            ts=V(timestamp()),
            v=V(version()),
            addr=("ADDRESS", us_address()),
            ssn=("US_SSN", ssn()),
            o=V(order_id()),
        )


CODE = [
    (
        'import openai\nclient = openai.OpenAI(api_key="⟨k⟩")\n'
        'resp = client.chat.completions.create(model="gpt-4o", messages=msgs)\n# why does this return 401?'
    ),
    (
        "Why does boto3 say access denied?\n\n[default]\naws_access_key_id = ⟨ak⟩\n"
        "aws_secret_access_key = ⟨sk⟩\nregion = us-east-1"
    ),
    'export ANTHROPIC_API_KEY=⟨ant⟩\ncurl https://api.anthropic.com/v1/messages -H "x-api-key: $ANTHROPIC_API_KEY"',
    "git remote set-url origin https://⟨gh⟩@github.com/acme/app.git  # is this safe?",
    (
        "Here's my docker-compose:\nservices:\n  db:\n    image: postgres:16\n    environment:\n"
        "      POSTGRES_USER: app\n      POSTGRES_PASSWORD: ⟨pw⟩\n"
    ),
    "The request fails with 403. Headers:\nAuthorization: Bearer ⟨jwt⟩\nContent-Type: application/json",
    "Can you explain this key format?\n⟨pem⟩",
    'DATABASE_URL = "postgresql://admin:⟨pw⟩@db.internal:5432/orders"\nengine = create_engine(DATABASE_URL)',
    "SLACK_BOT_TOKEN=⟨slack⟩\nGITLAB_TOKEN=⟨gl⟩\nDEBUG=true\nLOG_LEVEL=info",
    'config = {"api_key": "⟨generic⟩", "timeout": 30, "retries": 3, "endpoint": "https://api.example.com/v2"}',
    (
        "def connect():\n    # TODO remove before commit\n    password = '⟨pw⟩'\n"
        "    return db.connect(user='svc', password=password)"
    ),
    "mysql -h ⟨ip⟩ -u root --password=⟨pw⟩ -e 'show databases'",
]


def code(n: int) -> None:
    for _ in range(n):
        add(
            "en",
            "code",
            rng.choice(CODE),
            k=("API_KEY", openai_key()),
            ak=("AWS_ACCESS_KEY", "AKIA" + rand(string.ascii_uppercase + string.digits, 16)),
            sk=("AWS_SECRET_KEY", rand(string.ascii_letters + string.digits + "/+", 40)),
            ant=("API_KEY", anthropic_key()),
            gh=("API_KEY", github_token()),
            pw=("PASSWORD", fake.password(length=rng.randint(10, 16), special_chars=False)),
            jwt=("JWT", jwt()),
            pem=("PRIVATE_KEY", pem()),
            slack=("API_KEY", f"xoxb-{rng.randint(10**11, 10**12)}-{rng.randint(10**11, 10**12)}-{rand(ALNUM, 24)}"),
            gl=("API_KEY", "glpat-" + rand(ALNUM + "-_", 20)),
            generic=("SECRET", rand(ALNUM, 32)),
            ip=("IP_ADDRESS", fake.ipv4_private()),
        )


def csv_records(n: int) -> None:
    for _ in range(n):
        delimiter = rng.choice([",", ",", "\t", ";", "|"])
        header = rng.choice(
            [
                ["name", "email", "phone", "city"],
                ["customer_id", "full_name", "email", "signup_date"],
                ["first_name", "last_name", "email", "amount"],
            ]
        )
        lines = [delimiter.join(header)]
        spans_text = []
        for _row in range(rng.randint(2, 5)):
            name = person(script=rng.random() < 0.3)
            first, _, last = name.partition(" ")
            cells: list[tuple[str | None, str]] = [
                {
                    "name": P(name),
                    "full_name": P(name),
                    "first_name": P(first),
                    "last_name": P(last or first),
                    "email": E(email_for(name)),
                    "phone": PH(us_phone()),
                    "city": ("LOCATION", fake.city()),
                    "customer_id": V(str(rng.randint(10000, 99999))),
                    "signup_date": V(fake.date()),
                    "amount": V(f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"),
                }[column]
                for column in header
            ]
            spans_text.append(cells)
        template = "Clean up this export and find duplicates:\n" + lines[0] + "\n"
        slots = {}
        for r, cells in enumerate(spans_text):
            parts = []
            for c, cell in enumerate(cells):
                slots[f"c{r}_{c}"] = cell
                parts.append(f"⟨c{r}_{c}⟩")
            template += delimiter.join(parts) + "\n"
        add("en", "csv", template, **slots)


LOGS = [
    '⟨ts⟩ INFO auth.login user="⟨e⟩" ip=⟨ip⟩ session=⟨uuid⟩ status=200',
    '⟨ts⟩ WARN payment.declined customer_name="⟨p⟩" card=⟨cc⟩ order=⟨o⟩ retry=2',
    '⟨ip⟩ - - [⟨ts⟩] "GET /api/v1/users/⟨uuid⟩ HTTP/1.1" 404 512 "-" "Mozilla/5.0"',
    "⟨ts⟩ ERROR mailer: could not deliver to ⟨p⟩ <⟨e⟩>: 550 mailbox unavailable",
    "⟨ts⟩ DEBUG request_id=⟨uuid⟩ build=⟨sha⟩ version=⟨v⟩ latency_ms=87",
]


def logs(n: int) -> None:
    for _ in range(n):
        name = person()
        add(
            "en",
            "log",
            rng.choice(LOGS),
            ts=V(timestamp()),
            e=E(email_for(name)),
            ip=("IP_ADDRESS", fake.ipv4()),
            uuid=V(str(uuid.UUID(int=rng.getrandbits(128)))),
            p=P(name),
            cc=("CREDIT_CARD", luhn_complete("4", 16)),
            o=V(order_id()),
            sha=V(sha()),
            v=V(version()),
        )


LOWER = [
    "hi my name is ⟨p⟩ and i can't log in to my account, my email is ⟨e⟩",
    "can you write a birthday message for ⟨p⟩? she turns 40 on friday",
    "please forward this to ⟨p⟩ in accounting, she handles the refunds",
    "ok so ⟨p⟩ said the server is down again, can you check the logs",
    "remind me to call ⟨p⟩ tomorrow at ⟨ph⟩",
    "dear ⟨p⟩, thank you for your order.",
]


def lowercase(n: int) -> None:
    for index in range(n):
        template = rng.choice(LOWER)
        name = person()
        text, spans = render(template, p=P(name), e=E(email_for(name)), ph=PH(us_phone()))
        text = text.upper() if index % 4 == 3 else text.lower()
        records.append(
            {"id": f"case-{len(records):04d}", "lang": "en", "category": "case", "text": text, "spans": spans}
        )


def scripts(n: int) -> None:
    templates = [
        "My name is ⟨p⟩ and I would like to book a table for two.",
        "Please add ⟨p⟩ to the guest list, email ⟨e⟩.",
        "Signed-off-by: ⟨p⟩ <⟨e⟩>",
        'user = {"name": "⟨p⟩", "role": "admin"}',
        "Dear ⟨p⟩,\nyour package has shipped.",
    ]
    for _ in range(n):
        locale = rng.choice([loc for loc in SCRIPT_LOCALES if loc in fakers])
        f = fakers[locale]
        name = f.last_name() + f.first_name() if locale in ("ja_JP", "ko_KR") else f"{f.first_name()} {f.last_name()}"
        add("en", "script", rng.choice(templates), p=P(name), e=E(email_for("user")))


# ---------------------------------------------------------------- Chinese
ZH = [
    "您好，我叫⟨p⟩，手机号是⟨ph⟩，想查询一下我的订单⟨o⟩的物流。",
    "请帮我写一封邮件给⟨p⟩经理，说明下周的项目延期原因。",
    "收件人：⟨p⟩\n电话：⟨ph⟩\n地址：⟨addr⟩",
    "我的身份证号码是⟨id⟩，办理业务时需要提供什么材料？",
    "请把这笔款项转到我的银行卡⟨card⟩，开户人⟨p⟩。",
    "公司统一社会信用代码：⟨uscc⟩，请开具增值税专用发票。",
    "⟨p⟩女士您好，您的护照⟨passport⟩已办理完成，请携带身份证前来领取。",
    "我的港澳通行证号码是⟨permit⟩，下个月要去香港出差。",
    "联系人：⟨p⟩，联系电话：⟨ph⟩，请在工作日联系。",
    "客户⟨p⟩反映APP在升级到⟨v⟩版本后无法登录，请技术支持跟进。",
    "尊敬的⟨p⟩先生：您的快递已由⟨p2⟩签收，如有疑问请致电⟨ph⟩。",
    "会议纪要：⟨p⟩负责前端开发，⟨p2⟩负责后端接口，下周五前完成联调。",
    "寄到⟨addr⟩，收件人⟨p⟩，手机⟨ph⟩。",
    "患者姓名：⟨p⟩，身份证：⟨id⟩，联系电话：⟨ph⟩，既往病史：无。",
    "员工信息：⟨p⟩，出生日期：⟨dob⟩，入职时间：2021年3月。",
    "帮我润色一下这段话：感谢⟨p⟩老师这一年来的悉心指导。",
    "我的邮箱是⟨e⟩，有问题可以发邮件给我，我叫⟨p⟩。",
]


def chinese(n: int) -> None:
    for _ in range(n):
        add(
            "zh",
            "zh",
            rng.choice(ZH),
            p=P(zh_person()),
            p2=P(zh_person()),
            ph=PH(cn_mobile()),
            o=V(f"{rng.randint(10**15, 10**16 - 1)}"),
            addr=("ADDRESS", zh_address()),
            id=("CN_RESIDENT_ID", cn_id()),
            card=(
                "CREDIT_CARD",
                rng.choice([luhn_complete("62", rng.choice([16, 19])), group4(luhn_complete("6222", 19))]),
            ),
            uscc=("CN_USCC", uscc()),
            passport=("CN_PASSPORT", "E" + rand(string.digits, 8)),
            permit=("CN_TRAVEL_PERMIT", "C" + rand(string.digits, 8)),
            v=V(version()),
            e=E(fake_zh.email()),
            dob=("DATE_OF_BIRTH", birth_date(fake_zh, "%Y年%m月%d日")),
        )


MIXED = [
    "Please contact ⟨p⟩ at ⟨ph⟩ about the shipment to ⟨city⟩.",
    "Customer ⟨p⟩ (身份证 ⟨id⟩) asked for a refund of order ⟨o⟩.",
    "帮我把这段翻译成英文：我是⟨p⟩，my email is ⟨e⟩.",
    "Meeting notes: ⟨p⟩ and ⟨p2⟩ agreed on the pricing. 下次会议由⟨p3⟩主持。",
    '{"name": "⟨p⟩", "mobile": "⟨ph⟩", "city": "⟨zcity⟩"}',
]


def mixed(n: int) -> None:
    for _ in range(n):
        add(
            "mixed",
            "mixed",
            rng.choice(MIXED),
            city=("LOCATION", rng.choice(["Shenzhen", "Shanghai", "Hangzhou", "Chengdu"])),
            zcity=("LOCATION", rng.choice(["上海", "北京", "广州", "西安"])),
            p=P(zh_person()),
            p2=P(person()),
            p3=P(zh_person()),
            ph=PH(cn_mobile()),
            id=("CN_RESIDENT_ID", cn_id()),
            o=V(order_id()),
            e=E(fake_zh.email()),
        )


# ---------------------------------------------------------------- negatives
NEG_EN = [
    "Order ⟨o⟩ was shipped on ⟨ts⟩ and should arrive within 3-5 business days.",
    "We upgraded from ⟨v⟩ to ⟨v2⟩ and the build ⟨sha⟩ fails on CI.",
    "The request ⟨uuid⟩ timed out after 30000 ms at ⟨ts⟩.",
    "Card 4111 1111 1111 ⟨bad4⟩ was rejected: invalid number.",
    "Compute the SHA-256 of the file; I got ⟨sha64⟩, is that right?",
    "Python ⟨v⟩ on Ubuntu 22.04, numpy 1.26.4, torch 2.3.1+cu121.",
    "Listen on port 8080, then open http://localhost:8080/health and expect HTTP 200.",
    "The invoice total is $1,299.99 for 12 units (SKU-88213-BL), due in 30 days.",
    "Write a haiku about autumn leaves falling on a quiet lake.",
    "Explain the difference between a process and a thread in Python.",
    "git cherry-pick ⟨sha⟩ && git push origin main",
    "The tracking number is 1Z999AA10123456784 and the parcel weighs 2.5 kg.",
    "Refactor this function so it runs in O(n log n) instead of O(n^2).",
    "Our Q3 revenue grew 12.5% to 4,200,000 EUR; churn fell to 2.1%.",
    "The error code 0x80070005 appears when installing update KB5034441.",
    "Invalid card number ⟨badcc⟩ entered three times; account locked for 15 minutes.",
    "The Apple Watch and Google Pixel both support Bluetooth 5.3.",
    "Set max_tokens to 512, temperature to 0.7 and top_p to 0.9.",
]
NEG_ZH = [
    "订单号⟨o⟩已发货，预计3到5个工作日送达。",
    "请问版本⟨v⟩和之前的版本有什么区别？",
    "这个身份证号⟨badid⟩校验位不对，系统提示无效。",
    "快递单号SF1428831207366，重量2.5公斤，运费18元。",
    "帮我写一首关于秋天的诗，要求七言绝句。",
    "项目预算为120万元，其中人力成本占60%，硬件采购占25%。",
    "会议时间改到⟨ts⟩，请大家准时参加。",
    "如何在Python中读取一个CSV文件并计算平均值？",
    "今天天气很好，我们去公园散步吧。",
    "发布说明：修复了登录页面的若干问题，提升了整体性能。",
]


def negatives(n_en: int, n_zh: int) -> None:
    for _ in range(n_en):
        add(
            "en",
            "negative",
            rng.choice(NEG_EN),
            o=V(order_id()),
            ts=V(timestamp()),
            v=V(version()),
            v2=V(version()),
            sha=V(sha()),
            sha64=V(rand("0123456789abcdef", 64)),
            uuid=V(str(uuid.UUID(int=rng.getrandbits(128)))),
            bad4=V(str(rng.choice([1112, 1113, 1234]))),
            badcc=V(group4(luhn_broken(rng.choice(["4", "51", "62"]), 16))),
        )
    for _ in range(n_zh):
        add(
            "zh",
            "negative",
            rng.choice(NEG_ZH),
            o=V(f"{rng.randint(10**15, 10**16 - 1)}"),
            v=V(version()),
            badid=V(cn_id(valid=False)),
            ts=V(timestamp()),
        )


def main() -> None:
    chat(60)
    tickets(25)
    emails(25)
    json_records(30)
    code(40)
    csv_records(15)
    logs(25)
    lowercase(24)
    scripts(16)
    chinese(80)
    mixed(25)
    negatives(40, 20)
    with OUT.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {OUT}")


if __name__ == "__main__":
    main()
