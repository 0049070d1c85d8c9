"""``python -m llm_keras.serving --checkpoint DIR [options]``: the same as ``llm-keras serve``."""

import argparse
import sys

from llm_keras.serving.command import add_serve_command


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m llm_keras.serving")
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_command(commands)
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.handler(args) or 0
    except ValueError as error:  # a missing run directory, a bad limit: one line, no traceback
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
