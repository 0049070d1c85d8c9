"""Cleaning raw text: normalise, filter, deduplicate, count the drops (week 1, "Text as data").

Raw corpora are messy. Before a tokenizer or a model sees them, each document goes through:

1. Normalisation. The same visible text can be stored in different ways: "é" is one code point
   (U+00E9) or two ("e" + the combining accent U+0301), and lines end in "\\n", "\\r\\n" (Windows)
   or "\\r" (old Macs). Without normalisation a tokenizer learns both spellings and
   deduplication misses copies. NFC composes characters and changes nothing a reader can see;
   NFKC also folds "compatibility" characters ("ﬁ" -> "fi", full-width "Ａ" -> "A", "²" -> "2"),
   which loses some distinctions (SentencePiece's default normaliser is based on it).
2. Filters: empty and near-empty documents (fewer than ``min_nonspace_chars`` characters that
   are not whitespace), then documents shorter than ``min_chars`` or longer than ``max_chars``.
3. Exact deduplication: a document whose normalised text was seen before (past the filters of
   step 2) is dropped. Only a 16-byte BLAKE2b digest of each one is remembered, so memory grows
   with the number of unique documents (100 to 150 bytes each), not with their length.

Each document is dropped for the first reason that applies, and a ``CleaningReport`` counts them,
so a cleaning step can be read and checked instead of trusted: of TinyShakespeare's 40,000
lines, 7,223 are empty and 7,056 repeat an earlier line ("All:", "ROMEO:", ...).
``llm_keras.data.streaming`` applies the same cleaning to files larger than memory.

Three more steps of a web corpus's pipeline (week 1, "Data: from the web to token shards") are
off by default, so that the numbers above do not change; each is its own module:

4. ``quality=QualitySettings()``: Gopher's and C4's rules (``llm_keras.data.quality``), the
   reasons ``gopher_*`` and ``c4_*``;
5. ``language=LanguageSettings()``: documents whose language is not kept
   (``llm_keras.data.language``), the reason ``language``;
6. ``scrub_pii=True``: e-mail addresses, IP addresses and phone numbers in the kept documents
   replaced by placeholders (``llm_keras.data.pii``), counted, nothing dropped.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from llm_keras.data.language import DROP_REASON as LANGUAGE_REASON
from llm_keras.data.language import LanguageSettings, language_drop_reason
from llm_keras.data.pii import scrub_pii as _scrub_pii
from llm_keras.data.quality import QUALITY_REASONS, QualitySettings, quality_drop_reason

UNICODE_FORMS = ("NFC", "NFKC", None)
DROP_REASONS = ("empty", "near_empty", "too_short", "too_long", "duplicate")


def normalize_text(text: str, unicode_form: str | None = "NFC") -> str:
    """Line ends to ``"\\n"``, then Unicode normalisation.

    Args:
        text: any text.
        unicode_form: ``"NFC"`` (compose, the default), ``"NFKC"`` (compose and fold
            compatibility characters), or ``None`` (line ends only).

    Returns:
        The normalised text: ``"\\r\\n"`` and lone ``"\\r"`` become ``"\\n"``.

    Example:
        >>> normalize_text("cafe\\u0301\\r\\n") == "caf\\u00e9\\n"
        True
        >>> normalize_text("\\ufb01ne", "NFKC")
        'fine'
    """
    _check_unicode_form(unicode_form)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if unicode_form is None else unicodedata.normalize(unicode_form, text)


@dataclass
class CleaningReport:
    """What a cleaning pass saw, kept and dropped, and why.

    Attributes:
        documents_seen: documents read.
        documents_kept: documents written out.
        documents_normalized: documents that normalisation changed (kept or not).
        characters_in: characters of all documents read, before normalisation (read from a
            file, without the line ends that separate them).
        characters_out: characters of the documents kept, after normalisation (and PII
            replacement).
        dropped: documents dropped, per reason: the keys are ``DROP_REASONS``, then the
            reasons of the quality and language filters when they are on.
        characters_dropped: characters of the documents dropped, per reason (as read, before
            normalisation), the same keys.
        pii_replaced: replacements per placeholder (``"<EMAIL>"``, ``"<IP>"``, ``"<PHONE>"``)
            when PII is scrubbed.
        documents_scrubbed: kept documents in which PII was replaced.
    """

    documents_seen: int = 0
    documents_kept: int = 0
    documents_normalized: int = 0
    characters_in: int = 0
    characters_out: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    characters_dropped: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(DROP_REASONS, 0)
    )
    pii_replaced: dict[str, int] = field(default_factory=dict)
    documents_scrubbed: int = 0

    @property
    def documents_dropped(self) -> int:
        return sum(self.dropped.values())

    def add_reasons(self, reasons) -> None:
        """List more drop reasons (at 0) after those already counted."""
        for reason in reasons:
            self.dropped.setdefault(reason, 0)
            self.characters_dropped.setdefault(reason, 0)

    def count_drop(self, reason: str, characters: int) -> None:
        """One document of ``characters`` characters dropped for ``reason``."""
        self.add_reasons([reason])
        self.dropped[reason] += 1
        self.characters_dropped[reason] += characters

    def __str__(self) -> str:
        def share(part: int, whole: int) -> str:
            return f"{part / whole:.1%}" if whole else "-"

        lines = [
            (f"kept {self.documents_kept:,} of {self.documents_seen:,} documents "
             f"({share(self.documents_kept, self.documents_seen)}), "
             f"{self.characters_out:,} of {self.characters_in:,} characters "
             f"({share(self.characters_out, self.characters_in)})"),
            f"normalisation changed {self.documents_normalized:,} documents",
            f"dropped {self.documents_dropped:,} documents:",
        ]
        width = max(map(len, self.dropped))
        lines.append(f"  {'reason':<{width}}  {'documents':>9}  {'characters':>11}")
        lines += [
            f"  {reason:<{width}}  {count:>9,}  {self.characters_dropped[reason]:>11,}"
            for reason, count in self.dropped.items()
        ]
        if self.pii_replaced:
            found = ", ".join(f"{n:,} {p}" for p, n in self.pii_replaced.items())
            lines.append(f"PII replaced in {self.documents_scrubbed:,} documents: {found}")
        return "\n".join(lines)


def clean_documents(
    documents: Iterable[str],
    *,
    unicode_form: str | None = "NFC",
    min_nonspace_chars: int = 1,
    min_chars: int = 0,
    max_chars: int | None = None,
    deduplicate: bool = True,
    quality: QualitySettings | None = None,
    language: LanguageSettings | None = None,
    scrub_pii: bool = False,
    report: CleaningReport | None = None,
) -> Iterator[str]:
    """Normalise, filter and deduplicate documents lazily, one at a time.

    The arguments are checked at once; the documents are read only as the result is iterated,
    so ``documents`` can be a generator over a file larger than memory.

    Args:
        documents: an iterable of strings (lines, paragraphs, web pages...).
        unicode_form: ``"NFC"``, ``"NFKC"`` or ``None``; see ``normalize_text``.
        min_nonspace_chars: drop documents with fewer non-whitespace characters: reason
            ``"empty"`` when there are none, ``"near_empty"`` otherwise. 0 keeps them all.
        min_chars: drop documents with fewer characters (``"too_short"``).
        max_chars: drop documents with more characters (``"too_long"``); ``None`` for no limit.
        deduplicate: drop a document equal to one seen before (``"duplicate"``).
        quality: Gopher's and C4's rules with these thresholds (reasons ``QUALITY_REASONS``);
            ``None``: off.
        language: keep only the documents in these languages (reason ``"language"``);
            ``None``: off.
        scrub_pii: replace e-mail addresses, IP addresses and phone numbers in the kept
            documents by ``<EMAIL>``, ``<IP>``, ``<PHONE>``.
        report: a ``CleaningReport`` to update as documents go through; pass your own to read
            the counts afterwards.

    Returns:
        An iterator over the kept documents, normalised.

    Raises:
        ValueError: an option is out of range (the message names it).
        TypeError: ``documents`` is a single ``str`` (it would be cleaned one character at a
            time).

    Example:
        >>> report = CleaningReport()
        >>> list(clean_documents(["To be", "", " .", "To be", "or not"], min_nonspace_chars=2,
        ...                      report=report))
        ['To be', 'or not']
        >>> report.dropped
        {'empty': 1, 'near_empty': 1, 'too_short': 0, 'too_long': 0, 'duplicate': 1}
    """
    if isinstance(documents, str):
        raise TypeError(
            "documents must be an iterable of strings, not one str: pass [text] to clean it as "
            "one document, or text.splitlines() for one document per line."
        )
    _check_unicode_form(unicode_form)
    _check_count("min_nonspace_chars", min_nonspace_chars)
    _check_count("min_chars", min_chars)
    if max_chars is not None:
        _check_count("max_chars", max_chars)
        if max_chars < min_chars:
            raise ValueError(
                f"max_chars={max_chars} is smaller than min_chars={min_chars}: every document "
                f"would be dropped. Raise max_chars or lower min_chars."
            )
    for name, value, kind in (("quality", quality, QualitySettings),
                              ("language", language, LanguageSettings)):
        if value is not None and not isinstance(value, kind):
            raise TypeError(
                f"{name}={value!r} must be a {kind.__name__} (e.g. {kind.__name__}()) or None."
            )
    report = CleaningReport() if report is None else report
    report.add_reasons(QUALITY_REASONS if quality is not None else ())
    report.add_reasons([LANGUAGE_REASON] if language is not None else ())
    return _clean(
        documents, unicode_form, min_nonspace_chars, min_chars, max_chars, deduplicate,
        quality, language, scrub_pii, report,
    )


def _clean(documents, unicode_form, min_nonspace_chars, min_chars, max_chars, deduplicate,
           quality, language, scrub_pii, report) -> Iterator[str]:
    seen_digests: set[bytes] = set()
    for document in documents:
        report.documents_seen += 1
        report.characters_in += len(document)
        text = normalize_text(document, unicode_form)
        report.documents_normalized += text != document
        reason = _drop_reason(text, min_nonspace_chars, min_chars, max_chars)
        if reason is None and deduplicate:
            digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
            if digest in seen_digests:
                reason = "duplicate"
            else:
                seen_digests.add(digest)
        if reason is None and quality is not None:
            reason = quality_drop_reason(text, quality)
        if reason is None and language is not None:
            reason = language_drop_reason(text, language)
        if reason is not None:
            report.count_drop(reason, len(document))
            continue
        if scrub_pii:
            text, replaced = _scrub_pii(text)
            report.documents_scrubbed += bool(replaced)
            for placeholder, count in replaced.items():
                report.pii_replaced[placeholder] = report.pii_replaced.get(placeholder, 0) + count
        report.documents_kept += 1
        report.characters_out += len(text)
        yield text


def _drop_reason(text: str, min_nonspace_chars: int, min_chars: int,
                 max_chars: int | None) -> str | None:
    """The first filter that drops ``text``, or ``None`` when it passes them all."""
    nonspace = sum(map(len, text.split()))  # str.split() splits on every Unicode whitespace
    if nonspace < min_nonspace_chars:
        return "empty" if nonspace == 0 else "near_empty"
    if len(text) < min_chars:
        return "too_short"
    if max_chars is not None and len(text) > max_chars:
        return "too_long"
    return None


def _check_unicode_form(unicode_form) -> None:
    if unicode_form not in UNICODE_FORMS:
        raise ValueError(
            f"unicode_form={unicode_form!r} is not one of {UNICODE_FORMS}: use 'NFC' (the "
            f"default), 'NFKC' to also fold compatibility characters, or None to skip it."
        )


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}={value!r} must be a whole number >= 0.")
