r"""Citations and the bibliography: ``{cite:t}`key``` in the text, one entry per work at the end.

The works the course cites are in ``course/references.yaml``, one mapping per key::

    xiong2020layernorm:
      authors: [Ruibin Xiong, Yunchang Yang, Di He, others]  # first name first; "others": et al.
      title: On Layer Normalization in the Transformer Architecture
      year: 2020
      venue: ICML 2020                                        # journal, conference, or "GitHub"
      url: https://arxiv.org/abs/2002.04745

A chapter cites with the roles of MyST / sphinxcontrib-bibtex, author-year style:

- ``{cite:t}`xiong2020layernorm``` (textual): "Xiong et al. (2020)";
- ``{cite:p}`key1,key2``` (parenthetical) and ``{cite}`key```: "(Xiong et al., 2020; ...)".

Inside parentheses the text already opened (``MinHash ({cite:p}`broder1997minhash`, first
used ...)``), either role prints "Broder, 1997", without parentheses of its own, as natbib's
``\citealp`` does: no "((Broder, 1997)" nor "(Kaplan et al. (2020), ...".

An exercise notebook is read in Jupyter too, where a role would show raw: it cites with a
Markdown link to the work's ``url`` (``[Kaplan et al. 2020](https://arxiv.org/abs/2001.08361)``),
which the book prints as a citation, its text linked to the entry (``cite_link``). A link whose
text names authors and a year ("Fan et al., 2018", "Bradley and Terry 1952") to a URL of no
entry stops the build, as an unknown key does; so does one whose year is not its entry's.

Each citation is a link to its entry; the bibliography lists every cited work once, sorted by
author and year, with its URL as a link. Two works that would read the same ("Touvron et al.,
2023") get a letter after the year, in the order of their titles: 2023a, 2023b. A key that is not in the file stops the build with the
file, the line and the closest keys; so does an entry without a required field.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from weasyprint_build.errors import BuildError

FILE_NAME = "references.yaml"
FIELDS = ("authors", "title", "year", "venue", "url")
CITE_ROLES = ("cite", "cite:p", "cite:t")
ANCHOR_PREFIX = "bib-"
OTHERS = "others"  # the last author of a long list, printed "et al." (BibTeX's "and others")
# A link's text that cites: a capitalised name, "et al." or "and Name", then a year.
AUTHOR_YEAR = re.compile(
    r"\b[A-Z][\w'-]+(?:\s+et\s+al\.|\s+and\s+[A-Z][\w'-]+)?,?\s+\(?((?:1[89]|20)\d\d)\b"
)


@dataclass(frozen=True)
class Work:
    key: str
    authors: tuple[str, ...]  # "Ruibin Xiong"; an organisation is one name ("OpenAI")
    title: str
    year: int
    venue: str
    url: str
    year_label: str = ""  # "2023a" when another work reads the same; else the year

    def __post_init__(self) -> None:
        if not self.year_label:
            object.__setattr__(self, "year_label", str(self.year))

    @property
    def anchor(self) -> str:
        return ANCHOR_PREFIX + self.key

    def short_authors(self) -> str:
        """"Xiong et al.", "Kingma and Ba", "Hewitt": surnames as the text names the authors."""
        surnames = [_surname(name) for name in self.authors]
        if len(surnames) >= 3 or self.authors[-1] == OTHERS:
            return f"{surnames[0]} et al."
        return " and ".join(surnames)

    def sort_key(self) -> tuple:
        return (_surname(self.authors[0]).lower(), self.year, self.title.lower())


def _surname(name: str) -> str:
    """The last word, with the particles before it: "Leandro von Werra" -> "von Werra"."""
    words = name.split()
    start = len(words) - 1
    while start > 1 and words[start - 1][:1].islower():
        start -= 1
    return " ".join(words[start:])


class Bibliography:
    """The works of ``references.yaml`` and the ones the book has cited so far."""

    def __init__(self, works: dict[str, Work], source: str) -> None:
        self.works = works
        self.source = source  # the file, for error messages
        self.cited: dict[str, Work] = {}  # in the order of first citation

    def cite(self, role: str, content: str, where: str, in_parentheses: bool = False) -> str:
        """The HTML of a citation role (see the module's docstring); ``in_parentheses``: the
        text around it has opened a parenthesis, so it brings none of its own."""
        keys = [key.strip() for key in content.split(",")]
        if not all(keys):
            raise BuildError(
                f"{where}: {{{role}}}`{content}` has an empty key; separate keys with commas, "
                "for example {cite:p}`kaplan2020scaling,hoffmann2022chinchilla`."
            )
        works = [self._work(key, role, content, where) for key in keys]
        for work in works:
            self.cited.setdefault(work.key, work)
        if role == "cite:t" and not in_parentheses:
            return "; ".join(
                f'{html.escape(w.short_authors())} (<a class="cite" href="#{w.anchor}">'
                f"{w.year_label}</a>)"
                for w in works
            )
        inner = "; ".join(
            f'<a class="cite" href="#{w.anchor}">{html.escape(w.short_authors())}, {w.year_label}</a>'
            for w in works
        )
        return inner if in_parentheses else f"({inner})"

    def cite_link(self, url: str, text: str, where: str) -> Work | None:
        """The work a Markdown link ``[text](url)`` cites (see the module's docstring), now
        cited; ``None`` for a link that cites nothing (no entry's URL, no author and year)."""
        work = next((w for w in self.works.values() if _address(w.url) == _address(url)), None)
        named = AUTHOR_YEAR.search(text)
        if work is None:
            if named is None:
                return None
            raise BuildError(
                f"{where}: the link [{text}]({url}) cites a work that is not in {self.source}. "
                f"Add the work there with url: {url} (fields: {', '.join(FIELDS)}), or link to "
                "the url of its entry."
            )
        if named is not None and int(named.group(1)) != work.year:
            raise BuildError(
                f"{where}: the link [{text}]({url}) names {named.group(1)}, but the work at that "
                f"URL, {work.key} in {self.source}, is from {work.year}: fix the year or the link."
            )
        self.cited.setdefault(work.key, work)
        return work

    def _work(self, key: str, role: str, content: str, where: str) -> Work:
        work = self.works.get(key)
        if work is None:
            close = difflib.get_close_matches(key, list(self.works), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise BuildError(
                f"{where}: {{{role}}}`{content}`: the key {key!r} is not in {self.source}.{hint} "
                f"Add the work there (fields: {', '.join(FIELDS)}) or fix the key."
            )
        return work

    def html(self) -> str:
        """The bibliography: every cited work once, by author and year; '' if nothing is cited."""
        if not self.cited:
            return ""
        items = "\n".join(
            _entry_html(work) for work in sorted(self.cited.values(), key=Work.sort_key)
        )
        return (
            '<section class="back-matter bibliography" id="bibliography">'
            '<h1 class="back-matter-title">Bibliography</h1>'
            f'<ul class="bibliography-list">\n{items}\n</ul></section>'
        )


def _entry_html(work: Work) -> str:
    authors = html.escape(_join_names(list(work.authors)))
    url = html.escape(work.url, quote=True)
    return (
        f'<li id="{work.anchor}"><span class="bib-authors">{authors}</span> '
        f'<span class="bib-year">({work.year_label}).</span> '
        f'<span class="bib-title">{html.escape(_sentence(work.title))}</span> '
        f'<span class="bib-venue">{html.escape(_sentence(_capitalised(work.venue)))}</span> '
        f'<a class="bib-url" href="{url}">{_breakable(html.escape(work.url))}</a></li>'
    )


def _capitalised(text: str) -> str:
    """The venue starts a sentence: "blog post" -> "Blog post"; a first word with a capital
    of its own is a name and keeps its spelling ("arXiv 2001.08361"). (A title keeps its own
    spelling too: "nanoGPT", "llm.c" are names.)"""
    first = text.split(" ", 1)[0]
    return text if first != first.lower() else text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    """``text`` ended by a full stop, unless it ends with its own ("To!", "RLHF?")."""
    return text if text.endswith((".", "!", "?")) else text + "."


def _address(url: str) -> str:
    """A URL without its scheme and final slash: the same work by http or https."""
    return url.removeprefix("https://").removeprefix("http://").rstrip("/")


def _join_names(names: list[str]) -> str:
    if names[-1] == OTHERS:
        return ", ".join(names[:-1]) + ", et al."
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def _breakable(url: str) -> str:
    """A URL that may break after its slashes, dashes and the dots of its path (a zero-width
    space); not inside its host name ("arxiv." / "org") nor a number ("2204." / "05862": the
    book read of 5 December)."""
    scheme, _, rest = url.rpartition("://")
    host, slash, path = rest.partition("/")
    path = re.sub(r"([/\-_?=&])(?=.)|(?<!\d)(\.)(?=.)|(\.)(?=\D)", lambda m: m[0] + "\u200b", path)
    host = re.sub(r"([\-_])(?=.)", "\\1\u200b", host)
    start = f"{scheme}://" if scheme else ""
    return start + host + (slash + "\u200b" if slash and path else slash) + path


def load_bibliography(course_dir: Path) -> Bibliography:
    """``course_dir/references.yaml`` (no file: an empty bibliography, so any citation fails)."""
    path = Path(course_dir) / FILE_NAME
    source = f"{path.parent.name}/{FILE_NAME}"
    if not path.exists():
        return Bibliography({}, source)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise BuildError(f"{source}: not valid YAML ({error}).") from None
    if not isinstance(data, dict):
        raise BuildError(f"{source}: must map each key to a work (key: {{authors: ...}}).")
    works = {}
    for key, entry in data.items():
        missing = [f for f in FIELDS if not (isinstance(entry, dict) and entry.get(f))]
        if missing:
            raise BuildError(
                f"{source}, entry {key!r}: missing {', '.join(missing)}; every work needs "
                f"{', '.join(FIELDS)} (authors a list of names, first name first)."
            )
        authors = entry["authors"]
        if isinstance(authors, str):
            authors = [authors]
        works[str(key)] = Work(
            key=str(key),
            authors=tuple(str(a) for a in authors),
            title=str(entry["title"]),
            year=int(entry["year"]),
            venue=str(entry["venue"]),
            url=str(entry["url"]),
        )
    return Bibliography(_with_year_labels(works), source)


def _with_year_labels(works: dict[str, Work]) -> dict[str, Work]:
    """``works`` with their ``year_label``: the year, and a letter where two works of the
    file have the same short authors and year (by title: "2023a", "2023b")."""
    alike: dict[tuple[str, int], list[Work]] = {}
    for work in works.values():
        alike.setdefault((work.short_authors(), work.year), []).append(work)
    labels = {}
    for group in alike.values():
        group.sort(key=lambda w: w.title.lower())
        for letter, work in zip("abcdefghijklmnopqrstuvwxyz", group):
            labels[work.key] = f"{work.year}{letter if len(group) > 1 else ''}"
    return {key: replace(work, year_label=labels[key]) for key, work in works.items()}
