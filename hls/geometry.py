"""One description of every layer as built: lanes, banks, depths, table shapes and bit widths.

The hls4ml layers (:mod:`spikehls.hls.layers`, which only format these numbers into C++), the
Verilog generator (:mod:`spikehls.hls.rtl`) and the cost model (:mod:`spikehls.hls.estimate`)
all read a layer's geometry from here, so the HLS project, the RTL and the model price and build
the same datapath. It grows :mod:`spikehls.hls.lanes` (the lane rules) into the whole layer: no
torch and no hls4ml import, because the planner calls the cost model thousands of times.

Bit widths come from the integers themselves (worst-case sums), never guessed: an accumulator
holds ``bias + sum`` of all positive (negative) fan-in weights times the input maximum (255 for
pixels, 1 for spikes; plus the skip current; times T for the readout), so every implementation
is exact by construction.

Residual streams (a pre-activation ResNet's float stream in integers, ``quantize/intnet.py``): a
conv with a ``residual`` source, a ``current_sign`` other than all +1, or a stream that a later
layer reads is a *stream layer* (``z_current``). Its accumulators hold the stream ``z`` (no bias:
``acc_lo/acc_hi`` are the range of ``z``, the residual source's range included), its fire pass
computes the current ``bias + sign * z`` (``cur_lo/cur_hi/cur_bits``: an add or a subtract, never
a multiply) and, as a writer, stores ``z`` per step in its stream buffer (``z_banks`` banks, the
least common multiple of the writer's and every reader's fire lanes, so that both move their
``F`` neighbouring positions in one cycle). Every other layer is built exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from spikehls.hls.lanes import (
    chunks_per_row,
    events_back_to_back,
    fire_lanes,
    output_banks,
    pool_interval,
    pool_lanes,
    read_lanes,
    scatter_lanes,
    tap_lanes,
    tap_words,
)

PIXEL_MAX = 255  # direct encoding: 8-bit pixels


# ---- memories and multipliers: one rule for the RTL's attributes and the cost model ------------
# where arrays live is spikehls.hls.memory's rule (re-exported here for the existing importers)
from spikehls.hls.memory import memory_style  # noqa: E402,F401

DSP_MIN_WEIGHT_BITS = 9  # hls4ml's rule: a multiplier by a weight below 9 bits lives in LUTs


def mac_in_dsp(weight_bits: int) -> bool:
    """Whether a pixel x weight lane of a direct-encoded layer is a DSP48 (else LUT logic)."""
    return int(weight_bits) >= DSP_MIN_WEIGHT_BITS


def unsigned_bits(hi: int) -> int:
    """Unsigned bits holding 0..hi (at least 1): the width of a counter, an index or a group."""
    return max(1, int(hi).bit_length())


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi] (at least 2)."""
    lo, hi = int(lo), int(hi)
    need = max(hi.bit_length() if hi > 0 else 0, (-lo - 1).bit_length() if lo < 0 else 0)
    return max(2, need + 1)


def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pool along one axis (zero padding, floor), as torch."""
    return (int(size) + 2 * int(padding) - int(kernel)) // int(stride) + 1


def acc_range(weight_by_chan: np.ndarray, bias: np.ndarray, in_max: int) -> tuple[int, int]:
    """``(lo, hi)``: the extreme currents of a layer, bias plus every negative (positive) fan-in
    weight times the input maximum, over all channels (0 included)."""
    w = np.asarray(weight_by_chan, dtype=np.int64).reshape(len(weight_by_chan), -1)
    b = np.asarray(bias, dtype=np.int64)
    lo = b + int(in_max) * np.where(w < 0, w, 0).sum(axis=1)
    hi = b + int(in_max) * np.where(w > 0, w, 0).sum(axis=1)
    return int(lo.min(initial=0)), int(hi.max(initial=0))


class WeightStats:
    """What the cost path reads of a layer's weight table, computed once per (pruned) layer.

    The co-design planner prices hundreds of lane settings of one layer: the per-channel sums
    (:func:`acc_range`), the nonzero count and range and a prefix count of every row's nonzeros
    are independent of the lanes, so the chunks of a row at any ``lanes`` cost a few column
    reads instead of a pass over every weight. Every figure equals what the array functions
    (:func:`acc_range`, :func:`table_geometry`, :func:`~spikehls.hls.lanes.chunks_per_row`)
    compute from the weights.
    """

    def __init__(self, weight: np.ndarray):
        w = np.asarray(weight, dtype=np.int64)
        co = int(w.shape[0])
        flat = w.reshape(co, -1)
        self.shape = tuple(int(x) for x in w.shape)
        self.pos = flat.clip(min=0).sum(axis=1)  # [co]
        self.neg = flat.clip(max=0).sum(axis=1)
        mask = np.ascontiguousarray((flat != 0).T)  # [rows, co]: a table row per input (and tap)
        self.row_nnz = mask.sum(axis=1)
        self.nnz = int(self.row_nnz.sum())
        # the extremes signed_bits sees: the most negative and the most positive nonzero weight
        self.nz_min = min(int(flat.min(initial=0)), 0)
        self.nz_max = max(int(flat.max(initial=0)), 0)
        self.prefix = np.zeros((mask.shape[0], co + 1), dtype=np.int16 if co < 2**15 else np.int32)
        np.cumsum(mask, axis=1, out=self.prefix[:, 1:])
        # per channel: OR and AND of its nonzero weights (two's complement) and their count, what
        # varying_bits needs of the table at any lanes
        self.ch_or, self.ch_and, self.ch_nnz = channel_bit_stats(flat.T)
        self._chunks: dict[int, np.ndarray] = {}
        self.memo: dict = {}  # figures the cost path derives from these (twin_cost._chunk_counts)

    @property
    def nbytes(self) -> int:
        return int(self.prefix.nbytes + self.pos.nbytes + self.neg.nbytes + self.row_nnz.nbytes
                   + self.ch_or.nbytes + self.ch_and.nbytes + self.ch_nnz.nbytes)

    def acc_range(self, bias: np.ndarray, in_max: int) -> tuple[int, int]:
        """:func:`acc_range` of the weights with ``bias``."""
        b = np.asarray(bias, dtype=np.int64)
        lo = b + int(in_max) * self.neg
        hi = b + int(in_max) * self.pos
        return int(lo.min(initial=0)), int(hi.max(initial=0))

    def chunks(self, lanes: int) -> np.ndarray:
        """:func:`~spikehls.hls.lanes.chunks_per_row` of the table rows at ``lanes``."""
        lanes = max(1, int(lanes))
        got = self._chunks.get(lanes)
        if got is None:
            n = self.prefix.shape[1] - 1
            if lanes == 1:
                got = self.row_nnz
            else:
                lo = np.arange(0, n, lanes)
                hi = np.minimum(lo + lanes, n)
                got = (self.prefix[:, hi] > self.prefix[:, lo]).sum(axis=1)
            self._chunks[lanes] = got
        return got


@dataclass(frozen=True)
class TableGeometry:
    """A chunked nonzero table (:func:`spikehls.hls.layers.chunk_table`) by its shape."""

    rows: int  # table rows (conv: ci * kh * kw; dense: inputs; skip: source channels)
    chunks: int  # real chunks (the arrays are padded to at least one)
    nnz: int  # nonzero weights
    weight_bits: int  # signed width of a table weight
    group_bits: int  # unsigned width of a chunk's group
    index_bits: int  # unsigned width of an offset (0..chunks)
    # lanes with a nonzero weight in some chunk: a lane whose every channel is empty (a random or
    # unslimmed net's zero rows) only ever adds zeros, and yosys removes its adder and ROM bits
    live_lanes: int = 1
    # bits of the offsets' deviation from the straight line 0 .. chunks over the rows (see
    # offsets_deviation_bits): what a ROM of the offsets costs as logic -- none for the identity of
    # a one-chunk-per-row table, a few for the near-regular walk of a dense one
    offset_bits: int = 0
    # bits of the chunk word (lanes x weight bits + group bits) whose value differs between chunks
    # (see varying_bits): the bits yosys keeps of the chunk registers and of a table in block RAM
    varying_bits: int = 0


def channel_bit_stats(w_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target (column of ``w_rows [rows, targets]``): the OR and the AND of its nonzero
    weights in two's complement (-1, all ones, for a target without any) and their count."""
    w = np.asarray(w_rows, dtype=np.int64)
    nz = w != 0
    ch_or = np.bitwise_or.reduce(np.where(nz, w, 0), axis=0) if w.size else np.zeros(w.shape[1], np.int64)
    ch_and = np.bitwise_and.reduce(np.where(nz, w, -1), axis=0) if w.size else np.full(w.shape[1], -1, np.int64)
    return ch_or.astype(np.int64), ch_and.astype(np.int64), nz.sum(axis=0).astype(np.int64)


def varying_bits(ch_or: np.ndarray, ch_and: np.ndarray, ch_nnz: np.ndarray, lanes: int, w_bits: int,
                 n_chunks: int) -> int:
    """Bits of the chunk word (every lane's ``w_bits`` two's-complement weight, then the group
    index) that are not the same in every one of the table's ``n_chunks`` chunks, from the
    per-target figures of :func:`channel_bit_stats`.

    yosys keeps a register or a memory bit only where it varies: a bit equal in every chunk is a
    constant, removed from the chunk registers and from a table in block RAM before it is mapped
    (random net 22's 33 x 1,344 table packs into one RAMB36, not three BRAM18; wide 200's 64 x 631
    into one, not two). Exact without walking the chunks: lane ``j`` holds the weight of channel
    ``g L + j`` in every chunk of group ``g``, so it holds a 0 somewhere unless each of the
    ``n_chunks`` chunks has its lane nonzero (the lane's nonzero count equals ``n_chunks``); with a
    0 the bits its weights ever set vary, without one the bits where its weights differ. The group
    bits vary where the groups holding a nonzero weight differ."""
    n_chunks = int(n_chunks)
    if n_chunks <= 1:
        return 0
    lanes, wb = max(1, int(lanes)), int(w_bits)
    n = len(ch_nnz)
    groups = -(-n // lanes)
    pad = groups * lanes - n
    mask = (1 << wb) - 1
    o = np.concatenate([np.asarray(ch_or, np.int64), np.zeros(pad, np.int64)]).reshape(groups, lanes)
    a = np.concatenate([np.asarray(ch_and, np.int64), np.full(pad, -1, np.int64)]).reshape(groups, lanes)
    z = np.concatenate([np.asarray(ch_nnz, np.int64), np.zeros(pad, np.int64)]).reshape(groups, lanes)
    lane_or = np.bitwise_or.reduce(o, axis=0) & mask
    lane_and = np.bitwise_and.reduce(a, axis=0) & mask
    lane_nnz = z.sum(axis=0)
    vary = np.where(lane_nnz < n_chunks, lane_or, lane_or & ~lane_and) & mask
    bits = int(sum(bin(int(v)).count("1") for v in vary))
    gb = unsigned_bits(max(groups - 1, 1))
    present = np.nonzero(z.sum(axis=1) > 0)[0]
    if present.size:
        g_or, g_and = int(np.bitwise_or.reduce(present)), int(np.bitwise_and.reduce(present))
        bits += bin((g_or & ~g_and) & ((1 << gb) - 1)).count("1")
    return bits


def offsets_deviation_bits(per_row: np.ndarray) -> int:
    """Signed bits of ``offsets[r] - round(r * chunks / rows)`` over the offsets ROM (its
    ``rows + 1`` prefix sums of ``per_row`` chunks).

    yosys synthesizes a constant ROM as logic from its truth table: a linear ramp (every row the
    same count) is wiring or one constant multiply, and what is left is the deviation from it. So
    the ROM is priced by these bits rather than the full index width: measured by yosys on random
    walks of 1,024 / 4,096 rows (13-bit offsets, 6 / 7 bits of deviation: 244 / 836 LUT, against
    273 / 965 for 12 random bits), and 0 LUT for the identity (benchmarks/results/rom_logic.json;
    the fit prices the item, offsets_rom)."""
    n = np.asarray(per_row, dtype=np.int64).ravel()
    if n.size == 0:
        return 0
    off = np.concatenate([[0], np.cumsum(n)])
    ramp = np.rint(np.arange(off.size) * (off[-1] / max(n.size, 1))).astype(np.int64)
    dev = off - ramp
    lo, hi = int(dev.min()), int(dev.max())
    return 0 if lo == hi == 0 else signed_bits(lo, hi)


def table_geometry(w_rows: np.ndarray, lanes: int, w_bits: int, n_targets: int,
                   stats: Optional[WeightStats] = None) -> TableGeometry:
    """Shape of the table of ``w_rows [rows, targets]`` at ``lanes`` lanes (``stats``: the
    same figures from :class:`WeightStats` of the weights, without a pass over them)."""
    w_rows = np.asarray(w_rows, dtype=np.int64)
    if stats is not None:
        n_nz, wb = stats.nnz, (max(int(w_bits), signed_bits(stats.nz_min, stats.nz_max)) if stats.nnz else int(w_bits))
        per_row = stats.chunks(lanes) if w_rows.size else np.zeros(0, np.int64)
    else:
        nz = w_rows[w_rows != 0]
        n_nz = int(nz.size)
        wb = max(int(w_bits), signed_bits(int(nz.min()), int(nz.max()))) if nz.size else int(w_bits)
        per_row = chunks_per_row(w_rows, lanes) if w_rows.size else np.zeros(0, np.int64)
    n_chunks = int(np.sum(per_row))
    bit_stats = (stats.ch_or, stats.ch_and, stats.ch_nnz) if stats is not None else channel_bit_stats(w_rows)
    lanes = max(1, int(lanes))
    groups = -(-int(n_targets) // lanes)
    if stats is not None:
        live_chan = (stats.pos != 0) | (stats.neg != 0)
    else:
        live_chan = (w_rows != 0).any(axis=0) if w_rows.size else np.zeros(int(n_targets), bool)
    return TableGeometry(
        rows=int(w_rows.shape[0]),
        chunks=n_chunks,
        nnz=n_nz,
        weight_bits=wb,
        group_bits=unsigned_bits(max(groups - 1, 1)),
        index_bits=unsigned_bits(n_chunks),
        live_lanes=count_live_lanes(live_chan, lanes),
        offset_bits=offsets_deviation_bits(per_row),
        varying_bits=varying_bits(*bit_stats, lanes, wb, n_chunks),
    )


def count_live_lanes(live_chan: np.ndarray, lanes: int) -> int:
    """Lanes (channel ``% lanes``) holding at least one channel flagged in ``live_chan`` (one flag
    per channel): the lanes whose datapath yosys keeps."""
    lanes = max(1, int(lanes))
    live_chan = np.asarray(live_chan, dtype=bool).ravel()
    groups = -(-len(live_chan) // lanes)
    if not groups:
        return 0
    padded = np.zeros(groups * lanes, bool)
    padded[:len(live_chan)] = live_chan
    return int(padded.reshape(groups, lanes).any(axis=0).sum())


@dataclass(frozen=True)
class LayerGeometry:
    """A layer as the HLS kernels and the RTL build it. Shapes are per time step.

    Neuron layers (conv, dense) and the readout are accumulate engines: ``lanes`` (L) scatter
    lanes by channel, ``fire_lanes`` (F) by position, ``groups`` (G) channel groups of L,
    ``plane_words`` (W) = positions / F; accumulators are ``L x F`` banks of ``G W`` words,
    membranes ``F`` banks of ``C W`` words, output spikes ``out_banks`` banks. A max pool has
    ``out_lanes`` pooled outputs per cycle at ``pool_ii`` cycles each.
    """

    name: str
    kind: str  # conv | dense | readout | maxpool
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    time_steps: int
    pixels: bool = False  # input is 8-bit pixels: the layer multiplies (direct encoding)
    frames: int = 1  # input frames walked per sample (1 for pixels: the repeated frame's current is kept)
    parallelism: int = 1
    lanes: int = 1
    fire_lanes: int = 1
    groups: int = 1
    plane: int = 1  # output positions per channel
    plane_words: int = 1
    in_banks: int = 1  # banks of the input array (the producer's out_banks)
    read_lanes: int = 1  # input positions scanned per cycle
    out_banks: int = 1
    tap_lanes: int = 1
    tap_words: int = 1
    back_to_back: bool = False
    pooled: bool = False  # a max pool reads this layer
    table: Optional[TableGeometry] = None
    skip_table: Optional[TableGeometry] = None
    skip_source: Optional[str] = None
    skip_pixels: bool = False
    skip_shape: Optional[tuple[int, ...]] = None
    skip_stride: int = 1
    acc_lo: int = 0
    acc_hi: int = 0
    acc_bits: int = 2
    bias_bits: int = 2
    # lanes whose accumulators start (and reset) at a nonzero bias in some group: every other lane's
    # start value is the constant 0, and yosys folds its bias inputs out of every bank's write mux
    # (a slimmed VGG slice with random biases costs ~30 % more LUT than one with zero biases)
    bias_lanes: int = 0
    z_current: bool = False  # a stream layer: acc holds z, the fire pass adds bias + sign * z
    residual_source: Optional[str] = None  # the stream layer whose z_t initializes the accumulators
    writes_stream: bool = False  # a later layer reads this layer's z_t (its stream buffer)
    z_banks: int = 1  # banks of the stream buffer (pos % z_banks)
    stream_readers: int = 0  # layers that add this layer's stream (read ports of its stream buffer)
    residual_banks: int = 1  # banks of the residual source's stream buffer (a reader's bank select)
    signed_current: bool = False  # some channel's current_sign is -1 or 0 (the fire pass has the sign mux)
    cur_lo: int = 0  # the neuron's current: acc (bias included), or bias + sign * z for a stream layer
    cur_hi: int = 0
    cur_bits: int = 2
    v_bits: int = 0
    sum_bits: int = 0  # neuron update width: max(current, v) + 2, saturated to v_bits
    leak_shift: int = 0
    reset: str = "zero"
    fire_once: bool = False  # direct encoding fires all T steps once through a spike-train table
    n_breaks: int = 1
    # LUT columns of the per-channel neuron ROMs as yosys keeps them (hls.rom_bits): the breakpoint
    # and train ROMs of a fire-once layer, else the threshold ROM
    neuron_rom_bits: int = 0
    kernel: tuple[int, int] = (1, 1)  # conv kernel (kh, kw)
    stride: int = 1
    padding: int = 0
    pool_kernel: int = 0
    pool_stride: int = 0
    out_lanes: int = 1  # max pool: outputs per cycle (= its output banks)
    pool_ii: int = 1
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def channels(self) -> int:
        return int(self.out_shape[0])

    @property
    def acc_depth(self) -> int:
        return self.groups * self.plane_words

    @property
    def spike_write_groups(self) -> int:
        """Groups of output spike banks its writer writes together, under one enable: a pool its
        ``R`` banks at once; a neuron layer its ``F`` fire lanes into ``F`` banks, or into one half
        of ``2F`` banks (pos % OB) after the other. The twin keeps each group in one memory of
        ``out_banks / groups`` bits a word (rtl.verilog.buffer_body) and the model prices it so:
        one-bit banks would each fill a LUTRAM cell's 3 (7-series) or 7 (UltraScale) bits a word
        with one."""
        if self.kind == "maxpool":
            return 1
        return max(1, self.out_banks // max(1, self.fire_lanes))

    @property
    def v_depth(self) -> int:
        return self.channels * self.plane_words

    @property
    def is_neuron(self) -> bool:
        return self.kind in ("conv", "dense")


def accumulate_geometry(
    name: str,
    kind: str,
    weight: np.ndarray,
    bias: np.ndarray,
    in_shape: Sequence[int],
    time_steps: int,
    parallelism: int,
    *,
    w_bits: int,
    pixels: bool = False,
    in_banks: int = 1,
    pooled: bool = False,
    stride: int = 1,
    padding: int = 0,
    neuron=None,
    skip=None,
    skip_shape: Optional[Sequence[int]] = None,
    skip_pixels: bool = False,
    stats: Optional[WeightStats] = None,
    current_sign: Optional[np.ndarray] = None,
    residual: Optional[str] = None,
    residual_range: tuple[int, int] = (0, 0),
    residual_banks: int = 1,
    stream_readers_fire: Sequence[int] = (),
) -> LayerGeometry:
    """Geometry of a conv / dense neuron layer or the readout, from its integers.

    ``neuron`` is a :class:`spikehls.quantize.intnet.Neuron` (None for the readout), ``skip`` a
    :class:`spikehls.quantize.intnet.Skip` with the source's per-step ``skip_shape``. ``stats``
    (:class:`WeightStats` of ``weight``) spares the passes over the weights (the planner). A conv's
    residual stream: ``current_sign`` (None: all +1), ``residual`` (the source's name) with the
    source's stream range ``residual_range`` (its ``acc_lo, acc_hi``) and buffer banks
    ``residual_banks``, and the fire lanes of
    every layer reading this layer's stream (``stream_readers_fire``; none: not a writer).
    """
    weight = np.asarray(weight, dtype=np.int64)
    bias = np.asarray(bias, dtype=np.int64)
    T = int(time_steps)
    co = int(weight.shape[0])
    in_shape = tuple(int(x) for x in in_shape)
    if kind == "conv":
        _, _, kh, kw = weight.shape
        ho, wo = conv_out_size(in_shape[1], kh, stride, padding), conv_out_size(in_shape[2], kw, stride, padding)
        out_shape: tuple[int, ...] = (co, ho, wo)
        plane = ho * wo
        F = fire_lanes(parallelism, ho, wo)
        rows = weight.reshape(co, -1).T  # [(ci, ky, kx), co]
    else:
        out_shape = (co,)
        plane = 1
        F = 1
        rows = weight.T
    L = scatter_lanes(parallelism, co)
    G = -(-co // L)
    R = 1 if pixels else read_lanes(in_banks, in_shape[2] if kind == "conv" else 0)
    K = tap_lanes(weight.shape[3], F, G, pixels) if kind == "conv" else 1
    b2b = bool(kind == "conv" and events_back_to_back(weight.shape[2], weight.shape[3], K, G))
    OB = output_banks(F, out_shape[1], out_shape[2], pooled) if kind == "conv" else F
    table = table_geometry(rows, L, w_bits, co, stats)
    writes = len(stream_readers_fire) > 0
    stream = kind == "conv" and is_stream_layer(residual, current_sign, writes)
    acc_bias = np.zeros(co, np.int64) if stream else bias  # a stream layer's accumulators hold z (no bias)
    if stats is not None:
        lo, hi = stats.acc_range(acc_bias, PIXEL_MAX if pixels else 1)
    else:
        lo, hi = acc_range(weight.reshape(co, -1), acc_bias, PIXEL_MAX if pixels else 1)
    skip_table = None
    skip_stride = 1
    if skip is not None:
        st = np.diag(skip.gain) if skip.weight is None else np.asarray(skip.weight, dtype=np.int64)  # [co, cs]
        s_lo, s_hi = acc_range(st, np.zeros(co, np.int64), PIXEL_MAX if skip_pixels else 1)
        lo, hi = lo + s_lo, hi + s_hi
        skip_table = table_geometry(st.T, L, skip.w_bits if skip.weight is not None else 2, co)
        skip_stride = int(skip.stride)
    if stream and residual is not None:
        lo, hi = lo + int(residual_range[0]), hi + int(residual_range[1])
    if kind == "readout":
        lo, hi = T * lo, T * hi
    acc_bits = signed_bits(lo, hi)
    sign = np.ones(co, np.int64) if current_sign is None else np.asarray(current_sign, dtype=np.int64)
    cur_lo, cur_hi = current_range(bias, sign, lo, hi) if stream else (lo, hi)
    geo = dict(
        name=name,
        kind=kind,
        in_shape=in_shape,
        out_shape=out_shape,
        time_steps=T,
        pixels=bool(pixels),
        frames=1 if pixels else T,
        parallelism=int(parallelism),
        lanes=L,
        fire_lanes=F,
        groups=G,
        plane=plane,
        plane_words=plane // F,
        in_banks=int(in_banks),
        read_lanes=R,
        out_banks=OB if kind != "readout" else 1,
        tap_lanes=K,
        tap_words=tap_words(K),
        back_to_back=b2b,
        pooled=bool(pooled),
        table=table,
        skip_table=skip_table,
        skip_source=None if skip is None else skip.source,
        skip_pixels=bool(skip_pixels),
        skip_shape=None if skip_shape is None else tuple(int(x) for x in skip_shape),
        skip_stride=skip_stride,
        acc_lo=lo,
        acc_hi=hi,
        acc_bits=acc_bits,
        bias_bits=signed_bits(int(bias.min(initial=0)), int(bias.max(initial=0))),
        bias_lanes=count_live_lanes(acc_bias != 0, L),
        z_current=stream,
        residual_source=residual if stream else None,
        writes_stream=stream and writes,
        z_banks=stream_banks(F, stream_readers_fire) if stream and writes else 1,
        stream_readers=len(stream_readers_fire) if stream else 0,
        residual_banks=int(residual_banks) if stream and residual is not None else 1,
        signed_current=stream and bool((sign != 1).any()),
        cur_lo=cur_lo,
        cur_hi=cur_hi,
        cur_bits=signed_bits(cur_lo, cur_hi),
        kernel=(int(weight.shape[2]), int(weight.shape[3])) if kind == "conv" else (1, 1),
        stride=int(stride),
        padding=int(padding),
    )
    if neuron is not None:
        from spikehls.hls.rom_bits import threshold_columns
        from spikehls.hls.spike_trains import train_breaks, train_rom_columns

        # a stream layer fires per step: its stream buffer is written at every step
        nb = train_breaks(neuron, T, acc_bits) if pixels and not stream else None
        rom_bits = train_rom_columns(neuron, T, acc_bits) if nb is not None else threshold_columns(neuron)
        geo.update(
            neuron_rom_bits=int(rom_bits),
            v_bits=int(neuron.v_bits),
            sum_bits=max(signed_bits(cur_lo, cur_hi), int(neuron.v_bits)) + 2,
            leak_shift=int(neuron.leak_shift),
            reset=str(neuron.reset),
            fire_once=nb is not None,
            n_breaks=int(nb) if nb is not None else 1,
        )
    return LayerGeometry(**geo)


def is_stream_layer(residual: Optional[str], current_sign: Optional[np.ndarray], writes_stream: bool) -> bool:
    """Whether a conv is built as a stream layer (accumulators hold ``z``; module docstring):
    it reads or writes a residual stream, or some channel's current sign is not +1."""
    trivial_sign = current_sign is None or bool((np.asarray(current_sign) == 1).all())
    return residual is not None or bool(writes_stream) or not trivial_sign


def stream_banks(writer_fire_lanes: int, reader_fire_lanes: Sequence[int]) -> int:
    """Banks of a stream buffer: ``lcm`` of the writer's and the readers' fire lanes. All are
    row-aligned divisors of the plane, so their lcm divides it too, and ``F`` aligned neighbouring
    positions of either side fall into ``F`` distinct banks of one buffer word."""
    return math.lcm(int(writer_fire_lanes), *(int(f) for f in reader_fire_lanes))


def current_range(bias: np.ndarray, sign: np.ndarray, z_lo: int, z_hi: int) -> tuple[int, int]:
    """``(lo, hi)`` of ``bias[c] + sign[c] * z`` over channels for ``z`` in ``[z_lo, z_hi]`` (0 included)."""
    b = np.asarray(bias, dtype=np.int64)
    s = np.asarray(sign, dtype=np.int64)
    lo = b + np.minimum(s * z_lo, s * z_hi)
    hi = b + np.maximum(s * z_lo, s * z_hi)
    return int(lo.min(initial=0)), int(hi.max(initial=0))


def pool_geometry(name: str, in_shape: Sequence[int], time_steps: int, kernel: int, stride: int, in_banks: int) -> LayerGeometry:
    """Geometry of an OR max pool reading a producer of ``in_banks`` banks."""
    c, h, w = (int(x) for x in in_shape)
    ho, wo = conv_out_size(h, kernel, stride, 0), conv_out_size(w, kernel, stride, 0)
    R = pool_lanes(in_banks, kernel, stride, wo)
    return LayerGeometry(
        name=name,
        kind="maxpool",
        in_shape=(c, h, w),
        out_shape=(c, ho, wo),
        time_steps=int(time_steps),
        frames=int(time_steps),
        plane=ho * wo,
        in_banks=int(in_banks),
        out_banks=R,
        pool_kernel=int(kernel),
        pool_stride=int(stride),
        out_lanes=R,
        pool_ii=pool_interval(kernel, stride, in_banks, R),
    )


@dataclass(frozen=True)
class PoolWalk:
    """How the twin's max pool walks its input without a divider or a multiplier (the one rule the
    Verilog generator and the cost model share, like :mod:`spikehls.hls.lanes`).

    The span of one window row (``span = s (R - 1) + k`` inputs from ``base``) is read word by word
    from word ``base / IOB``. ``base`` moves between window rows by one of four constants
    (``steps``: next window row, next segment of R outputs, next output row, next channel; 0 where
    the FSM never takes it), so the pool keeps ``base`` as a (word, offset) pair and adds a constant
    with one carry. Every step and the word width are multiples of ``unit``, so the offset is kept
    in those units and span input ``p`` is found in the word read by a select of ``cases[p]``
    constant bits -- the offsets it can have there (a 12-wide plane in 24-bit words: 2, not 24)."""

    span: int
    unit: int
    steps: tuple[int, int, int, int]
    word_bits: int  # wf / wd: the input word, one spare bit for the modular steps
    offset_bits: int  # off: offset of the span start in its word, in units
    rel_bits: int  # rel_u: signed, (base - wd IOB) / unit in (-span / unit, IOB / unit)
    cases: tuple[tuple[int, ...], ...]  # per span input p: the rel_u values that put it in the word

    @staticmethod
    def of(g: "LayerGeometry") -> "PoolWalk":
        c, h, w = g.in_shape
        _, ho, wo = g.out_shape
        k, s, R, IOB = g.pool_kernel, g.pool_stride, g.out_lanes, g.in_banks
        segs = wo // R
        span = s * (R - 1) + k
        back = (k - 1) * w + (segs - 1) * R * s
        steps = (w, R * s - (k - 1) * w if segs > 1 else 0, s * w - back if ho > 1 else 0,
                 h * w - back - (ho - 1) * s * w if c > 1 else 0)
        u = math.gcd(IOB, *steps)
        cases = tuple(tuple(v for v in range(-(p // u), (IOB - 1 - p) // u + 1) if 0 <= v * u + p < IOB) for p in range(span))
        words = max(1, (c * h * w) // IOB)
        return PoolWalk(span=span, unit=u, steps=steps, word_bits=unsigned_bits(max(words - 1, 1)) + 1,
                        offset_bits=unsigned_bits(max(IOB // u - 1, 1)),
                        rel_bits=unsigned_bits(max((max(IOB, span) + span) // u, 1)) + 2, cases=cases)


def layer_parallelism(
    board,
    names: Sequence[str],
    parallelism: Optional[int] = None,
    overrides: Optional[Mapping[str, int]] = None,
    *,
    strict: bool = True,
) -> dict[str, int]:
    """The parallelism knob P of every layer in ``names``, by the one precedence the HLS project,
    the cost model and the planner share: per-layer override > ``parallelism`` (one value for
    every layer) > the board's ``hls.layer_parallelism`` > the board's ``hls.parallelism``.

    ``board`` is a :class:`spikehls.boards.Board`. ``strict`` (the HLS project) refuses override
    or board entries naming no layer; the cost model, handed a planner's mapping, ignores them.
    """
    from spikehls.errors import SpikehlsError

    overrides = dict(overrides or {})
    board_layers = board.hls.layer_parallelism
    if strict:
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise SpikehlsError(f"--layer-parallelism: unknown layer(s) {', '.join(unknown)}; layers are {', '.join(names)}")
        unknown_b = sorted(set(board_layers) - set(names))
        if unknown_b:
            raise SpikehlsError(f"{board.source}: hls.layer_parallelism names unknown layer(s) {', '.join(unknown_b)}")
    out = {}
    for n in names:
        if n in overrides:
            p = overrides[n]
        elif parallelism is not None:
            p = parallelism
        else:
            p = board_layers.get(n, board.hls.parallelism)
        if not isinstance(p, (int, np.integer)) or p < 1:
            raise SpikehlsError(f"parallelism of layer {n} must be an integer >= 1, got {p!r}")
        out[n] = int(p)
    return out


def net_geometry(net, parallelism: Mapping[str, int]) -> list[LayerGeometry]:
    """Every layer of an :class:`~spikehls.quantize.intnet.IntNet` at the given per-layer
    parallelism (layers missing from the mapping take 1), in order; each layer reads what its
    predecessor's banks give (the graph input is one bank)."""
    from spikehls.quantize.intnet import MaxPool2d, Readout, SpikingConv2d

    shapes = net.shapes()
    readers_fire = stream_readers(net, parallelism)
    out: list[LayerGeometry] = []
    by_name: dict[str, LayerGeometry] = {}
    prev, banks = "input", 1
    pixel_layers = {"input"} if net.encoding == "direct" else set()
    for i, lyr in enumerate(net.layers):
        in_shape = shapes[prev]
        if isinstance(lyr, MaxPool2d):
            g = pool_geometry(lyr.name, in_shape, net.time_steps, lyr.kernel, lyr.stride, banks)
        else:
            pooled = i + 1 < len(net.layers) and isinstance(net.layers[i + 1], MaxPool2d)
            kind = "conv" if isinstance(lyr, SpikingConv2d) else ("readout" if isinstance(lyr, Readout) else "dense")
            skip = getattr(lyr, "skip", None)
            residual = getattr(lyr, "residual", None)
            g = accumulate_geometry(
                lyr.name,
                kind,
                lyr.weight,
                lyr.bias,
                in_shape,
                net.time_steps,
                int(parallelism.get(lyr.name, 1)),
                w_bits=int(lyr.w_bits),
                pixels=prev in pixel_layers,
                in_banks=banks,
                pooled=pooled,
                stride=int(getattr(lyr, "stride", 1)),
                padding=int(getattr(lyr, "padding", 0)),
                neuron=getattr(lyr, "neuron", None),
                skip=skip,
                skip_shape=None if skip is None else shapes[skip.source],
                skip_pixels=skip is not None and skip.source in pixel_layers,
                current_sign=getattr(lyr, "current_sign", None),
                residual=residual,
                residual_range=(by_name[residual].acc_lo, by_name[residual].acc_hi) if residual is not None else (0, 0),
                residual_banks=by_name[residual].z_banks if residual is not None else 1,
                stream_readers_fire=readers_fire.get(lyr.name, ()),
            )
        out.append(g)
        by_name[g.name] = g
        banks = g.out_banks
        prev = lyr.name
    return out


def stream_readers(net, parallelism: Mapping[str, int]) -> dict[str, list[int]]:
    """Per stream source of ``net``: the fire lanes of every layer that adds its stream (``residual``)."""
    shapes = net.shapes()
    out: dict[str, list[int]] = {}
    for lyr in net.layers:
        src = getattr(lyr, "residual", None)
        if src is not None:
            _, ho, wo = shapes[lyr.name]
            out.setdefault(src, []).append(fire_lanes(int(parallelism.get(lyr.name, 1)), ho, wo))
    return out
