"""BatchNorm folding: BN (eval statistics) becomes part of the conv/linear weight and bias.

``y = γ (W x + b - μ) / σ + β``  =>  ``W' = W γ/σ``, ``b' = β + γ (b - μ)/σ``, σ = sqrt(var + eps).

Why into the weights (not the thresholds): the integer contract has one threshold per channel
and an additive bias; folding into W and b keeps the threshold the neuron's own (positive) θ
and needs no division in hardware. A negative γ just flips the sign of that channel's weights
and bias: the neuron still compares ``V >= θ`` with θ > 0, exactly as the BN model did.
A 1x1 shortcut conv's BN is folded the same way and its bias moved into the receiving layer's
bias (both currents are added before the neuron).
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
import torch.nn as nn

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


def fold_bn(net: FloatNet) -> FloatNet:
    """Return a copy of ``net`` with every BN folded into the preceding conv/linear (which gains a bias)."""
    layers: list[nn.Module] = []
    for lyr in net.layers:
        if isinstance(lyr, FConv):
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
