"""How a layer's parallelism knob P becomes lanes (shared by the IR layers and the cost model).

One place for the rule, so that what :mod:`spikehls.hls.layers` instantiates and what
:mod:`spikehls.hls.estimate` charges cannot drift apart. No hls4ml import here: the planner
uses the cost model without loading hls4ml.
"""

from __future__ import annotations

import numpy as np


def scatter_lanes(parallelism: int, n_targets: int) -> int:
    """Adds per cycle of one table chunk: P, but never more lanes than output channels to add into."""
    return max(1, min(int(parallelism), int(n_targets)))


def fire_lanes(parallelism: int, plane: int) -> int:
    """Neurons fired per cycle: the largest power of two <= P that divides the output plane H*W.

    Dividing the plane keeps the lanes of one cycle inside one channel and aligned, so the
    membrane, accumulator and output-spike banks (``pos % lanes``) are static per lane; a power
    of two makes ``pos / lanes`` a shift (no divider, no DSP). Dense layers (plane 1) fire one
    neuron per cycle: they are small.
    """
    f = 1
    while f * 2 <= int(parallelism) and int(plane) % (f * 2) == 0:
        f *= 2
    return f


def chunks_per_row(w_rows: np.ndarray, lanes: int) -> np.ndarray:
    """Table chunks of every row of ``w_rows [rows, targets]``: groups of ``lanes`` outputs with a nonzero weight."""
    w_rows = np.asarray(w_rows)
    rows, n_t = w_rows.shape
    groups = -(-n_t // lanes)
    padded = np.zeros((rows, groups * lanes), dtype=bool)
    padded[:, :n_t] = w_rows != 0
    return padded.reshape(rows, groups, lanes).any(axis=2).sum(axis=1)
