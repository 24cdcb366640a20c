"""BatchNorm folding: BN (eval statistics) becomes part of the conv/linear weight and bias.

``y = γ (W x + b - μ) / σ + β``  =>  ``W' = W γ/σ``, ``b' = β + γ (b - μ)/σ``, σ = sqrt(var + eps).

Why into the weights (not the thresholds): the integer contract has one threshold per channel
and an additive bias; folding into W and b keeps the threshold the neuron's own (positive) θ
and needs no division in hardware. A negative γ just flips the sign of that channel's weights
and bias: the neuron still compares ``V >= θ`` with θ > 0, exactly as the BN model did.
A 1x1 shortcut conv's BN is folded the same way and its bias moved into the receiving layer's
bias (both currents are added before the neuron).

A stream writer (pre-activation ResNet, ``FConv.bn_on_stream``) cannot fold its BN into the
weights: the stream ``z`` it writes is also added, unscaled, by the next block. Its BN
``y = a z + b`` (``a = γ/σ``, ``b = β - a μ``) feeding a neuron with threshold θ is divided by
``|a|`` instead: the neuron reads ``sign(a) z + b/|a|`` against ``θ/|a|`` (the same spikes: IF and
LIF membranes, both resets and the comparison all scale with a positive factor). ``γ == 0``
gives sign 0: the neuron then reads the constant ``b`` against θ (nothing is divided).
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
import torch.nn as nn

from spikehls.errors import SpikehlsError

from .floatnet import FConv, FDense, FloatNet


def _fold(mod: nn.Module, bn: Optional[nn.Module]) -> tuple[torch.Tensor, torch.Tensor]:
    """Folded (weight, bias) of ``mod`` followed by ``bn`` (float64 math, float32 result)."""
    w = mod.weight.detach().double()
    b = mod.bias.detach().double() if mod.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    if bn is None:
        return w.float(), b.float()
    mean = bn.running_mean.detach().double()
    std = torch.sqrt(bn.running_var.detach().double() + bn.eps)
    gamma = bn.weight.detach().double() if bn.affine else torch.ones_like(mean)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros_like(mean)
    g = gamma / std
    w = w * g.reshape((-1,) + (1,) * (w.dim() - 1))
    b = beta + g * (b - mean)
    return w.float(), b.float()


def _conv_with(conv: nn.Conv2d, w: torch.Tensor, b: Optional[torch.Tensor]) -> nn.Conv2d:
    new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    bias=b is not None)
    with torch.no_grad():
        new.weight.copy_(w)
        if b is not None:
            new.bias.copy_(b)
    return new


def _fold_stream(lyr: FConv) -> FConv:
    """Fold a stream writer's BN into (sign, stream_bias, per-channel threshold); weights unchanged."""
    from .floatnet import neuron_params

    co = lyr.conv.out_channels
    neuron = copy.deepcopy(lyr.neuron)
    th = neuron_params(neuron, co, None, lyr.name).threshold.double()
    if lyr.bn is None:
        sign, bias = torch.ones(co, dtype=torch.float64), torch.zeros(co, dtype=torch.float64)
    else:
        bn = lyr.bn
        std = torch.sqrt(bn.running_var.detach().double() + bn.eps)
        gamma = bn.weight.detach().double() if bn.affine else torch.ones(co, dtype=torch.float64)
        beta = bn.bias.detach().double() if bn.affine else torch.zeros(co, dtype=torch.float64)
        a = gamma / std
        b = beta - a * bn.running_mean.detach().double()
        sign = torch.sign(a)
        div = torch.where(a == 0, torch.ones_like(a), a.abs())
        bias, th = b / div, th / div
    neuron._buffers["threshold"] = th.float()
    conv = _conv_with(lyr.conv, lyr.conv.weight.detach(), None)
    return FConv(lyr.name, conv, None, neuron, copy.deepcopy(lyr.skip), lyr.residual, True, sign.float(), bias.float())


def fold_bn(net: FloatNet) -> FloatNet:
    """Return a copy of ``net`` with every BN folded into the preceding conv/linear (which gains a bias)."""
    layers: list[nn.Module] = []
    for lyr in net.layers:
        if isinstance(lyr, FConv) and lyr.bn_on_stream:
            if lyr.skip is not None and lyr.skip.bn is not None:
                raise SpikehlsError(f"layer {lyr.name}: a stream writer's shortcut must be a plain 1x1 conv (no BatchNorm)")
            new = copy.deepcopy(lyr) if lyr.bn is None and lyr.sign is not None else _fold_stream(lyr)
        elif isinstance(lyr, FConv):
            w, b = _fold(lyr.conv, lyr.bn)
            skip = copy.deepcopy(lyr.skip)
            if skip is not None and skip.conv is not None:
                ws, bs = _fold(skip.conv, skip.bn)
                b = (b.double() + bs.double()).float()
                skip.conv = _conv_with(skip.conv, ws, None)
                skip.bn = None
            new = FConv(lyr.name, _conv_with(lyr.conv, w, b), None, copy.deepcopy(lyr.neuron), skip)
        elif isinstance(lyr, FDense):
            w, b = _fold(lyr.linear, lyr.bn)
            lin = nn.Linear(lyr.linear.in_features, lyr.linear.out_features, bias=True)
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(b)
            new = FDense(lyr.name, lin, None, copy.deepcopy(lyr.neuron))
        else:
            new = copy.deepcopy(lyr)
        layers.append(new)
    out = FloatNet(layers, net.input_shape, net.time_steps, net.encoding)
    out.train(net.training)
    return out
