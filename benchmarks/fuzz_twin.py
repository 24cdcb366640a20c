"""Random networks through the twin: spike-exact in Verilator (and C-simulation), cycles as the model says.

Each seed draws a network from ``quantize.random_net.random_intnet`` (every layer kind, both encodings,
skips, IF/LIF, T 1..8), a parallelism and a block RAM threshold (the rule's default, 0.25 or 0: the
board's ``hls.block_ram_min_fill``), generates the project, C-simulates it, writes and simulates the RTL
in Verilator, and compares the model's activity cycles (on the C-simulation's counts) with
Verilator's. A seed that is not exact is a bug in the twin or the kernels, never a data point.

    python benchmarks/fuzz_twin.py --start 1000 --seeds 20 [--family random|preresnet|mixed] [--samples 4] [--out FILE] [--work DIR]

``--family preresnet`` draws pre-activation residual chains instead
(``quantize.random_net.random_preresnet_intnet``: the residual-stream layers, signed currents, identity and
projection shortcuts); ``mixed`` alternates the two by seed. Writes ``benchmarks/results/fuzz_twin.json`` (one row per seed: exact, cycles, model error, seconds);
exits 1 if any seed is not exact.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "fuzz_twin.json"
FILLS = (None, 0.25, 0.0)


FAMILIES = ("random", "preresnet", "mixed")


def one(seed: int, samples: int, work: Path, family: str = "random") -> dict:
    from _hls_nets import fill_board, write_run  # tests/_hls_nets.py: a user's board file, an IntNet as an exported run

    from spikehls.boards import load_board
    from spikehls.hls.csim import csim
    from spikehls.hls.estimate import estimate
    from spikehls.hls.project import generate_project
    from spikehls.hls.report_run import project_net, read_events
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.hls.rtl.sim import rtlsim
    from spikehls.quantize.random_net import random_inputs, random_intnet, random_preresnet_intnet

    rng = np.random.default_rng(seed)
    if family == "mixed":
        family = ("random", "preresnet")[seed % 2]
    net = (random_preresnet_intnet if family == "preresnet" else random_intnet)(rng)
    x = random_inputs(rng, net, samples)
    par = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16]))
    fill = FILLS[seed % len(FILLS)]
    d = work / f"s{seed}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    bfile = fill_board(d, fill)
    board = load_board(bfile)
    run = write_run(net, d / "run", x)
    prj = d / "prj"
    t0 = time.perf_counter()
    generate_project(run / "model.qonnx.onnx", bfile, prj, testvectors=run / "testvectors.npz", parallelism=par)
    c = csim(prj)
    generate_rtl(prj)
    r = rtlsim(prj)
    meta = json.loads((prj / "spikehls.json").read_text())
    events = read_events(prj, {lyr["source_name"]: lyr["name"] for lyr in meta["layers"]})
    est = estimate(project_net(prj, meta), board, par, events)
    model = float(est.cycles_activity)
    row = {"seed": seed, "family": family, "encoding": net.encoding, "time_steps": net.time_steps, "layers": [lyr.kind for lyr in net.layers],
           "skips": sum(getattr(lyr, "skip", None) is not None for lyr in net.layers), "parallelism": par,
           "block_ram_min_fill": fill, "csim_exact": bool(c["exact"]), "verilator_exact": bool(r["exact"]),
           "first_mismatch": r["first_mismatch"], "cycles_verilator_mean": r["cycles"]["mean"],
           "cycles_model_mean": round(model, 2), "cycles_error": round((model - r["cycles"]["mean"]) / r["cycles"]["mean"], 4),
           "seconds": round(time.perf_counter() - t0, 1)}
    if row["csim_exact"] and row["verilator_exact"]:
        shutil.rmtree(d, ignore_errors=True)  # keep only what failed, for inspection
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--family", choices=FAMILIES, default="random",
                    help="random nets of every layer kind, pre-activation residual chains, or both alternately")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--work", type=Path, default=Path("/tmp/spikehls-fuzz"))
    args = ap.parse_args(argv)
    if shutil.which("verilator") is None:
        print("error: verilator not found (apt-get install verilator)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE.parent / "tests"))
    from spikehls.fileio import write_json

    rows = []
    for seed in range(args.start, args.start + args.seeds):
        row = one(seed, args.samples, args.work, args.family)
        rows.append(row)
        ok = row["csim_exact"] and row["verilator_exact"]
        print(f"seed {seed}: {row['family']} {row['encoding']} T={row['time_steps']} {len(row['layers'])} layers P={row['parallelism']} "
              f"fill={row['block_ram_min_fill']}: {'exact' if ok else 'NOT EXACT ' + str(row['first_mismatch'])}, "
              f"cycles model {row['cycles_error']:+.1%}, {row['seconds']} s", flush=True)
        out = {"benchmark": "fuzz_twin", "command": "python benchmarks/fuzz_twin.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "source": "verilator", "seeds": len(rows), "all_exact": all(r["csim_exact"] and r["verilator_exact"] for r in rows),
               "cycles_error_max_abs": max(abs(r["cycles_error"]) for r in rows), "rows": rows}
        write_json(args.out, out)  # after every seed: a killed run keeps what it measured
    return 0 if out["all_exact"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
