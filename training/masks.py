"""Channel masks: which output channels of which conv layers survive pruning.

Two objects, one concept:

* :class:`Masks` is plain data (NumPy), saved as ``masks.json`` next to the checkpoint: for every
  prune *group* its member conv layers and one bool per channel. The slimming/export stage reads
  it to remove channels physically; the co-design loop reads the per-layer counts.
* :class:`PruneGroup` binds a group to the live PyTorch modules: the convs whose output channels
  it masks, the BatchNorms whose gamma/beta it zeroes (and whose gamma-gradients rank regrowth),
  and the neurons whose SCA scores it averages. Channels tied by a residual addition are one
  group, so one mask bit removes the channel from every member at once.

Counting convention: ``total()``/``kept()`` count *group* channels (the M of the SCA ranking: a
channel shared by three tied convs counts once); ``layer_counts()`` gives per-conv-layer numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch
from torch import nn

from spikehls.errors import SpikehlsError
from spikehls.fileio import write_json

MASKS_FORMAT = "spikehls.masks/1"


@dataclass
class GroupMask:
    """One prune group: member conv layer names and the surviving channels."""

    members: list[str]
    keep: np.ndarray  # bool [C]

    def __post_init__(self):
        self.keep = np.asarray(self.keep, dtype=bool)


class Masks:
    """Group name -> :class:`GroupMask`. Ordered as the model lists its groups."""

    def __init__(self, groups: Optional[dict[str, GroupMask]] = None):
        self.groups: dict[str, GroupMask] = dict(groups or {})

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def full(cls, prune_groups: Iterable["PruneGroup"]) -> "Masks":
        """All channels kept (the dense starting point)."""
        return cls({g.name: GroupMask(g.member_names, np.ones(g.size, dtype=bool)) for g in prune_groups})

    def copy(self) -> "Masks":
        return Masks({k: GroupMask(list(g.members), g.keep.copy()) for k, g in self.groups.items()})

    # ---- queries -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        return self.groups[name].keep

    def __contains__(self, name: str) -> bool:
        return name in self.groups

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Masks) or list(self.groups) != list(other.groups):
            return False
        return all(
            self.groups[k].members == other.groups[k].members and np.array_equal(self.groups[k].keep, other.groups[k].keep)
            for k in self.groups
        )

    def total(self) -> int:
        """Number of prunable channels M (tied channels counted once)."""
        return int(sum(g.keep.size for g in self.groups.values()))

    def kept(self) -> int:
        """Number of surviving channels (tied channels counted once)."""
        return int(sum(g.keep.sum() for g in self.groups.values()))

    def group_of(self, layer: str) -> str:
        """The group a conv layer (or group name) belongs to."""
        if layer in self.groups:
            return layer
        for name, g in self.groups.items():
            if layer in g.members:
                return name
        raise KeyError(layer)

    def layer_keep(self, layer: str) -> np.ndarray:
        """Bool mask of the output channels of one conv layer."""
        return self.groups[self.group_of(layer)].keep

    def layer_counts(self) -> dict[str, dict[str, int]]:
        """``{conv layer: {"kept": k, "total": n}}`` for every member conv layer."""
        out: dict[str, dict[str, int]] = {}
        for g in self.groups.values():
            for m in g.members:
                out[m] = {"kept": int(g.keep.sum()), "total": int(g.keep.size)}
        return out

    # ---- persistence ---------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format": MASKS_FORMAT,
            "channels_total": self.total(),
            "channels_kept": self.kept(),
            "groups": [
                {"name": k, "members": g.members, "kept": int(g.keep.sum()), "keep": g.keep.astype(int).tolist()}
                for k, g in self.groups.items()
            ],
        }

    @classmethod
    def from_json(cls, data: dict, source: str = "<masks>") -> "Masks":
        if not isinstance(data, dict) or data.get("format") != MASKS_FORMAT:
            raise SpikehlsError(f"{source}: not a spikehls masks file (format must be {MASKS_FORMAT})")
        try:
            return cls({g["name"]: GroupMask(list(g["members"]), np.asarray(g["keep"], dtype=bool)) for g in data["groups"]})
        except (KeyError, TypeError) as err:
            raise SpikehlsError(f"{source}: malformed masks file ({err})") from None

    def save(self, path: str | Path) -> None:
        """Write ``masks.json`` atomically."""
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "Masks":
        from spikehls.fileio import read_json, reading

        p = Path(path)
        data = read_json(p, "masks file")
        with reading(p, "masks file"):
            return cls.from_json(data, str(p))


@dataclass
class PruneGroup:
    """Channels of several layers that live or die together (see module docstring)."""

    name: str
    convs: list[tuple[str, nn.Conv2d]]
    bns: list[tuple[str, nn.Module]]
    neurons: list[tuple[str, nn.Module]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return int(self.convs[0][1].out_channels)

    @property
    def member_names(self) -> list[str]:
        return [n for n, _ in self.convs]

    def score(self) -> Optional[torch.Tensor]:
        """SCA score of the last forward: mean over member neurons of their channel scores."""
        scores = [n.last_score for _, n in self.neurons if n.last_score is not None]
        if not scores:
            return None
        return torch.stack(scores).mean(dim=0)

    def gamma_grad(self) -> torch.Tensor:
        """Sum over member BatchNorms of |dL/d gamma| (zeros where no gradient exists)."""
        dev = self.convs[0][1].weight.device
        g = torch.zeros(self.size, dtype=torch.float64, device=dev)
        for _, bn in self.bns:
            if bn.weight.grad is not None:
                g += bn.weight.grad.detach().abs().double()
        return g

    @torch.no_grad()
    def apply(self, keep: torch.Tensor | np.ndarray) -> None:
        """Zero the conv filters and BN gamma/beta of every dropped channel in every member."""
        keep_t = torch.as_tensor(np.asarray(keep, dtype=bool) if not torch.is_tensor(keep) else keep)
        drop = (~keep_t.bool()).to(self.convs[0][1].weight.device)
        if not drop.any():
            return
        for _, conv in self.convs:
            conv.weight[drop] = 0.0
            if conv.bias is not None:
                conv.bias[drop] = 0.0
        for _, bn in self.bns:
            bn.weight[drop] = 0.0
            bn.bias[drop] = 0.0


def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Apply ``masks`` to a model built by :func:`spikehls.training.models.build_model`."""
    for g in model.prunable_groups():
        if g.name not in masks:
            raise SpikehlsError(f"masks have no group '{g.name}' (groups: {', '.join(masks.groups)})")
        keep = masks[g.name]
        if keep.size != g.size:
            raise SpikehlsError(f"masks: group '{g.name}' has {keep.size} channels, model has {g.size}")
        g.apply(keep)
