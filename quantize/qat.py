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

* training mode: float32, everything a multiple of ``acc``, differentiable (STE). It computes
  the same spikes as eval mode while the integers stay below 2**24 (float32 is exact there; the
  tests check train == eval); beyond that only the gradients' forward values are approximate;
* eval mode: the currents are computed from ``quant_weight().int()`` in float64 (every partial sum
  is an integer far below 2**53, so it is exact) and the membrane runs in int64. This is the
  "PyTorch quantized model" that must equal the NumPy reference and QONNX spike for spike.

Tensors are ``[N, T, ...]``; the readout is summed over T (as the training model does) and uses
one weight scale for all classes, so the float argmax is the integer argmax.

Residual inputs: an identity shortcut adds ``gain = max(1, round(1/acc))`` integers per skip spike
(1.0 in float); a 1x1 shortcut conv (BN folded, its bias moved into the layer bias) is quantized
on the *receiving* layer's weight scale with ``quant.layer_w_bits["<layer>.shortcut"]`` bits
(default: the layer's bits), because the contract adds its integers to the same accumulator.
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

from .floatnet import FConv, FDense, FloatNet, FPool, FReadout, NeuronParams, _bt, neuron_params

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

    def own_w_scale(self) -> torch.Tensor:
        """The Brevitas power-of-two weight scale per output channel (detached), float [Co]."""
        s = self.wmod.quant_weight().scale.detach().reshape(-1)
        return s.expand(self.wmod.weight.shape[0]).clone() if s.numel() == 1 else s

    def w_scale(self) -> torch.Tensor:
        """Power-of-two weight scale per output channel (detached), float [Co]."""
        return self.own_w_scale()

    def weight_bits(self) -> int:
        """Bit width of the integer weights (the configured one; a stream peer may need more)."""
        return self.w_bits

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


def signed_bits(values: torch.Tensor) -> int:
    """Fewest bits of a signed integer range holding every value (at least 2)."""
    if values.numel() == 0:
        return MIN_BITS
    hi, lo = int(values.max()), int(values.min())
    return max(MIN_BITS, max(hi, 0).bit_length() + 1, max(-lo - 1, 0).bit_length() + 1)


class QConv(_QuantWeighted):
    """Quantized spiking conv (+ identity or 1x1-conv residual input), or a stream writer.

    A stream writer (``stream``, from a BN-folded ``FConv.bn_on_stream``) computes the integer
    stream ``z = W x (+ skip) (+ z of layer residual)`` and its neuron reads
    ``bias + sign * z``. The writers chained by identity residuals (``peers``, set by
    :class:`QuantSNN`) add their streams unscaled, so they share one accumulator scale: per
    channel the finest of their own Brevitas scales (times ``in_scale``). A peer whose own scale
    is coarser gets correspondingly more integer weight bits (``weight_bits``) rather than clipped
    weights: with direct encoding the stem's pixels make its scale 2^8 finer than the rest.
    """

    kind = "conv"

    def __init__(self, f: FConv, bits: int, per_channel: bool, bias_bits: int, v_bits: int, in_scale: float,
                 neuron: IntNeuron, skip_bits: Optional[int] = None):
        super().__init__()
        if f.bn is not None:
            raise ValueError(f"layer {f.name}: fold the BatchNorm before quantizing")
        self.name, self.w_bits, self.bias_bits, self.in_scale = f.name, bits, bias_bits, float(in_scale)
        self.per_channel = bool(per_channel)
        self.wmod = _qconv(f.conv, bits, per_channel)
        self.stride, self.padding = int(f.conv.stride[0]), int(f.conv.padding[0])
        self.stream, self.residual = bool(f.bn_on_stream), f.residual
        if self.stream:
            if f.sign is None or f.stream_bias is None:
                raise ValueError(f"layer {f.name}: fold the stream's BatchNorm before quantizing")
            b = f.stream_bias.detach()
            self.register_buffer("sign", f.sign.detach().float().clone())
        else:
            b = f.conv.bias.detach() if f.conv.bias is not None else torch.zeros(f.conv.out_channels)
            self.register_buffer("sign", None)
        self.peers: list[QConv] = []  # stream writers sharing this one's accumulator scale (set by QuantSNN)
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

    def w_scale(self) -> torch.Tensor:
        if not self.peers:
            return self.own_w_scale()
        acc = torch.stack([p.own_w_scale() * p.in_scale for p in self.peers]).amin(0)
        return acc / self.in_scale

    def w_int(self) -> torch.Tensor:
        if not self.peers:
            return super().w_int()
        ws = self.w_scale().double().reshape(-1, 1, 1, 1)
        return torch.round(self.wmod.weight.detach().double() / ws).to(torch.int64)

    def weight_bits(self) -> int:
        return max(self.w_bits, signed_bits(self.w_int())) if self.peers else self.w_bits

    def qweight(self) -> torch.Tensor:
        """Fake-quantized float weights of the training path (STE)."""
        if not self.peers:
            return self.wmod.quant_weight().value
        ws = self.w_scale().reshape(-1, 1, 1, 1)
        return ste_round(self.wmod.weight / ws) * ws

    def skip_gain(self, acc: torch.Tensor) -> torch.Tensor:
        """Identity shortcut: one skip spike adds 1.0 in float = ``max(1, round(1/acc))`` integers."""
        return torch.clamp(torch.round(1.0 / acc.double()), min=1)

    def skip_w_int(self, ws: torch.Tensor) -> torch.Tensor:
        lo, hi = int_range(self.skip_bits)
        return torch.clamp(torch.round(self.skip_weight.detach().double() / ws.double()[:, None]), lo, hi)

    def forward(self, x: torch.Tensor, skip_in: Optional[torch.Tensor] = None, res_in=None) -> torch.Tensor:
        return self.run(x, skip_in, res_in)[0]

    def run(self, x: torch.Tensor, skip_in=None, res_in=None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(spikes, stream or None). The stream is float in training mode, int64 in eval mode."""
        acc = self.acc_scale()
        self.neuron.acc = acc
        if not self.training:
            if not self.stream:
                return self.neuron.forward_int(self.current_int(x, skip_in, acc)), None
            z = self.stream_int(x, skip_in, res_in)
            i = _bshape(self.b_int(acc), 4)[None] + _bshape(self.sign.to(torch.int64), 4)[None] * z
            return self.neuron.forward_int(i), z
        qw = self.qweight()
        bias = None if self.stream else self.quant_bias(acc)
        i = _bt(lambda z: F.conv2d(z, qw, bias, self.stride, self.padding), x)
        if self.skip_source is not None:
            if self.skip_weight is None:
                i = i + _bshape((self.skip_gain(acc) * acc.double()).float(), 4)[None] * skip_in
            else:
                ws = self.w_scale()
                lo, hi = int_range(self.skip_bits)
                wsk = torch.clamp(ste_round(self.skip_weight / ws[:, None]), lo, hi) * ws[:, None]
                i = i + _bt(lambda z: F.conv2d(z, wsk[:, :, None, None], None, self.skip_stride), skip_in)
        if not self.stream:
            return self.neuron.run(i), None
        z = i + res_in if self.residual is not None else i
        i = _bshape(self.quant_bias(acc), 4)[None] + _bshape(self.sign, 4)[None] * z
        return self.neuron.run(i), z

    def _weighted_int(self, x, skip_in, acc, bias) -> torch.Tensor:
        """Exact ``W x (+ bias) (+ skip)`` as float64 integers."""
        xi = _to_int(x, self.in_scale, self.name)
        w = self.w_int().double()
        i = _bt(lambda z: F.conv2d(z, w, bias, self.stride, self.padding), xi)
        if self.skip_source is not None:
            s = skip_in.double()
            if self.skip_weight is None:
                i = i + _bshape(self.skip_gain(acc), 4)[None] * s
            else:
                wsk = self.skip_w_int(self.w_scale())
                i = i + _bt(lambda z: F.conv2d(z, wsk[:, :, None, None], None, self.skip_stride), s)
        return i

    @torch.no_grad()
    def current_int(self, x, skip_in, acc) -> torch.Tensor:
        """Exact integer current (bias and skip included), int64 [N, T, Co, Ho, Wo]."""
        return self._weighted_int(x, skip_in, acc, self.b_int(acc).double()).round().to(torch.int64)

    @torch.no_grad()
    def stream_int(self, x, skip_in, res_in) -> torch.Tensor:
        """Exact integer stream ``W x (+ skip) (+ res_in)`` of a stream writer, int64."""
        z = self._weighted_int(x, skip_in, self.acc_scale(), None).round().to(torch.int64)
        return z + res_in if self.residual is not None else z


class QDense(_QuantWeighted):
    """Quantized spiking dense layer on the flattened (C, H, W) input."""

    kind = "dense"

    def __init__(self, f: FDense, bits: int, per_channel: bool, bias_bits: int, v_bits: int, in_scale: float,
                 neuron: IntNeuron):
        super().__init__()
        if f.bn is not None:
            raise ValueError(f"layer {f.name}: fold the BatchNorm before quantizing")
        self.name, self.w_bits, self.bias_bits, self.in_scale = f.name, bits, bias_bits, float(in_scale)
        self.per_channel = bool(per_channel)
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
    """Quantized readout, summed over T. Eval mode also leaves the integers in ``last_int``.

    Always one weight scale for all classes (``per_channel`` is ignored): the prediction is the
    argmax of the readout *integers*, which equals the argmax of the float readout only when every
    class shares the scale.
    """

    kind = "readout"

    def __init__(self, f: FReadout, bits: int, per_channel: bool, bias_bits: int, in_scale: float):
        super().__init__()
        per_channel = False
        self.name, self.w_bits, self.bias_bits, self.in_scale = f.name, bits, bias_bits, float(in_scale)
        self.per_channel = bool(per_channel)
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
        self._link_stream_peers()

    @property
    def in_scale(self) -> float:
        from spikehls.training.encoding import input_scale

        return input_scale(self.encoding)

    def _link_stream_peers(self) -> None:
        """Give every chain of stream writers joined by identity residuals one shared scale."""
        root: dict[str, str] = {}
        chains: dict[str, list[QConv]] = {}
        for lyr in self.layers:
            if isinstance(lyr, QConv) and lyr.stream:
                root[lyr.name] = root[lyr.residual] if lyr.residual is not None else lyr.name
                chains.setdefault(root[lyr.name], []).append(lyr)
        for chain in chains.values():
            for lyr in chain:
                lyr.peers = list(chain) if len(chain) > 1 else []

    def forward(self, x: torch.Tensor, record: bool = False):
        outs: dict[str, torch.Tensor] = {"input": x}
        streams: dict[str, torch.Tensor] = {}
        for lyr in self.layers:
            src = getattr(lyr, "skip_source", None)
            skip_in = outs[src] if src is not None else None
            if getattr(lyr, "stream", False):
                res = streams[lyr.residual] if lyr.residual is not None else None
                x, streams[lyr.name] = lyr.run(x, skip_in, res)
            else:
                x = lyr(x, skip_in)
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
    cur_scale = net.in_scale  # scale of the tensor entering the next layer (pools keep it)
    for lyr in net.layers:
        in_scale = cur_scale
        cur_scale = in_scale if isinstance(lyr, FPool) else 1.0
        if isinstance(lyr, (FConv, FDense)):
            co = lyr.conv.out_channels if isinstance(lyr, FConv) else lyr.linear.out_features
            p = neuron_params(lyr.neuron, co, cfg, lyr.name)
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
    out = QuantSNN(layers, net.input_shape, net.time_steps, net.encoding, qcfg.v_bits)
    out.eval()
    return out


# ---- fine-tuning ---------------------------------------------------------------------------------
def finetune(model: QuantSNN, train_set, cfg, epochs: int, lr: float, progress: bool = True,
             log=None, teacher: Optional[torch.nn.Module] = None) -> list[dict]:
    """Quantization-aware fine-tuning of ``model`` on ``train_set`` (an ImageSet) for ``epochs``.

    Adam at ``lr``, cross-entropy on the readout mean over T (the training model's logits), the
    encoding of the run config, batches of ``cfg.optim.batch_size``; with a ``teacher`` (a training
    model: ``train.distill_from``) the loss is the same distillation mix as in training
    (:func:`spikehls.training.trainer.distill_loss`), so the integer grid is learnt towards the
    wide network's outputs too. Returns one dict per epoch (loss, train accuracy). The model is
    left in eval mode.
    """
    from spikehls.training.trainer import distill_loss

    from tqdm import tqdm

    from spikehls.console import bars_on

    from spikehls.training.datasets import batches
    from spikehls.training.encoding import encode

    history: list[dict] = []
    if epochs <= 0:
        model.eval()
        return history
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(int(cfg.train.seed) + 1)
    enc_gen = torch.Generator().manual_seed(int(cfg.encoding.seed) + 1)
    t_steps = model.time_steps
    n_batches = (len(train_set) + cfg.optim.batch_size - 1) // cfg.optim.batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * n_batches))
    for ep in range(epochs):
        model.train()
        tot_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(batches(train_set, cfg.optim.batch_size, shuffle=True, generator=gen), total=n_batches,
                   desc=f"QAT epoch {ep + 1}/{epochs}", disable=not bars_on(progress), leave=False)
        for images, labels in bar:
            x_bt = encode(images, cfg.encoding.kind, t_steps, enc_gen)
            out = model(x_bt.transpose(0, 1)) / t_steps
            loss = F.cross_entropy(out, labels)
            if teacher is not None:
                with torch.no_grad():
                    taught = teacher(x_bt)
                loss = distill_loss(loss, out, taught, cfg.train.distill_weight, cfg.train.distill_temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss.detach()) * len(labels)
            correct += int((out.argmax(1) == labels).sum())
            seen += len(labels)
            bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        rec = {"epoch": ep + 1, "loss": tot_loss / max(seen, 1), "train_accuracy": correct / max(seen, 1)}
        history.append(rec)
        if log is not None:
            log(rec)
    model.eval()
    return history


# ---- QAT during SCA training (weights only; BN is not folded yet) ---------------------------------
def pow2_fake_quant(w: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """Power-of-two-scale fake quantization with a straight-through gradient.

    Scale ``2^ceil(log2(max|w| / (2^(b-1)-1)))`` (per tensor or per output channel): the rule of
    Brevitas' ``*FixedPoint`` weight quantizers, so the weights learn to live on the grid they get
    after export. Zero stays zero (pruned filters stay pruned).
    """
    lo, hi = int_range(bits)
    dims = tuple(range(1, w.dim()))
    m = w.detach().abs().amax(dim=dims, keepdim=True) if per_channel else w.detach().abs().max()
    scale = torch.exp2(torch.ceil(torch.log2(torch.clamp(m / hi, min=2.0**-24))))
    return torch.clamp(ste_round(w / scale), lo, hi) * scale


class _FQConv2d(nn.Conv2d):
    """nn.Conv2d whose forward uses fake-quantized weights (class swapped in place, see below)."""

    def forward(self, x):
        return self._conv_forward(x, pow2_fake_quant(self.weight, self.qat_bits, self.qat_per_channel), self.bias)


class _FQLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, pow2_fake_quant(self.weight, self.qat_bits, self.qat_per_channel), self.bias)


def enable_weight_qat(model: nn.Module, qcfg) -> list[str]:
    """Make every conv/linear of a *training* model fake-quantize its weights (QAT during SCA).

    The modules keep their identity and their ``weight`` Parameter (the class is swapped in
    place), so SCA masks, optimizers and checkpoints keep working; the state dict is unchanged.
    Bits per layer come from ``quant.layer_w_bits`` (by module name) or ``quant.w_bits``.
    Returns the names of the layers changed. BN is still separate here, so this only prepares
    the weights for the grid; the exact integer model is the one fine-tuned after folding.

    Measured (benchmarks/quant_mnist.py, MNIST, SCA p=0.7, 4 bits, one QAT epoch after folding):
    QAT during SCA gave 92.64 % (its own float model 92.70 %, before the final QAT 92.02 %);
    float SCA then QAT gave 93.44 % (float 93.26 %, before QAT 92.74 %). Folding BN rescales every
    channel, so a grid learnt before folding is not the grid after it: no gain was seen, and
    "QAT after SCA" (``quant.qat_during_sca: false``) stays the default. One seed each.
    """
    names = []
    for name, mod in model.named_modules():
        if type(mod) in (nn.Conv2d, nn.Linear):
            bits = _check_bits(name, qcfg.layer_w_bits.get(name, qcfg.w_bits))
            mod.__class__ = _FQConv2d if isinstance(mod, nn.Conv2d) else _FQLinear
            mod.qat_bits, mod.qat_per_channel = bits, bool(qcfg.per_channel)
            names.append(name)
    return names


def disable_weight_qat(model: nn.Module) -> None:
    """Undo :func:`enable_weight_qat` (plain float modules again)."""
    for mod in model.modules():
        if type(mod) is _FQConv2d:
            mod.__class__ = nn.Conv2d
        elif type(mod) is _FQLinear:
            mod.__class__ = nn.Linear


# ---- persistence (Brevitas modules do not pickle: save a layer spec + the state dict) -------------
QUANTIZED_FORMAT = "spikehls.quantized/1"


def _neuron_spec(n: IntNeuron) -> dict:
    return {"leak_shift": n.leak_shift, "reset": n.reset, "alpha": n.alpha, "detach_reset": n.detach_reset,
            "surrogate": n.surrogate, "v_bits": n.v_bits, "channels": int(n.threshold.numel())}


def model_spec(model: QuantSNN) -> dict:
    """Everything but the tensors needed to rebuild ``model`` (see :func:`load_quantized`)."""
    layers = []
    for q in model.layers:
        if isinstance(q, QConv):
            w = q.wmod
            d = {"kind": "conv", "name": q.name, "cin": w.in_channels, "cout": w.out_channels,
                 "kernel": list(w.kernel_size), "stride": q.stride, "padding": q.padding, "neuron": _neuron_spec(q.neuron),
                 "skip": None if q.skip_source is None else {
                     "source": q.skip_source, "stride": q.skip_stride, "bits": q.skip_bits,
                     "cin": None if q.skip_weight is None else int(q.skip_weight.shape[1])},
                 "stream": q.stream, "residual": q.residual}
        elif isinstance(q, QDense):
            d = {"kind": "dense", "name": q.name, "cin": q.wmod.in_features, "cout": q.wmod.out_features,
                 "neuron": _neuron_spec(q.neuron)}
        elif isinstance(q, QReadout):
            d = {"kind": "readout", "name": q.name, "cin": q.wmod.in_features, "cout": q.wmod.out_features}
        else:
            layers.append({"kind": "maxpool", "name": q.name, "kernel": q.kernel, "stride": q.stride})
            continue
        d.update(w_bits=q.w_bits, per_channel=q.per_channel, bias_bits=q.bias_bits, in_scale=q.in_scale)
        layers.append(d)
    return {"input_shape": list(model.input_shape), "time_steps": model.time_steps, "encoding": model.encoding,
            "v_bits": model.v_bits, "layers": layers}


def build_from_spec(spec: dict) -> QuantSNN:
    """An untrained QuantSNN with the structure of ``spec`` (load a state dict into it)."""
    from .floatnet import FSkip

    layers: list[nn.Module] = []
    for d in spec["layers"]:
        if d["kind"] == "maxpool":
            layers.append(FPool(d["name"], d["kernel"], d["stride"]))
            continue
        n = d.get("neuron")
        neuron = None
        if n is not None:
            p = NeuronParams(torch.ones(n["channels"]), n["leak_shift"], n["reset"], n["alpha"], n["detach_reset"])
            neuron = IntNeuron(p, n["v_bits"], n["surrogate"])
        if d["kind"] == "conv":
            skip = None
            if d["skip"] is not None:
                sk = d["skip"]
                sconv = None if sk["cin"] is None else nn.Conv2d(sk["cin"], d["cout"], 1, stride=sk["stride"], bias=False)
                skip = FSkip(sk["source"], sconv)
            stream, co = bool(d.get("stream", False)), d["cout"]
            conv = nn.Conv2d(d["cin"], co, tuple(d["kernel"]), d["stride"], d["padding"], bias=not stream)
            f = FConv(d["name"], conv, None, nn.Identity(), skip, d.get("residual"), stream,
                      torch.ones(co) if stream else None, torch.zeros(co) if stream else None)
            layers.append(QConv(f, d["w_bits"], d["per_channel"], d["bias_bits"], n["v_bits"], d["in_scale"], neuron,
                                d["skip"]["bits"] if d["skip"] else None))
        elif d["kind"] == "dense":
            f = FDense(d["name"], nn.Linear(d["cin"], d["cout"]), None, nn.Identity())
            layers.append(QDense(f, d["w_bits"], d["per_channel"], d["bias_bits"], n["v_bits"], d["in_scale"], neuron))
        else:
            f = FReadout(d["name"], nn.Linear(d["cin"], d["cout"]))
            layers.append(QReadout(f, d["w_bits"], d["per_channel"], d["bias_bits"], d["in_scale"]))
    return QuantSNN(layers, spec["input_shape"], spec["time_steps"], spec["encoding"], spec["v_bits"])


def save_quantized(model: QuantSNN, path, config_yaml: str = "") -> None:
    """Write ``quantized.pt``: format tag, layer spec, state dict and the run config (YAML)."""
    from spikehls.fileio import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"format": QUANTIZED_FORMAT, "spec": model_spec(model), "state_dict": model.state_dict(),
                    "config": config_yaml}, tmp)


def load_quantized(path) -> QuantSNN:
    """Read ``quantized.pt`` back into an eval-mode QuantSNN."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise SpikehlsError(f"{p}: quantized model file not found")
    from spikehls.fileio import read_torch, reading

    ck = read_torch(p, "quantized model", fmt=QUANTIZED_FORMAT, keys=("spec", "state_dict"))
    with reading(p, "quantized model"):
        model = build_from_spec(ck["spec"])
        model.load_state_dict(ck["state_dict"])
    return model.eval()
