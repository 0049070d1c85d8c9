"""Week 3's hidden probes, checked without a sandbox: the diagnosis exercise's simulated runs are
what they say they are, a constant answer scores exactly what guessing scores, and the metrics
probe's formulas are the library's metrics."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.probes import load_probe
from tests.course.weeks.conftest import REPO

PROBES = REPO / "autograder" / "probes" / "week3"


@pytest.fixture(scope="module")
def diagnose():
    return load_probe(PROBES / "diagnose.py")


def test_every_simulated_run_shows_its_problem(diagnose):
    from llm_keras.training.diagnosis import diagnose_loss_history

    module = diagnose.module
    wrong = []
    for seed in range(2000):
        rng = np.random.default_rng(seed)
        for problem in module.PROBLEMS:
            train, val = module.simulate(rng, problem)
            found, _ = diagnose_loss_history({"train_loss": list(train), "val_loss": list(val)})
            if found != problem:
                wrong.append((seed, problem, found))
    assert wrong == []


@pytest.mark.parametrize("answer", ["diverging", "flat", "overfitting", "healthy"])
def test_a_constant_answer_scores_exactly_a_quarter(diagnose, answer):
    """Whatever the hidden seed, the same answer for every run passes exactly 3 checks of 12."""
    from llm_keras.training.diagnosis import REMEDIES

    class Constant:
        @staticmethod
        def diagnose(history):
            return answer, REMEDIES[answer]

    assert len(diagnose.checks) == 12 and {c.weight for c in diagnose.checks} == {1.0}
    for seed in range(50):
        inputs = diagnose.inputs(np.random.default_rng(seed))
        learner = diagnose.module.probe(Constant, inputs)
        expected = diagnose.module.reference(inputs)
        passed = sum(int(learner[c.key]) == int(expected[c.key]) for c in diagnose.checks)
        assert passed == 3, seed


def test_an_answer_outside_the_table_passes_nothing(diagnose):
    class Vague:
        @staticmethod
        def diagnose(history):
            return "healthy", "train for longer"  # not the table's remedy

    inputs = diagnose.inputs(np.random.default_rng(0))
    assert set(diagnose.module.probe(Vague, inputs).values()) == {-1}


def test_the_metrics_probe_uses_the_library_metrics_formulas():
    import keras

    from llm_keras.training.metrics import BitsPerCharacter, Perplexity

    probe = load_probe(PROBES / "metrics.py")
    inputs = probe.inputs(np.random.default_rng(0))
    expected = probe.module.reference(inputs)
    for i, (loss, ratio) in enumerate(zip(inputs["losses"], inputs["ratios"], strict=True)):
        # Logits [0, x] with target 0 have the loss log(1 + exp(x)): choose x to give `loss`.
        logits = np.array([[[0.0, np.log(np.expm1(loss))]]], "float32")
        results = []
        for metric in (Perplexity(), BitsPerCharacter(), BitsPerCharacter(ratio)):
            metric.update_state(np.zeros((1, 1), "int32"), logits)
            results.append(float(keras.ops.convert_to_numpy(metric.result())))
        np.testing.assert_allclose(results, [expected["perplexity"][i], expected["bits"][i],
                                             expected["subword_bits"][i]], rtol=1e-5)
