"""Clipping by the global norm: one bad batch cannot throw the weights far (week 3, "Optimisation").

The gradients of all the weights together form one long vector ``g``; its length is the
*global norm* ``||g|| = sqrt(sum over every weight w of sum(grad_w ** 2))``. When it is larger
than ``max_norm``, every gradient is multiplied by the same factor ``max_norm / ||g||``, so the
update keeps its direction and only its length shrinks to ``max_norm``; otherwise nothing
changes. Keras's ``global_clipnorm`` (nanoGPT's ``grad_clip``, PyTorch's ``clip_grad_norm_``)
does this. Keras's ``clipnorm`` is another rule: it clips *each* weight's gradient to that norm on
its own, which changes the direction of the update (a weight whose gradient is large is held
back more than the others).
"""

from keras import ops


def global_norm(grads):
    """``sqrt(sum of every entry squared)`` over a list of gradients, a float32 scalar."""
    return ops.sqrt(sum(ops.sum(ops.square(ops.cast(g, "float32"))) for g in grads))


def clip_by_global_norm(grads, max_norm):
    """The gradients scaled together so that their global norm is at most ``max_norm``.

    Args:
        grads: a list of gradients (arrays or tensors, any shapes), one per weight.
        max_norm: the largest global norm allowed (> 0).

    Returns:
        A list of float32 tensors of the same shapes: ``g * min(1, max_norm / global_norm)``.
        Gradients of global norm 0 are returned unchanged.

    Example:
        >>> clip_by_global_norm([np.array([3.0]), np.array([4.0])], 1.0)   # norm 5
        [0.6], [0.8]
    """
    if not max_norm > 0:
        raise ValueError(
            f"max_norm={max_norm!r} must be positive: the largest global norm allowed."
        )
    norm = global_norm(grads)
    scale = ops.minimum(1.0, max_norm / ops.maximum(norm, 1e-30))
    return [ops.cast(g, "float32") * scale for g in grads]
