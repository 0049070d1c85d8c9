"""Helpers for the sandbox half of a probe (``probe(learner, inputs)``): reference weights.

``load_weights`` finds a layer's weights by name; ``call_with_weights`` by attribute path, for
layers made of named sublayers.

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


def call_with_weights(layer, x, weights: dict):
    """Call ``layer`` on ``x`` (which builds it), give each weight named by its attribute path
    the grader's value, and return ``layer(x)`` with those weights.

    A path follows attributes from the layer: ``"attention.query.kernel"`` is
    ``layer.attention.query.kernel``, the names an exercise gives its sublayers. Raises
    ``WeightsMismatch`` when an attribute is missing or a weight has another shape.
    """
    layer(x)
    for path, value in weights.items():
        variable = layer
        for name in path.split("."):
            variable = getattr(variable, name, None)
        if variable is None or tuple(variable.shape) != tuple(value.shape):
            raise WeightsMismatch(path)
        variable.assign(value)
    return layer(x)
