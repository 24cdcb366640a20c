"""A flat float spiking network: the form in which a trained model is slimmed, folded and quantized.

The training models (:mod:`spikehls.training.models`) are nested modules built for training speed.
The export stage first *lowers* them into a :class:`FloatNet`: a plain list of layers in the same
order and with the same names as the integer network (:mod:`spikehls.quantize.intnet`) will have:
spiking conv (conv -> BN -> neuron, optional residual input), spike max pool, spiking dense,
readout. Slimming (:mod:`.slim`) and BN folding (:mod:`.fold`) are then simple, generic operations
on this list, and QAT (:mod:`.qat`) turns it layer by layer into quantized modules.

A FloatNet in eval mode computes exactly what the (masked) training model computes: it calls the
training neurons' own per-step update ``step(v, i) -> (v, s)``.

Tensors are ``[N, T, C, H, W]`` (or ``[N, T, F]`` after a flatten); the readout is summed over T.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from spikehls.errors import SpikehlsError


@dataclass
class NeuronParams:
    """What the integer neuron needs to know about a training neuron."""

    threshold: torch.Tensor  # [C] float, > 0
    leak_shift: int  # 0 = IF
    reset: str
    alpha: float
    detach_reset: bool


def neuron_params(neuron: nn.Module, channels: int, cfg=None, name: str = "?") -> NeuronParams:
    """Read threshold / leak / reset from a training neuron (attributes first, then the config)."""
    th = getattr(neuron, "threshold", None)
    if th is None:
        th = cfg.neuron.threshold if cfg is not None else 1.0
    th = torch.as_tensor(th, dtype=torch.float32).detach().flatten()
    if th.numel() == 1:
        th = th.expand(channels)
    if th.numel() != channels:
        raise SpikehlsError(f"layer {name}: neuron threshold has {th.numel()} entries, the layer has {channels} channels")
    if (th <= 0).any():
        raise SpikehlsError(f"layer {name}: neuron thresholds must be positive to be expressed as integers")

    ncfg = cfg.neuron if cfg is not None else None
    # the neuron's own attributes win: they are what the float model actually computed
    leak = getattr(neuron, "leak_shift", None)
    if leak is None:
        leak = ncfg.leak_shift if ncfg is not None and ncfg.kind == "lif" else 0
    reset = getattr(neuron, "reset", None) or (ncfg.reset if ncfg else "zero")
    if isinstance(reset, str):
        reset = reset.lower()
    if reset not in ("zero", "subtract"):
        raise SpikehlsError(f"layer {name}: neuron reset '{reset}' cannot be exported (allowed: zero, subtract)")
    alpha = float(getattr(neuron, "alpha", None) or (ncfg.alpha if ncfg else 4.0))
    detach = getattr(neuron, "detach_reset", None)
    if detach is None:
        detach = ncfg.detach_reset if ncfg else True
    return NeuronParams(th.clone(), int(leak), reset, alpha, bool(detach))


def run_neuron(neuron: nn.Module, current: torch.Tensor) -> torch.Tensor:
    """Run ``neuron.step`` over the time axis of ``current`` [N, T, C, ...] from V = 0."""
    v = torch.zeros_like(current[:, 0])
    out = []
    for t in range(current.shape[1]):
        v, s = neuron.step(v, current[:, t])
        out.append(s)
    return torch.stack(out, 1)


def _bt(fn, x: torch.Tensor) -> torch.Tensor:
    """Apply a per-frame op to [N, T, ...] by folding T into the batch."""
    n, t = x.shape[:2]
    y = fn(x.reshape((n * t,) + x.shape[2:]))
    return y.reshape((n, t) + y.shape[1:])


# ---- layers --------------------------------------------------------------------------------------
class FSkip(nn.Module):
    """Residual input of a spiking conv: the spikes of layer ``source`` (identity) or a 1x1 conv+BN of them."""

    def __init__(self, source: str, conv: Optional[nn.Conv2d] = None, bn: Optional[nn.BatchNorm2d] = None):
        super().__init__()
        self.source = source
        self.conv = conv
        self.bn = bn

    @property
    def stride(self) -> int:
        return int(self.conv.stride[0]) if self.conv is not None else 1

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        if self.conv is None:
            return s
        return _bt(lambda z: self.bn(self.conv(z)) if self.bn is not None else self.conv(z), s)


class FConv(nn.Module):
    """Spiking conv layer: conv (-> BN) (+ skip) -> neuron, or a stream writer (``bn_on_stream``).

    A stream writer (pre-activation ResNet) computes the residual stream
    ``z = conv(x) (+ skip) (+ z of layer residual)`` and its neuron reads ``bn(z)``: the BN and
    neuron are the ones of the *next* block that reads the stream. After BN folding (:mod:`.fold`)
    ``bn`` is None and the neuron reads ``stream_bias + sign * z`` (``sign`` in {-1, 0, 1}).
    """

    kind = "conv"

    def __init__(self, name: str, conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], neuron: nn.Module,
                 skip: Optional[FSkip] = None, residual: Optional[str] = None, bn_on_stream: bool = False,
                 sign: Optional[torch.Tensor] = None, stream_bias: Optional[torch.Tensor] = None):
        super().__init__()
        if residual is not None and not bn_on_stream:
            raise SpikehlsError(f"layer {name}: a residual stream input needs bn_on_stream (a stream-writing layer)")
        if bn_on_stream and conv.bias is not None:
            raise SpikehlsError(f"layer {name}: a stream-writing conv has no bias of its own (it belongs to the reader's BN)")
        self.residual, self.bn_on_stream = residual, bool(bn_on_stream)
        self.register_buffer("sign", None if sign is None else torch.as_tensor(sign, dtype=torch.float32).clone())
        self.register_buffer("stream_bias", None if stream_bias is None else torch.as_tensor(stream_bias, dtype=torch.float32).clone())
        if conv.groups != 1 or conv.dilation[0] != 1 or conv.dilation[1] != 1:
            raise SpikehlsError(f"layer {name}: grouped or dilated convolutions cannot be exported")
        if conv.stride[0] != conv.stride[1] or conv.padding[0] != conv.padding[1] or isinstance(conv.padding, str):
            raise SpikehlsError(f"layer {name}: only square stride and padding can be exported")
        if conv.padding_mode != "zeros":
            raise SpikehlsError(f"layer {name}: padding mode '{conv.padding_mode}' cannot be exported (only zeros)")
        self.name, self.conv, self.bn, self.neuron, self.skip = name, conv, bn, neuron, skip

    def stream(self, x: torch.Tensor, skip_in=None, res_in=None) -> torch.Tensor:
        """The residual stream ``z = conv(x) (+ skip) (+ res_in)`` of a stream writer."""
        z = _bt(self.conv, x)
        if self.skip is not None:
            z = z + self.skip(skip_in)
        return z + res_in if self.residual is not None else z

    def current(self, x: torch.Tensor, skip_in: Optional[torch.Tensor] = None, res_in=None) -> torch.Tensor:
        if self.bn_on_stream:
            z = self.stream(x, skip_in, res_in)
            if self.bn is not None:
                return _bt(self.bn, z)
            shape = (1, 1, -1, 1, 1)
            return self.stream_bias.reshape(shape) + self.sign.reshape(shape) * z
        i = _bt(lambda z: self.bn(self.conv(z)) if self.bn is not None else self.conv(z), x)
        if self.skip is not None:
            i = i + self.skip(skip_in)
        return i

    def run(self, x, skip_in=None, res_in=None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(spikes, stream z or None): the stream is what a later layer's ``residual`` adds."""
        if not self.bn_on_stream:
            return self(x, skip_in), None
        z = self.stream(x, skip_in, res_in)
        i = _bt(self.bn, z) if self.bn is not None else (
            self.stream_bias.reshape(1, 1, -1, 1, 1) + self.sign.reshape(1, 1, -1, 1, 1) * z)
        return run_neuron(self.neuron, i), z

    def forward(self, x, skip_in=None, res_in=None):
        return run_neuron(self.neuron, self.current(x, skip_in, res_in))


class FDense(nn.Module):
    """Spiking dense layer on the flattened (C, H, W) input: linear (-> BN1d) -> neuron."""

    kind = "dense"

    def __init__(self, name: str, linear: nn.Linear, bn: Optional[nn.BatchNorm1d], neuron: nn.Module):
        super().__init__()
        self.name, self.linear, self.bn, self.neuron = name, linear, bn, neuron

    def current(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2)
        return _bt(lambda z: self.bn(self.linear(z)) if self.bn is not None else self.linear(z), x)

    def forward(self, x, skip_in=None):
        return run_neuron(self.neuron, self.current(x))


class FPool(nn.Module):
    """Max pool on spikes (an OR over the window)."""

    kind = "maxpool"

    def __init__(self, name: str, kernel: int = 2, stride: int = 2):
        super().__init__()
        self.name, self.kernel, self.stride = name, int(kernel), int(stride)

    def forward(self, x, skip_in=None):
        return _bt(lambda z: F.max_pool2d(z, self.kernel, self.stride), x)


class FReadout(nn.Module):
    """Non-spiking readout: linear on the flattened spikes of every step, summed over T."""

    kind = "readout"

    def __init__(self, name: str, linear: nn.Linear):
        super().__init__()
        self.name, self.linear = name, linear

    def forward(self, x, skip_in=None):
        return self.linear(x.flatten(2)).sum(1)


class FloatNet(nn.Module):
    """The lowered float network. ``forward(x[N,T,C,H,W]) -> readout [N, K]`` (summed over T)."""

    def __init__(self, layers: list[nn.Module], input_shape: tuple[int, int, int], time_steps: int,
                 encoding: str):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.time_steps = int(time_steps)
        self.encoding = encoding
        if not layers or not isinstance(layers[-1], FReadout):
            raise SpikehlsError("the network must end with a readout layer")

    @property
    def in_scale(self) -> float:
        from spikehls.training.encoding import input_scale

        return input_scale(self.encoding)

    def forward(self, x: torch.Tensor, record: bool = False):
        outs: dict[str, torch.Tensor] = {"input": x}
        streams: dict[str, torch.Tensor] = {}
        for lyr in self.layers:
            skip = getattr(lyr, "skip", None)
            skip_in = outs[skip.source] if skip is not None else None
            if getattr(lyr, "bn_on_stream", False):
                res = getattr(lyr, "residual", None)
                x, streams[lyr.name] = lyr.run(x, skip_in, streams[res] if res is not None else None)
            else:
                x = lyr(x, skip_in)
            outs[lyr.name] = x
        return (x, outs) if record else x

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-step output shape of every layer (and of "input")."""
        with torch.no_grad():
            was = self.training
            self.eval()
            _, outs = self.forward(torch.zeros((1, 1) + self.input_shape), record=True)
            self.train(was)
        return {k: tuple(v.shape[2:]) for k, v in outs.items()}


# ---- lowering the training models ----------------------------------------------------------------
def _pool(name: str, mod: nn.Module) -> FPool:
    if not isinstance(mod, nn.MaxPool2d):
        raise SpikehlsError(f"layer {name}: {type(mod).__name__} cannot be exported (the integer contract is "
                            "accumulate-only: use nn.MaxPool2d, an OR on spikes)")
    k = mod.kernel_size if isinstance(mod.kernel_size, int) else mod.kernel_size[0]
    s = mod.stride if isinstance(mod.stride, int) else mod.stride[0]
    pad = mod.padding if isinstance(mod.padding, int) else max(mod.padding)
    if pad or mod.ceil_mode or (mod.dilation not in (1, (1, 1))):
        raise SpikehlsError(f"layer {name}: only unpadded, floor-mode max pooling can be exported")
    return FPool(name, int(k), int(s or k))


def _neuron_ok(name: str, mod: nn.Module) -> nn.Module:
    if not hasattr(mod, "step"):
        raise SpikehlsError(f"layer {name}: {type(mod).__name__} is not a spiking neuron with a step(v, i) update")
    return copy.deepcopy(mod)


def _lower_preresnet(model: nn.Module, layers: list[nn.Module]) -> None:
    """PreResNet -> stream writers fused with the BN/neuron that reads their stream.

    stem (+ block 0's bn1/neuron1: its spikes are block 0's s1) -> per block: conv1 with
    bn2/neuron2 (an ordinary spiking conv on s1) and conv2 on s2, which adds the previous stream
    (identity shortcut) or a 1x1 conv of s1 (projection: the stream is replaced), fused with the
    next block's bn1/neuron1 or, after the last block, the final bn/neuron.
    """
    from spikehls.training import models as M

    if model.stem.bias is not None:
        raise SpikehlsError("layer stem: a stream-writing conv must have no bias (bias=False)")
    blocks = list(model.blocks)
    for bi, blk in enumerate(blocks):
        if not isinstance(blk, M.PreBasicBlock):
            raise SpikehlsError(f"layer blocks.{bi}: {type(blk).__name__} cannot be exported")

    def reader(i: int) -> tuple[nn.Module, nn.Module]:
        if i < len(blocks):
            return blocks[i].bn1, _neuron_ok(f"blocks.{i}.neuron1", blocks[i].neuron1)
        return model.bn, _neuron_ok("neuron", model.neuron)

    layers.append(FConv("stem", model.stem, *reader(0), bn_on_stream=True))
    prev = "stem"  # the stream writer whose spikes are the next block's s1
    for bi, blk in enumerate(blocks):
        p = f"blocks.{bi}"
        layers.append(FConv(f"{p}.conv1", blk.conv1, blk.bn2, _neuron_ok(f"{p}.neuron2", blk.neuron2)))
        if blk.shortcut is None:
            layers.append(FConv(f"{p}.conv2", blk.conv2, *reader(bi + 1), residual=prev, bn_on_stream=True))
        else:
            layers.append(FConv(f"{p}.conv2", blk.conv2, *reader(bi + 1), skip=FSkip(prev, blk.shortcut),
                                bn_on_stream=True))
        prev = f"{p}.conv2"
    for i, pool in enumerate(model.pools):
        layers.append(_pool(f"pools.{i}", pool))


def from_training_model(model: nn.Module, encoding: str, time_steps: int) -> FloatNet:
    """Lower a VGG or post-activation ResNet from :mod:`spikehls.training.models` into a FloatNet.

    Layer names are the names of the layer's conv / linear in the training model (the names the
    masks use): ``features.0.conv``, ``stem.conv``, ``stages.0.0.conv1`` (PreResNet: ``stem``,
    ``blocks.0.conv1``, ``blocks.0.conv2``) ... ``hidden.0.fc``, ``readout``; pools are
    ``features.0.pool`` / ``pools.0``. Anything the integer contract cannot express (average
    pooling, ...) is a :class:`SpikehlsError`.
    """
    from spikehls.training import models as M  # late: training imports are heavy and optional here

    model = copy.deepcopy(model).eval()
    layers: list[nn.Module] = []

    def conv_block(prefix: str, blk: nn.Module) -> None:
        layers.append(FConv(f"{prefix}.conv", blk.conv, blk.bn, _neuron_ok(prefix, blk.neuron)))
        if blk.pool is not None:
            layers.append(_pool(f"{prefix}.pool", blk.pool))

    if isinstance(model, M.PreResNet):
        _lower_preresnet(model, layers)
    elif isinstance(model, M.VGG):
        for i, blk in enumerate(model.features):
            if not isinstance(blk, M.ConvBlock):
                raise SpikehlsError(f"layer features.{i}: {type(blk).__name__} cannot be exported")
            conv_block(f"features.{i}", blk)
    elif isinstance(model, M.ResNet):
        conv_block("stem", model.stem)
        prev = layers[-1].name
        for si, stage in enumerate(model.stages):
            for bi, blk in enumerate(stage):
                if not isinstance(blk, M.BasicBlock):
                    raise SpikehlsError(f"layer stages.{si}.{bi}: {type(blk).__name__} cannot be exported")
                p = f"stages.{si}.{bi}"
                layers.append(FConv(f"{p}.conv1", blk.conv1, blk.bn1, _neuron_ok(p, blk.neuron1)))
                if blk.shortcut is None:
                    skip = FSkip(prev)
                else:
                    sc = list(blk.shortcut)
                    if len(sc) != 2 or not isinstance(sc[0], nn.Conv2d) or not isinstance(sc[1], nn.BatchNorm2d):
                        raise SpikehlsError(f"layer {p}.shortcut: only a 1x1 conv + BatchNorm shortcut can be exported")
                    skip = FSkip(prev, sc[0], sc[1])
                layers.append(FConv(f"{p}.conv2", blk.conv2, blk.bn2, _neuron_ok(p, blk.neuron2), skip))
                prev = layers[-1].name
        for i, pool in enumerate(model.pools):
            layers.append(_pool(f"pools.{i}", pool))
    else:
        raise SpikehlsError(f"model: {type(model).__name__} cannot be exported (supported: VGG, ResNet, PreResNet)")
    for i, blk in enumerate(getattr(model, "hidden", [])):
        layers.append(FDense(f"hidden.{i}.fc", blk.fc, blk.bn, _neuron_ok(f"hidden.{i}", blk.neuron)))
    layers.append(FReadout("readout", model.readout))
    first = layers[0]
    h, w = model.model_args["image_hw"]
    net = FloatNet(layers, (first.conv.in_channels, int(h), int(w)), time_steps, encoding)
    return net.eval()
