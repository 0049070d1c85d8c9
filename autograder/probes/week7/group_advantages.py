"""Probe for week 7, exercise 4: ``group_advantages(rewards, group_size, scale=True)``, each reward
against its own group's: ``(r - mean) / (std + 1e-4)`` with the std of ``ddof=1``, or ``r - mean``;
the reference is ``llm_keras.alignment.grpo.group_advantages``.

The rewards are sums of a correctness and a format reward (0, 0.25, 0.5, 1, 1.25, 1.5), as the
week's rewards are; a group of equal rewards gives 0 up to float32 rounding, so every check
accepts an advantage within 0.005 of the reference's (plus 0.01 % of it).
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="group_advantages",
    answer_cells=("group-advantages-answer",),
    grade_cell="group-advantages-check",
    names=("group_advantages",),
    graded=("llm_keras.alignment.grpo.group_advantages",),
)

# atol 5e-3: a float32 mean of equal rewards may be a rounding or two off (JAX's is), which the
# 1e-4 under the std turns into advantages near 1e-3 instead of 0. The std of ddof=0 is 6 % to
# 30 % off, at least 0.02 on some advantage of every input here.
TOLERANCE = {"rtol": 1e-4, "atol": 5e-3}
PER_GROUP = ("Each group of group_size consecutive rewards is normalised on its own, with its own "
             "mean and std, not the batch's.")
CHECKS = (
    Check("several groups of rewards", output="scaled", weight=2,
          hint=PER_GROUP + " The std divides by `group_size - 1` (`ddof=1`, as torch.std and TRL), "
          "not by group_size (ops.std and np.std's default).", **TOLERANCE),
    Check("groups whose rewards are all equal: 0", output="equal", hint=PER_GROUP, **TOLERANCE),
    Check("scale=False: r - the group's mean", output="unscaled",
          hint="With scale=False an advantage is r minus its group's mean, not divided by the "
          "std. " + PER_GROUP, **TOLERANCE),
)
# Correctness (0 or 1) plus a weighted format reward (0 or 0.25 / 0.5).
VALUES = np.array([0.0, 0.25, 0.5, 1.0, 1.25, 1.5])


def inputs(rng):
    group_size, groups = int(rng.integers(2, 9)), int(rng.integers(3, 7))
    rewards = rng.choice(VALUES, size=(groups, group_size))
    rewards[0] = VALUES[int(rng.integers(0, len(VALUES)))]  # one group that teaches nothing
    rewards[1, 0], rewards[1, 1:] = 1.0, 0.0  # one right answer among wrong ones
    equal = np.repeat(rng.permutation(VALUES)[:groups, None], group_size, axis=1)
    return {"rewards": rng.permutation(rewards).reshape(-1).astype("float32"),
            "equal": equal.reshape(-1).astype("float32"), "group_size": np.array(group_size)}


def probe(learner, inputs):
    size = int(inputs["group_size"])
    return {"scaled": learner.group_advantages(inputs["rewards"], size),
            "equal": learner.group_advantages(inputs["equal"], size),
            "unscaled": learner.group_advantages(inputs["rewards"], size, scale=False)}


def reference(inputs):
    from llm_keras.alignment.grpo import group_advantages

    library = SimpleNamespace(group_advantages=group_advantages)
    return probe(library, inputs)
