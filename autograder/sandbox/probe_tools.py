"""Helpers for the sandbox half of a probe (``probe(learner, inputs)``): reference weights.

A probe builds the learner's layer and loads the grader's weights into it, so that the layer's
output does not depend on its initialisation (as in Stanford CS336's test adapters)::

    from autograder.sandbox.probe_tools import load_weights

    def probe(learner, inputs):
        layer = learner.SelfAttention(d_model=8)
        load_weights(layer, inputs["x"].shape, {"wq": inputs["wq"], "wk": inputs["wk"]})
        return {"y": layer(inputs["x"])}
"""

from __future__ import annotations


class WeightsMismatch(Exception):
    """The learner's layer has no weight of a name the exercise defines, or another shape."""


def load_weights(layer, input_shape, weights: dict) -> None:
    """Build ``layer`` for ``input_shape`` and assign each named weight.

    A weight matches when its ``name`` (or the last part of its ``path``) equals the key. Raises
    ``WeightsMismatch`` when one is missing or its shape differs, which the grader reports as
    "your layer does not create the weights the exercise defines".
    """
    if not layer.built:
        layer.build(tuple(input_shape))
    variables = {}
    for variable in layer.weights:
        variables.setdefault(variable.name, variable)
        variables.setdefault(variable.path.rsplit("/", 1)[-1], variable)
    for name, value in weights.items():
        variable = variables.get(name)
        if variable is None or tuple(variable.shape) != tuple(value.shape):
            raise WeightsMismatch(name)
        variable.assign(value)
