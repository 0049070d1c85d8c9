"""Submissions of the week notebooks, with the points each must get.

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
    "week4": REPO / "solutions" / "week4" / "generating-text.ipynb",
    "week3": REPO / "solutions" / "week3" / "pretraining-a-gpt.ipynb",
    "week6": REPO / "solutions" / "week6" / "fine-tuning.ipynb",
    "week7": REPO / "solutions" / "week7" / "alignment.ipynb",
    "week1-data": REPO / "solutions" / "week1-data" / "data-curation.ipynb",
}
POINTS = {
    "week1": {"char_tokenizer": 2, "get_pair_counts": 1, "merge": 1, "train_bpe": 3,
              "encode_decode": 3, "next_token_windows": 2},
    "week2": {"causal_mask": 1, "scaled_dot_product_attention": 4, "split_merge_heads": 2,
              "multi_head_attention": 3, "sinusoidal_positions": 1, "layer_norm": 1,
              "transformer_block": 3},
    "week5": {"training_flops": 1, "adamw_memory_bytes": 3, "device_hours": 2,
              "feed_forward_layout": 3},
    "week4": {"greedy": 1, "apply_temperature": 1, "top_k_filter": 2, "top_p_filter": 2,
              "sample": 2, "cached_attention_step": 3, "generate": 3},
    "week3": {"cross_entropy": 2, "perplexity_and_bits": 2, "learning_rate": 2,
              "clip_by_global_norm": 2, "adamw_update": 3, "configure_optimizer": 1, "gpt": 3,
              "train_step": 2, "diagnose": 4},
    "week6": {"last_token_features": 2, "sft_loss_mask": 2, "masked_loss": 3, "lora_dense": 3,
              "merged_kernel": 1, "exact_match": 1, "pass_at_k": 2},
    "week7": {"bradley_terry_loss": 2, "sequence_log_probs": 3, "dpo_loss": 3,
              "group_advantages": 2, "k3_kl": 1, "clipped_policy_loss": 3},
    "week1-data": {"shingles": 2, "minhash_signature": 3, "jaccard": 2, "lsh": 2, "shards": 3,
                   "quality": 3},
}
ALL_BACKENDS = ("jax", "tensorflow", "torch")
# The reference, the release and a few right answers are graded on the three backends; wrong
# answers, to keep the suite quick, on one: weeks 1 and 5's plain Python on JAX (the quickest
# sandbox to start), week 2's Keras layers and week 4's samplers and decoding loop on PyTorch (the
# quickest to run small layers eagerly: a loop of eager steps on JAX compiles each op first).
QUICKEST = {"week1": ("jax",), "week2": ("torch",), "week5": ("jax",), "week4": ("torch",),
            "week3": ("torch",),  # week 3's model, optimizer and loop: eager PyTorch too
            "week6": ("torch",),  # week 6's small layer and losses: eager PyTorch too
            "week7": ("torch",),  # week 7's losses: eager PyTorch too
            "week1-data": ("jax",)}  # week 1's data curation: plain Python and NumPy


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
    # GELU without the tanh approximation (`Dense(activation="gelu")` is the exact one).
    Case(W2, "block_with_exact_gelu", {"transformer-block-answer": EXACT_GELU_BLOCK},
         lost={"transformer_block": 3}),
    # A mask of all True: every query sees the future keys too (right for length 1 alone).
    Case(W2, "mask_allows_every_key", replaced(
        W2, "causal-mask-answer", "return positions[None, :] <= positions[:, None]",
        "return ops.ones((seq_len, seq_len), dtype=\"bool\")"),
        lost={"causal_mask": 0.5, "multi_head_attention": 2, "transformer_block": 2}),
    Case(W2, "scaled_by_d", replaced(
        W2, "attention-answer", "/ np.sqrt(ops.shape(q)[-1])", "/ ops.shape(q)[-1]"),
        lost={"scaled_dot_product_attention": 4, "multi_head_attention": 2,
              "transformer_block": 2}),
    Case(W2, "softmax_over_the_queries", replaced(
        W2, "attention-answer", "ops.softmax(scores, axis=-1)", "ops.softmax(scores, axis=-2)"),
        lost={"scaled_dot_product_attention": 4, "multi_head_attention": 2,
              "transformer_block": 2}),
    Case(W2, "mask_not_applied", replaced(
        W2, "attention-answer", "if mask is not None:", "if False:"),
        lost={"scaled_dot_product_attention": 2, "multi_head_attention": 2,
              "transformer_block": 2}),
    Case(W2, "heads_by_reshape_only", replaced(
        W2, "heads-answer", "return ops.transpose(x, (0, 2, 1, 3))",
        "return ops.reshape(x, (batch, n_heads, seq, d_model // n_heads))"),
        lost={"split_merge_heads": 1, "multi_head_attention": 2, "transformer_block": 2}),
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
    # Keras's `ops.dot_product_attention` written in the answer cell: the grader's scan of the
    # answer cells finds the name (only this exercise loses its points).
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
    # The name of Keras's attention assembled at run time from pieces, which the grader's scan
    # of the answer cells misses: the grader catches it when the function is called.
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
        lost={"multi_head_attention": 3}, message="named in your answer cell"),
    Case(W2, "delegates_multi_head_attention", {"multi-head-attention-answer": '''\
from llm_keras.layers import CausalSelfAttention


class MultiHeadAttention(CausalSelfAttention):
    pass
'''}, lost={"multi_head_attention": 3, "transformer_block": 3},
         message="llm_keras.layers.CausalSelfAttention"),
]

WEEK5 = [
    Case(W5, "reference", backends=ALL_BACKENDS),
    Case(W5, "release", release=True, backends=ALL_BACKENDS),
    # Counts 2 N D, the forward pass alone, without the backward pass's 4 N D.
    Case(W5, "forward_flops_only", replaced(
        W5, "training-flops-answer", "6 * n_params * n_tokens", "2 * n_params * n_tokens"),
        lost={"training_flops": 1}),
    # Divides the gradients among the devices from stage 1 on; ZeRO shards them from stage 2.
    Case(W5, "stage_1_shards_the_gradients_too", replaced(
        W5, "adamw-memory-answer", "if zero_stage >= 2:", "if zero_stage >= 1:"),
        lost={"adamw_memory_bytes": 1}),
    # Never divides the parameters: at stage 3 each device still holds all of them.
    Case(W5, "stage_3_keeps_whole_parameters", replaced(
        W5, "adamw-memory-answer", "if zero_stage >= 3:", "if zero_stage > 3:"),
        lost={"adamw_memory_bytes": 1}),
    # Mixed precision without the float32 master weights: 2 + 2 + 8 = 12 bytes per parameter
    # instead of 16; every check has a mixed-precision case.
    Case(W5, "no_master_weights", replaced(
        W5, "adamw-memory-answer", "2, 2, 4 + 4 + 4", "2, 2, 4 + 4"),
        lost={"adamw_memory_bytes": 3}),
    # Returns the time in seconds, not divided by 3600 into hours.
    Case(W5, "hours_in_seconds", replaced(
        W5, "device-hours-answer", "return seconds / 3600", "return seconds"),
        lost={"device_hours": 1}),
    # Returns the utilisation times 100, a percentage, not the fraction of the peak.
    Case(W5, "utilisation_in_percent", replaced(
        W5, "device-hours-answer", "return flops_per_token * tokens_per_second / peak_flops",
        "return 100 * flops_per_token * tokens_per_second / peak_flops"),
        lost={"device_hours": 1}),
    # The second projection's kernel split by its d_model columns, not by its d_ff rows.
    Case(W5, "second_projection_split_by_columns", replaced(
        W5, "feed-forward-layout-answer", '"/down_projection/kernel": (model_axis, None)',
        '"/down_projection/kernel": (None, model_axis)'), lost={"feed_forward_layout": 1}),
    # `".*kernel"` splits the attention's kernels too, and matches the second projection's kernel
    # together with its own key, which Keras refuses.
    Case(W5, "every_kernel_split_by_columns", replaced(
        W5, "feed-forward-layout-answer", 'block + "/up_projection/kernel"', '".*kernel"'),
        lost={"feed_forward_layout": 2}),
    # `(None, "model")`: the first projection's kernel names the axis "model" instead of
    # `model_axis`; the grader's meshes name their model axis otherwise ("tensor", ...).
    Case(W5, "model_axis_spelt_out", replaced(
        W5, "feed-forward-layout-answer", "(None, model_axis),    #", '(None, "model"),    #'),
        lost={"feed_forward_layout": 1}),
    # Calls the library's own adamw_memory_bytes: no credit for the exercise.
    Case(W5, "delegates_adamw_memory", {"adamw-memory-answer": '''\
from llm_keras.training.budget import adamw_memory_bytes as library_memory


def adamw_memory_bytes(n_params, precision="mixed", zero_stage=0, data_parallel=1):
    return library_memory(n_params, precision, zero_stage, data_parallel)
'''}, lost={"adamw_memory_bytes": 3}, message="No credit"),
]

W4 = "week4"
GENERATE_WITHOUT_CACHE = '''\
def generate(model, prompt_ids, max_new_tokens, end_id=None):
    ids, new_ids = [int(i) for i in prompt_ids], []
    while len(new_ids) < max_new_tokens:
        logits = model(np.array([ids + new_ids], "int32"))  # the whole text at every step
        token = int(ops.convert_to_numpy(greedy(logits[:, -1]))[0])
        if token == end_id:
            break
        new_ids.append(token)
    return new_ids
'''

WEEK4 = [
    Case(W4, "reference", backends=ALL_BACKENDS),
    Case(W4, "release", release=True, backends=ALL_BACKENDS),
    # Exact ties only: the decoding loop's logits have none, so generate keeps its points.
    Case(W4, "greedy_ties_to_the_highest_id", replaced(
        W4, "greedy-answer", "return ops.argmax(logits, axis=-1)",
        "return ops.shape(logits)[-1] - 1 - ops.argmax(ops.flip(logits, axis=-1), axis=-1)"),
        lost={"greedy": 0.5}),
    # The probabilities divided by t: once normalised, the model's own distribution (right at
    # t = 1 only).
    Case(W4, "temperature_applied_after_softmax", replaced(
        W4, "temperature-answer", 'return ops.cast(logits, "float32") / t',
        'return ops.log(ops.softmax(ops.cast(logits, "float32"), axis=-1) / t)'),
        lost={"apply_temperature": 0.75}),
    # Strictly above the k-th highest: k - 1 tokens, none for k = 1.
    Case(W4, "top_k_strictly_above_the_kth", replaced(
        W4, "top-k-answer", "logits >= kth_highest", "logits > kth_highest"),
        lost={"top_k_filter": 2}),
    # The (k+1)-th highest as the threshold: k + 1 tokens; for k >= vocab the slice is empty.
    Case(W4, "top_k_keeps_k_plus_one", replaced(
        W4, "top-k-answer", "descending[:, k - 1 : k]", "descending[:, k : k + 1]"),
        lost={"top_k_filter": 2}),
    # Exactly k tokens by rank: right but for a tie with the k-th highest, which it drops.
    Case(W4, "top_k_exactly_k_by_rank", replaced(
        W4, "top-k-answer", "return ops.where(logits >= kth_highest, logits, -np.inf)",
        "ranks = ops.argsort(ops.argsort(-logits, axis=-1), axis=-1)\n"
        "    return ops.where(ranks < k, logits, -np.inf)"),
        lost={"top_k_filter": 0.4}),
    # Keeps tokens while the sum including them is below p: the token that crosses p is lost,
    # and a tiny p keeps nothing.
    Case(W4, "top_p_drops_the_token_that_crosses_p", replaced(
        W4, "top-p-answer", "before = ops.cumsum(probabilities, axis=-1) - probabilities",
        "before = ops.cumsum(probabilities, axis=-1)"),
        lost={"top_p_filter": 1.6}),
    # No rule for p >= 1: at p = 1 the float32 running sum can reach 1 before the last tokens,
    # which are then dropped although p = 1 keeps every token.
    Case(W4, "top_p_without_the_rule_for_p_at_least_1", replaced(
        W4, "top-p-answer",
        "    if p >= 1:  # every token, whatever the rounding of the running sum\n"
        "        kept = ops.ones_like(kept)\n", ""),
        lost={"top_p_filter": 0.4}),
    # cdf >= u: at u = 0 the first token is picked even when its probability is 0.
    Case(W4, "sample_picks_a_token_of_probability_0", replaced(
        W4, "sample-answer", "ops.cast(cdf <= u, \"int32\")", "ops.cast(cdf < u, \"int32\")"),
        lost={"sample": 0.5}),
    # Writes the new key and value at index + 1, and attends to the random numbers in slot index.
    Case(W4, "cache_written_at_the_wrong_index", replaced(
        W4, "kv-cache-answer", "(0, 0, index, 0, 0)", "(0, 0, index + 1, 0, 0)"),
        lost={"cached_attention_step": 3}),
    # The slots after index (no token yet) get weights too: only the cache is right.
    Case(W4, "cache_attended_beyond_the_index", replaced(
        W4, "kv-cache-answer", "    scores = ops.where(written, scores, -np.inf)  # the other "
        "slots get weight 0\n", ""),
        lost={"cached_attention_step": 2.5}),
    # The right ids, the whole text through the model at every step.
    Case(W4, "generate_without_the_cache", {"generate-answer": GENERATE_WITHOUT_CACHE},
         lost={"generate": 0.6}),
    # Never checks end_id: it goes on past the end token, up to max_new_tokens tokens.
    Case(W4, "generate_does_not_stop_at_the_end_token", replaced(
        W4, "generate-answer", "        if token == end_id:\n            break\n", ""),
        lost={"generate": 1.2}),
    # Calls the library's own generate: no credit for the exercise.
    Case(W4, "delegates_generate", {"generate-answer": '''\
from llm_keras.generation import generate as library_generate


def generate(model, prompt_ids, max_new_tokens, end_id=None):
    return library_generate(model, prompt_ids, max_new_tokens, temperature=0,
                            end_token_id=end_id)
'''}, lost={"generate": 3}),
]

W3 = "week3"


def replaced_each(week: str, cell: str, *pairs: tuple[str, str]) -> dict[str, str]:
    """``replaced`` with several ``(old, new)`` pairs applied in order to one answer cell."""
    source = answer_cells(week)[cell]
    for old, new in pairs:
        if old not in source:
            raise ValueError(f"{week} {cell}: the reference answer no longer contains {old!r}")
        source = source.replace(old, new)
    return {cell: source}


CLIP_EACH_ALONE = '''\
def clip_by_global_norm(grads, max_norm):
    clipped = []
    for g in grads:  # each gradient clipped to max_norm on its own: Keras's clipnorm
        g = ops.cast(g, "float32")
        norm = ops.sqrt(ops.sum(ops.square(g)))
        clipped.append(g * ops.minimum(1.0, max_norm / ops.maximum(norm, 1e-30)))
    return clipped
'''
ALWAYS_HEALTHY = '''\
def diagnose(history):
    return "healthy", REMEDIES["healthy"]
'''

WEEK3 = [
    Case(W3, "reference", backends=ALL_BACKENDS),
    Case(W3, "release", release=True, backends=ALL_BACKENDS),
    # exp overflows for logits of 1e4: the loss is inf or nan there, right elsewhere.
    Case(W3, "naive_softmax", replaced(
        W3, "cross-entropy-answer",
        "largest = ops.stop_gradient(ops.max(logits, axis=-1, keepdims=True))", "largest = 0.0"),
        lost={"cross_entropy": 1}),
    Case(W3, "perplexity_in_base_2", replaced(
        W3, "metrics-answer", "return math.exp(float(loss))", "return 2.0 ** float(loss)"),
        lost={"perplexity_and_bits": 1}),
    Case(W3, "tokens_per_character_inverted", replaced(
        W3, "metrics-answer", "/ math.log(2) * tokens_per_character",
        "/ math.log(2) / tokens_per_character"), lost={"perplexity_and_bits": 0.5}),
    # nanoGPT's warm-up gives step 0 a rate; this one gives it 0.
    Case(W3, "warmup_off_by_one", replaced(
        W3, "learning-rate-answer", "max_lr * (step + 1) / (warmup_steps + 1)",
        "max_lr * step / warmup_steps"), lost={"learning_rate": 0.5}),
    # Past total_steps the cosine climbs again instead of staying at the floor.
    Case(W3, "no_floor_after_total_steps", replaced(
        W3, "learning-rate-answer", "    if step > total_steps:\n        return min_lr\n", ""),
        lost={"learning_rate": 0.5}),
    Case(W3, "clipping_each_gradient_alone", {"clip-answer": CLIP_EACH_ALONE},
         lost={"clip_by_global_norm": 1}),
    Case(W3, "adamw_without_bias_correction", replaced(
        W3, "adamw-answer", """m_hat = m / (1.0 - beta1 ** step)
    v_hat = v / (1.0 - beta2 ** step)""", """m_hat = m
    v_hat = v"""), lost={"adamw_update": 2}),
    # L2 regularisation: the decay goes through the gradient, so Adam rescales it.
    Case(W3, "adamw_decay_not_decoupled", replaced_each(
        W3, "adamw-answer",
        ("    m = beta1 * m", "    grad = grad + weight_decay * param\n    m = beta1 * m"),
        (" + weight_decay * param)", ")")), lost={"adamw_update": 1}),
    Case(W3, "weight_decay_on_norms_and_biases", replaced(
        W3, "optimizer-answer",
        "var_list=[v for v in model.trainable_variables if len(v.shape) < 2]", "var_list=[]"),
        lost={"configure_optimizer": 1}),
    Case(W3, "clipnorm_instead_of_global_clipnorm", replaced(
        W3, "optimizer-answer", "global_clipnorm=max_norm", "clipnorm=max_norm"),
        lost={"configure_optimizer": 0.5}),
    Case(W3, "gpt_without_final_norm", replaced(
        W3, "gpt-answer", "self.token_embedding(self.final_norm(x), reverse=True)",
        "self.token_embedding(x, reverse=True)"), lost={"gpt": 3}),
    # A head of its own (untied): an extra weight the grader does not set.
    Case(W3, "gpt_with_untied_head", replaced_each(
        W3, "gpt-answer",
        ("return self.token_embedding(self.final_norm(x), reverse=True)",
         "return self.head(self.final_norm(x))"),
        ('self.final_norm = LayerNorm(epsilon=1e-5, name="final_norm")',
         'self.final_norm = LayerNorm(epsilon=1e-5, name="final_norm")\n'
         '        self.head = keras.layers.Dense(vocab_size, use_bias=False, name="head")')),
        lost={"gpt": 3}),
    # No position embedding used: its weight is never created, and the feedback names it.
    Case(W3, "gpt_without_positions", replaced(
        W3, "gpt-answer", "x = x + self.position_embedding(x)", "x = x"),
        lost={"gpt": 3}, message="position_embedding/embeddings"),
    Case(W3, "train_step_returns_the_loss_after_the_update", replaced(
        W3, "train-step-answer", "    return loss\n", "    return loss_fn()\n"),
        lost={"train_step": 1}),
    Case(W3, "train_step_never_applies_the_gradients", replaced(
        W3, "train-step-answer", "    optimizer.apply(grads, model.trainable_variables)\n", ""),
        lost={"train_step": 2}),
    # The same answer every time: right on the 3 healthy runs of 12 alone, a quarter of the
    # points, what guessing scores.
    Case(W3, "always_healthy", {"diagnose-answer": ALWAYS_HEALTHY}, lost={"diagnose": 3}),
    # The remedies of diverging and flat runs swapped: those 6 runs of 12 are wrong.
    Case(W3, "remedies_swapped", replaced(
        W3, "diagnose-answer", "return problem, REMEDIES[problem]",
        'return problem, REMEDIES[{"diverging": "flat", "flat": "diverging"}.get(problem, '
        'problem)]'),
        lost={"diagnose": 2}),
    Case(W3, "cross_entropy_from_keras", {"cross-entropy-answer": '''\
def cross_entropy(logits, targets):
    losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    return ops.mean(losses)
'''}, lost={"cross_entropy": 2}, message="No credit"),
]

W6 = "week6"
# Other right answers, each written another way than the reference: full marks on every backend.
OWN_WAYS = {
    # A one-hot mask over the positions instead of a gather.
    "last-token-answer": '''\
def last_token_features(hidden, lengths):
    hidden = ops.convert_to_tensor(hidden, "float32")
    positions = ops.arange(ops.shape(hidden)[1])
    last = ops.convert_to_tensor(lengths, "int32") - 1
    mask = ops.cast(positions[None, :] == last[:, None], "float32")  # (batch, seq)
    return ops.sum(hidden * mask[:, :, None], axis=1)
''',
    # The roles compared as a tensor, a batch row by row.
    "loss-mask-answer": '''\
def sft_loss_mask(token_ids, roles):
    roles = np.asarray(roles)
    if roles.ndim == 2:
        return np.stack([sft_loss_mask(ids, row) for ids, row in zip(token_ids, roles)])
    return np.array([1.0 if r == ASSISTANT_ROLE else 0.0 for r in roles[1:]], "float32")
''',
    # The losses from log_softmax, the weights a tensor first (PyTorch refuses array * tensor).
    "masked-loss-answer": '''\
def masked_loss(targets, logits, weights):
    log_probabilities = ops.log_softmax(ops.convert_to_tensor(logits, "float32"), axis=-1)
    targets = ops.convert_to_tensor(targets, "int32")
    picked = ops.take_along_axis(log_probabilities, targets[..., None], axis=-1)[..., 0]
    weights = ops.convert_to_tensor(weights, "float32")
    total = ops.sum(weights)
    return ops.where(total > 0, -ops.sum(weights * picked) / ops.maximum(total, 1e-30), 0.0)
''',
    # W and b in a frozen Dense sublayer (its weights are still named kernel and bias).
    "lora-answer": '''\
class LoRADense(keras.layers.Layer):
    def __init__(self, units, rank, alpha=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.rank = units, rank
        self.alpha = rank if alpha is None else alpha
        self.frozen = keras.layers.Dense(units, trainable=False)

    def build(self, input_shape):
        self.frozen.build(input_shape)
        self.lora_a = self.add_weight(name="lora_a", shape=(input_shape[-1], self.rank),
                                      initializer="he_uniform")
        self.lora_b = self.add_weight(name="lora_b", shape=(self.rank, self.units),
                                      initializer="zeros")

    def call(self, x):
        scale = self.alpha / self.rank
        return self.frozen(x) + scale * ops.matmul(ops.matmul(x, self.lora_a), self.lora_b)
''',
    # The paper's product form.
    "pass-at-k-answer": '''\
def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
''',
}

WEEK6 = [
    Case(W6, "reference", backends=ALL_BACKENDS),
    Case(W6, "release", release=True, backends=ALL_BACKENDS),
    Case(W6, "right_answers_written_otherwise", OWN_WAYS, backends=ALL_BACKENDS),
    # The last position of the padded row: right only for the rows without padding.
    Case(W6, "features_of_the_last_position", replaced(
        W6, "last-token-answer", "return ops.take_along_axis(hidden, index, axis=1)[:, 0, :]",
        "return hidden[:, -1, :]"), lost={"last_token_features": 1.5}),
    # The roles of the inputs, not of the targets: each weight comes one token early, so the
    # first token of the answer gets weight 0 (its input, the prompt's last token, has role 0),
    # and in a padded row the first padding position gets weight 1 (its input ends the answer).
    Case(W6, "mask_of_the_inputs", replaced(
        W6, "loss-mask-answer", "roles[..., 1:]", "roles[..., :-1]"),
        lost={"sft_loss_mask": 2}),
    # Right for one chat; for a batch it drops the first chat instead of the first position.
    Case(W6, "mask_sliced_on_the_first_axis", replaced(
        W6, "loss-mask-answer", "roles[..., 1:]", "roles[1:]"), lost={"sft_loss_mask": 1}),
    # Keras's default reduction: divided by every position, not by the weights.
    Case(W6, "loss_divided_by_the_positions", replaced(
        W6, "masked-loss-answer",
        "ops.divide_no_nan(ops.sum(weights * nll), ops.sum(weights))",
        "ops.sum(weights * nll) / ops.cast(ops.size(nll), \"float32\")"),
        lost={"masked_loss": 2}),
    # nan when every weight is 0.
    Case(W6, "loss_nan_without_weights", replaced(
        W6, "masked-loss-answer",
        "ops.divide_no_nan(ops.sum(weights * nll), ops.sum(weights))",
        "ops.sum(weights * nll) / ops.sum(weights)"), lost={"masked_loss": 1}),
    # Scaled by alpha, not alpha / rank: every output with the update is wrong, B = 0 is not.
    Case(W6, "lora_scaled_by_alpha", replaced(
        W6, "lora-answer", "(self.alpha / self.rank) * update", "self.alpha * update"),
        lost={"lora_dense": 1.5}),
    # Keras's enable_lora leaves the bias trainable.
    Case(W6, "lora_bias_trainable", replaced(
        W6, "lora-answer", 'initializer="zeros",\n                                    '
        'trainable=False)', 'initializer="zeros")'), lost={"lora_dense": 1}),
    # B random at the start: the new layer is not the pretrained one.
    Case(W6, "lora_b_random_at_the_start", replaced(
        W6, "lora-answer", 'shape=(self.rank, self.units),\n                                      '
        'initializer="zeros")', 'shape=(self.rank, self.units),\n'
        '                                      initializer="he_uniform")'),
        lost={"lora_dense": 0.5}),
    # Merges W + alpha A B: alpha not divided by the rank.
    Case(W6, "merge_scaled_by_alpha", replaced(
        W6, "merge-answer", "(alpha / rank) * ops.matmul(a, b)", "alpha * ops.matmul(a, b)"),
        lost={"merged_kernel": 0.5}),
    # Stripping spaces turns some near misses into right answers.
    Case(W6, "exact_match_strips_spaces", replaced(
        W6, "exact-match-answer", "sum(p == r for", "sum(p.strip() == r.strip() for"),
        lost={"exact_match": 0.5}),
    # Samples drawn with replacement: the biased estimate (right for k = 1 only).
    Case(W6, "pass_at_k_with_replacement", replaced(
        W6, "pass-at-k-answer", "return 1.0 - math.comb(n - c, k) / math.comb(n, k)",
        "return 1.0 - (1.0 - c / n) ** k"), lost={"pass_at_k": 1.0}),
    # Imports the library's own LoRADense: no credit for the exercise.
    Case(W6, "delegates_lora_dense", {"lora-answer": '''\
from llm_keras.finetuning.lora import LoRADense
'''}, lost={"lora_dense": 3}),
]

W7 = "week7"
# Other right answers, each written another way than the reference: full marks on every backend.
OWN_WAYS_WEEK7 = {
    # log_sigmoid instead of softplus.
    "bradley-terry-answer": '''\
def bradley_terry_loss(chosen_rewards, rejected_rewards):
    margins = (ops.convert_to_tensor(chosen_rewards, "float32")
               - ops.convert_to_tensor(rejected_rewards, "float32"))
    return -ops.mean(ops.log_sigmoid(margins))
''',
    # A one-hot mask over the vocabulary and logsumexp; the mean with ops.where.
    "sequence-log-probs-answer": '''\
def sequence_log_probs(logits, ids, mask, average=False):
    logits = ops.convert_to_tensor(logits, "float32")
    target_logits = ops.sum(logits * ops.one_hot(ids, ops.shape(logits)[-1]), axis=-1)
    picked = target_logits - ops.logsumexp(logits, axis=-1)  # (batch, seq)
    mask = ops.convert_to_tensor(mask, "float32")
    total = ops.sum(ops.where(mask > 0, picked, 0.0), axis=-1)
    if not average:
        return total
    count = ops.sum(mask, axis=-1)
    return ops.where(count > 0, total / ops.where(count > 0, count, 1.0), 0.0)
''',
    # The loss from the margin of the log-ratios, the rewards afterwards.
    "dpo-loss-answer": '''\
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
             ref_rejected_logps, beta=0.1):
    pc, pr, rc, rr = (ops.convert_to_tensor(x, "float32") for x in (
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps))
    margin = (pc - rc) - (pr - rr)
    return -ops.log_sigmoid(beta * margin), beta * (pc - rc), beta * (pr - rr)
''',
    # NumPy, one group at a time, np.std with ddof=1.
    "group-advantages-answer": '''\
def group_advantages(rewards, group_size, scale=True, epsilon=1e-4):
    rewards = np.asarray(rewards, dtype="float64")
    advantages = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        centred = group - group.mean()
        if scale:
            centred = centred / (np.std(group, ddof=1) + epsilon)
        advantages.extend(centred)
    return np.array(advantages, dtype="float32")
''',
    # The ratio pi_ref / pi first.
    "k3-kl-answer": '''\
def k3_kl(log_probs, ref_log_probs):
    ratio = ops.exp(ops.convert_to_tensor(ref_log_probs, "float32")
                    - ops.convert_to_tensor(log_probs, "float32"))
    return ratio - ops.log(ratio) - 1.0
''',
    # max(-ratio * A, -clipped * A), the masked positions set to 0 with ops.where, the KL
    # written out, the mean over answers as a sum divided by the batch size.
    "policy-loss-answer": '''\
def clipped_policy_loss(log_probs, old_log_probs, advantages, mask, epsilon=0.2,
                        ref_log_probs=None, beta=0.0):
    log_probs = ops.convert_to_tensor(log_probs, "float32")
    mask = ops.convert_to_tensor(mask, "float32")
    a = ops.expand_dims(ops.convert_to_tensor(advantages, "float32"), -1)
    ratio = ops.exp(log_probs - ops.convert_to_tensor(old_log_probs, "float32"))
    per_token = ops.maximum(-ratio * a, -ops.clip(ratio, 1 - epsilon, 1 + epsilon) * a)
    if ref_log_probs is not None and beta > 0:
        d = ops.convert_to_tensor(ref_log_probs, "float32") - log_probs
        per_token = per_token + beta * (ops.exp(d) - d - 1)
    per_token = ops.where(mask > 0, per_token, 0.0)
    per_answer = ops.sum(per_token, axis=1) / ops.sum(mask, axis=1)
    return ops.sum(per_answer) / ops.cast(ops.shape(mask)[0], "float32")
''',
}

WEEK7 = [
    Case(W7, "reference", backends=ALL_BACKENDS),
    Case(W7, "release", release=True, backends=ALL_BACKENDS),
    Case(W7, "right_answers_written_otherwise", OWN_WAYS_WEEK7, backends=ALL_BACKENDS),
    # The sign error: the rejected answer's reward minus the chosen one's is what gets rewarded.
    # Equal rewards still give ln 2.
    Case(W7, "bradley_terry_rejected_minus_chosen", replaced(
        W7, "bradley-terry-answer", "ops.softplus(rejected - chosen)",
        "ops.softplus(chosen - rejected)"), lost={"bradley_terry_loss": 1.5}),
    # `-log(sigmoid(x))`: inf once sigmoid underflows (a confidently wrong reward model).
    Case(W7, "bradley_terry_log_of_sigmoid", replaced(
        W7, "bradley-terry-answer", "ops.mean(ops.softplus(rejected - chosen))",
        "ops.mean(-ops.log(ops.sigmoid(chosen - rejected)))"),
        lost={"bradley_terry_loss": 0.5}, message="NaN or infinite"),
    # The prompt's (and the padding's) log-probs summed too: every check.
    Case(W7, "log_probs_summed_over_the_prompt_too", replaced(
        W7, "sequence-log-probs-answer", "total = ops.sum(picked * mask, axis=-1)",
        "total = ops.sum(picked, axis=-1)"), lost={"sequence_log_probs": 3}),
    # log(softmax): -inf for large logits, right otherwise.
    Case(W7, "log_probs_log_of_softmax", replaced(
        W7, "sequence-log-probs-answer", "ops.log_softmax(ops.convert_to_tensor(logits, "
        "\"float32\"), axis=-1)", "ops.log(ops.softmax(ops.convert_to_tensor(logits, "
        "\"float32\"), axis=-1))"), lost={"sequence_log_probs": 1}),
    # The mean over every position of the row, not over the response's.
    Case(W7, "log_probs_averaged_over_the_row", replaced(
        W7, "sequence-log-probs-answer", "total / ops.maximum(ops.sum(mask, axis=-1), 1.0)",
        "total / ops.cast(ops.shape(mask)[-1], \"float32\")"),
        lost={"sequence_log_probs": 0.75}),
    # nan for a row without response tokens.
    Case(W7, "log_probs_average_nan_without_response", replaced(
        W7, "sequence-log-probs-answer", "total / ops.maximum(ops.sum(mask, axis=-1), 1.0)",
        "total / ops.sum(mask, axis=-1)"), lost={"sequence_log_probs": 0.25}),
    # No beta: right only where beta is 1 (and at the start, where every reward is 0).
    Case(W7, "dpo_without_beta", replaced_each(
        W7, "dpo-loss-answer", ("beta * (policy_chosen - ref_chosen)",
                                "policy_chosen - ref_chosen"),
        ("beta * (policy_rejected - ref_rejected)", "policy_rejected - ref_rejected")),
        lost={"dpo_loss": 2}),
    # The reference minus the policy: every reward's sign flipped (right only at the start).
    Case(W7, "dpo_reference_minus_policy", replaced_each(
        W7, "dpo-loss-answer", ("beta * (policy_chosen - ref_chosen)",
                                "beta * (ref_chosen - policy_chosen)"),
        ("beta * (policy_rejected - ref_rejected)", "beta * (ref_rejected - policy_rejected)")),
        lost={"dpo_loss": 2.5}),
    # The whole batch's mean and std: groups of equal rewards no longer get 0.
    Case(W7, "advantages_over_the_whole_batch", {"group-advantages-answer": '''\
def group_advantages(rewards, group_size, scale=True, epsilon=1e-4):
    rewards = ops.convert_to_tensor(rewards, "float32")
    centred = rewards - ops.mean(rewards)
    if scale:
        variance = ops.sum(centred**2) / (ops.cast(ops.size(rewards), "float32") - 1)
        centred = centred / (ops.sqrt(variance) + epsilon)
    return centred
'''}, lost={"group_advantages": 2}),
    # scale ignored: the advantages are always divided by the std, Dr. GRPO's r - mean never
    # returned (only the scale=False check fails; its hint names the cause).
    Case(W7, "advantages_scale_ignored", replaced(
        W7, "group-advantages-answer", "    if scale:\n        variance",
        "    if True:\n        variance"),
        lost={"group_advantages": 0.5}, message="not divided by the std"),
    # The std of ddof=0 (ops.std's): the scaled advantages are too large.
    Case(W7, "advantages_std_without_bessel", replaced(
        W7, "group-advantages-answer", "/ (group_size - 1)", "/ group_size"),
        lost={"group_advantages": 1}, message="ddof=1"),
    # k3 of the policy minus the reference: also >= 0, but not this KL; the loss with the KL
    # penalty uses it, and loses that check too.
    # (`exp(-d) + d - 1` is `exp(e) - e - 1` for `e = log_probs - ref_log_probs`.)
    Case(W7, "k3_of_the_other_direction", replaced(
        W7, "k3-kl-answer", "return ops.exp(d) - d - 1.0", "return ops.exp(-d) + d - 1.0"),
        lost={"k3_kl": 0.5, "clipped_policy_loss": 1}),
    # max instead of min: the pessimistic bound becomes an optimistic one (right at ratio 1).
    Case(W7, "policy_loss_max_instead_of_min", replaced(
        W7, "policy-loss-answer", "-ops.minimum(ratio * advantages",
        "-ops.maximum(ratio * advantages"), lost={"clipped_policy_loss": 2.5},
        message="the minimum"),
    # The KL penalty subtracted: a bonus for moving away from the reference.
    Case(W7, "policy_loss_kl_subtracted", replaced(
        W7, "policy-loss-answer", "per_token + beta * k3_kl", "per_token - beta * k3_kl"),
        lost={"clipped_policy_loss": 1}),
    # One mean over every token of the batch (DAPO's aggregation): long answers weigh more.
    Case(W7, "policy_loss_mean_over_the_batch_tokens", replaced(
        W7, "policy-loss-answer", "return ops.mean(per_answer)",
        "return ops.sum(per_token * mask) / ops.sum(mask)"),
        lost={"clipped_policy_loss": 3}),
    # Imports the library's own dpo_loss: no credit for the exercise.
    Case(W7, "delegates_dpo_loss", {"dpo-loss-answer": '''\
from llm_keras.alignment.dpo import dpo_loss
'''}, lost={"dpo_loss": 3}),
]

W1D = "week1-data"
INDEPENDENT_SHINGLES = '''\
def shingles(text, n=5):
    found = set()
    for paragraph in PARAGRAPH_BREAK.split(text):
        words = paragraph.split()
        if words:  # a short paragraph is one window: words[0:n] is all of it
            found |= {" ".join(words[i:i + n]) for i in range(max(len(words) - n + 1, 1))}
    return found
'''
INDEPENDENT_MINHASH = '''\
import struct


def shingle_hash(shingle):
    return struct.unpack("<I", hashlib.sha1(shingle.encode("utf-8")).digest()[:4])[0]


def minhash_signature(shingle_set, a, b):
    hashes = [shingle_hash(s) for s in shingle_set]
    wrap = 2**64
    signature = [min([(((int(ai) * x) % wrap + int(bi)) % wrap % MERSENNE_PRIME) & MAX_HASH
                      for x in hashes], default=MAX_HASH) for ai, bi in zip(a, b)]
    return np.array(signature, dtype=np.uint64)
'''
INDEPENDENT_LSH = '''\
from itertools import combinations


def s_curve(similarity, bands, rows):
    return 1.0 - np.power(1.0 - np.power(similarity, rows), bands)


def candidate_pairs(signatures, bands, rows):
    signatures = np.asarray(signatures)
    return {(int(i), int(j)) for i, j in combinations(range(len(signatures)), 2)
            if any(np.array_equal(signatures[i, k * rows:(k + 1) * rows],
                                  signatures[j, k * rows:(k + 1) * rows]) for k in range(bands))}
'''
INDEPENDENT_JACCARD = '''\
def jaccard(a, b):
    if not a and not b:
        return 1.0
    return len(a.intersection(b)) / len(a.union(b))


def estimate_jaccard(signature_a, signature_b):
    same = sum(int(x) == int(y) for x, y in zip(signature_a, signature_b))
    return same / len(signature_a)
'''
INDEPENDENT_SHARDS = '''\
import os
import struct


def write_shard(path, ids):
    ids = [int(i) for i in ids]
    if any(i < 0 or i >= 2**16 for i in ids):
        raise ValueError("ids must fit in uint16")
    header = struct.pack("<256i", SHARD_MAGIC, SHARD_VERSION, len(ids), *[0] * 253)
    with open(path, "wb") as file:
        file.write(header + struct.pack(f"<{len(ids)}H", *ids))


def read_shard(path):
    with open(path, "rb") as file:
        magic, version, count = struct.unpack("<3i", file.read(12))
    if (magic, version) != (SHARD_MAGIC, SHARD_VERSION) or os.path.getsize(path) != 1024 + 2 * count:
        raise ValueError(f"{path} is not a whole token shard")
    return np.memmap(path, dtype=np.uint16, mode="r", offset=1024, shape=(count,))
'''
INDEPENDENT_QUALITY = '''\
from collections import Counter

GOPHER_LIMITS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))


def repeated_ngram_chars_ratio(words, n):
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    inside = set()
    for i, gram in enumerate(grams):
        if counts[gram] > 1:
            inside.update(range(i, i + n))
    total = sum(map(len, words))
    return sum(len(words[i]) for i in inside) / total if total else 0.0


def fails_repeated_ngrams(words, limits=GOPHER_LIMITS):
    for n, most in limits:
        if repeated_ngram_chars_ratio(words, n) > most:
            return True
    return False
'''
WEEK1_DATA = [
    Case(W1D, "reference", backends=ALL_BACKENDS),
    Case(W1D, "release", release=True, backends=ALL_BACKENDS),
    # Right answers written another way (Python integers made to wrap as uint64 does, struct for
    # the little-endian bytes): full marks on every backend.
    Case(W1D, "independent_solution", {"shingles-answer": INDEPENDENT_SHINGLES,
                                       "minhash-answer": INDEPENDENT_MINHASH,
                                       "jaccard-answer": INDEPENDENT_JACCARD,
                                       "lsh-answer": INDEPENDENT_LSH,
                                       "shards-answer": INDEPENDENT_SHARDS,
                                       "quality-answer": INDEPENDENT_QUALITY},
         backends=ALL_BACKENDS),
    # Paragraphs cut at `"\n\n"` only: a blank line holding spaces or tabs joins two paragraphs.
    Case(W1D, "blank_lines_without_spaces", replaced(
        W1D, "shingles-answer", "PARAGRAPH_BREAK.split(text)", 'text.split("\\n\\n")'),
        lost={"shingles": 1.5}),
    # A paragraph shorter than n gives no shingle.
    Case(W1D, "short_paragraphs_dropped", replaced(
        W1D, "shingles-answer", "if 0 < len(words) < n:", "if False:"),
        lost={"shingles": 0.5}),
    # The digest's first 4 bytes read big-endian: every hash and signature differs (not the
    # empty set's).
    Case(W1D, "hash_big_endian", replaced(
        W1D, "minhash-answer", '.digest()[:4], "little")', '.digest()[:4], "big")'),
        lost={"minhash_signature": 2.25}),
    # Python integers never wrap around modulo `2**64`: other permutations than datasketch's.
    Case(W1D, "python_ints_do_not_wrap", replaced(
        W1D, "minhash-answer",
        "(hashes[:, None] * a + b) % np.uint64(MERSENNE_PRIME)",
        "np.array([[(int(x) * int(ai) + int(bi)) % MERSENNE_PRIME for ai, bi in zip(a, b)] "
        "for x in hashes], dtype=np.uint64)"),
        lost={"minhash_signature": 1.5}),
    Case(W1D, "empty_set_zeros", replaced(
        W1D, "minhash-answer", "np.full(len(a), MAX_HASH, dtype=np.uint64)",
        "np.zeros(len(a), dtype=np.uint64)"), lost={"minhash_signature": 0.75}),
    # The intersection over the sum of the sizes (the Dice coefficient's half).
    Case(W1D, "jaccard_over_the_sum_of_sizes", replaced(
        W1D, "jaccard-answer", "len(a & b) / union", "len(a & b) / (len(a) + len(b))"),
        lost={"jaccard": 0.8}),
    Case(W1D, "jaccard_of_empty_sets_zero", replaced(
        W1D, "jaccard-answer", "if union else 1.0", "if union else 0.0"),
        lost={"jaccard": 0.4}),
    # The number of equal positions instead of their share.
    Case(W1D, "estimate_counts_equal_positions", replaced(
        W1D, "jaccard-answer", "float(np.mean(np.asarray(signature_a) == ",
        "float(np.sum(np.asarray(signature_a) == "), lost={"jaccard": 0.8}),
    # Bands and rows swapped in the S-curve (the probe draws more bands than rows).
    Case(W1D, "s_curve_bands_and_rows_swapped", replaced(
        W1D, "lsh-answer", "1 - (1 - similarity**rows) ** bands",
        "1 - (1 - similarity**bands) ** rows"), lost={"lsh": 1}),
    # Every pair in both orders: (j, i) beside (i, j).
    Case(W1D, "pairs_in_both_orders", replaced(
        W1D, "lsh-answer", "for j in documents if i < j}", "for j in documents if i != j}"),
        lost={"lsh": 1}),
    # The ids written big-endian: every byte pair of the ids is swapped (the reader, which reads
    # little-endian, still reads the grader's shards).
    Case(W1D, "shard_ids_big_endian", replaced(
        W1D, "shards-answer", 'ids.astype("<u2").tobytes()', 'ids.astype(">u2").tobytes()'),
        lost={"shards": 1}),
    # No range check: astype wraps 70000 around to 4464 without a word.
    Case(W1D, "shard_ids_not_checked", replaced(
        W1D, "shards-answer", "if ids.size and (ids.min() < 0 or ids.max() > 65535):",
        "if False:"), lost={"shards": 0.5}),
    # The version not checked: a shard of another format's version is read as this one.
    Case(W1D, "shard_version_not_checked", replaced(
        W1D, "shards-answer", " or header[1] != SHARD_VERSION:", ":"), lost={"shards": 0.5}),
    # The ids mapped from byte 256 (the header's number of int32, not of bytes).
    Case(W1D, "shard_offset_in_ints", replaced(
        W1D, "shards-answer", 'offset=256 * 4, shape=(count,)', 'offset=256, shape=(count,)'),
        lost={"shards": 1}),
    # Each occurrence of each repeated n-gram counted: overlapping n-grams count their words
    # again (the share can pass 1); the rule still fails the same texts in the probe.
    Case(W1D, "repeated_ngrams_overlaps_counted_again", {"quality-answer": answer_cells(
        W1D)["quality-answer"].split("def repeated_ngram_chars_ratio")[0] + '''\
def repeated_ngram_chars_ratio(words, n):
    total = sum(len(word) for word in words)
    if total == 0:
        return 0.0
    starts = {}
    for i in range(len(words) - n + 1):
        starts.setdefault(tuple(words[i:i + n]), []).append(i)
    inside = sum(len(positions) * sum(map(len, gram)) for gram, positions in starts.items()
                 if len(positions) >= 2)
    return inside / total


def fails_repeated_ngrams(words, limits=GOPHER_LIMITS):
    return any(repeated_ngram_chars_ratio(words, n) > most for n, most in limits)
'''}, lost={"quality": 2}),
    # n-grams that occur once marked too: every text is all repetition.
    Case(W1D, "ngrams_occurring_once_marked", replaced(
        W1D, "quality-answer", "if len(positions) >= 2:", "if len(positions) >= 1:"),
        lost={"quality": 3}),
    # Only the first (n, most) of the limits checked.
    Case(W1D, "only_the_first_limit", replaced(
        W1D, "quality-answer",
        "return any(repeated_ngram_chars_ratio(words, n) > most for n, most in limits)",
        "n, most = limits[0]\n    return repeated_ngram_chars_ratio(words, n) > most"),
        lost={"quality": 1}),
    Case(W1D, "delegates_shingles", {"shingles-answer": '''\
from llm_keras.data.minhash import shingles as library_shingles


def shingles(text, n=5):
    return library_shingles(text, n=n)
'''}, lost={"shingles": 2}, message="No credit"),
]

CASES = WEEK1 + WEEK2 + WEEK5 + WEEK4 + WEEK3 + WEEK6 + WEEK7 + WEEK1_DATA


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
