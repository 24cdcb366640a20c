"""The NumPy integer reference: the one executable meaning of an :class:`IntNet`.

Everything downstream is checked against this module (PyTorch eval, QONNX execution through the
custom ops of :mod:`spikehls.quantize.qonnx_ops`, the hls4ml C-simulation). The semantics are the
ones written in :mod:`spikehls.quantize.intnet`; the layer kernels here are public so that the
QONNX custom ops call them instead of re-implementing anything.

Shapes: every kernel works on a whole batch, ``x`` is ``[N, T, C, H, W]`` (or ``[N, T, F]`` for
dense inputs). Spikes are returned as ``uint8`` arrays, currents and membranes are ``int64``.

Exactness: the weighted sums are computed with a matrix product. When the largest possible
magnitude of any partial sum (``max|x| * max_c sum|W[c]|``) is below 2**24 (2**53), float32
(float64) BLAS is used: every partial sum is then an exactly representable integer, so the result
is exact whatever the summation order, and it is much faster than NumPy's int64 matmul (which
has no BLAS). Otherwise the product is done in int64. The bias is added in int64. Membrane updates are always int64 with ``>>`` (arithmetic
shift, i.e. floor for negative values) and saturation to ``v_bits`` signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from spikehls.errors import SpikehlsError
from spikehls.hls.geometry import conv_out_size  # numpy only: no hls4ml
from spikehls.quantize.intnet import (
    IntNet,
    MaxPool2d,
    Neuron,
    Readout,
    SpikingConv2d,
    SpikingDense,
)

# float32 / float64 represent every integer below 2**24 / 2**53 exactly
_F32_EXACT = 2**24
_F64_EXACT = 2**53
# elements of the largest temporary (im2col matrix / currents) per chunk of samples: 64 MB float64
_CHUNK_ELEMS = 8_000_000


@dataclass
class RefResult:
    """Outputs of :func:`run` for a batch of N samples."""

    spikes: dict[str, np.ndarray]  # layer name -> uint8 [N, T, ...] (every layer but the readout)
    readout: np.ndarray  # int64 [N, K], summed over T
    prediction: np.ndarray  # int64 [N], first index of the maximum readout
    events: dict[str, np.ndarray] = field(default_factory=dict)  # layer name -> int64 [N] spike counts


# ---- exact integer products ---------------------------------------------------------------------
def exact_dtype(amax: int, b: np.ndarray):
    """The cheapest dtype in which ``a @ b`` is exact when ``|a| <= amax``.

    Every partial sum of a row of ``a`` with a column of ``b`` is an integer of magnitude at most
    ``amax * max_col sum|b|``; float32 holds all integers below 2**24 exactly and float64 those
    below 2**53, so in that range BLAS gives the exact result whatever its summation order.
    """
    bound = amax * int(np.abs(b.astype(np.int64)).sum(axis=0).max()) if b.size else 0
    if bound < _F32_EXACT:
        return np.float32
    if bound < _F64_EXACT:
        return np.float64
    return np.int64


def _absmax(a: np.ndarray) -> int:
    if a.size == 0:
        return 0
    return int(a.max()) if a.dtype.kind in "ub" else int(np.abs(a.astype(np.int64, copy=False)).max())


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for integer arrays, exact, as int64 (float BLAS when provably exact)."""
    if a.size == 0 or b.size == 0:
        return np.zeros(a.shape[:-1] + b.shape[-1:], dtype=np.int64)
    dt = exact_dtype(_absmax(a), b)
    return np.matmul(a.astype(dt, copy=False), b.astype(dt)).astype(np.int64, copy=False)


def _chunks(n: int, per_sample: int):
    """Yield slices of the batch so that a temporary of ``per_sample`` elements each stays small."""
    step = max(1, _CHUNK_ELEMS // max(1, per_sample))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def conv_current(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Weighted input of a 2-D convolution (no bias): ``[M, C, H, W]`` -> int64 ``[M, Co, Ho, Wo]``.

    Zero padding, floor output size (like ``torch.nn.Conv2d``). Implemented as im2col + one matrix
    product in the cheapest exact dtype; callers chunk ``M`` to bound memory.
    """
    co, ci, kh, kw = weight.shape
    m, c, h, w = x.shape
    if c != ci:
        raise ValueError(f"conv expects {ci} input channels, got {c}")
    wmat = weight.reshape(co, -1).T
    dt = exact_dtype(_absmax(x), wmat)
    x = x.astype(dt, copy=False)  # convert before im2col: one copy of the big matrix, not two
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = conv_out_size(h, kh, stride, padding), conv_out_size(w, kw, stride, padding)
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :ho, :wo]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(m * ho * wo, ci * kh * kw)
    out = np.matmul(cols, wmat.astype(dt)).astype(np.int64, copy=False)  # [M*Ho*Wo, Co]
    return out.reshape(m, ho, wo, co).transpose(0, 3, 1, 2)


def skip_current(skip_x: np.ndarray, skip, out_shape: tuple[int, int, int]) -> np.ndarray:
    """Current a :class:`Skip` adds: ``[M, Cs, Hs, Ws]`` -> int64 ``[M, Co, Ho, Wo]``.

    Identity: ``gain[c] * x[c, h*s, w*s]``; 1x1 conv: ``sum_i W[c, i] * x[i, h*s, w*s]``.
    """
    co, ho, wo = out_shape
    xs = skip_x[:, :, :: skip.stride, :: skip.stride]
    if xs.shape[2:] != (ho, wo):
        raise ValueError(f"skip input has spatial size {xs.shape[2:]} after stride, needs {(ho, wo)}")
    if skip.weight is None:
        gain = np.ones(co, dtype=np.int64) if skip.gain is None else skip.gain
        return xs.astype(np.int64) * gain.reshape(1, co, 1, 1)
    m = xs.shape[0]
    flat = xs.transpose(0, 2, 3, 1).reshape(m * ho * wo, xs.shape[1])
    return exact_matmul(flat, skip.weight.T).reshape(m, ho, wo, co).transpose(0, 3, 1, 2)


# ---- the neuron ---------------------------------------------------------------------------------
def integrate(current: np.ndarray, bias: np.ndarray, neuron: Neuron) -> np.ndarray:
    """Run the IF/LIF membrane over time: int64 ``[n, T, Co, ...]`` (no bias) -> uint8 spikes.

    Per step: leak ``V -= V >> k`` (k > 0), ``V = sat(V + bias + I)``, spike ``V >= theta``,
    reset by subtraction or to zero. ``V`` starts at 0 for every sample.
    """
    n, t_steps, co = current.shape[:3]
    extra = (1,) * (current.ndim - 3)
    th = neuron.threshold.astype(np.int64).reshape((co,) + extra)
    b = np.asarray(bias, dtype=np.int64).reshape((co,) + extra)
    lo, hi = -(2 ** (neuron.v_bits - 1)), 2 ** (neuron.v_bits - 1) - 1
    k = int(neuron.leak_shift)
    v = np.zeros((n,) + current.shape[2:], dtype=np.int64)
    out = np.empty(current.shape, dtype=np.uint8)
    for t in range(t_steps):
        if k > 0:
            v -= v >> k
        v += current[:, t]
        v += b
        np.clip(v, lo, hi, out=v)
        s = v >= th
        if neuron.reset == "subtract":
            v -= th * s
        else:
            v[s] = 0
        out[:, t] = s
    return out


# ---- layer kernels (public: the QONNX custom ops call these) ------------------------------------
def _check_input(x: np.ndarray, ndim: int, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"{what}: integer input required, got {x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{what}: expected a {ndim}-d input [N, T, ...], got shape {x.shape}")
    return x


def spiking_conv2d(
    x: np.ndarray,
    layer: SpikingConv2d,
    skip_x: Optional[np.ndarray] = None,
    residual_z: Optional[np.ndarray] = None,
    return_stream: bool = False,
):
    """Spiking conv: int ``[N, T, C, H, W]`` -> uint8 spikes ``[N, T, Co, Ho, Wo]``.

    ``skip_x`` is the skip source's output (when ``layer.skip``), ``residual_z`` the stream of the
    ``layer.residual`` layer (int64 ``[N, T, Co, Ho, Wo]``). The layer's own stream is
    ``z = conv + skip + residual_z`` and its neuron integrates ``bias + current_sign * z``; with
    ``return_stream`` the result is ``(spikes, z)`` so that a later layer can add ``z``.
    """
    x = _check_input(x, 5, layer.name)
    n, t_steps, c, h, w = x.shape
    co, ci, kh, kw = layer.weight.shape
    ho, wo = conv_out_size(h, kh, layer.stride, layer.padding), conv_out_size(w, kw, layer.stride, layer.padding)
    if layer.skip is not None and skip_x is None:
        raise ValueError(f"{layer.name}: layer has a skip from '{layer.skip.source}' but no skip input was given")
    if layer.residual is not None:
        if residual_z is None:
            raise ValueError(f"{layer.name}: layer adds the stream of '{layer.residual}' but no residual stream was given")
        if residual_z.shape != (n, t_steps, co, ho, wo):
            raise ValueError(f"{layer.name}: residual stream has shape {residual_z.shape}, needs {(n, t_steps, co, ho, wo)}")
    sign = None if layer.current_sign is None or (layer.current_sign == 1).all() else layer.current_sign.reshape(1, co, 1, 1)
    out = np.empty((n, t_steps, co, ho, wo), dtype=np.uint8)
    stream = np.empty((n, t_steps, co, ho, wo), dtype=np.int64) if return_stream else None
    per_sample = t_steps * ho * wo * max(ci * kh * kw, co)
    for sl in _chunks(n, per_sample):
        m = sl.stop - sl.start
        xc = x[sl]
        if t_steps > 1 and (xc == xc[:, :1]).all():
            # the same frame at every step (direct encoding repeats the image): convolve it once
            cur = conv_current(xc[:, 0], layer.weight, layer.stride, layer.padding)
            cur = np.broadcast_to(cur[:, None], (m, t_steps) + cur.shape[1:]).reshape((m * t_steps,) + cur.shape[1:])
        else:
            cur = conv_current(xc.reshape(m * t_steps, c, h, w), layer.weight, layer.stride, layer.padding)
        if layer.skip is not None:
            sx = _check_input(skip_x, 5, f"{layer.name} skip")[sl]
            cur = cur + skip_current(sx.reshape((m * t_steps,) + sx.shape[2:]), layer.skip, (co, ho, wo))
        if residual_z is not None and layer.residual is not None:
            cur = cur + residual_z[sl].reshape((m * t_steps, co, ho, wo))
        if stream is not None:
            stream[sl] = cur.reshape(m, t_steps, co, ho, wo)
        if sign is not None:
            cur = cur * sign
        out[sl] = integrate(cur.reshape(m, t_steps, co, ho, wo), layer.bias, layer.neuron)
    return (out, stream) if return_stream else out


def spiking_dense(x: np.ndarray, layer: SpikingDense) -> np.ndarray:
    """Spiking fully connected: int ``[N, T, ...]`` (flattened C,H,W) -> uint8 ``[N, T, Co]``."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"{layer.name}: expected [N, T, ...] input, got shape {x.shape}")
    n, t_steps = x.shape[:2]
    flat = _check_input(x.reshape(n, t_steps, -1), 3, layer.name)
    co, ci = layer.weight.shape
    if flat.shape[2] != ci:
        raise ValueError(f"{layer.name}: expects {ci} inputs, got {flat.shape[2]}")
    out = np.empty((n, t_steps, co), dtype=np.uint8)
    for sl in _chunks(n, t_steps * max(ci, co)):
        m = sl.stop - sl.start
        cur = exact_matmul(flat[sl].reshape(m * t_steps, ci), layer.weight.T).reshape(m, t_steps, co)
        out[sl] = integrate(cur, layer.bias, layer.neuron)
    return out


def spike_maxpool2d(x: np.ndarray, layer: MaxPool2d) -> np.ndarray:
    """Max pooling (OR on spikes), no padding, floor size: ``[N, T, C, H, W]`` -> same dtype."""
    x = _check_input(x, 5, layer.name)
    n, t_steps, c, h, w = x.shape
    ho, wo = conv_out_size(h, layer.kernel, layer.stride, 0), conv_out_size(w, layer.kernel, layer.stride, 0)
    k, st = layer.kernel, layer.stride
    out = None
    for dy in range(k):  # max of k*k strided slices: far faster than reducing tiny windows
        for dx in range(k):
            sl = x[:, :, :, dy : dy + st * (ho - 1) + 1 : st, dx : dx + st * (wo - 1) + 1 : st]
            out = sl.copy() if out is None else np.maximum(out, sl, out=out)
    return out


def readout(x: np.ndarray, layer: Readout) -> np.ndarray:
    """Non-spiking readout accumulated over T: int ``[N, T, ...]`` -> int64 ``[N, K]``.

    ``out[k] = sum_t (bias[k] + sum_i W[k, i] x_t[i]) = T * bias[k] + W @ sum_t x_t``.
    """
    x = np.asarray(x)
    if x.ndim < 3 or x.dtype.kind not in "iub":
        raise ValueError(f"{layer.name}: expected integer [N, T, ...] input, got {x.dtype} {x.shape}")
    n, t_steps = x.shape[:2]
    counts = x.reshape(n, t_steps, -1).sum(axis=1, dtype=np.int64)
    if counts.shape[1] != layer.weight.shape[1]:
        raise ValueError(f"{layer.name}: expects {layer.weight.shape[1]} inputs, got {counts.shape[1]}")
    return exact_matmul(counts, layer.weight.T) + t_steps * layer.bias.reshape(1, -1)


# ---- whole network ------------------------------------------------------------------------------
def check_inputs(net: IntNet, x: np.ndarray) -> np.ndarray:
    """Validate an encoded input batch ``[N, T, C, H, W]`` for ``net``; return it as uint8."""
    x = np.asarray(x)
    want = (net.time_steps,) + tuple(net.input_shape)
    if x.ndim != 5 or tuple(x.shape[1:]) != want:
        raise SpikehlsError(f"input batch has shape {x.shape}, the network needs [N, {', '.join(map(str, want))}]")
    if x.dtype.kind not in "iub":
        raise SpikehlsError(f"input batch must hold integers (encoded spikes or pixels), got dtype {x.dtype}")
    hi = 2**net.input_bits - 1
    if x.size and (x.min() < 0 or x.max() > hi):
        raise SpikehlsError(f"input values must lie in [0, {hi}] for encoding '{net.encoding}', got [{x.min()}, {x.max()}]")
    return x.astype(np.uint8, copy=False)


def run(net: IntNet, x: np.ndarray) -> RefResult:
    """Run ``net`` on the encoded batch ``x`` (int ``[N, T, C, H, W]``).

    Streams of residual sources are kept only until the network has run, so a net with a
    residual stream is run on chunks of samples to bound that memory.
    """
    x = check_inputs(net, x)
    sources = net.stream_sources()
    if not sources or x.shape[0] <= 1:
        return _run_batch(net, x, sources)
    shapes = net.shapes()
    per_sample = net.time_steps * sum(int(np.prod(shapes[name])) for name in sources)
    parts = [_run_batch(net, x[sl], sources) for sl in _chunks(x.shape[0], per_sample)]
    if len(parts) == 1:
        return parts[0]
    return RefResult(
        spikes={k: np.concatenate([p.spikes[k] for p in parts]) for k in parts[0].spikes},
        readout=np.concatenate([p.readout for p in parts]),
        prediction=np.concatenate([p.prediction for p in parts]),
        events={k: np.concatenate([p.events[k] for p in parts]) for k in parts[0].events},
    )


def _run_batch(net: IntNet, x: np.ndarray, sources: set[str]) -> RefResult:
    """:func:`run` on a checked batch; ``sources`` are the layers whose streams are kept."""
    outputs: dict[str, np.ndarray] = {"input": x}
    streams: dict[str, np.ndarray] = {}
    spikes: dict[str, np.ndarray] = {}
    cur = x
    result = None
    for lyr in net.layers:
        if isinstance(lyr, SpikingConv2d):
            skip_x = outputs[lyr.skip.source] if lyr.skip is not None else None
            res_z = streams[lyr.residual] if lyr.residual is not None else None
            if lyr.name in sources:
                cur, streams[lyr.name] = spiking_conv2d(cur, lyr, skip_x, res_z, return_stream=True)
            else:
                cur = spiking_conv2d(cur, lyr, skip_x, res_z)
        elif isinstance(lyr, SpikingDense):
            cur = spiking_dense(cur, lyr)
        elif isinstance(lyr, MaxPool2d):
            cur = spike_maxpool2d(cur, lyr)
        elif isinstance(lyr, Readout):
            result = readout(cur, lyr)
            continue
        else:  # pragma: no cover - IntNet only holds the four kinds
            raise SpikehlsError(f"layer {getattr(lyr, 'name', lyr)}: unsupported layer type {type(lyr).__name__}")
        outputs[lyr.name] = cur
        spikes[lyr.name] = cur
    if result is None:
        raise SpikehlsError("integer network must end with a Readout layer")
    n = x.shape[0]
    events = {k: v.reshape(n, -1).sum(axis=1, dtype=np.int64) for k, v in spikes.items()}
    pred = np.argmax(result, axis=1).astype(np.int64) if result.shape[1] else np.zeros(n, np.int64)
    return RefResult(spikes=spikes, readout=result, prediction=pred, events=events)
