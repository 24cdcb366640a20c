"""Spiking CNNs built from the config: VGG, ResNet (post-activation) and PreResNet.

Every tensor between blocks is ``[T, N, C, H, W]`` (time first). Convolutions and BatchNorms run
on the merged ``T*N`` batch (one big call instead of T small ones); only the neurons loop over T.

Module structure (the quantize stage folds BN, quantizes and extracts the integer IR from these
names and classes; keep them stable):

* :class:`ConvBlock` ``conv`` (nn.Conv2d, bias=False, k x k, padding k//2, stride s) -> ``bn``
  (BatchNorm2d) -> ``neuron`` (:class:`~spikehls.training.neurons.SpikingNeuron`) -> optional
  ``pool`` (nn.MaxPool2d(2) on spikes = OR).
* :class:`DenseBlock` ``fc`` (nn.Linear, bias=False) -> ``bn`` (BatchNorm1d) -> ``neuron``.
* Readout ``readout``: nn.Linear(bias=True), non-spiking, applied to the spikes of every step
  (flattened in C, H, W order). The integer model sums it over T; ``forward`` returns the mean
  over T (same argmax; better-scaled logits for the loss). No average pooling anywhere: the
  integer contract is accumulate-only.
* :class:`VGG`: ``features`` (nn.Sequential of ConvBlocks; an "M" in the layer list sets the
  preceding block's ``pool``) -> flatten -> ``hidden`` (nn.Sequential of DenseBlocks) -> ``readout``.
* :class:`ResNet` (post-activation): ``stem`` ConvBlock -> ``stages`` (nn.ModuleList of
  nn.Sequential of :class:`BasicBlock`) -> ``pools`` (nn.ModuleList of MaxPool2d(2), applied until
  H, W <= 4) -> flatten -> ``hidden`` -> ``readout``. BasicBlock: ``conv1``-``bn1``-``neuron1`` ->
  ``conv2``-``bn2``; current ``I = bn2(conv2(s1)) + shortcut`` -> ``neuron2``. The shortcut is the
  block's input *spikes* (identity, ``shortcut is None``) or, when the shape changes,
  ``shortcut`` = nn.Sequential(1x1 conv stride s bias=False, BatchNorm2d) on those spikes.
* :class:`PreResNet` (pre-activation; exported through the residual stream, docs/qonnx_format.md): ``stem`` nn.Conv2d ->
  blocks ``bn1``-``neuron1``-``conv1``-``bn2``-``neuron2``-``conv2`` (+ residual stream: identity,
  or ``shortcut`` 1x1 conv on ``neuron1``'s spikes) -> final ``bn``-``neuron`` -> pools -> readout.

``model.prunable_groups()`` lists every conv's output channels as :class:`PruneGroup` s (the first
conv included, dense and readout excluded); channels tied by a residual addition form one group.
``model.input_layer`` names the conv that sees the encoded input (a MAC layer under direct
encoding); ``model.model_args`` holds what :func:`build_model` needs to rebuild it.
"""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import nn

from spikehls.config import Config, ModelConfig
from spikehls.errors import SpikehlsError
from spikehls.training.masks import PruneGroup
from spikehls.training.neurons import SpikingNeuron

LayerSpec = list[Union[int, str]]

#: preset -> architecture and sizes; explicit cfg.model fields override these
PRESETS: dict[str, dict] = {
    "digits": {"arch": "vgg", "layers": [16, 32, "M", 32, "M"]},
    "mnist": {"arch": "vgg", "layers": [16, "M", 32, "M"]},
    "vgg11": {"arch": "vgg", "layers": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]},
    "vgg16": {
        "arch": "vgg",
        "layers": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    },
    "resnet19": {"arch": "resnet", "stem": 128, "stages": [(128, 3, 1), (256, 3, 2), (512, 2, 2)]},
    "resnet_small": {"arch": "resnet", "stem": 16, "stages": [(16, 1, 1), (32, 1, 2)]},
    "preresnet_small": {"arch": "preresnet", "stem": 16, "stages": [(16, 1, 1), (32, 1, 2)]},
}


def resolve_model_config(mcfg: ModelConfig) -> ModelConfig:
    """Fill a model config from its preset; explicit fields win; check preset vs arch.

    The result has ``arch`` equal to the preset's and the sizes written out, so a saved run
    config rebuilds the same network even if presets change later.
    """
    given = mcfg.model_fields_set
    data = mcfg.model_dump()
    if mcfg.preset is not None:
        pre = PRESETS[mcfg.preset]
        if "arch" in given and mcfg.arch != pre["arch"]:
            raise SpikehlsError(
                f"model.arch '{mcfg.arch}' conflicts with model.preset '{mcfg.preset}' (a {pre['arch']} preset); "
                "drop one of them"
            )
        data["arch"] = pre["arch"]
        for key in ("layers", "stem", "stages"):
            if data.get(key) is None and key in pre:
                data[key] = pre[key]
    arch = data["arch"]
    if arch == "graph" or data.get("graph") is not None:
        if arch != "graph":
            raise SpikehlsError(f"model.graph applies to arch 'graph' only, not {arch} (set model.arch: graph, model.preset: null)")
        from spikehls.training.graph_model import check_graph

        data["graph"] = check_graph(data.get("graph"))
        return ModelConfig.model_validate(data)
    if arch == "vgg":
        if data.get("layers") is None:
            raise SpikehlsError("model.layers is required for arch 'vgg' when model.preset is not set")
        if data.get("stages") is not None and "stages" in given and mcfg.preset is None:
            raise SpikehlsError("model.stages applies to arch resnet/preresnet only, not vgg")
    else:
        if data.get("stem") is None or not data.get("stages"):
            raise SpikehlsError(f"model.stem and model.stages are required for arch '{arch}' when model.preset is not set")
        for st in data["stages"]:
            if min(st) < 1:
                raise SpikehlsError(f"model.stages: (width, blocks, stride) must all be >= 1 (got {tuple(st)})")
    return ModelConfig.model_validate(data)


def _merge(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(0, 1)


def _split(y: torch.Tensor, t: int) -> torch.Tensor:
    return y.view(t, -1, *y.shape[1:])


class ConvBlock(nn.Module):
    """conv -> bn -> neuron (-> 2x2 max pool on spikes)."""

    def __init__(self, cin: int, cout: int, neuron: SpikingNeuron, kernel: int = 3, stride: int = 1, pool: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.neuron = neuron
        self.pool: Optional[nn.MaxPool2d] = nn.MaxPool2d(2) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        s = self.neuron(_split(self.bn(self.conv(_merge(x))), t))
        if self.pool is not None:
            s = _split(self.pool(_merge(s)), t)
        return s


class DenseBlock(nn.Module):
    """fc -> bn -> neuron on ``[T, N, F]``."""

    def __init__(self, fin: int, fout: int, neuron: SpikingNeuron):
        super().__init__()
        self.fc = nn.Linear(fin, fout, bias=False)
        self.bn = nn.BatchNorm1d(fout)
        self.neuron = neuron

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        return self.neuron(_split(self.bn(self.fc(_merge(x))), t))


class _SNN(nn.Module):
    """Shared tail: flatten -> hidden dense blocks -> readout averaged over T."""

    input_layer: str
    model_args: dict

    def _make_head(self, features: int, hidden: list[int], num_classes: int, ncfg) -> None:
        blocks = []
        for h in hidden:
            blocks.append(DenseBlock(features, h, SpikingNeuron.from_config(ncfg)))
            features = h
        self.hidden = nn.Sequential(*blocks)
        self.readout = nn.Linear(features, num_classes, bias=True)

    def _head(self, s: torch.Tensor) -> torch.Tensor:
        s = self.hidden(s.flatten(2))
        return self.readout(s).mean(dim=0)

    def spiking_neurons(self) -> list[tuple[str, SpikingNeuron]]:
        """(name, neuron) of every spiking layer, in forward order."""
        return [(n, m) for n, m in self.named_modules() if isinstance(m, SpikingNeuron)]

    def prunable_groups(self) -> list[PruneGroup]:  # pragma: no cover - abstract
        raise NotImplementedError


def _pools_until_small(h: int, w: int) -> tuple[nn.ModuleList, int, int]:
    """2x2 max pools (OR on spikes) until the map is at most 4x4: residual nets end without
    average pooling, which the integer contract cannot express accumulate-only."""
    pools = []
    while h > 4 or w > 4:
        pools.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    _check_hw(h, w, "model.stages")
    return nn.ModuleList(pools), h, w


def _check_hw(h: int, w: int, what: str) -> None:
    if h < 1 or w < 1:
        raise SpikehlsError(f"{what}: the feature map shrinks to {h}x{w}; use fewer pools/strides for this input size")


class VGG(_SNN):
    """Plain spiking CNN: ConvBlocks (with OR-pools) -> hidden dense -> readout."""

    def __init__(self, layers: LayerSpec, in_channels: int, image_hw: tuple[int, int], num_classes: int,
                 ncfg, kernel: int = 3, hidden: Optional[list[int]] = None):
        super().__init__()
        blocks: list[ConvBlock] = []
        c, (h, w) = in_channels, image_hw
        for i, item in enumerate(layers):
            if item == "M":
                if not blocks or blocks[-1].pool is not None:
                    raise SpikehlsError(f"model.layers[{i}]: 'M' must follow a conv width (got {layers})")
                blocks[-1].pool = nn.MaxPool2d(2)
                h, w = h // 2, w // 2
                _check_hw(h, w, "model.layers")
            else:
                blocks.append(ConvBlock(c, int(item), SpikingNeuron.from_config(ncfg), kernel))
                c = int(item)
        self.features = nn.Sequential(*blocks)
        self._make_head(c * h * w, hidden or [], num_classes, ncfg)
        self.input_layer = "features.0.conv"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded input ``[T, N, C, H, W]`` -> logits ``[N, K]`` (readout mean over T)."""
        return self._head(self.features(x))

    def prunable_groups(self) -> list[PruneGroup]:
        return [
            PruneGroup(f"features.{i}.conv", [(f"features.{i}.conv", b.conv)], [(f"features.{i}.bn", b.bn)],
                       [(f"features.{i}.neuron", b.neuron)])
            for i, b in enumerate(self.features)
        ]


class BasicBlock(nn.Module):
    """Post-activation spiking residual block; the shortcut adds input spikes to the current."""

    def __init__(self, cin: int, cout: int, stride: int, ncfg, kernel: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.neuron1 = SpikingNeuron.from_config(ncfg)
        self.conv2 = nn.Conv2d(cout, cout, kernel, stride=1, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.neuron2 = SpikingNeuron.from_config(ncfg)
        self.shortcut: Optional[nn.Sequential] = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        xm = _merge(x)
        s1 = self.neuron1(_split(self.bn1(self.conv1(xm)), t))
        cur = self.bn2(self.conv2(_merge(s1)))
        cur = cur + (xm if self.shortcut is None else self.shortcut(xm))
        return self.neuron2(_split(cur, t))


class ResNet(_SNN):
    """Spiking ResNet (post-activation): stem -> stages of BasicBlocks -> OR-pools -> readout."""

    def __init__(self, stem: int, stages: list[tuple[int, int, int]], in_channels: int, image_hw: tuple[int, int],
                 num_classes: int, ncfg, kernel: int = 3, hidden: Optional[list[int]] = None):
        super().__init__()
        self.stem = ConvBlock(in_channels, stem, SpikingNeuron.from_config(ncfg), kernel)
        c, (h, w) = stem, image_hw
        stage_mods = []
        for si, (width, blocks, stride) in enumerate(stages):
            seq = []
            for b in range(blocks):
                s = stride if b == 0 else 1
                seq.append(BasicBlock(c, width, s, ncfg, kernel))
                h, w = (h - 1) // s + 1, (w - 1) // s + 1
                c = width
            stage_mods.append(nn.Sequential(*seq))
        self.stages = nn.ModuleList(stage_mods)
        self.pools, h, w = _pools_until_small(h, w)
        self._make_head(c * h * w, hidden or [], num_classes, ncfg)
        self.input_layer = "stem.conv"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        s = self.stem(x)
        for stage in self.stages:
            s = stage(s)
        for p in self.pools:
            s = _split(p(_merge(s)), t)
        return self._head(s)

    def prunable_groups(self) -> list[PruneGroup]:
        groups = []
        cur = PruneGroup("stem.conv", [("stem.conv", self.stem.conv)], [("stem.bn", self.stem.bn)],
                         [("stem.neuron", self.stem.neuron)])
        groups.append(cur)
        for si, stage in enumerate(self.stages):
            for bi, blk in enumerate(stage):
                p = f"stages.{si}.{bi}"
                groups.append(PruneGroup(f"{p}.conv1", [(f"{p}.conv1", blk.conv1)], [(f"{p}.bn1", blk.bn1)],
                                         [(f"{p}.neuron1", blk.neuron1)]))
                if blk.shortcut is None:  # identity: output channel c is tied to input channel c
                    cur.convs.append((f"{p}.conv2", blk.conv2))
                    cur.bns.append((f"{p}.bn2", blk.bn2))
                    cur.neurons.append((f"{p}.neuron2", blk.neuron2))
                else:
                    cur = PruneGroup(f"{p}.conv2", [(f"{p}.conv2", blk.conv2), (f"{p}.shortcut.0", blk.shortcut[0])],
                                     [(f"{p}.bn2", blk.bn2), (f"{p}.shortcut.1", blk.shortcut[1])],
                                     [(f"{p}.neuron2", blk.neuron2)])
                    groups.append(cur)
        return groups


class PreBasicBlock(nn.Module):
    """Pre-activation block on a float residual stream: bn-neuron-conv twice, plus shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, ncfg, kernel: int = 3):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.neuron1 = SpikingNeuron.from_config(ncfg)
        self.conv1 = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.neuron2 = SpikingNeuron.from_config(ncfg)
        self.conv2 = nn.Conv2d(cout, cout, kernel, stride=1, padding=kernel // 2, bias=False)
        self.shortcut: Optional[nn.Conv2d] = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual stream ``[T, N, C, H, W]`` (float currents) -> stream."""
        t = x.shape[0]
        xm = _merge(x)
        s1 = _merge(self.neuron1(_split(self.bn1(xm), t)))
        s2 = _merge(self.neuron2(_split(self.bn2(self.conv1(s1)), t)))
        out = self.conv2(s2) + (xm if self.shortcut is None else self.shortcut(s1))
        return _split(out, t)


class PreResNet(_SNN):
    """Pre-activation spiking ResNet: a float residual stream, read by each block's bn1/neuron1.

    Exported by fusing the BN + neuron that reads the stream into the conv that writes it
    (:func:`spikehls.quantize.floatnet.from_training_model`; ``SpikingConv2d.residual``).
    """

    def __init__(self, stem: int, stages: list[tuple[int, int, int]], in_channels: int, image_hw: tuple[int, int],
                 num_classes: int, ncfg, kernel: int = 3, hidden: Optional[list[int]] = None):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, stem, kernel, padding=kernel // 2, bias=False)
        c, (h, w) = stem, image_hw
        blocks = []
        for width, n, stride in stages:
            for b in range(n):
                s = stride if b == 0 else 1
                blocks.append(PreBasicBlock(c, width, s, ncfg, kernel))
                h, w = (h - 1) // s + 1, (w - 1) // s + 1
                c = width
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c)
        self.neuron = SpikingNeuron.from_config(ncfg)
        self.pools, h, w = _pools_until_small(h, w)
        self._make_head(c * h * w, hidden or [], num_classes, ncfg)
        self.input_layer = "stem"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        z = _split(self.stem(_merge(x)), t)
        z = self.blocks(z)
        s = self.neuron(_split(self.bn(_merge(z)), t))
        for p in self.pools:
            s = _split(p(_merge(s)), t)
        return self._head(s)

    def prunable_groups(self) -> list[PruneGroup]:
        groups = []
        stream = PruneGroup("stem", [("stem", self.stem)], [])
        groups.append(stream)
        for bi, blk in enumerate(self.blocks):
            p = f"blocks.{bi}"
            # bn1/neuron1 read the current residual stream
            stream.bns.append((f"{p}.bn1", blk.bn1))
            stream.neurons.append((f"{p}.neuron1", blk.neuron1))
            groups.append(PruneGroup(f"{p}.conv1", [(f"{p}.conv1", blk.conv1)], [(f"{p}.bn2", blk.bn2)],
                                     [(f"{p}.neuron2", blk.neuron2)]))
            if blk.shortcut is None:
                stream.convs.append((f"{p}.conv2", blk.conv2))
            else:
                stream = PruneGroup(f"{p}.conv2", [(f"{p}.conv2", blk.conv2), (f"{p}.shortcut", blk.shortcut)], [])
                groups.append(stream)
        stream.bns.append(("bn", self.bn))
        stream.neurons.append(("neuron", self.neuron))
        return groups


def build_model(cfg: Config, in_channels: int, image_hw: tuple[int, int], num_classes: int) -> _SNN:
    """Build the spiking CNN the config describes (preset resolved, explicit fields win)."""
    m = resolve_model_config(cfg.model)
    common = dict(in_channels=in_channels, image_hw=tuple(image_hw), num_classes=num_classes, ncfg=cfg.neuron,
                  kernel=m.kernel_size, hidden=list(m.hidden))
    if m.arch == "graph":
        from spikehls.training.graph_model import GraphSNN

        model: _SNN = GraphSNN(m.graph, in_channels, tuple(image_hw), num_classes, cfg.neuron)
    elif m.arch == "vgg":
        model = VGG(list(m.layers), **common)
    elif m.arch == "resnet":
        model = ResNet(m.stem, [tuple(s) for s in m.stages], **common)
    else:
        model = PreResNet(m.stem, [tuple(s) for s in m.stages], **common)
    model.model_args = {"in_channels": int(in_channels), "image_hw": [int(image_hw[0]), int(image_hw[1])],
                        "num_classes": int(num_classes)}
    return model
