"""``llm-course similarity``: which answers look copied, from each other or from the library.

A report for instructors, not a penalty: it reads the submissions, changes no grade and writes
``similarity.html`` and ``similarity.json``. Each exercise's answer cells (read by nbgrader
``grade_id`` with the grader's own ``rebuild``) are compared with

- the library's source of every piece the exercise grades (``Exercise.graded``), found by
  reading the package's files with ``ast`` (nothing is imported, so no Keras);
- the exercise's reference answer in the course's source notebook (``solutions/``);
- the same exercise's answer in every other submission.

The comparison is document fingerprinting, as MOSS and JPlag do it (Schleimer, Wilkerson and
Aiken, "Winnowing: local algorithms for document fingerprinting", SIGMOD 2003):

1. **Normalise** the code to tokens with ``tokenize``: every identifier becomes ``V``, every
   number ``N``, every string ``S``; keywords and operators stay; comments, docstrings and
   layout are dropped. Renaming variables or reformatting code changes nothing.
2. **Hash every k-gram** (``K`` consecutive tokens).
3. **Winnow**: in each window of ``W`` consecutive k-gram hashes keep the smallest (the
   rightmost on ties). Any passage of at least ``W + K - 1`` tokens shared by two answers gives
   them a shared fingerprint; nothing shorter than ``K`` tokens does.
4. Drop the fingerprints of the starter code the learners were given (the release's answer
   cells), which every submission shares.

The similarity of two answers is the number of fingerprints they share divided by the number of
fingerprints of the smaller one (JPlag's "maximum similarity"): 1.0 when all of one answer's
code is found in the other. The matching passages are the shared fingerprints extended to the
longest equal runs of tokens, reported as line ranges in each source.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import html
import importlib.util
import io
import json
import keyword
import re
import tokenize
from pathlib import Path

from autograder.assignment import Assignment
from autograder.course import Course
from autograder.python_source import parse
from autograder.rebuild import rebuild

K = 12  # tokens per k-gram: shorter shared runs are idioms (`ops.softmax(x, axis=-1)`), not copies
W = 6   # window: a shared run of W + K - 1 = 17 tokens (about two lines) is always found
THRESHOLD = 0.5
MAX_COMMON = 10  # a fingerprint in more submissions than this is what the class writes (MOSS's -m)
MAX_PASSAGES = 20  # per pair, the longest first
STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
         "td,th{border:1px solid #ccc;padding:.3em;vertical-align:top}.sides{display:grid;"
         "grid-template-columns:1fr 1fr;gap:1em}pre{background:#f6f6f6;padding:.5em;"
         "overflow-x:auto}mark{background:#ffe08a;display:inline-block;width:100%}")

_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING}
_BOUNDARIES = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python 3.12 splits f-strings
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --- fingerprints ------------------------------------------------------------------------------


@dataclasses.dataclass
class Document:
    """One piece of code, normalised and fingerprinted.

    ``tokens[i]`` is the i-th normalised token and ``lines[i]`` its first and last line, counted
    from ``first_line`` (a library piece keeps its file's line numbers, an answer starts at 1).
    ``fingerprints`` maps each selected k-gram hash to the token positions where it starts.
    """

    label: str
    kind: str  # submission | library | solution
    text: str
    path: str = ""
    first_line: int = 1
    tokens: list[str] = dataclasses.field(default_factory=list)
    lines: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    fingerprints: dict[int, list[int]] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, label: str, kind: str, text: str, base: frozenset = frozenset(), k: int = K,
           w: int = W, path: str = "", first_line: int = 1) -> Document:
        tokens, lines = normalise(text)
        offset = first_line - 1
        document = cls(label, kind, text, path, first_line, tokens,
                       [(a + offset, b + offset) for a, b in lines])
        for value, position in winnow(kgram_hashes(tokens, k), w):
            if value not in base:
                document.fingerprints.setdefault(value, []).append(position)
        return document


def normalise(source: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens of Python code with names, numbers and strings replaced by their kind.

    Returns the tokens and, for each, its (first, last) line in ``source``. Statements made only
    of strings (docstrings) are dropped with the comments. Code that does not tokenize (a syntax
    error, an IPython ``!command``) is read line by line, keeping what each line yields.
    """
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        raw = []
        for number, line in enumerate(source.splitlines(), start=1):
            for token in _tokens_until_error(line.strip()):
                raw.append(token._replace(start=(number, 0), end=(number, 0)))
    return _normalised(raw)


def _tokens_until_error(line: str) -> list[tokenize.TokenInfo]:
    tokens = []
    try:
        tokens.extend(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        pass
    return tokens


def _normalised(raw: list[tokenize.TokenInfo]) -> tuple[list[str], list[tuple[int, int]]]:
    significant, depth = [], 0
    for token in raw:
        if token.type == _FSTRING_START:
            depth += 1
            if depth == 1:
                significant.append(("S", token.start[0], token.start[0], "string"))
        elif token.type == _FSTRING_END:
            depth -= 1
            significant[-1] = (*significant[-1][:2], token.end[0], "string")
        elif depth:
            continue
        elif token.type in _BOUNDARIES:
            significant.append(("", 0, 0, "boundary"))
        elif token.type not in _SKIPPED and token.string.strip():
            significant.append((_kind(token), token.start[0], token.end[0],
                                "string" if token.type == tokenize.STRING else "code"))
    tokens, lines, statement_start = [], [], True
    for index, (text, first, last, role) in enumerate(significant):
        if role == "boundary":
            statement_start = True
            continue
        if statement_start and role == "string" and _only_strings(significant, index):
            continue  # a docstring, or a string written as a statement
        statement_start = False
        tokens.append(text)
        lines.append((first, last))
    return tokens, lines


def _only_strings(significant: list, index: int) -> bool:
    for _, _, _, role in significant[index:]:
        if role != "string":
            return role == "boundary"
    return True


def _kind(token: tokenize.TokenInfo) -> str:
    if token.type == tokenize.NAME:
        return token.string if keyword.iskeyword(token.string) else "V"
    if token.type == tokenize.NUMBER:
        return "N"
    if token.type == tokenize.STRING:
        return "S"
    return token.string


def kgram_hashes(tokens: list[str], k: int = K) -> list[int]:
    """A 64-bit hash of every run of ``k`` tokens, in order (``len(tokens) - k + 1`` of them)."""
    return [int.from_bytes(hashlib.blake2b("\x00".join(tokens[i:i + k]).encode(), digest_size=8)
                           .digest(), "big") for i in range(len(tokens) - k + 1)]


def winnow(hashes: list[int], w: int = W) -> list[tuple[int, int]]:
    """(hash, position) selected by winnowing: the minimum of each window of ``w`` hashes, the
    rightmost on ties, each position once. A sequence shorter than a window keeps its minimum."""
    selected, last = [], -1
    for start in range(max(1, len(hashes) - w + 1)):
        window = hashes[start:start + w]
        if not window:
            break
        low = min(window)
        position = start + max(i for i, value in enumerate(window) if value == low)
        if position != last:
            selected.append((low, position))
            last = position
    return selected


# --- comparing two documents -------------------------------------------------------------------


@dataclasses.dataclass
class Passage:
    """A run of equal normalised tokens: its line ranges in the two documents."""

    a: tuple[int, int]
    b: tuple[int, int]
    tokens: int


def compare(a: Document, b: Document, k: int = K,
            ignored: frozenset = frozenset()) -> tuple[float, int, list[Passage]]:
    """(similarity, shared fingerprints, passages): shared / fingerprints of the smaller one,
    leaving out the ``ignored`` fingerprints."""
    shared = (a.fingerprints.keys() & b.fingerprints.keys()) - ignored
    smaller = min(len(a.fingerprints.keys() - ignored), len(b.fingerprints.keys() - ignored))
    if not shared or not smaller:
        return 0.0, 0, []
    return len(shared) / smaller, len(shared), passages(a, b, shared, k)


def passages(a: Document, b: Document, shared, k: int = K) -> list[Passage]:
    """Each shared fingerprint, checked token by token and extended both ways while equal."""
    runs = set()
    for value in shared:
        for start_a in a.fingerprints[value][:10]:
            for start_b in b.fingerprints[value][:10]:
                if a.tokens[start_a:start_a + k] != b.tokens[start_b:start_b + k]:
                    continue  # a hash collision
                while start_a and start_b and a.tokens[start_a - 1] == b.tokens[start_b - 1]:
                    start_a, start_b = start_a - 1, start_b - 1
                length = k
                while (start_a + length < len(a.tokens) and start_b + length < len(b.tokens)
                       and a.tokens[start_a + length] == b.tokens[start_b + length]):
                    length += 1
                runs.add((start_a, start_b, length))
    kept = []
    for start_a, start_b, length in sorted(runs, key=lambda run: -run[2]):
        if not any(sa <= start_a and start_a + length <= sa + n and sb <= start_b
                   and start_b + length <= sb + n for sa, sb, n in kept):
            kept.append((start_a, start_b, length))
    return [Passage(a=(a.lines[sa][0], a.lines[sa + n - 1][1]),
                    b=(b.lines[sb][0], b.lines[sb + n - 1][1]), tokens=n)
            for sa, sb, n in kept[:MAX_PASSAGES]]


# --- the library's source ----------------------------------------------------------------------


def library_source(dotted: str) -> tuple[Path, int, str] | None:
    """(file, first line, source) of a library object such as ``llm_keras.layers.causal_mask``.

    Found by reading files, never importing them: the package's ``__init__.py`` files are
    followed through their ``from ... import`` re-exports down to the ``def`` or ``class``.
    ``None`` when the name is not defined in Python source (a C extension, an alias at run time).
    """
    package, *rest = dotted.split(".")
    return _located(package, rest, set())


def _find(path: Path, module: str, rest: list[str], seen: set) -> tuple[Path, int, str] | None:
    if not rest:
        return None  # a whole module is not a graded piece
    if (module, tuple(rest)) in seen or len(seen) > 50:
        return None
    seen.add((module, tuple(rest)))
    source = path.read_text(encoding="utf-8")
    tree = parse(source)
    name = rest[0]
    for node in tree.body:
        if isinstance(node, _DEFINITIONS) and node.name == name:
            return _segment(path, source, node, rest[1:])
    if path.name == "__init__.py":
        for candidate in (path.parent / f"{name}.py", path.parent / name / "__init__.py"):
            if candidate.is_file():
                return _find(candidate, f"{module}.{name}", rest[1:], seen)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    origin = _absolute(node, package)
                    return _located(origin, [alias.name, *rest[1:]], seen)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname == name:
                    return _located(alias.name, rest[1:], seen)
    return None


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[:len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _located(module: str, rest: list[str], seen: set) -> tuple[Path, int, str] | None:
    """``rest`` inside the module named ``module``, whose file is found without importing it."""
    parts = module.split(".")
    spec = importlib.util.find_spec(parts[0])
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin)
    for part in parts[1:]:
        folder = path.parent
        if (folder / part / "__init__.py").is_file():
            path = folder / part / "__init__.py"
        elif (folder / f"{part}.py").is_file():
            path = folder / f"{part}.py"
        else:
            return None
    return _find(path, module, rest, seen)


def _segment(path: Path, source: str, node: ast.AST, rest: list[str]):
    for name in rest:  # a method: Class.call
        node = next((child for child in getattr(node, "body", [])
                     if isinstance(child, _DEFINITIONS) and child.name == name), None)
        if node is None:
            return None
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = source.splitlines(keepends=True)[first - 1:node.end_lineno]
    return path, first, "".join(lines)


# --- the report --------------------------------------------------------------------------------


def similarity_report(course: Course, name: str, submissions: Path, threshold: float = THRESHOLD,
                      k: int = K, w: int = W, max_common: int = MAX_COMMON,
                      progress: bool = True) -> dict:
    """Compare every submission's answers, exercise by exercise; a dict ready for JSON.

    A fingerprint found in the answers of more than ``max_common`` submissions is ignored when
    two submissions are compared (MOSS's ``-m``): it is the way the class writes that code (the
    one-line answer everyone finds), not a copy between two of them. Comparisons with the
    library and the reference answer keep it: a whole class writing the reference's code is
    worth seeing, and those rows grow with the class, not with its square.

    ``pairs`` lists, most similar first, every pair whose similarity is at least ``threshold``;
    ``documents`` holds the code of each document a pair names; ``unreadable`` lists the
    submissions whose notebook could not be read (they are left out, nothing else is), and
    ``skipped`` the folders the grader does not read either (symbolic links).
    """
    from tqdm import tqdm

    from autograder.grading import discover

    if not 0 < threshold <= 1:
        raise ValueError(f"--threshold {threshold:g} is not a similarity: give a share of "
                         f"fingerprints between 0 (exclusive) and 1, e.g. {THRESHOLD}")
    if k < 1 or w < 1 or max_common < 1:
        raise ValueError(f"k={k}, w={w} and max_common={max_common} must be at least 1 "
                         f"(defaults: k={K}, w={W}, max_common={MAX_COMMON})")
    assignment = Assignment.load(course, name)
    discovery = discover(submissions, name)
    bases, answers, unreadable = {}, {}, []  # answers: exercise -> [Document]
    missing = []
    references = _references(course, assignment, k, w, bases, missing)
    for student, folder in tqdm(discovery.found, desc=f"similarity {name}", unit="submission",
                                disable=not progress):
        try:
            for exercise, text in _answers(assignment, folder, student, unreadable):
                answers.setdefault(exercise, []).append(
                    Document.of(student, "submission", text, bases[exercise], k, w))
        except Exception as error:  # noqa: BLE001 - one submission must never stop the report
            unreadable.append({"student": student, "notebook": "",
                               "message": f"could not be read ({error!r})"})
    pairs, documents = [], {}
    for exercise in assignment.exercises:
        group = answers.get(exercise.name, [])
        common = _common(group, max_common)
        for a, b in _candidates(group, references[exercise.name], common):
            ignored = common if b.kind == "submission" else frozenset()
            similarity, shared, found = compare(a, b, k, ignored)
            if similarity < threshold or not shared:
                continue
            for document in (a, b):
                documents.setdefault(exercise.name, {})[document.label] = {
                    "kind": document.kind, "path": document.path, "first_line": document.first_line,
                    "text": document.text}
            pairs.append({"exercise": exercise.name, "a": a.label, "b": b.label,
                          "b_kind": b.kind, "similarity": round(similarity, 4), "shared": shared,
                          "fingerprints": [len(a.fingerprints.keys() - ignored),
                                           len(b.fingerprints.keys() - ignored)],
                          "passages": [{"a": list(p.a), "b": list(p.b), "tokens": p.tokens}
                                       for p in found]})
    pairs.sort(key=lambda pair: (-pair["similarity"], pair["exercise"], pair["a"], pair["b"]))
    return {"assignment": name, "submissions": len(discovery.found), "threshold": threshold,
            "k": k, "w": w, "max_common": max_common, "skipped": discovery.skipped,
            "library_missing": missing,
            "measure": "shared winnowed fingerprints / fingerprints of the smaller document",
            "unreadable": unreadable, "pairs": pairs, "documents": documents}


def _references(course, assignment, k, w, bases, missing) -> dict[str, list[Document]]:
    """Per exercise: the library's graded pieces and the source notebook's reference answer."""
    found, solutions, source = {}, {}, course.source(assignment.name)
    for notebook, template in assignment.templates.items():
        others = set(assignment.templates) - {notebook}
        solutions[notebook] = rebuild(template, source, others).answers if source.is_dir() else {}
    for exercise in assignment.exercises:
        template = assignment.templates[exercise.notebook]
        starter = _joined(_starter(template), exercise.probe.exercise.answer_cells)
        bases[exercise.name] = frozenset(kgram_hashes(normalise(starter)[0], k))
        documents = []
        for dotted in exercise.probe.exercise.graded:
            located = library_source(dotted)
            if located:
                path, first, text = located
                documents.append(Document.of(dotted, "library", text, bases[exercise.name], k, w,
                                             str(path), first))
            else:
                missing.append(dotted)
        answer = _joined(solutions[exercise.notebook], exercise.probe.exercise.answer_cells)
        if answer.strip():
            label = f"reference solution ({assignment.name}/{exercise.notebook}.ipynb)"
            documents.append(Document.of(label, "solution", answer, bases[exercise.name], k, w))
        found[exercise.name] = documents
    return found


def _starter(template) -> dict[str, str]:
    """The answer cells as handed out: their code is dropped from every comparison."""
    return {meta["grade_id"]: "".join(cell["source"]) for cell, meta in template.code_cells()
            if meta.get("solution")}


def _joined(cells: dict[str, str], ids) -> str:
    return "\n".join(cells.get(cell_id, "") for cell_id in ids)


def _answers(assignment, folder, student, unreadable):
    """(exercise, its answer cells joined) for one submission, read as the grader reads it."""
    for notebook, template in assignment.templates.items():
        exercises = [e for e in assignment.exercises if e.notebook == notebook]
        if not exercises:
            continue
        rebuilt = rebuild(template, folder, set(assignment.templates) - {notebook})
        if rebuilt.status != "ok":
            unreadable.append({"student": student, "notebook": notebook,
                               "message": (rebuilt.messages or [rebuilt.status])[-1]})
            continue
        starter = _starter(template)
        for exercise in exercises:
            ids = exercise.probe.exercise.answer_cells
            cells = {c: rebuilt.answers.get(c, starter.get(c, "")) for c in ids}
            yield exercise.name, _joined(cells, ids)


def _common(group: list[Document], max_common: int) -> frozenset:
    counts = {}
    for document in group:
        for value in document.fingerprints:
            counts[value] = counts.get(value, 0) + 1
    return frozenset(value for value, count in counts.items() if count > max_common)


def _candidates(group: list[Document], references: list[Document], common: frozenset):
    """Every answer with every reference, and the pairs of answers that share a fingerprint
    other than the ``common`` ones, found through an index of fingerprints."""
    index = {}
    for number, document in enumerate(group):
        for value in document.fingerprints.keys() - common:
            index.setdefault(value, []).append(number)
    pairs = set()
    for numbers in index.values():
        pairs.update((i, j) for x, i in enumerate(numbers) for j in numbers[x + 1:])
    for i, j in sorted(pairs):
        yield group[i], group[j]
    for document in group:
        for reference in references:
            yield document, reference


def write(report: dict, out: Path) -> tuple[Path, Path]:
    """Write ``out`` (HTML) and the same name with ``.json``; return both paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report), encoding="utf-8")
    data = out.with_suffix(".json")
    data.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return out, data


def render_html(report: dict) -> str:
    e = _escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(report['assignment'])}: similarity report</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{e(report['assignment'])}: similarity of answers</h1>",
        (f"<p>{report['submissions']} submission(s). A report for review, not a grade: similar "
         "code is a reason to look, not proof of copying (short answers to a small exercise are "
         f"alike by nature). Similarity: {e(report['measure'])}; k = {report['k']} tokens, window "
         f"w = {report['w']}; code found in more than {report['max_common']} submissions is "
         f"ignored between submissions; pairs at or above {report['threshold']:g} are listed.</p>"),
    ]
    if report["library_missing"]:
        parts.append("<p>No Python source found for the graded piece(s) "
                     f"{e(', '.join(sorted(set(report['library_missing']))))}: not compared.</p>")
    if report["unreadable"] or report["skipped"]:
        parts.append("<h2>Unreadable submissions (not compared)</h2><ul>" + "".join(
            f"<li>{e(u['student'])}: {e(u['message'])}</li>" for u in report["unreadable"])
            + "".join(f"<li>{e(message)}</li>" for message in report["skipped"]) + "</ul>")
    parts.append("<table><tr><th>exercise</th><th>answer</th><th>compared with</th>"
                 "<th>similarity</th><th>matching lines</th></tr>")
    for pair in report["pairs"]:
        docs = report["documents"][pair["exercise"]]
        ranges = "<br>".join(f"{p['a'][0]}-{p['a'][1]} ~ {p['b'][0]}-{p['b'][1]} "
                             f"({p['tokens']} tokens)" for p in pair["passages"])
        parts.append(f"<tr><td>{e(pair['exercise'])}</td><td>{e(pair['a'])}</td>"
                     f"<td>{e(pair['b'])} ({e(pair['b_kind'])})</td>"
                     f"<td>{pair['similarity']:.0%} ({pair['shared']} shared)</td>"
                     f"<td>{ranges}</td></tr>")
        sides = [_side(docs[pair["a"]], pair["a"], [p["a"] for p in pair["passages"]]),
                 _side(docs[pair["b"]], pair["b"], [p["b"] for p in pair["passages"]])]
        parts.append(f"<tr><td colspan=5><details><summary>matching passages</summary>"
                     f"<div class='sides'>{''.join(sides)}</div></details></td></tr>")
    parts.append("</table>")
    if not report["pairs"]:
        parts.append("<p>No pair reaches the threshold.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _side(document: dict, label: str, ranges: list) -> str:
    """The document's lines around the passages, numbered, the matching ones highlighted."""
    lines = document["text"].splitlines()
    first = document["first_line"]
    marked = {n for low, high in ranges for n in range(low, high + 1)}
    last = first + len(lines) - 1
    low = max(first, min(r[0] for r in ranges) - 3) if ranges else first
    high = min(last, max(r[1] for r in ranges) + 3) if ranges else last
    shown = []
    for number in range(low, high + 1):
        text = f"{number:4d}  {_escape(lines[number - first])}"
        shown.append(f"<mark>{text}</mark>" if number in marked else text)
    where = f" ({_escape(document['path'])})" if document["path"] else ""
    return f"<div><b>{_escape(label)}</b>{where}<pre>" + "\n".join(shown) + "</pre></div>"


def _escape(text) -> str:
    return html.escape(_CONTROL.sub("", str(text)))
