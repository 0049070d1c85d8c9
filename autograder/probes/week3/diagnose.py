"""Probe for week 3, exercise 9: ``diagnose(history)``, the problem a loss history shows and its
remedy; the reference is ``llm_keras.training.diagnosis.diagnose_loss_history``.

The histories come from a simulation of a character model's runs (losses from ln 65 = 4.17 down,
evaluated every few hundred steps) with hidden seeds: three runs of each problem, in a hidden
order. Each run is one check of equal weight, so an answer that names the same problem every time
scores exactly a quarter of the points, what guessing scores on average.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="diagnose",
    answer_cells=("diagnose-answer",),
    grade_cell="diagnose-check",
    names=("diagnose",),
    graded=("llm_keras.training.diagnosis.diagnose_loss_history",),
)

PROBLEMS = ("diverging", "flat", "overfitting", "healthy")
RUNS_PER_PROBLEM = 3
RUNS = len(PROBLEMS) * RUNS_PER_PROBLEM
HINT = ("Test in the order of the table: a NaN or inf, or a last training loss above the first: "
        "diverging; a fall of less than a tenth of the first training loss: flat; a last "
        "validation loss more than 0.2 above its lowest: overfitting; else healthy. Return "
        "`(problem, REMEDIES[problem])`.")
CHECKS = tuple(Check(f"run {i + 1} of {RUNS}", output=f"run_{i}", dtype="int",
                     kinds=("ndarray", "tensor", "list", "int"), exact=True, hint=HINT)
               for i in range(RUNS))


def simulate(rng, problem):
    """``(train_loss, val_loss)`` of one simulated run showing ``problem``, float64 arrays.

    A healthy run falls as ``floor + (start - floor) * exp(-t / tau)`` with a little noise, its
    validation loss a little above; an overfitting one's training loss keeps falling while its
    validation loss turns up by 0.5 to 1.2 after a point; a diverging one (too high a learning
    rate, no clipping) falls, then blows up, to NaN half of the time; a flat one (too low a
    learning rate) falls by 3 to 7 % of its start.
    """
    evaluations = int(rng.integers(12, 40))
    t = np.linspace(0.0, 1.0, evaluations)
    start = np.log(65) + rng.normal(0, 0.02)
    noise = rng.uniform(0.003, 0.02)
    floor = rng.uniform(1.0, 2.0)
    tau = rng.uniform(0.05, 0.12)
    falling = floor + (start - floor) * np.exp(-t / tau)
    gap = rng.uniform(0.02, 0.15)
    if problem == "flat":
        train = start - rng.uniform(0.03, 0.07) * start * t ** rng.uniform(0.5, 1.5)
        val = train + rng.uniform(0.0, 0.03)
    elif problem == "overfitting":
        turn = rng.uniform(0.4, 0.75)
        after = np.clip(t - turn, 0, None) / (1 - turn)  # 0 until the turn, then up to 1
        train = falling - rng.uniform(0.3, 1.0) * after
        val = falling + gap + rng.uniform(0.5, 1.2) * after ** rng.uniform(1.0, 1.5)
    elif problem == "diverging":
        turn = rng.uniform(0.2, 0.7)
        growth = rng.uniform(1.5, 4.0) * start * np.clip(t - turn, 0, None) / (1 - turn)
        train = falling + growth ** rng.uniform(1.0, 2.0)
        val = train + gap
        if rng.random() < 0.5:  # the run ends in NaN from some evaluation after the turn on
            first_nan = int(np.ceil(rng.uniform(turn, 1.0) * (evaluations - 1)))
            train[first_nan:], val[first_nan:] = np.nan, np.nan
        else:  # a loss that ends well above where it started
            train[-1] = max(train[-1], start * rng.uniform(1.2, 3.0))
    else:
        train, val = falling, falling + gap * (1 - np.exp(-t / tau))
    train = train + noise * rng.normal(size=evaluations)
    val = val + noise * rng.normal(size=evaluations)
    return train, val


def inputs(rng):
    problems = [p for p in PROBLEMS for _ in range(RUNS_PER_PROBLEM)]
    order = rng.permutation(RUNS)
    histories = [simulate(rng, problems[i]) for i in order]
    length = max(len(train) for train, _ in histories)
    # One row per run, padded with inf after its last evaluation (the probe cuts it off).
    train, val = (np.full((RUNS, length), np.inf) for _ in range(2))
    lengths = np.zeros(RUNS, dtype="int64")
    for row, (t, v) in enumerate(histories):
        train[row, :len(t)], val[row, :len(v)], lengths[row] = t, v, len(t)
    return {"train_loss": train, "val_loss": val, "lengths": lengths}


def probe(learner, inputs):
    answers = (("diverging", "lower the learning rate and clip the gradients"),
               ("flat", "raise the learning rate"),
               ("overfitting", "add data, dropout or stop early"),
               ("healthy", "keep training"))
    outputs = {}
    for row, length in enumerate(inputs["lengths"]):
        history = {"train_loss": [float(x) for x in inputs["train_loss"][row, :int(length)]],
                   "val_loss": [float(x) for x in inputs["val_loss"][row, :int(length)]]}
        answer = learner.diagnose(history)
        pair = tuple(answer) if isinstance(answer, tuple | list) and len(answer) == 2 else None
        outputs[f"run_{row}"] = answers.index(pair) if pair in answers else -1
    return outputs


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.diagnosis import diagnose_loss_history

    return {k: np.array(v) for k, v in
            probe(SimpleNamespace(diagnose=diagnose_loss_history), inputs).items()}
