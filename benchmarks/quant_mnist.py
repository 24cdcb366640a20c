"""MNIST: accuracy of the SCA-pruned model (p = 0.7) in float vs after QAT at 2, 4 and 8 weight bits.

Target (issue 3): 4-bit weights lose at most 0.5 points against the float SCA model.

Also measures the two orders of SCA and QAT the design card asks about:
* ``after``:  SCA training in float, then slim + fold + QAT fine-tuning (the export stage);
* ``during``: SCA training with power-of-two fake-quantized weights (``qat.enable_weight_qat``,
  4-bit), then the same export stage.

Every quantized model is also checked against the integer reference on the whole test set
(``reference_mismatches`` must be 0). Results: ``benchmarks/results/quant_mnist.json``.

    python benchmarks/quant_mnist.py                       # full MNIST (slow on 2 CPU cores)
    python benchmarks/quant_mnist.py --train-limit 20000 --epochs 4 --qat-epochs 1
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from spikehls.config import config_from_dict
from spikehls.fileio import write_json
from spikehls.quantize.export_run import export_run
from spikehls.quantize.qat import enable_weight_qat
from spikehls.training import trainer

ROOT = Path(__file__).resolve().parent


def _train(cfg, out: Path, qat_during: bool) -> dict:
    """Train one SCA run; with ``qat_during`` the model's weights are fake-quantized throughout."""
    if out.exists():
        shutil.rmtree(out)
    orig = trainer.build_model
    if qat_during:
        def build(*a, **k):
            m = orig(*a, **k)
            enable_weight_qat(m, cfg.quant)
            return m

        trainer.build_model = build
    try:
        t0 = time.time()
        summary = trainer.train(cfg, out, progress=sys.stderr.isatty())
        summary["wall_seconds"] = time.time() - t0
    finally:
        trainer.build_model = orig  # export reloads the run as a plain float model
    return summary


def _target(results: dict) -> None:
    """Issue 3's target: 4-bit (QAT after SCA, else during) loses at most 0.5 points vs float SCA."""
    for order in ("after", "during"):
        four = results["runs"].get(order, {}).get("bits", {}).get("4")
        if four is not None:
            results["target_4bit_drop_le_0.5_points"] = {"order": order, "met": four["drop_points"] <= 0.5}
            return


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--qat-epochs", type=int, default=2)
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--orders", nargs="+", default=["after", "during"], choices=["after", "during"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="/tmp/spikehls_quant_mnist")
    ap.add_argument("--out", default=str(ROOT / "results" / "quant_mnist.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    base = {
        "dataset": {"name": "mnist", "path": args.data, "train_limit": args.train_limit, "test_limit": args.test_limit},
        "model": {"preset": "mnist"},
        "encoding": {"kind": "direct"},
        "neuron": {"kind": "if", "reset": "zero", "threshold": 1.0},
        "sca": {"enabled": True, "p": 0.7, "q": 0.05},
        "optim": {"name": "adam", "lr": 2e-3, "batch_size": 64, "schedule": "cosine"},
        "train": {"epochs": args.epochs, "time_steps": 4, "seed": 0, "num_threads": args.threads},
        "quant": {"w_bits": 4, "qat_epochs": args.qat_epochs, "qat_lr": 5e-4, "per_channel": True, "test_vectors": 64},
    }
    work = Path(args.work)
    results: dict = {"benchmark": "quant_mnist", "config": base, "host": platform.node(), "threads": args.threads,
                     "runs": {}}
    t_all = time.time()
    for order in args.orders:
        cfg = config_from_dict({**base, "quant": {**base["quant"], "qat_during_sca": order == "during"}})
        run = work / f"sca_{order}"
        print(f"[{order}] training SCA p=0.7 ...", flush=True)
        summary = _train(cfg, run, qat_during=order == "during")
        entry = {"train_summary": {k: summary.get(k) for k in ("test_accuracy", "best_epoch", "channels_kept",
                                                                "channels_total", "wall_seconds")},
                 "bits": {}}
        bits_list = args.bits if order == "after" else [4]
        for bits in bits_list:
            print(f"[{order}] export {bits}-bit ...", flush=True)
            out = work / f"export_{order}_{bits}"
            t0 = time.time()
            s = export_run(run, progress=sys.stderr.isatty(), out_dir=out, quant_override={"w_bits": bits},
                           log=lambda m: print("   ", m, flush=True))
            entry["bits"][str(bits)] = {
                "float_accuracy": s["float_accuracy"],
                "quantized_accuracy_before_qat": s["quantized_accuracy_before_qat"],
                "quantized_accuracy": s["quantized_accuracy"],
                "drop_points": 100 * (s["float_accuracy"] - s["quantized_accuracy"]),
                "reference_mismatches": s["reference_mismatches"],
                "reference_checked_samples": s["reference_checked_samples"],
                "qonnx_mismatches": s["qonnx_mismatches"],
                "parameters": s["parameters"], "channels": s["channels"],
                "synops_per_sample": s["synops_per_sample"], "macs_per_sample": s["macs_per_sample"],
                "energy_pj_per_sample": s["energy_pj_per_sample"],
                "seconds": time.time() - t0,
            }
            print(f"[{order}] {bits}-bit: float {s['float_accuracy']:.4f} -> quantized {s['quantized_accuracy']:.4f} "
                  f"(mismatches {s['reference_mismatches']})", flush=True)
        results["runs"][order] = entry
        _target(results)
        results["seconds"] = time.time() - t_all
        write_json(args.out, results)  # partial results survive an interruption of the next order
    print(json.dumps({o: {b: round(v["quantized_accuracy"], 4) for b, v in e["bits"].items()}
                      for o, e in results["runs"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
