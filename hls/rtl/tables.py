"""Memory init files of the RTL twin: every ROM as ``$readmemh`` text, integers written exactly.

Each ROM word is written as two's-complement hex of its declared width, straight from int64
(Python ints): no value ever passes through a float, so every width up to 64 bits (and wider
packed words) is exact. The same chunked nonzero tables the HLS kernels read
(:func:`spikehls.hls.layers.chunk_table`) are packed one chunk per word: ``{group, w[L-1], ...,
w[0]}``, lane ``j``'s weight in bits ``[j WB +: WB]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np


def to_twos(value: int, bits: int) -> int:
    """``value`` as an unsigned ``bits``-bit two's-complement integer; raises if it does not fit."""
    v = int(value)
    lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
    if v < lo or v > hi:
        raise ValueError(f"value {v} does not fit in {bits} bits")
    return v & ((1 << bits) - 1)


def pack(fields: Sequence[tuple[int, int]]) -> int:
    """Concatenate ``(value, bits)`` fields, the first in the lowest bits."""
    word, shift = 0, 0
    for value, bits in fields:
        word |= to_twos(value, bits) << shift
        shift += bits
    return word


def write_mem(path: Path, words: Iterable[int], width: int) -> int:
    """Write ``words`` (unsigned ints of ``width`` bits) as a ``$readmemh`` file; return the depth."""
    digits = max(1, -(-int(width) // 4))
    lines = [format(int(w), f"0{digits}x") for w in words]
    if not lines:  # no zero-depth memories in Verilog: one unused word
        lines = ["0" * digits]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def read_mem(path: Path) -> list[int]:
    """Words of a ``$readmemh`` file (comments and ``@`` addresses are not used by spikehls)."""
    out = []
    for ln in path.read_text().split():
        out.append(int(ln, 16))
    return out


def chunk_words(groups: np.ndarray, weights: np.ndarray, lanes: int, weight_bits: int, group_bits: int) -> list[int]:
    """One word per chunk: the lanes' weights, then the group (highest bits)."""
    w = np.asarray(weights, dtype=np.int64).reshape(-1, lanes)
    out = []
    for g, row in zip(np.asarray(groups, dtype=np.int64), w):
        out.append(pack([(int(x), weight_bits) for x in row] + [(int(g), group_bits)]))
    return out


def threshold_words(thresholds, v_bits: int) -> list[int]:
    """A neuron layer's threshold ROM: one ``v_bits`` two's-complement word per channel."""
    return [to_twos(int(x), v_bits) for x in np.asarray(thresholds).reshape(-1)]


def break_words(breaks: np.ndarray, acc_bits: int) -> list[int]:
    """A fire-once layer's breakpoint ROM: per channel its ``acc_bits + 1``-bit signed boundaries."""
    return [pack([(int(b), acc_bits + 1) for b in row]) for row in breaks]


def train_codes(trains: np.ndarray, time_steps: int) -> list[int]:
    """A fire-once layer's train ROM: per channel its pieces' ``T``-bit codes (bit t = spike at step t),
    unsigned fields."""
    return [sum(int(c) << (i * time_steps) for i, c in enumerate(row)) for row in trains]


def lane_words(values: np.ndarray, lanes: int, groups: int, bits: int) -> list[int]:
    """Per-channel values laid out as ``groups`` words of ``lanes`` slots (channel g L + j in slot j;
    channels past the end hold 0): the bias as every lane of one group reads it in one cycle."""
    v = np.zeros(groups * lanes, dtype=np.int64)
    v[: len(values)] = np.asarray(values, dtype=np.int64)
    return [pack([(int(x), bits) for x in v[g * lanes : (g + 1) * lanes]]) for g in range(groups)]
