"""A spiking CNN described layer by layer (``model.arch: graph``): what ``spikehls import --nir`` builds.

The VGG presets fix the kernel, stride and padding of every conv, one neuron for the whole net and
2x2 max pools; a network brought in from another framework (through NIR, docs/nir.md) has its own
per-layer geometry, leak and per-channel thresholds. ``model.graph`` is a list of layers::

    - {kind: conv, out: 16, kernel: 3, stride: 1, padding: 1, leak_shift: 0, pool: [2, 2]}
    - {kind: dense, out: 32, leak_shift: 3}
    - {kind: readout, out: 10}

* ``conv``: Conv2d (square kernel, stride and zero padding, no bias) -> per-channel affine
  (:class:`FrozenBatchNorm2d`: BatchNorm that always uses its stored statistics, so an imported
  network keeps computing what it computed while SCA fine-tunes it; its bias is the layer bias,
  its gamma the channel's gain, which SCA's regrowth reads) -> neuron (IF when ``leak_shift`` is 0,
  else LIF with leak ``2**-leak_shift``; one threshold per output channel, a buffer set from the
  checkpoint) -> optional max pool ``[kernel, stride]`` on spikes (OR).
* ``dense``: Linear on the flattened (C, H, W) input -> per-channel affine -> neuron.
* ``readout``: the last entry, a non-spiking Linear (with bias) summed over T.

``reset`` (zero or subtract, default zero) may be given per layer too. The module names are
those of :class:`~spikehls.training.models.VGG` (``features.i.conv``, ``hidden.i.fc``, ``readout``),
and :class:`GraphSNN` is a VGG subclass, so masks, SCA, the export's lowering, slimming and BN
folding work on it unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikehls.errors import SpikehlsError
from spikehls.hls.geometry import conv_out_size
from spikehls.training.models import VGG, ConvBlock, DenseBlock
from spikehls.training.neurons import SpikingNeuron

_KEYS = {
    "conv": {"kind", "out", "kernel", "stride", "padding", "leak_shift", "reset", "pool"},
    "dense": {"kind", "out", "leak_shift", "reset"},
    "readout": {"kind", "out"},
}


class _Frozen:
    """BatchNorm forward with the stored statistics in train mode too (a per-channel affine)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


class FrozenBatchNorm2d(_Frozen, nn.BatchNorm2d):
    pass


class FrozenBatchNorm1d(_Frozen, nn.BatchNorm1d):
    pass


def _int(entry: dict, key: str, where: str, default=None, lo: int = 0) -> int:
    v = entry.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise SpikehlsError(f"{where}.{key}: must be an integer >= {lo} (got {v!r})")
    return v


def check_graph(spec: Any) -> list[dict]:
    """Validate ``model.graph``; return it with defaults filled in. Errors name the entry and field."""
    if not isinstance(spec, list) or not spec:
        raise SpikehlsError("model.graph: must be a non-empty list of layers (arch 'graph')")
    out = []
    for i, e in enumerate(spec):
        where = f"model.graph[{i}]"
        if not isinstance(e, dict) or e.get("kind") not in _KEYS:
            raise SpikehlsError(f"{where}.kind: must be conv, dense or readout (got {e.get('kind') if isinstance(e, dict) else e!r})")
        extra = set(e) - _KEYS[e["kind"]]
        if extra:
            raise SpikehlsError(f"{where}.{sorted(extra)[0]}: unknown field for a {e['kind']} layer")
        d = {"kind": e["kind"], "out": _int(e, "out", where, lo=1)}
        if e["kind"] == "conv":
            d["kernel"] = _int(e, "kernel", where, 3, 1)
            d["stride"] = _int(e, "stride", where, 1, 1)
            d["padding"] = _int(e, "padding", where, d["kernel"] // 2, 0)
            pool = e.get("pool")
            if pool is not None:
                if (not isinstance(pool, (list, tuple)) or len(pool) != 2
                        or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in pool)):
                    raise SpikehlsError(f"{where}.pool: must be [kernel, stride] (positive integers) or null (got {pool!r})")
                pool = [int(pool[0]), int(pool[1])]
            d["pool"] = pool
        if e["kind"] != "readout":
            d["leak_shift"] = _int(e, "leak_shift", where, 0, 0)
            if d["leak_shift"] > 15:
                raise SpikehlsError(f"{where}.leak_shift: must be in 0..15 (got {d['leak_shift']})")
            d["reset"] = e.get("reset", "zero")
            if d["reset"] not in ("zero", "subtract"):
                raise SpikehlsError(f"{where}.reset: must be zero or subtract (got {d['reset']!r})")
        if e["kind"] == "readout" and i != len(spec) - 1:
            raise SpikehlsError(f"{where}: the readout must be the last layer")
        if e["kind"] == "conv" and any(x["kind"] != "conv" for x in out):
            raise SpikehlsError(f"{where}: conv layers must come before dense layers")
        out.append(d)
    if out[0]["kind"] != "conv":
        raise SpikehlsError("model.graph[0]: the first layer must be a conv (spiking CNNs; a dense-only net has no "
                            "convolutional front end to export)")
    if out[-1]["kind"] != "readout":
        raise SpikehlsError(f"model.graph[{len(out) - 1}]: the last layer must be the readout")
    return out


class GraphConvBlock(ConvBlock):
    """conv (any square kernel/stride/padding) -> frozen affine -> neuron (-> max pool k, s)."""

    def __init__(self, cin: int, e: dict, ncfg):
        nn.Module.__init__(self)
        self.conv = nn.Conv2d(cin, e["out"], e["kernel"], stride=e["stride"], padding=e["padding"], bias=False)
        self.bn = FrozenBatchNorm2d(e["out"], eps=0.0)  # running_var 1: an exact identity until set
        self.neuron = _neuron(e, ncfg)
        self.pool = nn.MaxPool2d(e["pool"][0], e["pool"][1]) if e["pool"] else None


class GraphDenseBlock(DenseBlock):
    def __init__(self, fin: int, e: dict, ncfg):
        nn.Module.__init__(self)
        self.fc = nn.Linear(fin, e["out"], bias=False)
        self.bn = FrozenBatchNorm1d(e["out"], eps=0.0)
        self.neuron = _neuron(e, ncfg)


def _neuron(e: dict, ncfg) -> SpikingNeuron:
    n = SpikingNeuron(threshold=ncfg.threshold, leak_shift=e["leak_shift"], reset=e["reset"],
                      surrogate=ncfg.surrogate, alpha=ncfg.alpha, detach_reset=ncfg.detach_reset)
    n.threshold = torch.full((e["out"],), float(ncfg.threshold))  # one threshold per channel (checkpoint sets them)
    return n


class GraphSNN(VGG):
    """Spiking CNN from a ``model.graph`` layer list (see the module docstring)."""

    def __init__(self, spec: list[dict], in_channels: int, image_hw: tuple[int, int], num_classes: int, ncfg):
        nn.Module.__init__(self)
        spec = check_graph(spec)
        c, (h, w) = in_channels, image_hw
        blocks, hidden = [], []
        feats = None
        for i, e in enumerate(spec):
            if e["kind"] == "conv":
                blocks.append(GraphConvBlock(c, e, ncfg))
                c = e["out"]
                h, w = (conv_out_size(h, e["kernel"], e["stride"], e["padding"]),
                        conv_out_size(w, e["kernel"], e["stride"], e["padding"]))
                if e["pool"]:
                    h, w = conv_out_size(h, e["pool"][0], e["pool"][1], 0), conv_out_size(w, e["pool"][0], e["pool"][1], 0)
                if h < 1 or w < 1:
                    raise SpikehlsError(f"model.graph[{i}]: the feature map shrinks to {h}x{w} for a {image_hw} input")
            else:
                if feats is None:
                    feats = c * h * w
                if e["kind"] == "dense":
                    hidden.append(GraphDenseBlock(feats, e, ncfg))
                    feats = e["out"]
                else:
                    if e["out"] != num_classes:
                        raise SpikehlsError(f"model.graph[{i}].out: the readout has {e['out']} outputs, the dataset "
                                            f"{num_classes} classes")
                    self.readout = nn.Linear(feats, e["out"], bias=True)
        self.features = nn.Sequential(*blocks)
        self.hidden = nn.Sequential(*hidden)
        self.input_layer = "features.0.conv" if blocks else "hidden.0.fc"
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded input ``[T, N, C, H, W]`` -> logits ``[N, K]`` (readout mean over T)."""
        return self._head(self.features(x))
