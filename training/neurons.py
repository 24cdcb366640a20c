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

from spikehls.training.surrogate import SURROGATES, spike, surrogate_grad


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
        if self._can_fuse(x):
            th = self._thr(x[0])
            spikes, score = _FusedNeuron.apply(x, th, 2.0 ** -self.leak_shift if self.leak_shift else 0.0,
                                               self.reset == "zero", self.surrogate, self.alpha, self.record)
            if self.record:
                self._record(spikes.detach(), score)
            return spikes
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

    def _can_fuse(self, x: torch.Tensor) -> bool:
        """The fused BPTT kernel computes exactly what ``step`` does; use it only for this class's
        own ``step`` (a subclass such as the integer-exact one keeps its override) and with the
        reset detached (its backward assumes no gradient through the reset)."""
        return type(self).step is SpikingNeuron.step and self.detach_reset and torch.is_grad_enabled() and x.requires_grad

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


class _FusedNeuron(torch.autograd.Function):
    """All T steps of :meth:`SpikingNeuron.step` (detached reset) with a hand-written BPTT.

    Autograd on the per-step loop records ~8 small ops per step and keeps their inputs; this keeps
    the membrane before reset and ``1 - s`` and runs the recurrence backwards once, one
    time step at a time so each step's tensors stay in cache:
    ``dL/dv_t = dL/ds_t * sg(v_t - th) + c_t * (1 - s_t | 1)``, ``dL/di_t = dL/dv_t``,
    ``c_{t-1} = lam * dL/dv_t`` with ``lam = 1 - 2**-k`` (1 for IF). Checked against autograd on
    the loop in tests/test_neurons.py.
    """

    @staticmethod
    def forward(ctx, x, th, leak: float, zero_reset: bool, kind: str, alpha: float, record: bool):  # noqa: D102
        spikes = torch.empty_like(x)
        keep = torch.empty_like(x) if zero_reset else None  # 1 - s: what a zero reset leaves of v
        v_pre = torch.empty_like(x)
        score = torch.zeros_like(x[0]) if record else None
        v = torch.zeros_like(x[0])
        for t in range(x.shape[0]):
            if leak:
                v = v - v * leak  # the same float ops as step(): identical spikes in train and eval
            torch.add(v, x[t], out=v_pre[t])
            spikes[t].copy_(v_pre[t] >= th)
            if zero_reset:  # multiplications, not masked_fill: 2x faster on CPU, and the same ops as step()
                torch.sub(1.0, spikes[t], out=keep[t])
                v = v_pre[t] * keep[t]
            else:
                v = v_pre[t] - spikes[t] * th
            if record:
                score += spikes[t]
                score += v.abs()
        ctx.save_for_backward(v_pre, keep, th)
        ctx.leak, ctx.zero_reset, ctx.kind, ctx.alpha = leak, zero_reset, kind, alpha
        if record:
            ctx.mark_non_differentiable(score)
        return spikes, score

    @staticmethod
    def backward(ctx, grad_s, _grad_score):  # noqa: D102
        v_pre, keep, th = ctx.saved_tensors
        lam = 1.0 - ctx.leak
        grad_x = torch.empty_like(grad_s)
        carry = None
        for t in range(grad_s.shape[0] - 1, -1, -1):
            g = grad_s[t] * surrogate_grad(v_pre[t] - th, ctx.kind, ctx.alpha)
            if carry is not None:
                g += carry * keep[t] if ctx.zero_reset else carry
            grad_x[t] = g
            carry = g * lam if ctx.leak else g
        return grad_x, None, None, None, None, None, None
