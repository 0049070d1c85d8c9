"""Hugging Face ``transformers`` GPT-2 folders: export a GPT, import one back (week 4, "Sharing a model on Hugging Face").

``export_to_huggingface`` writes what ``GPT2LMHeadModel.from_pretrained(folder)`` and
``AutoTokenizer.from_pretrained(folder)`` read:

    folder/config.json              GPT2Config: sizes, activation, dropout, tied embeddings
    folder/model.safetensors        the weights, float32, under GPT-2's names (gpt2_checkpoint.py)
    folder/vocab.json, merges.txt   a byte-level BPE tokenizer in GPT-2's own format
    folder/tokenizer.json           the tokenizer for the Rust ``tokenizers`` library
    folder/tokenizer_config.json    which tokenizer class reads it, and its special tokens

The weights are written with the ``safetensors`` package's NumPy API: exporting needs neither
PyTorch nor ``transformers``. A safetensors file is a JSON header (names, dtypes, shapes, offsets)
followed by the raw tensors, so reading it runs no code, unlike a pickled ``pytorch_model.bin``.

``import_from_huggingface`` reads such a folder back, written by us or by ``transformers``'
``save_pretrained`` (``transformer.``-prefixed names), and also OpenAI's GPT-2 as downloaded
from the Hugging Face Hub (unprefixed names, attention-mask buffers, sometimes only
``pytorch_model.bin``, which is read with ``torch.load(weights_only=True)`` when PyTorch is
installed). Nothing is downloaded: the folder must be on disk.

    >>> export_to_huggingface(model, "my-gpt", tokenizer=tokenizer)
    >>> model, tokenizer = import_from_huggingface("my-gpt")
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from llm_keras.interop.gpt2_checkpoint import (
    config_from_gpt2,
    from_gpt2_weights,
    gpt2_config,
    standard_names,
    to_gpt2_weights,
)
from llm_keras.interop.huggingface_tokenizer import (
    load_huggingface_tokenizer,
    save_huggingface_tokenizer,
)
from llm_keras.tokenizers.base import end_of_text_id

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"  # a checkpoint cut into several files
TORCH_WEIGHTS_FILE = "pytorch_model.bin"


def export_to_huggingface(model, folder: str | os.PathLike, tokenizer=None) -> list[Path]:
    """Write ``model`` (and its ``tokenizer``) as a Hugging Face ``GPT2LMHeadModel`` folder.

    Args:
        model: a ``GPT`` with GPT-2's architecture: pre-LN, LayerNorm, GELU or ReLU, learned or
            sinusoidal positions (tied or untied embeddings, with or without biases).
        folder: the folder to write (created; files of the same names are replaced).
        tokenizer: the model's ``ByteLevelBPETokenizer`` or ``CharTokenizer``, or ``None`` to
            write the weights only.

    Returns:
        The paths written.

    Raises:
        ValueError: a post-LN, RMSNorm, SwiGLU or rotary model (naming the option), a tokenizer
            with more ids than the model has, or a tokenizer that cannot be exported.
    """
    from safetensors.numpy import save_file

    from llm_keras.models import GPT

    if not isinstance(model, GPT):
        raise ValueError(
            f"export_to_huggingface takes an llm_keras GPT, got {type(model).__name__}."
        )
    config = model.config
    weights = to_gpt2_weights(model)  # refuses what GPT-2 cannot express, naming the option
    if tokenizer is not None and tokenizer.vocab_size > config.vocab_size:
        raise ValueError(
            f"The tokenizer has {tokenizer.vocab_size} ids but the model only "
            f"vocab_size={config.vocab_size}: they do not belong together. Pass the tokenizer "
            "the model was trained with."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hf_config = gpt2_config(config, end_token_id=end_of_text_id(tokenizer))
    config_path = folder / CONFIG_FILE
    config_path.write_text(json.dumps(hf_config, indent=2) + "\n", encoding="utf-8")
    weights_path = folder / WEIGHTS_FILE
    # metadata format "pt": transformers checks it to know the tensors are PyTorch's layout.
    save_file(weights, str(weights_path), metadata={"format": "pt"})
    written = [config_path, weights_path]
    if tokenizer is not None:
        written += save_huggingface_tokenizer(
            tokenizer, folder, model_max_length=config.context_length
        )
    return written


def import_from_huggingface(folder: str | os.PathLike, dtype=None):
    """Read a Hugging Face GPT-2 folder into ``(GPT, tokenizer)``.

    Args:
        folder: a folder with ``config.json`` and ``model.safetensors`` (or a sharded
            ``model.safetensors.index.json``, or ``pytorch_model.bin`` with PyTorch installed),
            and optionally the tokenizer files.
        dtype: the new ``GPT``'s dtype policy (e.g. ``"mixed_bfloat16"``); default Keras's.

    Returns:
        ``(model, tokenizer)``: a ``GPT`` whose logits equal the checkpoint's, and a
        ``ByteLevelBPETokenizer`` or ``CharTokenizer``, or ``None`` when the folder has no
        tokenizer files.

    Raises:
        ValueError: no such folder or ``config.json``, a model that is not GPT-2, a
            configuration our GPT cannot reproduce, or weights that do not match it.
    """
    folder = Path(folder)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        what = "folder" if folder.is_dir() else "path"
        raise ValueError(
            f"No {CONFIG_FILE} in {str(folder)!r} (the {what} "
            f"{'exists' if folder.exists() else 'does not exist'}): pass the folder of a Hugging "
            "Face model, as written by save_pretrained or export_to_huggingface, with config.json "
            "and model.safetensors in it."
        )
    try:
        hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{str(config_path)!r} is not valid JSON ({error}).") from None
    config = config_from_gpt2(hf_config, source=str(config_path))
    weights = standard_names(_read_weights(folder), source=str(folder))
    model = from_gpt2_weights(weights, config, dtype=dtype)
    return model, load_huggingface_tokenizer(folder)


def _read_weights(folder: Path) -> dict[str, np.ndarray]:
    if (folder / WEIGHTS_FILE).is_file():
        return _read_safetensors(folder / WEIGHTS_FILE)
    if (folder / WEIGHTS_INDEX_FILE).is_file():
        index = json.loads((folder / WEIGHTS_INDEX_FILE).read_text(encoding="utf-8"))
        weights = {}
        for shard in sorted(set(index["weight_map"].values())):
            weights.update(_read_safetensors(folder / shard))
        return weights
    if (folder / TORCH_WEIGHTS_FILE).is_file():
        return _read_torch_bin(folder / TORCH_WEIGHTS_FILE)
    raise ValueError(
        f"No weights in {str(folder)!r}: expected {WEIGHTS_FILE} (or {WEIGHTS_INDEX_FILE} and its "
        f"shards, or {TORCH_WEIGHTS_FILE}) beside config.json."
    )


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as float32 NumPy (bfloat16 too, via ml_dtypes)."""
    from safetensors import safe_open

    if not path.is_file():
        raise ValueError(f"Weights file not found: {str(path)!r}.")
    weights = {}
    with safe_open(str(path), framework="np") as file:
        for name in file.keys():  # noqa: SIM118 (a safetensors file, not a dict)
            weights[name] = np.asarray(file.get_tensor(name), dtype=np.float32)
    return weights


def _read_torch_bin(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{str(path)!r} is a PyTorch pickle, which needs PyTorch to read: pip install torch, "
            "or convert the folder to model.safetensors."
        ) from None
    # weights_only=True: unpickle tensors only, never run code from the file.
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {name: tensor.float().numpy() for name, tensor in state.items()}
