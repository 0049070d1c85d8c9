"""A GPT that draws every next token from one fixed distribution, whatever the text before.

A chat test needs a model that answers and then stops at the end token, which a model with
random weights does only by chance, and a trained one only after training. This one is a real
``GPT`` (it runs through the compiled decoder, saves and loads as ``.keras``) with two weights
set by hand:

- the final norm's ``gamma`` is 0 and its ``beta`` the unit vector ``e_0``, so the hidden state
  of every position is ``e_0`` whatever the tokens before;
- the output head (untied) has the wanted logits in its column 0 and zeros elsewhere, so the
  logits ``h . W[v]`` are those logits at every position.

The tests choose the probabilities (digits, then the end token with probability p: answers of
about 1/p tokens), so the expected answers follow from the sampler alone.
"""

import keras
import numpy as np

from llm_keras.models import GPT, GPTConfig

NEVER = -30.0  # the logit of a token that is not drawn (exp(-30) ~ 1e-13)


def fixed_distribution_gpt(vocab_size, probabilities, context_length=32, seed=0):
    """A ``GPT`` (1 layer, d_model 16) whose next token is ``i`` with ``probabilities[i]``.

    Args:
        vocab_size: the tokenizer's vocabulary size.
        probabilities: ``{token_id: probability}``, summing to 1; the other ids get ``NEVER``.
    """
    if not np.isclose(sum(probabilities.values()), 1.0):
        raise ValueError(f"probabilities sum to {sum(probabilities.values())}, not 1.")
    keras.utils.set_random_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, context_length=context_length, d_model=16,
                       n_layers=1, n_heads=2, tie_weights=False)  # fmt: skip
    model = GPT(config)
    model(np.zeros((1, 4), dtype="int32"))  # builds the weights
    logits = np.full(vocab_size, NEVER, dtype="float32")
    for token_id, probability in probabilities.items():
        logits[token_id] = np.log(probability)
    head = np.zeros((vocab_size, config.d_model), dtype="float32")
    head[:, 0] = logits
    model.lm_head.embeddings.assign(head)
    model.final_norm.gamma.assign(np.zeros(config.d_model, dtype="float32"))
    model.final_norm.beta.assign(np.eye(config.d_model, dtype="float32")[0])
    return model
