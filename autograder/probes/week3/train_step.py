"""Probe for week 3, exercise 8: ``train_step(model, optimizer, x, y)``, one step of a training
loop written by hand; the reference is Keras's own step, ``model.train_on_batch``, with
``llm_keras.training.losses.CausalLMLoss``, on a copy of the same model and optimizer.

The model is a small one of the probe's (embedding, layer norm, dense head), not the learner's
GPT, so that this exercise grades the loop alone (and the learner's ``cross_entropy``, which the
loop uses).
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="train_step",
    answer_cells=("train-step-answer",),
    grade_cell="train-step-check",
    names=("train_step",),
    timeout=90,  # seconds: on JAX each new shape compiles afresh in the sandbox
    graded=("llm_keras.training.trainer.train", "keras.Model.train_on_batch", "keras.Model.fit"),
    uses=("cross_entropy",),
)

CHECKS = (
    Check("the losses of two steps, each before its update", output="losses",
          kinds=("ndarray", "tensor", "list"), rtol=1e-4, atol=1e-5,
          hint="Return the loss computed in the step's forward pass, before optimizer.apply."),
    Check("the weights after two steps", output="weights", rtol=1e-4, atol=1e-5,
          hint="Compute the gradients of the loss with `value_and_gradients(loss_fn, "
          "model.trainable_variables)`, then `optimizer.apply(grads, "
          "model.trainable_variables)`."),
)


def inputs(rng):
    # Fixed sizes, those of configure_optimizer's model (see there); the values are hidden.
    vocab = d_model = 8
    batch, seq = 4, 6
    shapes = [(vocab, d_model), (d_model,), (d_model,), (d_model, vocab), (vocab,)]
    arrays = {f"weight_{i}": rng.normal(size=shape).astype("float32")
              for i, shape in enumerate(shapes)}
    arrays["x"] = rng.integers(0, vocab, size=(2, batch, seq)).astype("int32")
    arrays["y"] = rng.integers(0, vocab, size=(2, batch, seq)).astype("int32")
    arrays["learning_rate"] = np.array(10 ** rng.uniform(-3, -1.5))
    return arrays


def probe(learner, inputs):
    import keras

    vocab, d_model = inputs["weight_0"].shape
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(vocab, d_model),
                              keras.layers.LayerNormalization(), keras.layers.Dense(vocab)])
    model.set_weights([inputs[f"weight_{i}"] for i in range(5)])
    optimizer = keras.optimizers.AdamW(float(inputs["learning_rate"]), weight_decay=0.1,
                                       beta_2=0.99, global_clipnorm=1.0)
    losses = [float(keras.ops.convert_to_numpy(learner.train_step(model, optimizer, x, y)))
              for x, y in zip(inputs["x"], inputs["y"], strict=True)]
    return {"losses": losses,
            "weights": np.concatenate([np.ravel(w) for w in model.get_weights()])}


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.losses import CausalLMLoss

    def train_step(model, optimizer, x, y):  # Keras's own step, compiled as model.fit's is
        if not model.compiled:
            model.compile(optimizer=optimizer, loss=CausalLMLoss())
        return model.train_on_batch(x, y)

    return probe(SimpleNamespace(train_step=train_step), inputs)
