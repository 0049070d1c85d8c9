"""Probe for week 3, exercise 7: the ``GPT(vocab_size, context_length, d_model, n_heads, n_layers,
d_ff)`` model; the reference is ``llm_keras.models.GPT`` (learned positions, pre-LN, tied head, no
dropout) with the same weights.

The grader's weights are loaded by name, the weight's path without the model's own name
(``block_0/attention/query/kernel``), which are the names of ``llm_keras.models.GPT``'s weights,
so the same probe loads both. The inputs name them with dots (``block_0.attention.query.kernel``).
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="gpt",
    answer_cells=("gpt-answer",),
    grade_cell="gpt-check",
    names=("GPT",),
    timeout=120,  # seconds: on JAX each new shape compiles afresh in the sandbox
    graded=("llm_keras.models.GPT",),
)

HINT = ("Token embedding plus position embedding, the blocks in order, the final norm, then the "
        "token embedding's table used in reverse as the output head (tied, no weights of its own).")
CHECKS = (
    Check("logits of full-length sequences with the grader's weights", output="full", weight=2,
          rtol=1e-4, atol=1e-4, hint=HINT),
    Check("logits of a shorter sequence (positions 0 to seq - 1)", output="short", rtol=1e-4,
          atol=1e-4, hint=HINT),
)


def inputs(rng):
    n_heads, head_dim = int(rng.integers(2, 4)), int(rng.integers(2, 5))
    d_model, n_layers = n_heads * head_dim, int(rng.integers(1, 3))
    d_ff, vocab, context = 4 * d_model, int(rng.integers(8, 20)), int(rng.integers(5, 9))

    def normal(*shape, scale=1.0, mean=0.0):
        return (mean + scale * rng.normal(size=shape)).astype("float32")

    arrays = {"sizes": np.array([vocab, context, d_model, n_heads, n_layers, d_ff]),
              "ids": rng.integers(0, vocab, size=(2, context)).astype("int32"),
              "short": np.array(int(rng.integers(1, context))),
              "gpt.token_embedding.embeddings": normal(vocab, d_model),
              "gpt.position_embedding.embeddings": normal(context, d_model, scale=0.5),
              "gpt.final_norm.gamma": normal(d_model, scale=0.2, mean=1.0),
              "gpt.final_norm.beta": normal(d_model, scale=0.2)}
    for i in range(n_layers):
        block = f"gpt.block_{i}."
        for norm in ("attention_norm", "feed_forward_norm"):
            arrays[block + norm + ".gamma"] = normal(d_model, scale=0.2, mean=1.0)
            arrays[block + norm + ".beta"] = normal(d_model, scale=0.2)
        for name in ("query", "key", "value", "output_projection"):
            arrays[f"{block}attention.{name}.kernel"] = normal(d_model, d_model,
                                                               scale=d_model ** -0.5)
            arrays[f"{block}attention.{name}.bias"] = normal(d_model, scale=0.1)
        arrays[block + "feed_forward.up_projection.kernel"] = normal(d_model, d_ff,
                                                                     scale=d_model ** -0.5)
        arrays[block + "feed_forward.up_projection.bias"] = normal(d_ff, scale=0.1)
        arrays[block + "feed_forward.down_projection.kernel"] = normal(d_ff, d_model,
                                                                       scale=d_ff ** -0.5)
        arrays[block + "feed_forward.down_projection.bias"] = normal(d_model, scale=0.1)
    return arrays


def probe(learner, inputs):
    from autograder.sandbox.probe_tools import WeightsMismatch

    vocab, context, d_model, n_heads, n_layers, d_ff = (int(n) for n in inputs["sizes"])
    model = learner.GPT(vocab, context, d_model, n_heads, n_layers, d_ff)
    ids = inputs["ids"]
    model(ids)  # builds every weight
    found = {variable.path.split("/", 1)[-1]: variable for variable in model.weights}
    for key, value in inputs.items():
        if not key.startswith("gpt."):
            continue
        name = key[len("gpt."):].replace(".", "/")
        variable = found.get(name)
        if variable is None or tuple(variable.shape) != value.shape:
            raise WeightsMismatch(
                name, value.shape, None if variable is None else tuple(variable.shape),
                [(path, tuple(v.shape)) for path, v in found.items() if path != name])
        variable.assign(value)
    return {"full": model(ids), "short": model(ids[:, :int(inputs["short"])])}


def reference(inputs):
    import keras

    from llm_keras.models import GPT, GPTConfig

    def build(vocab, context, d_model, n_heads, n_layers, d_ff):
        return GPT(GPTConfig(vocab_size=vocab, context_length=context, d_model=d_model,
                             n_heads=n_heads, n_layers=n_layers, d_ff=d_ff))

    library = SimpleNamespace(GPT=build)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
