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

When a weight is missing or has another shape, ``WeightsMismatch`` says which, and what the
learner's layer has instead, so that the feedback can name both.
"""

from __future__ import annotations

MAX_LISTED = 8  # weights of the learner's layer named in a WeightsMismatch


class WeightsMismatch(Exception):
    """The learner's layer has no weight of a name the exercise defines, or another shape.

    Attributes:
        name: the weight the exercise defines (``"w_out"``,
            ``"feed_forward.up_projection.kernel"``).
        expected: its shape, a tuple of ints.
        found: the shape of the learner's weight of that name, or None when there is none.
        available: ``(path, shape)`` of (at most ``MAX_LISTED``) weights the layer has instead.
    """

    def __init__(self, name: str, expected, found=None, available=()):
        self.name, self.expected = str(name), _shape(expected)
        self.found = None if found is None else _shape(found)
        self.available = tuple((str(path), _shape(shape))
                               for path, shape in list(available)[:MAX_LISTED])
        super().__init__(describe_mismatch(self.name, self.expected, self.found, self.available))

    def fields(self) -> dict:
        """Plain data for the ``exercise`` event (the trusted side words the message)."""
        return {"weight": self.name, "expected_shape": list(self.expected),
                "found_shape": None if self.found is None else list(self.found),
                "available": [[path, list(shape)] for path, shape in self.available]}


def describe_mismatch(name: str, expected: tuple, found: tuple | None, available) -> str:
    """The learner's message: ``expected a weight named `w_out` of shape (64, 16); your weights
    are `dense_1/kernel` (64, 16) and ...``. It says "your weights", not "your layer's", since
    the learner's code may be a layer or a model. (The grader words it from the fields the
    sandbox reported, the visible checks from the exception: the same words either way.)"""
    text = f"expected a weight named `{name}` of shape {expected}; "
    listed = [f"`{path}` {shape}" for path, shape in available]
    if found is not None:
        text += f"your `{name}` has shape {found}"
    elif not listed:
        text += "your code creates no weights"
    elif len(listed) >= MAX_LISTED:
        text += f"your first {len(listed)} weights are {', '.join(listed)}"
    elif len(listed) == 1:
        text += f"your only weight is {listed[0]}"
    else:
        text += f"your weights are {', '.join(listed[:-1])} and {listed[-1]}"
    return (text + ". The grader sets your weights by the names the exercise gives: "
            "create the sublayers and weights with exactly those names and shapes.")


def _shape(shape) -> tuple:
    """A shape as a tuple of ints (None for an unknown size)."""
    try:
        return tuple(None if n is None else int(n) for n in shape)
    except (TypeError, ValueError):
        return ()


def _weights_of(layer) -> list[tuple[str, tuple]]:
    """``(path, shape)`` of every weight of ``layer`` (``dense_1/kernel``), for the message."""
    try:
        return [(variable.path, tuple(variable.shape)) for variable in layer.weights]
    except Exception:  # noqa: BLE001 - a learner's layer may break anything; the list is a courtesy
        return []


def _attribute(layer, name: str):
    """``layer.<name>``, else ``layer``'s direct sublayer called ``name`` (a ``Dense`` named
    ``"up_projection"`` inside a ``keras.Sequential``), else None."""
    found = getattr(layer, name, None)
    if found is not None:
        return found
    sublayers = getattr(layer, "layers", None)  # a keras.Sequential's or a Model's
    return next((s for s in sublayers if getattr(s, "name", None) == name), None) \
        if isinstance(sublayers, list | tuple) else None


def load_weights(layer, input_shape, weights: dict) -> None:
    """Build ``layer`` for ``input_shape`` and assign each named weight.

    A weight matches when its ``name`` (or the last part of its ``path``) equals the key. Raises
    ``WeightsMismatch`` when one is missing or its shape differs, which the grader reports as
    "expected a weight named `w_out` of shape (64, 16); your only weight is `dense_1/kernel`
    (64, 16)".
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
            raise WeightsMismatch(name, value.shape, None if variable is None else variable.shape,
                                  _weights_of(layer))
        variable.assign(value)


def call_with_weights(layer, x, weights: dict):
    """Call ``layer`` on ``x`` (which builds it), give each weight named by its attribute path
    the grader's value, and return ``layer(x)`` with those weights.

    A path follows attributes from the layer: ``"attention.query.kernel"`` is
    ``layer.attention.query.kernel``, the names an exercise gives its sublayers (a part of the
    path may also be the ``name`` of a sublayer, as in a ``keras.Sequential``). Raises
    ``WeightsMismatch`` when an attribute is missing or a weight has another shape.
    """
    layer(x)
    for path, value in weights.items():
        variable, owner = layer, layer  # owner: the deepest layer on the path, for the message
        for name in path.split("."):
            variable = _attribute(variable, name)
            if variable is None:
                break
            owner = variable if hasattr(variable, "weights") else owner
        shape = getattr(variable, "shape", None)
        if shape is None or _shape(shape) != tuple(value.shape):
            raise WeightsMismatch(path, value.shape, shape, _weights_of(owner))
        variable.assign(value)
    return layer(x)
