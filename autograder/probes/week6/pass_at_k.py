"""Probe for week 6, exercise 7: ``pass_at_k(n, c, k)``, Chen et al.'s unbiased estimate
``1 - C(n - c, k) / C(n, k)``; the reference is ``llm_keras.finetuning.evaluate.pass_at_k``.

The learner's function is called once per ``(n, c, k)`` and the numbers are compared as an array.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="pass_at_k",
    answer_cells=("pass-at-k-answer",),
    grade_cell="pass-at-k-check",
    names=("pass_at_k",),
    graded=("llm_keras.finetuning.evaluate.pass_at_k",),
)

TOLERANCE = {"rtol": 1e-6, "atol": 1e-9}
CHECKS = (
    Check("pass@k for k > 1, up to n = 200 samples", output="general", weight=2,
          hint="pass@k is `1 - C(n - c, k) / C(n, k)`, for k samples drawn without "
          "replacement, not `1 - (1 - c / n) ** k`.", **TOLERANCE),
    Check("k = 1: c / n", output="one", **TOLERANCE),
    Check("n - c < k: every choice of k samples holds a right one, pass@k = 1", output="all",
          hint="When `n - c < k`, `C(n - c, k)` is 0: the result is 1.", **TOLERANCE),
)


def inputs(rng):
    count = 6
    n = rng.integers(5, 201, size=count)
    c = np.array([rng.integers(1, m - 1) for m in n])
    k = np.array([rng.integers(2, m - c_ + 1) for m, c_ in zip(n, c, strict=True)])
    n_one = rng.integers(2, 50, size=3)
    all_n = rng.integers(5, 40, size=3)
    all_c = np.array([rng.integers(2, m) for m in all_n])  # c < n: 1 only for this reason
    all_k = np.array([rng.integers(m - c_ + 1, m + 1) for m, c_ in zip(all_n, all_c,
                                                                           strict=True)])
    return {"n": n, "c": c, "k": k, "n_one": n_one,
            "c_one": np.array([rng.integers(0, m + 1) for m in n_one]),
            "all_n": all_n, "all_c": all_c, "all_k": all_k}


def probe(learner, inputs):
    def each(ns, cs, ks):
        return np.array([float(learner.pass_at_k(int(n), int(c), int(k)))
                         for n, c, k in zip(ns, cs, ks, strict=True)], dtype="float64")

    return {"general": each(inputs["n"], inputs["c"], inputs["k"]),
            "one": each(inputs["n_one"], inputs["c_one"], np.ones_like(inputs["n_one"])),
            "all": each(inputs["all_n"], inputs["all_c"], inputs["all_k"])}


def reference(inputs):
    from llm_keras.finetuning.evaluate import pass_at_k

    library = SimpleNamespace(pass_at_k=pass_at_k)
    return probe(library, inputs)
