"""Tests of the chat template: ChatTokenizer, add_chat_tokens, format_example, format_chat,
grow_vocabulary.

The expected ids are written from the numbering the module documents (base ids, then the extra
characters, then the three chat tokens); the grown model is compared with the original model's
logits and with the mean of its old logits.
"""

import keras
import numpy as np
import pytest

from llm_keras.finetuning.chat_template import (
    ASSISTANT,
    ASSISTANT_ROLE,
    END,
    PROMPT_ROLE,
    USER,
    ChatTokenizer,
    add_chat_tokens,
    format_chat,
    format_example,
    grow_vocabulary,
)
from llm_keras.finetuning.tasks import TASKS
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import ByteLevelBPETokenizer, CharTokenizer, Tokenizer

if keras.backend.backend() == "torch":
    import torch

    torch.set_num_threads(1)  # tiny models: a second thread only spin-waits (training/conftest)

# The 65 characters of TinyShakespeare, in nanoGPT's order (ids 0..64).
SHAKESPEARE = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ALL_TASK_CHARACTERS = "".join(task_class().characters for task_class in TASKS.values())
EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def char_base():
    return CharTokenizer(SHAKESPEARE)


@pytest.fixture(scope="module")
def chat(char_base):
    return add_chat_tokens(char_base, ALL_TASK_CHARACTERS)


@pytest.fixture(scope="module")
def bpe_base():
    corpus = "the quick brown fox jumps over the lazy dog, caf\u00e9 au lait. " * 20
    return ByteLevelBPETokenizer.train(corpus, vocab_size=290, special_tokens=[EOT])


# --- ChatTokenizer and add_chat_tokens ----------------------------------------------------------


def test_the_missing_task_characters_become_extra_characters(chat):
    # TinyShakespeare has "3" and "-" but no other digit and no "+".
    assert chat.extra_characters == "+012456789"
    assert chat.vocab_size == 65 + 10 + 3
    assert (chat.user_id, chat.assistant_id, chat.end_id) == (75, 76, 77)
    assert chat.special_tokens == {USER: 75, ASSISTANT: 76, END: 77}


def test_ids_follow_the_documented_numbering(chat, char_base):
    # Base text keeps its ids; extra character i gets 65 + i; then the chat tokens.
    assert chat.encode("To be, or not") == char_base.encode("To be, or not")
    extra = {char: 65 + i for i, char in enumerate("+012456789")}
    text = f"{USER}47+3{END}{ASSISTANT}-50{END}"
    expected = [75, extra["4"], extra["7"], extra["+"], SHAKESPEARE.index("3"), 77, 76]
    expected += [SHAKESPEARE.index("-"), extra["5"], extra["0"], 77]
    assert chat.encode(text) == expected
    assert chat.decode(expected) == text


def test_round_trip_and_specials_anywhere(char_base):
    chat = add_chat_tokens(char_base, ALL_TASK_CHARACTERS + "<|>=")
    assert chat.extra_characters == "+012456789<=>|"
    texts = [
        "",
        USER,
        f"{END}{END}{USER}",
        f"count e in cheese{END}",
        "no special <|user| here <|end> 12+34=46 -7",
        f"a{USER}b{ASSISTANT}9{END}\n",
    ]
    for text in texts:
        assert chat.decode(chat.encode(text)) == text
    assert chat.encode(f"x{ASSISTANT}y").count(chat.assistant_id) == 1
    assert chat.encode("<|user|").count(chat.user_id) == 0  # an unfinished token is text


def test_unknown_character_names_it_and_its_position(chat):
    with pytest.raises(ValueError, match=r"Character '\*' at position 10 is neither in the base"):
        chat.encode(f"{USER}12*3")  # "<|user|>" is 8 characters, then "12"
    with pytest.raises(ValueError, match=r"add_chat_tokens\(base, characters=\.\.\.\)"):
        chat.encode("caf\u00e9")


def test_unknown_token_counts_as_missing():
    base = CharTokenizer("abc", unk_token="<unk>")
    chat = add_chat_tokens(base, "ab+c")
    assert chat.extra_characters == "+"
    assert chat.decode(chat.encode("a+b")) == "a+b"


def test_byte_level_bpe_base_needs_no_extra_character(bpe_base):
    chat = add_chat_tokens(bpe_base, ALL_TASK_CHARACTERS + "\u00e9\U0001f643")
    assert chat.extra_characters == ""
    size = bpe_base.vocab_size
    assert chat.special_tokens == {
        EOT: bpe_base.special_tokens[EOT],
        USER: size,
        ASSISTANT: size + 1,
        END: size + 2,
    }
    text = "the lazy fox, caf\u00e9 \U0001f643 47+8"
    assert chat.encode(f"{USER}{text}{END}") == [size, *bpe_base.encode(text), size + 2]
    # The base's own special token keeps its id; decoding joins bytes split across ids.
    with_eot = f"{USER}the dog{EOT}{END}{ASSISTANT}caf\u00e9{END}"
    ids = chat.encode(with_eot)
    assert bpe_base.special_tokens[EOT] in ids
    assert chat.decode(ids) == with_eot


@pytest.mark.parametrize("base_name", ["char", "bpe"])
def test_save_and_load_round_trip(base_name, char_base, bpe_base, tmp_path):
    base = char_base if base_name == "char" else bpe_base
    chat = add_chat_tokens(base, ALL_TASK_CHARACTERS)
    chat.save(tmp_path)
    loaded = Tokenizer.load(tmp_path)
    assert type(loaded) is ChatTokenizer and type(loaded.base) is type(base)
    assert loaded.get_config() == chat.get_config()
    assert loaded.vocab_size == chat.vocab_size
    text = f"{USER}reverse stone 47+8{END}{ASSISTANT}enots{END}"
    assert loaded.encode(text) == chat.encode(text)
    assert ChatTokenizer.load(tmp_path).special_tokens == chat.special_tokens


def test_add_chat_tokens_to_a_chat_tokenizer(chat):
    assert add_chat_tokens(chat, "12+3ab") is chat
    with pytest.raises(ValueError, match=r"cannot encode '\*/'.*add_chat_tokens\(tokenizer\.base"):
        add_chat_tokens(chat, "1*/")


def test_chat_tokenizer_errors(char_base, chat):
    with pytest.raises(ValueError, match=r"extra_characters has 'a', which the base CharTokenizer"):
        ChatTokenizer(char_base, "+a")
    with pytest.raises(ValueError, match=r"extra_characters lists '\+' twice"):
        ChatTokenizer(char_base, "+1+")
    with pytest.raises(ValueError, match="base is already a ChatTokenizer"):
        ChatTokenizer(chat)
    clashing = ByteLevelBPETokenizer.train("hello world " * 5, 260, special_tokens=[END])
    with pytest.raises(ValueError, match=r"already has the special token '<\|end\|>'"):
        ChatTokenizer(clashing)


# --- format_example ------------------------------------------------------------------------------


def test_format_example_ids_and_roles(chat):
    ids, roles = format_example(chat, "47+8", "55")
    prompt, answer = chat.encode("47+8"), chat.encode("55")
    assert ids == [chat.user_id, *prompt, chat.end_id, chat.assistant_id, *answer, chat.end_id]
    assert roles == [PROMPT_ROLE] * (len(prompt) + 3) + [ASSISTANT_ROLE] * (len(answer) + 1)
    assert chat.decode(ids) == f"{USER}47+8{END}{ASSISTANT}55{END}"
    assert (PROMPT_ROLE, ASSISTANT_ROLE) == (0, 1)


def test_format_example_without_answer_is_the_generation_prompt(chat):
    ids, roles = format_example(chat, "sort dcab")
    assert ids == [chat.user_id, *chat.encode("sort dcab"), chat.end_id, chat.assistant_id]
    assert roles == [PROMPT_ROLE] * len(ids)
    full, _ = format_example(chat, "sort dcab", "abcd")
    assert full[: len(ids)] == ids


def test_format_example_errors(chat, char_base):
    with pytest.raises(ValueError, match=r"The prompt '1\+1<\|end\|>' contains the special token"):
        format_example(chat, f"1+1{END}", "2")
    with pytest.raises(ValueError, match=r"The answer .* contains the special token '<\|user\|>'"):
        format_example(chat, "1+1", f"2{USER}")
    with pytest.raises(ValueError, match=r"needs a ChatTokenizer, got a CharTokenizer"):
        format_example(char_base, "1+1", "2")


# --- format_chat ---------------------------------------------------------------------------------


def test_format_chat_is_the_turns_chats_one_after_the_other(chat):
    turns = [("47+8", "55"), ("sort dcab", "abcd")]
    ids, roles = format_chat(chat, turns, "55-7")
    chats = [format_example(chat, "47+8", "55"), format_example(chat, "sort dcab", "abcd"),
             format_example(chat, "55-7")]  # fmt: skip
    assert ids == [i for chat_ids, _ in chats for i in chat_ids]
    assert roles == [r for _, chat_roles in chats for r in chat_roles]
    # Written out from the numbering: 65 + i for extra character i, then 75, 76, 77.
    extra = {char: 65 + i for i, char in enumerate("+012456789")}
    first = [75, extra["4"], extra["7"], extra["+"], extra["8"], 77, 76, extra["5"], extra["5"], 77]
    assert ids[:10] == first
    last = [75, extra["5"], extra["5"], SHAKESPEARE.index("-"), extra["7"], 77, 76]
    assert ids[-7:] == last
    assert chat.decode(ids) == (
        f"{USER}47+8{END}{ASSISTANT}55{END}{USER}sort dcab{END}{ASSISTANT}abcd{END}"
        f"{USER}55-7{END}{ASSISTANT}"
    )
    # Both answers are the assistant's (with their end), every other id is the prompt's.
    assert roles == [0] * 7 + [1] * 3 + [0] * 12 + [1] * 5 + [0] * 7


def test_format_chat_without_a_message_ends_with_the_last_answer(chat):
    ids, roles = format_chat(chat, [("count e in cheese", "3")])
    assert (ids, roles) == format_example(chat, "count e in cheese", "3")
    assert ids[-1] == chat.end_id and roles[-1] == ASSISTANT_ROLE
    assert format_chat(chat, [], "12+3") == format_example(chat, "12+3")


def test_format_chat_errors(chat):
    with pytest.raises(
        ValueError, match=r"turns\[1\] is 'sort ab', not a \(user, assistant\) pair"
    ):
        format_chat(chat, [("1+1", "2"), "sort ab"], "2+2")
    with pytest.raises(ValueError, match=r"turns\[0\] is \('1\+1',\), not a \(user, assistant\)"):
        format_chat(chat, [("1+1",)])
    with pytest.raises(ValueError, match=r"turns\[0\] is \('1\+1', None\)"):
        format_chat(chat, [("1+1", None)])
    with pytest.raises(ValueError, match=r"The answer '2<\|end\|>' contains the special token"):
        format_chat(chat, [("1+1", f"2{END}")], "2+2")
    with pytest.raises(ValueError, match="no turn and no message"):
        format_chat(chat, [])


# --- grow_vocabulary -----------------------------------------------------------------------------

TINY = dict(vocab_size=65, context_length=16, d_model=32, n_layers=1, n_heads=2)


def tiny_gpt(tie_weights, seed=0):
    keras.utils.set_random_seed(seed)
    model = GPT(GPTConfig(**TINY, tie_weights=tie_weights))
    # Spread the token tables as training does, so that the logits are far from uniform.
    for table in [model.token_embedding.embeddings] + (
        [] if tie_weights else [model.lm_head.embeddings]
    ):
        table.assign(keras.ops.convert_to_numpy(table) * 40.0)
    return model


def ids_with_new_tokens(old_size, new_size):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, old_size, size=(4, 16), dtype=np.int32)
    ids[:, ::3] = rng.integers(old_size, new_size, size=ids[:, ::3].shape)  # some new ids too
    return ids


@pytest.mark.parametrize("tie_weights", [True, False], ids=["tied", "untied"])
def test_old_logits_unchanged_and_new_logits_are_their_mean(tie_weights):
    model = tiny_gpt(tie_weights)
    grown = grow_vocabulary(model, 78)
    assert grown.config.to_dict() == {**model.config.to_dict(), "vocab_size": 78}
    assert (grown.lm_head is None) == tie_weights
    ids = np.random.default_rng(1).integers(0, 65, size=(4, 16), dtype=np.int32)
    old = keras.ops.convert_to_numpy(model(ids))  # (4, 16, 65)
    new = keras.ops.convert_to_numpy(grown(ids))  # (4, 16, 78)
    assert new.shape == (4, 16, 78)
    np.testing.assert_allclose(new[..., :65], old, atol=1e-6, rtol=1e-6)
    # A new row near the mean of the old rows scores near the mean of the old logits
    # (h . mean(e) = mean(h . e)); the noise is 1e-5 of the rows' covariance.
    spread = old.std(axis=-1, keepdims=True)
    assert np.abs(new[..., 65:] - old.mean(axis=-1, keepdims=True)).max() < 0.02 * spread.min()
    # Jensen: exp(mean z) <= mean exp(z), so no new token is likelier than an average old one.
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(new, axis=-1))
    assert probabilities[..., 65:].max() < 1 / 65
    # The new ids can be read: the grown model runs on them.
    assert np.isfinite(keras.ops.convert_to_numpy(grown(ids_with_new_tokens(65, 78)))).all()


@pytest.mark.parametrize("tie_weights", [True, False], ids=["tied", "untied"])
def test_every_other_weight_is_copied(tie_weights):
    model = tiny_gpt(tie_weights)
    grown = grow_vocabulary(model, 70, init="normal", seed=3)
    tables = ("token_embedding/embeddings", "lm_head/embeddings")
    grown_tables = 0
    for old_weight, new_weight in zip(model.weights, grown.weights, strict=True):
        assert old_weight.path == new_weight.path
        old = keras.ops.convert_to_numpy(old_weight)
        new = keras.ops.convert_to_numpy(new_weight)
        if new.shape != old.shape:
            assert old_weight.path.endswith(tables) and new.shape == (70, old.shape[1])
            grown_tables += 1
        np.testing.assert_array_equal(new[: old.shape[0]], old)  # the old rows, the rest
    assert grown_tables == (1 if tie_weights else 2)


def test_new_rows_of_each_init():
    model = tiny_gpt(tie_weights=False)
    old_embedding = keras.ops.convert_to_numpy(model.token_embedding.embeddings)
    old_head = keras.ops.convert_to_numpy(model.lm_head.embeddings)
    mean = grow_vocabulary(model, 65 + 500, seed=0)
    normal = grow_vocabulary(model, 65 + 500, seed=0, init="normal")
    for layer, old in (("token_embedding", old_embedding), ("lm_head", old_head)):
        rows = keras.ops.convert_to_numpy(getattr(mean, layer).embeddings)[65:]  # (500, 32)
        noise = rows - old.mean(axis=0)
        # normal(mean, 1e-5 * covariance): the noise has 1e-5 of the rows' variance.
        ratio = noise.var(axis=0).sum() / old.var(axis=0).sum()
        assert 0.8e-5 < ratio < 1.2e-5
        rows = keras.ops.convert_to_numpy(getattr(normal, layer).embeddings)[65:]
        assert abs(rows.std() - 0.02) < 0.001 and abs(rows.mean()) < 0.001


def test_seed_decides_the_new_rows():
    model = tiny_gpt(tie_weights=True)

    def new_rows(seed):
        grown = grow_vocabulary(model, 70, seed=seed, init="normal")
        return keras.ops.convert_to_numpy(grown.token_embedding.embeddings)[65:]

    np.testing.assert_array_equal(new_rows(1), new_rows(1))
    assert not np.allclose(new_rows(1), new_rows(2))


def test_grow_to_the_same_size_copies_the_model():
    model = tiny_gpt(tie_weights=True)
    ids = np.arange(64, dtype=np.int32).reshape(4, 16)
    copy = grow_vocabulary(model, 65)
    assert copy is not model
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(copy(ids)), keras.ops.convert_to_numpy(model(ids))
    )


def test_grow_vocabulary_errors():
    model = tiny_gpt(tie_weights=True)
    with pytest.raises(
        ValueError, match=r"vocab_size=60 is smaller than the model's vocab_size=65"
    ):
        grow_vocabulary(model, 60)
    with pytest.raises(ValueError, match=r"Unknown init 'zeros': choose 'mean' or 'normal'"):
        grow_vocabulary(model, 70, init="zeros")
    with pytest.raises(ValueError, match="grow_vocabulary takes a GPT"):
        grow_vocabulary(keras.layers.Dense(3), 70)
