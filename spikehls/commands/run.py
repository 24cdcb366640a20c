"""``spikehls run``: the main job, co-design on the embedded default (scikit-learn digits)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="the whole flow on the embedded digits dataset for a board (start here)",
        description=(
            "Train a small spiking CNN on scikit-learn's digits with SCA channel pruning, quantize it, export it "
            "through QONNX, generate an accumulate-only hls4ml project for the board, C-simulate it spike for "
            "spike against the integer reference, estimate resources and latency, and prune further until it "
            "fits. Ends with a short summary. Same as 'spikehls codesign' with the default config."
        ),
    )
    p.add_argument("--board", default="pynq-z2", help="bundled board name or board YAML file (default: pynq-z2)")
    p.add_argument("--out", type=Path, default=Path("runs/digits"), help="output directory (default: runs/digits)")
    p.add_argument("--config", type=Path, default=None, help="use this config instead of the embedded default")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.boards import load_board
    from spikehls.codesign import codesign
    from spikehls.config import load_config
    from spikehls.summary import print_summary

    from spikehls.codesign import check_codesign_dir

    cfg = load_config(args.config)
    board = load_board(args.board)
    check_codesign_dir(args.out)  # a new, empty or interrupted co-design folder (resumed)
    result = codesign(cfg, board, args.out, progress=not args.quiet)
    print_summary(result, args.out)
    return 0 if result["fits"] else 1
