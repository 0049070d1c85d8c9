"""Probe for week 6, exercise 5: ``merged_kernel(kernel, a, b, alpha, rank)``, the kernel
``W + (alpha / rank) A B`` of the ``Dense`` equal to a LoRA layer; the reference is
``llm_keras.finetuning.lora.LoRADense.merged_kernel`` (what ``merge_lora`` writes) with the same
weights."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="merged_kernel",
    answer_cells=("merge-answer",),
    grade_cell="merge-check",
    names=("merged_kernel",),
    graded=("llm_keras.finetuning.lora.merge_lora",),
)

TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
CHECKS = (
    Check("W + (alpha / rank) A B", output="merged", hint="Scale A B by alpha / rank, "
          "not by alpha.", **TOLERANCE),
    Check("B = 0: W unchanged", output="zero_b", hint="The merged kernel is W plus the update.",
          **TOLERANCE),
)


def inputs(rng):
    in_features, units = int(rng.integers(3, 12)), int(rng.integers(3, 12))
    rank = int(rng.integers(2, min(in_features, units) + 1))

    def normal(*shape):
        return rng.normal(size=shape).astype("float32")

    return {"kernel": normal(in_features, units), "a": normal(in_features, rank),
            "b": normal(rank, units), "rank": np.array(rank),
            "alpha": np.array(float(rng.choice([2 * rank, 16.0, rank + 3])))}


def probe(learner, inputs):
    kernel, a, b, rank = inputs["kernel"], inputs["a"], inputs["b"], int(inputs["rank"])
    return {"merged": learner.merged_kernel(kernel, a, b, float(inputs["alpha"]), rank),
            "zero_b": learner.merged_kernel(kernel, a, 0 * b, float(inputs["alpha"]), rank)}


def reference(inputs):
    import keras

    from llm_keras.finetuning.lora import LoRADense

    def merged_kernel(kernel, a, b, alpha, rank):
        layer = LoRADense(kernel.shape[1], rank, alpha=alpha)
        layer.build((None, kernel.shape[0]))
        for weight, value in ((layer.kernel, kernel), (layer.lora_a, a), (layer.lora_b, b)):
            weight.assign(value)
        return keras.ops.convert_to_numpy(layer.merged_kernel())

    library = SimpleNamespace(merged_kernel=merged_kernel)
    return probe(library, inputs)
