"""Which columns of a small ROM built as logic survive synthesis: the bits the cost model prices.

A ROM of ``depth`` words read at a run-time address is, per output bit, a Boolean function of
the address. yosys (and Vivado) keep a LUT for a column only when that function is not already
there: a column equal in every word is a constant; a column equal to an address bit (or its
complement) is a wire; two columns that are equal (or complements) share one LUT. The per-channel
tables of a neuron layer (thresholds, a direct-encoded layer's spike-train breakpoints and
trains) have many such columns: the high bits of small breakpoints, the trains of channels that
share a threshold. Measured on calibration net 205 (a 3-channel direct conv): 200 ROM bits, the
model had priced 200 LUT where yosys kept the layer's whole logic 181 LUT under the model.

The rule is the same exact-content count :class:`~spikehls.hls.geometry.TableGeometry` makes
for chunk registers (``varying_bits``), applied to the neuron tables.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from spikehls.hls.rtl.tables import break_words, threshold_words, train_codes


def logic_columns(words: Sequence[int], width: int) -> int:
    """Distinct columns of a ``len(words) x width`` ROM that need a LUT: not constant, not an
    address bit or its complement, and not equal (or complement) to a column already counted."""
    depth = len(words)
    if depth <= 1 or width <= 0:
        return 0
    address = set()
    for b in range(max(1, (depth - 1).bit_length())):
        address.add(tuple((a >> b) & 1 for a in range(depth)))
    seen: set[tuple[int, ...]] = set()
    for j in range(width):
        col = tuple((int(w) >> j) & 1 for w in words)
        if col[0]:  # one representative of a column and its complement
            col = tuple(1 - c for c in col)
        if not any(col) or col in address:
            continue
        seen.add(col)
    return len(seen)


@lru_cache(maxsize=512)
def _threshold_columns(thresholds: tuple[int, ...], v_bits: int) -> int:
    return logic_columns(threshold_words(thresholds, v_bits), v_bits)


def threshold_columns(neuron) -> int:
    """LUT columns of a layer's threshold ROM (the words ``rtl.generate`` writes to ``*_thr.mem``),
    cached: the planner prices the same layer many times."""
    thr = tuple(int(x) for x in np.asarray(neuron.threshold).reshape(-1))
    return _threshold_columns(thr, int(neuron.v_bits))


def train_columns(breaks: np.ndarray, trains: np.ndarray, acc_bits: int, time_steps: int) -> int:
    """LUT columns of a fire-once layer's breakpoint and train ROMs taken together: both are read at
    the channel's address, so their columns can share LUTs (the words ``rtl.generate`` writes to
    ``*_breaks.mem`` and ``*_trains.mem``, side by side)."""
    wb = int(breaks.shape[1]) * (acc_bits + 1)
    words = [b | (t << wb) for b, t in zip(break_words(breaks, acc_bits), train_codes(trains, time_steps))]
    return logic_columns(words, wb + int(trains.shape[1]) * time_steps)
