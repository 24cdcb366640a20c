"""Slimming: physically remove the channels SCA pruned (DESIGN.md section 4).

During training a pruned channel is only masked (its filter and BN γ, β are zero), so it never
receives current and never spikes: dropping it, together with the matching BN entries, per-channel
thresholds, the next layer's input channels (through pools and the flatten into dense layers and
the readout) and the residual paths tied to it, leaves every remaining spike unchanged.

Works on a :class:`~spikehls.quantize.floatnet.FloatNet`; ``keep`` maps a spiking layer's name to
a bool array over its output channels (layers not named keep everything).
"""

from __future__ import annotations

import copy
from typing import Mapping, Optional

import numpy as np
import torch
import torch.nn as nn

from spikehls.errors import SpikehlsError

from .floatnet import FConv, FDense, FloatNet, FPool, FReadout


def _idx(mask: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.flatnonzero(mask), dtype=torch.long)


def _slim_conv(conv: nn.Conv2d, out_keep: np.ndarray, in_keep: np.ndarray) -> nn.Conv2d:
    o, i = _idx(out_keep), _idx(in_keep)
    new = nn.Conv2d(len(i), len(o), conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        new.weight.copy_(conv.weight[o][:, i])
        if conv.bias is not None:
            new.bias.copy_(conv.bias[o])
    return new


def _slim_linear(lin: nn.Linear, out_keep: np.ndarray, in_keep: np.ndarray) -> nn.Linear:
    o, i = _idx(out_keep), _idx(in_keep)
    new = nn.Linear(len(i), len(o), bias=lin.bias is not None)
    with torch.no_grad():
        new.weight.copy_(lin.weight[o][:, i])
        if lin.bias is not None:
            new.bias.copy_(lin.bias[o])
    return new


def _slim_bn(bn: Optional[nn.Module], keep: np.ndarray) -> Optional[nn.Module]:
    if bn is None:
        return None
    o = _idx(keep)
    new = type(bn)(len(o), eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                   track_running_stats=bn.track_running_stats)
    with torch.no_grad():
        if bn.affine:
            new.weight.copy_(bn.weight[o])
            new.bias.copy_(bn.bias[o])
        if bn.track_running_stats:
            new.running_mean.copy_(bn.running_mean[o])
            new.running_var.copy_(bn.running_var[o])
            new.num_batches_tracked.copy_(bn.num_batches_tracked)
    new.train(bn.training)
    return new


def _slim_neuron(neuron: nn.Module, keep: np.ndarray) -> nn.Module:
    """Copy the neuron; a per-channel threshold buffer keeps only the surviving entries."""
    new = copy.deepcopy(neuron)
    th = getattr(new, "threshold", None)
    if isinstance(th, torch.Tensor) and th.numel() == len(keep) and th.numel() > 1:
        sl = th.detach()[_idx(keep)].clone()
        if "threshold" in dict(new.named_buffers(recurse=False)):
            new._buffers["threshold"] = sl
        elif "threshold" in dict(new.named_parameters(recurse=False)):
            new._parameters["threshold"] = nn.Parameter(sl, requires_grad=th.requires_grad)
        else:
            new.threshold = sl
    return new


def slim(net: FloatNet, keep: Mapping[str, np.ndarray]) -> FloatNet:
    """Return a new FloatNet without the pruned channels (``net`` is left untouched)."""
    shapes = net.shapes()
    unknown = set(keep) - {lyr.name for lyr in net.layers}
    if unknown:
        raise SpikehlsError(f"masks name layers the model does not have: {', '.join(sorted(unknown))}")
    # kept output channels of every layer, by name ("input" keeps all its channels)
    kept: dict[str, np.ndarray] = {"input": np.ones(shapes["input"][0], bool)}
    cur = kept["input"]
    cur_shape = shapes["input"]
    layers: list[nn.Module] = []
    for lyr in net.layers:
        if isinstance(lyr, FConv):
            co = lyr.conv.out_channels
            k = np.asarray(keep.get(lyr.name, np.ones(co, bool)), bool)
            if k.shape != (co,):
                raise SpikehlsError(f"mask of layer {lyr.name} has {k.size} entries, the layer has {co} channels")
            if not k.any():
                raise SpikehlsError(f"layer {lyr.name}: all channels are pruned; the network cannot be exported")
            skip = None
            if lyr.skip is not None:
                src = kept[lyr.skip.source]
                skip = copy.deepcopy(lyr.skip)
                if lyr.skip.conv is None:
                    if not np.array_equal(src, k):
                        raise SpikehlsError(
                            f"layer {lyr.name}: its identity shortcut from {lyr.skip.source} is not pruned "
                            "consistently (tied residual channels must share one mask)")
                else:
                    skip.conv = _slim_conv(lyr.skip.conv, k, src)
                    skip.bn = _slim_bn(lyr.skip.bn, k)
            if lyr.residual is not None and not np.array_equal(kept[lyr.residual], k):
                raise SpikehlsError(
                    f"layer {lyr.name}: its residual stream from {lyr.residual} is not pruned consistently "
                    "(tied stream channels must share one mask)")
            o = _idx(k)
            new = FConv(lyr.name, _slim_conv(lyr.conv, k, cur), _slim_bn(lyr.bn, k), _slim_neuron(lyr.neuron, k), skip,
                        lyr.residual, lyr.bn_on_stream, None if lyr.sign is None else lyr.sign[o],
                        None if lyr.stream_bias is None else lyr.stream_bias[o])
            cur = k
        elif isinstance(lyr, FPool):
            new = copy.deepcopy(lyr)
        elif isinstance(lyr, FDense):
            in_keep = np.repeat(cur, int(np.prod(cur_shape[1:]))) if len(cur_shape) == 3 else cur
            co = lyr.linear.out_features
            k = np.asarray(keep.get(lyr.name, np.ones(co, bool)), bool)
            if k.shape != (co,) or not k.any():
                raise SpikehlsError(f"mask of layer {lyr.name} must have {co} entries and keep at least one")
            new = FDense(lyr.name, _slim_linear(lyr.linear, k, in_keep), _slim_bn(lyr.bn, k), _slim_neuron(lyr.neuron, k))
            cur = k
        elif isinstance(lyr, FReadout):
            in_keep = np.repeat(cur, int(np.prod(cur_shape[1:]))) if len(cur_shape) == 3 else cur
            new = FReadout(lyr.name, _slim_linear(lyr.linear, np.ones(lyr.linear.out_features, bool), in_keep))
        else:  # pragma: no cover - FloatNet only holds the kinds above
            raise SpikehlsError(f"layer {getattr(lyr, 'name', lyr)}: cannot be slimmed")
        kept[lyr.name] = cur
        cur_shape = shapes[lyr.name]
        layers.append(new)
    out = FloatNet(layers, (int(kept["input"].sum()),) + tuple(shapes["input"][1:]), net.time_steps, net.encoding)
    out.train(net.training)
    return out


def count_params(net: FloatNet) -> dict[str, int]:
    """Weights (conv/linear/shortcut, no BN) and spiking channels of a FloatNet."""
    params = channels = 0
    for lyr in net.layers:
        for mod in (getattr(lyr, "conv", None), getattr(lyr, "linear", None),
                    getattr(getattr(lyr, "skip", None), "conv", None)):
            if mod is not None:
                params += mod.weight.numel() + (mod.bias.numel() if mod.bias is not None else 0)
        if isinstance(lyr, FConv):
            channels += lyr.conv.out_channels
        elif isinstance(lyr, FDense):
            channels += lyr.linear.out_features
    return {"parameters": params, "channels": channels}


def keep_from_masks(net: FloatNet, masks) -> dict[str, np.ndarray]:
    """Per-layer keep arrays from a :class:`spikehls.training.masks.Masks` (by conv member name)."""
    keep: dict[str, np.ndarray] = {}
    for lyr in net.layers:
        if isinstance(lyr, FConv):
            try:
                keep[lyr.name] = np.asarray(masks.layer_keep(lyr.name), bool)
            except KeyError:
                continue
    return keep
