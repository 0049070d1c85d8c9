"""Token embedding and the tied output projection (week 1, "Token embeddings").

A language model sees token ids, integers in ``[0, vocab_size)``. The first layer looks each id
up in a table of ``vocab_size`` learned vectors; the last layer turns a hidden vector back into one
score (logit) per token of the vocabulary. GPT-2 uses *the same table* for both ("weight tying",
Press and Wolf 2017): the logit of token ``v`` is the dot product of the hidden vector with row
``v`` of the table. This layer does both directions with one variable, like
``keras.layers.ReversibleEmbedding``.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="llm_keras")
class TokenEmbedding(keras.layers.Layer):
    """Looks token ids up in a ``(vocab_size, d_model)`` table, and projects back to logits.

    The table starts as GPT-2's initialisation, a normal distribution with standard deviation 0.02.

    Args:
        vocab_size: number of different token ids.
        d_model: length of each token's vector.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Call arguments:
        inputs: token ids ``(batch, seq)`` of an integer dtype, or with ``reverse=True`` hidden
            vectors ``(batch, seq, d_model)``.
        reverse: ``False`` (default) looks ids up; ``True`` multiplies hidden vectors by the
            transposed table, giving logits.

    Returns:
        ``(batch, seq, d_model)`` vectors in the compute dtype, or with ``reverse=True``
        ``(batch, seq, vocab_size)`` logits, always float32 (a softmax over 50k tokens in
        float16 loses too much precision).

    Example:

    >>> embedding = TokenEmbedding(vocab_size=65, d_model=8)
    >>> vectors = embedding(np.array([[1, 2, 3]]))               # (1, 3, 8)
    >>> logits = embedding(vectors, reverse=True)                 # (1, 3, 65), same table
    """

    def __init__(self, vocab_size, d_model, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.d_model = d_model

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.vocab_size, self.d_model),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="embeddings",
        )

    def call(self, inputs, reverse=False):
        if not reverse:
            return ops.take(self.embeddings, inputs, axis=0)  # (batch, seq, d_model)
        hidden = ops.cast(inputs, "float32")
        table = ops.cast(self.embeddings, "float32")
        return ops.matmul(hidden, ops.transpose(table))  # (batch, seq, vocab_size)

    def get_config(self):
        config = super().get_config()
        config.update({"vocab_size": self.vocab_size, "d_model": self.d_model})
        return config
