"""What a training run leaves behind for generation and sharing (week 3, "Checkpoints and exact resume").

A run directory (``llm-keras train --out DIR``) always holds, next to its resumable checkpoints:

    DIR/model.keras                         the latest model (any backend can load it)
    DIR/tokenizer/llm_keras_tokenizer.json  the tokenizer that made its training ids

``save_for_inference`` writes both atomically (a run killed while saving keeps the previous
model); ``load_for_inference`` reads them back for ``llm-keras generate`` and ``llm-keras serve``.
"""

from __future__ import annotations

import os
import secrets
import zipfile
from pathlib import Path

MODEL_FILE = "model.keras"
TOKENIZER_DIR = "tokenizer"


def save_for_inference(directory: str | os.PathLike, model, tokenizer) -> Path:
    """Write ``directory/model.keras`` and ``directory/tokenizer/``; returns the model's path."""
    from llm_keras.keras_files import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(directory / TOKENIZER_DIR)
    path = directory / MODEL_FILE
    # Keras wants a path ending in .keras; write beside the target, then rename (atomic).
    tmp = directory / f".{secrets.token_hex(4)}.partial.keras"
    try:
        save_model(model, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_for_inference(directory: str | os.PathLike):
    """Load ``(model, tokenizer)`` from a run directory written by ``save_for_inference``."""
    import keras

    from llm_keras.tokenizers import Tokenizer

    directory = Path(directory)
    path = directory / MODEL_FILE
    if not path.is_file():
        raise ValueError(
            f"No trained model in {str(directory)!r}: expected {MODEL_FILE} there, written by "
            "`llm-keras train --out DIR` (pass that DIR)."
        )
    import llm_keras.models.gpt  # noqa: F401  (registers the GPT classes for deserialisation)
    import llm_keras.finetuning.chat_template  # noqa: F401  (registers ChatTokenizer: `llm-keras sft` runs)

    # compile=False: generation needs the weights, not the training set-up saved with them
    # (the loss, metrics and the optimizer's learning-rate schedule, whose classes live in
    # llm_keras.training and would otherwise have to be imported first).
    if path.stat().st_size == 0 or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is damaged: it is not a whole Keras archive (empty, cut short or altered). "
            "Copy the run directory again, or train again (`llm-keras train --out DIR`)."
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} could not be loaded ({type(error).__name__}: {error}). If the file was "
            "copied or cut short, copy the run directory again; else train again."
        ) from None
    tokenizer = Tokenizer.load(directory / TOKENIZER_DIR)
    return model, tokenizer
