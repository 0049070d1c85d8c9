"""Keras's AdamW with its update in one fused kernel on PyTorch (week 3, "Optimisation").

``keras.optimizers.AdamW`` on PyTorch updates the moments and the weights with about ten
multi-tensor operations (``torch._foreach_*``) a step; PyTorch has the whole update as one
fused kernel, ``torch._fused_adamw_`` (what ``torch.optim.AdamW(fused=True)`` runs). ``FusedAdamW``
is ``keras.optimizers.AdamW`` with that kernel for the update, and Keras's ``global_clipnorm``
computed with two multi-tensor operations (``torch._foreach_norm``, ``torch._foreach_mul``)
instead of three per weight; nothing else changed: Keras still decays the weights, accumulates
gradients and counts the iterations, and the moments are Keras's own variables (so checkpoints,
saved models and ``model.optimizer.variables`` are those of ``AdamW``). On JAX and TensorFlow,
whose training step is compiled whole already, it is ``AdamW``.

The same numbers: Keras writes Adam's step as ``alpha * m / (sqrt(v) + epsilon)`` with
``alpha = lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)``, PyTorch as
``lr / (1 - beta_1 ** t) * m / (sqrt(v) / sqrt(1 - beta_2 ** t) + epsilon)``; the two are equal
when PyTorch's ``epsilon`` is Keras's divided by ``sqrt(1 - beta_2 ** t)``, which is what is
passed (tested against ``AdamW``, step by step). ``amsgrad`` keeps Keras's own update.
(``adamw.py`` writes the step out for reading; this file is only about speed.)
"""

import math

import keras


@keras.saving.register_keras_serializable(package="llm_keras")
class FusedAdamW(keras.optimizers.AdamW):
    """``keras.optimizers.AdamW``, its update one fused kernel on PyTorch (arguments as
    ``AdamW``'s)."""

    def _clip_gradients(self, grads):
        """Keras's ``global_clipnorm`` (``clip_by_global_norm``: ``grads * clip / max(norm,
        clip)``, NaN for a norm that is not finite), with two multi-tensor operations on
        PyTorch where Keras makes three small ones per weight."""
        if (
            keras.backend.backend() != "torch"
            or not self.global_clipnorm
            or self.clipnorm
            or self.clipvalue
            or any(grad is None for grad in grads)
        ):
            return super()._clip_gradients(grads)
        import torch

        with torch.no_grad():
            grads = [torch.as_tensor(grad) for grad in grads]
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            clip = float(self.global_clipnorm)
            scale = clip * torch.clamp(1.0 / norm, max=1.0 / clip) + (norm - norm)
            return torch._foreach_mul(grads, scale)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if keras.backend.backend() != "torch" or self.amsgrad:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        import torch

        with torch.no_grad():
            # the number of this update (with gradient accumulation, of updates, not batches)
            step = float(keras.ops.convert_to_numpy(self.iterations)) + 1.0
            indices = [self._get_variable_index(variable) for variable in trainable_variables]
            weights = [variable.value for variable in trainable_variables]
            # Keras's epsilon, outside its bias correction (the module's docstring)
            epsilon = self.epsilon / math.sqrt(1.0 - self.beta_2**step)
            torch._fused_adamw_(
                weights,
                [torch.as_tensor(grad) for grad in grads],
                [self._momentums[i].value for i in indices],
                [self._velocities[i].value for i in indices],
                [],
                [torch.tensor(step)] * len(weights),  # read, not incremented, by the kernel
                lr=float(learning_rate),
                beta1=float(self.beta_1),
                beta2=float(self.beta_2),
                weight_decay=0.0,  # Keras decayed the weights already (_apply_weight_decay)
                eps=epsilon,
                amsgrad=False,
                maximize=False,
            )
