"""Spike trains of a neuron under a constant current: the one-pass fire of direct-encoded layers.

With direct encoding the first layer sees the same frame at every time step, so its current
``I`` (bias included) is the same at every step, and every membrane starts at 0. The neuron's
``T`` spikes are then a function of ``(channel, I)`` alone. Over the whole range of the
accumulator type that function is piecewise constant with few pieces (an IF/LIF neuron with
reset to zero fires every ``k`` steps, ``k`` falling as ``I`` grows: at most ``T + 1`` pieces),
so the kernel can replace ``T`` fire passes (one neuron update per step) by one pass that
compares ``I`` against a channel's sorted piece boundaries and writes the piece's ``T``-bit
train: no membrane memory, one pass instead of ``T``.

Exact by construction: the table is computed with the integer reference's own neuron
(:func:`spikehls.quantize.reference.integrate`) for **every** value the accumulator type can
hold, not sampled, so the kernel and the reference agree on any input. A neuron whose trains
need more than :data:`MAX_BREAKS_PER_STEP` ``x T`` boundaries keeps the per-step fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from spikehls.quantize.intnet import Neuron
from spikehls.quantize.reference import integrate

MAX_BREAKS_PER_STEP = 2  # boundaries per time step a table may use (comparators per fire lane)
MAX_ENUM_BITS = 20  # accumulator widths enumerated exhaustively (2^20 currents per channel)


@dataclass
class TrainTable:
    """Per channel ``c``: sorted boundaries ``breaks[c, :]`` and trains ``trains[c, :]``.

    The current ``I`` falls in piece ``k = #{b : breaks[c, b] <= I}``; its spikes are bit ``t``
    of ``trains[c, k]``. Channels with fewer pieces are padded with boundaries one above the
    accumulator's maximum (never reached).
    """

    breaks: np.ndarray  # int64 [C, n_breaks]
    trains: np.ndarray  # int64 [C, n_breaks + 1], bit t = spike at step t
    time_steps: int

    @property
    def n_breaks(self) -> int:
        return int(self.breaks.shape[1])

    def spikes(self, channel: int, current: np.ndarray) -> np.ndarray:
        """``[n, T]`` spikes of ``channel`` for the currents ``current [n]`` (what the kernel computes)."""
        k = (np.asarray(current)[:, None] >= self.breaks[channel][None, :]).sum(axis=1)
        code = self.trains[channel][k]
        return ((code[:, None] >> np.arange(self.time_steps)[None, :]) & 1).astype(np.uint8)


def constant_current_trains(neuron: Neuron, time_steps: int, acc_bits: int, max_breaks: Optional[int] = None) -> Optional[TrainTable]:
    """The train table of ``neuron`` (per-channel thresholds) over every ``acc_bits``-bit signed current.

    Returns None when the accumulator is too wide to enumerate or a channel needs more than
    ``max_breaks`` (default ``MAX_BREAKS_PER_STEP * T``) boundaries: the per-step fire is then
    the cheaper circuit.
    """
    T = int(time_steps)
    if max_breaks is None:
        max_breaks = MAX_BREAKS_PER_STEP * T
    if acc_bits > MAX_ENUM_BITS or T > 62:
        return None
    lo, hi = -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1
    currents = np.arange(lo, hi + 1, dtype=np.int64)
    weights = np.left_shift(np.int64(1), np.arange(T, dtype=np.int64))
    co = int(neuron.threshold.size)
    per_chan_breaks: list[np.ndarray] = []
    per_chan_trains: list[np.ndarray] = []
    for c in range(co):
        one = Neuron(threshold=neuron.threshold[c : c + 1], leak_shift=neuron.leak_shift, reset=neuron.reset, v_bits=neuron.v_bits)
        cur = np.broadcast_to(currents[:, None, None], (currents.size, T, 1))
        spikes = integrate(cur, np.zeros(1, np.int64), one)[:, :, 0]  # [n, T]
        code = spikes.astype(np.int64) @ weights  # [n]
        change = np.flatnonzero(code[1:] != code[:-1]) + 1
        if change.size > max_breaks:
            return None
        per_chan_breaks.append(currents[change])
        per_chan_trains.append(np.concatenate([code[:1], code[change]]))
    nb = max((b.size for b in per_chan_breaks), default=0)
    nb = max(nb, 1)  # C++ has no zero-length arrays: one boundary above the range
    breaks = np.full((co, nb), hi + 1, dtype=np.int64)
    trains = np.zeros((co, nb + 1), dtype=np.int64)
    for c, (b, tr) in enumerate(zip(per_chan_breaks, per_chan_trains)):
        breaks[c, : b.size] = b
        trains[c, : tr.size] = tr
        trains[c, tr.size :] = tr[-1]
    return TrainTable(breaks=breaks, trains=trains, time_steps=T)


@lru_cache(maxsize=256)
def _table_summary(thr: tuple[int, ...], leak_shift: int, reset: str, v_bits: int, time_steps: int,
                   acc_bits: int) -> Optional[tuple[int, int]]:
    """``(boundaries per channel, LUT columns of its ROMs)`` of a layer's train table, or None where
    it fires per step: one enumeration of the table for both."""
    from spikehls.hls.rom_bits import train_columns

    table = constant_current_trains(Neuron(np.array(thr, np.int64), leak_shift, reset, v_bits), time_steps, acc_bits)  # type: ignore[arg-type]
    if table is None:
        return None
    return table.n_breaks, train_columns(table.breaks, table.trains, acc_bits, time_steps)


def _summary(neuron: Neuron, time_steps: int, acc_bits: int) -> Optional[tuple[int, int]]:
    thr = tuple(int(v) for v in np.asarray(neuron.threshold).reshape(-1))
    return _table_summary(thr, int(neuron.leak_shift), str(neuron.reset), int(neuron.v_bits), int(time_steps), int(acc_bits))


def train_rom_columns(neuron: Neuron, time_steps: int, acc_bits: int) -> int:
    """LUT columns of the layer's breakpoint and train ROMs (:func:`spikehls.hls.rom_bits.train_columns`),
    cached like :func:`train_breaks`; 0 where the layer fires per step."""
    summary = _summary(neuron, time_steps, acc_bits)
    return 0 if summary is None else summary[1]


def train_breaks(neuron: Neuron, time_steps: int, acc_bits: int) -> Optional[int]:
    """Boundaries per channel of the layer's train table (None: it fires per step), cached for
    the cost model, which the planner calls many times on the same layer."""
    summary = _summary(neuron, time_steps, acc_bits)
    return None if summary is None else summary[0]
