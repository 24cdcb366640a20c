"""``spikehls hls``: generate the hls4ml project of a run for a board."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SpikehlsError


def _layer_par(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected LAYER=N with N >= 1, got '{text}'")
    return name, int(value)


def check_parallelism(value, option: str = "--parallelism") -> None:
    """The one range of a parallelism setting: the board schema's (hls.parallelism)."""
    if value is None:
        return
    from spikehls.boards import HLSDefaults
    from spikehls.config import field_range

    lo, hi = field_range(HLSDefaults, "parallelism")
    if not lo <= value <= hi:
        raise SpikehlsError(f"{option} {value}: must be in {lo}..{hi} (weight additions per cycle per layer)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hls",
        help="generate the HLS project (hls4ml) of an exported run for a board",
        description=(
            "Turn RUN/model.qonnx.onnx into a complete hls4ml project for the board's part and clock, "
            "with spike-driven accumulate-only layers and a testbench filled from RUN/testvectors.npz."
        ),
    )
    p.add_argument("--run", required=True, type=Path, help="run directory holding model.qonnx.onnx (and testvectors.npz)")
    p.add_argument("--board", required=True, help="bundled board name or board YAML file")
    p.add_argument("--out", required=True, type=Path,
                   help="project directory to write: new or empty (an existing spikehls project only with --force)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing spikehls HLS project in --out (atomically; any other folder is never replaced)")
    p.add_argument("--parallelism", type=int, default=None, help="weight additions per cycle for every layer (default: board)")
    p.add_argument(
        "--layer-parallelism", type=_layer_par, nargs="+", default=[], metavar="LAYER=N", help="per-layer override(s)"
    )
    p.add_argument("--accelerator", action="store_true",
                   help="also write PRJ/accelerator/: an AXI4-Stream (data) + AXI-Lite (control) wrapper of the top, "
                        "the Vivado block design for the board (Zynq-7000 / Zynq UltraScale+) and a PYNQ driver")
    p.add_argument("--project-name", default="myproject",
                   help="name of the top function and the IP (default myproject; two IPs in one design need two names)")
    p.add_argument("--namespace", default=None, help="C++ namespace around the generated code (default none)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.hls.project import generate_project

    from spikehls.boards import load_board
    from spikehls.fileio import check_out_dir, lock_dir

    onnx_path = args.run / "model.qonnx.onnx"
    if not onnx_path.is_file():
        raise SpikehlsError(f"{onnx_path}: not found (run 'spikehls export' first)")
    check_parallelism(args.parallelism)
    tv = args.run / "testvectors.npz"
    check_out_dir(args.out, "hls", inputs=[args.run], replace=args.force)  # before any work
    board = load_board(args.board)
    with lock_dir(args.run, shared=True):  # an export rewriting the run meanwhile is refused
        model = generate_project(
            onnx_path,
            board,
            args.out,
            testvectors=tv if tv.is_file() else None,
            parallelism=args.parallelism,
            layer_overrides=dict(args.layer_parallelism),
            replace=args.force,
            project_name=args.project_name,
            namespace=args.namespace,
            accelerator=args.accelerator,
        )
    cfg = model.config.config
    print(f"wrote {args.out}  ({cfg['Backend']}, part {cfg['Part']}, clock {cfg['ClockPeriod']} ns)")
    for lyr in model.get_layers():
        if lyr.get_attr("nnz") is not None:
            kind = "MAC" if getattr(lyr, "input_is_pixels", lambda: False)() else "add-only"
            print(f"  {lyr.name:<20}{lyr.class_name:<15}{kind:<9}nonzero weights {lyr.get_attr('nnz'):>8}   parallelism {lyr.get_attr('parallelism')}")
    if not tv.is_file():
        print(f"  note: {tv} not found; tb_data/ is empty and 'spikehls csim' needs test vectors")
    from spikehls.hls.project import build_commands

    if args.accelerator:
        top = f"{args.project_name}_axi"
        print(f"  accelerator {args.out / 'accelerator'}: {top} (AXI4-Stream in/out, AXI-Lite control), "
              "block_design.tcl, spikehls_driver.py (PYNQ)")

    print(f"next: spikehls csim --project {args.out}   (g++, no vendor tools); to synthesize, in {args.out}:")
    for ver, cmd in build_commands(cfg["Backend"]):
        print(f"  {cmd:<46}# {ver}")
    print(f"  (csim + csynth + IP export; co-simulation/Vivado synthesis opt-in: see {args.out / 'README.md'})")
    return 0
