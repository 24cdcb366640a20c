"""Benchmark: throughput of the NumPy integer reference and of QONNX execution on an MNIST-sized net.

    python benchmarks/reference_speed.py [--samples 10000] [--qonnx-samples 50]

Network (random 4-bit integers, no training needed; only the speed is measured): direct
encoding, T=4, conv 1->16 3x3 pad 1 (LIF, the multiply-accumulate layer), max pool 2,
conv 16->32 3x3 pad 1 (IF), max pool 2, readout 1568->10. Inputs: random 28x28 8-bit images with
80 % zero pixels (MNIST-like sparsity). The QONNX run goes through ``execute_onnx`` one sample at
a time (that is what ``run_qonnx`` does) and is checked for exact equality with the reference.
Results: benchmarks/results/reference_speed.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from spikehls.fileio import write_json
from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, SpikingConv2d
from spikehls.quantize.qonnx_export import build_qonnx, run_qonnx


def mnist_sized_net(rng: np.random.Generator) -> IntNet:
    c1 = SpikingConv2d("conv1", rng.integers(-8, 8, (16, 1, 3, 3)), rng.integers(-50, 50, 16),
                       Neuron(np.full(16, 600), 1, "subtract", 16), padding=1, w_bits=4, w_scale=2**-3,
                       in_scale=2**-8)
    c2 = SpikingConv2d("conv2", rng.integers(-8, 8, (32, 16, 3, 3)), np.zeros(32),
                       Neuron(np.full(32, 6), 0, "zero", 12), padding=1, w_bits=4, w_scale=2**-3)
    out = Readout("fc", rng.integers(-8, 8, (10, 32 * 49)), np.zeros(10), w_bits=4, w_scale=2**-3)
    net = IntNet((1, 28, 28), 4, "direct", [c1, MaxPool2d("p1"), c2, MaxPool2d("p2"), out])
    net.validate()
    return net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--qonnx-samples", type=int, default=50)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    net = mnist_sized_net(rng)
    img = rng.integers(0, 256, (args.samples, 1, 28, 28))
    img[rng.random(img.shape) < 0.8] = 0
    x = np.repeat(img[:, None], net.time_steps, axis=1)
    t0 = time.perf_counter()
    r = ref.run(net, x)
    t_ref = time.perf_counter() - t0
    n_q = min(args.qonnx_samples, args.samples)
    model = build_qonnx(net)
    t0 = time.perf_counter()
    readout, spikes = run_qonnx(model, x[:n_q])
    t_q = time.perf_counter() - t0
    exact = bool(np.array_equal(readout, r.readout[:n_q])
                 and all(np.array_equal(spikes[k], r.spikes[k][:n_q]) for k in r.spikes))
    res = {
        "network": "direct T=4: conv1x16 3x3, pool2, conv16x32 3x3, pool2, readout 1568->10 (4-bit)",
        "reference_samples": args.samples,
        "reference_seconds": round(t_ref, 3),
        "reference_samples_per_s": round(args.samples / t_ref, 1),
        "qonnx_samples": n_q,
        "qonnx_seconds": round(t_q, 3),
        "qonnx_samples_per_s": round(n_q / t_q, 2),
        "qonnx_equals_reference": exact,
        "spike_rates": {k: round(float(v.mean()), 4) for k, v in r.spikes.items()},
        "machine": {"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "numpy": np.__version__},
    }
    out = Path(__file__).resolve().parent / "results" / "reference_speed.json"
    write_json(out, res)
    print(res)


if __name__ == "__main__":
    main()
