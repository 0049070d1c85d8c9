"""Probe for week 7, exercise 5: ``k3_kl(log_probs, ref_log_probs)``, Schulman's k3 estimate of
``KL(pi || pi_ref)`` at each sampled token, ``exp(d) - d - 1`` with ``d = ref - logp``; the
reference is ``llm_keras.alignment.grpo.k3_kl``.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="k3_kl",
    answer_cells=("k3-kl-answer",),
    grade_cell="k3-kl-check",
    names=("k3_kl",),
    graded=("llm_keras.alignment.grpo.k3_kl",),
)

# atol 1e-5: exp(d) - 1 in float32 loses digits for small d (expm1 keeps them); both are right.
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
CHECKS = (
    Check("log-probs of a batch of completions (batch, seq)", output="kl",
          hint="Compute `exp(d) - d - 1` at each position, with `d = ref_log_probs - log_probs` "
          "(the reference minus the policy); the result has the shape of the inputs.",
          **TOLERANCE),
    Check("equal log-probs: 0", output="equal",
          hint="Where the policy's and the reference's log-probs are equal, d = 0 and k3 = 0.",
          **TOLERANCE),
)


def inputs(rng):
    shape = (int(rng.integers(2, 5)), int(rng.integers(3, 10)))
    log_probs = -rng.exponential(1.5, size=shape)
    return {"log_probs": log_probs.astype("float32"),
            "ref_log_probs": np.minimum(log_probs + rng.normal(0.0, 0.7, size=shape),
                                        0.0).astype("float32")}


def probe(learner, inputs):
    log_probs = inputs["log_probs"]
    return {"kl": learner.k3_kl(log_probs, inputs["ref_log_probs"]),
            "equal": learner.k3_kl(log_probs, log_probs.copy())}


def reference(inputs):
    import keras

    from llm_keras.alignment.grpo import k3_kl

    log_probs = inputs["log_probs"]
    return {key: np.asarray(keras.ops.convert_to_numpy(k3_kl(log_probs, ref)), dtype="float32")
            for key, ref in (("kl", inputs["ref_log_probs"]), ("equal", log_probs))}
