"""The constant-current spike-train table of direct-encoded layers (hls/spike_trains.py)."""

from __future__ import annotations

import numpy as np
import pytest

from spikehls.hls.spike_trains import constant_current_trains
from spikehls.quantize.intnet import Neuron
from spikehls.quantize.reference import integrate


@pytest.mark.parametrize("reset,leak,T", [("zero", 0, 4), ("zero", 2, 2), ("zero", 3, 7), ("subtract", 0, 3), ("subtract", 1, 4), ("zero", 1, 1)])
def test_table_equals_the_reference_neuron_on_every_current(reset, leak, T):
    """Every value of the accumulator type, every channel: the table's trains are the reference's."""
    rng = np.random.default_rng(T + leak)
    thr = np.concatenate([[1, 2 ** 9 - 1], rng.integers(1, 300, size=4)])
    nrn = Neuron(thr, leak, reset, 10)  # v_bits 10 < acc_bits: saturation is part of the table
    acc_bits = 12
    table = constant_current_trains(nrn, T, acc_bits, max_breaks=64)
    assert table is not None
    cur = np.arange(-(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1), dtype=np.int64)
    want = integrate(np.broadcast_to(cur[:, None, None], (cur.size, T, thr.size)), np.zeros(thr.size, np.int64), nrn)
    for c in range(thr.size):
        np.testing.assert_array_equal(table.spikes(c, cur), want[:, :, c])
        assert np.all(np.diff(table.breaks[c]) >= 0)  # sorted: the kernel counts boundaries <= I
    assert table.breaks.max() <= 2 ** (acc_bits - 1)  # padding: one above the range, never reached


def test_reset_to_zero_needs_at_most_T_boundaries():
    """A neuron reset to zero fires every k steps, k falling with the current: at most T + 1 pieces."""
    for T in (1, 2, 4, 8):
        for leak in (0, 1, 4):
            table = constant_current_trains(Neuron(np.array([1, 5, 100, 3000]), leak, "zero", 16), T, 14)
            assert table is not None and table.n_breaks <= T


def test_too_many_pieces_or_too_wide_keeps_the_per_step_fire():
    nrn = Neuron(np.array([7, 100]), 0, "subtract", 16)
    assert constant_current_trains(nrn, 8, 14) is None  # subtract reset at T = 8: more than 2T pieces
    assert constant_current_trains(nrn, 8, 14, max_breaks=100) is not None
    assert constant_current_trains(Neuron(np.array([7]), 0, "zero", 24), 4, 21) is None  # 2^21 currents: not enumerated
