"""PII scrubbing: precision and recall per kind on a labelled sample generated here with a seed
(positives of many forms, hard negatives that look like them), and the errors it makes, named."""

import collections
import doctest
import random

import pytest

from llm_keras.data import pii
from llm_keras.data.pii import PLACEHOLDERS, scrub_pii

TEMPLATES = [
    "Contact: {}.",
    "For details write to {} before Friday",
    "({})",
    "Tel/mail/host {}, thanks!",
    "{}",
]


def _digits(rng, n):
    return "".join(rng.choice("0123456789") for _ in range(n))


def _na_number(rng):
    """A North American number: area code and exchange start with 2-9."""
    return (
        str(rng.randint(2, 9)) + _digits(rng, 2),
        str(rng.randint(2, 9)) + _digits(rng, 2),
        (_digits(rng, 4)),
    )


# Each form: (label, make(rng) -> text). Labels are the placeholder, or None for a negative.
def _email(rng):
    name = rng.choice(["jo", "ana.lopez", "j_smith", "info", "first.last+news", "x99", "M.Curie"])
    domain = rng.choice(
        ["example.org", "mail.example.co.uk", "uni-bonn.de", "EXAMPLE.COM", "post.example.io"]
    )
    return f"{name}@{domain}"


POSITIVES = {
    "email": ("<EMAIL>", _email),
    "ipv4": ("<IP>", lambda r: ".".join(str(r.randint(0, 255)) for _ in range(4))),
    "ipv6 full": ("<IP>", lambda r: ":".join(f"{r.randint(0, 0xFFFF):04x}" for _ in range(8))),
    "ipv6 short": ("<IP>", lambda r: f"2001:db8::{r.randint(1, 0xFFFF):x}:{r.randint(1, 99)}"),
    "na (ddd) ddd-dddd": ("<PHONE>", lambda r: "({}) {}-{}".format(*_na_number(r))),
    "na ddd-ddd-dddd": ("<PHONE>", lambda r: "{}-{}-{}".format(*_na_number(r))),
    "na ddd.ddd.dddd": ("<PHONE>", lambda r: "{}.{}.{}".format(*_na_number(r))),
    "na ddd ddd dddd": ("<PHONE>", lambda r: "{} {} {}".format(*_na_number(r))),
    "na +1 ddd ddd dddd": ("<PHONE>", lambda r: "+1 {} {} {}".format(*_na_number(r))),
    "na 1-ddd-ddd-dddd": ("<PHONE>", lambda r: "1-{}-{}-{}".format(*_na_number(r))),
    "uk +44": ("<PHONE>", lambda r: f"+44 20 {_digits(r, 4)} {_digits(r, 4)}"),
    "fr +33": ("<PHONE>", lambda r: "+33 1 " + " ".join(_digits(r, 2) for _ in range(4))),
    "de +49": ("<PHONE>", lambda r: f"+49 30 {_digits(r, 8)}"),
    "in +91": ("<PHONE>", lambda r: f"+91 9{_digits(r, 4)} {_digits(r, 5)}"),
    "jp +81": ("<PHONE>", lambda r: f"+81 3-{_digits(r, 4)}-{_digits(r, 4)}"),
    "uk national": ("<PHONE>", lambda r: f"020 {_digits(r, 4)} {_digits(r, 4)}"),
}

NEGATIVES = {
    "version 4 parts": lambda r: "version " + ".".join(str(r.randint(0, 20)) for _ in range(4)),
    "version v-prefixed": lambda r: "v" + ".".join(str(r.randint(0, 20)) for _ in range(4)),
    "version 3 parts": lambda r: ".".join(str(r.randint(0, 20)) for _ in range(3)),
    "date iso": lambda r: f"{r.randint(1900, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "date dmy": lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1900, 2030)}",
    "date dotted": lambda r: (
        f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(1900, 2030)}"
    ),
    "timestamp": lambda r: (
        f"2024-03-15 {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:"
        f"{r.randint(0, 59):02d}.{_digits(r, 3)}"
    ),
    "price": lambda r: f"${r.randint(1, 999)},{_digits(r, 3)}.{_digits(r, 2)}",
    "isbn-13": lambda r: f"978-{r.randint(0, 9)}-{_digits(r, 2)}-{_digits(r, 6)}-{_digits(r, 1)}",
    "isbn-10": lambda r: f"{_digits(r, 1)}-{_digits(r, 3)}-{_digits(r, 5)}-{_digits(r, 1)}",
    "isbn bare": lambda r: "ISBN " + _digits(r, 10),
    "unix time": lambda r: str(r.randint(1_000_000_000, 1_999_999_999)),
    "big number": lambda r: f"{r.randint(1, 999)},{_digits(r, 3)},{_digits(r, 3)},{_digits(r, 3)}",
    "decimal": lambda r: f"{r.randint(0, 99)}.{_digits(r, 6)}",
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
    "bad octet": lambda r: f"{r.randint(256, 999)}.{r.randint(0, 255)}.1.1",
    "five numbers": lambda r: ".".join(str(r.randint(0, 255)) for _ in range(5)),
    "c++ scope": lambda r: r.choice(["std::vector<int>", "a::b::c", "ns::Type::value"]),
    "at sign": lambda r: r.choice(["x@y", "user@localhost", "@handle", "price @ 3.50"]),
    "score": lambda r: f"{r.randint(0, 9)}-{r.randint(0, 9)}",
}


def labelled_sample(seed=0, per_form=30):
    """``(text, kind, placeholder or None, the PII string)``: every form ``per_form`` times."""
    rng = random.Random(seed)
    sample = []
    for kind, (placeholder, make) in POSITIVES.items():
        for _ in range(per_form):
            value = make(rng)
            sample.append((rng.choice(TEMPLATES).format(value), kind, placeholder, value))
    for kind, make in NEGATIVES.items():
        for _ in range(per_form):
            value = make(rng)
            sample.append((rng.choice(TEMPLATES).format(value), kind, None, value))
    return sample


def found(scrubbed: str, placeholder: str, value: str, text: str) -> bool:
    """The value was replaced, whole, by this placeholder (the template kept as it was)."""
    return scrubbed == text.replace(value, placeholder)


@pytest.fixture(scope="module")
def measured():
    """Per kind of the sample: how many were right; per placeholder: TP, FP, FN."""
    right = collections.Counter()
    counts = {p: collections.Counter() for p in PLACEHOLDERS}
    for text, kind, placeholder, value in labelled_sample():
        scrubbed, replaced = scrub_pii(text)
        for p in PLACEHOLDERS:
            made = replaced.get(p, 0)
            if p == placeholder:
                hit = found(scrubbed, p, value, text)
                counts[p]["tp"] += hit
                counts[p]["fn"] += not hit
                counts[p]["fp"] += made - hit  # extra replacements of this kind
            else:
                counts[p]["fp"] += made
        right[kind] += (
            found(scrubbed, placeholder, value, text)
            if placeholder
            else (scrubbed == text and not replaced)
        )
    return right, counts


def test_recall_per_form(measured):
    right, _ = measured
    missed = {kind: 30 - right[kind] for kind in POSITIVES if right[kind] < 30}
    # National numbers without a country code are not looked for: a known miss.
    assert missed == {"uk national": 30}


def test_hard_negatives_and_the_ones_it_gets_wrong(measured):
    right, _ = measured
    wrong = {kind: 30 - right[kind] for kind in NEGATIVES if right[kind] < 30}
    # "version 1.2.3.4" is an IPv4 address to a regular expression: every one is replaced
    # (right after a letter, "v1.2.3.4", it is not). Dates, prices, ISBNs, times, timestamps,
    # bare 10-digit numbers and code are left alone.
    assert wrong == {"version 4 parts": 30}


def test_precision_and_recall_per_placeholder(measured):
    _, counts = measured

    def rates(c):
        return c["tp"] / (c["tp"] + c["fp"]), c["tp"] / (c["tp"] + c["fn"])

    assert counts["<EMAIL>"] == {"tp": 30, "fp": 0, "fn": 0}
    assert rates(counts["<EMAIL>"]) == (1.0, 1.0)
    assert counts["<IP>"] == {"tp": 90, "fp": 30, "fn": 0}  # the 30 versions
    assert rates(counts["<IP>"]) == (0.75, 1.0)
    assert counts["<PHONE>"] == {"tp": 330, "fp": 0, "fn": 30}  # the UK national numbers
    assert rates(counts["<PHONE>"]) == (1.0, 330 / 360)


def test_counts_and_several_matches_in_one_text():
    text = (
        "Ana (ana@example.org, +34 912 345 678) and Bo (bo@example.org) met at "
        "10.0.0.1 and 2001:db8::7:1; call (212) 555-0123 or 212-555-0188."
    )
    scrubbed, counts = scrub_pii(text)
    assert scrubbed == (
        "Ana (<EMAIL>, <PHONE>) and Bo (<EMAIL>) met at <IP> and <IP>; call <PHONE> or <PHONE>."
    )
    assert counts == {"<EMAIL>": 2, "<IP>": 2, "<PHONE>": 3}
    assert scrub_pii("Nothing to see, 3.14 and 2024-03-15.") == (
        "Nothing to see, 3.14 and 2024-03-15.",
        {},
    )


def test_an_email_is_not_also_a_phone_or_an_ip():
    # Digits inside an e-mail address go with it: one placeholder, not three.
    assert scrub_pii("5551234567@10.0.0.1.example.com") == ("<EMAIL>", {"<EMAIL>": 1})
    assert scrub_pii("+1 555 123 4567") == ("<PHONE>", {"<PHONE>": 1})


def test_doctests():
    assert doctest.testmod(pii).failed == 0
