"""``spikehls codesign``: the hardware feedback loop until the design fits the board."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "codesign",
        help="train, export, generate HLS, C-simulate and report until the design fits the board",
        description=(
            "The co-design loop: train with SCA pruning -> slim -> QAT -> QONNX -> HLS -> C-sim -> report. "
            "While the design is over the board's budget (any resource over its allowed fraction, or the "
            "board's optional hls.max_latency_us), plan per-layer channel caps with the resource model "
            "(channels that cost most per unit of activity go first), continue training under those caps, "
            "and repeat (codesign.max_iters in the config). Writes DIR/codesign.json, DIR/codesign.png "
            "and the final project in DIR/hls/. Rerun on an interrupted DIR with the same options to resume it."
        ),
    )
    p.add_argument("--config", type=Path, default=None, help="run config YAML (default: the embedded digits config)")
    p.add_argument("--board", default="pynq-z2", help="bundled board name or board YAML file (default: pynq-z2)")
    p.add_argument("--out", type=Path, default=Path("runs/codesign"), help="output directory (default: runs/codesign)")
    p.add_argument("--parallelism", type=int, default=None, help="weight additions per cycle per layer (default: board)")
    p.add_argument("--max-iters", type=int, default=None, help="override codesign.max_iters")
    p.add_argument("--strategy", choices=["cost_per_activity", "uniform"], default=None,
                   help="override codesign.strategy (uniform = same sparsity in every layer, the baseline)")
    p.add_argument("--distill", action="store_true",
                   help="set codesign.distill: every fine-tuning after the first (and its QAT) learns from iteration 0's "
                        "network as a teacher (knowledge distillation; train.distill_weight / distill_temperature)")
    p.add_argument("--from-run", type=Path, default=None,
                   help="start from this training run (spikehls train) instead of training iteration 0; "
                        "its config is used, with the codesign and quant sections of --config when given")
    from spikehls.verify_sources import VERIFY_LAYERS, VERIFY_SOURCES  # one list with sweep --verify

    p.add_argument("--verify", choices=[v for v in VERIFY_SOURCES if v], default=None,
                   help="synthesize a design the model says fits (its Verilog twin, with yosys); if yosys says it "
                        "does not fit, correct the budget by the measured ratio and go on (needs spikehls[rtl]). "
                        f"yosys-layers: for designs too large to synthesize whole, the {VERIFY_LAYERS} largest layers alone, the "
                        "model's LUT / FF scaled by their measured ratio (an indication, recorded as one)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def check_run(path: Path, option: str) -> None:
    """A training run's config and checkpoint exist and its config is valid."""
    from spikehls.config import load_config
    from spikehls.errors import SpikehlsError

    if not path.is_dir():
        raise SpikehlsError(f"{option} {path}: training run folder not found")
    for name in ("config.yaml", "checkpoint.pt"):
        if not (path / name).is_file():
            raise SpikehlsError(f"{option} {path}: not a training run (no {name}; make one with 'spikehls train')")
    load_config(path / "config.yaml")


def run(args: argparse.Namespace) -> int:
    from spikehls.boards import load_board
    from spikehls.codesign import codesign
    from spikehls.config import load_config
    from spikehls.summary import print_summary

    from spikehls.commands.hls import check_parallelism
    from spikehls.config import set_field
    from spikehls.codesign import check_codesign_dir

    # everything a user can get wrong, checked before any work
    cfg = load_config(args.config)
    if args.max_iters is not None:
        set_field(cfg, "codesign.max_iters", args.max_iters, "--max-iters")
    if args.strategy is not None:
        cfg.codesign.strategy = args.strategy
    if args.distill:
        cfg.codesign.distill = True
    check_parallelism(args.parallelism)
    board = load_board(args.board)  # fail on a bad board before any work
    if args.from_run is not None:
        check_run(args.from_run, "--from-run")
    check_codesign_dir(args.out, args.from_run)
    if args.verify:  # a missing yosys is an error now, not after the training
        from spikehls.hls.rtl.synth import _yosys

        _yosys()
    result = codesign(cfg, board, args.out, progress=not args.quiet, parallelism=args.parallelism,
                      from_run=args.from_run, quant_from_cfg=args.config is not None, verify=args.verify)
    print_summary(result, args.out)
    return 0 if result["fits"] else 1
