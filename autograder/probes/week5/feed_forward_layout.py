"""Probe for week 5, exercise 4: ``feed_forward_layout(model_axis)``, the layout-map entries that
split a GPT's feed-forward networks over the ``model_axis`` of a device mesh (Megatron-LM).

The probe looks up each weight path of GPTs of other names and depths in the returned dict as
``keras.distribution.LayoutMap`` does (the exact path, else the one key that ``re.fullmatch``es
it; two matching keys are an error) and writes one row per path: per dimension 0 for ``None``,
1 for ``model_axis``, 2 for any other value, -1 past the weight's rank; 8 for a tuple of the wrong
length, 9 for a path that several keys match. The reference is the Megatron layout, the same
three entries as the reference solution's: the first projection's kernel and bias split by
columns, the second projection's kernel split by rows, its bias whole
(``llm_keras.distributed.layout_map`` holds the same rules for the whole GPT).
"""

import re

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="feed_forward_layout",
    answer_cells=("feed-forward-layout-answer",),
    grade_cell="feed-forward-layout-check",
    names=("feed_forward_layout",),
    graded=("llm_keras.distributed.layout_map.gpt_layout_map",
            "llm_keras.distributed.layout_map.GPT_LAYOUT"),
)

CHECKS = (
    Check("first projection split by columns (kernel and bias)", output="up", dtype="int",
          exact=True, hint="up_projection/kernel is (d_model, d_ff): split its d_ff columns, "
          "(None, model_axis), and its bias (d_ff,) with them."),
    Check("second projection split by rows, its bias whole", output="down", dtype="int",
          exact=True, hint="down_projection/kernel is (d_ff, d_model): split its d_ff rows, "
          "(model_axis, None); its bias is added after the sum, whole on every device."),
    Check("no other weight matched (attention, embeddings, norms)", output="others",
          dtype="int", exact=True, hint="Keras fullmatches each key against the whole path "
          "(e.g. 'gpt_3/block_11/attention/query/kernel'): name the feed-forward layers in "
          "your keys and start them with '.*'."),
)

def inputs(rng):
    return {"model_axis": np.array(rng.integers(3)),  # which of probe's three axis names
            "model_index": np.array(rng.integers(0, 20)),
            "blocks": np.sort(rng.choice(48, size=3, replace=False))}


def probe(learner, inputs):
    # The mesh's model axis: never the default "model", so that the argument must be used.
    axis = ("tensor", "mp", "tp")[int(inputs["model_axis"])]
    # The GPT's weights: (path below the model's name, rank); {block} is block_<i>.
    up = (("{block}/feed_forward/up_projection/kernel", 2),
          ("{block}/feed_forward/up_projection/bias", 1))
    down = (("{block}/feed_forward/down_projection/kernel", 2),
            ("{block}/feed_forward/down_projection/bias", 1))
    others = (
        ("token_embedding/embeddings", 2), ("position_embedding/embeddings", 2),
        ("{block}/attention_norm/gamma", 1), ("{block}/attention_norm/beta", 1),
        *((f"{{block}}/attention/{name}/{weight}", rank)
          for name in ("query", "key", "value", "output_projection")
          for weight, rank in (("kernel", 2), ("bias", 1))),
        ("{block}/feed_forward_norm/gamma", 1), ("{block}/feed_forward_norm/beta", 1),
        ("final_norm/gamma", 1), ("final_norm/beta", 1),
    )
    index = int(inputs["model_index"])
    model = "gpt" if index == 0 else f"gpt_{index}"
    layout = learner.feed_forward_layout(axis)

    def row(path, rank):
        if path in layout:
            keys = [path]
        else:
            keys = [key for key in layout if re.fullmatch(key, path)]
        if len(keys) > 1:
            return [9, 9]
        axes = tuple(layout[keys[0]]) if keys else (None,) * rank
        if len(axes) != rank:
            return [8, 8]
        codes = [0 if a is None else 1 if a == axis else 2 for a in axes]
        return codes + [-1] * (2 - rank)

    def rows(templates):
        paths = {(f"{model}/{t.format(block=f'block_{int(b)}')}", rank)
                 for t, rank in templates for b in inputs["blocks"]}
        return np.array([row(path, rank) for path, rank in sorted(paths)], dtype=np.int64)

    return {"up": rows(up), "down": rows(down), "others": rows(others)}


def megatron_feed_forward_layout(model_axis):
    """The reference: column-parallel first projection, row-parallel second one."""
    return {r".*block_\d+/feed_forward/up_projection/kernel": (None, model_axis),
            r".*block_\d+/feed_forward/up_projection/bias": (model_axis,),
            r".*block_\d+/feed_forward/down_projection/kernel": (model_axis, None)}


def reference(inputs):
    from types import SimpleNamespace

    return probe(SimpleNamespace(feed_forward_layout=megatron_feed_forward_layout), inputs)
