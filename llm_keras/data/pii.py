"""PII scrubbing: e-mail addresses, phone numbers and IP addresses replaced by placeholders (week 1, "Data: from the web to token shards").

A model trained on web pages can repeat what it read, personal details included. Pretraining
pipelines replace the easiest of them to find with placeholders: Dolma and datatrove's
``PIIFormatter`` use regular expressions for e-mail and IP addresses, BigScience's ROOTS added
phone numbers. Regular expressions are cheap and miss much (names, street addresses): they
lower the risk, they do not remove it.

What ``scrub_pii`` finds, in this order (an earlier kind's placeholder is not matched again):

- ``<EMAIL>``: ``local@domain.tld``, the local part of letters, digits and ``._%+-``, the domain
  of dot-separated labels and a top-level domain of 2 or more letters;
- ``<IP>``: IPv4, four numbers 0 to 255 joined by dots, not inside a longer run of digits and
  dots nor just after a letter (``v1.2.3.4``); and IPv6, checked by Python's ``ipaddress`` (eight groups, or fewer with ``::``; at least
  three groups, so that ``a::b`` in code is left alone);
- ``<PHONE>``: international numbers, ``+`` and a country code then 6 to 14 more digits in
  groups separated by spaces, dots, dashes or parentheses; and North American numbers,
  ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``, ``555 123 4567``, with an optional
  ``1`` or ``+1`` in front. A run of 10 bare digits is not taken for a phone number, and
  national numbers of other countries without their ``+`` and country code (``020 7946 0958``)
  are not found.

The error rates measured on a labelled sample (tests/llm_keras/data/test_pii.py) show what
regular expressions cannot tell apart: a four-part version number (``1.2.3.4``) is an IPv4
address to them, and a North American pattern such as ``800-555-0199`` in a catalogue number.

Example:
    >>> scrub_pii("Mail jo.doe@example.org or call +44 20 7946 0958 from 10.0.0.1.")
    ('Mail <EMAIL> or call <PHONE> from <IP>.', {'<EMAIL>': 1, '<IP>': 1, '<PHONE>': 1})
"""

from __future__ import annotations

import ipaddress
import re
from functools import partial

PLACEHOLDERS = ("<EMAIL>", "<IP>", "<PHONE>")

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\d|\.\d)")
# Candidates only: hex groups and colons, with "::" or seven colons; ipaddress decides.
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_SEP = r"[ .\-]?"
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    # international: +CC, then groups of digits (an area code may be in parentheses)
    r"\+\d{1,3}(?:[ .\-]?\(?\d{1,4}\)?){1,5}[ .\-]?\d{2,4}"
    r"|"
    # North American: (NPA) NXX-XXXX with separators, an optional leading 1
    rf"(?:1{_SEP})?(?:\(\d{{3}}\)[ ]?|\d{{3}}[ .\-])\d{{3}}[ .\-]\d{{4}}"
    r")(?![\w])"
)


def scrub_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace e-mail addresses, IP addresses and phone numbers by placeholders.

    Args:
        text: one document.

    Returns:
        ``(scrubbed, counts)``: the text with each match replaced by ``"<EMAIL>"``, ``"<IP>"``
        or ``"<PHONE>"``, and the number of replacements per placeholder (only those made).
    """
    counts: dict[str, int] = {}
    for placeholder, pattern, valid in _FINDERS:
        text = pattern.sub(partial(_substitute, placeholder, valid, counts), text)
    return text, counts


def _substitute(placeholder: str, valid, counts: dict[str, int], match: re.Match) -> str:
    if valid is not None and not valid(match.group()):
        return match.group()
    counts[placeholder] = counts.get(placeholder, 0) + 1
    return placeholder


def _is_ipv6(candidate: str) -> bool:
    if len([group for group in candidate.split(":") if group]) < 3:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if candidate.startswith("+"):
        return 8 <= digits <= 15  # E.164: at most 15 digits, country code included
    return digits in (10, 11)


# What is looked for, in order: (placeholder, pattern, check of a match or None).
_FINDERS = (
    ("<EMAIL>", _EMAIL, None),
    ("<IP>", _IPV4, None),
    ("<IP>", _IPV6, _is_ipv6),
    ("<PHONE>", _PHONE, _is_phone),
)
