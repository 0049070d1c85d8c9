"""Which hidden checks each case of the corpus fails, as grading found them: ``failing_checks.json``.

The instructor edition's teaching notes (``weasyprint_build/teaching_notes.py``) name the checks
a typical mistake fails, and the build cannot grade (minutes per week). So grading stores what it
found here, and ``test_grading.py`` (which grades every case) asserts that the stored file equals
what grading finds: a change to the corpus or the probes that changes a case's failing checks
fails that test until the file is regenerated with ``UPDATE_COMMAND``.

The file: ``{week: {case: {exercise: {check: {"backends": [...], "feedback": "..."}}}}}``, every
week and every case of the corpus (a right answer has ``{}``): an exercise appears when one of its
checks failed on a backend graded, with the backends where it failed and what the feedback says
about it on the first of them (``6 of 12 values differ from the reference. <the check's hint>``,
``Your `merge` raised TypeError ...``), without the figures of the largest difference. The
per-check results are those of the grading record (``record["backends"][backend]["exercises"]
[i]["tests"]``), which the trusted scorer writes; nothing here reads the sandbox's own word.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

STORED = Path(__file__).with_name("failing_checks.json")
UPDATE_VARIABLE = "LLM_COURSE_UPDATE_FAILING_CHECKS"
UPDATE_COMMAND = (f"{UPDATE_VARIABLE}=1 CI=true LLM_KERAS_DATA=... python -m pytest "
                  "tests/course/weeks/test_grading.py -k stored_failing_checks")


def found(record: dict) -> dict[str, dict[str, dict]]:
    """{exercise: {check: {"backends": [...], "feedback": what it says}}} of one grading
    record."""
    failing: dict[str, dict[str, dict]] = {}
    for backend, run in record["backends"].items():
        for exercise in run["exercises"]:
            for test in exercise["tests"]:
                if not test["passed"]:
                    checks = failing.setdefault(exercise["name"], {})
                    check = checks.setdefault(
                        test["name"], {"backends": [], "feedback": without_figures(test["message"])})
                    check["backends"].append(backend)
    return failing


def without_figures(message: str) -> str:
    """The feedback's message without ``(largest difference ...; rtol ..., atol ...)``, the one
    part that a change of the last digits of a float could change."""
    return re.sub(r" \(largest difference [^)]*\)", "", message)


def read() -> dict:
    """The stored file ({} when there is none yet)."""
    return json.loads(STORED.read_text(encoding="utf-8")) if STORED.is_file() else {}


def updating() -> bool:
    return os.environ.get(UPDATE_VARIABLE, "") not in ("", "0")


def write_week(week: str, cases: dict) -> None:
    """Store ``cases`` ({case: found(record)}) as ``week``'s results, keeping the other weeks."""
    stored = read()
    stored[week] = {name: cases[name] for name in sorted(cases)}
    text = json.dumps(stored, indent=1, sort_keys=True, ensure_ascii=False)
    # a check's list of backends on one line
    text = re.sub(r'\[\n\s+("[^"\n]*"(?:,\n\s+"[^"\n]*")*)\n\s+\]',
                  lambda match: "[" + re.sub(r",\n\s+", ", ", match.group(1)) + "]", text)
    STORED.write_text(text + "\n", encoding="utf-8")
