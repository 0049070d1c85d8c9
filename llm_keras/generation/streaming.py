"""Text in, text out, piece by piece as the tokens come (week 4, "Generating text: from scores to a token").

``stream_text`` encodes a prompt, generates with ``decode.stream_ids`` and yields each new piece of
text as soon as it is complete; ``generate_text`` returns the whole continuation at once.

Decoding one token at a time is not always possible: with byte-level BPE a character such as "é"
(two UTF-8 bytes) or "🙂" (four) may be split across tokens, and decoding the first token alone
gives a broken character (U+FFFD). ``IncrementalDecoder`` keeps the bytes of an unfinished
character until the token that completes it arrives, using Python's incremental UTF-8 decoder
(``codecs.getincrementaldecoder``). Tokenizers without bytes (``CharTokenizer``,
``WordBPETokenizer``) decode a list of ids into text whose prefixes are the decodings of the
prefixes of the list, so their new text is what decoding every id so far adds at the end.
"""

import codecs

from llm_keras.generation.decode import generate, stream_ids


class IncrementalDecoder:
    """Turns token ids, given one at a time, into text without ever splitting a character.

    Args:
        tokenizer: a tokenizer of ``llm_keras.tokenizers``. One with ``decode_bytes``
            (``ByteLevelBPETokenizer``) is decoded byte-exactly; any other through ``decode``.

    ``"".join(add(i) for i in ids) + finish()`` equals ``tokenizer.decode(ids)``.

    Example:

    >>> decoder = IncrementalDecoder(tokenizer)
    >>> pieces = [decoder.add(token_id) for token_id in ids]   # "" while a character is unfinished
    >>> text = "".join(pieces) + decoder.finish()
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._bytes = hasattr(tokenizer, "decode_bytes")
        # errors="replace": bytes that can never form a character become U+FFFD, as in decode().
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._ids = []  # tokenizers without bytes: the ids so far,
        self._text_length = 0  # and the length of the text already returned

    def add(self, token_id):
        """The text that ``token_id`` completes: ``""`` while a character is still unfinished."""
        if self._bytes:
            return self._utf8.decode(self.tokenizer.decode_bytes([token_id]))
        self._ids.append(token_id)
        text = self.tokenizer.decode(self._ids)
        piece = text[self._text_length :]
        self._text_length = len(text)
        return piece

    def finish(self):
        """What is left: the bytes of an unfinished character, as U+FFFD (else ``""``)."""
        return self._utf8.decode(b"", final=True) if self._bytes else ""


def stream_text(model, tokenizer, prompt, max_new_tokens, **options):
    """Yield the text that follows ``prompt``, piece by piece, as the tokens are generated.

    Args:
        model: a ``GPT``.
        tokenizer: the tokenizer the model was trained with.
        prompt: a non-empty ``str``; every character must be encodable by ``tokenizer``.
        max_new_tokens: the number of tokens to generate (a character tokenizer: characters).
        **options: ``generate``'s options (``temperature``, ``top_k``, ``top_p``, ``seed``,
            ``end_token_id``, ``use_cache``, ``max_length``).

    Yields:
        Non-empty strings; joined, they are ``generate_text``'s result.

    Raises:
        ValueError: for an empty prompt, one the tokenizer cannot encode (its message names the
            character), or options out of range.

    >>> for piece in stream_text(model, tokenizer, "ROMEO:", 200, temperature=0.8, top_k=40):
    ...     print(piece, end="", flush=True)
    """
    # Checked now (stream_ids checks its arguments when called), not at the first piece.
    token_ids = stream_ids(model, encode_prompt(tokenizer, prompt), max_new_tokens, **options)
    return _pieces(token_ids, IncrementalDecoder(tokenizer))


def _pieces(token_ids, decoder):
    for token_id in token_ids:
        piece = decoder.add(token_id)
        if piece:
            yield piece
    rest = decoder.finish()
    if rest:
        yield rest


def generate_text(model, tokenizer, prompt, max_new_tokens, **options):
    """The text generated after ``prompt`` (the prompt itself is not repeated).

    Arguments as ``stream_text``; the tokens are generated in one compiled loop.

    >>> generate_text(model, tokenizer, "ROMEO:", 200, temperature=0.8, top_k=40, seed=1)
    """
    token_ids = generate(model, encode_prompt(tokenizer, prompt), max_new_tokens, **options)
    return tokenizer.decode(token_ids)


def encode_prompt(tokenizer, prompt):
    """``tokenizer.encode(prompt)``, refusing an empty prompt or one that is not a ``str``."""
    if not isinstance(prompt, str):
        raise ValueError(f"The prompt must be text (a str), got {type(prompt).__name__}.")
    if not prompt:
        raise ValueError(
            "The prompt is empty: generation needs at least one token to continue from (a "
            "newline, '\\n', will do for a character model)."
        )
    return tokenizer.encode(prompt)
