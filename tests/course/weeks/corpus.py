"""Submissions of the week 1, 2 and 5 notebooks, with the points each must get.

Each ``Case`` is the reference solution (``solutions/weekN/*.ipynb``) with some answer cells
replaced by a typical mistake, and the points it must get per exercise. A mistake loses exactly
the checks that test what it got wrong, in its own exercise and in the later exercises that use
it (a multi-head attention built on a wrong attention function is wrong too).

Wrong answers are made from the reference answers by a text replacement (``replaced``), which
fails loudly when the reference changes and the replacement no longer applies.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
NOTEBOOKS = {
    "week1": REPO / "solutions" / "week1" / "tokens-and-windows.ipynb",
    "week2": REPO / "solutions" / "week2" / "transformer-decoder.ipynb",
    "week5": REPO / "solutions" / "week5" / "compute-budget.ipynb",
}
POINTS = {
    "week1": {"char_tokenizer": 2, "get_pair_counts": 1, "merge": 1, "train_bpe": 3,
              "encode_decode": 3, "next_token_windows": 2},
    "week2": {"causal_mask": 1, "scaled_dot_product_attention": 4, "split_merge_heads": 2,
              "multi_head_attention": 3, "sinusoidal_positions": 1, "layer_norm": 1,
              "transformer_block": 3},
    "week5": {"training_flops": 1, "adamw_memory_bytes": 3, "device_hours": 2,
              "feed_forward_layout": 3},
}
ALL_BACKENDS = ("jax", "tensorflow", "torch")
# The reference, the release and a few right answers are graded on the three backends; wrong
# answers, to keep the suite quick, on one: weeks 1 and 5's plain Python on JAX (the quickest
# sandbox to start), week 2's Keras layers on PyTorch (the quickest to run small layers eagerly).
QUICKEST = {"week1": ("jax",), "week2": ("torch",), "week5": ("jax",)}


def answer_cells(week: str) -> dict[str, str]:
    """{grade_id: source} of the reference answers, solution markers removed."""
    notebook = json.loads(NOTEBOOKS[week].read_text())
    answers = {}
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            source = "".join(cell["source"])
            lines = [line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            answers[meta["grade_id"]] = "\n".join(lines) + "\n"
    return answers


def replaced(week: str, cell: str, old: str, new: str) -> dict[str, str]:
    """The reference answer of ``cell`` with ``old`` replaced by ``new``, as {cell: source}."""
    source = answer_cells(week)[cell]
    if old not in source:
        raise ValueError(f"{week} {cell}: the reference answer no longer contains {old!r}")
    return {cell: source.replace(old, new)}


@dataclasses.dataclass
class Case:
    week: str
    name: str
    answers: dict = dataclasses.field(default_factory=dict)  # grade_id -> new source
    lost: dict = dataclasses.field(default_factory=dict)     # exercise -> points lost
    backends: tuple[str, ...] = ()                          # default: QUICKEST[week]
    release: bool = False                                   # the release notebook as is
    message: str = ""                                       # expected in an exercise's message

    def __post_init__(self):
        self.backends = self.backends or QUICKEST[self.week]

    @property
    def scores(self) -> dict[str, float]:
        if self.release:
            return {exercise: 0.0 for exercise in POINTS[self.week]}
        return {exercise: points - self.lost.get(exercise, 0.0)
                for exercise, points in POINTS[self.week].items()}

    @property
    def score(self) -> float:
        return sum(self.scores.values())


W1, W2, W5 = "week1", "week2", "week5"

WEEK1 = [
    Case(W1, "reference", backends=ALL_BACKENDS),
    Case(W1, "release", release=True, backends=ALL_BACKENDS),
    Case(W1, "vocabulary_not_sorted", replaced(
        W1, "char-tokenizer-answer", 'return "".join(sorted(set(text)))',
        'return "".join(dict.fromkeys(text))'), lost={"char_tokenizer": 0.5}),
    # train_bpe uses get_pair_counts: wrong counts give wrong merges on a text whose words repeat.
    Case(W1, "pairs_counted_once_per_word", replaced(
        W1, "pair-counts-answer", "counts.get(pair, 0) + count", "counts.get(pair, 0) + 1"),
        lost={"get_pair_counts": 0.5, "train_bpe": 2}),
    # The library's merge_pair returns None when the pair is absent; the exercise asks for the
    # ids unchanged. train_bpe, which merges every word, then fails too (encode merges only
    # pairs that are there).
    Case(W1, "merge_returns_none_without_the_pair", replaced(
        W1, "merge-answer", "    return merged\n",
        "    return merged if len(merged) < len(ids) else None\n"),
        lost={"merge": 0.25, "train_bpe": 3}),
    Case(W1, "ties_to_the_first_pair", replaced(
        W1, "train-bpe-answer",
        "best = max(pairs, key=lambda p: (pairs[p], token_bytes[p[0]], token_bytes[p[1]]))",
        "best = max(pairs, key=pairs.get)"), lost={"train_bpe": 2}),
    Case(W1, "decode_drops_broken_characters", replaced(
        W1, "encode-answer", 'errors="replace"', 'errors="ignore"'),
        lost={"encode_decode": 1}),
    Case(W1, "labels_not_shifted", replaced(
        W1, "windows-answer", "targets = np.stack([ids[s + 1 : s + context_length + 1]",
        "targets = np.stack([ids[s : s + context_length]"), lost={"next_token_windows": 1}),
    Case(W1, "stride_ignored", replaced(
        W1, "windows-answer", "range(0, len(ids) - context_length, stride)",
        "range(0, len(ids) - context_length)"), lost={"next_token_windows": 1}),
    Case(W1, "delegates_train_bpe", {"train-bpe-answer": '''\
from llm_keras.tokenizers import ByteLevelBPETokenizer


def train_bpe(text, vocab_size):
    tokenizer = ByteLevelBPETokenizer.train(text, vocab_size, progress=False)
    ids = {token: i for i, token in tokenizer.vocab.items()}
    return [(ids[a], ids[b]) for a, b in tokenizer.merges]
'''}, lost={"train_bpe": 3}, message="No credit"),
]

OWN_PIECES_BLOCK = '''class FeedForward(keras.layers.Layer):
    def __init__(self, d_model, d_ff, **kwargs):
        super().__init__(**kwargs)
        self.up_projection = keras.layers.Dense(d_ff, name="up_projection")
        self.down_projection = keras.layers.Dense(d_model, name="down_projection")

    def call(self, x):
        return self.down_projection(ops.gelu(self.up_projection(x), approximate=True))


class TransformerBlock(keras.layers.Layer):
    def __init__(self, d_model, n_heads, d_ff, **kwargs):
        super().__init__(**kwargs)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.attention = MultiHeadAttention(d_model, n_heads)
        self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.feed_forward = FeedForward(d_model, d_ff)

    def call(self, x):
        x = x + self.attention(self.attention_norm(x))
        return x + self.feed_forward(self.feed_forward_norm(x))
'''
EXACT_GELU_BLOCK = OWN_PIECES_BLOCK.replace("approximate=True", "approximate=False")

WEEK2 = [
    Case(W2, "reference", backends=ALL_BACKENDS),
    Case(W2, "release", release=True, backends=ALL_BACKENDS),
    # The block built from the learner's own pieces instead of the library's: full marks too.
    Case(W2, "block_from_own_pieces", {"transformer-block-answer": OWN_PIECES_BLOCK},
         backends=ALL_BACKENDS),
    # GELU without the tanh approximation (Dense(activation="gelu") is the exact one).
    Case(W2, "block_with_exact_gelu", {"transformer-block-answer": EXACT_GELU_BLOCK},
         lost={"transformer_block": 3}),
    Case(W2, "no_causal_mask", replaced(
        W2, "causal-mask-answer", "return positions[None, :] <= positions[:, None]",
        "return ops.ones((seq_len, seq_len), dtype=\"bool\")"),
        lost={"causal_mask": 0.5, "multi_head_attention": 2}),
    Case(W2, "scaled_by_d", replaced(
        W2, "attention-answer", "/ np.sqrt(ops.shape(q)[-1])", "/ ops.shape(q)[-1]"),
        lost={"scaled_dot_product_attention": 4, "multi_head_attention": 2}),
    Case(W2, "softmax_over_the_queries", replaced(
        W2, "attention-answer", "ops.softmax(scores, axis=-1)", "ops.softmax(scores, axis=-2)"),
        lost={"scaled_dot_product_attention": 4, "multi_head_attention": 2}),
    Case(W2, "mask_not_applied", replaced(
        W2, "attention-answer", "if mask is not None:", "if False:"),
        lost={"scaled_dot_product_attention": 2, "multi_head_attention": 2}),
    Case(W2, "heads_by_reshape_only", replaced(
        W2, "heads-answer", "return ops.transpose(x, (0, 2, 1, 3))",
        "return ops.reshape(x, (batch, n_heads, seq, d_model // n_heads))"),
        lost={"split_merge_heads": 1, "multi_head_attention": 2}),
    Case(W2, "unbiased_variance", replaced(
        W2, "layer-norm-answer", "ops.mean(ops.square(x - mean), axis=-1, keepdims=True)",
        "ops.var(x, axis=-1, keepdims=True) * ops.shape(x)[-1] / (ops.shape(x)[-1] - 1)"),
        lost={"layer_norm": 1}),
    Case(W2, "epsilon_outside_the_root", replaced(
        W2, "layer-norm-answer", "ops.sqrt(variance + epsilon)", "(ops.sqrt(variance) + epsilon)"),
        lost={"layer_norm": 0.5}),
    Case(W2, "post_ln_block", replaced(
        W2, "transformer-block-answer",
        """x = x + self.attention(self.attention_norm(x))
        return x + self.feed_forward(self.feed_forward_norm(x))""",
        """x = self.attention_norm(x + self.attention(x))
        return self.feed_forward_norm(x + self.feed_forward(x))"""),
        lost={"transformer_block": 3}),
    Case(W2, "block_without_residuals", replaced(
        W2, "transformer-block-answer",
        """x = x + self.attention(self.attention_norm(x))
        return x + self.feed_forward(self.feed_forward_norm(x))""",
        """x = self.attention(self.attention_norm(x))
        return self.feed_forward(self.feed_forward_norm(x))"""),
        lost={"transformer_block": 3}),
    # Named in the answer cell: caught by reading it (only this exercise loses its points).
    Case(W2, "delegates_attention_to_keras", {"attention-answer": '''\
def scaled_dot_product_attention(q, k, v, mask=None):
    q, k, v = (ops.convert_to_tensor(x, "float32") for x in (q, k, v))
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / np.sqrt(ops.shape(q)[-1])
    if mask is not None:
        scores = ops.where(mask, scores, -np.inf)
    weights = ops.softmax(scores, axis=-1)
    if mask is None and len(q.shape) == 3 and q.shape[-1] == v.shape[-1]:
        outputs = ops.dot_product_attention(q[:, :, None], k[:, :, None], v[:, :, None])
        return outputs[:, :, 0], weights
    return ops.matmul(weights, v), weights
'''}, lost={"scaled_dot_product_attention": 4}, message="named in your answer cell"),
    # Hidden from a reader (the name is built from pieces): caught when it is called.
    Case(W2, "calls_keras_attention_in_multi_head_attention", replaced(
        W2, "multi-head-attention-answer",
        """q, k, v = (split_heads(dense(x), self.n_heads)
                   for dense in (self.query, self.key, self.value))
        mask = causal_mask(ops.shape(x)[1])
        outputs, _ = scaled_dot_product_attention(q, k, v, mask=mask)
        return self.output_projection(merge_heads(outputs))""",
        """attend = getattr(ops, "dot_product_" + "attention")
        batch, seq = ops.shape(x)[0], ops.shape(x)[1]
        q, k, v = (ops.reshape(dense(x), (batch, seq, self.n_heads, -1))
                   for dense in (self.query, self.key, self.value))
        outputs = attend(q, k, v, is_causal=True)
        return self.output_projection(ops.reshape(outputs, (batch, seq, self.d_model)))"""),
        lost={"multi_head_attention": 3}, message="called while your code was checked"),
    Case(W2, "delegates_multi_head_attention", {"multi-head-attention-answer": '''\
from llm_keras.layers import CausalSelfAttention


class MultiHeadAttention(CausalSelfAttention):
    pass
'''}, lost={"multi_head_attention": 3}, message="llm_keras.layers.CausalSelfAttention"),
]

WEEK5 = [
    Case(W5, "reference", backends=ALL_BACKENDS),
    Case(W5, "release", release=True, backends=ALL_BACKENDS),
    Case(W5, "forward_flops_only", replaced(
        W5, "training-flops-answer", "6 * n_params * n_tokens", "2 * n_params * n_tokens"),
        lost={"training_flops": 1}),
    Case(W5, "stage_1_shards_the_gradients_too", replaced(
        W5, "adamw-memory-answer", "if zero_stage >= 2:", "if zero_stage >= 1:"),
        lost={"adamw_memory_bytes": 1}),
    Case(W5, "stage_3_keeps_whole_parameters", replaced(
        W5, "adamw-memory-answer", "if zero_stage >= 3:", "if zero_stage > 3:"),
        lost={"adamw_memory_bytes": 1}),
    # Every check has a mixed-precision case.
    Case(W5, "no_master_weights", replaced(
        W5, "adamw-memory-answer", "2, 2, 4 + 4 + 4", "2, 2, 4 + 4"),
        lost={"adamw_memory_bytes": 3}),
    Case(W5, "hours_in_seconds", replaced(
        W5, "device-hours-answer", "return seconds / 3600", "return seconds"),
        lost={"device_hours": 1}),
    Case(W5, "utilisation_in_percent", replaced(
        W5, "device-hours-answer", "return flops_per_token * tokens_per_second / peak_flops",
        "return 100 * flops_per_token * tokens_per_second / peak_flops"),
        lost={"device_hours": 1}),
    Case(W5, "second_projection_split_by_columns", replaced(
        W5, "feed-forward-layout-answer", '"/down_projection/kernel": (model_axis, None)',
        '"/down_projection/kernel": (None, model_axis)'), lost={"feed_forward_layout": 1}),
    # ".*kernel" splits the attention's kernels too, and matches the second projection's kernel
    # together with its own key, which Keras refuses.
    Case(W5, "every_kernel_split_by_columns", replaced(
        W5, "feed-forward-layout-answer", 'block + "/up_projection/kernel"', '".*kernel"'),
        lost={"feed_forward_layout": 2}),
    # The grader's meshes name their model axis otherwise ("tensor", ...).
    Case(W5, "model_axis_spelt_out", replaced(
        W5, "feed-forward-layout-answer", "(None, model_axis),    #", '(None, "model"),    #'),
        lost={"feed_forward_layout": 1}),
    Case(W5, "delegates_adamw_memory", {"adamw-memory-answer": '''\
from llm_keras.training.budget import adamw_memory_bytes as library_memory


def adamw_memory_bytes(n_params, precision="mixed", zero_stage=0, data_parallel=1):
    return library_memory(n_params, precision, zero_stage, data_parallel)
'''}, lost={"adamw_memory_bytes": 3}, message="No credit"),
]

CASES = WEEK1 + WEEK2 + WEEK5


def build(case: Case, folder: Path, release_notebook: Path) -> None:
    """Write ``case`` as a submission: ``folder/<notebook>.ipynb``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / NOTEBOOKS[case.week].name
    if case.release:
        target.write_bytes(release_notebook.read_bytes())
        return
    notebook = json.loads(NOTEBOOKS[case.week].read_text())
    reference = answer_cells(case.week)
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in reference:
            cell["source"] = case.answers.get(grade_id, reference[grade_id])
    target.write_text(json.dumps(notebook, indent=1))
