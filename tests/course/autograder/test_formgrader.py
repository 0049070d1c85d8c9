"""End to end: nbgrader's formgrader (JupyterLab 4) grades by hand on top of our grader's output.

The demo course is released into a temporary folder and two submissions are graded with
``llm-course grade`` (in the bubblewrap sandbox; without bubblewrap, outside it, as the other
grading tests do: both submissions are our own): alice (the reference, 8 / 8) and carol (attention
scaled by d instead of sqrt(d), 4 / 8). Meanwhile ``jupyter lab`` starts in the course root on
127.0.0.1 (its own HOME and Jupyter folders in the temporary folder, so no user configuration is
read or written), and headless Chromium (Debian's, driven by Playwright):

* opens formgrader from JupyterLab's *Nbgrader > Formgrader* menu (a panel) and in its own tab, as
  the instructor guide says to under JupyterHub;
* finds both students in the submission list of demo.ipynb with the scores that nbgrader's
  Gradebook API reads from the gradebook (independently of the page);
* on carol's submission page, finds our rebuilt notebook (``autograded/carol/demo/demo.ipynb``)
  with a score box per grade cell, the autograder's score as its placeholder and the grader's
  message as the answer cell's auto comment;
* types a manual score into one box: the page saves it through formgrader's REST API (with its
  XSRF cookie), the gradebook holds it as the cell's ``manual_score``, it wins over the
  autograder's score in the total, and ``llm-course export`` writes the new total;
* after ``llm-course grade --force`` the manual score still counts and the cell is flagged
  "needs manual grade", in the gradebook and on the page.

The browser's requests to other hosts than 127.0.0.1 are refused; the only one made is the
MathJax script that nbgrader's grading page names. A screenshot of the grading page is saved in
the test's temporary folder (``formgrader.png``), never in the repository.
"""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from autograder import cli
from tests.course.autograder import corpus
from tests.course.autograder.conftest import make_course
from tests.course.browser import (chromium_context, free_port, needs_chromium, stop,
                                  wait_until_answering)

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright (the formgrader test drives Chromium with it)")

STUDENTS = {"alice": corpus.Case("alice", 8), "carol": corpus.Case("carol", 4, answers=corpus.WRONG)}
# formgrader's submission page loads MathJax from this CDN: nbgrader's template calls nbconvert's
# mathjax() macro without the configurable HTMLExporter.mathjax_url. Offline, math stays TeX source.
NBGRADER_MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"
MANUAL = ("carol", "attention-check", 1.5)  # carol's attention earns 0 of 2 from the autograder

pytestmark = needs_chromium


def start_jupyter_lab(root: Path, home: Path, port: int, token: str, log_path: Path) -> subprocess.Popen:
    """``jupyter lab`` in the course root, as an instructor starts it, with nothing of the user's."""
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
           "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / ".ipython"),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}"]
    with open(log_path, "w") as log:
        return subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)


def gradebook_scores(course) -> dict:
    """Per student: (notebook score, max score, and attention-check's auto score, manual score and
    "needs manual grade" flag), read with nbgrader's own Gradebook API."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(course.db_url) as gradebook:
        for student in STUDENTS:
            notebook = gradebook.find_submission_notebook("demo", "demo", student)
            grade = gradebook.find_grade(MANUAL[1], "demo", "demo", student)
            scores[student] = (notebook.score, notebook.max_score, grade.auto_score, grade.manual_score,
                               grade.needs_manual_grade)
    return scores


def exported_scores(course, path: Path) -> dict:
    assert cli.main(["export", "--course", str(course.root), "--to", str(path)]) == 0
    return {row["student_id"]: (float(row["score"]), float(row["max_score"]))
            for row in csv.DictReader(path.open())}


def submission_rows(page) -> dict:
    """student -> (score column, link to the submission, "needs manual grade" ticked) of
    formgrader's list of submissions of demo.ipynb."""
    page.wait_for_function("() => typeof models !== 'undefined' && models.loaded === true")
    rows = {}
    for row in page.locator("#main-table tr").all():
        name = row.locator(".name a.name-shown").text_content().strip()
        rows[name] = (row.locator("td.score").inner_text().strip(),
                      row.locator(".name a.name-shown").get_attribute("href"),
                      row.locator("td.needs-manual-grade .glyphicon-ok").count() == 1)
    return rows


@pytest.fixture
def course_in_jupyter_lab(tmp_path, sandbox_available):
    """The demo course with alice and carol graded, and ``jupyter lab`` serving it."""
    course = make_course(tmp_path / "course")
    home = tmp_path / "home"
    home.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp_path / "jupyter.log"
    process = start_jupyter_lab(course.root, home, port, token, log_path)  # starts while we grade
    try:
        submitted = tmp_path / "submitted"
        for case in STUDENTS.values():
            corpus.build(case, submitted / case.name / "demo",
                         {"release": course.release("demo") / "demo.ipynb"})
        command = ["grade", "demo", str(submitted), "--course", str(course.root), "--backend", "torch",
                   "--workers", "2", "--no-progress", "--cell-timeout", "20"]
        if not sandbox_available:
            command.append("--no-sandbox")  # our own two submissions: nothing untrusted runs
        assert cli.main(command) == 0
        url = f"http://127.0.0.1:{port}/"
        status = urllib.request.Request(url + "formgrader/api/status",
                                        headers={"Authorization": f"token {token}"})
        wait_until_answering(process, status, log_path, 60, "jupyter lab")
        yield course, url, token, log_path, lambda: cli.main(command + ["--force"])
    finally:
        stop(process)


@pytest.fixture
def browser(tmp_path):
    """A fresh headless Chromium (its own empty profile) and every URL it requests."""
    with chromium_context(playwright_api, tmp_path / "chromium-profile",
                          {"width": 1200, "height": 900}) as (context, requested):
        context.set_default_timeout(30_000)
        # nothing leaves this machine: requests to other hosts are refused (and recorded above)
        context.route(lambda u: not u.startswith("http://127.0.0.1:"), lambda route: route.abort())
        yield context.new_page(), requested


def test_formgrader_shows_our_grades_and_takes_a_manual_score(course_in_jupyter_lab, browser, tmp_path):
    course, url, token, log_path, regrade = course_in_jupyter_lab
    page, requested = browser
    student, cell, manual = MANUAL

    before = gradebook_scores(course)
    assert before == {"alice": (8.0, 8.0, 2.0, None, False), "carol": (4.0, 8.0, 0.0, None, False)}

    # in JupyterLab: Nbgrader > Formgrader opens formgrader in a panel (an iframe)
    page.goto(f"{url}lab?token={token}")
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Formgrader", exact=True).click()
    panel = page.frame_locator("iframe[src*='formgrader']")
    panel.locator("#main-table tr", has_text="demo").first.wait_for(timeout=60_000)

    # formgrader in its own tab (as under JupyterHub 4.1+): it redirects to the assignments
    page.goto(f"{url}formgrader")
    page.wait_for_url("**/formgrader/manage_assignments")
    page.locator("#main-table tr", has_text="demo").first.wait_for()

    # manual grading: the submissions of demo.ipynb, with the gradebook's scores
    page.goto(f"{url}formgrader/gradebook/demo/demo")
    rows = submission_rows(page)
    assert {name: (score, flag) for name, (score, _, flag) in rows.items()} == {
        name: (f"{score:g} / {maximum:g}", False) for name, (score, maximum, *_) in before.items()}

    # carol's submission: our rebuilt notebook, a score box per grade cell
    page.goto(url.rstrip("/") + rows[student][1])
    box = page.locator(f"input.score#{cell}")
    box.wait_for()
    page.wait_for_function(f"() => document.getElementById('{cell}').placeholder !== ''")
    assert float(box.get_attribute("placeholder")) == before[student][2]  # the autograder's 0
    assert page.locator("input.score").count() == 5  # the five exercises' grade cells
    comment = page.locator("textarea.comment#attention-answer-comment")
    # formgrader fills each comment's placeholder after the score boxes' (a busy machine once
    # read it before: None): wait for it as for the score
    page.wait_for_function("() => document.getElementById('attention-answer-comment')"
                           "?.placeholder", timeout=120_000)  # fmt: skip
    assert "differ from the reference" in comment.get_attribute("placeholder")  # our auto comment
    assert "scores = ops.matmul" in page.locator(".nbgrader_cell", has=comment).inner_text()

    # type a manual score; the page saves it through formgrader's API when the box loses focus
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                              and r.request.method == "PUT") as saved:
        box.fill(str(manual))
        box.press("Tab")
    assert saved.value.ok, saved.value.text()
    assert saved.value.json()["manual_score"] == manual
    page.mouse.move(0, 0)
    page.screenshot(path=tmp_path / "formgrader.png", full_page=True, animations="disabled")

    after = gradebook_scores(course)
    assert after["carol"] == (4.0 - before["carol"][2] + manual, 8.0, before["carol"][2], manual, False)
    assert after["alice"] == before["alice"]

    page.goto(f"{url}formgrader/gradebook/demo/demo")
    assert submission_rows(page)["carol"][0] == f"{after['carol'][0]:g} / 8"

    assert exported_scores(course, tmp_path / "grades.csv") == {
        name: (score, maximum) for name, (score, maximum, *_) in after.items()}

    # a regrade keeps the manual score (it still wins) and flags the cell for another look
    assert regrade() == 0
    regraded = gradebook_scores(course)
    assert regraded == {**after, "carol": after["carol"][:4] + (True,)}
    page.goto(f"{url}formgrader/gradebook/demo/demo")
    assert {name: (score, flag) for name, (score, _, flag) in submission_rows(page).items()} == {
        "alice": ("8 / 8", False), "carol": (f"{after['carol'][0]:g} / 8", True)}
    assert exported_scores(course, tmp_path / "regraded.csv")["carol"] == (after["carol"][0], 8.0)

    elsewhere = {u for u in requested if not u.startswith(url) and not u.startswith(("data:", "blob:"))}
    assert elsewhere <= {NBGRADER_MATHJAX}, f"the browser requested other hosts: {elsewhere}"
    assert "Traceback" not in log_path.read_text()
