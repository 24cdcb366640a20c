"""Benchmark: compile time and C-simulation throughput of the spiking HLS design on MNIST,
side by side with stock hls4ml on a comparable 4-bit conv ANN.

    python benchmarks/csim.py [--mnist DIR] [--run RUN] [--samples 10000] [--baseline-samples 300]
                              [--channels 16,32] [--estimate-parallelism 1,2,4,8,16]

Spiking model: ``--run RUN`` (a trained, exported run: model.qonnx.onnx) or, by default, an
MNIST-sized network built here in seconds: direct encoding, T=4, conv 1->16 3x3 (the MAC layer),
pool 2, conv 16->32 3x3, pool 2, readout 1568->10; 4-bit conv weights drawn at random (30 % of
conv1 zero), per-channel thresholds calibrated on training images so that about 8 % of the
neurons fire per step, and a 4-bit readout fitted by least squares on the spike counts of 3,000
training images. Its accuracy is reported but is not the point; the spike activity is realistic.

Measured: g++ compile of firmware + driver (forced rebuild), C-simulation of the MNIST test set
in ``--jobs`` processes (default 1, like hls4ml's predict(); no spike capture: readout and event counters only), exactness against the NumPy
integer reference (readout of every image; every spike of the first 200), and stock hls4ml
(Brevitas conv16-pool-conv32-pool-dense10, 4-bit, QONNX -> hls4ml Vitis io_stream): compile()
and predict() images/s. Results: benchmarks/results/csim.json.

``--channels 6,10`` builds the synthetic net with the channel counts SCA p = 0.7 keeps (the
pruned MNIST design). Every run also records the resource/latency model
(:mod:`spikehls.hls.estimate`) of the simulated net on ``--board`` at each
``--estimate-parallelism`` setting, with the C-simulation's mean events per sample for the
activity-based latency (``spikehls.estimate.by_parallelism``): LUT/FF/BRAM18/DSP, worst-case and
activity cycles, microseconds, and per layer lanes, fire lanes and cycles.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from spikehls.fileio import read_yaml, write_json
from spikehls.hls.csim import build_driver, simulate
from spikehls.hls.project import generate_project
from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, SpikingConv2d
from spikehls.quantize.qonnx_export import export_qonnx, intnet_from_qonnx, load_qonnx
from spikehls.training.datasets import read_idx

ROOT = Path(__file__).resolve().parent
FIRE = 0.08  # target fraction of neurons firing per step (thresholds calibrated for it)
DEFAULT_MNIST = ROOT.parent.parent / "shared" / "data" / "mnist"


def load_mnist(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def f(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (root / name).is_file():
                return root / name
        raise SystemExit(f"error: {root}: no {stem}[.gz] (pass --mnist DIR)")

    return (read_idx(f("train-images.idx3-ubyte")), read_idx(f("train-labels.idx1-ubyte")),
            read_idx(f("t10k-images.idx3-ubyte")), read_idx(f("t10k-labels.idx1-ubyte")))


def _calibrated(current: np.ndarray, fire: float, v_bits: int) -> np.ndarray:
    """Per-channel threshold = the (1 - fire) quantile of the positive per-step current."""
    co = current.shape[2]
    per_ch = np.moveaxis(current, 2, 0).reshape(co, -1)
    th = np.quantile(np.maximum(per_ch, 0), 1 - fire, axis=1)
    return np.clip(np.round(th), 1, 2 ** (v_bits - 1) - 1).astype(np.int64)


def build_snn(train_x: np.ndarray, train_y: np.ndarray, t_steps: int = 4, seed: int = 0, n_fit: int = 3000,
              c0: int = 16, c1: int = 32) -> IntNet:
    """The synthetic MNIST-sized spiking network of the module docstring (``c0``/``c1`` channels kept)."""
    rng = np.random.default_rng(seed)
    v_bits = 16
    x = np.repeat(train_x[:n_fit, None, None].astype(np.int64), t_steps, axis=1)  # direct: [N, T, 1, 28, 28]
    w0 = np.clip(np.round(rng.normal(0, 3, size=(c0, 1, 3, 3))), -8, 7).astype(np.int64)
    cur0 = ref.conv_current(x[:256].reshape(-1, 1, 28, 28), w0, 1, 1).reshape(256, t_steps, c0, 28, 28)
    conv0 = SpikingConv2d("conv0", w0, np.zeros(c0, np.int64), Neuron(_calibrated(cur0, FIRE, v_bits), 0, "subtract", v_bits),
                          stride=1, padding=1, w_bits=4, w_scale=np.full(c0, 2.0**-3), in_scale=2.0**-8)
    pool0 = MaxPool2d("pool0", 2, 2)
    w1 = np.clip(np.round(rng.normal(0.3, 3, size=(c1, c0, 3, 3))), -8, 7).astype(np.int64)
    w1[rng.random(w1.shape) < 0.3] = 0
    s0 = ref.spike_maxpool2d(ref.spiking_conv2d(x[:256], conv0), pool0)
    cur1 = ref.conv_current(s0.reshape(-1, c0, 14, 14), w1, 1, 1).reshape(256, t_steps, c1, 14, 14)
    conv1 = SpikingConv2d("conv1", w1, np.zeros(c1, np.int64), Neuron(_calibrated(cur1, FIRE, v_bits), 0, "subtract", v_bits),
                          stride=1, padding=1, w_bits=4, w_scale=np.full(c1, 2.0**-3))
    pool1 = MaxPool2d("pool1", 2, 2)
    probe = IntNet((1, 28, 28), t_steps, "direct", [conv0, pool0, conv1, pool1,
                   Readout("readout", np.zeros((10, c1 * 7 * 7), np.int64), np.zeros(10, np.int64))])
    feats = ref.run(probe, x).spikes["pool1"].sum(axis=1).reshape(n_fit, -1).astype(np.float64)
    target = -np.ones((n_fit, 10))
    target[np.arange(n_fit), train_y[:n_fit]] = 1.0
    a = feats.T @ feats + 10.0 * np.eye(feats.shape[1])
    w = np.linalg.solve(a, feats.T @ target).T  # [10, c1 * 49]
    wr = np.clip(np.round(w / np.abs(w).max() * 7), -8, 7).astype(np.int64)
    net = IntNet((1, 28, 28), t_steps, "direct", [conv0, pool0, conv1, pool1,
                 Readout("readout", wr, np.zeros(10, np.int64), w_bits=4, w_scale=np.full(10, 2.0**-3))])
    net.validate()
    return net


def model_estimates(net: IntNet, board: str, sim, prj: Path, settings: list[int]) -> dict:
    """The analytic model (spikehls.hls.estimate) of this net on ``board`` at each parallelism, with the
    C-simulation's mean events per sample for the activity-based latency."""
    from spikehls.boards import load_board
    from spikehls.hls.csim import load_meta
    from spikehls.hls.estimate import estimate

    brd = load_board(board)
    names = {lyr["name"]: lyr.get("source_name", lyr["name"]) for lyr in load_meta(prj)["layers"]}
    events = {names[k]: {"in_events": float(v[:, 0].mean()), "synops": float(v[:, 1].mean())} for k, v in sim.counters.items()}
    out = {"board": brd.name, "clock_mhz": brd.clock_mhz, "source": "estimate", "by_parallelism": {}}
    for p in settings:
        e = estimate(net, brd, p, events)
        out["by_parallelism"][str(p)] = {
            **e.total,
            "cycles_worst": e.cycles_worst, "cycles_activity": round(e.cycles_activity or 0.0, 1),
            "us_activity": round(e.us_activity or 0.0, 2), "interval_cycles_worst": e.interval_worst,
            "per_layer": {le.name: {"LUT": le.LUT, "FF": le.FF, "BRAM18": le.BRAM18, "DSP": le.DSP,
                                    "lanes": le.detail.get("lanes"), "fire_lanes": le.detail.get("fire_lanes"),
                                    "cycles_worst": le.cycles_worst, "cycles_activity": round(le.cycles_activity or 0.0, 1)}
                          for le in e.per_layer},
        }
    return out


def baseline_hls4ml(images: np.ndarray, workdir: Path) -> dict:
    """Stock hls4ml: Brevitas 4-bit conv16-pool-conv32-pool-dense10 -> QONNX -> hls4ml (Vitis, io_stream)."""
    import brevitas.nn as qnn
    import hls4ml
    import torch
    from brevitas.export import export_qonnx as brevitas_export
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model
    from torch import nn

    class W4(Int8WeightPerTensorFixedPoint):
        bit_width = 4

    class A4(Int8ActPerTensorFixedPoint):
        bit_width = 4

    torch.manual_seed(0)
    model = nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True),
        qnn.QuantConv2d(1, 16, 3, padding=1, weight_quant=W4, bias=False), qnn.QuantReLU(act_quant=A4, return_quant_tensor=True),
        nn.MaxPool2d(2),
        qnn.QuantConv2d(16, 32, 3, padding=1, weight_quant=W4, bias=False), qnn.QuantReLU(act_quant=A4, return_quant_tensor=True),
        nn.MaxPool2d(2), nn.Flatten(),
        qnn.QuantLinear(32 * 7 * 7, 10, weight_quant=W4, bias=True),  # GemmToMatMul needs the bias input
    ).eval()
    path = workdir / "ann.onnx"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        brevitas_export(model, torch.zeros(1, 1, 28, 28), export_path=str(path))
        mw = cleanup_model(ModelWrapper(str(path)))
        mw = cleanup_model(mw.transform(ConvertToChannelsLastAndClean()).transform(GemmToMatMul()))
        cfg = hls4ml.utils.config.config_from_onnx_model(mw.model, granularity="name", backend="Vitis",
                                                        default_precision="fixed<16,6>")
        hm = hls4ml.converters.convert_from_onnx_model(mw.model, output_dir=str(workdir / "ann_prj"), io_type="io_stream",
                                                       backend="Vitis", hls_config=cfg)
        t0 = time.perf_counter()
        hm.compile()
        compile_s = time.perf_counter() - t0
    x = (images[:, :, :, None] / 256.0).astype(np.float32)  # NHWC after channels-last conversion
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        hm.predict(x)
    sec = time.perf_counter() - t0
    return {"model": "Brevitas 4-bit conv16-pool-conv32-pool-dense10, hls4ml 1.3.0 Vitis io_stream",
            "compile_seconds": round(compile_s, 2), "samples": len(x), "processes": 1, "seconds": round(sec, 2),
            "samples_per_second": round(len(x) / sec, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    ap.add_argument("--run", type=Path, default=None, help="use a trained run's model.qonnx.onnx (MNIST, direct/rate/bitplane)")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--baseline-samples", type=int, default=300, help="0 skips the stock hls4ml baseline")
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--jobs", type=int, default=1,
                    help="C-simulation driver processes (default 1: like stock hls4ml, whose predict() is one process)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "csim.json")
    ap.add_argument("--channels", default="16,32", help="synthetic net: channels of conv0,conv1 (SCA p=0.7 keeps ~6,10)")
    ap.add_argument("--estimate-parallelism", default="1,2,4,8,16",
                    help="also record the resource/latency model at these parallelism settings (with the csim events)")
    args = ap.parse_args(argv)

    load_start = [round(v, 2) for v in os.getloadavg()]
    train_x, train_y, test_x, test_y = load_mnist(args.mnist)
    test_x, test_y = test_x[: args.samples], test_y[: args.samples]
    with tempfile.TemporaryDirectory(prefix="spikehls-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        run_config = None
        if args.run is not None:
            from spikehls.training.encoding import encode_int

            onnx_path = args.run / "model.qonnx.onnx"
            net = intnet_from_qonnx(load_qonnx(onnx_path))
            model_desc = f"trained run {args.run}"
            if (args.run / "config.yaml").is_file():  # what was trained, so the numbers can be reproduced
                run_config = read_yaml(args.run / "config.yaml", "training run config")
        else:
            c0, c1 = (int(v) for v in args.channels.split(","))
            net = build_snn(train_x, train_y, c0=c0, c1=c1)
            onnx_path = work / "model.qonnx.onnx"
            export_qonnx(net, onnx_path)
            model_desc = "synthetic MNIST-sized SNN (random 4-bit convs, calibrated thresholds, least-squares readout)"
        build_s = time.perf_counter() - t0
        if net.encoding == "direct":
            inputs = np.repeat(test_x[:, None, None].astype(np.int64), net.time_steps, axis=1)
        else:
            inputs = encode_int(test_x[:, None], net.encoding, net.time_steps)
        prj = work / "prj"
        t0 = time.perf_counter()
        generate_project(onnx_path, args.board, prj)
        gen_s = time.perf_counter() - t0
        _, compile_s = build_driver(prj, force=True)
        sim = simulate(prj, inputs, capture=False, jobs=args.jobs)
        t0 = time.perf_counter()
        want = ref.run(net, inputs)
        ref_s = time.perf_counter() - t0
        n_check = min(200, len(inputs))
        sim_c = simulate(prj, inputs[:n_check], capture=True)
        spike_mm = sum(int((sim_c.spikes[k] != want.spikes[k][:n_check]).sum()) for k in sim_c.spikes)
        counters = {k: v.astype(np.float64).mean(axis=0).round(1).tolist() for k, v in sim.counters.items()}
        pred = np.argmax(sim.readout, axis=1)
        ours = {
            "model": model_desc,
            "run_config": run_config,
            "encoding": net.encoding, "time_steps": net.time_steps,
            "layers": [f"{type(lyr).__name__} {lyr.name}" for lyr in net.layers],
            "generate_seconds": round(gen_s, 2),
            "compile_seconds": round(compile_s, 2),
            "samples": len(inputs),
            "processes": args.jobs,
            "seconds": round(sim.seconds, 2),
            "samples_per_second": round(len(inputs) / sim.seconds, 1),
            "readout_mismatches_vs_reference": int((sim.readout != want.readout).any(axis=1).sum()),
            "spike_mismatches_first_200": spike_mm,
            "accuracy": round(float((pred == test_y).mean()), 4),
            "reference_seconds": round(ref_s, 2),
            "model_build_seconds": round(build_s, 2),
            "events_per_sample [in_events, adds, out_spikes]": counters,
        }
        ours["estimate"] = model_estimates(net, args.board, sim, prj,
                                           [int(v) for v in args.estimate_parallelism.split(",") if v])
        print(json.dumps(ours, indent=1))
        result = {
            "benchmark": "csim",
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                        # a shared machine: the load says how many other processes competed for the cores
                        "loadavg_start": load_start, "loadavg_end": [round(v, 2) for v in os.getloadavg()]},
            "targets": {"samples_10000_seconds_max": 120, "compile_seconds_max": 30},
            "spikehls": ours,
        }
        if args.baseline_samples > 0:
            base = baseline_hls4ml(test_x[: args.baseline_samples], work)
            result["hls4ml_baseline"] = base
            result["throughput_ratio_note"] = (f"spikehls {args.jobs} process(es) vs hls4ml predict() in 1 process, "
                                               "measured in this run one after the other")
            result["throughput_ratio"] = round(ours["samples_per_second"] / base["samples_per_second"], 1)
            result["compile_ratio"] = round(base["compile_seconds"] / max(ours["compile_seconds"], 1e-9), 2)
            print(json.dumps(base, indent=1))
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
