"""Quantization-aware spiking layers whose eval-mode forward *is* the integer contract.

:func:`quantize_net` turns a slimmed, BN-folded :class:`~spikehls.quantize.floatnet.FloatNet` into a
:class:`QuantSNN`: the same layer list, with

* weights through Brevitas ``QuantConv2d`` / ``QuantLinear`` and a power-of-two (fixed-point)
  scale quantizer (``Int8WeightPerTensorFixedPoint`` with ``weight_bit_width`` 2..8, per tensor or
  per output channel): no ``ApplyAlpha`` nodes downstream (DESIGN.md section 3);
* the bias quantized to the accumulator scale ``acc = w_scale * in_scale`` with ``bias_bits``;
* :class:`IntNeuron`, a subclass of the training neuron whose per-step update uses the integer
  threshold ``θ_int = clamp(round(θ / acc), 1, 2^(v_bits-1)-1)``, the floored leak
  ``V -= floor(V / (acc 2^k)) acc`` and saturation to ``v_bits``, with straight-through
  gradients for the rounding, flooring and the surrogate spike.

Two execution paths, one meaning:

* training mode: float32, everything a multiple of ``acc``, differentiable (STE);
* eval mode: the currents are computed from ``quant_weight().int()`` in float64 (every partial sum
  is an integer far below 2**53, so it is exact) and the membrane runs in int64. This is the
  "PyTorch quantized model" that must equal the NumPy reference and QONNX spike for spike.

Tensors are ``[N, T, ...]``; the readout is summed over T (as the training model does).
"""

from __future__ import annotations

from typing import Optional

import brevitas.nn as qnn
import torch
import torch.nn as nn
import torch.nn.functional as F
from brevitas.quant import Int8WeightPerTensorFixedPoint

from spikehls.errors import SpikehlsError
from spikehls.training.neurons import SpikingNeuron
from spikehls.training.surrogate import spike

from .floatnet import FConv, FDense, FloatNet, FPool, FReadout, NeuronParams, neuron_params

MIN_BITS, MAX_BITS = 2, 8


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity gradient."""
    return x + (torch.round(x) - x).detach()


def ste_floor(x: torch.Tensor) -> torch.Tensor:
    """floor(x) forward, identity gradient."""
    return x + (torch.floor(x) - x).detach()


def int_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _bshape(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """[C] -> broadcastable against [N, C, ...] of ``ndim`` dims."""
    return t.reshape((1, -1) + (1,) * (ndim - 2))


class IntNeuron(SpikingNeuron):
    """The training neuron with the contract's integer arithmetic (see module docstring).

    The owning layer sets ``self.acc`` (the per-channel accumulator scale, float [C]) before
    every call; the threshold buffer is the float θ per channel, quantized on the fly so that
    it follows a weight scale that moves during fine-tuning.
    """

    def __init__(self, p: NeuronParams, v_bits: int, surrogate: str = "sigmoid"):
        super().__init__(threshold=1.0, leak_shift=p.leak_shift, reset=p.reset, surrogate=surrogate,
                         alpha=p.alpha, detach_reset=p.detach_reset)
        self.threshold = p.threshold.detach().float().clone()  # per channel [C]
        self.v_bits = int(v_bits)
        self.acc: Optional[torch.Tensor] = None

    def extra_repr(self) -> str:
        return super().extra_repr() + f", v_bits={self.v_bits}"

    def theta_int(self, acc: torch.Tensor) -> torch.Tensor:
        """Integer threshold per channel (float64 tensor holding integers)."""
        lo, hi = 1, int_range(self.v_bits)[1]
        return torch.clamp(torch.round(self.threshold.double() / acc.double()), lo, hi)

    # ---- training path (float, STE) ----------------------------------------------------------
    def step(self, v: torch.Tensor, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        acc = _bshape(self.acc.to(v.dtype), v.ndim)
        th = _bshape(self.theta_int(self.acc).to(v.dtype), v.ndim) * acc
        lo, hi = int_range(self.v_bits)
        if self.leak_shift:
            v = v - ste_floor(v / (acc * 2.0**self.leak_shift)) * acc
        v = v + i
        v = v + (torch.clamp(v, lo * acc, hi * acc) - v).detach()  # saturate, straight-through
        s = spike(v - th, self.surrogate, self.alpha)
        r = s.detach() if self.detach_reset else s
        v = v * (1.0 - r) if self.reset == "zero" else v - r * th
        return v, s

    # ---- eval path (exact integers) ----------------------------------------------------------
    def forward_int(self, current: torch.Tensor) -> torch.Tensor:
        """Integer currents (int64 ``[N, T, C, ...]``, bias and skip included) -> spikes float 0/1."""
        th = _bshape(self.theta_int(self.acc).to(torch.int64), current.ndim - 1)
        lo, hi = int_range(self.v_bits)
        k = self.leak_shift
        v = torch.zeros_like(current[:, 0])
        out = torch.empty(current.shape, dtype=torch.float32, device=current.device)
        for t in range(current.shape[1]):
            if k:
                v = v - torch.div(v, 2**k, rounding_mode="floor")
            v = torch.clamp(v + current[:, t], lo, hi)
            s = v >= th
            v = v - th * s if self.reset == "subtract" else torch.where(s, torch.zeros_like(v), v)
            out[:, t] = s.float()
        return out

    def run(self, current: torch.Tensor) -> torch.Tensor:
        """Float training path over ``[N, T, C, ...]`` (the training neuron is time-first)."""
        return super().forward(current.transpose(0, 1)).transpose(0, 1)


def _bt(fn, x: torch.Tensor) -> torch.Tensor:
    n, t = x.shape[:2]
    y = fn(x.reshape((n * t,) + x.shape[2:]))
    return y.reshape((n, t) + y.shape[1:])


def _to_int(x: torch.Tensor, scale: float, what: str) -> torch.Tensor:
    """Float tensor holding multiples of ``scale`` -> the float64 integers (checked exact)."""
    xi = torch.round(x.double() / scale)
    if not torch.equal(xi * scale, x.double()):
        raise ValueError(f"{what}: input is not a multiple of its scale {scale}")
    return xi


class _QuantWeighted(nn.Module):
    """Shared weight/bias quantization of a conv, dense or readout layer."""

    wmod: nn.Module
    in_scale: float
    bias_bits: int

    def w_scale(self) -> torch.Tensor:
        """Power-of-two weight scale per output channel (detached), float [Co]."""
        s = self.wmod.quant_weight().scale.detach().reshape(-1)
        return s.expand(self.wmod.weight.shape[0]).clone() if s.numel() == 1 else s

    def acc_scale(self) -> torch.Tensor:
        return self.w_scale() * self.in_scale

    def w_int(self) -> torch.Tensor:
        return self.wmod.quant_weight().int().to(torch.int64)

    def quant_bias(self, acc: torch.Tensor) -> torch.Tensor:
        """Bias in float units, quantized to ``acc`` with ``bias_bits`` (STE)."""
        lo, hi = int_range(self.bias_bits)
        return torch.clamp(ste_round(self.bias / acc), lo, hi) * acc

    def b_int(self, acc: torch.Tensor) -> torch.Tensor:
        lo, hi = int_range(self.bias_bits)
        return torch.clamp(torch.round(self.bias.detach().double() / acc.double()), lo, hi).to(torch.int64)


def _check_bits(name: str, bits: int) -> int:
    if not MIN_BITS <= int(bits) <= MAX_BITS:
        raise SpikehlsError(f"quant: layer {name}: weight bits must be in {MIN_BITS}..{MAX_BITS} (got {bits})")
    return int(bits)


def _qconv(conv: nn.Conv2d, bits: int, per_channel: bool) -> qnn.QuantConv2d:
    q = qnn.QuantConv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                        padding=conv.padding, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                        weight_bit_width=bits, weight_scaling_per_output_channel=per_channel)
    with torch.no_grad():
        q.weight.copy_(conv.weight)
    return q


def _qlinear(lin: nn.Linear, bits: int, per_channel: bool) -> qnn.QuantLinear:
    q = qnn.QuantLinear(lin.in_features, lin.out_features, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                        weight_bit_width=bits, weight_scaling_per_output_channel=per_channel)
    with torch.no_grad():
        q.weight.copy_(lin.weight)
    return q


class QConv(_QuantWeighted):
    """Quantized spiking conv (+ identity or 1x1-conv residual input)."""

    kind = "conv"

    def __init__(self, f: FConv, bits: int, per_channel: bool, bias_bits: int, v_bits: int, in_scale: float,
                 neuron: IntNeuron, skip_bits: Optional[int] = None):
        super().__init__()
        if f.bn is not None:
            raise ValueError(f"layer {f.name}: fold the BatchNorm before quantizing")
        self.name, self.w_bits, self.bias_bits, self.in_scale = f.name, bits, bias_bits, float(in_scale)
        self.wmod = _qconv(f.conv, bits, per_channel)
        self.stride, self.padding = int(f.conv.stride[0]), int(f.conv.padding[0])
        b = f.conv.bias.detach() if f.conv.bias is not None else torch.zeros(f.conv.out_channels)
        self.bias = nn.Parameter(b.clone().float())
        self.neuron = neuron
        self.skip_source: Optional[str] = f.skip.source if f.skip is not None else None
        self.skip_stride = f.skip.stride if f.skip is not None else 1
        self.skip_bits = int(skip_bits or bits)
        self.skip_weight: Optional[nn.Parameter] = None
        if f.skip is not None and f.skip.conv is not None:
            if f.skip.conv.kernel_size != (1, 1) or f.skip.conv.padding != (0, 0):
                raise SpikehlsError(f"layer {f.name}: only 1x1 shortcut convolutions without padding can be exported")
            if f.skip.bn is not None or f.skip.conv.bias is not None:
                raise ValueError(f"layer {f.name}: fold the shortcut BatchNorm before quantizing")
            self.skip_weight = nn.Parameter(f.skip.conv.weight.detach()[:, :, 0, 0].clone().float())

    def skip_gain(self, acc: torch.Tensor) -> torch.Tensor:
        """Identity shortcut: one skip spike adds 1.0 in float = ``max(1, round(1/acc))`` integers."""
        return torch.clamp(torch.round(1.0 / acc.double()), min=1)

    def skip_w_int(self, ws: torch.Tensor) -> torch.Tensor:
        lo, hi = int_range(self.skip_bits)
        return torch.clamp(torch.round(self.skip_weight.detach().double() / ws.double()[:, None]), lo, hi)

    def forward(self, x: torch.Tensor, skip_in: Optional[torch.Tensor] = None) -> torch.Tensor:
        acc = self.acc_scale()
        self.neuron.acc = acc
        if not self.training:
            return self.neuron.forward_int(self.current_int(x, skip_in, acc))
        qw = self.wmod.quant_weight().value
        i = _bt(lambda z: F.conv2d(z, qw, self.quant_bias(acc), self.stride, self.padding), x)
        if self.skip_source is not None:
            if self.skip_weight is None:
                i = i + _bshape((self.skip_gain(acc) * acc.double()).float(), 4)[None] * skip_in
            else:
                ws = self.w_scale()
                lo, hi = int_range(self.skip_bits)
                wsk = torch.clamp(ste_round(self.skip_weight / ws[:, None]), lo, hi) * ws[:, None]
                i = i + _bt(lambda z: F.conv2d(z, wsk[:, :, None, None], None, self.skip_stride), skip_in)
        return self.neuron.run(i)

    @torch.no_grad()
    def current_int(self, x, skip_in, acc) -> torch.Tensor:
        """Exact integer current (bias and skip included), int64 [N, T, Co, Ho, Wo]."""
        xi = _to_int(x, self.in_scale, self.name)
        w = self.w_int().double()
        i = _bt(lambda z: F.conv2d(z, w, self.b_int(acc).double(), self.stride, self.padding), xi)
        if self.skip_source is not None:
            s = skip_in.double()
            if self.skip_weight is None:
                i = i + _bshape(self.skip_gain(acc), 4)[None] * s
            else:
                wsk = self.skip_w_int(self.w_scale())
                i = i + _bt(lambda z: F.conv2d(z, wsk[:, :, None, None], None, self.skip_stride), s)
        return i.round().to(torch.int64)


class QDense(_QuantWeighted):
    """Quantized spiking dense layer on the flattened (C, H, W) input."""

    kind = "dense"

    def __init__(self, f: FDense, bits: int, per_channel: bool, bias_bits: int, v_bits: int, in_scale: float,
                 neuron: IntNeuron):
        super().__init__()
        if f.bn is not None:
            raise ValueError(f"layer {f.name}: fold the BatchNorm before quantizing")
        self.name, self.w_bits, self.bias_bits, self.in_scale = f.name, bits, bias_bits, float(in_scale)
        self.wmod = _qlinear(f.linear, bits, per_channel)
        b = f.linear.bias.detach() if f.linear.bias is not None else torch.zeros(f.linear.out_features)
        self.bias = nn.Parameter(b.clone().float())
        self.neuron = neuron

    def forward(self, x: torch.Tensor, skip_in=None) -> torch.Tensor:
        x = x.flatten(2)
        acc = self.acc_scale()
        self.neuron.acc = acc
        if not self.training:
            with torch.no_grad():
                xi = _to_int(x, self.in_scale, self.name)
                i = F.linear(xi, self.w_int().double(), self.b_int(acc).double())
            return self.neuron.forward_int(i.round().to(torch.int64))
        i = F.linear(x, self.wmod.quant_weight().value, self.quant_bias(acc))
        return self.neuron.run(i)


class QReadout(_QuantWeighted):
    """Quantized readout, summed over T. Eval mode also leaves the integers in ``last_int``."""

    kind = "readout"

    def __init__(self, f: FReadout, bits: int, per_channel: bool, bias_bits: int, in_scale: float):
        super().__init__()
        self.name, self.w_bits, self.bias_bits, self.in_scale = f.name, bits, bias_bits, float(in_scale)
        self.wmod = _qlinear(f.linear, bits, per_channel)
        b = f.linear.bias.detach() if f.linear.bias is not None else torch.zeros(f.linear.out_features)
        self.bias = nn.Parameter(b.clone().float())
        self.last_int: Optional[torch.Tensor] = None

    def forward(self, x: torch.Tensor, skip_in=None) -> torch.Tensor:
        x = x.flatten(2)
        acc = self.acc_scale()
        if not self.training:
            with torch.no_grad():
                xi = _to_int(x, self.in_scale, self.name)
                out = F.linear(xi.sum(1), self.w_int().double()) + x.shape[1] * self.b_int(acc).double()
                self.last_int = out.round().to(torch.int64)
                return (out * acc.double()).float()
        return F.linear(x, self.wmod.quant_weight().value, self.quant_bias(acc)).sum(1)


class QuantSNN(nn.Module):
    """Quantized spiking network; ``forward(x[N,T,C,H,W]) -> readout [N, K]`` (float units)."""

    def __init__(self, layers: list[nn.Module], input_shape, time_steps: int, encoding: str, v_bits: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.time_steps = int(time_steps)
        self.encoding = encoding
        self.v_bits = int(v_bits)

    @property
    def in_scale(self) -> float:
        return 2.0**-8 if self.encoding == "direct" else 1.0

    def forward(self, x: torch.Tensor, record: bool = False):
        outs: dict[str, torch.Tensor] = {"input": x}
        for lyr in self.layers:
            src = getattr(lyr, "skip_source", None)
            x = lyr(x, outs[src] if src is not None else None)
            outs[lyr.name] = x
        return (x, outs) if record else x

    def readout_int(self) -> torch.Tensor:
        """Readout integers of the last eval-mode forward."""
        return self.layers[-1].last_int


def layer_bits(net: FloatNet, qcfg) -> dict[str, int]:
    """Weight bits per weighted layer: ``quant.layer_w_bits`` or ``quant.w_bits``; unknown names are errors."""
    names = [lyr.name for lyr in net.layers if not isinstance(lyr, FPool)]
    unknown = sorted(set(qcfg.layer_w_bits) - set(names) - {f"{n}.shortcut" for n in names})
    if unknown:
        raise SpikehlsError(f"quant.layer_w_bits: unknown layer(s) {', '.join(unknown)} (layers: {', '.join(names)})")
    bits = {n: _check_bits(n, qcfg.layer_w_bits.get(n, qcfg.w_bits)) for n in names}
    for n in names:
        if f"{n}.shortcut" in qcfg.layer_w_bits:
            bits[f"{n}.shortcut"] = _check_bits(f"{n}.shortcut", qcfg.layer_w_bits[f"{n}.shortcut"])
    return bits


def quantize_net(net: FloatNet, qcfg, cfg=None) -> QuantSNN:
    """Quantized copy of a slimmed, BN-folded FloatNet (``qcfg`` = ``cfg.quant``).

    ``cfg`` (the whole config, optional) supplies neuron settings a neuron module does not carry.
    """
    if not MIN_BITS <= qcfg.w_bits <= MAX_BITS:
        raise SpikehlsError(f"quant.w_bits must be in {MIN_BITS}..{MAX_BITS} (got {qcfg.w_bits})")
    bits = layer_bits(net, qcfg)
    layers: list[nn.Module] = []
    prev = "input"
    for lyr in net.layers:
        in_scale = net.in_scale if prev == "input" else 1.0
        if isinstance(lyr, (FConv, FDense)):
            co = lyr.conv.out_channels if isinstance(lyr, FConv) else lyr.linear.out_features
            p = neuron_params(lyr.neuron, co, cfg)
            surrogate = getattr(lyr.neuron, "surrogate", None) or (cfg.neuron.surrogate if cfg is not None else "sigmoid")
            neuron = IntNeuron(p, qcfg.v_bits, surrogate)
            if isinstance(lyr, FConv):
                if lyr.skip is not None and lyr.skip.source == "input":
                    raise SpikehlsError(f"layer {lyr.name}: a residual input straight from the encoded input cannot be exported")
                q = QConv(lyr, bits[lyr.name], qcfg.per_channel, qcfg.bias_bits, qcfg.v_bits, in_scale, neuron,
                          bits.get(f"{lyr.name}.shortcut", bits[lyr.name]))
            else:
                q = QDense(lyr, bits[lyr.name], qcfg.per_channel, qcfg.bias_bits, qcfg.v_bits, in_scale, neuron)
        elif isinstance(lyr, FPool):
            q = FPool(lyr.name, lyr.kernel, lyr.stride)
        elif isinstance(lyr, FReadout):
            q = QReadout(lyr, bits[lyr.name], qcfg.per_channel, qcfg.bias_bits, in_scale)
        else:  # pragma: no cover
            raise SpikehlsError(f"layer {getattr(lyr, 'name', lyr)}: cannot be quantized")
        layers.append(q)
        prev = lyr.name
    out = QuantSNN(layers, net.input_shape, net.time_steps, net.encoding, qcfg.v_bits)
    out.eval()
    return out
