"""Feedback for learners: ``feedback/<student>/<assignment>/report.json`` and ``report.html``,
and the comment of each exercise in the gradebook.

Built from the structured grading record only: per exercise and test, pass or fail, points and a
message (``expected shape (2, 8, 16), got (2, 16, 8)``). Hidden inputs, expected values and probe
code never reach it; what the notebook printed is shown only up to the moment the probes started.

An exercise scores its lowest result over the backends graded, so the feedback gives one summary
per exercise (``scored on torch, the lowest of jax 3/3, tensorflow 3/3, torch 1/3``) and shows a
backend's details only where they differ from the others'. When an exercise fails and one it uses
(``Exercise.uses``) failed too, it names that one as the cause to fix first. Everything that came
from the learner's process (exception messages, weight names, what the cells printed) is shown as
plain text: control characters and terminal escapes are removed, and the HTML is escaped.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from autograder.records import write_json
from autograder.wording import series

STATUS_WORDS = {
    "graded": "graded",
    "timeout": "graded, but some code ran out of time",
    "kernel_died": "graded, but the notebook crashed (it exited or was killed)",
    "out_of_memory": "graded, but the notebook ran out of memory",
    "invalid_notebook": "the notebook could not be read",
    "sandbox_error": "not graded: the grader failed (not your fault; your instructor will regrade)",
}
# Terminal escapes (CSI, OSC and two-byte ones), C0/C1 control characters other than tab and
# newline, and the Unicode controls that reorder text (bidirectional overrides).
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?"
                      r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
OUTPUT_LIMIT = 20_000  # characters of printed output shown per group of backends


def plain_text(text, limit: int | None = None) -> str:
    """``text`` without control characters or terminal escapes, cut to ``limit`` characters."""
    text = _CONTROL.sub("", str(text))
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def learner_view(record: dict) -> dict:
    """What the learner may see of a grading record (``report.json``)."""
    runs = record.get("backends") or {}
    results = {backend: {e["name"]: e for e in run.get("exercises", [])}
               for backend, run in runs.items()}
    exercises = [_exercise_view(combined, {b: r[combined["name"]] for b, r in results.items()
                                           if combined["name"] in r})
                 for combined in record["exercises"]]
    _add_causes(exercises)
    cells = {b: [_cell_error(c) for c in run.get("cells", []) if c.get("status") != "ok"]
             for b, run in runs.items()}
    output = {b: plain_text(run.get("output", ""), OUTPUT_LIMIT) for b, run in runs.items()}
    return {
        "student": record["student"],
        "assignment": record["assignment"],
        "status": record["status"],
        "score": record["score"],
        "max_score": record["max_score"],
        "backends": list(runs),
        "backend_status": {b: run.get("status", "") for b, run in runs.items()},
        "messages": [plain_text(m) for m in record["messages"]],
        "exercises": exercises,
        "cell_errors": _grouped(cells, lambda errors: bool(errors)),
        "output": _grouped(output, lambda text: bool(text.strip())),
        "graded_at": record.get("graded_at", ""),
    }


def gradebook_comments(record: dict) -> dict[str, tuple[float, str]]:
    """{exercise: (points, comment)} for the gradebook: the summary, cause and message."""
    return {e["name"]: (e["points"], e["comment"]) for e in learner_view(record)["exercises"]}


def write(record: dict, folder: Path) -> None:
    view = learner_view(record)
    write_json(Path(folder) / "report.json", view)
    (Path(folder) / "report.html").write_text(render_html(view), encoding="utf-8")


def _exercise_view(combined: dict, results: dict) -> dict:
    """One exercise: points, the backend that set them, the message, and each test's results
    grouped by backend (one group when every backend gave the same)."""
    points, top = combined["points"], combined["max_points"]
    if not results:  # not run at all (the notebook could not be read, the grader failed)
        results = {"": combined}
    lowest = next((b for b, r in results.items() if r["points"] == points),
                  min(results, key=lambda b: results[b]["points"]))
    worst = results[lowest]
    differ = len({r["points"] for r in results.values()}) > 1
    if differ:
        scores = ", ".join(f"{b} {r['points']:g}/{top:g}" for b, r in results.items())
        summary = f"scored on {lowest}, the lowest of {scores}"
    elif len(results) > 1:
        summary = f"the same on {series(list(results))}"
    else:
        summary = ""
    message = plain_text(worst.get("message") or "")
    passing = [b for b, r in results.items() if r["points"] == top]
    if differ and passing:
        message += "." if message and not message.endswith((".", "!", "?")) else ""
        message = " ".join(m for m in (message, (
            f"It passes on {series(passing)} but not on {lowest}: run your notebook once on "
            f"{lowest} too (set KERAS_BACKEND to \"{lowest}\" in its first cell, restart the "
            "kernel and run all cells) to see the problem in your own checks.")) if m)
    tests = []
    for index, test in enumerate(worst.get("tests", [])):
        by_backend = {b: _test_result(r, index, test["name"]) for b, r in results.items()}
        tests.append({"name": test["name"], "points": test["points"],
                      "max_points": test["max_points"], "passed": test["passed"],
                      "message": plain_text(test["message"] or ""),
                      "results": _grouped(by_backend, lambda _: True)})
    return {"name": combined["name"], "points": points, "max_points": top,
            "by_backend": {b: r["points"] for b, r in results.items() if b},
            "scored_on": lowest, "summary": summary, "message": message, "cause": "",
            "functions": list(worst.get("names", [])), "uses": list(worst.get("uses", [])),
            "tests": tests}


def _test_result(result: dict, index: int, name: str) -> dict:
    """``{"passed", "message"}`` of a backend's test (matched by name, else by position)."""
    tests = result.get("tests", [])
    test = next((t for t in tests if t["name"] == name),
                tests[index] if index < len(tests) else None)
    if test is None:
        return {"passed": False, "message": plain_text(result.get("message") or "not run")}
    return {"passed": bool(test["passed"]), "message": plain_text(test["message"] or "")}


def _add_causes(exercises: list[dict]) -> None:
    """Name the earlier exercise that failed as the cause of a later failure that uses it.

    A chain is followed through failing exercises to the first one that does not itself use a
    failing exercise: a transformer block that calls your multi-head attention, which calls your
    attention function, which failed, is told to fix the attention function first.
    """
    by_name = {e["name"]: e for e in exercises}

    def failed(name):
        return name in by_name and by_name[name]["points"] < by_name[name]["max_points"]

    def chains(name, seen):
        """Paths of failing exercises from ``name``'s uses down to a root cause."""
        found = []
        for used in by_name[name]["uses"]:
            if failed(used) and used not in seen:
                deeper = chains(used, seen | {used})
                found += [[used, *chain] for chain in deeper] or [[used]]
        return found

    for exercise in exercises:
        if exercise["points"] < exercise["max_points"]:
            sentences = [_cause_sentence([by_name[n] for n in chain])
                         for chain in chains(exercise["name"], {exercise["name"]})]
            exercise["cause"] = " ".join(dict.fromkeys(sentences))
        failures = dict.fromkeys(t["message"] for t in exercise["tests"] if t["message"])
        parts = [exercise["summary"] and f"{exercise['points']:g}/{exercise['max_points']:g}, "
                 f"{exercise['summary']}.", exercise["cause"],
                 exercise["message"] or "; ".join(failures)]
        exercise["comment"] = " ".join(p for p in parts if p)


def _cause_sentence(chain: list[dict]) -> str:
    """``This exercise calls your `A`, which calls your `B`, which failed its own check: ...``"""
    def functions(exercise):
        return " and ".join(f"`{f}`" for f in exercise["functions"]) or f"`{exercise['name']}`"

    calls = ", which calls your ".join(functions(e) for e in chain)
    root = chain[-1]
    return (f"This exercise calls your {calls}, which failed its own check (exercise "
            f"{root['name']}): fix that first.")


def _grouped(by_backend: dict, keep) -> list[dict]:
    """``[{"backends": [...], **value}]``: backends with equal values share one entry."""
    groups: list[dict] = []
    for backend, value in by_backend.items():
        if not keep(value):
            continue
        group = next((g for g in groups if g["value"] == value), None)
        if group is None:
            groups.append({"backends": [backend], "value": value})
        else:
            group["backends"].append(backend)
    return [{"backends": [b for b in g["backends"] if b], "value": g["value"]} for g in groups]


def _cell_error(cell: dict) -> dict:
    index = cell.get("index")
    return {"index": index if isinstance(index, int) else None,
            "status": plain_text(cell.get("status") or "", 40),
            "error": plain_text(cell.get("error") or "", 600)}



def render_html(view: dict) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(view['assignment'])}: feedback for {e(view['student'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em;"
        "vertical-align:top}.pass{color:#176117}.fail{color:#a11}.cause{font-weight:bold}"
        ".backend{color:#555;font-size:90%}pre{background:#f6f6f6;padding:.5em;"
        "white-space:pre-wrap}</style></head><body>",
        f"<h1>{e(view['assignment'])}: {view['score']:g} / {view['max_score']:g}</h1>",
        f"<p>Student: {e(view['student'])}. Status: "
        f"{e(STATUS_WORDS.get(view['status'], view['status']))}.</p>",
    ]
    if len(view["backends"]) > 1:
        parts.append(f"<p>Graded on {e(series(view['backends']))}: each exercise scores its "
                     "lowest result over these backends.</p>")
    if view["messages"]:
        parts.append("<ul>" + "".join(f"<li>{e(m)}</li>" for m in view["messages"]) + "</ul>")
    parts.append("<h2>Summary</h2><table><tr><th>exercise</th><th>points</th><th>result</th></tr>")
    for exercise in view["exercises"]:
        css = "pass" if exercise["points"] == exercise["max_points"] else "fail"
        parts.append(f"<tr><td><a href='#{e(exercise['name'])}'>{e(exercise['name'])}</a></td>"
                     f"<td class='{css}'>{exercise['points']:g} / {exercise['max_points']:g}</td>"
                     f"<td>{e(_headline(exercise))}</td></tr>")
    parts.append("</table>")
    for exercise in view["exercises"]:
        parts.append(f"<h2 id='{e(exercise['name'])}'>{e(exercise['name'])}: "
                     f"{exercise['points']:g} / {exercise['max_points']:g}</h2>")
        if exercise["summary"]:
            parts.append(f"<p>{e(exercise['summary'][0].upper() + exercise['summary'][1:])}.</p>")
        if exercise["cause"]:
            parts.append(f"<p class='fail cause'>{e(exercise['cause'])}</p>")
        if exercise["message"]:
            parts.append(f"<p class='fail'>{e(exercise['message'])}</p>")
        parts.append("<table><tr><th>test</th><th>points</th><th>result</th></tr>")
        for test in exercise["tests"]:
            parts.append(f"<tr><td>{e(test['name'])}</td>"
                         f"<td>{test['points']:g} / {test['max_points']:g}</td>"
                         f"<td>{_results_html(test['results'])}</td></tr>")
        parts.append("</table>")
    for group in view["cell_errors"]:
        for cell in group["value"]:
            parts.append(f"<p class='fail'>{e(_on(group))}Cell {cell['index']} "
                         f"({e(cell['status'])}): {e(cell['error'])}</p>")
    for group in view["output"]:
        parts.append(f"<details><summary>What your cells printed{e(_on(group, ' (on ', ')'))}"
                     f"</summary><pre>{e(group['value'])}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _headline(exercise: dict) -> str:
    """The summary table's words for an exercise: its backends, and what to fix first."""
    problem = exercise["cause"] or exercise["message"]
    if not problem and exercise["points"] < exercise["max_points"]:
        problem = next((t["message"] for t in exercise["tests"] if t["message"]), "")
    words = "; ".join(w for w in (exercise["summary"], plain_text(problem, 160)) if w)
    return words or "all tests passed"


def _results_html(groups: list[dict]) -> str:
    """"passed", or each backend group's result when the backends disagree."""
    lines = []
    for group in groups:
        result = group["value"]
        css = "pass" if result["passed"] else "fail"
        words = "passed" if result["passed"] else (result["message"] or "failed")
        prefix = _on(group) if len(groups) > 1 else ""
        lines.append(f"<div class='{css}'>{html.escape(prefix)}{html.escape(words)}</div>")
    return "".join(lines)


def _on(group: dict, before: str = "on ", after: str = ": ") -> str:
    return f"{before}{series(group['backends'])}{after}" if group["backends"] else ""
