"""`dnbot ...`: the command line. Each command lives with its use case and registers itself here.

Contract for every command: JSON (when asked) on stdout; bad input exits 2 with ONE readable line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# module -> it defines `register(subparsers)`; each registered parser sets `func(args) -> int`.
COMMAND_MODULES = (
    "dnbot.local.commands",  # dnbot local
    "dnbot.sim.commands",  # dnbot sim
    "dnbot.backtest.commands",  # dnbot opportunities, dnbot backtest
    "dnbot.ops",  # dnbot ops status | kill-switch (operator)
)


class UsageError(Exception):
    """Bad input to a command: reported as one line, exit code 2."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse prints the whole usage block on an error; a user wants the one line that says what is wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="dnbot", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            if missing.name != module_name:
                raise
            continue  # a command whose module is not built yet is simply absent
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except UsageError as bad:
        print(f"dnbot {args.command}: error: {bad}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
