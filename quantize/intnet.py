"""The integer network: the one meaning of a quantized spiking CNN (DESIGN.md section 3).

An :class:`IntNet` is a plain list of integer layers. It is produced from a trained, slimmed,
quantized PyTorch model (:mod:`spikehls.quantize.extract`), executed by the NumPy reference
(:mod:`spikehls.quantize.reference`), written to QONNX (:mod:`spikehls.quantize.qonnx_export`)
and turned into HLS (:mod:`spikehls.hls`). All four implementations must agree spike for spike.

Semantics (one sample; ``x`` is ``[T, C, H, W]`` integers; every value an exact integer):

* Input: spikes in {0, 1} (rate / bitplane encodings, ``input_bits == 1``) or 8-bit pixels
  0..255 (direct encoding, ``input_bits == 8``; the float model sees ``pixel * 2**-8``).
* Spiking layer (conv or dense), per output channel ``c`` and time step ``t``::

      z   = sum_{i: x_t[i] != 0} W[c, i] * x_t[i]                # x_t[i] in {0,1}: a pure sum of weights
            (+ skip current, see Skip)  (+ z_t of layer ``residual``, conv only)
      I   = bias[c] + current_sign[c] * z                         # current_sign in {-1, 0, +1}, default +1
      V   = V - (V >> leak_shift)   if leak_shift > 0 (LIF, arithmetic shift = floor)
      V   = saturate(V + I, v_bits)                               # signed, clamp to [-2^(b-1), 2^(b-1)-1]
      s   = V >= threshold[c]
      V   = V - threshold[c] * s    (reset "subtract")   |   V * (1 - s)   (reset "zero")

  V starts at 0 for every sample (no state crosses samples). Output spikes ``[T, C', ...]``.
  ``z`` is the layer's *stream*: an exact integer, never saturated. A conv whose ``residual`` names an
  earlier conv adds that layer's stream (same channel and position) to its own: this is how a
  pre-activation ResNet's float residual stream is carried, with the BN + neuron that reads the
  stream fused into the conv that writes it (``current_sign`` is the sign of the BN's gamma; 0 for
  gamma == 0, where the neuron sees only its bias). With ``residual`` and ``current_sign`` unset the
  layer is the plain ``I = bias + sum W x (+ skip)``.
* MaxPool2d on spikes: OR over the window.
* Readout (last layer, non-spiking): ``out[k] = sum_t (bias[k] + sum_i W[k, i] * s_t[i])`` over the
  flattened input (C, H, W order); the prediction is the first index of the maximum.
* Dense and readout flatten their input in (C, H, W) order.

Scales (needed only to relate the integers to the float model and to QONNX): weights are
``W_int * w_scale[c]`` with ``w_scale`` a power of two per output channel; the input has scale
``in_scale`` (1 for spikes, 2**-8 for pixels); currents, bias, membrane and threshold of channel
``c`` are in units of ``acc_scale[c] = w_scale[c] * in_scale``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np

from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_path
from spikehls.hls.geometry import conv_out_size  # numpy only: no hls4ml

Reset = Literal["zero", "subtract"]
Encoding = Literal["direct", "rate", "bitplane"]


def _i64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


@dataclass
class Neuron:
    """Integer IF/LIF neuron fused into a spiking layer."""

    threshold: np.ndarray  # int64 [C], each >= 1
    leak_shift: int = 0  # 0: IF (no leak); k >= 1: LIF, V -= V >> k
    reset: Reset = "zero"
    v_bits: int = 16

    def __post_init__(self):
        self.threshold = _i64(self.threshold)


@dataclass
class Skip:
    """Residual input of a spiking conv: spikes of an earlier layer added to the current.

    ``weight is None``: identity shortcut, each skip spike adds ``gain[c]`` (same channel count
    and spatial size after ``stride``). Otherwise a 1x1 conv ``weight [C, Cs]`` (integers in the
    receiving layer's ``acc_scale``) with ``stride``. Both are accumulate-only.
    """

    source: str  # name of an earlier layer, or "input"
    gain: Optional[np.ndarray] = None  # int64 [C] for identity
    weight: Optional[np.ndarray] = None  # int64 [C, Cs]
    stride: int = 1
    w_bits: int = 8

    def __post_init__(self):
        if self.gain is not None:
            self.gain = _i64(self.gain)
        if self.weight is not None:
            self.weight = _i64(self.weight)


@dataclass
class SpikingConv2d:
    name: str
    weight: np.ndarray  # int64 [Co, Ci, kh, kw]
    bias: np.ndarray  # int64 [Co]
    neuron: Neuron
    stride: int = 1
    padding: int = 0
    w_bits: int = 4
    w_scale: np.ndarray = field(default_factory=lambda: np.ones(1))  # float [Co], powers of two
    in_scale: float = 1.0
    skip: Optional[Skip] = None
    residual: Optional[str] = None  # an earlier SpikingConv2d whose stream z_t is added to this layer's z
    current_sign: Optional[np.ndarray] = None  # int64 [Co] in {-1, 0, +1}: I = bias + sign * z; None: all +1
    kind: str = "conv"

    def __post_init__(self):
        self.weight, self.bias = _i64(self.weight), _i64(self.bias)
        self.w_scale = np.broadcast_to(np.asarray(self.w_scale, dtype=np.float64), (self.weight.shape[0],)).copy()
        if self.current_sign is not None:
            self.current_sign = _i64(self.current_sign)

    @property
    def acc_scale(self) -> np.ndarray:
        """Float value of one integer unit of channel c's current, stream, bias and membrane."""
        return self.w_scale * self.in_scale

    @property
    def signs(self) -> np.ndarray:
        """``current_sign`` with None spelled out as all +1 (int64 [Co])."""
        if self.current_sign is None:
            return np.ones(self.weight.shape[0], dtype=np.int64)
        return self.current_sign


@dataclass
class SpikingDense:
    name: str
    weight: np.ndarray  # int64 [Co, Ci]
    bias: np.ndarray  # int64 [Co]
    neuron: Neuron
    w_bits: int = 4
    w_scale: np.ndarray = field(default_factory=lambda: np.ones(1))
    in_scale: float = 1.0
    kind: str = "dense"

    def __post_init__(self):
        self.weight, self.bias = _i64(self.weight), _i64(self.bias)
        self.w_scale = np.broadcast_to(np.asarray(self.w_scale, dtype=np.float64), (self.weight.shape[0],)).copy()


@dataclass
class MaxPool2d:
    name: str
    kernel: int = 2
    stride: int = 2
    kind: str = "maxpool"


@dataclass
class Readout:
    name: str
    weight: np.ndarray  # int64 [K, Ci]
    bias: np.ndarray  # int64 [K]
    w_bits: int = 4
    w_scale: np.ndarray = field(default_factory=lambda: np.ones(1))
    in_scale: float = 1.0
    kind: str = "readout"

    def __post_init__(self):
        self.weight, self.bias = _i64(self.weight), _i64(self.bias)
        self.w_scale = np.broadcast_to(np.asarray(self.w_scale, dtype=np.float64), (self.weight.shape[0],)).copy()


Layer = Union[SpikingConv2d, SpikingDense, MaxPool2d, Readout]
_KINDS = {"conv": SpikingConv2d, "dense": SpikingDense, "maxpool": MaxPool2d, "readout": Readout}


@dataclass
class IntNet:
    input_shape: tuple[int, int, int]  # (C, H, W) of one time step, after encoding
    time_steps: int
    encoding: Encoding
    layers: list[Layer]

    @property
    def input_bits(self) -> int:
        return 8 if self.encoding == "direct" else 1

    @property
    def input_scale(self) -> float:
        from spikehls.training.encoding import input_scale

        return input_scale(self.encoding)

    @property
    def num_classes(self) -> int:
        return int(self.layers[-1].weight.shape[0])

    def layer(self, name: str) -> Layer:
        for lyr in self.layers:
            if lyr.name == name:
                return lyr
        raise KeyError(name)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Output shape (per time step) of every layer, keyed by name (plus "input")."""
        out: dict[str, tuple[int, ...]] = {"input": tuple(self.input_shape)}
        cur: tuple[int, ...] = tuple(self.input_shape)
        for lyr in self.layers:
            if isinstance(lyr, SpikingConv2d):
                co, ci, kh, kw = lyr.weight.shape
                if len(cur) != 3 or cur[0] != ci:
                    raise SpikehlsError(f"layer {lyr.name}: expects {ci} input channels, gets shape {cur}")
                cur = (co, conv_out_size(cur[1], kh, lyr.stride, lyr.padding), conv_out_size(cur[2], kw, lyr.stride, lyr.padding))
            elif isinstance(lyr, MaxPool2d):
                cur = (cur[0], conv_out_size(cur[1], lyr.kernel, lyr.stride, 0), conv_out_size(cur[2], lyr.kernel, lyr.stride, 0))
            elif isinstance(lyr, (SpikingDense, Readout)):
                n_in = int(np.prod(cur))
                if lyr.weight.shape[1] != n_in:
                    raise SpikehlsError(f"layer {lyr.name}: expects {lyr.weight.shape[1]} inputs, gets {n_in}")
                cur = (lyr.weight.shape[0],)
            out[lyr.name] = cur
        return out

    def stream_sources(self) -> set[str]:
        """Names of the layers whose stream z_t some later layer adds (``residual``)."""
        return {lyr.residual for lyr in self.layers if getattr(lyr, "residual", None) is not None}

    def validate(self) -> None:
        """Check shapes, bit ranges and layer order; raise SpikehlsError naming the layer."""
        if not self.layers or not isinstance(self.layers[-1], Readout):
            raise SpikehlsError("integer network must end with a Readout layer")
        names = [lyr.name for lyr in self.layers]
        if len(set(names)) != len(names):
            raise SpikehlsError("integer network has duplicate layer names")
        shapes = self.shapes()
        for i, lyr in enumerate(self.layers):
            if isinstance(lyr, Readout) and i != len(self.layers) - 1:
                raise SpikehlsError(f"layer {lyr.name}: a Readout must be the last layer")
            if hasattr(lyr, "weight"):
                lo, hi = -(2 ** (lyr.w_bits - 1)), 2 ** (lyr.w_bits - 1) - 1
                if lyr.weight.size and (lyr.weight.min() < lo or lyr.weight.max() > hi):
                    raise SpikehlsError(f"layer {lyr.name}: weights exceed {lyr.w_bits}-bit range [{lo}, {hi}]")
            neuron = getattr(lyr, "neuron", None)
            if neuron is not None:
                if (neuron.threshold < 1).any():
                    raise SpikehlsError(f"layer {lyr.name}: thresholds must be >= 1")
                if neuron.threshold.max() > 2 ** (neuron.v_bits - 1) - 1:
                    raise SpikehlsError(f"layer {lyr.name}: threshold exceeds v_bits={neuron.v_bits}")
            skip = getattr(lyr, "skip", None)
            if skip is not None:
                if skip.source != "input" and skip.source not in names[:i]:
                    raise SpikehlsError(f"layer {lyr.name}: skip source '{skip.source}' is not an earlier layer")
                src = shapes[skip.source]
                dst = shapes[lyr.name]
                if skip.weight is None:
                    if src[0] != dst[0]:
                        raise SpikehlsError(f"layer {lyr.name}: identity skip from {skip.source} has {src[0]} channels, needs {dst[0]}")
                elif skip.weight.shape != (dst[0], src[0]):
                    raise SpikehlsError(f"layer {lyr.name}: skip weight shape {skip.weight.shape} != {(dst[0], src[0])}")
                else:
                    lo, hi = -(2 ** (skip.w_bits - 1)), 2 ** (skip.w_bits - 1) - 1
                    if skip.weight.size and (skip.weight.min() < lo or skip.weight.max() > hi):
                        raise SpikehlsError(f"layer {lyr.name}: skip weights exceed {skip.w_bits}-bit range [{lo}, {hi}]")
                if (conv_out_size(src[1], 1, skip.stride, 0), conv_out_size(src[2], 1, skip.stride, 0)) != dst[1:]:
                    raise SpikehlsError(f"layer {lyr.name}: skip from {skip.source} has spatial size {src[1:]} (stride {skip.stride}), needs {dst[1:]}")
            if isinstance(lyr, SpikingConv2d):
                self._validate_stream(lyr, names[:i], shapes)

    def _validate_stream(self, lyr: SpikingConv2d, earlier: list[str], shapes: dict[str, tuple[int, ...]]) -> None:
        """``current_sign`` in {-1, 0, +1}; ``residual`` an earlier conv of the same shape and scale."""
        co = lyr.weight.shape[0]
        sign = lyr.current_sign
        if sign is not None:
            if sign.shape != (co,):
                raise SpikehlsError(f"layer {lyr.name}: current_sign has shape {sign.shape}, needs ({co},)")
            if not np.isin(sign, (-1, 0, 1)).all():
                raise SpikehlsError(f"layer {lyr.name}: current_sign values must be -1, 0 or +1, got {sorted(set(sign.tolist()))}")
        if lyr.residual is None:
            return
        src_name = lyr.residual
        if src_name not in earlier:
            raise SpikehlsError(f"layer {lyr.name}: residual '{src_name}' is not an earlier layer")
        src = self.layer(src_name)
        if not isinstance(src, SpikingConv2d):
            raise SpikehlsError(f"layer {lyr.name}: residual '{src_name}' is a {src.kind} layer, allowed: a conv layer")
        if shapes[src_name] != shapes[lyr.name]:
            raise SpikehlsError(f"layer {lyr.name}: residual '{src_name}' has output {shapes[src_name]}, needs {shapes[lyr.name]}")
        if not np.array_equal(src.acc_scale, lyr.acc_scale):
            raise SpikehlsError(
                f"layer {lyr.name}: residual '{src_name}' has acc_scale {src.acc_scale.tolist()}, needs the same as "
                f"{lyr.name} ({lyr.acc_scale.tolist()})"
            )

    # ---- persistence: one JSON header + one .npz of arrays -------------------------------------
    def save(self, path: str | Path) -> None:
        """Write ``path`` (an .npz holding arrays and a JSON description), atomically."""
        arrays: dict[str, np.ndarray] = {}
        layers = []
        for i, lyr in enumerate(self.layers):
            d = {}
            for k, v in asdict(lyr).items():
                if isinstance(v, np.ndarray):
                    arrays[f"{i}.{k}"] = v
                    d[k] = f"@{i}.{k}"
                elif isinstance(v, dict):  # neuron / skip
                    sub = {}
                    for kk, vv in v.items():
                        if isinstance(vv, np.ndarray):
                            arrays[f"{i}.{k}.{kk}"] = vv
                            sub[kk] = f"@{i}.{k}.{kk}"
                        else:
                            sub[kk] = vv
                    d[k] = sub
                else:
                    d[k] = v
            layers.append(d)
        header = {
            "format": "spikehls.intnet/1",
            "input_shape": list(self.input_shape),
            "time_steps": self.time_steps,
            "encoding": self.encoding,
            "layers": layers,
        }
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, __header__=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "IntNet":
        path = Path(path)
        if not path.is_file():
            raise SpikehlsError(f"{path}: integer network file not found")
        from spikehls.fileio import read_npz, reading

        arrays = read_npz(path, "integer network (intnet.npz)", keys=("__header__",))
        with reading(path, "integer network (intnet.npz) header"):
            header = json.loads(str(arrays.pop("__header__")))
            if not isinstance(header, dict) or not isinstance(header.get("layers"), list):
                raise ValueError("no layer list")

        def res(v):
            return arrays[v[1:]] if isinstance(v, str) and v.startswith("@") else v

        layers: list[Layer] = []
        with reading(path, "integer network (intnet.npz)"):
            for d in header["layers"]:
                kw = {}
                for k, v in d.items():
                    if isinstance(v, dict):
                        sub = {kk: res(vv) for kk, vv in v.items()}
                        kw[k] = Neuron(**sub) if k == "neuron" else Skip(**sub)
                    else:
                        kw[k] = res(v)
                layers.append(_KINDS[d["kind"]](**kw))
            return cls(tuple(header["input_shape"]), header["time_steps"], header["encoding"], layers)
