"""diagnose_loss_history names the problem of each kind of run, in the table's order."""

import math

import pytest

from llm_keras.training.diagnosis import REMEDIES, diagnose_loss_history

FALLING = [4.2 * math.exp(-i / 4) + 1.5 * (1 - math.exp(-i / 4)) for i in range(20)]


@pytest.mark.parametrize("history, problem", [
    ({"train_loss": [4.2, 3.0, float("nan")], "val_loss": [4.2, 3.1, float("nan")]}, "diverging"),
    ({"train_loss": [4.2, 3.0, 2.5, 4.5], "val_loss": [4.2, 3.0, 2.6, 4.6]}, "diverging"),
    ({"train_loss": [4.2, 2.0], "val_loss": [4.2, float("inf")]}, "diverging"),
    ({"train_loss": [4.17, 4.1, 4.0], "val_loss": [4.17, 4.1, 4.0]}, "flat"),
    ({"train_loss": FALLING, "val_loss": FALLING[:10] + [FALLING[9] + 0.05 * i
                                                        for i in range(1, 11)]}, "overfitting"),
    ({"train_loss": FALLING, "val_loss": [x + 0.1 for x in FALLING]}, "healthy"),
])
def test_each_problem_and_its_remedy(history, problem):
    assert diagnose_loss_history(history) == (problem, REMEDIES[problem])


def test_thresholds_are_those_of_the_table():
    # A fall of exactly a tenth is not flat; a rise of 0.1875 (< 0.2) is not overfitting.
    assert diagnose_loss_history({"train_loss": [5.0, 4.5], "val_loss": [5.0, 4.5]})[0] == "healthy"
    assert diagnose_loss_history({"train_loss": [5.0, 4.5001],
                                  "val_loss": [5.0, 4.5]})[0] == "flat"
    assert diagnose_loss_history({"train_loss": [4.0, 3.0, 2.0],
                                  "val_loss": [4.0, 3.0, 3.1875]})[0] == "healthy"
    assert diagnose_loss_history({"train_loss": [4.0, 3.0, 2.0],
                                  "val_loss": [4.0, 3.0, 3.25]})[0] == "overfitting"


def test_a_too_short_history_is_refused():
    with pytest.raises(ValueError, match="at least 2 evaluations"):
        diagnose_loss_history({"train_loss": [4.2], "val_loss": [4.2]})
