"""Benchmark: how the tools scale from the digits net to the SCA paper's networks (VGG-16, ResNet-19).

    python benchmarks/scale.py RUN [RUN ...] [--board zcu104] [--csim-samples 8] [--out benchmarks/results/scale.json]
                               [--add-to EARLIER.json] [--no-planner] [--ap-types]

Each RUN is an exported run directory (``spikehls train`` + ``spikehls export``: intnet.npz,
model.qonnx.onnx, testvectors.npz, export.json). Untrained or one-epoch nets are fine: exactness
and speed are the point, not accuracy. Per run, measured on this machine:

* export check: ``export.json`` ``seconds`` (the whole export stage, torch vs reference included);
* hls: ``spikehls hls`` wall seconds, peak RSS of the process, project size on disk;
* csim build: g++ compile of firmware + driver (forced rebuild);
* csim per image: with one driver process per core (``simulate``'s default) on the samples,
  start-up included (``csim_seconds_per_image``); with one process, the one-off start-up (process,
  weight files) and the per-image time without it (from a 1-sample and an N-sample run); the
  reference per image (NumPy integer reference, same samples; wall and CPU seconds, BLAS may use
  several threads); whether the C-simulation is spike-exact against the reference; the firing
  rate (spikes per neuron and time step over the neuron layers);
  ``--ap-types`` compiles the C-simulation with ap_int / ap_uint instead of the fast C-simulation
  types (``-DSPK_CSIM_AP_TYPES``, hls/cpp/nnet_spiking_types.h): the build before them, for a
  before / after on the same networks;
* planner: :func:`spikehls.planning.plan` wall and CPU seconds on the board (channel activity of
  the test vectors), with the chosen caps and the binding resources.

The growth exponent of each stage is the least-squares slope of log(seconds) against
log(parameters) and against log(events per sample) over the runs. Results: ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from spikehls.fileio import read_json, write_json


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of this very child) of a command; raises on failure.
    (``RUSAGE_CHILDREN`` would be the largest of every child so far, g++ of an earlier run included.)"""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, cmd)
    return wall, ru.ru_maxrss / 1024.0


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(run: Path, board: str, csim_samples: int, work: Path, planner: bool = True, ap_types: bool = False) -> dict:
    from spikehls.boards import load_board
    from spikehls.hls import csim as csim_mod
    from spikehls.hls.csim import build_driver, simulate
    from spikehls.planning import channel_activity, plan
    from spikehls.quantize import reference as ref
    from spikehls.quantize.intnet import IntNet
    from spikehls.quantize.testvectors import load_testvectors

    net = IntNet.load(run / "intnet.npz")
    x, _, r = load_testvectors(run / "testvectors.npz")
    exp = read_json(run / "export.json", "export record")
    prj = work / f"{run.name}-prj"
    hls_s, hls_mb = _timed([sys.executable, "-m", "spikehls", "hls", "--run", str(run), "--board", board,
                            "--out", str(prj), "--force"])
    if ap_types and "-DSPK_CSIM_AP_TYPES" not in csim_mod.CXXFLAGS:
        csim_mod.CXXFLAGS.append("-DSPK_CSIM_AP_TYPES")
    elif not ap_types and "-DSPK_CSIM_AP_TYPES" in csim_mod.CXXFLAGS:
        csim_mod.CXXFLAGS.remove("-DSPK_CSIM_AP_TYPES")
    _, compile_s = build_driver(prj, force=True)
    n = min(csim_samples, len(x))
    # one driver process: 1 sample, then n samples -> the one-off start-up (process, weights) and
    # the per-image time without it; then one process per core (simulate's default) on the n
    # samples, start-up included: the throughput a user gets
    c0 = _cpu_children()
    one = simulate(prj, x[:1], capture=True, jobs=1).seconds
    one_cpu = _cpu_children() - c0
    c0 = _cpu_children()
    one_n = simulate(prj, x[:n], capture=True, jobs=1).seconds
    csim_cpu = _cpu_children() - c0
    per_image = (one_n - one) / (n - 1) if n > 1 else one
    sim = simulate(prj, x[:n], capture=True)
    t0, c0 = time.perf_counter(), time.process_time()
    rr = ref.run(net, x[:n])
    ref_s, ref_cpu = time.perf_counter() - t0, time.process_time() - c0
    exact = bool(np.array_equal(sim.readout, rr.readout)
                 and all(np.array_equal(sim.spikes[k].reshape(v.shape), v) for k, v in rr.spikes.items() if k in sim.spikes))
    events = float(sum(c[:, 0].mean() for c in sim.counters.values()))
    neurons = {k: v for k, v in rr.spikes.items() if k in {lyr.name for lyr in net.layers if hasattr(lyr, "neuron")}}
    firing = float(sum(int(v.sum()) for v in neurons.values()) / max(1, sum(v.size for v in neurons.values())))
    pl = plan_s = plan_cpu = None
    if planner:
        t0, c0 = time.perf_counter(), time.process_time()
        pl = plan(net, load_board(board), channel_activity(r.spikes), log=None, progress=False)
        plan_s, plan_cpu = round(time.perf_counter() - t0, 2), round(time.process_time() - c0, 2)
    return {
        "run": str(run), "parameters": int(exp["parameters"]["kept"]), "events_per_sample": events,
        "firing_rate": round(firing, 4),
        "export_seconds": exp.get("seconds"), "export_checked_samples": exp.get("reference_checked_samples"),
        "hls_seconds": round(hls_s, 2), "hls_peak_rss_mb": round(hls_mb, 1), "project_mb": round(_du(prj) / 2**20, 1),
        "csim_build_seconds": round(compile_s, 2), "csim_samples": n,
        "csim_seconds_per_image": round(sim.seconds / n, 4),  # one process per core, start-up included
        "csim_jobs": min(os.cpu_count() or 1, n),
        "csim_startup_seconds": round(one - per_image, 4),  # one process: weights loaded, first call
        "csim_seconds_per_image_1proc": round(per_image, 4),  # one process, start-up excluded
        "csim_cpu_seconds_per_image_1proc": round(csim_cpu / n, 4),  # start-up included
        # one process, start-up excluded: (CPU of n samples - CPU of 1) / (n - 1)
        "csim_cpu_seconds_per_image_1proc_steady": round((csim_cpu - one_cpu) / (n - 1), 4) if n > 1 else None,
        "csim_startup_cpu_seconds": round(one_cpu - (csim_cpu - one_cpu) / (n - 1), 4) if n > 1 else None,
        "csim_types": "ap_int / ap_uint (-DSPK_CSIM_AP_TYPES)" if ap_types else "spk::fint (C-simulation types)",
        "reference_seconds_per_image": round(ref_s / n, 4), "reference_cpu_seconds_per_image": round(ref_cpu / n, 4),
        "csim_exact": exact, "planner_seconds": plan_s, "planner_cpu_seconds": plan_cpu,
        "load_average": os.getloadavg(),
        "plan": pl.summary() if pl is not None else "not run (--no-planner)",
    }


def growth(rows: list[dict], x_key: str, y_key: str) -> float | None:
    """Least-squares slope of log(y) against log(x) (None with fewer than two points)."""
    pts = [(r[x_key], r[y_key]) for r in rows if r.get(y_key) and r.get(x_key)]
    if len(pts) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return round(float(np.polyfit(lx, ly, 1)[0]), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--board", default="zcu104")
    ap.add_argument("--csim-samples", type=int, default=8)
    ap.add_argument("--work", type=Path, default=Path("/tmp/spikehls-scale"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scale.json")
    ap.add_argument("--no-planner", action="store_true", help="skip the planner (its figures are null)")
    ap.add_argument("--ap-types", action="store_true",
                    help="C-simulate with ap_int / ap_uint (-DSPK_CSIM_AP_TYPES), not the fast C-simulation types")
    ap.add_argument("--add-to", type=Path, default=None,
                    help="a results file of earlier runs: its rows are kept (a run measured again replaces its row)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.add_to is not None:
        again = {str(r) for r in args.runs}
        rows = [r for r in read_json(args.add_to, "scale results")["runs"] if r["run"] not in again]
    for run in args.runs:
        rows.append(measure(run, args.board, args.csim_samples, args.work, planner=not args.no_planner,
                            ap_types=args.ap_types))
        print({k: v for k, v in rows[-1].items() if k != "plan"}, flush=True)
    stages = ["export_seconds", "hls_seconds", "csim_build_seconds", "csim_seconds_per_image",
              "csim_seconds_per_image_1proc", "csim_cpu_seconds_per_image_1proc_steady", "reference_seconds_per_image",
              "reference_cpu_seconds_per_image", "planner_cpu_seconds"]
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                    "note": "each run's own load_average is taken when its measurement ends"},
        "board": args.board,
        "runs": rows,
        "growth_exponent": {s: {"vs_parameters": growth(rows, "parameters", s), "vs_events": growth(rows, "events_per_sample", s)}
                            for s in stages},
        "note": "untrained / one-epoch nets on CIFAR-shaped generated data: exactness and speed, not accuracy",
    }
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
