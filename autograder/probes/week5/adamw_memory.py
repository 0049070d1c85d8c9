"""Probe for week 5, exercise 2: ``adamw_memory_bytes(n_params, precision, zero_stage,
data_parallel)``; the reference is ``llm_keras.training.budget.adamw_memory_bytes``."""

import numpy as np

from autograder.contract import Check, Exercise

BUDGET = "llm_keras.training.budget."
EXERCISE = Exercise(
    name="adamw_memory_bytes",
    answer_cells=("adamw-memory-answer",),
    grade_cell="adamw-memory-check",
    names=("adamw_memory_bytes",),
    graded=(BUDGET + "adamw_memory_bytes", BUDGET + "adamw_memory_breakdown",
            BUDGET + "compute_budget"),
)

CHECKS = (
    Check("no sharding (stage 0), float32 and mixed precision", output="unsharded",
          dtype="any", rtol=1e-9, atol=0.0,
          hint="Without sharding every device keeps 16 bytes per parameter in both precisions: "
          "4 + 4 + 8 in float32, 2 + 2 + 12 in mixed precision."),
    Check("ZeRO stage 1: optimizer states sharded", output="stage_1", dtype="any", rtol=1e-9,
          atol=0.0, hint="Stage 1 divides only the optimizer states by data_parallel."),
    Check("ZeRO stages 2 and 3: gradients, then parameters sharded too", output="stages_2_3",
          dtype="any", rtol=1e-9, atol=0.0,
          hint="Stage 2 also divides the gradients, stage 3 also the parameters."),
)


def inputs(rng):
    return {"n_params": 10 ** rng.uniform(6, 11, size=3),
            "data_parallel": rng.integers(2, 513, size=3)}


def probe(learner, inputs):
    def memory(n, precision, stage, devices):
        return learner.adamw_memory_bytes(float(n), precision, zero_stage=stage,
                                          data_parallel=int(devices))

    cases = list(zip(inputs["n_params"], inputs["data_parallel"], strict=True))
    return {
        "unsharded": np.array([[memory(n, "fp32", 0, 1), memory(n, "mixed", 0, 1),
                                memory(n, "fp32", 0, d), memory(n, "mixed", 0, d)]
                               for n, d in cases]),
        "stage_1": np.array([[memory(n, p, 1, d) for p in ("fp32", "mixed")] for n, d in cases]),
        "stages_2_3": np.array([[memory(n, p, stage, d) for stage in (2, 3)
                                 for p in ("fp32", "mixed")] for n, d in cases]),
    }


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.budget import adamw_memory_bytes

    return probe(SimpleNamespace(adamw_memory_bytes=adamw_memory_bytes), inputs)
