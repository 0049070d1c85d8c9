"""Probe for week 7, exercise 6: ``clipped_policy_loss(log_probs, old_log_probs, advantages, mask,
epsilon=0.2, ref_log_probs=None, beta=0.0)``, GRPO's loss: per token ``-min(ratio * A, clip(ratio,
1 - eps, 1 + eps) * A) + beta * k3``, averaged over each completion's mask, then over completions;
the reference is ``llm_keras.alignment.grpo.clipped_policy_loss``.

The rows are laid out as GRPO's batches are: the prompt (mask 0), the completion and its end token
(mask 1), padding (mask 0), completions of different lengths. The positions outside the mask hold
other log-probs (numbers <= 0), which must not count.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="clipped_policy_loss",
    answer_cells=("policy-loss-answer",),
    grade_cell="policy-loss-check",
    names=("clipped_policy_loss",),
    graded=("llm_keras.alignment.grpo.clipped_policy_loss",
            "llm_keras.alignment.grpo.sequence_policy_losses"),
    uses=("k3_kl",),
)

SCALAR = {"kinds": ("ndarray", "tensor", "float"), "rtol": 1e-5, "atol": 1e-5}
AVERAGE = ("Average each completion's per-token losses over its own mask, then average the "
           "completions: a short and a long completion weigh the same (not one mean over every "
           "token of the batch), and the positions outside the mask do not count.")
CLIP = ("`-min(ratio * A, clip(ratio, 1 - epsilon, 1 + epsilon) * A)` per token: the minimum, "
        "so that only a ratio moved beyond the clip range in the direction A pushes is clipped.")
CHECKS = (
    Check("ratio 1 (the policy that sampled): minus the mean advantage", output="on_policy",
          hint=AVERAGE, **SCALAR),
    Check("ratios inside and outside [0.8, 1.2], advantages of both signs", output="clipped",
          weight=2, hint=CLIP + " " + AVERAGE, **SCALAR),
    Check("another epsilon: the clip range [1 - epsilon, 1 + epsilon]", output="epsilon",
          hint="Clip the ratio to [1 - epsilon, 1 + epsilon] with the epsilon given.", **SCALAR),
    Check("with the KL penalty (beta > 0)", output="kl", weight=2,
          hint="Add `beta * k3_kl(log_probs, ref_log_probs)` to each token's loss, before "
          "averaging over the mask: a penalty, so it raises the loss.", **SCALAR),
)


def inputs(rng):
    batch, seq = int(rng.integers(3, 7)), int(rng.integers(8, 14))
    mask = np.zeros((batch, seq), dtype="float32")
    lengths = rng.permutation(np.arange(1, seq - 1))[:batch]  # different lengths, at least 1
    for row, length in zip(mask, lengths, strict=True):
        start = int(rng.integers(1, seq - length + 1))
        row[start:start + length] = 1.0

    def log_probs():  # log-probs of sampled tokens (<= 0), different where the mask is 0
        return (-rng.exponential(1.0, size=(batch, seq))).astype("float32")

    old = log_probs()
    moved = np.minimum(old + rng.normal(0.0, 0.4, size=(batch, seq)), 0.0)
    advantages = rng.normal(0.0, 1.0, size=batch)
    advantages[:2] = (-abs(advantages[0]) - 0.1, abs(advantages[1]) + 0.1)  # both signs
    outside = mask == 0
    return {"mask": mask, "old": old, "advantages": rng.permutation(advantages).astype("float32"),
            "same": np.where(outside, log_probs(), old).astype("float32"),
            "moved": np.where(outside, log_probs(), moved).astype("float32"),
            "ref": np.minimum(moved + rng.normal(0.0, 0.5, size=(batch, seq)), 0.0)
            .astype("float32"),
            "epsilon": np.array(rng.choice([0.1, 0.15, 0.28, 0.3])),
            "beta": np.array(rng.choice([0.04, 0.1, 0.5]))}


def probe(learner, inputs):
    def scalar(value):  # a NumPy scalar (np.mean's result) as a 0-d array
        return np.asarray(value) if isinstance(value, np.generic) else value

    loss = learner.clipped_policy_loss
    old, advantages, mask, moved = (inputs[k] for k in ("old", "advantages", "mask", "moved"))
    return {"on_policy": scalar(loss(inputs["same"], old, advantages, mask)),
            "clipped": scalar(loss(moved, old, advantages, mask)),
            "epsilon": scalar(loss(moved, old, advantages, mask,
                                   epsilon=float(inputs["epsilon"]))),
            "kl": scalar(loss(moved, old, advantages, mask, ref_log_probs=inputs["ref"],
                              beta=float(inputs["beta"])))}


def reference(inputs):
    import keras

    from llm_keras.alignment.grpo import clipped_policy_loss

    def loss(log_probs, **kwargs):
        value = clipped_policy_loss(log_probs, inputs["old"], inputs["advantages"],
                                    inputs["mask"], **kwargs)
        return np.asarray(keras.ops.convert_to_numpy(value), dtype="float32")

    return {"on_policy": loss(inputs["same"]), "clipped": loss(inputs["moved"]),
            "epsilon": loss(inputs["moved"], epsilon=float(inputs["epsilon"])),
            "kl": loss(inputs["moved"], ref_log_probs=inputs["ref"],
                       beta=float(inputs["beta"]))}
