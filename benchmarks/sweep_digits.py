"""Sweep throughput on the digits example, and what reusing the dense checkpoint saves.

Runs ``examples/sweeps/digits.yaml`` twice into fresh folders with the same workers:

* ``reuse``:   as the file says (``reuse_dense: true``): one dense run per time-step count, SCA
               runs fine-tuned from it, the quant/HLS axes only re-export;
* ``scratch``: ``reuse_dense: false``: every point trains its own run from scratch (base epochs).

and writes points per hour for both, the speed-up, the training runs and training seconds, and
the accuracies reached (so the saving is not bought with worse points) to
``benchmarks/results/sweep_digits.json``. The machine's load average is recorded too: on a
shared machine the absolute numbers move with what else runs.

    python benchmarks/sweep_digits.py [--workers 2] [--sweep examples/sweeps/digits.yaml] [--only reuse|scratch]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from spikehls.fileio import write_json
from spikehls.sweep import expand, load_results, load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def _one(spec, out: Path, workers: int) -> dict:
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = run_sweep(spec, out, workers=workers, progress=True, log=print)
    wall = time.perf_counter() - t0
    recs = load_results(out)
    ok = [r for r in recs if r["status"] == "ok"]
    runs = sorted({r["train_key"] for r in recs} | {r["warm_start"] for r in recs if r.get("warm_start")})
    train_secs = 0.0
    for key in runs:
        s = out / "train" / key / "summary.json"
        if s.is_file():
            train_secs += json.loads(s.read_text())["seconds"]
    acc = [r["quantized_accuracy"] for r in ok]
    return {
        "points": len(recs), "ok": len(ok), "failed": res.failed, "wall_seconds": round(wall, 1),
        "points_per_hour": round(len(recs) / wall * 3600, 1),
        "training_runs": len(runs), "training_seconds_total": round(train_secs, 1),
        "point_seconds_total": round(sum(r.get("wall_seconds") or 0 for r in recs), 1),
        "accuracy_quantized": {"mean": round(statistics.mean(acc), 4) if acc else None,
                               "max": max(acc) if acc else None, "min": min(acc) if acc else None},
        "csim_exact_all": all(r["csim_exact"] for r in ok),
        "channels_kept_by_sca_p": {str(p): sorted({r["channels_kept"] for r in ok if r["settings"].get("sca.p") == p})
                                   for p in sorted({r["settings"].get("sca.p") for r in ok}, key=str)},
        "load_average_1min": {"start": round(load0, 2), "end": round(os.getloadavg()[0], 2)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", type=Path, default=ROOT / "examples" / "sweeps" / "digits.yaml")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=["reuse", "scratch"], default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sweep_digits.json")
    args = ap.parse_args()

    spec = load_sweep(args.sweep)
    result: dict = {
        "benchmark": "sweep_digits", "sweep": str(args.sweep.relative_to(ROOT) if args.sweep.is_relative_to(ROOT) else args.sweep),
        "points": len(expand(spec)), "workers": args.workers, "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "note": "shared 2-core machine; other jobs ran at the same time (see load_average_1min)",
    }
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        for mode in ("reuse", "scratch"):
            if args.only and args.only != mode:
                continue
            s = spec.model_copy(update={"reuse_dense": mode == "reuse"})
            print(f"== {mode}: {result['points']} points, {args.workers} workers")
            result[mode] = _one(s, Path(tmp) / mode, args.workers)
            print(json.dumps(result[mode], indent=1))
    if "reuse" in result and "scratch" in result:
        result["speedup_wall"] = round(result["scratch"]["wall_seconds"] / result["reuse"]["wall_seconds"], 2)
        result["speedup_training_seconds"] = round(
            result["scratch"]["training_seconds_total"] / max(result["reuse"]["training_seconds_total"], 1e-9), 2)
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
