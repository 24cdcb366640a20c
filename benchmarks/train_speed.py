"""Training throughput: our spiking CNN vs the same network written with snnTorch.

Both networks: conv3x3(1->16, no bias) - BN - IF - maxpool2 - conv3x3(16->32) - BN - IF -
maxpool2 - linear readout (bias) averaged over T; IF neurons with threshold 1, reset to zero,
sigmoid surrogate (slope 4), MNIST-shaped input (28x28, direct encoding), same T, batch size,
optimizer (Adam) and thread count, measured in the same process, alternating (A, B, A, B, ...)
so that a busy machine slows both alike.

Ours runs conv/BN once on the merged T*N batch and loops only the neurons over time; the
snnTorch version is written the way snnTorch's tutorials do it: one conv/BN/neuron call per
time step (snn.Leaky with beta=1.0 is an IF neuron).

    python benchmarks/train_speed.py [--T 4] [--batch 64] [--iters 20] [--threads 1]

Writes benchmarks/results/train_speed.json (samples/s of each and the ratio ours/snnTorch).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from spikehls.config import config_from_dict
from spikehls.fileio import write_json
from spikehls.training.models import build_model

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.json"


class SnnTorchCNN(nn.Module):
    """The same network, step by step in time, with snnTorch neurons."""

    def __init__(self):
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        sg = surrogate.sigmoid(slope=4)
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.lif1 = snn.Leaky(beta=1.0, threshold=1.0, spike_grad=sg, reset_mechanism="zero")
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.lif2 = snn.Leaky(beta=1.0, threshold=1.0, spike_grad=sg, reset_mechanism="zero")
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, N, 1, 28, 28]
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        out = 0
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.bn1(self.conv1(x[t])), mem1)
            spk2, mem2 = self.lif2(self.bn2(self.conv2(F.max_pool2d(spk1, 2))), mem2)
            out = out + self.fc(F.max_pool2d(spk2, 2).flatten(1))
        return out / x.shape[0]


def ours() -> nn.Module:
    cfg = config_from_dict({"model": {"preset": "mnist"}})  # [16, M, 32, M], IF, threshold 1, zero reset
    return build_model(cfg, 1, (28, 28), 10)


def _step(model, opt, x, y) -> None:
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=20, help="timed iterations per model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    try:
        import snntorch
    except ImportError:
        print("error: snnTorch is not installed (pip install 'spikehls[bench]')", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {"spikehls": ours(), "snntorch": SnnTorchCNN()}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}
    g = torch.Generator().manual_seed(0)
    x = (torch.randint(0, 256, (args.batch, 1, 28, 28), generator=g).float() / 256).expand(args.T, -1, -1, -1, -1).contiguous()
    y = torch.randint(0, 10, (args.batch,), generator=g)
    for k in models:  # warm-up
        for _ in range(2):
            _step(models[k], opts[k], x, y)
    times = {k: 0.0 for k in models}
    for _ in range(args.iters):
        for k in models:
            t0 = time.perf_counter()
            _step(models[k], opts[k], x, y)
            times[k] += time.perf_counter() - t0
    sps = {k: args.iters * args.batch / v for k, v in times.items()}
    res = {
        "samples_per_s": sps,
        "ratio_spikehls_over_snntorch": sps["spikehls"] / sps["snntorch"],
        "T": args.T, "batch": args.batch, "iters": args.iters, "threads": args.threads,
        "network": "conv16-BN-IF-pool-conv32-BN-IF-pool-readout, 28x28 input",
        "torch": torch.__version__, "snntorch": snntorch.__version__, "cpu": platform.processor() or platform.machine(),
    }
    write_json(args.out, res)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
