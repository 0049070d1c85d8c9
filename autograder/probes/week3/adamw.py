"""Probe for week 3, exercise 5: ``adamw_update(param, grad, m, v, step, lr, beta1, beta2, eps,
weight_decay)``, run for several steps with the moments passed back; the reference is
``llm_keras.training.adamw.adamw_update`` (which matches ``keras.optimizers.AdamW``)."""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="adamw_update",
    answer_cells=("adamw-answer",),
    grade_cell="adamw-check",
    names=("adamw_update",),
    graded=("llm_keras.training.adamw.adamw_update", "keras.optimizers.AdamW",
            "keras.optimizers.Adam"),
)

TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}
CHECKS = (
    Check("the moments m and v after several steps", output="moments", **TOLERANCE,
          hint="`m = beta1 * m + (1 - beta1) * grad` and `v = beta2 * v + (1 - beta2) * grad ** 2`, "
          "before any bias correction; return them, not m_hat and v_hat."),
    Check("the weight after several steps, no weight decay", output="plain", **TOLERANCE,
          hint="Divide m by `1 - beta1 ** step` and v by `1 - beta2 ** step`, step counting "
          "from 1, then `p - lr * m_hat / (sqrt(v_hat) + eps)`."),
    Check("the weight after several steps with weight decay", output="decayed", **TOLERANCE,
          hint="Decoupled decay: subtract `lr * weight_decay * p` from the weight itself; it never "
          "enters the gradient or the moments."),
)


def inputs(rng):
    shape = tuple(int(n) for n in rng.integers(2, 6, size=2))
    steps = int(rng.integers(3, 7))
    return {"param": rng.normal(size=shape).astype("float32"),
            "grads": (rng.normal(size=(steps, *shape)) * rng.uniform(0.01, 1.0)).astype("float32"),
            "settings": np.array([10 ** rng.uniform(-3, -1), rng.uniform(0.8, 0.95),
                                  rng.uniform(0.95, 0.999), 1e-8, rng.uniform(0.05, 0.5)])}


def probe(learner, inputs):
    import keras

    lr, beta1, beta2, eps, weight_decay = inputs["settings"].tolist()

    def run(decay):
        param = inputs["param"]
        m, v = np.zeros_like(param), np.zeros_like(param)
        for step, grad in enumerate(inputs["grads"], start=1):
            param, m, v = learner.adamw_update(param, grad, m, v, step, lr, beta1=beta1,
                                               beta2=beta2, eps=eps, weight_decay=decay)
        return [keras.ops.convert_to_numpy(a) for a in (param, m, v)]

    plain, m, v = run(0.0)
    decayed, _, _ = run(weight_decay)
    return {"moments": np.stack([m, v]), "plain": plain, "decayed": decayed}


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.adamw import adamw_update

    return probe(SimpleNamespace(adamw_update=adamw_update), inputs)
