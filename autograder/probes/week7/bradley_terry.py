"""Probe for week 7, exercise 1: ``bradley_terry_loss(chosen_rewards, rejected_rewards)``, the mean
over pairs of ``-log sigmoid(r_c - r_r)``; the reference is
``llm_keras.alignment.reward_model.bradley_terry_loss`` (margin 0).
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="bradley_terry_loss",
    answer_cells=("bradley-terry-answer",),
    grade_cell="bradley-terry-check",
    names=("bradley_terry_loss",),
    graded=("llm_keras.alignment.reward_model.bradley_terry_loss",
            "llm_keras.alignment.reward_model.BradleyTerryLoss",
            "llm_keras.alignment.reward_model._pair_losses"),
)

# A scalar: a tensor or array of shape (), or a float (a NumPy scalar is made a 0-d array).
SCALAR = {"kinds": ("ndarray", "tensor", "float"), "rtol": 1e-5, "atol": 1e-5}
CHECKS = (
    Check("rewards of random pairs", output="pairs", weight=2,
          hint="The loss is the mean over pairs of `-log sigmoid(r_c - r_r)`, the chosen reward "
          "minus the rejected one, so that a chosen answer that wins gives a small loss.",
          **SCALAR),
    Check("equal rewards: ln 2", output="equal",
          hint="Each pair gives `-log sigmoid(0)` = ln 2; average over the pairs.", **SCALAR),
    Check("rewards hundreds apart (the chosen far ahead or far behind): finite", output="far",
          hint="`-log sigmoid(x) = softplus(-x)` stays finite; `-log(sigmoid(x))` is inf once "
          "`sigmoid(x)` underflows to 0 in float32 (x below about -104).", **SCALAR),
)


def inputs(rng):
    batch = int(rng.integers(3, 13))
    chosen = rng.normal(size=batch).astype("float32")
    equal = rng.normal(size=batch).astype("float32")
    # Differences of 120 to 400, of both signs: exp(-120) is 0 in float32.
    gaps = rng.uniform(120, 400, size=batch) * rng.choice([-1.0, 1.0], size=batch)
    gaps[:2] = (-abs(gaps[0]), abs(gaps[1]))  # at least one of each
    far_rejected = rng.normal(size=batch)
    return {"chosen": chosen, "rejected": (chosen + 2.0 * rng.normal(size=batch)).astype("float32"),
            "equal": equal, "far_chosen": (far_rejected + gaps).astype("float32"),
            "far_rejected": far_rejected.astype("float32")}


def probe(learner, inputs):
    def scalar(value):  # a NumPy scalar (np.mean's result) as a 0-d array
        return np.asarray(value) if isinstance(value, np.generic) else value

    loss = learner.bradley_terry_loss
    return {"pairs": scalar(loss(inputs["chosen"], inputs["rejected"])),
            "equal": scalar(loss(inputs["equal"], inputs["equal"].copy())),
            "far": scalar(loss(inputs["far_chosen"], inputs["far_rejected"]))}


def reference(inputs):
    import keras

    from llm_keras.alignment.reward_model import bradley_terry_loss

    def loss(chosen, rejected):
        return np.asarray(keras.ops.convert_to_numpy(bradley_terry_loss(chosen, rejected)),
                          dtype="float32")

    return {"pairs": loss(inputs["chosen"], inputs["rejected"]),
            "equal": loss(inputs["equal"], inputs["equal"]),
            "far": loss(inputs["far_chosen"], inputs["far_rejected"])}
