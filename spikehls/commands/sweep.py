"""``spikehls sweep``: resource-vs-accuracy sweeps over a grid, a random sample or an Optuna search."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="resource-vs-accuracy sweep: many points of the flow, results table, Pareto front",
        description=(
            "Run the flow (train or fine-tune from a shared dense checkpoint, export, HLS, C-sim, report) for every "
            "point of a sweep file (axes over run-config fields such as sca.p, quant.w_bits, train.time_steps, "
            "encoding.kind, quant.v_bits, and hls.parallelism; search grid, random or optuna). Each finished point "
            "is appended to DIR/results.csv and DIR/results.jsonl at once; rerunning the same command resumes and "
            "skips finished points. Ends with the Pareto front (accuracy vs each resource and latency) in the CSV, "
            "DIR/pareto.png, DIR/axes.png and a printed table."
        ),
    )
    p.add_argument("--config", type=Path, required=True, help="sweep YAML file (see examples/sweeps/)")
    p.add_argument("--out", type=Path, required=True, help="results folder (created; an existing one is resumed)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel workers, one task per core (default: the number of cores; with Ray: the cluster's CPUs)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="run the points as Ray tasks on an existing cluster (HOST:PORT, ray://..., or auto); needs ray")
    p.add_argument("--retry-failed", action="store_true", help="on resume, run failed points again")
    from spikehls.verify_sources import VERIFY_LAYERS, VERIFY_SOURCES  # one list with codesign --verify

    p.add_argument("--verify", choices=[v for v in VERIFY_SOURCES if v], default=None,
                   help="yosys: also synthesize every exact point's Verilog twin with yosys and record its "
                        "LUT/FF/BRAM18/URAM/DSP (columns yosys_*, fits_yosys) beside the model's estimate. "
                        f"yosys-layers: for designs too large to synthesize whole, the {VERIFY_LAYERS} largest layers alone; "
                        "records their measured/model ratio and the model's LUT/FF scaled by it (columns "
                        "yosys_layers_*, fits_yosys_layers): an indication, not a yosys total. Both need "
                        "spikehls[rtl] and take minutes per point; the fronts stay on the estimate")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.errors import SpikehlsError
    from spikehls.sweep import load_sweep, run_sweep

    if args.workers is not None and args.workers < 1:
        raise SpikehlsError(f"--workers must be >= 1 (got {args.workers})")
    from spikehls.fileio import check_out_dir, lock_dir

    if args.verify:  # a missing yosys is an error now, not after the first training
        from spikehls.hls.rtl.synth import _yosys

        _yosys()
    spec = load_sweep(args.config)
    check_out_dir(args.out, "sweep", inputs=[args.config])  # new, empty, or a sweep (resumed)
    from spikehls.sweep.store import ResultsStore

    ResultsStore.check_reusable(args.out, spec, args.verify)  # a resumed folder: same base config and --verify
    with lock_dir(args.out):  # a second sweep on the folder is refused, naming this one
        res = run_sweep(spec, args.out, workers=args.workers, ray_address=args.ray_address, progress=not args.quiet,
                        retry_failed=args.retry_failed, verify=args.verify)
    print(res.table)
    print(f"\n{res.done} point(s) done, {res.failed} failed, {res.skipped} skipped (finished before); "
          f"{res.trained} training run(s); {res.seconds:.0f} s")
    print(f"results: {res.out / 'results.csv'}  plots: {res.out / 'pareto.png'}, {res.out / 'axes.png'}")
    return 1 if res.failed else 0
