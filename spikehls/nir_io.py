"""NIR in and out: ``spikehls import --nir`` and ``spikehls export --nir`` (docs/nir.md).

Import (:func:`import_nir`) reads a sequential NIR graph and writes a run directory that every
later stage accepts like a trained one: ``config.yaml`` (``model.arch: graph``), ``checkpoint.pt``,
``masks.json`` (every channel kept), ``summary.json`` and ``import.json`` (what was mapped how, the
leak errors). Without a config the run gets ``calibration.npz``: random spike frames of the input
shape labelled by the imported float network itself, so "accuracy" in the export reads as
agreement with the float network.

The mapping (forward Euler with the time step ``dt``, the convention of the exporting frameworks):

* LIF ``tau dv/dt = (v_leak - v) + r I``: ``v += lam (v_leak - v) + lam r I`` with
  ``lam = dt / tau``. The input gain ``lam * r`` (exact, per channel) is folded into the weights
  and bias, ``lam * v_leak`` into the bias; the leak ``lam`` becomes the power-of-two shift
  ``2**-k`` whose impulse response over the T time steps is closest to ``(1 - lam)**i``: the
  largest difference (``leak_kernel_error``) is reported per layer and refused above
  ``max_leak_error`` (default 0.1: an input's contribution to the membrane off by at most a tenth
  of its size at any lag, comparable to the rounding of a 4-bit weight, half an LSB = 7 % of the
  largest weight). IF ``dv/dt = r I``: gain ``dt * r``. CubaLIF only with ``tau_syn == dt``
  (the synaptic current then is the input of the step: a LIF with gain ``w_in``).
* ``v_reset = 0`` is the zero reset; any other value is refused (no offset reset in the contract).
* Thresholds are per channel. NIR fires on ``v > v_threshold``, the contract on ``V >= theta``
  with integer ``V``: in the integer unit ``acc`` the export will use (computed here with the same
  power-of-two quantizer), ``V > t/acc`` is exactly ``V >= floor(t/acc) + 1``, and that is the
  threshold the run gets (the float model's threshold moves by less than one ``acc``).
* SumPool2d / AvgPool2d on spikes followed by Threshold(0 <= t < 1) is OR pooling (a max pool):
  exact. Any other sum/avg pool is folded exactly into the next weighted layer (a dense layer
  gets the pooled weights spread over the pool windows; a conv becomes a larger, strided conv);
  where no exact fold exists (padding on the next conv with leftover rows, nothing weighted after
  the pool) it is refused: spike counts are not an integer-contract signal.
* Scale is folded into the preceding Conv2d/Affine.

Every refusal is one line naming the node and the parameter (a :class:`SpikehlsError`, exit 2).

Export (:func:`export_nir`) writes ``model.nir`` (the slimmed, BN-folded float network) and
``model.int.nir`` (the quantized network: integers times their power-of-two scales, thresholds
at ``(theta - 1/2) acc`` so that NIR's ``>`` is the contract's ``>=``, and per-node
``metadata["spikehls"]`` with the bit widths), which :func:`import_nir` reads back to the same
integer network.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from spikehls.errors import SpikehlsError

DEFAULT_DT = 1e-3
MAX_LEAK_ERROR = 0.1
DEFAULT_IMPORT_W_BITS = 8
CALIBRATION = (256, 128)  # train / test samples of the calibration set


def _nir():
    try:
        import nir
    except ImportError:
        raise SpikehlsError("NIR support needs the 'nir' package: pip install 'spikehls[nir]'") from None
    return nir


def read_graph(path: str | Path):
    """Read a NIR file (HDF5); a missing or unreadable file is one error line naming it."""
    nir = _nir()
    p = Path(path)
    if not p.is_file():
        raise SpikehlsError(f"{p}: NIR file not found")
    try:
        return nir.read(str(p))
    except Exception as err:  # h5py / nir raise anything from OSError to KeyError
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SpikehlsError(f"{p}: not a readable NIR graph ({msg})") from None


# ---- graph walking -------------------------------------------------------------------------------
def _chain(graph) -> list[tuple[str, Any]]:
    """The nodes of a sequential graph from its Input to its Output, in order."""
    nir = _nir()
    nodes = graph.nodes
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in graph.edges:
        a, b = a.split(".")[0], b.split(".")[0]  # "node.output" port names of subgraphs
        if a not in nodes or b not in nodes:
            raise SpikehlsError(f"edge {a} -> {b}: names a node that is not in the graph")
        succ[a].append(b)
        pred[b].append(a)
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise SpikehlsError(f"graph: {len(inputs)} Input nodes; exactly one is supported")
    order, cur, seen = [], inputs[0], set()
    while True:
        if cur in seen:
            raise SpikehlsError(f"node {cur}: the graph has a cycle (recurrent connections are not supported)")
        seen.add(cur)
        order.append((cur, nodes[cur]))
        if len(pred[cur]) > 1:
            raise SpikehlsError(f"node {cur}: {len(pred[cur])} incoming edges; only sequential graphs can be imported")
        if isinstance(nodes[cur], nir.Output):
            break
        if len(succ[cur]) != 1:
            raise SpikehlsError(f"node {cur}: {len(succ[cur])} outgoing edges; only sequential graphs (one path from "
                                "Input to Output) can be imported")
        cur = succ[cur][0]
    left = set(nodes) - seen
    if left:
        raise SpikehlsError(f"node {sorted(left)[0]}: not on the path from Input to Output")
    return order


def _pair(v, node: str, param: str) -> tuple[int, int]:
    a = np.asarray(v).astype(np.int64).ravel()
    if a.size == 1:
        return int(a[0]), int(a[0])
    if a.size != 2:
        raise SpikehlsError(f"node {node}: {param} {v!r} is not an int or a pair")
    return int(a[0]), int(a[1])


def _square(v, node: str, param: str) -> int:
    a, b = _pair(v, node, param)
    if a != b:
        raise SpikehlsError(f"node {node}: {param} {a}x{b}: only square {param}s can be mapped")
    return a


def _per_channel(value, shape: tuple[int, ...], node: str, param: str) -> np.ndarray:
    """A neuron parameter broadcast to the layer's output ``shape`` and reduced to one value per channel."""
    a = np.asarray(value, dtype=np.float64)
    try:
        if a.ndim == 1 and len(shape) == 3 and a.size == shape[0] and shape[0] != shape[-1]:
            a = a.reshape(-1, 1, 1)  # a per-channel vector for a conv layer
        full = np.broadcast_to(a, shape)
    except ValueError:
        raise SpikehlsError(f"node {node}: {param} has shape {a.shape}, the layer output is {shape}") from None
    per = full.reshape(shape[0], -1)
    c = per[:, 0]
    if not np.all(np.abs(per - c[:, None]) <= 1e-6 * np.maximum(np.abs(c[:, None]), 1e-30)):
        bad = int(np.argmax(np.abs(per - c[:, None]).max(1)))
        raise SpikehlsError(f"node {node}: {param} varies within channel {bad} (the integer contract holds one value "
                            "per channel)")
    return c.copy()


def leak_kernel_error(lam: np.ndarray, k: int, T: int) -> float:
    """max over channels and lags 0..T-1 of |(1 - 2**-k)**i - (1 - lam)**i| (k = 0: IF, no leak)."""
    i = np.arange(T, dtype=np.float64)
    q = 1.0 - (2.0 ** -k if k else 0.0)
    return float(np.max(np.abs(q ** i[None, :] - (1.0 - np.asarray(lam, np.float64))[:, None] ** i[None, :])))


def choose_leak(lam: np.ndarray, T: int) -> tuple[int, float, float]:
    """(k, kernel error, relative leak error) of the shift whose impulse response over T steps is closest."""
    best = min(range(0, 16), key=lambda k: (leak_kernel_error(lam, k, T), k))
    err = leak_kernel_error(lam, best, T)
    q = 2.0 ** -best if best else 0.0
    rel = float(np.max(np.abs(q - lam) / lam))
    return best, err, rel


# ---- the mapping ---------------------------------------------------------------------------------
class _Layer:
    """A weighted layer being assembled: float64 weight/bias in the *membrane* units of the neuron."""

    def __init__(self, kind: str, node: str, weight: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0,
                 meta: Optional[dict] = None):
        self.kind, self.node, self.weight, self.bias = kind, node, weight, bias
        self.stride, self.padding = stride, padding
        self.meta = dict(meta or {})
        self.neuron: Optional[dict] = None  # leak_shift, threshold (NIR, per channel), node, report
        self.pool: Optional[list[int]] = None
        self.nodes = [node]


def _fold_pool_dense(w: np.ndarray, pooled: tuple, before: tuple, pool: dict) -> np.ndarray:
    """Dense weight on a pooled (C, Hp, Wp) map -> weight on the (C, H, W) map before the pool (exact)."""
    import torch
    import torch.nn.functional as F

    out = w.shape[0]
    c, hp, wp = pooled
    _, h, wd = before
    k, s, p = pool["kernel"], pool["stride"], pool["padding"]
    wt = torch.from_numpy(w.reshape(out, c, hp, wp))
    ones = torch.ones(c, 1, k, k, dtype=torch.float64)
    spread = F.conv_transpose2d(wt, ones, stride=s, groups=c) * pool["factor"]  # [out, C, (hp-1)s+k, ...] padded coords
    full = torch.zeros(out, c, h + 2 * p, wd + 2 * p, dtype=torch.float64)
    hh, ww = min(spread.shape[2], h + 2 * p), min(spread.shape[3], wd + 2 * p)
    full[:, :, :hh, :ww] = spread[:, :, :hh, :ww]
    return full[:, :, p:p + h, p:p + wd].reshape(out, -1).numpy()


def _fold_pool_conv(node: str, w: np.ndarray, stride: int, padding: int, pool: dict, before: tuple):
    """Conv (K, S, P) on a sum-pooled map -> one conv on the map before the pool, or an error."""
    import torch
    import torch.nn.functional as F

    k, s, p = pool["kernel"], pool["stride"], pool["padding"]
    _, h, wd = before
    if p:
        raise SpikehlsError(f"node {pool['node']}: a padded {pool['type']} before the conv {node} cannot be folded "
                            "into it exactly (padding)")
    if padding and (k != s or (h - k) % s or (wd - k) % s):
        raise SpikehlsError(f"node {pool['node']}: {pool['type']} (kernel {k}, stride {s}) on a {h}x{wd} map followed "
                            f"by the padded conv {node} cannot be folded into one conv exactly (padding)")
    co, ci, kk, _ = w.shape
    wt = torch.from_numpy(w.reshape(co * ci, 1, kk, kk))
    eff = F.conv_transpose2d(wt, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s) * pool["factor"]
    keff = eff.shape[-1]
    return eff.reshape(co, ci, keff, keff).numpy(), stride * s, padding * s


def _grid_bits(w: np.ndarray, per_channel: bool, in_scale: float, lo_bits: int = 2) -> Optional[int]:
    """Smallest bit width whose power-of-two quantizer reproduces ``w`` exactly (None: not on any grid)."""
    from spikehls.quantize.qat import int_range

    w32 = w.astype(np.float32).astype(np.float64)
    if not np.array_equal(w32, w):
        return None
    m = np.abs(w.reshape(w.shape[0], -1)).max(1) if per_channel else np.array([np.abs(w).max()])
    for b in range(lo_bits, 9):
        hi = int_range(b)[1]
        scale = np.exp2(np.ceil(np.log2(np.maximum(m / hi, 2.0**-24))))
        sc = scale.reshape((-1,) + (1,) * (w.ndim - 1)) if per_channel else scale[0]
        q = np.clip(np.round(w / sc), -hi - 1, hi)
        if np.array_equal(q * sc, w):
            return b
    return None


def _acc_scale(layer: _Layer, bits: int, per_channel: bool, in_scale: float) -> np.ndarray:
    """The accumulator unit per output channel that the export's quantizer will use for these weights."""
    import torch
    from torch import nn

    from spikehls.quantize.qat import _qconv, _qlinear

    w = torch.from_numpy(layer.weight.astype(np.float32))
    if layer.kind == "conv":
        co, ci, k, _ = w.shape
        mod = nn.Conv2d(ci, co, k, bias=False)
        with torch.no_grad():
            mod.weight.copy_(w)
        q = _qconv(mod, bits, per_channel)
    else:
        mod = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            mod.weight.copy_(w)
        q = _qlinear(mod, bits, per_channel)
    with torch.no_grad():
        scale = q.quant_weight().scale.detach().double().flatten().numpy()
    return np.broadcast_to(scale, (layer.weight.shape[0],)) * in_scale


def map_graph(graph, dt: float = DEFAULT_DT, time_steps: int = 4, max_leak_error: float = MAX_LEAK_ERROR) -> dict:
    """Map a NIR graph onto spikehls layers; returns ``{"input_shape", "layers", "report"}`` (no rounding yet)."""
    nir = _nir()
    if not dt > 0:
        raise SpikehlsError(f"--dt must be > 0 (got {dt})")
    chain = _chain(graph)
    shape: Optional[tuple] = None
    layers: list[_Layer] = []
    pending: Optional[_Layer] = None  # weighted layer waiting for its neuron
    pool: Optional[dict] = None  # sum/avg pool waiting for the next weighted layer
    pool_before: Optional[tuple] = None
    flat = False
    skip_next = False
    for idx, (name, node) in enumerate(chain):
        if skip_next:
            skip_next = False
            continue
        typ = type(node).__name__
        nxt = chain[idx + 1][1] if idx + 1 < len(chain) else None
        if isinstance(node, nir.Input):
            s = tuple(int(v) for v in np.asarray(node.input_type["input"]).ravel())
            if len(s) == 4 and s[0] == 1:
                s = s[1:]
            if len(s) != 3:
                raise SpikehlsError(f"node {name}: input shape {s}: a [C, H, W] frame per time step is needed")
            shape = s
        elif isinstance(node, nir.Output):
            break
        elif typ == "Identity":
            continue
        elif isinstance(node, nir.Conv2d):
            if pending is not None:
                raise SpikehlsError(f"node {name}: Conv2d follows the weighted node {pending.node} without a neuron")
            if flat or len(shape) != 3:
                raise SpikehlsError(f"node {name}: Conv2d on a flattened input")
            if int(node.groups) != 1:
                raise SpikehlsError(f"node {name}: groups={node.groups}: only groups=1 convolutions can be mapped")
            if _pair(node.dilation, name, "dilation") != (1, 1):
                raise SpikehlsError(f"node {name}: dilation {node.dilation}: only undilated convolutions can be mapped")
            w = np.asarray(node.weight, np.float64)
            if w.ndim != 4 or w.shape[2] != w.shape[3]:
                raise SpikehlsError(f"node {name}: weight shape {w.shape}: only square 2-d kernels can be mapped")
            stride = _square(node.stride, name, "stride")
            if isinstance(node.padding, str):
                if node.padding == "valid":
                    padding = 0
                elif w.shape[2] % 2 == 1 and stride == 1:
                    padding = w.shape[2] // 2
                else:
                    raise SpikehlsError(f"node {name}: padding 'same' with an even kernel or stride > 1 cannot be mapped")
            else:
                padding = _square(node.padding, name, "padding")
            if w.shape[1] != (shape[0]):
                raise SpikehlsError(f"node {name}: weight expects {w.shape[1]} input channels, the input has {shape[0]}")
            b = np.zeros(w.shape[0]) if node.bias is None or np.size(node.bias) == 0 else \
                np.broadcast_to(np.asarray(node.bias, np.float64).ravel(), (w.shape[0],)).copy()
            from spikehls.hls.geometry import conv_out_size

            out_hw = (conv_out_size(shape[1], w.shape[2], stride, padding), conv_out_size(shape[2], w.shape[2], stride, padding))
            folded = pool["node"] if pool is not None else None
            if pool is not None:
                w, stride, padding = _fold_pool_conv(name, w, stride, padding, pool, pool_before)
                got = (conv_out_size(pool_before[1], w.shape[2], stride, padding),
                       conv_out_size(pool_before[2], w.shape[2], stride, padding))
                if got != out_hw:
                    raise SpikehlsError(f"node {pool['node']}: {pool['type']} before the conv {name} cannot be folded "
                                        f"into it exactly (output {got} != {out_hw})")
                pool = None
            pending = _Layer("conv", name, w, b, stride, padding, getattr(node, "metadata", None))
            if folded:
                pending.nodes.insert(0, folded)
            shape = (w.shape[0],) + out_hw
        elif isinstance(node, (nir.Affine, nir.Linear)):
            if pending is not None:
                raise SpikehlsError(f"node {name}: {typ} follows the weighted node {pending.node} without a neuron")
            w = np.asarray(node.weight, np.float64)
            n_in = int(np.prod(shape))
            if len(shape) != 1 and not flat:
                raise SpikehlsError(f"node {name}: {typ} on a [C, H, W] map needs a Flatten before it")
            if w.ndim != 2 or w.shape[1] != n_in:
                raise SpikehlsError(f"node {name}: weight shape {w.shape} does not take the {n_in} inputs")
            b = np.zeros(w.shape[0]) if isinstance(node, nir.Linear) else \
                np.broadcast_to(np.asarray(node.bias, np.float64).ravel(), (w.shape[0],)).copy()
            folded = pool["node"] if pool is not None else None
            if pool is not None:
                w = _fold_pool_dense(w, pool["pooled"], pool_before, pool)
                pool = None
            pending = _Layer("dense", name, w, b, meta=getattr(node, "metadata", None))
            if folded:
                pending.nodes.insert(0, folded)
            shape = (w.shape[0],)
        elif isinstance(node, nir.Flatten):
            if pending is not None:
                raise SpikehlsError(f"node {name}: Flatten between the weighted node {pending.node} and its neuron")
            flat = True
            if pool is not None:
                pool["pooled"] = shape
            shape = (int(np.prod(shape)),)
        elif isinstance(node, nir.Scale):
            if pending is None:
                raise SpikehlsError(f"node {name}: Scale must directly follow a Conv2d or Affine (it is folded into its "
                                    "weights)")
            sc = _per_channel(node.scale, shape, name, "scale")
            pending.weight = pending.weight * sc.reshape((-1,) + (1,) * (pending.weight.ndim - 1))
            pending.bias = pending.bias * sc
            pending.nodes.append(name)
        elif isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF)):
            if pending is None:
                raise SpikehlsError(f"node {name}: {typ} must follow a Conv2d or Affine (a neuron on a neuron or on the "
                                    "input cannot be mapped)")
            pending.neuron = _map_neuron(name, node, shape, dt, time_steps, max_leak_error)
            g = pending.neuron.pop("gain")
            pending.weight = pending.weight * g.reshape((-1,) + (1,) * (pending.weight.ndim - 1))
            pending.bias = pending.bias * g + pending.neuron.pop("bias_add")
            pending.nodes.append(name)
            layers.append(pending)
            pending = None
        elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            if pending is not None or not layers or flat:
                raise SpikehlsError(f"node {name}: {typ} must follow a spiking conv layer (it pools spikes)")
            k = _square(node.kernel_size, name, "kernel_size")
            s = _square(node.stride, name, "stride")
            p = _square(node.padding, name, "padding")
            from spikehls.hls.geometry import conv_out_size

            pooled = (shape[0], conv_out_size(shape[1], k, s, p), conv_out_size(shape[2], k, s, p))
            if isinstance(nxt, nir.Threshold) and layers[-1].kind == "conv" and layers[-1].pool is None:
                th = np.asarray(nxt.threshold, np.float64)
                if p == 0 and np.all(th >= 0) and np.all(th < 1):
                    layers[-1].pool = [k, s]  # sum of spikes > t (0 <= t < 1) is the OR of the window: exact
                    layers[-1].nodes += [name, chain[idx + 1][0]]
                    shape = pooled
                    skip_next = True
                    continue
            if isinstance(node, nir.AvgPool2d) and p:
                raise SpikehlsError(f"node {name}: padded AvgPool2d cannot be mapped (padding)")
            pool = {"node": name, "type": typ, "kernel": k, "stride": s, "padding": p, "pooled": pooled,
                    "factor": 1.0 / (k * k) if isinstance(node, nir.AvgPool2d) else 1.0}
            pool_before = shape
            shape = pooled
        elif isinstance(node, nir.Threshold):
            raise SpikehlsError(f"node {name}: Threshold (a stateless comparison) maps only as OR pooling right after a "
                                "SumPool2d (threshold in [0, 1)); the contract's neurons integrate")
        else:
            why = {"LI": "a non-spiking leaky integrator (use an Affine readout)", "I": "a non-spiking integrator",
                   "CubaLI": "a non-spiking integrator", "Delay": "delays are not part of the integer contract",
                   "Conv1d": "1-d convolutions are not supported", "NIRGraph": "nested graphs are not supported"}
            raise SpikehlsError(f"node {name}: {typ} cannot be mapped ({why.get(typ, 'no counterpart in the integer contract')})")
        if pool is not None and isinstance(nxt, nir.Output):
            raise SpikehlsError(f"node {pool['node']}: {pool['type']} must be followed by a weighted layer (spike counts "
                                "are not an integer-contract signal)")
    else:
        raise SpikehlsError("graph: no Output node reached")
    if pending is None:
        if not layers or layers[-1].kind != "dense":
            raise SpikehlsError("graph: the output must come from an Affine (non-spiking readout) or an Affine followed "
                                "by a neuron (spike-count readout)")
        k = layers[-1].weight.shape[0]
        readout = _Layer("readout", "spike-count", np.eye(k), np.zeros(k))
        readout.meta = {"spike_count": True}
    else:
        if pending.kind != "dense":
            raise SpikehlsError(f"node {pending.node}: the readout must be an Affine (got a Conv2d without a neuron)")
        readout = pending
        readout.kind = "readout"
    if not layers or layers[0].kind != "conv":
        raise SpikehlsError("graph: the first weighted node must be a Conv2d (spiking CNNs)")
    return {"input_shape": shape_in(chain), "layers": layers, "readout": readout}


def shape_in(chain) -> tuple:
    s = tuple(int(v) for v in np.asarray(chain[0][1].input_type["input"]).ravel())
    return s[1:] if len(s) == 4 and s[0] == 1 else s


def _map_neuron(name: str, node, shape: tuple, dt: float, T: int, max_err: float) -> dict:
    nir = _nir()
    typ = type(node).__name__
    thr = _per_channel(node.v_threshold, shape, name, "v_threshold")
    if np.any(thr <= 0):
        raise SpikehlsError(f"node {name}: v_threshold must be > 0 (got {thr.min():g})")
    v_reset = _per_channel(node.v_reset if node.v_reset is not None else 0.0, shape, name, "v_reset")
    if np.any(v_reset != 0):
        raise SpikehlsError(f"node {name}: v_reset={v_reset[v_reset != 0][0]:g}: only v_reset = 0 (reset to zero) maps")
    r = _per_channel(node.r, shape, name, "r")
    rep: dict = {"node": name, "type": typ}
    if isinstance(node, nir.IF):
        return {"leak_shift": 0, "threshold": thr, "gain": dt * r, "bias_add": np.zeros_like(thr),
                "report": {**rep, "leak_shift": 0}}
    tau = _per_channel(node.tau_mem if isinstance(node, nir.CubaLIF) else node.tau, shape, name,
                       "tau_mem" if isinstance(node, nir.CubaLIF) else "tau")
    if np.any(tau <= 0):
        raise SpikehlsError(f"node {name}: tau must be > 0")
    lam = dt / tau
    if np.any(lam > 1):
        raise SpikehlsError(f"node {name}: tau={tau.min():g} < dt={dt:g}: the Euler step is unstable (choose --dt)")
    gain = lam * r
    if isinstance(node, nir.CubaLIF):
        tau_syn = _per_channel(node.tau_syn, shape, name, "tau_syn")
        if np.any(np.abs(dt / tau_syn - 1) > 1e-6):
            raise SpikehlsError(f"node {name}: tau_syn={tau_syn[0]:g} != dt={dt:g}: a synaptic current with its own time "
                                "constant (a second state per neuron) has no counterpart in the integer contract")
        gain = gain * _per_channel(node.w_in, shape, name, "w_in")
    v_leak = _per_channel(node.v_leak, shape, name, "v_leak")
    k, err, rel = choose_leak(lam, T)
    if err > max_err:
        raise SpikehlsError(f"node {name}: tau: leak dt/tau={lam.min():.4g}..{lam.max():.4g} has no power-of-two shift "
                            f"within the bound (best 2^-{k}: impulse response off by {err:.3f} > {max_err:g} over "
                            f"{T} steps; raise --max-leak-error or change --dt)")
    rep.update(leak_shift=k, dt_over_tau=[float(lam.min()), float(lam.max())], leak_relative_error=rel,
               leak_kernel_error=err)
    return {"leak_shift": k, "threshold": thr, "gain": gain, "bias_add": lam * v_leak, "report": rep}


# ---- building the run ----------------------------------------------------------------------------
def _finish(mapped: dict, cfg, dt: float) -> tuple[list[dict], dict, list[dict]]:
    """Layer spec, state dict (float32 tensors) and per-layer report; thresholds on the integer grid."""
    import torch

    from spikehls.training.encoding import input_scale

    qc = cfg.quant
    spec, state, report = [], {}, []
    in_scale = input_scale(cfg.encoding.kind)
    layer_bits = {}
    all_exact = True
    n_conv = n_dense = 0
    for li, lyr in enumerate(mapped["layers"] + [mapped["readout"]]):
        if lyr.kind == "conv":
            mname, prefix = f"features.{n_conv}.conv", f"features.{n_conv}"
            n_conv += 1
        elif lyr.kind == "dense":
            mname, prefix = f"hidden.{n_dense}.fc", f"hidden.{n_dense}"
            n_dense += 1
        else:
            mname = prefix = "readout"
        meta = (lyr.meta or {}).get("spikehls", {}) if isinstance(lyr.meta, dict) else {}
        per_channel = qc.per_channel and lyr.kind != "readout"
        w32 = lyr.weight.astype(np.float32).astype(np.float64)
        if lyr.meta.get("spike_count"):
            bits = 2
        elif isinstance(meta.get("w_bits"), (int, np.integer)) and _grid_bits(w32, per_channel, 1.0, int(meta["w_bits"])) == int(meta["w_bits"]):
            bits = int(meta["w_bits"])  # written by spikehls export --nir: the same integers come back
        else:
            bits = _grid_bits(w32, per_channel, 1.0)
        exact = bits is not None
        all_exact = all_exact and exact
        if bits is None:
            bits = qc.layer_w_bits.get(mname, qc.w_bits)
        layer_bits[mname] = int(bits)
        entry: dict = {"kind": lyr.kind, "out": int(lyr.weight.shape[0])}
        rep = {"layer": mname, "nodes": lyr.nodes, "w_bits": int(bits), "weights_on_grid": exact}
        if lyr.kind == "conv":
            entry.update(kernel=int(lyr.weight.shape[2]), stride=int(lyr.stride), padding=int(lyr.padding), pool=lyr.pool)
            state[f"{prefix}.conv.weight"] = torch.from_numpy(lyr.weight.astype(np.float32))
        elif lyr.kind == "dense":
            state[f"{prefix}.fc.weight"] = torch.from_numpy(lyr.weight.astype(np.float32))
        else:
            state["readout.weight"] = torch.from_numpy(lyr.weight.astype(np.float32))
            state["readout.bias"] = torch.from_numpy(lyr.bias.astype(np.float32))
            rep["spike_count_readout"] = bool(lyr.meta.get("spike_count"))
        if lyr.kind != "readout":
            n = lyr.neuron
            entry.update(leak_shift=int(n["leak_shift"]), reset="zero")
            acc = _acc_scale(lyr, bits, per_channel, in_scale if li == 0 else 1.0)
            t = n["threshold"]
            theta_int = np.floor(t / acc + 1e-9) + 1  # v > t  <=>  V >= floor(t/acc) + 1 on integer membranes
            theta = theta_int * acc
            c = lyr.weight.shape[0]
            state[f"{prefix}.bn.weight"] = torch.ones(c)
            state[f"{prefix}.bn.bias"] = torch.from_numpy(lyr.bias.astype(np.float32))
            state[f"{prefix}.bn.running_mean"] = torch.zeros(c)
            state[f"{prefix}.bn.running_var"] = torch.ones(c)
            state[f"{prefix}.bn.num_batches_tracked"] = torch.tensor(0)
            state[f"{prefix}.neuron.threshold"] = torch.from_numpy(theta.astype(np.float32))
            rep.update(n["report"])
            rep.update(threshold_int=[int(theta_int.min()), int(theta_int.max())],
                       threshold_shift_max=float(np.max((theta - t) / t)))
            if np.any(theta.astype(np.float32).astype(np.float64) != theta):
                raise SpikehlsError(f"node {n['report']['node']}: v_threshold / acc does not fit float32")
        spec.append(entry)
        report.append(rep)
        if prefix == "readout":
            if lyr.meta.get("spike_count"):
                rep["note"] = "the output neurons' spikes are counted over T (identity readout)"
    return spec, state, report, layer_bits, all_exact


def _calibration(out: Path, model, input_shape, T: int, num_classes: int, seed: int = 0) -> Path:
    """Random spike frames [N, T, C, H, W] labelled by the imported float model (agreement data)."""
    import torch

    from spikehls.fileio import atomic_path

    rng = np.random.default_rng(seed)
    n_tr, n_te = CALIBRATION
    x = (rng.random((n_tr + n_te, T) + tuple(input_shape)) < 0.25).astype(np.uint8)
    model.eval()
    with torch.no_grad():
        y = np.concatenate([model(torch.from_numpy(x[i:i + 128]).float().transpose(0, 1)).argmax(1).numpy()
                            for i in range(0, len(x), 128)])
    path = out / "calibration.npz"
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, x_train=x[:n_tr], y_train=y[:n_tr], x_test=x[n_tr:], y_test=y[n_tr:],
                     num_classes=np.array(num_classes))
    return path


def import_nir(nir_path: str | Path, out: str | Path, dt: Optional[float] = None, config: Optional[str | Path] = None,
               time_steps: Optional[int] = None, max_leak_error: float = MAX_LEAK_ERROR,
               w_bits: Optional[int] = None, log: Callable[[str], None] = lambda m: None) -> dict:
    """Import the NIR graph at ``nir_path`` into the run directory ``out``; returns the import report.

    ``config``: a YAML config whose dataset, encoding, train, sca, optim and quant sections the
    run takes (its model section is replaced by the imported graph). Without it: the default
    config with the calibration set (see the module docstring), ``encoding.kind: events``.
    ``dt`` defaults to the graph's ``metadata["spikehls"]["dt"]`` or 1 ms; ``time_steps`` to the
    config's (or the graph's metadata); ``w_bits`` is used for weights that are not already on a
    power-of-two grid (default 8).
    """
    from spikehls.config import config_from_dict, load_config
    from spikehls.fileio import check_out_dir, lock_dir, write_json, write_text
    from spikehls.training.masks import Masks
    from spikehls.training.models import build_model

    t0 = time.time()
    out = Path(out)
    graph = read_graph(nir_path)
    gmeta = (getattr(graph, "metadata", None) or {})
    gmeta = gmeta.get("spikehls", {}) if isinstance(gmeta, dict) else {}
    base = load_config(config) if config is not None else None
    data = (base.model_dump(mode="json") if base is not None else config_from_dict({}).model_dump(mode="json"))
    if base is None:
        data["encoding"]["kind"] = str(gmeta.get("encoding", "events"))
        data["quant"]["qat_epochs"] = 0
        data["sca"]["enabled"] = False
    if time_steps is not None:
        data["train"]["time_steps"] = int(time_steps)
    elif base is None and "time_steps" in gmeta:
        data["train"]["time_steps"] = int(gmeta["time_steps"])
    for key in ("v_bits", "bias_bits"):
        if base is None and key in gmeta:
            data["quant"][key] = int(gmeta[key])
    if w_bits is not None:
        data["quant"]["w_bits"] = int(w_bits)
    elif base is None:
        data["quant"]["w_bits"] = DEFAULT_IMPORT_W_BITS
    if dt is None:
        dt = float(gmeta.get("dt", DEFAULT_DT))
    cfg = config_from_dict(data, "import config")
    T = cfg.train.time_steps
    mapped = map_graph(graph, dt=dt, time_steps=T, max_leak_error=max_leak_error)
    spec, state, report, layer_bits, exact = _finish(mapped, cfg, dt)
    num_classes = spec[-1]["out"]
    data["model"] = {"arch": "graph", "preset": None, "graph": spec}
    data["quant"]["layer_w_bits"] = {**data["quant"].get("layer_w_bits", {}), **layer_bits}
    cfg = config_from_dict(data, "import config")
    c, h, w = mapped["input_shape"]
    model = build_model(cfg, c, (h, w), num_classes)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if not m.endswith("num_batches_tracked")]:
        raise RuntimeError(f"import: state does not fit the model (missing {missing}, unexpected {unexpected})")
    masks = Masks.full(model.prunable_groups())

    check_out_dir(out, "run", inputs=[nir_path] + ([config] if config else []))
    with lock_dir(out):
        out.mkdir(parents=True, exist_ok=True)
        if base is None:
            path = _calibration(out, model, (c, h, w), T, num_classes)
            data["dataset"] = {**data["dataset"], "name": "numpy", "path": str(path.resolve())}
            cfg = config_from_dict(data, "import config")
        from spikehls.training.datasets import load_dataset
        from spikehls.training.encoding import check_encoding
        from spikehls.training.trainer import CHECKPOINT_FORMAT, _torch_save, evaluate, resolve_device

        train_set, test_set = load_dataset(cfg.dataset, cfg.train.seed)
        check_encoding(train_set.is_sequence, train_set.time_steps, cfg.encoding.kind, T)
        if train_set.frame_shape != (c, h, w) and cfg.encoding.kind != "bitplane":
            raise SpikehlsError(f"dataset {cfg.dataset.path}: frames are {train_set.frame_shape}, the graph's input is "
                                f"{(c, h, w)}")
        ev = evaluate(model, test_set, cfg, resolve_device("cpu"))
        write_text(out / "config.yaml", cfg.to_yaml())
        model.model_args = {"in_channels": c, "image_hw": [h, w], "num_classes": num_classes}
        _torch_save({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "masks": masks.to_json(),
                     "config": cfg.model_dump(mode="json"), "epoch": 0, "test_accuracy": ev["test_acc"],
                     "model_args": model.model_args, "imported_from": str(nir_path)}, out / "checkpoint.pt")
        masks.save(out / "masks.json")
        summary = {
            "test_accuracy": ev["test_acc"], "best_epoch": 0, "final_test_accuracy": ev["test_acc"], "epochs": 0,
            "channels_total": masks.total(), "channels_kept": masks.kept(), "channels_per_layer": masks.layer_counts(),
            "synops_per_sample": ev["synops_per_sample"], "macs_per_sample": ev["macs_per_sample"],
            "energy_pj_per_sample": ev["energy_pj_per_sample"], "firing_rate": ev["firing_rate"],
            "sca": {"enabled": False, "p": 0.0, "q": 0.0}, "dataset": cfg.dataset.name, "time_steps": T,
            "seconds": round(time.time() - t0, 2), "device": "cpu", "imported_from": str(nir_path),
        }
        write_json(out / "summary.json", summary)
        rep = {"source": str(nir_path), "dt": dt, "time_steps": T, "encoding": cfg.encoding.kind,
               "max_leak_error": max_leak_error, "weights_on_grid": exact, "calibration": base is None,
               "float_accuracy": ev["test_acc"], "layers": report}
        write_json(out / "import.json", rep)
    for r in report:
        if "leak_kernel_error" in r:
            log(f"{r['layer']}: {r['type']} dt/tau {r['dt_over_tau'][0]:.4g} -> 2^-{r['leak_shift']} "
                f"(leak off by {r['leak_relative_error']:.1%}, impulse response by {r['leak_kernel_error']:.3f} over {T} steps)")
    return rep


# ---- a plain NumPy simulation of a sequential NIR graph (the semantics the importer maps) ----------
def simulate(graph, x: np.ndarray, dt: float = DEFAULT_DT) -> np.ndarray:
    """Forward-Euler simulation of ``graph`` on ``x [N, T, C, H, W]`` (float64, ``v > v_threshold``).

    Returns the output node's values ``[N, T, ...]``. Used by the tests as the "source framework"
    the imported float model is compared with.
    """
    import torch
    import torch.nn.functional as F

    nir = _nir()
    chain = _chain(graph)
    cur = torch.from_numpy(np.asarray(x, np.float64))
    n, T = cur.shape[:2]

    def frame(fn, z):
        y = fn(z.reshape((n * T,) + z.shape[2:]))
        return y.reshape((n, T) + y.shape[1:])

    for name, node in chain:
        if isinstance(node, (nir.Input, nir.Output)) or type(node).__name__ == "Identity":
            continue
        if isinstance(node, nir.Conv2d):
            w = torch.from_numpy(np.asarray(node.weight, np.float64))
            b = torch.from_numpy(np.broadcast_to(np.asarray(node.bias, np.float64).ravel(), (w.shape[0],)).copy())
            pad = node.padding if isinstance(node.padding, str) else tuple(_pair(node.padding, name, "padding"))
            cur = frame(lambda z: F.conv2d(z, w, b, tuple(_pair(node.stride, name, "stride")), pad), cur)
        elif isinstance(node, (nir.Affine, nir.Linear)):
            w = torch.from_numpy(np.asarray(node.weight, np.float64))
            b = torch.from_numpy(np.asarray(node.bias, np.float64)) if isinstance(node, nir.Affine) else None
            cur = F.linear(cur, w, b)
        elif isinstance(node, nir.Flatten):
            cur = cur.reshape(n, T, -1)
        elif isinstance(node, nir.Scale):
            cur = cur * torch.from_numpy(np.asarray(node.scale, np.float64))
        elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            k, s, p = (_square(getattr(node, a), name, a) for a in ("kernel_size", "stride", "padding"))
            f = k * k if isinstance(node, nir.SumPool2d) else 1
            cur = frame(lambda z: F.avg_pool2d(z, k, s, p, count_include_pad=True) * f, cur)
        elif isinstance(node, nir.Threshold):
            cur = (cur > torch.from_numpy(np.asarray(node.threshold, np.float64))).double()
        elif isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF)):
            shp = cur.shape[2:]
            P = {k: torch.from_numpy(np.broadcast_to(np.asarray(getattr(node, k), np.float64), shp).copy())
                 for k in ("r", "v_threshold", "v_reset")}
            v = torch.zeros((n,) + tuple(shp), dtype=torch.float64)
            outs = []
            for t in range(T):
                i = cur[:, t]
                if isinstance(node, nir.IF):
                    v = v + dt * P["r"] * i
                else:
                    tau = node.tau_mem if isinstance(node, nir.CubaLIF) else node.tau
                    tau = torch.from_numpy(np.broadcast_to(np.asarray(tau, np.float64), shp).copy())
                    vl = torch.from_numpy(np.broadcast_to(np.asarray(node.v_leak, np.float64), shp).copy())
                    if isinstance(node, nir.CubaLIF):  # tau_syn == dt: the synaptic current is w_in * input
                        i = i * torch.from_numpy(np.broadcast_to(np.asarray(node.w_in, np.float64), shp).copy())
                    v = v + dt / tau * (vl - v + P["r"] * i)
                z = (v > P["v_threshold"]).double()
                v = torch.where(z > 0, P["v_reset"], v)
                outs.append(z)
            cur = torch.stack(outs, 1)
        else:
            raise SpikehlsError(f"node {name}: {type(node).__name__} is not simulated")
    return cur.numpy()


# ---- export --------------------------------------------------------------------------------------
def _neuron_nodes(nir, lname: str, thr: np.ndarray, k: int, reset: str, shape: tuple, dt: float, meta: dict):
    if reset != "zero":
        raise SpikehlsError(f"layer {lname}: reset 'subtract' has no NIR form (NIR neurons reset to v_reset); "
                            "train with neuron.reset: zero to export to NIR")
    c = shape[0]
    full = lambda v: np.broadcast_to(np.asarray(v, np.float64).reshape((c,) + (1,) * (len(shape) - 1)), shape).copy()  # noqa: E731
    th = full(thr)
    if k == 0:
        return nir.IF(r=full(np.full(c, 1.0 / dt)), v_threshold=th, v_reset=full(np.zeros(c)), metadata=meta)
    tau = dt * 2.0**k
    return nir.LIF(tau=full(np.full(c, tau)), r=full(np.full(c, tau / dt)), v_leak=full(np.zeros(c)), v_threshold=th,
                   v_reset=full(np.zeros(c)), metadata=meta)


def _write_graph(layers: list[dict], input_shape: tuple, meta: dict, path: Path, dt: float) -> None:
    """``layers``: dicts kind conv/pool/dense/readout with float arrays; written as a sequential NIR graph."""
    from spikehls.fileio import atomic_path
    from spikehls.hls.geometry import conv_out_size

    nir = _nir()
    nodes: dict = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    order = ["input"]
    shape = tuple(input_shape)
    flat = False

    def add(name, node):
        nodes[name] = node
        order.append(name)

    for lyr in layers:
        nm = lyr["name"].replace(".", "_")
        if lyr["kind"] == "conv":
            w = lyr["weight"]
            add(nm, nir.Conv2d(input_shape=shape[1:], weight=w, stride=lyr["stride"], padding=lyr["padding"], dilation=1,
                               groups=1, bias=lyr["bias"], metadata=lyr.get("meta", {})))
            shape = (w.shape[0], conv_out_size(shape[1], w.shape[2], lyr["stride"], lyr["padding"]),
                     conv_out_size(shape[2], w.shape[3], lyr["stride"], lyr["padding"]))
            add(nm + "_neuron", _neuron_nodes(nir, lyr["name"], lyr["threshold"], lyr["leak_shift"], lyr["reset"], shape,
                                              dt, {}))
        elif lyr["kind"] == "pool":
            k, s = lyr["kernel"], lyr["stride"]
            add(nm, nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([s, s]), padding=np.array([0, 0]),
                                  metadata={"spikehls": {"or_pool": True}}))
            shape = (shape[0], conv_out_size(shape[1], k, s, 0), conv_out_size(shape[2], k, s, 0))
            add(nm + "_or", nir.Threshold(threshold=np.full(shape, 0.5)))
        else:
            if not flat:
                add(f"flatten_{len(order)}", nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0))
                shape = (int(np.prod(shape)),)
                flat = True
            w = lyr["weight"]
            add(nm, nir.Affine(weight=w, bias=lyr["bias"], metadata=lyr.get("meta", {})))
            shape = (w.shape[0],)
            if lyr["kind"] == "dense":
                add(nm + "_neuron", _neuron_nodes(nir, lyr["name"], lyr["threshold"], lyr["leak_shift"], lyr["reset"],
                                                  shape, dt, {}))
    add("output", nir.Output(output_type={"output": np.array(shape)}))
    edges = list(zip(order[:-1], order[1:]))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"spikehls": meta})
    with atomic_path(path, suffix=".nir") as tmp:
        nir.write(str(tmp), graph)


def _no_skip(lyr) -> None:
    if getattr(lyr, "skip", None) is not None:
        raise SpikehlsError(f"layer {lyr.name}: residual inputs cannot be written to a sequential NIR graph (ResNets are "
                            "not supported by export --nir)")


def export_float_nir(run_dir: str | Path, path: str | Path, dt: float = DEFAULT_DT) -> Path:
    """The run's float network (masked channels removed, BN folded) as a NIR graph."""
    from spikehls.quantize.export_run import prepare
    from spikehls.quantize.floatnet import FConv, FDense, FPool, from_training_model, neuron_params
    from spikehls.quantize.fold import fold_bn
    from spikehls.quantize.slim import keep_from_masks, slim

    cfg, model, masks = prepare(Path(run_dir), None)
    fnet = from_training_model(model, cfg.encoding.kind, cfg.train.time_steps)
    keep = keep_from_masks(fnet, masks) if masks is not None else {}
    net = fold_bn(slim(fnet, keep))
    layers = []
    for lyr in net.layers:
        _no_skip(lyr)
        if isinstance(lyr, FPool):
            layers.append({"kind": "pool", "name": lyr.name, "kernel": lyr.kernel, "stride": lyr.stride})
            continue
        mod = lyr.conv if isinstance(lyr, FConv) else lyr.linear
        d = {"name": lyr.name, "weight": mod.weight.detach().double().numpy(),
             "bias": mod.bias.detach().double().numpy() if mod.bias is not None else np.zeros(mod.weight.shape[0])}
        if isinstance(lyr, (FConv, FDense)):
            p = neuron_params(lyr.neuron, mod.weight.shape[0], cfg, lyr.name)
            d.update(threshold=p.threshold.double().numpy(), leak_shift=p.leak_shift, reset=p.reset)
        if isinstance(lyr, FConv):
            d.update(kind="conv", stride=int(mod.stride[0]), padding=int(mod.padding[0]))
        else:
            d["kind"] = "dense" if isinstance(lyr, FDense) else "readout"
        layers.append(d)
    meta = {"format": "spikehls.nir/1", "kind": "float", "dt": dt, "time_steps": cfg.train.time_steps,
            "encoding": cfg.encoding.kind, "input_scale": net.in_scale,
            "note": "spikehls fires on v >= threshold; NIR on v > threshold (the same except at equality)"}
    path = Path(path)
    _write_graph(layers, net.input_shape, meta, path, dt)
    return path


def export_int_nir(intnet, path: str | Path, dt: float = DEFAULT_DT, v_bits: Optional[int] = None,
                   bias_bits: Optional[int] = None) -> Path:
    """The integer network as a NIR graph: integers times their power-of-two scales (exact in float32)."""
    from spikehls.quantize.intnet import MaxPool2d, Readout, SpikingConv2d

    layers = []
    for i, lyr in enumerate(intnet.layers):
        _no_skip(lyr)
        if isinstance(lyr, MaxPool2d):
            layers.append({"kind": "pool", "name": lyr.name, "kernel": lyr.kernel, "stride": lyr.stride})
            continue
        ws = np.asarray(lyr.w_scale, np.float64)
        acc = ws * lyr.in_scale
        w = lyr.weight.astype(np.float64) * ws.reshape((-1,) + (1,) * (lyr.weight.ndim - 1))
        d = {"name": lyr.name, "weight": w, "bias": lyr.bias.astype(np.float64) * acc,
             "meta": {"spikehls": {"w_bits": int(lyr.w_bits)}}}
        if isinstance(lyr, Readout):
            d["kind"] = "readout"
        else:
            n = lyr.neuron
            d.update(threshold=(n.threshold.astype(np.float64) - 0.5) * acc, leak_shift=int(n.leak_shift), reset=n.reset,
                     kind="conv" if isinstance(lyr, SpikingConv2d) else "dense")
            if isinstance(lyr, SpikingConv2d):
                d.update(stride=lyr.stride, padding=lyr.padding)
        layers.append(d)
    vb = v_bits or next((lyr.neuron.v_bits for lyr in intnet.layers if hasattr(lyr, "neuron")), 16)
    meta = {"format": "spikehls.nir/1", "kind": "quantized", "dt": dt, "time_steps": intnet.time_steps,
            "encoding": intnet.encoding, "input_scale": intnet.input_scale, "v_bits": int(vb),
            "note": "thresholds are (theta - 1/2) * acc: v > t is the contract's V >= theta on integer membranes; "
                    "the contract's leak is V -= floor(V / 2^k) and its membrane saturates to v_bits (not in NIR)"}
    if bias_bits is not None:
        meta["bias_bits"] = int(bias_bits)
    path = Path(path)
    _write_graph(layers, tuple(intnet.input_shape), meta, path, dt)
    return path


def export_nir(run_dir: str | Path, dt: float = DEFAULT_DT) -> dict:
    """Write ``RUN/model.nir`` (float) and, where the run is exported, ``RUN/model.int.nir`` (quantized)."""
    from spikehls.config import load_config
    from spikehls.quantize.intnet import IntNet

    run = Path(run_dir)
    out = {"float": str(export_float_nir(run, run / "model.nir", dt))}
    if (run / "intnet.npz").is_file():
        cfg = load_config(run / "config.yaml")
        out["quantized"] = str(export_int_nir(IntNet.load(run / "intnet.npz"), run / "model.int.nir", dt,
                                              cfg.quant.v_bits, cfg.quant.bias_bits))
    return out


def describe(rep: dict) -> str:
    """A short text of an import report."""
    lines = [f"imported {rep['source']}: dt {rep['dt']:g} s, T {rep['time_steps']}, encoding {rep['encoding']}"]
    for r in rep["layers"]:
        s = f"  {r['layer']:<18} {'+'.join(r['nodes'])}  w_bits {r['w_bits']}{' (exact grid)' if r['weights_on_grid'] else ''}"
        if "leak_shift" in r:
            s += f"  {'IF' if r['leak_shift'] == 0 else 'LIF 2^-' + str(r['leak_shift'])}"
        if "leak_kernel_error" in r:
            s += f" (leak error {r['leak_relative_error']:.1%}, response {r['leak_kernel_error']:.3f})"
        lines.append(s)
    return "\n".join(lines)


__all__ = ["import_nir", "export_nir", "export_float_nir", "export_int_nir", "map_graph", "simulate", "read_graph",
           "choose_leak", "leak_kernel_error", "describe"]
