"""``spikehls`` command line.

Each subcommand lives in its own module under :mod:`spikehls.commands` and exposes
``register(subparsers)``; the module sets ``func`` on its parser. User errors
(:class:`~spikehls.errors.SpikehlsError`) print one ``error:`` line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from . import __version__
from .errors import SpikehlsError

# order = order in --help
COMMANDS = [
    "train",
    "export",
    "hls",
    "csim",
    "report",
    "rtl",  # also registers rtlsim and synth
    "codesign",
    "run",
    "sweep",
    "boards",
    "config",
    "import_",  # spikehls import (NIR graphs, Tonic event data)
]


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error convention (exit code 2, as argparse does)."""

    def error(self, message: str):  # noqa: D102
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="spikehls",
        description=(
            "Spiking CNNs from PyTorch to FPGA: train with SCA channel pruning, quantize and export "
            "through QONNX, generate an accumulate-only hls4ml project, C-simulate it, and fit it to a board."
        ),
        epilog="Run 'spikehls COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"spikehls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"spikehls.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"spikehls.commands.{name}":
                continue  # command not part of this build
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from . import fileio

    parser = build_parser()
    args = parser.parse_args(argv)
    fileio.COMMAND = " ".join(["spikehls", *(sys.argv[1:] if argv is None else map(str, argv))])  # named in locks
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except SpikehlsError as err:
        sys.stderr.write(f"error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
