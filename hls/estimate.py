"""Analytic resource and latency model of the generated spiking HLS design (DESIGN.md section 7).

No vendor tool runs here, so this model stands in for synthesis until a user runs it (then
:mod:`spikehls.hls.reports` supplies ``csynth`` / ``vivado_synth`` figures that replace these).
Every figure it returns is labelled ``source: "estimate"``.

What is modelled is what the kernels in ``hls/cpp/nnet_spiking*.h`` instantiate, layer by layer
(io_parallel; one call = one sample; the time loop inside each layer). The project
(:mod:`spikehls.hls.project`) builds the top function as a DATAFLOW region whose spike arrays stay
memories (their complete partition is removed): each layer needs its producer's whole
``[T, ...]`` array, so the latency of one sample is the **sum** of the layers' latencies, and a
new sample can enter every **max** layer latency (the interval). Every array between two
dataflow processes is a ping-pong buffer: two copies.

P is a layer's parallelism knob; the kernels turn it into two lane counts
(read from :func:`spikehls.hls.geometry.net_geometry`, the one geometry the IR layers and the RTL
read; its lane rules are :mod:`spikehls.hls.lanes`): ``L = min(P, channels)``
scatter lanes and ``F`` = the most row-aligned positions <= P (a divisor of the output row, or
whole rows: :func:`~spikehls.hls.lanes.row_lanes`; 1 for dense layers and the readout) fire lanes; ``G = ceil(C / L)`` channel groups, ``W = HW / F``
plane words. Accumulators live in ``L x F`` banks (channel % L, position % F) of ``G W`` words,
membranes in ``F`` banks (position % F), output spikes in ``OB`` banks: ``F``, or ``2F``
(row-aligned) when a max pool reads the layer (:func:`~spikehls.hls.lanes.output_banks`).

Spiking conv / dense (``spiking_conv2d``, ``spiking_dense``; ``direct_*`` for the direct-encoded
first layer), per sample::

    init        acc = bias (L x F words per cycle)                G W + D_INIT
                (membranes start at 0 in the first fire pass: no pass)
    TimeLoop t < T  (direct encoding: the walk runs for t = 0 only -- the frame repeats, the
                     current is kept; "frames" = 1 instead of T)
      scan           R input positions per cycle (R = read
                     lanes: the producer's banks), pipelined
                     II=1, words with an active input listed: ceil(n_in / R) SCAN + D_COMPACT + LOOP_ENTRY
      events         for every active input of the listed
                     words (one per iteration):               EVENT cycles, then
                       G == 1: the tap loop is pipelined (each
                       row has at most one chunk); K = kw tap
                       lanes take a kernel row per cycle:     kh kw / K TAP + D_SCATTER
                       ... and when the kernel's rows keep
                       consecutive events of a channel apart
                       (lanes.events_back_to_back): one
                       pipelined loop per input channel:      kh kw / K TAP (+ C_in (LOOP_ENTRY +
                                                              D_SCATTER) per frame, no EVENT)
                       G > 1: for each kernel tap             TAP cycles
                         if the tap reaches an output: the
                         row's chunks, pipelined II=1 (L adds
                         each)                                chunks_row + D_SCATTER
                       dense / readout, G == 1: the event loop
                       is pipelined (registers)               (+ D_SCATTER once per frame)
                       dense / readout, G > 1: the row's
                       chunks                                 TAP + D_SCATTER + chunks_row
      skip current   same walk over the skip source (1x1 table)
      fire_all       one flat pipelined pass, F neurons/cycle,
                     also resets acc to bias for the next step     C W + D_FIRE + LOOP_ENTRY
    direct encoding with a spike-train table (hls/spike_trains.py): no per-step fire; one pass
    at t = 0 writes all T spikes of F neurons per cycle (T writes per
    output bank on two ports)                                      C W ceil(T / 2) + D_FIRE + LOOP_ENTRY

  Resources:
  * ``K L`` accumulate lanes (K taps of L lanes), each an ``acc_bits``-wide adder with its pipeline register:
    ``acc_bits`` LUT + ``acc_bits`` FF per lane ("a gated accumulator costs about 1 LUT and
    1 FF per bit on 7-series/UltraScale", DESIGN §7; FINN's ``acc_luts = acc_bits``).
    Direct encoding: each lane also multiplies an 8-bit pixel by a ``w_bits`` weight; below
    9-bit weights this is a LUT multiplier (hls4ml's rule: no DSP), costed with FINN's
    ``(2 ceil((W+A)/6) - 1)(W+A)`` LUT; from 9 bits one DSP per lane and no multiplier LUT.
  * No crossbar: slot j of a table chunk is channel ``g L + j``, so lane j only ever writes
    bank row j. A lane picks one of its F position banks (``pos % F``, the same for every
    lane): an F:1 mux per lane, ``acc_bits * ceil((F-1)/3)`` LUT (a LUT6 is a 4:1 mux). One
    shared word address (x2 for conv: ``oy Wo + ox`` first).
  * ``acc``: ``L F`` banks of ``G W`` words; ``v`` (membranes, ``v_bits``): ``F`` banks of ``C W``.
  * F neuron units (fire_all unrolled by F): leak subtract (LIF only), add, saturate, compare,
    reset: ``4 * sum_bits (+ v_bits for LIF)`` LUT, ``3 * sum_bits`` FF each, with
    ``sum_bits = max(acc_bits, v_bits) + 2`` (the geometry's, the width of ``sum_t``);
    each reads its accumulator from one of the L lane banks (an L:1 mux per fire lane).
  * Direct encoding with a spike-train table instead: per fire lane ``n_breaks`` comparators of
    the current against the channel's boundaries (``acc_bits + 1`` LUT each), the piece count
    and a ``T``-bit train mux; the boundaries and trains are per-channel ROM words; no membrane
    memory and no threshold.
  * Widths are the geometry's, derived from the integers: ``acc_bits`` holds bias + all
    positive (negative) fan-in weights (x255 for pixels, a pixel skip source included; xT for the readout),
    groups ``bits(G - 1)``, offsets ``bits(chunks)``.
  * Weight memory = the chunked table the kernel reads (:func:`spikehls.hls.layers.chunk_table`):
    one word per chunk of ``L w_bits + group_bits`` (the weights array is reshaped by L, so a
    chunk is one read), ``offsets`` (``n_rows + 1`` words), ``bias`` (partitioned by L) and
    ``thr`` (one word per output channel). A channel group with no nonzero weight in a row has
    no chunk: pruning shrinks the table and the cycles, not the lanes.
  * The output spike array ``res[T * n_out]`` (1 bit) is a memory owned by the producing layer
    in OB banks (the project partitions it cyclic by OB), two copies (ping-pong between
    dataflow processes); with ``OB = 2F`` each fire lane picks one of two banks (a 1-bit demux,
    ``out_demux``).
  * Control: a base FSM cost plus one counter per loop (``2 * bits`` LUT, ``bits`` FF).
  * The first layer reads the top-level input as a memory port (``ap_memory``, the project
    rewrites hls4ml's io_parallel default of one ``T * n_in * bits`` register port): an address
    counter, ``bits(words read)`` LUT and FF; direct encoding reads frame 0 only.
  * The event list of one frame: ``n_in`` words of the input coordinates (conv: channel, row,
    column bits; dense/readout: the index) plus the pixel (direct) or a spare bit.

Readout (``spike_readout``): the same accumulate engine (L lanes, F = 1) with accumulators wide
enough for the sum over T (``out[k] = sum_t (b_k + sum_i W_ki s_t[i])``), a bias pass of G words
per step, no neuron, no output spike array.
Max pool (``spike_maxpool2d``): a pipelined OR over the window, ``R_o`` neighbouring outputs of one
output row per cycle (:func:`~spikehls.hls.lanes.pool_lanes`: as many as the producer's F banks of
two read ports serve at once); the initiation interval is
``ceil(k ceil((s (R_o - 1) + k) / F) / 2)`` (:func:`~spikehls.hls.lanes.pool_interval`; 2 for an
unbanked input and k = 2), and its output is banked by ``R_o`` for the next layer's scan.

Memories are costed by size as Vitis binds them by default (:func:`memory_cost`): registers for
one or two words, LUTRAM / distributed ROM (``width * ceil(depth / 64)`` LUT, a LUT6 holds 64x1
bits; FINN's ``c2`` term) up to 1,024 bits or 64 words, URAM (4K x 72) on parts that have it for
memories of at least half a URAM, else RAMB18 in the aspect ratio that needs the fewest blocks
(16Kx1, 8Kx2, 4Kx4, 2Kx9, 1Kx18, 512x36; UG473). For wide weight memories this is hls4ml's
``ceil(n_weights * bits / (RF * 36))``.

Cycles: the **static worst case** assumes every input position spikes at every time step; the
**activity-based** figure uses the per-layer event counts the C-simulation reports (input
events and synaptic operations per sample): the walk and fire costs are fixed, the per-event
overhead scales with input events, and the scatter cycles with synaptic operations.

Monotonicity (tested): more parallelism means fewer cycles and more LUT; fewer channels or more
zero weights never mean more BRAM18, URAM, DSP or cycles, and never a larger memory-equivalent
area (LUT or FF + 288 per RAMB18, the LUT6 count of 18 Kbit of LUTRAM). A single LUT or FF
count can rise by a few dozen where a shrinking array leaves BRAM for LUTRAM, as it does in
Vitis; the co-design loop should therefore compare budgets, not single steps of one resource.

Known limits (say so when quoting these numbers): the loops are taken at II = 1 as the
kernels are written for it -- lanes on distinct banks by construction and ``DEPENDENCE inter
false`` where one event's updates are provably distinct -- but no Vitis run has confirmed the
schedule. The direct layer multiplies one tap per cycle and every layer fires its whole plane
each step: at MNIST size these bound the latency, and the accumulator banks the area.
The AXI/handshake logic of the top is not counted, and the model was calibrated on no real
synthesis run -- it is a consistent, monotone yardstick for co-design, not a promise of
post-route figures.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional, Union

import numpy as np

from spikehls.boards import RESOURCE_KINDS, Board
from spikehls.errors import SpikehlsError
from spikehls.hls.geometry import LayerGeometry, layer_parallelism, mac_in_dsp, net_geometry, unsigned_bits
from spikehls.hls.lanes import SCATTER_DEPTH, chunks_per_row
from spikehls.quantize.intnet import IntNet, MaxPool2d, Readout, SpikingConv2d, SpikingDense

# ---- cycle constants of the loop structure (Vitis HLS scheduling of the kernels) -----------------
SCAN_CYCLES = 1  # one input position in the compaction pass (pipelined II=1: read, test, append to the event list)
D_COMPACT = 2  # pipeline depth of the compaction pass (once per frame)
EVENT_CYCLES = 1  # one event taken from the list (read it, enter its taps / row)
TAP_CYCLES = 1  # one kernel tap of a spiking input: conv_target check + offsets read
D_SCATTER = SCATTER_DEPTH  # pipeline depth of scatter_add: read table entry, read acc bank, add + write (lanes.py)
D_INIT = 2  # pipeline depth of init_currents
D_FIRE = 4  # pipeline depth of neuron_step (leak, add, saturate, compare/reset)
LOOP_ENTRY = 1  # cycles to enter / leave one non-pipelined loop level

# ---- resource constants ----------------------------------------------------------------------------
CTRL_LUT = 40  # FSM + handshake of one layer function
CTRL_FF = 30
LUTRAM_MAX_BITS = 1024  # Vitis binds smaller arrays (or <= 64 words) to LUTs
LUTRAM_MAX_DEPTH = 64
URAM_MIN_BITS = 147456  # half a URAM (4096 x 72 / 2): below it a RAMB18 set is the better bind
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
PIXEL_BITS = 8  # direct encoding: the first layer multiplies 8-bit pixels
PIPO_COPIES = 2  # an array between two DATAFLOW processes is a ping-pong buffer


def mux_luts(n_inputs: int, width: int) -> int:
    """LUT6 count of an n:1 multiplexer of ``width`` bits (a LUT6 is a 4:1 mux; a tree needs (n-1)/3)."""
    return 0 if n_inputs <= 1 else width * math.ceil((n_inputs - 1) / 3)


def lut_multiplier(w_bits: int, a_bits: int) -> int:
    """LUTs of a W x A multiplier in fabric (FINN ``lut_estimation``: (2 ceil((W+A)/6) - 1)(W+A))."""
    s = w_bits + a_bits
    return (2 * math.ceil(s / 6) - 1) * s


@dataclass
class MemCost:
    """What one array binds to, and its cost."""

    kind: str  # "none" | "registers" | "const" | "lutram" | "bram18" | "uram"
    LUT: int = 0
    FF: int = 0
    BRAM18: int = 0
    URAM: int = 0


def memory_cost(width: int, depth: int, *, rom: bool, has_uram: bool) -> MemCost:
    """Cost of one ``depth x width`` array as Vitis binds it by default (see module docstring)."""
    width, depth = int(width), int(depth)
    bits = width * depth
    if bits <= 0:
        return MemCost("none")
    if depth <= 2:
        # a ROM of one or two constants folds into logic; a RAM of one or two words is registers
        return MemCost("const") if rom else MemCost("registers", LUT=width if depth == 2 else 0, FF=bits)
    if bits <= LUTRAM_MAX_BITS or depth <= LUTRAM_MAX_DEPTH:
        return MemCost("lutram", LUT=width * math.ceil(depth / 64), FF=0 if rom else width)
    if has_uram and bits >= URAM_MIN_BITS:
        return MemCost("uram", URAM=math.ceil(width / 72) * math.ceil(depth / 4096))
    n = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM18_SHAPES)
    return MemCost("bram18", BRAM18=n)


@dataclass
class LayerEstimate:
    """Resources and cycles of one layer. ``cycles_activity`` is None without event counts."""

    name: str
    kind: str  # conv | dense | direct_conv | direct_dense | readout | maxpool
    parallelism: int
    LUT: int
    FF: int
    BRAM18: int
    URAM: int
    DSP: int
    cycles_worst: int
    cycles_activity: Optional[float] = None
    detail: dict[str, Any] = field(default_factory=dict)
    source: str = "estimate"

    def resources(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in RESOURCE_KINDS}


@dataclass
class Estimate:
    """The whole design: per-layer figures, totals, latency at the board clock."""

    per_layer: list[LayerEstimate]
    total: dict[str, int]
    cycles_worst: int
    cycles_activity: Optional[float]
    clock_mhz: float
    interval_worst: int = 0  # DATAFLOW: a new sample every max layer latency
    source: str = "estimate"

    @property
    def us_worst(self) -> float:
        return self.cycles_worst / self.clock_mhz

    @property
    def us_activity(self) -> Optional[float]:
        return None if self.cycles_activity is None else self.cycles_activity / self.clock_mhz

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "total": dict(self.total),
            "latency": {
                "cycles": {"worst": self.cycles_worst, "activity": self.cycles_activity},
                "us": {"worst": self.us_worst, "activity": self.us_activity},
                "interval_cycles": self.interval_worst,
                "clock_mhz": self.clock_mhz,
            },
            "per_layer": [asdict(le) for le in self.per_layer],
        }


class _Acc:
    """Running sum of resources of one layer, with an itemised breakdown for the report."""

    def __init__(self) -> None:
        self.r = {k: 0 for k in RESOURCE_KINDS}
        self.items: dict[str, dict[str, int]] = {}

    def add(self, item: str, **res: int) -> None:
        for k, v in res.items():
            self.r[k] += int(v)
        slot = self.items.setdefault(item, {})
        for k, v in res.items():
            if v:
                slot[k] = slot.get(k, 0) + int(v)

    def mem(self, item: str, width: int, depth: int, *, rom: bool, has_uram: bool, copies: int = 1) -> MemCost:
        m = memory_cost(width, depth, rom=rom, has_uram=has_uram)
        self.add(item, LUT=copies * m.LUT, FF=copies * m.FF, BRAM18=copies * m.BRAM18, URAM=copies * m.URAM)
        return m

    def counter(self, trip: int) -> None:
        b = unsigned_bits(trip)
        self.add("control", LUT=2 * b, FF=b)


def _count(x: Any) -> Any:
    """A count per sample: a float, or a float array (one entry per sample, :func:`latency_per_sample`)."""
    return np.asarray(x, dtype=np.float64) if np.ndim(x) else float(x)


def _events(events: Optional[Mapping[str, Any]], name: str) -> tuple[Any, Any]:
    """(input events, synops) per sample for a layer; a bare number is input events."""
    if not events or name not in events:
        return None, None
    e = events[name]
    if isinstance(e, Mapping):
        ie, so = e.get("in_events"), e.get("synops")
        return (None if ie is None else _count(ie)), (None if so is None else _count(so))
    return _count(e), None


def _resolve_parallelism(net: IntNet, board: Board, parallelism: Union[int, Mapping[str, int], None]) -> dict[str, int]:
    """Parallelism of every layer of ``net``: :func:`spikehls.hls.geometry.layer_parallelism` (the
    one precedence, shared with the HLS project), an int standing for every layer, a mapping for
    per-layer overrides; names the net does not have are ignored here (a planner's mapping)."""
    names = [lyr.name for lyr in net.layers]
    if isinstance(parallelism, Mapping):
        return layer_parallelism(board, names, None, parallelism, strict=False)
    return layer_parallelism(board, names, parallelism, None, strict=False)


def _conv_valid_counts(in_len: int, k: int, pad: int, stride: int, out_len: int) -> np.ndarray:
    """For every kernel offset, how many input coordinates reach an output through it (conv_target)."""
    idx = np.arange(in_len)[None, :] + pad - np.arange(k)[:, None]
    ok = (idx >= 0) & (idx % stride == 0) & (idx // stride < out_len)
    return ok.sum(axis=1)


@dataclass
class _Walk:
    """Cycle parts of one accumulate phase (all frames of one sample)."""

    fixed: int = 0  # independent of activity (scan of every position)
    per_event_worst: int = 0  # tap checks + scatter loop entry/drain for every event
    scatter_worst: int = 0  # table chunks over every (event, valid tap)
    events_worst: int = 0  # input positions x frames
    synops_worst: int = 0  # additions when everything spikes

    def activity(self, in_events: float, synops: Optional[float]) -> float:
        if self.events_worst == 0:
            return float(self.fixed)
        a = np.clip(in_events / self.events_worst, 0.0, 1.0)  # floats, or arrays of samples
        if synops is not None and self.synops_worst > 0:
            scatter = self.scatter_worst * np.clip(synops / self.synops_worst, 0.0, 1.0)
        else:
            scatter = a * self.scatter_worst
        return self.fixed + a * self.per_event_worst + scatter

    def __add__(self, o: "_Walk") -> "_Walk":
        return _Walk(*(getattr(self, f) + getattr(o, f) for f in ("fixed", "per_event_worst", "scatter_worst", "events_worst", "synops_worst")))


def _walk_conv(weight: np.ndarray, frames: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...], pad: int, stride: int, lanes: int, read: int = 1, taps: int = 1, back_to_back: bool = False) -> _Walk:
    co, ci, kh, kw = weight.shape
    _, H, W = in_shape
    _, Ho, Wo = out_shape
    rows = weight.reshape(co, -1).T  # [(ci, ky, kx), co]
    chunks = chunks_per_row(rows, lanes).reshape(ci, kh, kw)
    nnz = np.count_nonzero(weight, axis=0)  # [ci, kh, kw]
    cy = _conv_valid_counts(H, kh, pad, stride, Ho)  # [kh]
    cx = _conv_valid_counts(W, kw, pad, stride, Wo)  # [kw]
    reach = cy[:, None] * cx[None, :]  # [kh, kw] input positions per channel reaching an output
    n_in = ci * H * W
    synops = int((nnz * reach[None]).sum())
    fixed = -(-n_in // read) * SCAN_CYCLES + D_COMPACT + LOOP_ENTRY  # ``read`` positions per scan cycle
    if -(-co // lanes) == 1:
        # one chunk per row at most: the tap loop itself is pipelined (II=1, one drain per event);
        # ``taps`` = kw: a whole kernel row per cycle (tap_lanes)
        per_event = n_in * (EVENT_CYCLES + kh * kw // taps * TAP_CYCLES + D_SCATTER)
        scatter = 0
        if back_to_back:
            # the events of one input channel follow each other in one pipelined loop: no event
            # overhead, no drain per event; one loop entry and one drain per input channel
            per_event = n_in * kh * kw // taps * TAP_CYCLES
            fixed += ci * (LOOP_ENTRY + D_SCATTER)
    else:
        valid_taps = int(reach.sum()) * ci
        per_event = n_in * (EVENT_CYCLES + kh * kw * TAP_CYCLES) + valid_taps * D_SCATTER
        scatter = int((chunks * reach[None]).sum())
    return _Walk(frames * fixed, frames * per_event, frames * scatter, frames * n_in, frames * synops)


def _walk_dense(weight: np.ndarray, frames: int, lanes: int, read: int = 1) -> _Walk:
    n_in = weight.shape[1]
    nnz = np.count_nonzero(weight, axis=0)  # [n_in]: table row i
    scatter = int(chunks_per_row(weight.T, lanes).sum())
    fixed = -(-n_in // read) * SCAN_CYCLES + D_COMPACT + LOOP_ENTRY
    if -(-weight.shape[0] // lanes) == 1:
        # one group: a row is at most one chunk and every accumulator a register, so the event
        # loop itself is pipelined (II=1, one drain per frame)
        return _Walk(frames * (fixed + D_SCATTER), frames * n_in * EVENT_CYCLES, 0, frames * n_in, frames * int(nnz.sum()))
    per_event = n_in * (EVENT_CYCLES + TAP_CYCLES + D_SCATTER)
    return _Walk(frames * fixed, frames * per_event, frames * scatter, frames * n_in, frames * int(nnz.sum()))


def _walk_skip(lyr: SpikingConv2d, src_shape: tuple[int, ...], out_shape: tuple[int, ...], frames: int, lanes: int) -> _Walk:
    skip = lyr.skip
    co, Ho, Wo = out_shape
    cs = src_shape[0]
    table = np.diag(skip.gain) if skip.weight is None else skip.weight  # [co, cs]
    nnz = np.count_nonzero(table, axis=0)  # [cs]
    positions = Ho * Wo  # the skip walk samples the source on the output grid
    scatter = int(chunks_per_row(table.T, lanes).sum()) * positions
    return _Walk(
        frames * cs * positions * SCAN_CYCLES,
        frames * cs * positions * D_SCATTER,
        frames * scatter,
        frames * cs * positions,
        frames * int(nnz.sum()) * positions,
    )


def _spiking_layer(lyr, g: LayerGeometry, net: IntNet, first: bool, has_uram: bool, events) -> LayerEstimate:
    """Cost of a conv / dense neuron layer or the readout, built as ``g`` (:mod:`spikehls.hls.geometry`)."""
    T = g.time_steps
    direct = g.pixels
    frames = g.frames  # direct encoding: the repeated frame's current is computed once
    in_shape, out_shape = g.in_shape, g.out_shape
    n_out = g.n_out
    is_conv = g.kind == "conv"
    is_readout = g.kind == "readout"
    co = g.channels
    plane = g.plane
    table = g.table
    n_rows = table.rows  # conv: ci*kh*kw, dense/readout: n_in
    L, F, G = g.lanes, g.fire_lanes, g.groups  # scatter lanes (banks by channel), fire lanes (by position), groups
    R = g.read_lanes  # input positions per scan cycle
    K = g.tap_lanes  # kernel taps per cycle
    TW = g.tap_words  # table chunks per word / offset banks (a window of K chunks, K + 1 offsets)
    B2B = g.back_to_back  # a channel's events overlap
    words = g.plane_words  # plane words per bank
    OB = g.out_banks  # banks of the output
    n_chunks = table.chunks
    n_table = table.nnz
    skip_chunks = g.skip_table.chunks if g.skip_table is not None else 0
    acc_bits = g.acc_bits
    group_bits = table.group_bits
    index_bits = table.index_bits

    a = _Acc()
    # L accumulate lanes, lane j fixed on bank row j: an adder + pipeline register each
    a.add("lanes", LUT=K * L * acc_bits, FF=K * L * acc_bits)  # K taps per cycle: K adders per lane
    dsp = 0
    if direct:
        if mac_in_dsp(table.weight_bits):  # the rule the RTL's MAC lanes follow
            dsp = L
            a.add("multipliers", DSP=L)
        else:
            a.add("multipliers", LUT=L * lut_multiplier(table.weight_bits, PIXEL_BITS))
    # a lane reaches the F position banks of its row (pos % F, the same for all lanes): F:1 read mux
    a.add("bank_select", LUT=K * L * mux_luts(F, acc_bits))
    if K > 1:  # each accumulator bank takes its write from one of the K taps
        a.add("tap_select", LUT=L * F * mux_luts(K, acc_bits))
    # one shared word address (group * plane_words + pos / F); conv also computes pos = oy*Wo + ox
    a.add("address", LUT=unsigned_bits(n_out) * (2 if is_conv else 1))
    if F & (F - 1):
        # F is not a power of two: each tap's bank (pos % F) and word (pos / F) come from a
        # constant divider on the narrow position, shift-and-add logic in LUTs
        a.add("bank_divide", LUT=K * unsigned_bits(plane) * unsigned_bits(F))
    a.mem("acc", acc_bits, G * words, rom=False, has_uram=has_uram, copies=L * F)
    # chunked nonzero table: one wide word of L weights + the group per chunk; row offsets; bias
    a.mem("weights", TW * (L * table.weight_bits + group_bits), -(-max(n_chunks, 1) // TW), rom=True, has_uram=has_uram)
    a.mem("offsets", index_bits, -(-(n_rows + 1) // TW), rom=True, has_uram=has_uram, copies=TW)
    a.mem("bias", g.bias_bits, G, rom=True, has_uram=has_uram, copies=L)
    # the word list of one frame: where every listed R-position word starts (conv: channel, row,
    # column; dense/readout: the word index), its R-bit mask and a value (the pixel when direct)
    n_in_frame = int(np.prod(in_shape))
    n_words = -(-n_in_frame // R)
    if is_conv:
        ev_bits = sum(unsigned_bits(max(d - 1, 1)) for d in in_shape)
    else:
        ev_bits = unsigned_bits(max(n_in_frame - 1, 1))
    ev_bits += R + (PIXEL_BITS if direct else 1)
    a.mem("event_list", ev_bits, n_words, rom=False, has_uram=has_uram)
    if R > 1:
        # R activity tests, a popcount and a priority encoder over the R-bit mask
        a.add("word_scan", LUT=3 * R + 2 * unsigned_bits(R), FF=R + unsigned_bits(R))
    if B2B:
        # events per input channel: C_in + 1 counters (a word may straddle two channels)
        a.mem("channel_events", unsigned_bits(n_in_frame), in_shape[0] + 1, rom=False, has_uram=has_uram)
        a.add("channel_split", LUT=2 * R + 2 * unsigned_bits(n_in_frame))
    a.counter(n_words)
    if first:
        # memory port (ap_memory): an address counter; direct encoding reads frame 0 only
        n_read = frames * int(np.prod(in_shape))
        a.add("input_port", LUT=unsigned_bits(n_read), FF=unsigned_bits(n_read))
    a.add("control", LUT=CTRL_LUT, FF=CTRL_FF)
    a.counter(T)
    a.counter(n_rows)
    a.counter(max(n_chunks, 1))
    a.counter(n_out)

    walk = (_walk_conv(lyr.weight, frames, in_shape, out_shape, g.padding, g.stride, L, R, K, B2B) if is_conv
            else _walk_dense(lyr.weight, frames, L, R))
    if g.skip_table is not None:
        src_shape = g.skip_shape
        walk = walk + _walk_skip(lyr, src_shape, out_shape, frames, L)
        a.mem("skip_table", L * g.skip_table.weight_bits + g.skip_table.group_bits, max(skip_chunks, 1), rom=True, has_uram=has_uram)
        a.mem("skip_offsets", g.skip_table.index_bits, src_shape[0] + 1, rom=True, has_uram=has_uram)
        a.counter(src_shape[0] * out_shape[1] * out_shape[2])

    if is_readout:
        # InitAcc (G), then per step: bias (G words, L lanes), walk; finally copy out (n_out)
        a.add("bias_adder", LUT=L * acc_bits)
        fixed = G + D_INIT + T * (G + D_INIT + LOOP_ENTRY) + n_out
        kind = "readout"
    else:
        sum_bits = g.sum_bits  # max(v_bits, acc_bits) + 2: the width of sum_t
        n_breaks = g.n_breaks if g.fire_once else None  # a spike-train table (direct encoding)
        if n_breaks is not None:
            # fire once through the spike-train table: per fire lane n_breaks comparators of the
            # current against the channel's boundaries (1 LUT per bit), the piece count and a
            # train mux; T spike registers. The tables are per-channel ROM words; no membrane.
            a.mem("train_breaks", n_breaks * (acc_bits + 1), co, rom=True, has_uram=has_uram)
            a.mem("train_table", (n_breaks + 1) * T, co, rom=True, has_uram=has_uram)
            a.add("train_select", LUT=F * (n_breaks * (acc_bits + 1) + n_breaks + mux_luts(n_breaks + 1, T)), FF=F * (T + unsigned_bits(n_breaks)))
        else:
            a.mem("membrane", g.v_bits, co * words, rom=False, has_uram=has_uram, copies=F)
            a.mem("threshold", g.v_bits, co, rom=True, has_uram=has_uram)
            # F neuron units, each reading its accumulator from one of the L lane banks (L:1 mux)
            a.add("neuron", LUT=F * (4 * sum_bits + (g.v_bits if g.leak_shift > 0 else 0)), FF=F * 3 * sum_bits)
        a.add("fire_select", LUT=F * mux_luts(L, acc_bits))
        a.mem("out_spikes", 1, T * n_out // OB, rom=False, has_uram=has_uram, copies=PIPO_COPIES * OB)
        if OB > F:  # each fire lane writes one of OB / F banks (the word's parity for 2F): a 1-bit demux
            a.add("out_demux", LUT=F * max(1, mux_luts(OB // F, 1)))
        if n_breaks is not None:
            # init, then one pass writing all T spikes of a neuron: T writes per bank on two ports
            fixed = G * words + D_INIT + co * words * -(-T // 2) + D_FIRE + LOOP_ENTRY
        else:
            # init (acc: G*words; v starts at 0 in the first fire pass), then per step one flat fire pass of co*words (resets acc)
            fixed = G * words + D_INIT + T * (co * words + D_FIRE + LOOP_ENTRY)
        if B2B:
            fixed += in_shape[0] + 1 + D_INIT  # the per-channel event counters start at 0
        kind = ("direct_" if direct else "") + ("conv" if is_conv else "dense")

    worst = fixed + walk.fixed + walk.per_event_worst + walk.scatter_worst
    ie, so = _events(events, lyr.name)
    act = None if ie is None else fixed + walk.activity(ie, so)
    r = a.r
    return LayerEstimate(
        name=lyr.name,
        kind=kind,
        parallelism=g.parallelism,
        LUT=r["LUT"],
        FF=r["FF"],
        BRAM18=r["BRAM18"],
        URAM=r["URAM"],
        DSP=dsp,
        cycles_worst=int(worst),
        cycles_activity=act,
        detail={
            "n_out": n_out,
            "nonzero_weights": n_table,
            "table_chunks": n_chunks,
            "lanes": L,
            "fire_lanes": F,
            "out_banks": OB,
            "read_lanes": R,
            "tap_lanes": K,
            "back_to_back": B2B,
            "acc_bits": acc_bits,
            "synops_worst": walk.synops_worst,
            "events_worst": walk.events_worst,
            "frames": frames,
            "breakdown": a.items,
        },
    )


def _maxpool_layer(lyr: MaxPool2d, g: LayerGeometry, has_uram: bool, events) -> LayerEstimate:
    T = g.time_steps
    c, ho, wo = g.out_shape
    n_out = g.n_out
    in_banks = g.in_banks  # the producer's output banks
    R = g.out_lanes  # pooled outputs per cycle = output banks
    ii = g.pool_ii
    a = _Acc()
    k = g.pool_kernel
    a.add("or_tree", LUT=R * math.ceil(k * k / 6) + 4 * unsigned_bits(n_out), FF=R * k * k)
    if R > 1:  # each lane picks its window's positions from the producer's banks (1-bit muxes)
        a.add("bank_select", LUT=R * k * k * mux_luts(in_banks, 1))
    a.add("control", LUT=CTRL_LUT // 2, FF=CTRL_FF // 2)
    a.counter(T * c * ho * -(-wo // R))
    a.mem("out_spikes", 1, -(-T * n_out // R), rom=False, has_uram=has_uram, copies=PIPO_COPIES * R)
    cycles = T * c * ho * -(-wo // R) * ii + 3
    r = a.r
    return LayerEstimate(
        name=lyr.name,
        kind="maxpool",
        parallelism=1,
        LUT=r["LUT"],
        FF=r["FF"],
        BRAM18=r["BRAM18"],
        URAM=r["URAM"],
        DSP=0,
        cycles_worst=cycles,
        # pooling does not depend on activity: the same figure, so totals stay comparable
        cycles_activity=float(cycles) if events else None,
        detail={"n_out": n_out, "initiation_interval": ii, "in_banks": in_banks, "out_lanes": R, "breakdown": a.items},
    )


def estimate(
    net: IntNet,
    board: Board,
    parallelism: Union[int, Mapping[str, int], None] = None,
    events: Optional[Mapping[str, Any]] = None,
) -> Estimate:
    """Estimate every layer and the whole design of ``net`` on ``board``.

    ``parallelism``: adds per cycle (the scatter unroll factor P), one int for every layer or a
    mapping by layer name; missing layers (and ``None``) take the board's ``hls.layer_parallelism``
    / ``hls.parallelism``. ``events``: per layer name, the C-simulation's counts per sample --
    a number (input events) or a mapping with ``in_events`` and optionally ``synops``. With
    events every layer gets ``cycles_activity``, and so does the total.
    """
    net.validate()
    par = _resolve_parallelism(net, board, parallelism)
    has_uram = board.resources.URAM > 0
    per_layer: list[LayerEstimate] = []
    # one geometry (lanes, banks, tables, widths) shared with the HLS layers and the RTL; each
    # layer reads its producer's banks
    for i, (lyr, g) in enumerate(zip(net.layers, net_geometry(net, par))):
        if isinstance(lyr, MaxPool2d):
            le = _maxpool_layer(lyr, g, has_uram, events)
        elif isinstance(lyr, (SpikingConv2d, SpikingDense, Readout)):
            le = _spiking_layer(lyr, g, net, i == 0, has_uram, events)
        else:  # pragma: no cover - IntNet.validate admits nothing else
            raise SpikehlsError(f"layer {lyr.name}: no cost model for {type(lyr).__name__}")
        per_layer.append(le)
    total = {k: sum(getattr(le, k) for le in per_layer) for k in RESOURCE_KINDS}
    worst = sum(le.cycles_worst for le in per_layer)
    if events and all(le.cycles_activity is not None for le in per_layer):
        act: Optional[float] = sum(le.cycles_activity for le in per_layer)  # type: ignore[assignment]
        act = float(act) if np.ndim(act) == 0 else act  # an array with per-sample counts
    else:
        act = None
    interval = max((le.cycles_worst for le in per_layer), default=0)
    return Estimate(
        per_layer=per_layer,
        total=total,
        cycles_worst=worst,
        cycles_activity=act,
        clock_mhz=board.clock_mhz,
        interval_worst=interval,
    )


def latency_per_sample(
    net: IntNet,
    board: Board,
    parallelism: Union[int, Mapping[str, int], None],
    sample_events: Mapping[str, Mapping[str, np.ndarray]],
) -> np.ndarray:
    """Activity-based cycles of every sample: ``sample_events[layer] = {"in_events": [N],
    "synops": [N]}`` (the C-simulation's counters of each sample). The same model as
    :func:`estimate`'s mean figure, evaluated per sample, so the slowest image is known, not
    bounded: the mean of these is the figure on the mean counts."""
    e = estimate(net, board, parallelism, sample_events)
    if e.cycles_activity is None:
        raise SpikehlsError("latency_per_sample needs event counts for every spiking layer")
    return np.atleast_1d(np.asarray(e.cycles_activity, dtype=np.float64))
