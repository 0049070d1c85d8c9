"""The scorer's messages for a probe that stopped with an error: the exception's type and
message, or the weight the layer lacks with its expected shape. Every field came from the
learner's process, so each is checked, cut and stripped before it is shown."""

from __future__ import annotations

from types import SimpleNamespace

from autograder.sandbox.probe_tools import WeightsMismatch
from autograder.scoring import _error_message

LAYER_NORM = SimpleNamespace(names=("layer_norm",))
BLOCK = SimpleNamespace(names=("TransformerBlock",))


def test_an_exception_is_shown_with_its_type_and_message():
    report = {"error_kind": "exception", "exception": "TypeError",
              "exception_message": "unsupported operand type(s) for *: 'numpy.ndarray' and "
                                   "'Tensor'"}
    assert _error_message(report, LAYER_NORM, "torch") == (
        "Your `layer_norm` raised TypeError when the grader called it on torch: unsupported "
        "operand type(s) for *: 'numpy.ndarray' and 'Tensor'")
    bare = {"error_kind": "exception", "exception": "NotImplementedError", "exception_message": ""}
    assert _error_message(bare, LAYER_NORM, "jax") == (
        "Your `layer_norm` raised NotImplementedError when the grader called it on jax.")
    # an exercise of several functions names them as a sentence does
    three = SimpleNamespace(names=("char_vocabulary", "encode_chars", "decode_chars"))
    assert _error_message(bare, three, "jax") == (
        "Your `char_vocabulary`, `encode_chars` and `decode_chars` raised NotImplementedError "
        "when the grader called them on jax.")
    two = SimpleNamespace(names=("encode", "decode"))
    assert _error_message(bare, two, "torch") == (
        "Your `encode` and `decode` raised NotImplementedError when the grader called them on "
        "torch.")


def test_an_exception_message_is_stripped_and_cut():
    report = {"error_kind": "exception", "exception": "<b>Evil</b>\x1b[2J",
              "exception_message": "\x1b[31mred\x1b[0m\x07 " + "x" * 1000}
    message = _error_message(report, LAYER_NORM, "jax")
    assert message.startswith("Your `layer_norm` raised an exception when the grader called it "
                              "on jax: red ")
    assert "\x1b" not in message and "\x07" not in message and "<b>" not in message
    assert message.endswith("...") and len(message.split(" on jax: ", 1)[1]) == 300


def test_a_missing_weight_is_named_with_its_shape_and_what_the_layer_has():
    mismatch = WeightsMismatch("feed_forward.up_projection.kernel", (16, 64), None,
                               [("transformer_block/sequential/dense/kernel", (16, 64)),
                                ("transformer_block/sequential/dense/bias", (64,))])
    report = {"error_kind": "weights", **mismatch.fields()}
    message = _error_message(report, BLOCK, "jax")
    assert message.startswith(
        "Expected a weight named `feed_forward.up_projection.kernel` of shape (16, 64); your "
        "weights are `transformer_block/sequential/dense/kernel` (16, 64) and "
        "`transformer_block/sequential/dense/bias` (64,). The grader sets your weights")
    assert str(mismatch)[1:] == message[1:]  # the visible check and the feedback say the same


def test_a_misshapen_weight_gives_both_shapes():
    report = {"error_kind": "weights",
              **WeightsMismatch("w_out", (64, 16), (16, 64), []).fields()}
    assert _error_message(report, BLOCK, "torch").startswith(
        "Expected a weight named `w_out` of shape (64, 16); your `w_out` has shape (16, 64).")


def test_forged_weight_fields_fall_back_to_the_plain_message():
    for forged in ({"weight": "w", "expected_shape": "(1, 2)"},
                   {"weight": "w", "expected_shape": [True, 2]},
                   {"weight": "", "expected_shape": [2]},
                   {"weight": "w", "expected_shape": list(range(20))}):
        message = _error_message({"error_kind": "weights", **forged}, BLOCK, "jax")
        assert message.startswith("Your layer does not create the weights"), forged
    odd = {"error_kind": "weights", "weight": "w\x1b]0;x\x07", "expected_shape": [2],
           "found_shape": None, "available": [["a\u202eb", [2]], "junk", ["c", "not a shape"]]}
    message = _error_message(odd, BLOCK, "jax")
    assert "`w`" in message and "`ab` (2,)" in message and "junk" not in message
    assert "not a shape" not in message


def test_a_long_list_of_weights_says_it_shows_the_first_ones_and_ends_with_one_full_stop():
    """A GPT lacking ``final_norm`` listed eight weights and ended ", …." (four dots)."""
    available = [(f"block_0/w{i}", (6,)) for i in range(12)]
    message = str(WeightsMismatch("final_norm/gamma", (6,), None, available))
    assert "; your first 8 weights are `block_0/w0` (6,), " in message
    assert "`block_0/w7` (6,). The grader sets your weights" in message
    assert "..." not in message and "…" not in message
    assert "your only weight is `w` (2,)." in str(WeightsMismatch("v", (2,), None, [("w", (2,))]))
    assert "; your code creates no weights." in str(WeightsMismatch("v", (2,), None, []))


def test_a_name_the_exercise_forbids_is_keras_s_own_or_the_library_s_own():
    """"The library" is the course's ``llm_keras``: a Keras function is "Keras's own"."""
    from autograder.scoring import _owned

    assert _owned(["keras.ops.dot_product_attention"]) == (
        "Keras's own `keras.ops.dot_product_attention`")
    assert _owned(["llm_keras.layers.CausalSelfAttention"]) == (
        "the library's own `llm_keras.layers.CausalSelfAttention`")
    assert _owned(["keras.layers.MultiHeadAttention", "llm_keras.layers.CausalSelfAttention",
                   "keras.ops.dot_product_attention"]) == (
        "the library's own `llm_keras.layers.CausalSelfAttention` and Keras's own "
        "`keras.layers.MultiHeadAttention` and `keras.ops.dot_product_attention`")
