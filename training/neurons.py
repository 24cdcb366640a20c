"""Multi-step IF/LIF spiking neurons (float training model).

A :class:`SpikingNeuron` takes the input current of all time steps at once, ``[T, N, C, ...]``,
and returns spikes of the same shape. The membrane starts at 0 on every call, so no state
crosses samples or batches (the integer contract and the HLS layers have the same rule).

Per step (``step(v, i)``, overridable; the quantize stage subclasses it with an integer-exact
version: floor on the leak, saturation to ``v_bits``, per-channel integer thresholds)::

    LIF: v = v - v * 2**-k      (leak a power of two: hardware only shifts)
    v = v + i
    s = v >= threshold          (surrogate gradient, see spikehls.training.surrogate)
    v = v * (1 - s)             reset "zero"      |  v = v - threshold * s   reset "subtract"

The reset uses the detached spike by default (as in the SCA authors' code): gradients flow
through the spike output, not through the reset path.

The threshold is a buffer (a scalar, or one value per channel) so it moves with ``.to(device)``,
is saved in the state dict and can be replaced by the quantize stage.

Recording (``record = True``, switched on by the SCA pruner and the activity monitors):
``last_score`` is the SCA channel score of the last call, ``a_c = mean over (t, n, spatial) of
(S + |V|)`` with V the membrane *after* reset; ``spike_count`` accumulates the spikes per channel
and ``positions`` the (t, n, spatial) positions per channel seen, until ``reset_record()``.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from spikehls.training.surrogate import SURROGATES, spike


class SpikingNeuron(nn.Module):
    """IF (``leak_shift=0``) or LIF (``leak_shift=k>=1``, leak ``2**-k``) neuron over T steps."""

    def __init__(
        self,
        threshold: float = 1.0,
        leak_shift: int = 0,
        reset: str = "zero",
        surrogate: str = "sigmoid",
        alpha: float = 4.0,
        detach_reset: bool = True,
    ):
        super().__init__()
        if reset not in ("zero", "subtract"):
            raise ValueError(f"reset must be 'zero' or 'subtract' (got {reset!r})")
        if surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES} (got {surrogate!r})")
        if leak_shift < 0:
            raise ValueError("leak_shift must be >= 0 (0 = IF)")
        self.register_buffer("threshold", torch.tensor(float(threshold)))
        self.leak_shift = int(leak_shift)
        self.reset = reset
        self.surrogate = surrogate
        self.alpha = float(alpha)
        self.detach_reset = detach_reset
        self.record = False
        self.last_score: Optional[torch.Tensor] = None
        self.spike_count: Optional[torch.Tensor] = None
        self.positions = 0

    @classmethod
    def from_config(cls, ncfg) -> "SpikingNeuron":
        """Build from a :class:`spikehls.config.NeuronConfig` (IF ignores ``leak_shift``)."""
        return cls(
            threshold=ncfg.threshold,
            leak_shift=ncfg.leak_shift if ncfg.kind == "lif" else 0,
            reset=ncfg.reset,
            surrogate=ncfg.surrogate,
            alpha=ncfg.alpha,
            detach_reset=ncfg.detach_reset,
        )

    def extra_repr(self) -> str:
        kind = f"LIF(k={self.leak_shift})" if self.leak_shift else "IF"
        return f"{kind}, reset={self.reset}, surrogate={self.surrogate}(alpha={self.alpha:g})"

    def _thr(self, v: torch.Tensor) -> torch.Tensor:
        """Threshold broadcastable to ``v`` ([N, C, ...]): scalar, or per channel on dim 1."""
        th = self.threshold
        if th.ndim == 0:
            return th
        return th.view(1, -1, *([1] * (v.ndim - 2)))

    def step(self, v: torch.Tensor, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step: membrane ``v`` and current ``i`` ([N, C, ...]) -> (new v, spikes)."""
        if self.leak_shift:
            v = v - v * (2.0 ** -self.leak_shift)
        v = v + i
        th = self._thr(v)
        s = spike(v - th, self.surrogate, self.alpha)
        r = s.detach() if self.detach_reset else s
        if self.reset == "zero":
            v = v * (1.0 - r)
        else:
            v = v - r * th
        return v, s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Currents ``[T, N, C, ...]`` -> spikes ``[T, N, C, ...]``; membrane starts at 0."""
        v = torch.zeros_like(x[0])
        out = []
        score = None
        for t in range(x.shape[0]):
            v, s = self.step(v, x[t])
            out.append(s)
            if self.record:
                with torch.no_grad():
                    contrib = s.detach() + v.detach().abs()
                    score = contrib if score is None else score + contrib
        spikes = torch.stack(out)
        if self.record:
            self._record(spikes.detach(), score)
        return spikes

    @torch.no_grad()
    def _record(self, spikes: torch.Tensor, score_sum: torch.Tensor) -> None:
        dims = [0] + list(range(2, score_sum.ndim))  # all but channel, for [N, C, ...]
        per_channel = spikes.shape[0] * score_sum.numel() // score_sum.shape[1]
        self.last_score = score_sum.sum(dim=dims) / per_channel
        counts = spikes.sum(dim=[0, 1] + list(range(3, spikes.ndim))).double()
        self.spike_count = counts if self.spike_count is None else self.spike_count + counts
        self.positions += per_channel

    def reset_record(self) -> None:
        """Forget accumulated spike counts (the score of the last call is kept)."""
        self.spike_count = None
        self.positions = 0
