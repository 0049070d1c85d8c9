"""Perplexity and bits per character: the loss in units people quote (week 3, "The next-token loss").

Both are functions of the mean next-token loss ``L`` (nats per token, ``CausalLMLoss``):

- perplexity ``exp(L)``: the number of equally likely tokens the model is as unsure as. An
  untrained model over 65 characters scores about 65; a perfect one scores 1.
- bits per character ``L / ln 2 * tokens_per_character``: how many bits an ideal compressor
  driven by the model would spend per character of text. For a character-level tokenizer a
  token is a character (``tokens_per_character=1``). For a subword tokenizer, pass the corpus's
  ``len(ids) / len(text)`` (for example 0.27 for GPT-2's tokenizer on TinyShakespeare), so
  that models with different tokenizers are compared per character of the same text.

Perplexity depends on the tokenizer (a token of 4 characters is harder to guess than one
character); bits per character does not, which is why it compares tokenizers.
"""

import math

import keras
from keras import ops

from llm_keras.training.losses import token_losses


class _MeanTokenLoss(keras.metrics.Mean):
    """Running mean of the per-token loss over the batches seen since the last reset
    (``fused``: ``token_losses(..., fused=True)``, one kernel on PyTorch)."""

    def __init__(self, name, dtype=None, fused=False):
        super().__init__(name=name, dtype=dtype)
        self.fused = fused

    def update_state(self, y_true, y_pred, sample_weight=None):
        losses = token_losses(y_true, y_pred, self.fused)
        return super().update_state(losses, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}


@keras.saving.register_keras_serializable(package="llm_keras")
class Perplexity(_MeanTokenLoss):
    """``exp(mean next-token loss)``, from targets ``(batch, seq)`` and logits ``(batch, seq, V)``.

    Example:
        >>> model.compile(..., loss=CausalLMLoss(), metrics=[Perplexity()])
    """

    def __init__(self, name="perplexity", dtype=None, fused=False):
        super().__init__(name=name, dtype=dtype, fused=fused)

    def result(self):
        return ops.exp(super().result())


@keras.saving.register_keras_serializable(package="llm_keras")
class BitsPerCharacter(_MeanTokenLoss):
    """``mean next-token loss / ln 2 * tokens_per_character``: bits per character of text.

    Args:
        tokens_per_character: tokens per character of the text: ``1.0`` for a character
            tokenizer, ``len(ids) / len(text)`` for a subword one.
    """

    def __init__(self, tokens_per_character=1.0, name="bits_per_character", dtype=None,
                 fused=False):  # fmt: skip
        if not tokens_per_character > 0:
            raise ValueError(
                f"tokens_per_character={tokens_per_character!r} must be positive: it is "
                "len(ids) / len(text), 1.0 for a character tokenizer."
            )
        super().__init__(name=name, dtype=dtype, fused=fused)
        self.tokens_per_character = float(tokens_per_character)

    def result(self):
        return super().result() / math.log(2) * self.tokens_per_character

    def get_config(self):
        return {**super().get_config(), "tokens_per_character": self.tokens_per_character}
