"""Reading a loss curve: what went wrong in a run, and what to change (week 3,
"When training goes wrong").

A run's history is its training loss and its validation loss at each evaluation. Four shapes
cover the course's troubleshooting table, tested in this order:

- ``"diverging"``: a loss becomes NaN or infinite, or the training loss ends above where it
  began. Remedy: lower the learning rate and clip the gradients.
- ``"flat"``: the training loss never falls by a tenth of its first value. Remedy: raise the
  learning rate.
- ``"overfitting"``: the validation loss ends more than 0.2 above its lowest value. Remedy: add
  data, dropout or stop early.
- ``"healthy"``: none of these. Keep training.

The thresholds suit a character model's losses (about 4.2 nats at the start, 1 to 2 at the
end); the week 3 notebook's diagnosis exercise asks for this same rule.
"""

import math

REMEDIES = {
    "diverging": "lower the learning rate and clip the gradients",
    "flat": "raise the learning rate",
    "overfitting": "add data, dropout or stop early",
    "healthy": "keep training",
}


def diagnose_loss_history(history):
    """The problem a loss history shows and its remedy.

    Args:
        history: ``{"train_loss": [...], "val_loss": [...]}``, one float per evaluation, in the
            order of the run (the same length, at least 2).

    Returns:
        ``(problem, remedy)``: a key of ``REMEDIES`` and its value.
    """
    train = [float(x) for x in history["train_loss"]]
    val = [float(x) for x in history["val_loss"]]
    if len(train) < 2 or len(val) < 2:
        raise ValueError(
            f"A history needs at least 2 evaluations of each loss, got {len(train)} training "
            f"and {len(val)} validation losses."
        )
    if not all(math.isfinite(x) for x in train + val) or train[-1] > train[0]:
        problem = "diverging"
    elif train[0] - min(train) < 0.1 * train[0]:
        problem = "flat"
    elif val[-1] - min(val) > 0.2:
        problem = "overfitting"
    else:
        problem = "healthy"
    return problem, REMEDIES[problem]
