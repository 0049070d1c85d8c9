"""Sharing a model in the formats the ecosystem uses, and coming back from them (week 4).

- ``huggingface``: ``export_to_huggingface(model, folder, tokenizer)`` writes a ``transformers``
  ``GPT2LMHeadModel`` folder (config.json, model.safetensors, tokenizer files);
  ``import_from_huggingface(folder)`` reads one back, OpenAI's GPT-2 weights included.
- ``keras_hub_bridge``: ``to_keras_hub(model, tokenizer)`` gives a ``keras_hub.models.GPT2CausalLM``
  (keras-hub's samplers, ``generate``, LoRA); ``from_keras_hub(causal_lm)`` gives our ``GPT``.
- ``gpt2_checkpoint``: GPT-2's configuration and weight names, the map both formats share, and
  ``check_gpt2_compatible``, which refuses what GPT-2 cannot express (post-LN, RMSNorm, SwiGLU,
  rotary positions), naming the option.
- ``huggingface_tokenizer``: our tokenizers as Hugging Face tokenizer files and back.

Importing this package does not import Keras, ``transformers`` or keras-hub: each name is loaded
from its module on first use.
"""

from llm_keras.lazy_exports import lazy_exports

_NAMES = {
    "huggingface": ("export_to_huggingface", "import_from_huggingface"),
    "keras_hub_bridge": ("from_keras_hub", "to_keras_hub"),
    "gpt2_checkpoint": ("check_gpt2_compatible", "gpt2_weight_shapes"),
    "huggingface_tokenizer": ("load_huggingface_tokenizer", "save_huggingface_tokenizer"),
}
__getattr__, __all__ = lazy_exports(__name__, _NAMES)
