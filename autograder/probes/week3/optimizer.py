"""Probe for week 3, exercise 6: ``configure_optimizer(model, learning_rate, weight_decay,
max_norm)``; the reference is ``llm_keras.training.optimizer.build_optimizer`` with the same
settings. Both optimizers update the same small model on the same gradients."""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="configure_optimizer",
    answer_cells=("optimizer-answer",),
    grade_cell="optimizer-check",
    names=("configure_optimizer",),
    timeout=60,  # seconds: on JAX each new shape compiles afresh in the sandbox
    graded=("llm_keras.training.optimizer.build_optimizer",),
)

CHECKS = (
    Check("weight decay on the matrices only (a step with zero gradients)", output="decay",
          rtol=1e-5, atol=1e-6,
          hint="Exclude the weights with fewer than 2 dimensions (biases, norm scales and "
          "offsets) with `optimizer.exclude_from_weight_decay(var_list=...)`."),
    Check("two steps on gradients larger than max_norm", output="steps", rtol=1e-4, atol=1e-6,
          hint="AdamW with `beta_1=0.9`, `beta_2=0.99`, `epsilon=1e-8` and "
          "`global_clipnorm=max_norm` (`clipnorm` clips each weight's gradient separately)."),
)

# A model as small as will do, of the same sizes as train_step's: on JAX every operation is
# compiled for each new shape, and the sandbox compiles afresh for each submission.
VOCAB = D_MODEL = 8


def inputs(rng):
    shapes = [(VOCAB, D_MODEL), (D_MODEL,), (D_MODEL,), (D_MODEL, VOCAB), (VOCAB,)]
    arrays = {f"weight_{i}": rng.normal(size=shape).astype("float32")
              for i, shape in enumerate(shapes)}
    for step in range(2):
        for i, shape in enumerate(shapes):
            scale = rng.uniform(0.5, 5.0)  # gradients of very different sizes per weight
            arrays[f"grad_{step}_{i}"] = (scale * rng.normal(size=shape)).astype("float32")
    arrays["settings"] = np.array([10 ** rng.uniform(-3, -1.5), rng.uniform(0.05, 0.5),
                                   rng.uniform(0.5, 2.0)])
    return arrays


def probe(learner, inputs):
    import keras

    vocab, d_model = inputs["weight_0"].shape
    learning_rate, weight_decay, max_norm = inputs["settings"].tolist()

    def updated(gradient_steps):
        model = keras.Sequential([keras.Input((None,), dtype="int32"),
                                  keras.layers.Embedding(vocab, d_model),
                                  keras.layers.LayerNormalization(), keras.layers.Dense(vocab)])
        model.set_weights([inputs[f"weight_{i}"] for i in range(5)])
        optimizer = learner.configure_optimizer(model, learning_rate, weight_decay=weight_decay,
                                                max_norm=max_norm)
        for grads in gradient_steps:
            optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads],
                            model.trainable_variables)
        return np.concatenate([np.ravel(w) for w in model.get_weights()])

    zeros = [np.zeros_like(inputs[f"weight_{i}"]) for i in range(5)]
    return {"decay": updated([zeros]),
            "steps": updated([[inputs[f"grad_{s}_{i}"] for i in range(5)] for s in range(2)])}


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.optimizer import build_optimizer

    def configure_optimizer(model, learning_rate, weight_decay, max_norm):
        return build_optimizer(model, learning_rate, weight_decay=weight_decay, clipnorm=max_norm)

    return probe(SimpleNamespace(configure_optimizer=configure_optimizer), inputs)
