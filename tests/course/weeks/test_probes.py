"""The hidden probes ask about the library's real objects: the week 5 layout probe looks up the
weight paths that a GPT really has."""

from __future__ import annotations

import numpy as np

from autograder.probes import load_probe
from tests.course.weeks.conftest import REPO


class RecordingLayout(dict):
    """An empty layout that notes every path it is asked about (``path in layout``)."""

    def __init__(self):
        super().__init__()
        self.asked = set()

    def __contains__(self, path):
        self.asked.add(path)
        return False


def test_the_layout_probe_asks_about_each_weight_of_a_gpt():
    from llm_keras.models import GPT, GPTConfig

    probe = load_probe(REPO / "autograder" / "probes" / "week5" / "feed_forward_layout.py")
    inputs = probe.inputs(np.random.default_rng(0))
    layout = RecordingLayout()

    class Learner:
        @staticmethod
        def feed_forward_layout(model_axis):
            return layout

    outputs = probe.module.probe(Learner, inputs)
    config = GPTConfig.preset("gpt2-small", n_layers=int(inputs["blocks"].max()) + 1,
                              vocab_size=8, context_length=4, d_model=8, n_heads=2)
    model = GPT(config, name="gpt" if int(inputs["model_index"]) == 0
                else f"gpt_{int(inputs['model_index'])}")
    blocks = {f"block_{int(b)}" for b in inputs["blocks"]}
    expected = {w.path for w in model.trainable_weights
                if "block_" not in w.path or w.path.split("/")[1] in blocks}
    assert layout.asked == expected
    # An empty layout keeps everything whole: every row is "None" per dimension.
    ranks = {w.path: len(w.shape) for w in model.trainable_weights}
    rows = np.concatenate([outputs["up"], outputs["down"], outputs["others"]])
    assert len(rows) == len(expected)
    assert sorted(tuple(row) for row in rows) == sorted(
        (0, 0) if ranks[path] == 2 else (0, -1) for path in expected)
