"""Ctrl-C and SIGTERM during training: noted, then raised between two steps (llm_keras.interrupts,
training.safe_stop). The signals are real (os.kill to this process), with the commands' handlers."""

import os
import signal

import keras
import numpy as np
import pytest

from llm_keras import interrupts
from llm_keras.interrupts import (
    raise_if_stop_requested,
    stop_at_safe_points,
    stop_on_interrupt_and_terminate,
)
from llm_keras.training.safe_stop import StopBetweenSteps


@pytest.fixture(autouse=True)
def command_handlers():
    saved = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    stop_on_interrupt_and_terminate()
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)
    interrupts._requested = None


def send(number=signal.SIGINT):
    os.kill(os.getpid(), number)  # the handler runs before the next bytecode of this thread


def test_outside_a_training_loop_a_signal_raises_at_once():
    for number in (signal.SIGINT, signal.SIGTERM):
        with pytest.raises(KeyboardInterrupt, match=signal.Signals(number).name):
            send(number)


def test_inside_a_section_the_first_signal_waits_for_a_safe_point_and_the_second_does_not():
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        with stop_at_safe_points():
            send(signal.SIGTERM)  # noted, not raised
            np.sum(np.ones(1000))  # more bytecodes run
            raise_if_stop_requested()
            pytest.fail("raise_if_stop_requested did not raise")
    with stop_at_safe_points():
        send()
        with pytest.raises(KeyboardInterrupt, match="SIGINT"):
            send()  # pressed twice: at once
        raise_if_stop_requested()  # nothing is left pending


def test_a_signal_in_the_last_step_is_raised_when_the_section_ends():
    with pytest.raises(KeyboardInterrupt, match="SIGINT"):
        with stop_at_safe_points():
            send()
    with stop_at_safe_points():  # and it is not raised again later
        pass
    with pytest.raises(ValueError), stop_at_safe_points():  # another error ends the section
        send()
        raise ValueError("diverged")
    with stop_at_safe_points():
        pass


class Swallowing(keras.callbacks.Callback):
    """At one step, a signal arrives inside library code with a bare ``except:``."""

    def __init__(self, at_step):
        super().__init__()
        self.at_step, self.steps = at_step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at_step:
            try:
                send()
                np.sum(np.ones(1000))  # more bytecodes: Python's handler would raise in here
            except:  # noqa: E722  (as keras.src.saving.saving_lib does around a temporary file)
                pass


def fit(callbacks, steps=8):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((steps * 2, 3), "float32"), np.ones((steps * 2, 1), "float32")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=callbacks)


def test_fit_stops_before_the_next_step_even_when_library_code_swallows_the_interrupt():
    swallowing = Swallowing(at_step=3)
    with pytest.raises(KeyboardInterrupt, match="SIGINT"):
        with stop_at_safe_points():
            fit([swallowing, StopBetweenSteps()])
    assert swallowing.steps == 3  # stopped before step 4 of 8

    # Without the safe points (the handler raising where the signal lands), the same
    # interrupt is lost and training runs to its end: the defect this module removes.
    lost = Swallowing(at_step=3)
    fit([lost])
    assert lost.steps == 8
