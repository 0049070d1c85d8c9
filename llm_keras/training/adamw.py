"""One AdamW step written out on arrays (week 3, "Optimisation"), as in Loshchilov & Hutter,
"Decoupled Weight Decay Regularization" (ICLR 2019), Algorithm 2.

For a weight ``p`` with gradient ``g`` at update number ``t`` (1 for the first):

    m = beta1 * m + (1 - beta1) * g             running mean of the gradients
    v = beta2 * v + (1 - beta2) * g ** 2        running mean of their squares
    m_hat = m / (1 - beta1 ** t)                bias correction: m and v start at 0, so early
    v_hat = v / (1 - beta2 ** t)                averages are too small by exactly these factors
    p = p - lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p)

The decay ``lr * weight_decay * p`` is *decoupled*: it shrinks the weight directly and never
enters ``m`` or ``v``. (Adding ``weight_decay * p`` to the gradient instead, "L2
regularisation", lets Adam divide it by ``sqrt(v_hat)``, so weights with large gradients decay
less.) The paper multiplies the decay by the schedule's factor; PyTorch, Keras and nanoGPT use the
learning rate itself, as here. ``keras.optimizers.AdamW`` does the same step (its ``epsilon`` sits
outside the bias correction, a difference of ``eps``-sized relative order).
"""

from keras import ops


def adamw_update(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                 weight_decay=0.0):
    """One AdamW update of one weight.

    Args:
        param, grad, m, v: arrays or tensors of the weight's shape: its value, its gradient, and
            the two moments after the previous update (zeros before the first).
        step: the number of this update, ``1`` for the first.
        lr: the learning rate of this update.
        beta1, beta2, eps: Adam's decay rates and its small constant.
        weight_decay: the decoupled decay (only for the weights that decay: matrices).

    Returns:
        ``(new_param, new_m, new_v)``, float32 tensors of the weight's shape.
    """
    param, grad, m, v = (ops.cast(a, "float32") for a in (param, grad, m, v))
    m = beta1 * m + (1.0 - beta1) * grad
    v = beta2 * v + (1.0 - beta2) * ops.square(grad)
    m_hat = m / (1.0 - beta1 ** step)
    v_hat = v / (1.0 - beta2 ** step)
    param = param - lr * (m_hat / (ops.sqrt(v_hat) + eps) + weight_decay * param)
    return param, m, v
