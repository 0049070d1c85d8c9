"""The chat template: special tokens for the turns of a conversation (week 6, "The chat template").

A base model continues text. To make it answer, we show it conversations in a fixed layout, the
*chat template*, with three tokens that ordinary text never contains:

    <|user|>47+8<|end|><|assistant|>55<|end|>
    \\______/\\__/\\_____/\\___________/\\/\\_____/
      user  prompt end   assistant  answer end

After fine-tuning on such conversations, we prompt with everything up to ``<|assistant|>`` and
let the model write the answer; it stops by writing ``<|end|>``.

Three pieces:

- ``ChatTokenizer``: a trained tokenizer plus the three special tokens, and plus the characters the
  tasks need that the base tokenizer lacks (a character tokenizer trained on TinyShakespeare has
  no ``0``-``9`` but ``3``, no ``+``). The base tokenizer's ids are unchanged, so the pretrained
  model still reads text the same way; the new ids come after them:

      0 .. V-1            the base tokenizer's ids (V = base.vocab_size)
      V .. V+E-1          the E extra characters, in the order given
      V+E, V+E+1, V+E+2   <|user|>, <|assistant|>, <|end|>

- ``format_example(tokenizer, prompt, answer)``: the ids of one conversation and the *role* of
  each id, ``PROMPT_ROLE`` (0) or ``ASSISTANT_ROLE`` (1). Supervised fine-tuning trains only on
  the assistant's tokens (``sft.py``): the answer and the ``<|end|>`` that closes it.

      tokens  <|user|>  4  7  +  8  <|end|>  <|assistant|>  5  5  <|end|>
      roles       0     0  0  0  0     0           0        1  1     1

  ``format_chat(tokenizer, turns, message)`` writes a conversation of several turns: the turns'
  chats one after the other, then the new message's (the chat demo of ``llm-keras serve``).

- ``grow_vocabulary(model, vocab_size)``: a copy of a trained GPT with room for the new ids: new
  rows in the token embedding table (and in the output projection when it is not tied). The old
  rows and every other weight are copied, so the logits of the old tokens do not change at all.

**How to start the new rows.** Two choices: a fresh normal(0, 0.02) sample, as the table was
initialised before pretraining, or the mean of the trained rows (Hewitt 2021, "Initializing New
Word Embeddings for Pretrained Language Models"; as there, plus a tiny noise drawn from a normal
with ``1e-5`` times the rows' covariance, so the new rows differ). With the mean, a new token's
logit is the mean of the old tokens' logits (``h . mean(e) = mean(h . e)``), and since
``exp(mean z) <= mean exp(z)`` (Jensen), each new token gets at most the probability of an
average old token, ``1 / V``: the grown model's predictions stay close to the trained model's.
A normal(0, 0.02) row instead gives a logit near 0 whatever the context, and nothing bounds what
that is worth against the trained logits; below, it is above their mean, and the new tokens take
two to three times more. Measured on character models trained on TinyShakespeare (65 tokens, d_model 64, 2 layers,
4 heads, context 64, 2,000 AdamW steps of 32 windows, JAX), grown by 16 tokens, on 2,048
positions of held-out text:

    new rows                  probability mass on the new tokens   held-out loss (nats)
                              tied       untied                    tied      untied
    none (the trained model)  -          -                         1.729     1.722
    mean (Hewitt), default    0.0035     0.0040                    1.733     1.726
    normal(0, 0.02)           0.0079     0.0127                    1.737     1.735

(The loss rises by about ``-log(1 - mass)``: the old tokens share what the new ones take. The
largest probability of a new token anywhere was 0.003 with the mean, below the bound 1/65 =
0.015.) On an untrained model the predictions are near uniform and both choices give the new
tokens about 16/81 = 0.20 of the mass: the difference only shows once the model has learned.

So ``grow_vocabulary`` starts new rows at the mean (``init="mean"``); ``init="normal"`` keeps the
other choice for the comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import keras
import numpy as np

from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers.base import _CLASSES, Tokenizer, check_text

USER = "<|user|>"
ASSISTANT = "<|assistant|>"
END = "<|end|>"
CHAT_TOKENS = (USER, ASSISTANT, END)

PROMPT_ROLE = 0
ASSISTANT_ROLE = 1

# Hewitt's new rows: a normal sample around the mean of the old rows, with this times their
# covariance.
MEAN_INIT_NOISE = 1e-5
GROW_INITS = ("mean", "normal")


def _can_encode(tokenizer: Tokenizer, char: str) -> bool:
    """Whether ``tokenizer`` encodes ``char`` and decodes it back (an unknown token does not)."""
    try:
        return tokenizer.decode(tokenizer.encode(char)) == char
    except ValueError:
        return False


class ChatTokenizer(Tokenizer):
    """A trained tokenizer with the chat's special tokens and some extra characters.

    Args:
        base: a trained tokenizer (``CharTokenizer``, ``ByteLevelBPETokenizer``...); its ids are
            kept as they are.
        extra_characters: characters ``base`` cannot encode, each once; they get the ids after
            ``base``'s, in this order. ``add_chat_tokens`` picks them from the characters of
            the tasks.

    ``encode`` finds ``<|user|>``, ``<|assistant|>`` and ``<|end|>`` (and the base's own special
    tokens, such as ``<|endoftext|>``) anywhere in the text, gives the extra characters their
    ids, and encodes everything else with ``base``. ``decode`` does the inverse.

    Saved configuration (``get_config()``): ``base``, ``{"class": ..., "config": ...}`` of the
    base tokenizer (as ``Tokenizer.save`` writes it), and ``extra_characters``.

    Example:
        >>> chat = ChatTokenizer(CharTokenizer("abc"), extra_characters="+")
        >>> chat.encode("<|user|>a+b<|end|>")
        [4, 0, 3, 1, 6]
        >>> chat.vocab_size
        7
    """

    def __init__(self, base: Tokenizer, extra_characters: str = ""):
        if isinstance(base, ChatTokenizer):
            raise ValueError(
                "base is already a ChatTokenizer: use it as it is, or build a new one on its "
                "own base, ChatTokenizer(tokenizer.base, extra_characters=...)."
            )
        if not isinstance(base, Tokenizer):
            raise ValueError(
                f"base must be a trained llm_keras tokenizer, got {type(base).__name__}."
            )
        if not isinstance(extra_characters, str):
            raise ValueError(
                f"extra_characters must be a str of characters, got {extra_characters!r}."
            )
        for position, char in enumerate(extra_characters):
            if char in extra_characters[:position]:
                raise ValueError(f"extra_characters lists {char!r} twice: each gets one id.")
            if _can_encode(base, char):
                raise ValueError(
                    f"extra_characters has {char!r}, which the base {type(base).__name__} already "
                    "encodes: only characters it cannot encode get new ids "
                    "(add_chat_tokens(tokenizer, characters) picks them for you)."
                )
        base_specials = dict(getattr(base, "special_tokens", {}))
        clash = [token for token in CHAT_TOKENS if token in base_specials]
        if clash:
            raise ValueError(
                f"The base tokenizer already has the special token {clash[0]!r}; a ChatTokenizer "
                "adds it itself: start from a tokenizer without it."
            )
        self._base = base
        self._extra_characters = extra_characters
        size = base.vocab_size
        self._extra_ids = {char: size + i for i, char in enumerate(extra_characters)}
        first_chat_id = size + len(extra_characters)
        self._chat_ids = {token: first_chat_id + i for i, token in enumerate(CHAT_TOKENS)}
        self._special_tokens = {**base_specials, **self._chat_ids}
        # Text for the ids past the base's: the extra characters, then the chat tokens.
        self._texts = list(extra_characters) + list(CHAT_TOKENS)
        # One pattern for the pieces encode handles itself: a special token (group 1; the longest
        # first, so that a token that starts another is not cut short) or a run of extra
        # characters (group 2). Everything between two matches goes to the base tokenizer.
        specials = sorted(self._special_tokens, key=len, reverse=True)
        pattern = f"({'|'.join(map(re.escape, specials))})"
        if extra_characters:
            pattern += f"|((?:{'|'.join(map(re.escape, extra_characters))})+)"
        self._pattern = re.compile(pattern)

    @property
    def base(self) -> Tokenizer:
        return self._base

    @property
    def extra_characters(self) -> str:
        return self._extra_characters

    @property
    def vocab_size(self) -> int:
        return self._base.vocab_size + len(self._texts)

    @property
    def special_tokens(self) -> dict[str, int]:
        """``{text: id}`` of the chat tokens and of the base tokenizer's special tokens."""
        return dict(self._special_tokens)

    @property
    def user_id(self) -> int:
        return self._chat_ids[USER]

    @property
    def assistant_id(self) -> int:
        return self._chat_ids[ASSISTANT]

    @property
    def end_id(self) -> int:
        return self._chat_ids[END]

    def encode(self, text: str) -> list[int]:
        """Text (special tokens written out, e.g. ``"<|user|>47+8<|end|>"``) -> ids.

        Raises:
            ValueError: for a character that neither the base tokenizer nor the extra
                characters cover; the message names it and its position in ``text``.
        """
        text = check_text(text)
        ids: list[int] = []
        start = 0
        for match in self._pattern.finditer(text):
            ids += self._encode_base(text, start, match.start())
            if match[1] is not None:  # a special token
                ids.append(self._special_tokens[match[1]])
            else:  # a run of extra characters
                ids += [self._extra_ids[char] for char in match[2]]
            start = match.end()
        ids += self._encode_base(text, start, len(text))
        return ids

    def _encode_base(self, text: str, start: int, stop: int) -> list[int]:
        """The base tokenizer's ids for ``text[start:stop]``."""
        if start == stop:
            return []
        piece = text[start:stop]
        try:
            return self._base.encode(piece)
        except ValueError:
            position = next(i for i, char in enumerate(piece) if not _can_encode(self._base, char))
            char = piece[position]
            raise ValueError(
                f"Character {char!r} at position {start + position} is neither in the base "
                f"{type(self._base).__name__} nor an extra character of this ChatTokenizer. Make "
                "the tokenizer with the characters it must encode: "
                "add_chat_tokens(base, characters=...)."
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text, special tokens written out: ``decode(encode(text)) == text``."""
        size = self._base.vocab_size
        pieces: list[str] = []
        run: list[int] = []  # consecutive base ids, decoded together (BPE bytes can span ids)
        for i in self._check_ids(ids):
            if i < size:
                run.append(i)
                continue
            if run:
                pieces.append(self._base.decode(run))
                run = []
            pieces.append(self._texts[i - size])
        if run:
            pieces.append(self._base.decode(run))
        return "".join(pieces)

    def get_config(self) -> dict:
        return {
            "base": {"class": type(self._base).__name__, "config": self._base.get_config()},
            "extra_characters": self._extra_characters,
        }

    @classmethod
    def from_config(cls, config: dict) -> ChatTokenizer:
        base = config["base"]
        base_class = _CLASSES.get(base["class"])  # every Tokenizer subclass, by class name
        if base_class is None:
            raise ValueError(
                f"This ChatTokenizer's base is of unknown class {base['class']!r}; known "
                f"classes: {sorted(_CLASSES)}."
            )
        return cls(base_class.from_config(base["config"]), config["extra_characters"])


def add_chat_tokens(tokenizer: Tokenizer, characters: str = "") -> ChatTokenizer:
    """``tokenizer`` with the chat tokens and the characters of ``characters`` it cannot encode.

    Args:
        tokenizer: a trained tokenizer, or a ``ChatTokenizer``.
        characters: every character the chats will contain, in any order, repeats allowed, e.g.
            ``"".join(task.characters for task in tasks)``. Those the tokenizer cannot encode
            (tried one by one) become the extra characters, sorted.

    Returns:
        A ``ChatTokenizer``. Given a ``ChatTokenizer`` that already encodes every character of
        ``characters``, returns it unchanged.

    Raises:
        ValueError: given a ``ChatTokenizer`` that lacks some of ``characters``. Adding them would
            move the ids of the chat tokens, which a fine-tuned model has learned; start again
            from its base with all the characters: ``add_chat_tokens(tokenizer.base, ...)``.
    """
    if not isinstance(characters, str):
        raise ValueError(f"characters must be a str, got {characters!r}.")
    missing = sorted({char for char in characters if not _can_encode(tokenizer, char)})
    if isinstance(tokenizer, ChatTokenizer):
        if missing:
            raise ValueError(
                f"This ChatTokenizer cannot encode {''.join(missing)!r}; adding characters would "
                "change the ids of its chat tokens. Start again from its base with every "
                "character: add_chat_tokens(tokenizer.base, characters=...)."
            )
        return tokenizer
    return ChatTokenizer(tokenizer, "".join(missing))


def format_example(
    tokenizer: ChatTokenizer, prompt: str, answer: str | None = None
) -> tuple[list[int], list[int]]:
    """The ids of one chat and the role of each id.

    ``ids = [user] + encode(prompt) + [end] + [assistant] + encode(answer) + [end]``, the answer's
    ids and its ``end`` with ``ASSISTANT_ROLE``, every other id with ``PROMPT_ROLE``. Without an
    answer, the chat stops after ``[assistant]``: the prompt to generate from.

    Args:
        tokenizer: a ``ChatTokenizer`` (``add_chat_tokens`` makes one).
        prompt: the user's text.
        answer: the assistant's text, or ``None``.

    Returns:
        ``(ids, roles)``, two lists of the same length.

    Raises:
        ValueError: when ``tokenizer`` has no chat tokens, or the prompt or the answer contains a
            special token's text (it would be read as the token).
    """
    if not isinstance(tokenizer, ChatTokenizer):
        raise ValueError(
            f"format_example needs a ChatTokenizer, got a {type(tokenizer).__name__} without the "
            "chat tokens: make one with add_chat_tokens(tokenizer, characters=...)."
        )
    texts = {"prompt": prompt} if answer is None else {"prompt": prompt, "answer": answer}
    for name, text in texts.items():
        if not isinstance(text, str):
            raise ValueError(f"The {name} must be a str, got {text!r}.")
        for special in tokenizer.special_tokens:
            if special in text:
                raise ValueError(
                    f"The {name} {text!r} contains the special token {special!r}, which would be "
                    "read as that token, not as text: remove it."
                )
    ids = [tokenizer.user_id, *tokenizer.encode(prompt), tokenizer.end_id, tokenizer.assistant_id]
    roles = [PROMPT_ROLE] * len(ids)
    if answer is not None:
        answer_ids = [*tokenizer.encode(answer), tokenizer.end_id]
        ids += answer_ids
        roles += [ASSISTANT_ROLE] * len(answer_ids)
    return ids, roles


def format_chat(
    tokenizer: ChatTokenizer, turns, message: str | None = None
) -> tuple[list[int], list[int]]:
    """The ids of a conversation of several turns and the role of each id.

    Each turn is one ``format_example`` chat; the conversation is their concatenation, then,
    with a ``message``, the chat of that message without an answer (the prompt to generate the
    next answer from):

        <|user|>47+8<|end|><|assistant|>55<|end|><|user|>55-7<|end|><|assistant|>
        \\___________ turns[0] ____________/\\_________ message ________/

    Every answer of ``turns`` and its ``<|end|>`` have ``ASSISTANT_ROLE``, all else
    ``PROMPT_ROLE``.

    Args:
        tokenizer: a ``ChatTokenizer``.
        turns: the conversation so far, ``(user, assistant)`` pairs of strings, oldest first.
        message: the user's new text, or ``None`` (the conversation ends with an answer).

    Returns:
        ``(ids, roles)``, two lists of the same length.

    Raises:
        ValueError: for a turn that is not a ``(user, assistant)`` pair of strings (the message
            says which), for no turn and no message, and for what ``format_example`` refuses.
    """
    ids: list[int] = []
    roles: list[int] = []
    turns = list(turns)
    for index, turn in enumerate(turns):
        pair = isinstance(turn, (tuple, list)) and len(turn) == 2
        if not pair or not all(isinstance(text, str) for text in turn):
            raise ValueError(
                f"turns[{index}] is {turn!r:.60}, not a (user, assistant) pair of strings: pass "
                "the conversation as [(user_text, assistant_text), ...]."
            )
        turn_ids, turn_roles = format_example(tokenizer, *turn)
        ids += turn_ids
        roles += turn_roles
    if message is not None:
        message_ids, message_roles = format_example(tokenizer, message)
        ids += message_ids
        roles += message_roles
    if not ids:
        raise ValueError("format_chat got no turn and no message: give at least one of them.")
    return ids, roles


def grow_vocabulary(model: GPT, vocab_size: int, seed: int = 0, init: str = "mean") -> GPT:
    """A copy of ``model`` with ``vocab_size`` token ids: old weights copied, new rows added.

    Args:
        model: a ``GPT``.
        vocab_size: the new vocabulary size, at least ``model.config.vocab_size`` (a
            ``ChatTokenizer``'s ``vocab_size``).
        seed: seeds the new rows' random numbers (NumPy), so the same seed gives the same model.
        init: how to start the new rows of the token table (and of ``lm_head``, when the weights
            are not tied): ``"mean"`` (default), the mean of the old rows plus a noise of
            ``1e-5`` times their covariance (Hewitt 2021), or ``"normal"``, normal(0, 0.02) like
            a fresh table. See the module docstring for what each does.

    Returns:
        A new ``GPT`` whose config differs from ``model.config`` only by ``vocab_size``, with the
        same dtype policy and name; for ids below the old ``vocab_size``, its logits equal
        ``model``'s.

    Raises:
        ValueError: for a ``vocab_size`` smaller than the model's, or an unknown ``init``.
    """
    if not isinstance(model, GPT):
        raise ValueError(f"grow_vocabulary takes a GPT, got {type(model).__name__}.")
    old_size = model.config.vocab_size
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < old_size:
        raise ValueError(
            f"vocab_size={vocab_size!r} is smaller than the model's vocab_size={old_size}: "
            "grow_vocabulary only adds token ids. Pass the new tokenizer's vocab_size."
        )
    if init not in GROW_INITS:
        raise ValueError(f"Unknown init {init!r}: choose 'mean' or 'normal'.")
    config = GPTConfig.from_dict({**model.config.to_dict(), "vocab_size": vocab_size})
    grown = GPT(config, dtype=model.dtype_policy, name=model.name)
    rng = np.random.default_rng(seed)
    # The two models are built in the same order, so their weights pair up one to one; only the
    # token tables, (vocab_size, d_model), differ in shape.
    for old, new in zip(model.weights, grown.weights, strict=True):
        values = keras.ops.convert_to_numpy(old)
        if tuple(new.shape) != values.shape:
            rows = _new_rows(values, vocab_size - old_size, rng, init)
            values = np.concatenate([values, rows.astype(values.dtype)])
        new.assign(values)
    return grown


def check_vocabulary(tokenizer: Tokenizer, models: dict, what_to_do: str) -> None:
    """Every model of ``models`` has an id for each of ``tokenizer``'s tokens, or a ValueError.

    SFT, the reward model, DPO and GRPO check the models they are given with it before any work
    (a base model whose vocabulary was not grown would fail deep inside a backend instead).

    Args:
        tokenizer: a ``ChatTokenizer`` (anything with ``vocab_size``).
        models: ``{name: GPT or None}``, the name as the message calls the model (``"model"``,
            ``"reference"``...); ``None`` is skipped.
        what_to_do: the end of the message: how to get a model that fits.

    Raises:
        ValueError: ``"The {name} has {model's vocab_size} token ids but the tokenizer
        {tokenizer.vocab_size}: {what_to_do}"``, for the first model that has too few.
    """
    for name, model in models.items():
        if model is not None and model.config.vocab_size < tokenizer.vocab_size:
            raise ValueError(
                f"The {name} has {model.config.vocab_size} token ids but the tokenizer "
                f"{tokenizer.vocab_size}: {what_to_do}"
            )


def _new_rows(table: np.ndarray, count: int, rng: np.random.Generator, init: str) -> np.ndarray:
    """``count`` new rows ``(count, d_model)`` for a trained token table ``(V, d_model)``."""
    if init == "normal":
        return rng.normal(0.0, 0.02, size=(count, table.shape[1]))
    # Hewitt: a sample of normal(mean, 1e-5 * covariance), covariance = D^T D / V with D the rows
    # minus their mean. z @ D with z ~ normal(0, 1) of shape (count, V) has covariance D^T D, so
    # scaling it by sqrt(1e-5 / V) gives the sample without factorising the covariance.
    mean = table.mean(axis=0)
    deviations = table - mean  # (V, d_model)
    z = rng.standard_normal((count, table.shape[0]))
    return mean + np.sqrt(MEAN_INIT_NOISE / table.shape[0]) * (z @ deviations)
