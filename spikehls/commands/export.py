"""``spikehls export``: slim, fold, quantize (QAT) and export a training run (quantize/export_run.py)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="quantize a training run and write intnet.npz, model.qonnx.onnx, testvectors.npz, export.json",
        description=(
            "Read a training run (checkpoint.pt + masks), remove the pruned channels, fold BatchNorm, fine-tune "
            "with quantization-aware training and write DIR/quantized.pt, DIR/intnet.npz, DIR/model.qonnx.onnx, "
            "DIR/testvectors.npz and DIR/export.json. The quantized PyTorch model, the integer reference and "
            "QONNX are checked against each other spike for spike."
        ),
    )
    p.add_argument("--run", required=True, metavar="DIR", help="training run directory (from 'spikehls train')")
    p.add_argument("--config", metavar="FILE",
                   help="YAML config whose 'quant' section replaces the run's (bits, QAT epochs, ...)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--nir", action="store_true", help="also write DIR/model.nir (float network) and DIR/model.int.nir "
                   "(quantized network) as NIR graphs (docs/nir.md)")
    p.add_argument("--dt", type=float, default=1e-3, help="with --nir: time step written into the graphs (default 1e-3 s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.fileio import lock_dir
    from spikehls.quantize.export_run import export_run

    with lock_dir(args.run):  # the run is written: a second export, a trainer or an hls reading it is refused
        if getattr(args, "nir", False):  # the float graph first: what NIR cannot express fails before any work
            from pathlib import Path

            from spikehls.nir_io import export_float_nir

            export_float_nir(args.run, Path(args.run) / "model.nir", args.dt)
        s = export_run(args.run, args.config, progress=not args.no_progress and sys.stderr.isatty(),
                       log=lambda m: print(m, file=sys.stderr))
        if getattr(args, "nir", False):
            from spikehls.nir_io import export_nir

            written = export_nir(args.run, args.dt)
            print(f"wrote {written['float']} (float) and {written['quantized']} (quantized)")
    print(f"float accuracy {s['float_accuracy']:.2%}  quantized {s['quantized_accuracy']:.2%}  "
          f"torch/reference mismatches {s['reference_mismatches']}  QONNX mismatches {s['qonnx_mismatches']}")
    print(f"parameters {s['parameters']['kept']:,}/{s['parameters']['dense']:,}  channels "
          f"{s['channels']['kept']}/{s['channels']['dense']}  SynOps/sample {s['synops_per_sample']:,.0f}")
    from spikehls.training.synops import ENERGY_LABEL

    print(f"{ENERGY_LABEL}: {s['energy_pj_per_sample'] / 1e3:,.1f} nJ/sample")
    print(f"wrote {args.run}/export.json")
    return 0
