"""Extraction: a quantized PyTorch network (:class:`~spikehls.quantize.qat.QuantSNN`) -> :class:`IntNet`.

Every integer comes from the same functions the eval-mode forward uses (Brevitas
``quant_weight().int()`` and scale, the layer's bias and skip quantization, the neuron's integer
threshold), so the two cannot drift apart: the tests then check the whole chain spike for spike
against the NumPy reference and QONNX.
"""

from __future__ import annotations

import numpy as np
import torch

from spikehls.errors import SpikehlsError

from .floatnet import FPool
from .intnet import IntNet, MaxPool2d, Neuron, Readout, Skip, SpikingConv2d, SpikingDense
from .qat import QConv, QDense, QReadout, QuantSNN


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _neuron(q) -> Neuron:
    acc = q.acc_scale()
    n = q.neuron
    th = _np(n.theta_int(acc)).astype(np.int64)
    return Neuron(threshold=th, leak_shift=int(n.leak_shift), reset=n.reset, v_bits=int(n.v_bits))


@torch.no_grad()
def extract(model: QuantSNN) -> IntNet:
    """The integer network that ``model`` computes in eval mode (validated)."""
    layers = []
    for q in model.layers:
        if isinstance(q, QConv):
            acc = q.acc_scale()
            skip = None
            if q.skip_source is not None:
                if q.skip_weight is None:
                    skip = Skip(q.skip_source, gain=_np(q.skip_gain(acc)).astype(np.int64), stride=q.skip_stride)
                else:
                    skip = Skip(q.skip_source, weight=_np(q.skip_w_int(q.w_scale())).astype(np.int64),
                                stride=q.skip_stride, w_bits=q.skip_bits)
            sign = _np(q.sign).astype(np.int64) if q.stream else None
            layers.append(SpikingConv2d(
                name=q.name, weight=_np(q.w_int()), bias=_np(q.b_int(acc)), neuron=_neuron(q),
                stride=q.stride, padding=q.padding, w_bits=q.weight_bits(), w_scale=_np(q.w_scale()).astype(np.float64),
                in_scale=q.in_scale, skip=skip, residual=q.residual,
                current_sign=None if sign is None or (sign == 1).all() else sign))
        elif isinstance(q, QDense):
            acc = q.acc_scale()
            layers.append(SpikingDense(
                name=q.name, weight=_np(q.w_int()), bias=_np(q.b_int(acc)), neuron=_neuron(q), w_bits=q.w_bits,
                w_scale=_np(q.w_scale()).astype(np.float64), in_scale=q.in_scale))
        elif isinstance(q, FPool):
            layers.append(MaxPool2d(q.name, q.kernel, q.stride))
        elif isinstance(q, QReadout):
            acc = q.acc_scale()
            layers.append(Readout(
                name=q.name, weight=_np(q.w_int()), bias=_np(q.b_int(acc)), w_bits=q.w_bits,
                w_scale=_np(q.w_scale()).astype(np.float64), in_scale=q.in_scale))
        else:
            raise SpikehlsError(f"layer {getattr(q, 'name', q)}: {type(q).__name__} has no integer form")
    net = IntNet(tuple(model.input_shape), model.time_steps, model.encoding, layers)
    net.validate()
    return net
