"""The process boundary in a real batch (issue 19): one worker grades, in this order, a
submission that leaves things behind, an honest one, one that signals everything it can name and
then exhausts memory, another honest one, and an honest one that imports TensorFlow under jax.

Every submission is the reference solution (8 points) with code added to an answer cell. The
honest ones lose softmax's 2 points if they see anything an earlier submission left.
"""

from __future__ import annotations

import pytest

from autograder.grading import Options, grade
from tests.course.autograder import corpus
from tests.course.autograder.conftest import TEST_LIMITS, make_course
from tests.course.autograder.test_boundary_process import (LEFTOVERS_SEEN, PLANT_LEFTOVERS,
                                                           SIGNAL_ATTACK)

HONEST_UNLESS_LEFTOVERS = LEFTOVERS_SEEN + "if any(left):\n    del softmax\n"
BLOCKS = str(3 * TEST_LIMITS.memory_bytes // (64 << 20))  # three times the limit
CASES = [
    corpus.Case("a_leftovers", 8, append={"softmax-answer": PLANT_LEFTOVERS}),
    corpus.Case("b_honest", 8, append={"softmax-answer": HONEST_UNLESS_LEFTOVERS}),
    corpus.Case("c_signals", 0, status="out_of_memory",
                append={"self-attention-answer": SIGNAL_ATTACK.replace("BLOCKS", BLOCKS)}),
    corpus.Case("d_honest", 8, append={"softmax-answer": HONEST_UNLESS_LEFTOVERS}),
    corpus.Case("e_tensorflow", 8, prepend={"softmax-answer": "import tensorflow as tf\n"}),
]


@pytest.fixture(scope="module")
def records(tmp_path_factory, sandbox_available):
    if not sandbox_available:
        pytest.skip("bubblewrap cannot create a sandbox on this machine")
    root = tmp_path_factory.mktemp("boundary") / "course"
    course = make_course(root)
    paths = {"release": course.release("demo") / "demo.ipynb"}
    for case in CASES:
        corpus.build(case, root / "submitted" / case.name / "demo", paths)
    options = Options(backends=("jax",), workers=1, limits=TEST_LIMITS, progress=False)
    return grade(course, "demo", root / "submitted", options).graded


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_submission_gets_its_own_score(records, case):
    record = records[case.name]
    assert (record["status"], record["score"]) == (case.status, case.score), (
        record["messages"], [(e["name"], e["points"], e["message"]) for e in record["exercises"]])
