"""The learning-rate schedule: linear warm-up, then cosine decay (week 3, "Optimisation").

Early on, Adam's estimates of the gradients' scale are poor and big steps can wreck the fresh
network, so the rate climbs linearly for ``warmup_steps``; then it follows half a cosine down to
``min_learning_rate`` at ``decay_steps``, and stays there. This is nanoGPT's ``get_lr``, value
for value::

    it < warmup:   peak * (it + 1) / (warmup + 1)
    it > decay:    min
    otherwise:     min + 0.5 * (1 + cos(pi * (it - warmup) / (decay - warmup))) * (peak - min)

With gradient accumulation, Keras calls the schedule with its micro-batch counter; the schedule
divides it by ``accumulation_steps`` so that ``it`` counts optimizer updates, as nanoGPT's does.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="llm_keras")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """nanoGPT's learning rate at each optimizer step: linear warm-up, cosine decay, a floor.

    Args:
        peak_learning_rate: the rate reached at the end of the warm-up (nanoGPT: 1e-3).
        warmup_steps: steps of linear warm-up (nanoGPT: 100).
        decay_steps: the step at which the decay reaches ``min_learning_rate`` (nanoGPT: the
            number of training steps); must be larger than ``warmup_steps``.
        min_learning_rate: the floor (nanoGPT: ``peak / 10``).
        accumulation_steps: micro-batches per optimizer update (the optimizer's
            ``gradient_accumulation_steps``, or 1).

    Example:
        >>> schedule = WarmupCosineDecay(1e-3, warmup_steps=100, decay_steps=2000,
        ...                              min_learning_rate=1e-4)
        >>> float(schedule(0)), float(schedule(99)), float(schedule(2000))
        (9.9e-06, 0.00099, 0.0001)
    """

    def __init__(
        self,
        peak_learning_rate,
        warmup_steps,
        decay_steps,
        min_learning_rate=0.0,
        accumulation_steps=1,
    ):
        if not 0 <= min_learning_rate <= peak_learning_rate:
            raise ValueError(
                f"Need 0 <= min_learning_rate <= peak_learning_rate, got min_learning_rate="
                f"{min_learning_rate} and peak_learning_rate={peak_learning_rate}."
            )
        if not 0 <= warmup_steps < decay_steps:
            raise ValueError(
                f"Need 0 <= warmup_steps < decay_steps, got warmup_steps={warmup_steps} and "
                f"decay_steps={decay_steps}: the cosine decay starts after the warm-up and "
                "ends at decay_steps (usually the number of training steps)."
            )
        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}.")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps
        self.min_learning_rate = min_learning_rate
        self.accumulation_steps = accumulation_steps

    def __call__(self, step):
        it = ops.cast(ops.floor_divide(ops.cast(step, "int32"), self.accumulation_steps), "float32")
        peak, low = self.peak_learning_rate, self.min_learning_rate
        warmup, decay = self.warmup_steps, self.decay_steps
        warming = peak * (it + 1.0) / (warmup + 1.0)
        ratio = ops.clip((it - warmup) / (decay - warmup), 0.0, 1.0)
        cosine = low + 0.5 * (1.0 + ops.cos(math.pi * ratio)) * (peak - low)
        return ops.where(it < warmup, warming, ops.where(it > decay, low, cosine))

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "min_learning_rate": self.min_learning_rate,
            "accumulation_steps": self.accumulation_steps,
        }
