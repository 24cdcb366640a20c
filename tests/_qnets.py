"""Shared builders for the quantize tests: small trained-looking torch models and configs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from spikehls.config import config_from_dict
from spikehls.quantize.floatnet import FConv, FDense, FloatNet, FPool, FReadout, FSkip
from spikehls.training.neurons import SpikingNeuron


def randomize_bn(model: nn.Module, gen: torch.Generator, negative: bool = True) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters (some γ negative)."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                lo = -1.0 if negative else 0.3
                m.weight.copy_(torch.rand(c, generator=gen) * (2.0 - lo) + lo)
                m.bias.copy_(torch.rand(c, generator=gen) * 0.6 - 0.2)


def model_config(arch: str, neuron: str = "if", reset: str = "zero", encoding: str = "direct", **extra):
    d = {"model": {"preset": "digits" if arch == "vgg" else "resnet_small"},
         "neuron": {"kind": neuron, "reset": reset, "threshold": 0.6, "leak_shift": 2},
         "encoding": {"kind": encoding}}
    for k, v in extra.items():
        d.setdefault(k, {}).update(v)
    return config_from_dict(d)


def float_neuron(threshold, leak_shift: int = 0, reset: str = "zero") -> SpikingNeuron:
    """A training neuron with a scalar or per-channel threshold."""
    n = SpikingNeuron(1.0, leak_shift, reset)
    n.threshold = torch.as_tensor(threshold, dtype=torch.float32).clone()
    return n


def random_floatnet(rng: np.random.Generator) -> tuple[FloatNet, dict]:
    """A random small FloatNet (convs with pools, skips, dense layers, BN, IF/LIF) and quant settings."""
    enc = str(rng.choice(["direct", "rate", "bitplane"]))
    c0 = int(rng.integers(1, 3)) * (8 if enc == "bitplane" else 1)
    h = w = int(rng.integers(4, 10))
    T = int(rng.integers(1, 6))
    leak = int(rng.choice([0, 0, 1, 2, 3]))
    reset = str(rng.choice(["zero", "subtract"]))
    layers: list[nn.Module] = []
    shapes = {"input": (c0, h, w)}
    cur, c = "input", c0
    bits: dict[str, int] = {}

    def neuron(co: int) -> SpikingNeuron:
        return float_neuron(rng.uniform(0.2, 1.2, size=co) if rng.random() < 0.5 else float(rng.uniform(0.3, 1.0)),
                            leak, reset)

    def init(mod: nn.Module, gain: float) -> None:
        fan_in = mod.weight[0].numel()
        with torch.no_grad():
            mod.weight.copy_(torch.as_tensor(rng.uniform(-0.6, 1.0, size=tuple(mod.weight.shape)) * gain / np.sqrt(fan_in),
                                             dtype=torch.float32))

    n_conv = int(rng.integers(1, 4))
    for i in range(n_conv):
        co = int(rng.integers(1, 6))
        k = int(rng.choice([1, 2, 3]))
        s = int(rng.choice([1, 1, 2]))
        p = int(rng.integers(0, k // 2 + 1))
        ho, wo = (shapes[cur][1] + 2 * p - k) // s + 1, (shapes[cur][2] + 2 * p - k) // s + 1
        if ho < 1 or wo < 1:
            break
        conv = nn.Conv2d(c, co, k, s, p, bias=bool(rng.random() < 0.3))
        init(conv, 3.0 if cur == "input" and enc == "direct" else 1.5)
        bn = nn.BatchNorm2d(co) if rng.random() < 0.7 else None
        skip = None
        cands = [(n, sh) for n, sh in shapes.items() if n != "input" and any(((sh[1] - 1) // st + 1, (sh[2] - 1) // st + 1) == (ho, wo) for st in (1, 2))]
        if cands and rng.random() < 0.6:
            src, sh = cands[int(rng.integers(len(cands)))]
            st = 1 if (sh[1], sh[2]) == (ho, wo) else 2
            if sh[0] == co and st == 1 and rng.random() < 0.5:
                skip = FSkip(src)
            else:
                sc = nn.Conv2d(sh[0], co, 1, st, bias=False)
                init(sc, 1.0)
                skip = FSkip(src, sc, nn.BatchNorm2d(co) if rng.random() < 0.5 else None)
                if rng.random() < 0.5:
                    bits[f"L{i}.shortcut"] = int(rng.integers(2, 9))
        name = f"L{i}"
        layers.append(FConv(name, conv, bn, neuron(co), skip))
        bits[name] = int(rng.integers(2, 9))
        shapes[name] = (co, ho, wo)
        cur, c = name, co
        if ho >= 2 and wo >= 2 and rng.random() < 0.4:
            pn = f"P{i}"
            layers.append(FPool(pn, 2, 2))
            shapes[pn] = (co, ho // 2, wo // 2)
            cur = pn
    feat = int(np.prod(shapes[cur]))
    for j in range(int(rng.integers(0, 3))):
        u = int(rng.integers(1, 7))
        lin = nn.Linear(feat, u, bias=bool(rng.random() < 0.5))
        init(lin, 2.0)
        name = f"D{j}"
        layers.append(FDense(name, lin, nn.BatchNorm1d(u) if rng.random() < 0.5 else None, neuron(u)))
        bits[name] = int(rng.integers(2, 9))
        feat = u
    ro = nn.Linear(feat, int(rng.integers(2, 5)), bias=True)
    init(ro, 1.0)
    layers.append(FReadout("readout", ro))
    bits["readout"] = int(rng.integers(2, 9))
    net = FloatNet(layers, (c0, h, w), T, enc)
    randomize_bn(net, torch.Generator().manual_seed(int(rng.integers(1 << 30))))
    qcfg = {"w_bits": 4, "layer_w_bits": bits, "per_channel": bool(rng.random() < 0.5),
            "v_bits": int(rng.integers(6, 17)), "bias_bits": int(rng.integers(6, 17))}
    return net.eval(), qcfg


def random_input(rng: np.random.Generator, enc: str, n: int, T: int, shape) -> np.ndarray:
    """Encoded integer input ``[n, T, C, H, W]`` for an encoding (pixels or spikes)."""
    full = (n, T) + tuple(shape)
    if enc == "direct":
        pix = rng.integers(0, 256, size=(n, 1) + tuple(shape))
        pix[rng.random(pix.shape) < 0.4] = 0
        return np.repeat(pix, T, axis=1).astype(np.int64)
    return (rng.random(full) < rng.uniform(0.1, 0.7)).astype(np.int64)
