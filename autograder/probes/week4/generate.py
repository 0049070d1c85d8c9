"""Probe for week 4, exercise 7: ``generate(model, prompt_ids, max_new_tokens, end_id=None)``,
greedy decoding with the model's KV cache, stopping before an end token.

The model is a small GPT of the course whose weights the grader draws (NumPy, from a seed among
the hidden inputs), built the same way where the learner's code runs and where the reference
runs. The ids are compared with
the library's greedy generation (``llm_keras.generation.generate(..., temperature=0,
end_token_id=...)``) on the same model. The end tokens are taken from the ids generated without
one: the token at a hidden step (so the text stops there), and the first token (so no token is
returned). The cache check counts the tokens the learner's loop gives the model: each token once,
``len(prompt) + max_new_tokens`` at most.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="generate",
    answer_cells=("generate-answer",),
    grade_cell="generate-check",
    names=("generate",),
    graded=("llm_keras.generation.decode.generate", "llm_keras.generation.decode.stream_ids",
            "llm_keras.generation.streaming.generate_text",
            "llm_keras.generation.streaming.stream_text"),
    uses=("greedy",),
    timeout=120,  # a loop of eager steps: on JAX each op of a new shape compiles first
)

IDS = {"dtype": "any", "exact": True}
CHECKS = (
    Check("greedy ids without an end token", output="ids", weight=2,
          hint="Prefill the prompt once, then feed each new token at its position; take the "
          "argmax of the last position's logits.", **IDS),
    Check("stops before an end token", output="end",
          hint="Stop when the chosen token is end_id, without returning it.", **IDS),
    Check("the end token chosen first: no new token", output="first",
          hint="Check the first chosen token against end_id too: then the result is [].",
          **IDS),
    Check("each token goes through the model once (the KV cache)", output="cached",
          dtype="bool", exact=True,
          hint="Run the prompt once with `call_with_cache(..., 0)`, then one token (shape "
          "`(1, 1)`) per step at its position: never the whole text again."),
)


def inputs(rng):
    max_new_tokens = int(rng.integers(6, 11))
    return {"vocab_size": np.array(rng.integers(10, 21)),
            "weights_seed": np.array(rng.integers(2**31)),
            "prompt": rng.integers(0, 10, size=int(rng.integers(1, 7))),
            "max_new_tokens": np.array(max_new_tokens),
            "end_at": np.array(rng.integers(1, max_new_tokens))}


def probe(learner, inputs):
    from llm_keras.models import GPT, GPTConfig

    config = GPTConfig(vocab_size=int(inputs["vocab_size"]), context_length=32, d_model=16,
                       n_layers=1, n_heads=2)
    gpt = GPT(config)
    rng = np.random.default_rng(int(inputs["weights_seed"]))
    for weight in sorted(gpt.weights, key=lambda w: w.path):
        weight.assign(rng.normal(size=weight.shape).astype("float32"))

    def size(token_ids):
        shape = getattr(token_ids, "shape", None)
        return int(np.prod(tuple(shape))) if shape is not None else np.asarray(token_ids).size

    fed = [0]  # the tokens given to the model, out of the learner's sight (not an attribute)

    class CountingModel:
        """The model, counting the tokens it is given."""

        def __init__(self):
            self.config = gpt.config

        def init_cache(self, batch_size, max_length):
            return gpt.init_cache(batch_size, max_length)

        def call_with_cache(self, token_ids, cache, cache_index):
            fed[0] += size(token_ids)
            return gpt.call_with_cache(token_ids, cache, cache_index)

        def __call__(self, token_ids, *args, **kwargs):
            fed[0] += size(token_ids)
            return gpt(token_ids, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(gpt, name)

    def ids(new_ids):
        return np.array([int(i) for i in new_ids], dtype="int64")

    prompt, n = [int(i) for i in inputs["prompt"]], int(inputs["max_new_tokens"])
    model = CountingModel()
    free = ids(learner.generate(model, prompt, n))
    cached = fed[0] <= len(prompt) + n
    end_at = int(inputs["end_at"])
    end = int(free[end_at]) if end_at < len(free) else 0
    first = int(free[0]) if len(free) else 0
    return {"ids": free, "end": ids(learner.generate(model, prompt, n, end)),
            "first": ids(learner.generate(model, prompt, n, first)),
            "cached": np.array(cached)}


def reference(inputs):
    from llm_keras.generation.decode import generate

    def greedy_generate(model, prompt_ids, max_new_tokens, end_id=None):
        return generate(model, prompt_ids, max_new_tokens, temperature=0, end_token_id=end_id)

    outputs = probe(SimpleNamespace(generate=greedy_generate), inputs)
    return dict(outputs, cached=np.array(True))  # the library's loop is compiled: not counted
