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


def row_lanes(limit: int, height: int, width: int) -> int:
    """The most neighbouring positions <= ``limit`` that stay row-aligned in an ``height x width`` plane:
    a divisor of the row width, or a whole number of rows dividing the plane.

    Row-aligned lanes keep a cycle's positions inside one channel, give every lane a static bank
    (``pos % lanes`` is the column modulo the lanes, or row and column within a block of rows)
    and let a consumer read whole row segments; the lanes need not be a power of two.
    """
    limit, height, width = max(1, int(limit)), max(1, int(height)), max(1, int(width))
    best = 1
    for d in range(1, min(width, limit) + 1):
        if width % d == 0:
            best = d
    for k in range(2, height + 1):
        if height % k == 0 and k * width <= limit:
            best = max(best, k * width)
    return best


def distinct_parallelisms(n_targets: int, height: int = 1, width: int = 1, max_parallelism: int = 256) -> list[int]:
    """The smallest P of every distinct lane configuration ``(scatter_lanes, fire_lanes)`` up to
    ``max_parallelism``: the knob values that build different hardware (P = 12 and 13 on a
    12-channel 28x28 conv build the same circuit). The co-design planner searches these, so it
    can land on 12 lanes for 12 channels, not only on powers of two."""
    seen: set[tuple[int, int]] = set()
    out: list[int] = []
    for p in range(1, int(max_parallelism) + 1):
        key = (scatter_lanes(p, n_targets), fire_lanes(p, height, width))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def fire_lanes(parallelism: int, height: int = 1, width: int = 1) -> int:
    """Neurons fired per cycle = banks of the layer's output: the most row-aligned positions <= P
    (:func:`row_lanes`). Dense layers (a 1x1 plane) fire one neuron per cycle: they are small."""
    return row_lanes(parallelism, height, width)


def output_banks(fire: int, height: int, width: int, pooled: bool) -> int:
    """Banks of a neuron layer's output spike array: its ``fire`` lanes, doubled (row-aligned)
    when a max pool reads it.

    A layer writes ``fire`` neighbouring positions per cycle, so ``fire`` banks are enough for
    its own writes. A 2x2 pool reading ``r`` outputs per cycle spans ``2 r`` positions of two
    rows: on ``fire`` banks of two ports it needs two cycles for ``r = fire / 2`` outputs; on
    ``2 fire`` banks, one. The writes still hit distinct banks (``fire`` consecutive positions),
    each lane choosing one of two banks by the word's parity: a 1-bit demux per lane.
    """
    f = max(1, int(fire))
    if not pooled:
        return f
    b = row_lanes(2 * f, height, width)
    return b if b > f and b % f == 0 else f


def read_lanes(in_banks: int, row_width: int = 0) -> int:
    """Input positions a layer scans per cycle: what its producer's banks give, at most one row.

    The producer writes its ``[T, C, H, W]`` spikes to ``in_banks`` row-aligned banks
    (``pos % in_banks``), so ``in_banks`` consecutive positions from a multiple of ``in_banks``
    are one read. A conv consumer keeps a word inside one input row (``in_banks`` divides the
    row, or is a whole number of rows: then it reads one row), so its event decode never wraps;
    dense layers and the readout (``row_width`` 0) take the whole width.
    """
    r = max(1, int(in_banks))
    if row_width and r > int(row_width):
        r = int(row_width) if r % int(row_width) == 0 else 1
    return r


def pool_lanes(in_banks: int, kernel: int, stride: int, out_width: int) -> int:
    """Pooled outputs per cycle = banks of the pool's output: the divisor r of the output row
    with the most outputs per cycle ``r / pool_interval(r)`` from the producer's banks (the
    fewest lanes among equals: they cost muxes). A window span wider than the banks is allowed
    when the extra reads still pay: 7 outputs every 2 cycles beat 2 every cycle. A divisor
    keeps the pool's own output row-aligned for its consumer, whose scan reads ``r`` per cycle."""
    best, best_rate = 1, 0.0
    for r in range(1, int(out_width) + 1):
        if int(out_width) % r:
            continue
        rate = r / pool_interval(kernel, stride, in_banks, r)
        if rate > best_rate + 1e-9:
            best, best_rate = r, rate
    return best


def pool_interval(kernel: int, stride: int, in_banks: int, out_lanes: int) -> int:
    """Cycles per step of ``out_lanes`` pooled outputs, reading from ``in_banks`` dual-port banks.

    Each of the ``kernel`` window rows reads a span of ``stride (r - 1) + kernel`` consecutive
    positions, which touches one bank at most ``ceil(span / banks)`` times; two reads per bank
    and cycle.
    """
    span = int(stride) * (int(out_lanes) - 1) + int(kernel)
    per_bank = int(kernel) * -(-span // max(1, int(in_banks)))
    return max(1, -(-per_bank // 2))


def tap_lanes(kernel_width: int, fire: int, groups: int, pixels: bool) -> int:
    """Kernel taps of one input event handled per cycle: a whole kernel row, or one tap.

    A row's ``kw`` taps reach ``kw`` neighbouring output positions, distinct accumulator banks
    (``pos % fire``) whenever ``fire >= kw``; with one channel group each tap is at most one
    chunk, so the ``kw`` chunks are a window of consecutive table words. Pixel inputs keep one
    tap per cycle: each parallel tap would need its own multipliers.
    """
    kw = int(kernel_width)
    return kw if (kw > 1 and not pixels and int(groups) == 1 and int(fire) >= kw) else 1


def tap_words(taps: int) -> int:
    """Banks that serve a window of ``taps`` consecutive table chunks and ``taps + 1`` offsets in
    one cycle: the power of two >= taps + 1 (1 for one tap per cycle)."""
    if int(taps) <= 1:
        return 1
    w = 2
    while w < int(taps) + 1:
        w *= 2
    return w


SCATTER_DEPTH = 3  # cycles from reading an accumulator to writing it back (read, add, write)


def events_back_to_back(kernel_height: int, kernel_width: int, taps: int, groups: int = 1, depth: int = SCATTER_DEPTH) -> bool:
    """Whether the events of one input channel may follow each other in the scatter pipeline.

    Only with one channel group (each tap at most one chunk, one iteration per tap row). An
    event's iterations run its kernel rows in ascending ``ky`` (``kw / taps`` iterations per
    row); the next event of the same channel comes later in raster order (``iy' >= iy``). Two
    iterations of different events reach the same output row only if ``iy' - ky' == iy - ky``,
    i.e. ``ky' >= ky``. So overlapping them without a drain is safe when every pair of
    iterations of different events less than ``depth`` apart has the later one on a strictly
    smaller kernel row -- checked here on the iteration sequence itself.
    """
    if int(groups) != 1:
        return False
    per_row = max(1, int(kernel_width) // max(1, int(taps)))
    seq = [ky for ky in range(int(kernel_height)) for _ in range(per_row)]
    n = len(seq)
    events = 2 + -(-int(depth) // n)
    flat = [(e, ky) for e in range(events) for ky in seq]
    for i, (ei, kyi) in enumerate(flat):
        for j in range(i + 1, min(i + int(depth), len(flat))):
            ej, kyj = flat[j]
            if ej != ei and kyj >= kyi:
                return False
    return True


def chunks_per_row(w_rows: np.ndarray, lanes: int) -> np.ndarray:
    """Table chunks of every row of ``w_rows [rows, targets]``: groups of ``lanes`` outputs with a nonzero weight."""
    w_rows = np.asarray(w_rows)
    rows, n_t = w_rows.shape
    groups = -(-n_t // lanes)
    padded = np.zeros((rows, groups * lanes), dtype=bool)
    padded[:, :n_t] = w_rows != 0
    return padded.reshape(rows, groups, lanes).any(axis=2).sum(axis=1)
