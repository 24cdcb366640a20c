"""Random small, valid integer networks and inputs, for property tests of every implementation.

The QONNX export, the HLS C-simulation and the PyTorch extraction are all checked against the
reference on networks drawn here. The generator aims at the corners where implementations
disagree: stride/padding combinations, pruned (all-zero) channels, identity and 1x1 skips
(also from the input), IF and LIF, both resets, narrow membranes that saturate, direct-encoded
multiply-accumulate first layers, T = 1. Thresholds are calibrated on random inputs so that
layers neither stay silent nor fire at every step (which would test nothing).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from spikehls.hls.geometry import conv_out_size
from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import (
    IntNet,
    MaxPool2d,
    Neuron,
    Readout,
    Skip,
    SpikingConv2d,
    SpikingDense,
)

DEFAULT_LIMITS: dict[str, Any] = {
    "max_convs": 4,  # spiking conv layers: 1..max_convs
    "max_dense": 2,  # spiking dense layers: 0..max_dense
    "max_channels": 6,  # channels of every conv / input (input: at most 3)
    "max_hw": 10,  # input height and width: 3..max_hw
    "max_time_steps": 8,  # T: 1..max
    "max_classes": 5,  # readout size: 2..max
    "max_dense_units": 8,
    "encodings": ("direct", "rate", "bitplane"),
}


def _weights(rng: np.random.Generator, shape: tuple[int, ...], w_bits: int) -> np.ndarray:
    """Signed ``w_bits`` integers (mostly positive) with random zeros and, sometimes, whole pruned output channels."""
    lo, hi = -(2 ** (w_bits - 1)), 2 ** (w_bits - 1) - 1
    w = rng.integers(lo, hi + 1, size=shape, dtype=np.int64)
    # mostly excitatory (about 2/3 positive), else deep layers fall silent and test nothing
    w = np.where(rng.random(shape) < 0.35, -np.abs(w), np.minimum(np.abs(w), hi))
    w[rng.random(shape) < rng.uniform(0.0, 0.6)] = 0
    if shape[0] > 1 and rng.random() < 0.4:
        pruned = rng.choice(shape[0], size=rng.integers(1, shape[0]), replace=False)
        w[pruned] = 0
    return w


def _scale(rng: np.random.Generator, n: int) -> np.ndarray:
    """Power-of-two weight scales, per tensor or per output channel."""
    if rng.random() < 0.5:
        return np.full(n, 2.0 ** -int(rng.integers(0, 7)))
    return 2.0 ** -rng.integers(0, 7, size=n).astype(np.float64)


def _neuron(rng: np.random.Generator, current: np.ndarray, bias: np.ndarray) -> Neuron:
    """A neuron whose per-channel thresholds follow the observed input current.

    ``current`` is int64 ``[n, T, Co, ...]`` (without bias) measured on random inputs; the
    threshold of channel c is 0.3-1.5 times its mean positive current per step, so a channel fires
    every one to few steps; channels with no positive current get a small random threshold.
    """
    co = current.shape[2]
    v_bits = int(rng.integers(6, 21))
    hi = 2 ** (v_bits - 1) - 1
    axes = tuple(i for i in range(current.ndim) if i != 2)
    shaped_bias = bias.reshape((1, 1, co) + (1,) * (current.ndim - 3))
    pos = np.maximum(current + shaped_bias, 0).mean(axis=axes) if current.size else np.zeros(co)
    factor = rng.uniform(0.3, 1.5, size=co)
    th = np.where(pos > 0, np.round(pos * factor), rng.integers(1, 5, size=co)).astype(np.int64)
    th = np.clip(th, 1, hi)
    leak = 0 if rng.random() < 0.5 else int(rng.integers(1, 5))
    reset = "subtract" if rng.random() < 0.5 else "zero"
    return Neuron(threshold=th, leak_shift=leak, reset=reset, v_bits=v_bits)


def _bias(rng: np.random.Generator, current: np.ndarray, co: int) -> np.ndarray:
    """Small biases of either sign, on the scale of the typical current (zero half of the time)."""
    if rng.random() < 0.5:
        return np.zeros(co, dtype=np.int64)
    mag = max(1.0, float(np.abs(current).mean()) if current.size else 1.0)
    b = np.round(rng.uniform(-0.5, 0.5, size=co) * mag).astype(np.int64)
    # within the exporter's default 16-bit bias (direct-encoded currents can be larger than that)
    return np.clip(b, -(2**15) + 1, 2**15 - 1)


def random_inputs(rng: np.random.Generator, net: IntNet, n: int) -> np.ndarray:
    """Encoded inputs ``int64 [n, T, C, H, W]`` for ``net``.

    direct: 8-bit images (many zero pixels, like MNIST) repeated over T; rate: Bernoulli spikes
    with a per-sample rate; bitplane: plane t holds bit ``7 - t % 8`` of random 8-bit pixels.
    """
    t_steps = net.time_steps
    shape = (n,) + tuple(net.input_shape)
    if net.encoding == "rate":
        rate = rng.uniform(0.05, 0.8, size=(n, 1, 1, 1, 1))
        return (rng.random((n, t_steps) + tuple(net.input_shape)) < rate).astype(np.int64)
    pix = rng.integers(0, 256, size=shape, dtype=np.int64)
    pix[rng.random(shape) < rng.uniform(0.0, 0.7)] = 0
    if net.encoding == "direct":
        return np.repeat(pix[:, None], t_steps, axis=1)
    bits = 7 - (np.arange(t_steps) % 8)
    return ((pix[:, None] >> bits.reshape(1, t_steps, 1, 1, 1)) & 1).astype(np.int64)


def _skip_for(
    rng: np.random.Generator, outs: dict[str, np.ndarray], out_shape: tuple[int, int, int]
) -> Optional[Skip]:
    """A skip onto a conv with output ``(Co, Ho, Wo)`` from any earlier output that fits, or None."""
    co, ho, wo = out_shape
    cands = []
    for name, o in outs.items():
        cs, hs, ws = o.shape[2:]
        for s in (1, 2):
            if (conv_out_size(hs, 1, s, 0), conv_out_size(ws, 1, s, 0)) == (ho, wo):
                cands.append((name, s, cs))
    if not cands:
        return None
    name, stride, cs = cands[int(rng.integers(len(cands)))]
    if cs == co and rng.random() < 0.5:
        return Skip(source=name, gain=rng.integers(1, 8, size=co), stride=stride)
    w_bits = int(rng.integers(2, 9))
    return Skip(source=name, weight=_weights(rng, (co, cs), w_bits), stride=stride, w_bits=w_bits)


def random_intnet(rng: np.random.Generator, **limits: Any) -> IntNet:
    """Draw a small valid :class:`IntNet` (see module docstring); ``limits`` override DEFAULT_LIMITS."""
    unknown = set(limits) - set(DEFAULT_LIMITS)
    if unknown:
        raise TypeError(f"unknown limits: {sorted(unknown)}")
    lim = {**DEFAULT_LIMITS, **limits}
    encoding = str(rng.choice(list(lim["encodings"])))
    t_steps = int(rng.integers(1, lim["max_time_steps"] + 1))
    in_shape = (
        int(rng.integers(1, min(3, lim["max_channels"]) + 1)),
        int(rng.integers(3, lim["max_hw"] + 1)),
        int(rng.integers(3, lim["max_hw"] + 1)),
    )
    net = IntNet(in_shape, t_steps, encoding, [])
    in_scale = net.input_scale
    probe = random_inputs(rng, net, 4)  # calibration batch
    outs: dict[str, np.ndarray] = {"input": probe}  # output of every layer on the probe
    cur = probe
    layers: list = []
    n_convs = int(rng.integers(1, lim["max_convs"] + 1))
    for i in range(n_convs):
        c, h, w = cur.shape[2:]
        if rng.random() < 0.4:  # residual-friendly: odd kernel, "same" padding
            k = int(rng.choice([1, 3, 5]))
            pad = min(k // 2, 2)
        else:
            k = int(rng.integers(1, 6))
            pad = int(rng.integers(0, min(2, k - 1) + 1))
        k = min(k, h + 2 * pad, w + 2 * pad)
        stride = int(rng.integers(1, 3))
        co = int(rng.integers(1, lim["max_channels"] + 1))
        if rng.random() < 0.3:
            co = c  # make identity skips from the previous output possible
        w_bits = int(rng.integers(2, 9))
        weight = _weights(rng, (co, c, k, k), w_bits)
        layer = SpikingConv2d(
            name=f"conv{i}", weight=weight, bias=np.zeros(co, np.int64),
            neuron=Neuron(np.ones(co, np.int64)), stride=stride, padding=pad, w_bits=w_bits,
            w_scale=_scale(rng, co), in_scale=in_scale,
        )
        n, t = cur.shape[:2]
        current = ref.conv_current(cur.reshape((n * t,) + cur.shape[2:]), weight, stride, pad)
        out_shape = current.shape[1:]
        if rng.random() < 0.4:
            layer.skip = _skip_for(rng, outs, out_shape)
            if layer.skip is not None:
                sx = outs[layer.skip.source]
                current = current + ref.skip_current(sx.reshape((n * t,) + sx.shape[2:]), layer.skip, out_shape)
        current = current.reshape((n, t) + out_shape)
        layer.bias = _bias(rng, current, co)
        layer.neuron = _neuron(rng, current, layer.bias)
        cur = ref.spiking_conv2d(cur, layer, outs[layer.skip.source] if layer.skip else None)
        layers.append(layer)
        outs[layer.name] = cur
        in_scale = 1.0
        ph, pw = cur.shape[3:]
        if min(ph, pw) >= 2 and rng.random() < 0.35:
            pk = int(rng.integers(2, min(3, ph, pw) + 1))
            pool = MaxPool2d(name=f"pool{i}", kernel=pk, stride=int(rng.integers(1, pk + 1)))
            cur = ref.spike_maxpool2d(cur, pool)
            layers.append(pool)
            outs[pool.name] = cur
    for j in range(int(rng.integers(0, lim["max_dense"] + 1))):
        n_in = int(np.prod(cur.shape[2:]))
        co = int(rng.integers(1, lim["max_dense_units"] + 1))
        w_bits = int(rng.integers(2, 9))
        weight = _weights(rng, (co, n_in), w_bits)
        layer = SpikingDense(
            name=f"fc{j}", weight=weight, bias=np.zeros(co, np.int64), neuron=Neuron(np.ones(co, np.int64)),
            w_bits=w_bits, w_scale=_scale(rng, co), in_scale=1.0,
        )
        n, t = cur.shape[:2]
        current = ref.exact_matmul(cur.reshape(n * t, -1), weight.T).reshape(n, t, co)
        layer.bias = _bias(rng, current, co)
        layer.neuron = _neuron(rng, current, layer.bias)
        cur = ref.spiking_dense(cur, layer)
        layers.append(layer)
        outs[layer.name] = cur
    k_cls = int(rng.integers(2, lim["max_classes"] + 1))
    w_bits = int(rng.integers(2, 9))
    n_in = int(np.prod(cur.shape[2:]))
    layers.append(
        Readout(
            name="readout", weight=_weights(rng, (k_cls, n_in), w_bits),
            bias=rng.integers(-4, 5, size=k_cls), w_bits=w_bits, w_scale=_scale(rng, k_cls), in_scale=1.0,
        )
    )
    net.layers = layers
    net.validate()
    return net


def random_intnet_strategy(**limits: Any):
    """A hypothesis strategy of ``(net, inputs)`` pairs (inputs: 1-3 samples).

    Drawn from a seed, so hypothesis can replay failures; shrinking works on the seed only.
    """
    from hypothesis import strategies as st

    def build(seed: int) -> tuple[IntNet, np.ndarray]:
        rng = np.random.default_rng(seed)
        net = random_intnet(rng, **limits)
        return net, random_inputs(rng, net, int(rng.integers(1, 4)))

    return st.integers(min_value=0, max_value=2**63 - 1).map(build)


# ---- pre-activation residual chains (the residual stream of PreResNet) --------------------------
PRERESNET_LIMITS: dict[str, Any] = {
    "max_blocks": 3,  # residual blocks after the stem: 1..max_blocks
    "max_channels": 6,  # channels of the stream / of conv1 (input: at most 3)
    "max_hw": 9,  # input height and width: 3..max_hw
    "max_time_steps": 6,
    "max_classes": 5,
    "encodings": ("direct", "rate", "bitplane"),
    "mixed_skip": True,  # identity blocks may also carry a spike skip (legal: z = conv + skip + residual)
}


def _signs(rng: np.random.Generator, co: int) -> Optional[np.ndarray]:
    """None (all +1), or per-channel signs in {-1, 0, +1}, with each value likely present."""
    if rng.random() < 0.25:
        return None
    return rng.choice(np.array([1, -1, 0], dtype=np.int64), size=co, p=[0.55, 0.3, 0.15])


def _stream_conv(
    rng: np.random.Generator, name: str, x: np.ndarray, co: int, k: int, stride: int, w_scale: np.ndarray,
    in_scale: float, skip: Optional[Skip], outs: dict[str, np.ndarray], residual: Optional[str],
    streams: dict[str, np.ndarray],
) -> tuple[SpikingConv2d, np.ndarray, np.ndarray]:
    """A conv with a calibrated neuron on ``bias + sign * z``; returns (layer, spikes, stream z)."""
    w_bits = int(rng.integers(2, 9))
    layer = SpikingConv2d(
        name=name, weight=_weights(rng, (co, x.shape[2], k, k), w_bits), bias=np.zeros(co, np.int64),
        neuron=Neuron(np.ones(co, np.int64)), stride=stride, padding=k // 2, w_bits=w_bits, w_scale=w_scale,
        in_scale=in_scale, skip=skip, residual=residual, current_sign=_signs(rng, co),
    )
    if layer.current_sign is not None:  # mostly excitatory after the sign too, else sign -1 channels fall silent
        flip = (layer.current_sign < 0) & (rng.random(co) < 0.7)
        layer.weight[flip] = np.clip(-layer.weight[flip], -(2 ** (w_bits - 1)), 2 ** (w_bits - 1) - 1)
    res_z = streams[residual] if residual is not None else None
    skip_x = outs[skip.source] if skip is not None else None
    # the stream does not depend on bias, sign or neuron: calibrate bias and thresholds on sign * z
    _, z = ref.spiking_conv2d(x, layer, skip_x, res_z, return_stream=True)
    current = z * layer.signs.reshape(1, 1, co, 1, 1)
    layer.bias = _bias(rng, current, co)
    layer.neuron = _neuron(rng, current, layer.bias)
    spikes, z = ref.spiking_conv2d(x, layer, skip_x, res_z, return_stream=True)
    return layer, spikes, z


def random_preresnet_intnet(rng: np.random.Generator, **limits: Any) -> IntNet:
    """Draw a valid pre-activation residual :class:`IntNet` (the integer form of PreResNet).

    stem conv (the first stream writer, fused with block 0's bn1/neuron1) -> blocks of conv1 (an
    ordinary conv on s1) and conv2 (a stream writer on conv1's spikes, fused with the next reader's
    BN/neuron) -> optional max pool -> readout. conv2 adds the previous stream (identity shortcut,
    same scale; sometimes with an extra 1x1 spike skip too) or replaces it by a 1x1 skip from s1
    (projection shortcut, stride 1 or 2, new scale). Every conv draws signs in {-1, 0, +1}.
    ``limits`` override PRERESNET_LIMITS.
    """
    unknown = set(limits) - set(PRERESNET_LIMITS)
    if unknown:
        raise TypeError(f"unknown limits: {sorted(unknown)}")
    lim = {**PRERESNET_LIMITS, **limits}
    encoding = str(rng.choice(list(lim["encodings"])))
    t_steps = int(rng.integers(1, lim["max_time_steps"] + 1))
    in_shape = (
        int(rng.integers(1, min(3, lim["max_channels"]) + 1)),
        int(rng.integers(3, lim["max_hw"] + 1)),
        int(rng.integers(3, lim["max_hw"] + 1)),
    )
    net = IntNet(in_shape, t_steps, encoding, [])
    probe = random_inputs(rng, net, 4)
    outs: dict[str, np.ndarray] = {"input": probe}
    streams: dict[str, np.ndarray] = {}
    width = int(rng.integers(1, lim["max_channels"] + 1))
    stem, s1, z = _stream_conv(
        rng, "stem", probe, width, int(rng.choice([1, 3])), 1, _scale(rng, width), net.input_scale, None, outs, None, streams,
    )
    layers: list = [stem]
    outs[stem.name], streams[stem.name] = s1, z
    writer = stem  # the layer whose spikes are s1 of the next block and whose stream it adds
    for b in range(int(rng.integers(1, lim["max_blocks"] + 1))):
        h, w = s1.shape[3:]
        project = rng.random() < 0.4
        stride = int(rng.integers(1, 3)) if project and min(h, w) >= 2 else 1
        planes = int(rng.integers(1, lim["max_channels"] + 1)) if project else width
        w1_scale = _scale(rng, planes)
        conv1, s2, _ = _stream_conv(
            rng, f"block{b}_conv1", s1, planes, int(rng.choice([1, 3])), stride, w1_scale, 1.0, None, outs, None, streams,
        )
        layers.append(conv1)
        outs[conv1.name] = s2
        if project:
            sw_bits = int(rng.integers(2, 9))
            skip = Skip(source=writer.name, weight=_weights(rng, (planes, width), sw_bits), stride=stride, w_bits=sw_bits)
            residual, w2_scale = None, _scale(rng, planes)
        else:
            residual, w2_scale = writer.name, writer.acc_scale.copy()  # in_scale 1: same acc_scale as the stream
            skip = None
            if lim["mixed_skip"] and rng.random() < 0.2:
                sw_bits = int(rng.integers(2, 9))
                skip = Skip(source=conv1.name, weight=_weights(rng, (planes, planes), sw_bits), w_bits=sw_bits)
        conv2, s1, z = _stream_conv(
            rng, f"block{b}_conv2", s2, planes, int(rng.choice([1, 3])), 1, w2_scale, 1.0, skip, outs,
            residual, streams,
        )
        layers.append(conv2)
        outs[conv2.name], streams[conv2.name] = s1, z
        writer, width = conv2, planes
    cur = s1
    ph, pw = cur.shape[3:]
    if min(ph, pw) >= 2 and rng.random() < 0.5:
        pool = MaxPool2d(name="pool", kernel=2, stride=2)
        cur = ref.spike_maxpool2d(cur, pool)
        layers.append(pool)
    k_cls = int(rng.integers(2, lim["max_classes"] + 1))
    w_bits = int(rng.integers(2, 9))
    n_in = int(np.prod(cur.shape[2:]))
    layers.append(
        Readout(
            name="readout", weight=_weights(rng, (k_cls, n_in), w_bits),
            bias=rng.integers(-4, 5, size=k_cls), w_bits=w_bits, w_scale=_scale(rng, k_cls), in_scale=1.0,
        )
    )
    net.layers = layers
    net.validate()
    return net


def random_preresnet_strategy(**limits: Any):
    """A hypothesis strategy of ``(net, inputs)`` pairs drawn by :func:`random_preresnet_intnet`."""
    from hypothesis import strategies as st

    def build(seed: int) -> tuple[IntNet, np.ndarray]:
        rng = np.random.default_rng(seed)
        net = random_preresnet_intnet(rng, **limits)
        return net, random_inputs(rng, net, int(rng.integers(1, 4)))

    return st.integers(min_value=0, max_value=2**63 - 1).map(build)
