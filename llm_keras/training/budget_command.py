"""``llm-keras budget``: what training a GPT on N tokens costs (week 5, "The compute budget").

    llm-keras budget --preset gpt2-small --tokens 10e9 --device h100 --utilisation 0.4
    llm-keras budget --preset gpt2-small --tokens 10e9 --device a100 --precision fp32 --batch 16
    llm-keras budget --preset gpt2-small --tokens 10e9 --data-parallel 8 --zero-stage 2

prints ``llm_keras.training.budget.compute_budget``'s table: parameters, training FLOPs,
device-hours and wall-clock time, and AdamW's memory per device next to the device's memory.
"""

from __future__ import annotations

import argparse


def add_budget_command(commands) -> None:
    """Add ``budget`` to the ``llm-keras`` sub-commands."""
    from llm_keras.training.budget import DEVICES, PRECISIONS  # (imports no Keras)

    budget = commands.add_parser(
        "budget",
        help="FLOPs, memory per device and device-hours of a training run",
        description=__doc__.split("\n\n")[0],
    )
    budget.add_argument("--preset", default="gpt2-small",
                        help="the model, a preset of llm_keras.models (default gpt2-small)")
    budget.add_argument("--tokens", type=float, required=True,
                        help="tokens trained on, all epochs together (e.g. 10e9)")
    budget.add_argument("--device", default="h100",
                        help=f"{', '.join(DEVICES)} (default h100)")
    budget.add_argument("--utilisation", type=float, default=0.4,
                        help="fraction of the peak FLOP/s achieved, in (0, 1] (default 0.4)")
    budget.add_argument("--batch", type=int, default=1,
                        help="sequences per device in a micro-batch (default 1)")
    budget.add_argument("--precision", default="mixed",
                        help=f"{' or '.join(PRECISIONS)} (default mixed: bfloat16 compute)")
    budget.add_argument("--data-parallel", type=int, default=1,
                        help="devices that each train on part of the batch (default 1)")
    budget.add_argument("--tensor-parallel", type=int, default=1,
                        help="devices that split each layer's weights (default 1)")
    budget.add_argument("--zero-stage", type=int, default=0,
                        help="ZeRO sharding over the data-parallel devices: 0-3 (default 0)")
    budget.set_defaults(handler=run_budget)


def run_budget(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras budget`` (bad values raise ValueErrors that name them)."""
    from llm_keras.training.budget import compute_budget

    budget = compute_budget(
        args.preset, args.tokens, device=args.device, utilisation=args.utilisation,
        batch_size=args.batch, precision=args.precision, zero_stage=args.zero_stage,
        data_parallel=args.data_parallel, tensor_parallel=args.tensor_parallel,
    )
    print(budget)
    return 0
