"""SCA pruning: spiking-activity-based channel pruning with regrowth (DESIGN.md section 4).

Li et al., "Towards Efficient Deep Spiking Neural Networks Construction with Spiking Activity
based Pruning" (ICML 2024), as their released code does it:

* score: for every training minibatch and every prunable channel ``a = mean_{t,n,h,w}(S + |V|)``
  (V the membrane after reset; computed by the neurons); ``A`` is the running mean of ``a`` since
  the last mask update. Tied channels (one :class:`PruneGroup`) score the mean over members.
* once per epoch, after evaluation (:meth:`SCAPruner.update_masks`): rank all M prunable channels
  of the network together by ``A`` and keep the top ``floor((1-p-q) M)``; among the pruned ones
  regrow the top ``floor(q M)`` by ``|dL/d gamma|`` of their BatchNorm weight (last training
  minibatch; summed over a group's BNs). The kept fraction is thus about ``1 - p``.
* masking (``sca.masking``): conv filter, BN gamma and beta of a dropped channel are set to zero
  ``"epoch"`` (the authors' ``do_masks``): once, at each mask update, and then left to the optimizer:
  momentum and the gradient through beta move them off zero during the next epoch, so a pruned
  channel regains activity and a gamma gradient and competes again at the next update (regrowth
  and revival really happen). ``"step"``: re-applied after every optimizer step (:meth:`after_step`),
  so a pruned channel stays exactly zero (see the facts below: the masks then settle after the
  first update). In both modes evaluation and checkpoints see the *masked* network
  (:meth:`masked`), the one slimming will produce; the authors evaluate before masking, i.e. with
  partly revived channels.
* optional L1 term ``l1 * sign(W)`` added to the gradient of every 3x3 conv weight.

Extensions (the co-design loop sets them between training rounds with :meth:`set_targets`):
``layer_targets[layer]`` = minimum fraction of that group's channels pruned, ``layer_caps[layer]``
= maximum channels kept (a key is a group name or any member conv name). They are enforced first
(as a per-group ceiling on kept channels, both for keeping and for regrowth); the global rule fills
the rest. With none given this is the plain SCA rule.

Facts worth knowing (consequences of exact masking, documented rather than hidden):

* A group never drops to zero channels: if the rules would empty it, its best-scoring channel is
  kept (a zero-width layer cannot be built in hardware). This can keep slightly more than
  ``floor((1-p-q) M) + floor(q M)`` channels when M is tiny or caps are tight.
* In ``step`` mode a channel masked through the whole last minibatch has ``dL/d gamma = 0``
  exactly (its BN input is identically 0), so regrowth in practice chooses among channels that
  were alive in the last epoch and lost the activity ranking; ties (e.g. all zero) are broken by
  the activity score, then by position (group order, channel index) so the result is deterministic.
* In ``step`` mode a channel that comes back after being masked is re-initialised (fresh filter
  drawn like PyTorch's default conv init from the pruner's seeded generator, gamma = 1, beta = 0,
  running stats reset): a zero filter with gamma = 0 is a stationary point gradient descent never
  leaves. In ``epoch`` mode it keeps the values the optimizer gave it since it was zeroed (as the
  authors' code does).
* Churn, recorded per update in :attr:`last_update`: ``pruned`` (kept before, dropped now),
  ``revived`` (dropped before, kept now: regrowth that took), per-layer kept counts.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Optional

import numpy as np
import torch
from torch import nn

from spikehls.errors import SpikehlsError
from spikehls.training.masks import GroupMask, Masks, PruneGroup


def _floor(x: float) -> int:
    """floor() robust to float noise such as (1 - 0.5 - 0.05) * 80 = 35.99999..."""
    return int(math.floor(x + 1e-9))


class SCAPruner:
    """Keeps the scores and masks of one model and applies the SCA rule (see module docstring)."""

    def __init__(self, model: nn.Module, p: float, q: float, l1: float = 0.0,
                 layer_targets: Optional[dict[str, float]] = None, layer_caps: Optional[dict[str, int]] = None,
                 seed: int = 0, score_norm: str = "none", masking: str = "step"):
        if not (0 <= p < 1 and 0 <= q < 1 and p + q < 1):
            raise SpikehlsError(f"sca: need 0 <= p, q and p + q < 1 (got p={p}, q={q})")
        self.model = model
        self.p, self.q, self.l1 = float(p), float(q), float(l1)
        if score_norm not in ("none", "layer"):
            raise SpikehlsError(f"sca.score_norm: unknown '{score_norm}' (allowed: none, layer)")
        self.score_norm = score_norm
        if masking not in ("epoch", "step"):
            raise SpikehlsError(f"sca.masking: unknown '{masking}' (allowed: epoch, step)")
        self.masking = masking
        self.groups: list[PruneGroup] = model.prunable_groups()
        self.masks = Masks.full(self.groups)
        self.layer_targets: dict[str, float] = {}
        self.layer_caps: dict[str, int] = {}
        self.set_targets(layer_targets or {}, layer_caps or {})
        self.generator = torch.Generator().manual_seed(int(seed))
        self._sum = [torch.zeros(g.size, dtype=torch.float64) for g in self.groups]
        self._count = 0
        self._grad = [torch.zeros(g.size, dtype=torch.float64) for g in self.groups]
        self.last_update: dict = {}
        self._l1_params = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
        for g in self.groups:
            for _, n in g.neurons:
                n.record = True

    @classmethod
    def from_config(cls, model: nn.Module, sca_cfg, seed: int = 0) -> "SCAPruner":
        """Build from a :class:`spikehls.config.SCAConfig`."""
        return cls(model, sca_cfg.p, sca_cfg.q, sca_cfg.l1, dict(sca_cfg.layer_targets), dict(sca_cfg.layer_caps), seed,
                   getattr(sca_cfg, "score_norm", "none"), getattr(sca_cfg, "masking", "step"))

    # ---- per-layer constraints -----------------------------------------------------------
    def _group_name(self, key: str, field: str) -> str:
        try:
            return self.masks.group_of(key)
        except KeyError:
            names = sorted({n for g in self.groups for n in [g.name, *g.member_names]})
            raise SpikehlsError(f"sca.{field}: unknown layer '{key}' (prunable layers: {', '.join(names)})") from None

    def set_targets(self, layer_targets: dict[str, float], layer_caps: dict[str, int]) -> None:
        """Set per-layer min pruned fractions and max kept channels (keys: group or conv names)."""
        targets, caps = {}, {}
        for k, v in layer_targets.items():
            if not 0 <= float(v) < 1:
                raise SpikehlsError(f"sca.layer_targets.{k} must be in [0, 1) (got {v})")
            targets[self._group_name(k, "layer_targets")] = float(v)
        for k, v in layer_caps.items():
            if int(v) < 1:
                raise SpikehlsError(f"sca.layer_caps.{k} must be >= 1 (got {v})")
            caps[self._group_name(k, "layer_caps")] = int(v)
        self.layer_targets, self.layer_caps = targets, caps

    def group_limit(self, g: PruneGroup) -> int:
        """Most channels group ``g`` may keep under its target and cap (at least 1)."""
        lim = g.size
        if g.name in self.layer_targets:
            lim = min(lim, _floor((1.0 - self.layer_targets[g.name]) * g.size))
        if g.name in self.layer_caps:
            lim = min(lim, self.layer_caps[g.name])
        return max(lim, 1)

    # ---- training hooks ------------------------------------------------------------------
    @torch.no_grad()
    def after_backward(self) -> None:
        """Call after ``loss.backward()``, before the optimizer step: L1 term, gamma gradients."""
        if self.l1 > 0:
            for w in self._l1_params:
                if w.grad is not None:
                    w.grad.add_(torch.sign(w), alpha=self.l1)
        self._grad = [g.gamma_grad().cpu() for g in self.groups]

    @torch.no_grad()
    def after_step(self) -> None:
        """Call after the optimizer step: re-apply masks (``step`` mode), add this minibatch's scores."""
        if self.masking == "step":
            self.apply()
        for i, g in enumerate(self.groups):
            s = g.score()
            if s is not None:
                self._sum[i] += s.double().cpu()
        self._count += 1

    def apply(self) -> None:
        """Zero every masked channel in the model (filters, gamma, beta)."""
        for g in self.groups:
            g.apply(self.masks[g.name])

    @contextmanager
    def masked(self):
        """The model with every masked channel zeroed for the ``with`` body, then restored.

        In ``epoch`` mode the pruned channels drift off zero between updates; evaluation and the
        checkpoint must see what slimming will build, so this zeroes them and afterwards puts the
        optimizer's values back (training goes on exactly as if nothing happened). In ``step``
        mode they are zero already and nothing changes.
        """
        saved = []
        for g in self.groups:
            drop = torch.from_numpy(~np.asarray(self.masks[g.name], dtype=bool))
            if not bool(drop.any()):
                continue
            tensors = [conv.weight for _, conv in g.convs] + [conv.bias for _, conv in g.convs if conv.bias is not None]
            tensors += [t for _, bn in g.bns for t in (bn.weight, bn.bias)]
            for t in tensors:
                d = drop.to(t.device)
                saved.append((t, d, t.detach()[d].clone()))
        self.apply()
        try:
            yield self.model
        finally:
            with torch.no_grad():
                for t, d, v in saved:
                    t[d] = v

    def scores(self) -> list[torch.Tensor]:
        """Running-mean score A per group since the last mask update (zeros before any batch).

        With ``score_norm == "layer"`` each group's scores are divided by the group's mean score
        over its surviving channels (an option beyond the paper: without it, a layer whose
        membranes are larger, such as a direct-encoded first layer, wins the global ranking).
        """
        raw = [s / max(self._count, 1) for s in self._sum]
        if self.score_norm == "none":
            return raw
        out = []
        for g, s in zip(self.groups, raw):
            alive = torch.from_numpy(np.asarray(self.masks[g.name], dtype=bool))
            ref = s[alive].mean() if bool(alive.any()) else s.mean()
            out.append(s / ref if float(ref) > 0 else s)
        return out

    # ---- the once-per-epoch update --------------------------------------------------------
    def select(self, scores: list[torch.Tensor], grads: list[torch.Tensor]) -> list[np.ndarray]:
        """The SCA rule on given scores/gradients -> new keep arrays (pure; no model change)."""
        sizes = [g.size for g in self.groups]
        m = sum(sizes)
        n_keep = _floor((1.0 - self.p - self.q) * m)
        n_regrow = _floor(self.q * m)
        gid = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)])
        sc = np.concatenate([s.numpy() for s in scores]).astype(np.float64)
        gr = np.concatenate([g.numpy() for g in grads]).astype(np.float64)
        pos = np.arange(m)
        limit = [self.group_limit(g) for g in self.groups]
        kept_in = [0] * len(sizes)
        keep = np.zeros(m, dtype=bool)
        # 1. keep the top floor((1-p-q) M) by activity, within the per-group limits
        taken = 0
        for j in np.lexsort((pos, -sc)):
            if taken >= n_keep:
                break
            if kept_in[gid[j]] < limit[gid[j]]:
                keep[j] = True
                kept_in[gid[j]] += 1
                taken += 1
        # 2. regrow the top floor(q M) pruned ones by |dL/d gamma| (ties: activity, then position)
        grown = 0
        for j in np.lexsort((pos, -sc, -gr)):
            if grown >= n_regrow:
                break
            if not keep[j] and kept_in[gid[j]] < limit[gid[j]]:
                keep[j] = True
                kept_in[gid[j]] += 1
                grown += 1
        out = np.split(keep, np.cumsum(sizes)[:-1])
        # 3. never empty a group: keep its best-scoring channel
        for i, k in enumerate(out):
            if not k.any():
                s = scores[i].numpy()
                k[int(np.lexsort((np.arange(s.size), -s))[0])] = True
        self.last_update = {"channels_total": m, "kept_by_score": taken, "regrown": grown,
                            "channels_kept": int(sum(k.sum() for k in out))}
        return out

    @torch.no_grad()
    def update_masks(self) -> Masks:
        """Rank, prune, regrow; apply to the model; reset the running scores. Returns the masks."""
        new = self.select(self.scores(), self._grad)
        old = [self.masks[g.name] for g in self.groups]
        if self.masking == "step":  # see the module docstring: a zero channel would never move again
            for g, k_old, k_new in zip(self.groups, old, new):
                revived = k_new & ~k_old
                if revived.any():
                    self._reinit(g, torch.from_numpy(revived))
        self.masks = Masks({g.name: GroupMask(g.member_names, k) for g, k in zip(self.groups, new)})
        self.last_update["revived"] = int(sum((kn & ~ko).sum() for ko, kn in zip(old, new)))
        self.last_update["pruned"] = int(sum((ko & ~kn).sum() for ko, kn in zip(old, new)))
        self.last_update["churn"] = self.last_update["revived"] + self.last_update["pruned"]
        self.last_update["kept_per_layer"] = {g.name: int(k.sum()) for g, k in zip(self.groups, new)}
        self.last_update["masking"] = self.masking
        self.apply()
        self._sum = [torch.zeros_like(s) for s in self._sum]
        self._count = 0
        return self.masks

    def _reinit(self, g: PruneGroup, idx: torch.Tensor) -> None:
        for _, conv in g.convs:
            w = conv.weight
            fan_in = w[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            fresh = (torch.rand((int(idx.sum()), *w.shape[1:]), generator=self.generator, dtype=torch.float64) * 2 - 1) * bound
            w[idx.to(w.device)] = fresh.to(w.dtype).to(w.device)
        for _, bn in g.bns:
            i = idx.to(bn.weight.device)
            bn.weight[i] = 1.0
            bn.bias[i] = 0.0
            if bn.running_mean is not None:
                bn.running_mean[i] = 0.0
                bn.running_var[i] = 1.0

    # ---- persistence (resume) --------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "masks": self.masks.to_json(),
            "sum": [s.clone() for s in self._sum],
            "count": self._count,
            "grad": [g.clone() for g in self._grad],
            "generator": self.generator.get_state(),
            "layer_targets": dict(self.layer_targets),
            "layer_caps": dict(self.layer_caps),
        }

    def load_state_dict(self, state: dict) -> None:
        self.masks = Masks.from_json(state["masks"])
        self._sum = [s.clone() for s in state["sum"]]
        self._count = int(state["count"])
        self._grad = [g.clone() for g in state["grad"]]
        self.generator.set_state(state["generator"])
        self.layer_targets = dict(state["layer_targets"])
        self.layer_caps = dict(state["layer_caps"])
        self.apply()
