"""A Keras model around a GPT, saved with it (week 6, "Classification with a new head").

Fine-tuning and alignment train a pretrained GPT inside another Keras model: the classifier of
week 6 (``classification.LastTokenClassifier``, a new head on the last token), and in week 7 the
reward model (``alignment.reward_model.RewardModel``) and the policy as DPO's and GRPO's train
steps see it (``alignment.dpo.DPOModel``, ``alignment.grpo.GRPOModel``). ``WrappedGPT`` is what
they share:

- the GPT is the first argument of the constructor, already built (a GPT builds itself), so the
  wrapper's own ``build`` has nothing to do (Keras calls it again when a ``.keras`` file loads);
- ``get_config`` holds the GPT's own config (``keras.saving.serialize_keras_object``) under the
  attribute's name, and ``from_config`` rebuilds the GPT from it first, so that a ``.keras`` file
  of the wrapper loads on any backend with its weights.

A subclass names the attribute (``wrapped = "policy"``) and adds its own settings to the config:

    >>> class Scorer(WrappedGPT):
    ...     def __init__(self, gpt, scale=1.0, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.gpt, self.scale = gpt, scale
    ...     def get_config(self):
    ...         return {**super().get_config(), "scale": self.scale}
"""

from __future__ import annotations

import keras


class WrappedGPT(keras.Model):
    """A Keras model that holds a built GPT as ``self.<wrapped>`` and saves it in its config.

    Subclasses take the GPT as the first argument of ``__init__``, set the attribute named by
    ``wrapped`` (``"gpt"`` unless they say otherwise) and chain ``get_config`` to this one.
    """

    wrapped = "gpt"  # the attribute, and the config key, of the GPT

    def build(self, input_shape=None):
        # The GPT is built already; Keras calls build again on load.
        self.built = True

    def get_config(self):
        gpt = getattr(self, self.wrapped)
        return {**super().get_config(), self.wrapped: keras.saving.serialize_keras_object(gpt)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        gpt = keras.saving.deserialize_keras_object(config.pop(cls.wrapped))
        return cls(gpt, **config)
