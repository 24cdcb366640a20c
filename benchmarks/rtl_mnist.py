"""The MNIST design in hardware terms a tool produced: Verilator cycles and yosys cells of the RTL twin.

For an exported MNIST run (``spikehls train`` + ``spikehls export``, e.g. from
``examples/configs/mnist_t2.yaml``) and each design point (a parallelism setting): generate the HLS
project for the board, C-simulate it (the model's activity-based latency needs its counters),
write the RTL, simulate it in Verilator on the test vectors (spike-exact against the integer
reference, cycles per image measured), synthesize it with yosys, and put the model's estimate
beside every measured figure with the ratio. Spiker+'s published figures are recorded beside them.

    python benchmarks/rtl_mnist.py --run RUN [--board FILE] [--samples N]
                                   [--design-points P[:LAYER=P,...] ...] [--out FILE]

Default design points: the issue-5 co-design result (conv0 12, conv1 11, readout 16) and P = 16.
Writes benchmarks/results/rtl_mnist.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "rtl_mnist.json"
DEFAULT_BOARD = HERE.parent / "examples" / "boards" / "pynq-z2-spikerplus.yaml"
DEFAULT_POINTS = ["16:features.0.conv=12,features.1.conv=11", "16"]
SPIKER_PLUS = {"system": "Spiker+ (VHDL generator, Vivado post-synthesis, published)", "logic_cells": 7612, "BRAM": 18, "DSP": 0,
               "latency_us": 780, "accuracy": 0.9385}


def _parse(spec: str) -> tuple[int, dict[str, int]]:
    """``P`` or ``P:LAYER=P,...`` (the same design-point syntax as benchmarks/mnist_pynq.py)."""
    sys.path.insert(0, str(HERE))
    from mnist_pynq import _parse_point

    return _parse_point(spec)


def _ratio(measured, model):
    return round(measured / model, 3) if model else None


def point(run: Path, board: str, spec: str, work: Path, samples: int, reuse: bool = False) -> dict:
    from spikehls.hls.csim import csim
    from spikehls.hls.project import generate_project
    from spikehls.hls.report_run import run_report
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.hls.rtl.sim import rtlsim
    from spikehls.hls.rtl.synth import synth

    p, layers = _parse(spec)
    prj = work / spec.replace(":", "_").replace(",", "_").replace("=", "-")
    t0 = time.perf_counter()
    have = reuse and all((prj / f).is_file() for f in ("csim.json", "rtlsim.json", "synth.json"))
    if have:  # the same project measured before (--reuse): read its results back
        c = json.loads((prj / "csim.json").read_text())
        sim = json.loads((prj / "rtlsim.json").read_text())
        syn = json.loads((prj / "synth.json").read_text())
    else:
        generate_project(run / "model.qonnx.onnx", board, prj, testvectors=run / "testvectors.npz", parallelism=p,
                         layer_overrides=layers)
        c = csim(prj, samples=samples)
        generate_rtl(prj)
        sim = rtlsim(prj, samples=samples)
        syn = synth(prj)
    est = run_report(prj, board)
    clock = sim["clock_mhz"]
    per_layer = {}
    for row in est["per_layer"]:
        net_name = row["name"]
        name = net_name
        y = syn["per_layer"].get(net_name) or syn["per_layer"].get(name)
        s = sim["cycles"]["per_layer"].get(net_name) or sim["cycles"]["per_layer"].get(name)
        if y is None or s is None:
            continue
        per_layer[net_name] = {
            "LUT": {"yosys": y["LUT"], "estimate": row.get("LUT"), "ratio": _ratio(y["LUT"], row.get("LUT"))},
            "FF": {"yosys": y["FF"], "estimate": row.get("FF"), "ratio": _ratio(y["FF"], row.get("FF"))},
            "LUTRAM": {"yosys": y["LUTRAM"]},
            "BRAM18": {"yosys": y["BRAM18"], "estimate": row.get("BRAM18")},
            "DSP": {"yosys": y["DSP"], "estimate": row.get("DSP")},
            "cycles_mean": {"verilator": s["mean"], "estimate": row.get("cycles_activity"),
                            "ratio": _ratio(s["mean"], row.get("cycles_activity"))},
        }
    tot = syn["total"]
    lat_est = est["latency"]["us"]
    return {
        "spec": spec,
        "parallelism": {"all": p, **layers},
        "rtl_exact": sim["exact"],
        "csim_exact": c["exact"],
        "samples": sim["samples"],
        "accuracy_rtl": sim["accuracy"],
        "verilator": {"cycles": {k: sim["cycles"][k] for k in ("mean", "p99", "max")}, "latency_us": sim["latency_us"],
                      "interval_cycles": sim["interval_cycles"], "source": "verilator", "version": sim["verilator"],
                      "sim_seconds": sim["seconds"], "build_seconds": sim["build_seconds"]},
        "yosys": {**{k: tot[k] for k in ("LUT", "LUT_logic", "LUTRAM", "FF", "BRAM18", "URAM", "DSP")}, "source": "yosys",
                  "version": syn["yosys"], "family": syn["family"], "seconds": syn["seconds"]},
        "estimate": {**{k: est["total"][k] for k in ("LUT", "FF", "BRAM18", "URAM", "DSP")}, "latency_us_activity": lat_est.get("activity"),
                     "latency_us_activity_max": lat_est.get("activity_max"), "latency_us_worst": lat_est.get("worst"),
                     "source": est.get("source", "estimate")},
        "ratio_measured_over_estimate": {
            "LUT": _ratio(tot["LUT"], est["total"]["LUT"]), "FF": _ratio(tot["FF"], est["total"]["FF"]),
            "latency_mean": _ratio(sim["latency_us"]["mean"], lat_est.get("activity")),
        },
        "per_layer": per_layer,
        "clock_mhz": clock,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path, help="an exported MNIST run (model.qonnx.onnx, testvectors.npz)")
    ap.add_argument("--board", default=str(DEFAULT_BOARD))
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--design-points", nargs="*", default=DEFAULT_POINTS, metavar="P[:LAYER=P,...]")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--work", type=Path, default=None, help="keep the projects here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="with --work: read back the results of projects measured before")
    args = ap.parse_args(argv)
    for f in ("model.qonnx.onnx", "testvectors.npz", "export.json"):
        if not (args.run / f).is_file():
            ap.error(f"--run {args.run}: no {f} (run 'spikehls export --run {args.run}' first)")
    for spec in args.design_points:
        try:
            _parse(spec)
        except ValueError:
            ap.error(f"--design-points: '{spec}' is not P or P:LAYER=P,... (integers)")
    from spikehls.fileio import write_json

    exp = json.loads((args.run / "export.json").read_text())
    t0 = time.perf_counter()
    work_ctx = tempfile.TemporaryDirectory(prefix="rtl_mnist-") if args.work is None else None
    work = Path(work_ctx.name) if work_ctx else args.work
    work.mkdir(parents=True, exist_ok=True)
    points = []
    for spec in args.design_points:
        print(f"design point {spec} ...", flush=True)
        r = point(args.run, args.board, spec, work, args.samples, args.reuse)
        points.append(r)
        print(json.dumps({k: r[k] for k in ("spec", "rtl_exact", "accuracy_rtl", "verilator", "yosys", "estimate", "ratio_measured_over_estimate")},
                         indent=1), flush=True)
    res = {
        "benchmark": "rtl_mnist",
        "command": " ".join(["python", "benchmarks/rtl_mnist.py", *(argv if argv is not None else sys.argv[1:])]),
        "run": str(args.run),
        "quantized_accuracy": exp.get("quantized_accuracy", exp.get("accuracy")),
        "export": {k: exp[k] for k in exp if k in ("quantized_accuracy", "float_accuracy", "qat_epochs", "channels_kept", "channels_total")},
        "board": args.board,
        "points": points,
        "reference": SPIKER_PLUS,
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    write_json(args.out, res)
    print(f"-> {args.out}")
    if work_ctx:
        work_ctx.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
