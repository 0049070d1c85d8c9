"""Probe for week 3, exercise 4: ``clip_by_global_norm(grads, max_norm)``; the reference is
``llm_keras.training.gradient_clipping.clip_by_global_norm``."""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="clip_by_global_norm",
    answer_cells=("clip-answer",),
    grade_cell="clip-check",
    names=("clip_by_global_norm",),
    graded=("llm_keras.training.gradient_clipping.clip_by_global_norm",
            "llm_keras.training.gradient_clipping.global_norm"),
)

CHECKS = (
    Check("gradients above max_norm, scaled together", output="above", rtol=1e-5, atol=1e-6,
          hint="One factor for every gradient: `min(1, max_norm / global_norm)`, where "
          "`global_norm` is the square root of the sum of the squares of every entry of every gradient."),
    Check("gradients within max_norm, unchanged", output="within", rtol=1e-5, atol=1e-6,
          hint="When the global norm is at most max_norm, return the gradients unchanged."),
)


def inputs(rng):
    shapes = [tuple(int(n) for n in rng.integers(1, 6, size=rank)) for rank in (2, 1, 2)]
    grads = {f"grad_{i}": rng.normal(size=shape).astype("float32")
             for i, shape in enumerate(shapes)}
    norm = np.sqrt(sum(float(np.sum(g.astype("float64") ** 2)) for g in grads.values()))
    largest = max(np.sqrt(float(np.sum(g.astype("float64") ** 2))) for g in grads.values())
    # Above: max_norm below the largest gradient's own norm, so that clipping each gradient alone
    # gives other numbers than clipping them together; within: max_norm above the global norm.
    return {**grads, "max_norms": np.array([rng.uniform(0.2, 0.9) * largest,
                                            norm * rng.uniform(1.1, 3.0)])}


def probe(learner, inputs):
    import keras

    grads = [inputs[f"grad_{i}"] for i in range(3)]
    above, within = (float(m) for m in inputs["max_norms"])

    def flat(clipped):
        return np.concatenate([np.ravel(keras.ops.convert_to_numpy(g)) for g in clipped])

    return {"above": flat(learner.clip_by_global_norm(grads, above)),
            "within": flat(learner.clip_by_global_norm(grads, within))}


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.gradient_clipping import clip_by_global_norm

    return probe(SimpleNamespace(clip_by_global_norm=clip_by_global_norm), inputs)
