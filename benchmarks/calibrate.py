"""Calibrate the cost model against the Verilog twin: yosys cells and Verilator cycles.

Step 1 (``collect``): random integer networks of every layer kind (conv, dense, pool, readout,
skips; spikes and pixels in; IF/LIF, both resets; T 1..8) at random parallelism are generated as
projects, their RTL is synthesized with yosys and simulated in Verilator; every layer's geometry,
yosys resources and per-sample cycles are stored (``--data``, default
``benchmarks/results/calibration_data.json``; appended to, so a killed run resumes).

Step 2 (``fit``): the model's per-item coefficients (``hls/calibration.py``) are fitted with
non-negative least squares on the networks of the fit split and the error is reported on the
held-out split (every third network), per layer and in total, for LUT, FF, LUTRAM, BRAM18, DSP
and cycles. Writes ``hls/calibration.py`` (the constants and the command that produced them) and
``benchmarks/results/calibration.json`` (the error table).

    python benchmarks/calibrate.py collect --networks 30 [--start 0] [--family random|preresnet|wide|vgglayer] [--board B] [--max-lut N] [--samples 8] [--work DIR]
    python benchmarks/calibrate.py regen [--data FILE]...   # rebuild the projects of a data file (fresh machine)
    python benchmarks/calibrate.py resynth --data FILE      # re-synthesize the networks whose RTL changed
    python benchmarks/calibrate.py fit [--eval MORE_DATA.json] [--write]

``fit`` reads each network's project (its geometry and tables); ``regen`` writes them again from
the seeds (the generator is deterministic; no yosys, no Verilator), so a data file collected on
another machine can be fitted without re-synthesizing it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "results" / "calibration_data.json"
RESULT = HERE / "results" / "calibration.json"
sys.path.insert(0, str(ROOT / "tests"))


def _net_and_par(seed: int, family: str = "random"):
    """A network of the calibration set and its parallelism: ``random`` (every layer kind,
    ``quantize.random_net.random_intnet``), ``preresnet`` (pre-activation residual chains: the
    stream layers, ``random_preresnet_intnet``) or ``wide`` (random nets of up to 48 channels at
    16-96 lanes, to check the model where the VGG-16 / ResNet-19 designs live), each from its own
    seed range."""
    from spikehls.quantize.random_net import random_intnet, random_preresnet_intnet

    if family == "preresnet":
        rng = np.random.default_rng(20_000 + seed)
        net = random_preresnet_intnet(rng, max_channels=8, max_hw=10)
    elif family == "vgglayer":
        rng = np.random.default_rng(40_000 + seed)
        net = vgg_like_net(rng)
        return net, int(rng.choice([16, 24, 32, 48, 64])), rng
    elif family == "wide":  # towards the paper networks' scale: up to 48 channels, 16-96 lanes
        rng = np.random.default_rng(30_000 + seed)
        net = random_intnet(rng, max_time_steps=4, max_channels=48, max_hw=12, max_dense_units=48, max_convs=3)
        return net, int(rng.choice([16, 24, 32, 48, 64, 96])), rng
    else:
        rng = np.random.default_rng(10_000 + seed)
        net = random_intnet(rng, max_time_steps=8, max_channels=12, max_hw=14, max_dense_units=16)
    par = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16]))
    return net, par, rng


def vgg_like_net(rng: np.random.Generator):
    """A slice of a VGG-16 in the shapes of its deeper layers (the ZCU104 designs' widest engines):
    spike input of 16-96 channels on a 4 / 6 / 8 square at T = 4, one or two 3x3 "same" convs of
    32-160 channels with 4-bit weights (dense: 0-40 % zeros, no pruned channels, as a slimmed net),
    sometimes a 2x2 max pool, a 10-class readout."""
    from spikehls.quantize import reference as ref
    from spikehls.quantize.intnet import IntNet, MaxPool2d, Readout, SpikingConv2d
    from spikehls.quantize.random_net import _bias, _neuron, random_inputs

    hw = int(rng.choice([4, 6, 8]))
    net = IntNet((int(rng.integers(16, 97)), hw, hw), 4, "rate", [])
    cur = random_inputs(rng, net, 4)
    layers: list = []
    for i in range(int(rng.integers(1, 3))):
        c = cur.shape[2]
        co = int(rng.integers(32, 161))
        w = rng.integers(-8, 8, size=(co, c, 3, 3))
        w[rng.random(w.shape) < rng.uniform(0.0, 0.4)] = 0
        w[np.abs(w).reshape(co, -1).sum(1) == 0, 0, 1, 1] = 1  # no empty channel
        n, t = cur.shape[:2]
        current = ref.conv_current(cur.reshape((n * t,) + cur.shape[2:]), w, 1, 1).reshape((n, t, co) + cur.shape[3:])
        layer = SpikingConv2d(f"conv{i}", w, _bias(rng, current, co), None, stride=1, padding=1, w_bits=4)
        layer.neuron = _neuron(rng, current, layer.bias)
        cur = ref.spiking_conv2d(cur, layer, None)
        layers.append(layer)
        if cur.shape[3] >= 4 and rng.random() < 0.4:
            pool = MaxPool2d(name=f"pool{i}", kernel=2, stride=2)
            cur = ref.spike_maxpool2d(cur, pool)
            layers.append(pool)
    n_in = int(np.prod(cur.shape[2:]))
    layers.append(Readout("readout", rng.integers(-8, 8, size=(10, n_in)), np.zeros(10, np.int64), w_bits=4))
    net.layers = layers
    net.validate()
    return net


def _write_project(seed: int, family: str, samples: int, board: str, d: Path) -> tuple:
    """Network ``seed`` of ``family`` as a project in ``d/prj`` (``d`` replaced): (net, par, x, prj)."""
    from _hls_nets import write_run

    from spikehls.hls.project import generate_project
    from spikehls.quantize.random_net import random_inputs

    net, par, rng = _net_and_par(seed, family)
    x = random_inputs(rng, net, samples)
    shutil.rmtree(d, ignore_errors=True)
    run = write_run(net, d / "run", x)
    prj = d / "prj"
    generate_project(run / "model.qonnx.onnx", board, prj, testvectors=run / "testvectors.npz", parallelism=par)
    return net, par, x, prj


def regen(args) -> int:
    """Write the project of every network in the data files that is not on disk."""
    for path in args.data:
        data = json.loads(path.read_text())
        for n in data["networks"]:
            prj = Path(n["project"])
            if (prj / "spikehls.json").is_file():
                continue
            fam = n.get("family", "random")
            _, par, _, _ = _write_project(n["seed"], fam, len(n["latency"]), n.get("board", args.board), prj.parent)
            if par != n["parallelism"]:
                print(f"{path.name}: {fam}{n['seed']}: parallelism {par} != recorded {n['parallelism']}: the generator changed", flush=True)
                return 1
            print(f"{path.name}: {fam}{n['seed']} -> {prj}", flush=True)
    return 0


def _locked(path: Path, work) -> int:
    """Run ``work()`` under a lock on the data file ``path``: two writers of one file would each
    write back only their own networks."""
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        print(f"error: {path}: another collection is writing it (remove {lock} if none is)", file=sys.stderr)
        return 2
    os.close(fd)
    try:
        return work()
    finally:
        lock.unlink(missing_ok=True)


def collect(args) -> int:
    """Collect under a lock on the data file (:func:`_locked`)."""
    return _locked(args.data, lambda: _collect(args))


def resynth(args) -> int:
    """Synthesize again every network of a data file whose RTL the current generator writes
    differently from what was synthesized (``--changed PATTERN``: a regular expression the new RTL
    matches, e.g. the separate ROM modules), after checking it spike-exact in Verilator on
    ``--samples`` vectors; its yosys figures are replaced, its Verilator cycles kept (the change
    must not touch the schedule, or move it by ``--cycles-delta`` per sample: the check compares the
    cycles of those vectors too)."""
    if not args.data.is_file():
        print(f"error: --data {args.data}: no such data file", file=sys.stderr)
        return 2
    missing = [n["project"] for n in json.loads(args.data.read_text())["networks"]
               if not (Path(n["project"]) / "spikehls.json").is_file()]
    if missing:  # before any synthesis: a fresh machine has the records but not their projects
        print(f"error: {args.data}: {len(missing)} project(s) not on disk (first: {missing[0]}); "
              f"run 'python benchmarks/calibrate.py regen --data {args.data}' first", file=sys.stderr)
        return 2
    return _locked(args.data, lambda: _resynth(args))


def _figures(s: dict, name: str | None = None) -> dict:
    """What a network record keeps of a ``synth.json`` result: one layer's (``name``) or the top's
    resources without the cell list (which a layer record keeps apart, as ``cells``)."""
    part = s["top"] if name is None else s["per_layer"][name]
    return {k: v for k, v in part.items() if k != "cells"}


def _fire_gaps(prj: Path) -> dict[str, int]:
    """Per layer, the cycles per sample of its gap before the fire passes
    (:func:`spikehls.hls.twin_cost.fire_gap`), as the project's memories are bound."""
    from spikehls.hls.estimate import part_memory
    from spikehls.hls.memory import block_fill
    from spikehls.hls.report_run import project_fill
    from spikehls.hls.rtl.generate import project_geometry
    from spikehls.hls.twin_cost import fire_gap

    _, geos, meta = project_geometry(prj)
    ultra, _ = part_memory(meta.get("board", {}).get("part"))
    with block_fill(project_fill(meta)):
        gaps = {g.name: fire_gap(g, ultra) for g in geos}
    return {k: v for k, v in gaps.items() if v}


def _resynth(args) -> int:
    import re

    from spikehls.fileio import write_json
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.hls.rtl.sim import rtlsim
    from spikehls.hls.rtl.synth import synth

    data = json.loads(args.data.read_text())
    pat = re.compile(args.changed, re.M)
    for n in data["networks"]:
        prj = Path(n["project"])
        if n.get("resynth") == args.changed:
            continue
        generate_rtl(prj)
        if not any(pat.search(f.read_text()) for f in (prj / "rtl").glob("*.v")):
            continue
        t0 = time.perf_counter()
        r = rtlsim(prj, samples=args.samples)
        if not r["exact"]:
            print(f"{n.get('family', 'random')}{n['seed']}: RTL NOT EXACT {r['first_mismatch']}", flush=True)
            return 1
        gaps = _fire_gaps(prj) if args.fire_gap else {}
        delta = args.cycles_delta + sum(gaps.values())
        was = np.asarray(n["latency"][:r["samples"]], dtype=np.float64) + delta
        if (r["cycles"]["max"], r["cycles"]["mean"]) != (float(was.max()), round(float(was.mean()), 2)):
            print(f"{n.get('family', 'random')}{n['seed']}: cycles changed: {r['cycles']} against {was.tolist()}", flush=True)
            return 1
        for lyr in n["layers"]:  # a layer with a gap: its own cycles moved by it, checked the same way
            if lyr["name"] not in gaps:
                continue
            got = r["cycles"]["per_layer"][lyr["name"]]["mean"]
            want = round(float(np.mean(lyr["cycles"][:r["samples"]])) + gaps[lyr["name"]], 2)
            if got != want:
                print(f"{n.get('family', 'random')}{n['seed']}: {lyr['name']}: cycles {got} against {want}", flush=True)
                return 1
        s = synth(prj)
        for lyr in n["layers"]:
            lyr["yosys"], lyr["cells"] = _figures(s, lyr["name"]), s["per_layer"][lyr["name"]]["cells"]
        before = n["total"]["LUT"]
        if delta:  # the schedule moved by a known constant, checked on the simulated vectors above
            n["latency"] = [float(c) + delta for c in n["latency"]]
            for lyr in n["layers"]:
                lyr["cycles"] = [c + gaps.get(lyr["name"], 0) for c in lyr["cycles"]]
        n.update(top=_figures(s), total=s["total"], synth_seconds=s["seconds"],
                 resynth=args.changed)
        write_json(args.data, data)
        print(f"{n.get('family', 'random')}{n['seed']}: LUT {before} -> {s['total']['LUT']}, {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


def _collect(args) -> int:
    from spikehls.errors import SpikehlsError
    from spikehls.fileio import write_json
    from spikehls.hls.rtl.generate import generate_rtl, project_geometry
    from spikehls.hls.rtl.sim import rtlsim, simulate
    from spikehls.hls.rtl.synth import synth

    data = json.loads(args.data.read_text()) if args.data.is_file() else {"networks": []}
    done = {(n.get("family", "random"), n["seed"]) for n in data["networks"]}
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    for seed in range(args.start, args.start + args.networks):
        if (args.family, seed) in done:
            continue
        t0 = time.perf_counter()
        d = work / (f"n{seed}" if args.family == "random" else f"{args.family}{seed}")
        if args.max_lut:  # keep synthesis times bounded: networks the model prices above it are left out
            from spikehls.boards import load_board
            from spikehls.hls.estimate import estimate

            net, par, _ = _net_and_par(seed, args.family)
            lut = estimate(net, load_board(args.board), par).total["LUT"]
            if lut > args.max_lut:
                print(f"seed {seed}: skipped (model {lut:,.0f} LUT > --max-lut {args.max_lut:,})", flush=True)
                continue
        if args.reuse and (d / "prj" / "synth.json").is_file() and (d / "prj" / "rtlsim.json").is_file():
            # a project this generator wrote, simulated and synthesized before (a lost record): its
            # synth.json is the measurement; only the per-sample cycles are simulated again
            from spikehls.quantize.random_net import random_inputs

            net, par, rng = _net_and_par(seed, args.family)
            x, prj = random_inputs(rng, net, args.samples), d / "prj"
            if not json.loads((prj / "rtlsim.json").read_text())["exact"]:
                print(f"seed {seed}: RTL NOT EXACT (rtlsim.json)", flush=True)
                return 1
            s = json.loads((prj / "synth.json").read_text())
        else:
            net, par, x, prj = _write_project(seed, args.family, args.samples, args.board, d)
            generate_rtl(prj)
            r = rtlsim(prj)
            if not r["exact"]:
                print(f"seed {seed}: RTL NOT EXACT {r['first_mismatch']}", flush=True)
                return 1
            try:
                s = synth(prj)
            except SpikehlsError as e:  # a yosys crash (yowasp's abc9 traps on some nets): no figures to record
                print(f"seed {seed}: left out, yosys failed ({str(e).splitlines()[0][:160]})", flush=True)
                continue
        sim = simulate(prj, x)
        _, geos, _ = project_geometry(prj)
        layers = []
        for i, g in enumerate(geos):
            layers.append({"name": g.name, "kind": g.kind, "yosys": _figures(s, g.name),
                           "cells": s["per_layer"][g.name]["cells"], "cycles": sim["layer_cycles"][:, i].tolist()})
        data["networks"].append({
            "seed": seed, "family": args.family, "board": args.board, "parallelism": par, "time_steps": net.time_steps, "encoding": net.encoding,
            "project": str(prj), "layers": layers, "top": _figures(s),
            "total": s["total"], "latency": sim["latency"].tolist(), "synth_seconds": s["seconds"],
        })
        write_json(args.data, data)
        print(f"seed {seed}: P={par} T={net.time_steps} {net.encoding} {len(geos)} layers, LUT {s['total']['LUT']}, "
              f"cycles {int(np.mean(sim['latency']))}, {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--networks", type=int, default=30)
    c.add_argument("--start", type=int, default=0)
    c.add_argument("--samples", type=int, default=8)
    c.add_argument("--family", choices=("random", "preresnet", "wide", "vgglayer"), default="random",
                   help="random nets of every layer kind, pre-activation residual chains (stream layers), "
                        "wide random nets (up to 48 channels, 16-96 lanes), or VGG-16 slices (vgg_like_net)")
    c.add_argument("--reuse", action="store_true",
                   help="take the synthesis of a network whose project is already in --work (synth.json), re-simulating only")
    c.add_argument("--max-lut", type=int, default=0, help="leave out networks the model prices above this many LUT (0: none)")
    c.add_argument("--board", default="pynq-z2")
    c.add_argument("--data", type=Path, default=DATA)
    c.add_argument("--work", type=Path, default=Path("/tmp/spikehls-calibrate"))
    g = sub.add_parser("regen", help="rebuild the projects a data file names (no synthesis)")
    g.add_argument("--data", type=Path, action="append", help=f"data file (repeatable; default {DATA.name})")
    g.add_argument("--board", default="pynq-z2", help="for networks whose record names no board")
    r = sub.add_parser("resynth", help="re-synthesize the networks whose RTL changed (cycles kept, checked)")
    r.add_argument("--data", type=Path, default=DATA)
    r.add_argument("--fire-gap", action="store_true",
                   help="the change adds each layer's gap before its fire passes (twin_cost.fire_gap); checked "
                        "per layer on the simulated vectors, then added to every recorded sample")
    r.add_argument("--cycles-delta", type=int, default=0,
                   help="cycles per sample the change adds by construction (e.g. 1: a registered readout table's drain); "
                        "checked on the simulated vectors, then added to every recorded sample")
    r.add_argument("--changed", default=r"^module spk_\w+_(?:off|tbl|soff|stbl)_rom ",
                   help="regular expression the changed RTL matches (default: the separate ROM modules)")
    r.add_argument("--samples", type=int, default=2, help="vectors the Verilator check simulates")
    f = sub.add_parser("fit")
    f.add_argument("--data", type=Path, action="append",
                   help=f"data file to fit on (repeatable; default {DATA.name}); every third seed of each is held out")
    f.add_argument("--eval", action="append", type=Path, help="a further data file whose networks are all held out (other seeds)")
    f.add_argument("--write", action="store_true", help="write hls/calibration.py and the results file")
    args = ap.parse_args(argv)
    if args.cmd == "collect":
        return collect(args)
    if args.cmd == "resynth":
        return resynth(args)
    if args.cmd == "regen":
        args.data = args.data or [DATA]
        return regen(args)
    from calibrate_fit import fit  # noqa: E402  (benchmarks/calibrate_fit.py)

    args.data = args.data or [DATA]
    return fit(args)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
