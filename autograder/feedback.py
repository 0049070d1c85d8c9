"""Feedback for learners: ``feedback/<student>/<assignment>/report.json`` and ``report.html``.

Built from the structured grading record only: per exercise and test, pass or fail, points and a
message (``expected shape (2, 8, 16), got (2, 16, 8)``). Hidden inputs, expected values and probe
code never reach it; what the notebook printed is shown only up to the moment the probes started.
"""

from __future__ import annotations

import html
from pathlib import Path

from autograder.records import write_json

STATUS_WORDS = {
    "graded": "graded",
    "timeout": "graded, but some code ran out of time",
    "kernel_died": "graded, but the notebook crashed (it exited or was killed)",
    "out_of_memory": "graded, but the notebook ran out of memory",
    "invalid_notebook": "the notebook could not be read",
    "sandbox_error": "not graded: the grader failed (not your fault; your instructor will regrade)",
}


def learner_view(record: dict) -> dict:
    return {
        "student": record["student"],
        "assignment": record["assignment"],
        "status": record["status"],
        "score": record["score"],
        "max_score": record["max_score"],
        "messages": record["messages"],
        "exercises": record["exercises"],
        "backends": {
            backend: {
                "status": run["status"],
                "exercises": run["exercises"],
                "cell_errors": [c for c in run.get("cells", []) if c.get("status") != "ok"],
                "output": run.get("output", ""),
            }
            for backend, run in record["backends"].items()
        },
        "graded_at": record["graded_at"],
    }


def write(record: dict, folder: Path) -> None:
    view = learner_view(record)
    write_json(Path(folder) / "report.json", view)
    (Path(folder) / "report.html").write_text(render_html(view), encoding="utf-8")


def render_html(view: dict) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(view['assignment'])}: feedback for {e(view['student'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em}"
        ".pass{color:#176117}.fail{color:#a11}pre{background:#f6f6f6;padding:.5em;"
        "white-space:pre-wrap}</style></head><body>",
        f"<h1>{e(view['assignment'])}: {view['score']:g} / {view['max_score']:g}</h1>",
        f"<p>Student: {e(view['student'])}. Status: {e(STATUS_WORDS.get(view['status'], view['status']))}.</p>",
    ]
    if view["messages"]:
        parts.append("<ul>" + "".join(f"<li>{e(m)}</li>" for m in view["messages"]) + "</ul>")
    for backend, run in view["backends"].items():
        parts.append(f"<h2>Keras backend: {e(backend)}</h2>")
        parts.append("<table><tr><th>exercise</th><th>test</th><th>points</th><th>result</th></tr>")
        for exercise in run["exercises"]:
            for test in exercise["tests"]:
                css = "pass" if test["passed"] else "fail"
                words = "passed" if test["passed"] else e(test["message"] or "failed")
                parts.append(f"<tr><td>{e(exercise['name'])}</td><td>{e(test['name'])}</td>"
                             f"<td>{test['points']:g} / {test['max_points']:g}</td>"
                             f"<td class='{css}'>{words}</td></tr>")
            if exercise["message"] and not any(t["message"] == exercise["message"] for t in exercise["tests"]):
                parts.append(f"<tr><td>{e(exercise['name'])}</td><td colspan=3 class='fail'>"
                             f"{e(exercise['message'])}</td></tr>")
        parts.append("</table>")
        for cell in run["cell_errors"]:
            parts.append(f"<p class='fail'>Cell {cell.get('index')} ({e(str(cell.get('status')))}): "
                         f"{e(str(cell.get('error') or ''))}</p>")
        if run["output"].strip():
            parts.append(f"<details><summary>What your cells printed</summary><pre>{e(run['output'])}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
