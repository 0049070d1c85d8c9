"""Probe for week 7, exercise 3: ``dpo_loss(policy_chosen_logps, policy_rejected_logps,
ref_chosen_logps, ref_rejected_logps, beta=0.1)``, the DPO loss of each pair and the implicit
rewards ``beta * (policy - reference)`` of its two answers; the reference is
``llm_keras.alignment.dpo.dpo_loss``.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="dpo_loss",
    answer_cells=("dpo-loss-answer",),
    grade_cell="dpo-loss-check",
    names=("dpo_loss",),
    graded=("llm_keras.alignment.dpo.dpo_loss", "llm_keras.alignment.dpo.DPOLoss"),
)

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
FORMULA = ("Each pair's loss is `-log sigmoid(beta * ((pc - rc) - (pr - rr)))`, not averaged, "
           "where pc and pr are the policy's log-probs of the chosen and the rejected answers and "
           "rc and rr the reference's.")
REWARDS = ("The chosen rewards are `beta * (policy_chosen_logps - ref_chosen_logps)`, the policy "
           "minus the reference, times beta; the rejected rewards are the same with the rejected "
           "answers' log-probs.")
CHECKS = (
    Check("the loss of each pair, with the grader's beta", output="losses", weight=2,
          hint=FORMULA, **TOLERANCE),
    Check("the implicit rewards of the chosen answers", output="chosen_rewards", weight=0.5,
          hint=REWARDS, **TOLERANCE),
    Check("the implicit rewards of the rejected answers", output="rejected_rewards",
          weight=0.5, hint=REWARDS, **TOLERANCE),
    Check("beta omitted: 0.1", output="default_beta",
          hint="The default is `beta=0.1` (the paper and TRL).", **TOLERANCE),
    Check("the policy is the reference: ln 2 for every pair", output="start",
          hint="When the policy's log-probs equal the reference's, every reward is 0 and "
          "every loss `-log sigmoid(0)` = ln 2.", **TOLERANCE),
    Check("log-probs hundreds apart: finite", output="far",
          hint="The same formula, computed as `softplus(-z)` for "
          "`z = chosen_rewards - rejected_rewards`: finite for any z, where "
          "`-log(sigmoid(z))` is inf once `sigmoid(z)` underflows to 0.", **TOLERANCE),
)


def inputs(rng):
    batch = int(rng.integers(3, 10))

    def log_probs(scale=1.0):  # (batch,) log-probs of answers, summed over their tokens
        return (-scale * rng.uniform(2.0, 30.0, size=batch)).astype("float32")

    ref_chosen, ref_rejected = log_probs(), log_probs()
    policy_chosen = ref_chosen + rng.normal(0.0, 3.0, size=batch).astype("float32")
    policy_rejected = ref_rejected + rng.normal(0.0, 3.0, size=batch).astype("float32")
    # Far: the policy moved by hundreds of nats, the two answers of a pair opposite ways (either
    # one up), against a random reference: beta * margin is 300 to 1000 away from 0.
    sign = rng.choice([-1.0, 1.0], size=batch)
    shift = rng.uniform(150, 500, size=(2, batch)) * np.stack([sign, -sign])
    far_ref = np.stack([log_probs(), log_probs()])
    far_policy = (far_ref + shift).astype("float32")
    return {"logps": np.stack([policy_chosen, policy_rejected, ref_chosen, ref_rejected]),
            "beta": np.array(rng.choice([0.05, 0.2, 0.3, 0.5, 2.0])),
            "far": np.concatenate([far_policy, far_ref]).astype("float32")}


def probe(learner, inputs):
    def three(result):
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise TypeError("dpo_loss must return a tuple of three arrays (losses, "
                            f"chosen_rewards, rejected_rewards); it returned {type(result).__name__}")
        return result

    logps, beta = [inputs["logps"][i] for i in range(4)], float(inputs["beta"])
    losses, chosen, rejected = three(learner.dpo_loss(*logps, beta=beta))
    start = three(learner.dpo_loss(logps[2], logps[3], logps[2].copy(), logps[3].copy()))[0]
    far = three(learner.dpo_loss(*[inputs["far"][i] for i in range(4)], beta=1.0))[0]
    return {"losses": losses, "chosen_rewards": chosen, "rejected_rewards": rejected,
            "default_beta": three(learner.dpo_loss(*logps))[0], "start": start, "far": far}


def reference(inputs):
    import keras

    from llm_keras.alignment.dpo import dpo_loss

    def numbers(*arrays, **kwargs):
        return [np.asarray(keras.ops.convert_to_numpy(a), dtype="float32")
                for a in dpo_loss(*arrays, **kwargs)]

    logps, beta = list(inputs["logps"]), float(inputs["beta"])
    losses, chosen, rejected = numbers(*logps, beta=beta)
    return {"losses": losses, "chosen_rewards": chosen, "rejected_rewards": rejected,
            "default_beta": numbers(*logps)[0],
            "start": numbers(logps[2], logps[3], logps[2], logps[3])[0],
            "far": numbers(*inputs["far"], beta=1.0)[0]}
