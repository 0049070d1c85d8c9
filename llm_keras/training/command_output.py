"""What the training commands print around ``model.fit`` (``llm-keras train``, ``sft``, ``reward``,
``dpo``, ``grpo``; week 3, "When training goes wrong").

- ``progress_verbosity``: Keras's progress bar on a terminal, one line per interval elsewhere;
- ``say_what_was_kept``: after Ctrl-C or SIGTERM (``training.safe_stop``), which checkpoint the
  run keeps and the command that goes on from it; ``kept_on_interrupt`` says it around a block.

No Keras here: the commands import this module when ``llm-keras`` builds its parser.
"""

import contextlib
import sys


def progress_verbosity(quiet):
    """``model.fit``'s ``verbose``: Keras's progress bar on a terminal; one line per interval when
    the output is a file or a pipe (a bar redrawn there writes hundreds of kilobytes), or with
    ``--quiet`` (``quiet=True``)."""
    return 2 if quiet or not sys.stdout.isatty() else "auto"


def say_what_was_kept(out, command, step_of=None, every="--eval-interval steps"):
    """After Ctrl-C or SIGTERM: print which checkpoint the run in ``out`` keeps and how to go on.

    Args:
        out: the run's folder.
        command: the ``llm-keras`` command that resumes it (``"train"``, ``"sft"``, ``"dpo"``...).
        step_of: ``None``, or a function from the checkpoint's path to the training step it
            holds, to name the step.
        every: how often checkpoints are written, in the command's words.
    """
    from llm_keras.training.checkpoint import latest_checkpoint

    kept = latest_checkpoint(out)
    if kept is None:
        print(f"\nStopped before the first checkpoint (every {every}): nothing to resume in "
              f"{out}; start again.")  # fmt: skip
        return
    what = kept.name if step_of is None else f"the checkpoint of step {step_of(kept)} ({kept.name})"
    print(f"\nStopped. {out} keeps {what}; continue with `llm-keras {command} --out {out} "
          "--resume`.")  # fmt: skip


@contextlib.contextmanager
def kept_on_interrupt(out, command):
    """Around a command's training: on Ctrl-C (or SIGTERM), ``say_what_was_kept(out, command)``,
    then let the ``KeyboardInterrupt`` go on to the command line's handler."""
    try:
        yield
    except KeyboardInterrupt:
        say_what_was_kept(out, command)
        raise
