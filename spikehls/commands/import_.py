"""``spikehls import``: bring a network (NIR) or event data (Tonic) from the SNN ecosystem (docs/nir.md)."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  spikehls import --nir net.nir --out runs/imported          # calibration data, events encoding
  spikehls import --nir net.nir --out runs/a --config my.yaml --dt 1e-3
  spikehls export --run runs/imported && spikehls hls --run runs/imported --out prj
  spikehls import --tonic nmnist_events/ --out data/nmnist.npz --sensor 34 34 2 --time-steps 8
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import a NIR graph as a run directory, or Tonic event data as an .npz dataset",
        description=(
            "--nir FILE --out RUN: map a NIR graph (Conv2d, Affine/Linear, Scale, IF, LIF, CubaLIF with tau_syn = dt, "
            "SumPool2d/AvgPool2d, Flatten, Threshold after a sum pool) onto the integer contract and write a run "
            "directory (config.yaml, checkpoint.pt, masks.json, summary.json, import.json) that export, hls, csim, "
            "codesign and sweep accept. Anything that cannot be mapped exactly is one error line naming the node "
            "and the parameter. --tonic SRC --out FILE.npz: convert Tonic event arrays or ToFrame frames into a "
            "'numpy' dataset (dataset.name: numpy, encoding.kind: events)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--nir", metavar="FILE", help="NIR graph (HDF5, from nir.write or a framework's export)")
    src.add_argument("--tonic", metavar="SRC", help="Tonic data: a folder of per-sample event files (one subfolder "
                     "per class), or an .npz/.npy of events or [N, T, P, H, W] frames")
    p.add_argument("--out", required=True, metavar="PATH", help="run directory (--nir) or .npz file (--tonic)")
    p.add_argument("--config", metavar="FILE", help="--nir: take dataset, encoding, train, sca, optim and quant from "
                   "this config (default: a calibration set labelled by the imported network)")
    p.add_argument("--dt", type=float, help="--nir: time step in seconds (default: the graph's metadata, else 1e-3)")
    p.add_argument("--time-steps", type=int, metavar="T", help="time steps (default: the config's; --tonic: 8)")
    p.add_argument("--w-bits", type=int, metavar="B", help="--nir: weight bits where the weights are not already on "
                   "a power-of-two grid (default 8)")
    p.add_argument("--max-leak-error", type=float, default=None, metavar="E",
                   help="--nir: refuse a LIF whose power-of-two leak changes its impulse response by more than E "
                   "over T steps (default 0.1)")
    p.add_argument("--sensor", type=int, nargs=3, metavar=("W", "H", "P"),
                   help="--tonic: sensor size (default: from the data)")
    p.add_argument("--counts", choices=["binary", "split", "error"], default="binary",
                   help="--tonic: what counts > 1 in a frame become (default binary: one spike, reported)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="--tonic: held-out fraction (default 0.2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.errors import SpikehlsError

    if args.nir:
        from spikehls.nir_io import MAX_LEAK_ERROR, describe, import_nir

        rep = import_nir(args.nir, args.out, dt=args.dt, config=args.config, time_steps=args.time_steps,
                         max_leak_error=MAX_LEAK_ERROR if args.max_leak_error is None else args.max_leak_error,
                         w_bits=args.w_bits, log=lambda m: print(m, file=sys.stderr))
        print(describe(rep))
        print(f"float accuracy {rep['float_accuracy']:.2%}" + (" (agreement with itself on the calibration set)"
                                                               if rep["calibration"] else ""))
        print(f"wrote {args.out} (next: spikehls export --run {args.out})")
        return 0
    from spikehls.training.tonic import convert

    if args.config or args.dt or args.w_bits:
        raise SpikehlsError("--config, --dt and --w-bits apply to --nir only")
    rep = convert(args.tonic, args.out, time_steps=args.time_steps or 8, sensor_size=args.sensor,
                  counts=args.counts, test_fraction=args.test_fraction)
    print(f"wrote {args.out}: {rep['train']} training and {rep['test']} test samples of [T={rep['time_steps']}, "
          f"C={rep['channels']}, H={rep['height']}, W={rep['width']}], {rep['num_classes']} classes; "
          f"{rep['counts_above_one']:.2%} of active frame entries had counts > 1 ({rep['counts']})")
    return 0
