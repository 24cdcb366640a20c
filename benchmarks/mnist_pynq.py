"""MNIST through the whole flow for PYNQ-Z2 at 100 MHz, and co-design vs uniform pruning.

Part 1 (issue 5): train the MNIST preset with SCA, quantize, export, generate the HLS project for
PYNQ-Z2, C-simulate it spike for spike, estimate resources and latency, and co-design until it
fits. Records accuracy, LUT/FF/BRAM18/DSP (from the resource *model*: no Vitis here), latency in
cycles and microseconds, next to Spiker+ and FINN's published figures.

Part 2 (``--compare``): a PYNQ-Z2 whose LUT and BRAM budgets are cut to ``--squeeze`` x what the
plain-SCA design uses, then the co-design loop twice from the same start: channels chosen by cost
per unit of activity (ours) vs the same sparsity in every layer (uniform). Records accuracy and
resources of both.

    python benchmarks/mnist_pynq.py [--data DIR] [--epochs 4] [--train-limit N] [--from-run RUN]
                                    [--board NAME|FILE] [--qat-epochs N] [--compare]
                                    [--design-points P[:LAYER=P,...] ...] [--out FILE]

The issue-5 result: ``--from-run RUN --board examples/boards/pynq-z2-spikerplus.yaml --qat-epochs 3``
with RUN trained from ``examples/configs/mnist_t2.yaml`` (``mnist_pynq_t2.json``).

Part 3 (``--design-points``): the final network generated, C-simulated and reported at other
parallelism settings (a latency / area front).

Writes benchmarks/results/mnist_pynq.json (or --out) and prints a markdown table for the README.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from spikehls.boards import load_board
from spikehls.codesign import codesign
from spikehls.config import config_from_dict
from spikehls.errors import SpikehlsError
from spikehls.fileio import read_yaml, write_json

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "mnist"
RESULTS = HERE / "results" / "mnist_pynq.json"

REFERENCES = [
    {"system": "Spiker+ (VHDL generator)", "accuracy": 0.9385, "LUT": "7,612 logic cells", "BRAM": "18",
     "DSP": 0, "latency_us": 780, "source": "published"},
    {"system": "FINN TFC-w1a1 (PYNQ-Z1, 100 MHz)", "accuracy": 0.9296, "latency_cycles": 64,
     "latency_us": 0.64, "source": "published"},
]


def config(args, **over) -> dict:
    cfg = {
        "dataset": {"name": "mnist", "path": args.data, "train_limit": args.train_limit},
        "model": {"preset": "mnist"},
        "encoding": {"kind": args.encoding},
        "sca": {"p": args.p, "q": 0.05},
        "train": {"epochs": args.epochs, "time_steps": args.T, "num_threads": args.threads},
        "quant": {"w_bits": 4, "qat_epochs": args.qat_epochs, "test_vectors": args.test_vectors},
        "codesign": {"max_iters": args.max_iters, "epochs_per_iter": args.epochs_per_iter},
    }
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    return cfg


def _run_config(run_dir: str) -> dict:
    return read_yaml(Path(run_dir) / "config.yaml", "training run config")


def final_row(res: dict) -> dict:
    fin = next(r for r in res["iterations"] if r["iteration"] == res["final"]["iteration"])
    keys = ["quantized_accuracy", "float_accuracy", "csim_accuracy", "csim_samples", "csim_exact", "channels_kept",
            "channels_total", "channels_per_layer", "LUT", "FF", "BRAM18", "URAM", "DSP", "latency_cycles_worst",
            "latency_us_worst", "latency_cycles_activity", "latency_us_activity", "latency_us_activity_max", "latency_us_activity_p99", "fits", "resource_source",
            "parallelism", "synops_per_sample"]
    return {**{k: fin.get(k) for k in keys}, "iterations": len(res["iterations"]), "seconds": res.get("seconds")}


def _parse_point(spec: str) -> tuple[int, dict[str, int]]:
    """'14' -> (14, {}); '14:features.0.conv=28,readout=10' -> (14, {...})."""
    head, _, rest = spec.partition(":")
    layers = {}
    for item in filter(None, rest.split(",")):
        name, _, val = item.partition("=")
        layers[name.strip()] = int(val)
    return int(head), layers


def design_points(res: dict, specs: list[str], work: Path, board: str) -> dict:
    """Generate, C-simulate and report the final network at other parallelism settings."""
    from spikehls.hls.csim import csim
    from spikehls.hls.project import generate_project
    from spikehls.hls.report_run import run_report

    run = Path(res["final"]["run_dir"])
    out = {}
    for spec in specs:
        p, layers = _parse_point(spec)
        prj = work / spec.replace(":", "_").replace(",", "_").replace("=", "-")
        generate_project(run / "model.qonnx.onnx", board, prj, testvectors=run / "testvectors.npz",
                         parallelism=p, layer_overrides=layers)
        c = csim(prj)
        r = run_report(prj, board)
        out[spec] = {**{k: r["total"][k] for k in ("LUT", "FF", "BRAM18", "URAM", "DSP")},
                     "latency_cycles_activity": r["latency"]["cycles"]["activity"],
                     "latency_us_activity": r["latency"]["us"]["activity"],
                     "latency_us_activity_max": r["latency"]["us"].get("activity_max"),
                     "latency_us_activity_p99": r["latency"]["us"].get("activity_p99"),
                     "latency_cycles_worst": r["latency"]["cycles"]["worst"], "latency_us_worst": r["latency"]["us"]["worst"],
                     "fits": r["fits"], "csim_exact": c["exact"], "csim_accuracy": c["accuracy"], "csim_samples": c["samples"],
                     "source": r["source"], "parallelism": {**{"all": p}, **layers}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--p", type=float, default=0.5)
    ap.add_argument("--encoding", default="direct", choices=["direct", "rate", "bitplane"])
    ap.add_argument("--qat-epochs", type=int, default=1)
    ap.add_argument("--test-vectors", type=int, default=200)
    ap.add_argument("--max-iters", type=int, default=3)
    ap.add_argument("--epochs-per-iter", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallelism", type=int, default=16, help="adds per cycle per layer (>= the channel counts helps)")
    ap.add_argument("--compare", action="store_true", help="also co-design vs uniform on a squeezed budget")
    ap.add_argument("--squeeze", type=float, default=0.6)
    ap.add_argument("--from-run", default=None, help="start from this trained run (skips training iteration 0)")
    ap.add_argument("--design-points", nargs="*", default=[], metavar="P[:LAYER=P,...]",
                    help="more parallelism settings of the final network, each generated, C-simulated and "
                         "reported, e.g. 12 '14:features.0.conv=28' (a latency / resource front)")
    ap.add_argument("--board", default="pynq-z2",
                    help="board name or YAML file of part 1's co-design, e.g. examples/boards/pynq-z2-spikerplus.yaml "
                         "(PYNQ-Z2 held to Spiker+'s LUT, no DSP, 100 us: the loop must find a design meeting the targets)")
    ap.add_argument("--work", default=None, help="keep runs here (default: a temporary folder)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    for spec in args.design_points:  # before hours of work, not after
        try:
            _parse_point(spec)
        except ValueError:
            ap.error(f"--design-points: '{spec}' is not P or P:LAYER=P,... (integers)")

    work = Path(args.work or tempfile.mkdtemp(prefix="mnist_pynq."))
    t0 = time.time()
    try:
        brd_main = load_board(args.board)  # a bad board file fails here, before the long run
    except SpikehlsError as e:
        ap.error(f"--board: {e}")
    res = codesign(config_from_dict(config(args)), args.board, work / "pynq", progress=False, from_run=args.from_run,
                   parallelism=args.parallelism, quant_from_cfg=True)
    out = {
        "benchmark": "mnist_pynq",
        "command": "python benchmarks/mnist_pynq.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "board": f"{brd_main.name} ({brd_main.part}, {brd_main.clock_mhz:g} MHz)",
        "board_budget": {**{k: round(v, 1) for k, v in brd_main.allowed().items()}, "max_latency_us": brd_main.hls.max_latency_us},
        "note": "resources and latency are the spikehls resource model's estimates (no Vitis/Vivado run)",
        "config": config(args) if not args.from_run else {"from_run": args.from_run, "run_config": _run_config(args.from_run)},
        "parallelism": args.parallelism,
        "spikehls": final_row(res),
        "references": REFERENCES,
    }
    if args.compare:
        first = res["iterations"][0]
        brd = load_board("pynq-z2")
        squeezed = work / "pynq-squeezed.yaml"
        lut = int(first["LUT"] * args.squeeze)
        bram = max(1, int(first["BRAM18"] * args.squeeze))
        squeezed.write_text(
            "name: PYNQ-Z2 squeezed\npart: xc7z020clg400-1\nclock_mhz: 100\n"
            f"resources: {{LUT: {lut}, FF: {brd.resources.FF}, BRAM18: {bram}, URAM: 0, DSP: {brd.resources.DSP}}}\n"
            "budget: {LUT: 1.0, FF: 0.8, BRAM18: 1.0, DSP: 0.8}\n"
        )
        cmp = {"budget": {"LUT": lut, "BRAM18": bram, "squeeze": args.squeeze}}
        for strategy in ("cost_per_activity", "uniform"):
            r = codesign(config_from_dict(config(args, codesign={"strategy": strategy})), squeezed,
                         work / f"squeezed-{strategy}", progress=False, from_run=args.from_run,
                         parallelism=args.parallelism, quant_from_cfg=True)
            cmp[strategy] = final_row(r)
        out["codesign_vs_uniform"] = cmp
    if args.design_points:
        out["design_points"] = design_points(res, args.design_points, work / "points", args.board)
    out["wall_seconds"] = round(time.time() - t0, 1)
    write_json(args.out, out)

    s = out["spikehls"]
    print("\n| system | accuracy | LUT | FF | BRAM18 | DSP | latency |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| spikehls (estimate), PYNQ-Z2 100 MHz | {s['quantized_accuracy']:.2%} | {s['LUT']:,.0f} | {s['FF']:,.0f} | "
          f"{s['BRAM18']:,.0f} | {s['DSP']:,.0f} | {s['latency_cycles_worst']:,} cycles = {s['latency_us_worst']:,.1f} us worst"
          + (f", {s['latency_us_activity']:,.1f} us on C-sim activity (mean), {s['latency_us_activity_p99']:,.1f} us "
             f"99th percentile, {s['latency_us_activity_max']:,.1f} us slowest test image |" if s.get("latency_us_activity_max") else " |"))
    print("| Spiker+ (published) | 93.85% | 7,612 logic cells | - | 18 | 0 | 780 us |")
    print("| FINN TFC-w1a1 (published) | 92.96% | - | - | - | - | 64 cycles |")
    if "codesign_vs_uniform" in out:
        c = out["codesign_vs_uniform"]
        print(f"\nsqueezed budget LUT {c['budget']['LUT']:,}, BRAM18 {c['budget']['BRAM18']}")
        for k in ("cost_per_activity", "uniform"):
            r = c[k]
            print(f"  {k:<18} accuracy {r['quantized_accuracy']:.2%}  channels {r['channels_kept']}/{r['channels_total']}  "
                  f"LUT {r['LUT']:,.0f}  BRAM18 {r['BRAM18']:,.0f}  fits {r['fits']}")
    for name, d in out.get("design_points", {}).items():
        print(f"  P {name:<40} LUT {d['LUT']:>7,}  BRAM18 {d['BRAM18']:>4}  DSP {d['DSP']}  "
              f"{d['latency_us_activity']:7.1f} us mean, {d['latency_us_activity_max']:7.1f} us slowest (C-sim activity)  "
              f"C-sim exact {d['csim_exact']}")
    print(f"\nwrote {args.out} ({out['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
