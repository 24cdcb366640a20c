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

Spiking conv / dense (``spiking_conv2d``, ``spiking_dense``; ``direct_*`` for the direct-encoded
first layer), per sample::

    InitV       v[n] = 0                                          n_out cycles
    TimeLoop t < T:
      init_currents  acc[n] = bias[c]     (pipelined, II=1)       n_out + D_INIT
      walk inputs    for every input position (not pipelined):    SCAN cycles
                       if it spiked: for each kernel tap (conv)   TAP cycles
                         if the tap reaches an output:
                           scatter_add over the row's NONZERO table entries,
                           pipelined II=1, unrolled by P           ceil(nnz_row / P) + D_SCATTER
      skip current   same walk over the skip source (1x1 table)
      fire_all       neuron_step per neuron (pipelined, II=1)     n_out + D_FIRE

  Resources (P = parallelism = the unroll factor of scatter_add):
  * P accumulate lanes, each an ``acc_bits``-wide adder with its pipeline register:
    ``acc_bits`` LUT + ``acc_bits`` FF per lane ("a gated accumulator costs about 1 LUT and
    1 FF per bit on 7-series/UltraScale", DESIGN §7; FINN's ``acc_luts = acc_bits``).
    Direct encoding: each lane also multiplies an 8-bit pixel by a ``w_bits`` weight; below
    9-bit weights this is a LUT multiplier (hls4ml's rule: no DSP), costed with FINN's
    ``(2 ceil((W+A)/6) - 1)(W+A)`` LUT; from 9 bits one DSP per lane and no multiplier LUT.
  * ``acc`` is partitioned cyclic by P (the pragma in the kernel): P banks of
    ``ceil(n_out / P)`` words. Lanes write data-dependent targets, so every lane reaches every
    bank: a P:1 read mux per lane and a P:1 write mux per bank, ``acc_bits * ceil((P-1)/3)`` LUT
    each (a LUT6 is a 4:1 mux), plus an address adder per lane (two for conv: base + target*stride).
  * ``v`` (membranes, ``v_bits``) is one unpartitioned array: one memory of ``n_out`` words.
  * One neuron unit (fire_all is pipelined, not unrolled): leak subtract (LIF only), add,
    saturate, compare, reset: ``4 * sum_bits (+ v_bits for LIF)`` LUT, ``3 * sum_bits`` FF, with
    ``sum_bits = max(acc_bits, v_bits) + 2`` as :mod:`spikehls.hls.layers` sizes ``sum_t``.
  * Widths are those :mod:`spikehls.hls.layers` derives from the integers: ``acc_bits`` holds
    bias + all positive (negative) fan-in weights (x255 for pixels, xT for the readout),
    table targets ``bits(n_targets - 1)``, offsets ``bits(nnz)``.
  * Weight memory = the compressed table of nonzero weights the kernel reads: ``targets`` and
    ``weights`` (``n_table = nnz`` entries of ``target_bits + w_bits``), partitioned by P so a
    cycle reads P entries (FINN's wide word: width ``P * entry_bits``, depth ``ceil(nnz / P)``),
    ``offsets`` (``n_rows + 1`` words), ``bias`` and ``thr`` (one word per output channel).
    Zero weights have no entry: pruning shrinks the table and the cycles, not the lanes.
  * The output spike array ``res[T * n_out]`` (1 bit) is a memory owned by the producing layer,
    two copies (ping-pong between dataflow processes).
  * Control: a base FSM cost plus one counter per loop (``2 * bits`` LUT, ``bits`` FF).
  * The first layer reads the top-level input, which the project reshapes completely into one
    ``T * n_in * input_bits`` wide port (``ARRAY_RESHAPE complete``): the walk's variable-index
    read of it is a ``T * n_in : 1`` multiplexer (``input_bits * ceil((T n_in - 1) / 3)`` LUT), and
    the DATAFLOW region holds the port value in one register channel (``T n_in input_bits`` FF).

Readout (``spike_readout``): the same accumulate engine with accumulators wide enough for the
sum over T (``out[k] = sum_t (b_k + sum_i W_ki s_t[i])``), no neuron, no output spike array.
Max pool (``spike_maxpool2d``): a pipelined OR over the window; its input array is a memory with
two read ports, so the initiation interval is ``ceil(k*k / 2)``.

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

Known limits (say so when quoting these numbers): the scatter loop is taken at II = 1 with P
lanes, as the kernel intends; Vitis reaches that only if it can see that the lanes hit different
accumulator banks, that the table ROMs have P read ports and that iterations do not depend on
each other through ``acc`` (else it raises the II). The AXI/handshake logic of the top is not
counted, and
the model was calibrated on no real synthesis run -- it is a consistent, monotone yardstick
for co-design, not a promise of post-route figures.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional, Union

import numpy as np

from spikehls.boards import RESOURCE_KINDS, Board
from spikehls.errors import SpikehlsError
from spikehls.quantize.intnet import IntNet, MaxPool2d, Readout, SpikingConv2d, SpikingDense

# ---- cycle constants of the loop structure (Vitis HLS scheduling of the kernels) -----------------
SCAN_CYCLES = 2  # one iteration of the (non-pipelined) input walk: read the input word, test it
TAP_CYCLES = 1  # one kernel tap of a spiking input: conv_target check + offsets read
D_SCATTER = 3  # pipeline depth of scatter_add: read table entry, read acc bank, add + write
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


def bits_for(n: int) -> int:
    """Unsigned bits to hold 0..n (at least 1): the width of a counter or an index."""
    return max(1, int(n).bit_length())


def signed_bits(lo: int, hi: int) -> int:
    """Two's-complement bits holding every integer in [lo, hi] (at least 2)."""
    need = max(int(hi).bit_length(), (-int(lo) - 1).bit_length() if lo < 0 else 0)
    return max(2, need + 1)


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
        b = bits_for(trip)
        self.add("control", LUT=2 * b, FF=b)


def _events(events: Optional[Mapping[str, Any]], name: str) -> tuple[Optional[float], Optional[float]]:
    """(input events, synops) per sample for a layer; a bare number is input events."""
    if not events or name not in events:
        return None, None
    e = events[name]
    if isinstance(e, Mapping):
        ie, so = e.get("in_events"), e.get("synops")
        return (None if ie is None else float(ie)), (None if so is None else float(so))
    return float(e), None


def _resolve_parallelism(net: IntNet, board: Board, parallelism: Union[int, Mapping[str, int], None]) -> dict[str, int]:
    out = {}
    for lyr in net.layers:
        if isinstance(parallelism, Mapping):
            p = parallelism.get(lyr.name, board.hls.layer_parallelism.get(lyr.name, board.hls.parallelism))
        elif parallelism is None:
            p = board.hls.layer_parallelism.get(lyr.name, board.hls.parallelism)
        else:
            p = parallelism
        if not isinstance(p, (int, np.integer)) or p < 1:
            raise SpikehlsError(f"parallelism of layer {lyr.name} must be an integer >= 1, got {p!r}")
        out[lyr.name] = int(p)
    return out


def _acc_range(weight: np.ndarray, bias: np.ndarray, in_max: int) -> tuple[int, int]:
    """Extreme currents: bias plus all negative (resp. positive) fan-in weights times the input maximum."""
    w = weight.reshape(weight.shape[0], -1)
    lo = bias + in_max * np.where(w < 0, w, 0).sum(axis=1)
    hi = bias + in_max * np.where(w > 0, w, 0).sum(axis=1)
    return int(lo.min(initial=0)), int(hi.max(initial=0))


def _conv_valid_counts(in_len: int, k: int, pad: int, stride: int, out_len: int) -> np.ndarray:
    """For every kernel offset, how many input coordinates reach an output through it (conv_target)."""
    idx = np.arange(in_len)[None, :] + pad - np.arange(k)[:, None]
    ok = (idx >= 0) & (idx % stride == 0) & (idx // stride < out_len)
    return ok.sum(axis=1)


@dataclass
class _Walk:
    """Cycle parts of one accumulate phase (all time steps of one sample)."""

    fixed: int = 0  # independent of activity (scan of every position)
    per_event_worst: int = 0  # tap checks + scatter loop entry/drain for every event
    scatter_worst: int = 0  # sum of ceil(nnz_row / P) over every (event, valid tap)
    events_worst: int = 0  # input positions x T
    synops_worst: int = 0  # additions when everything spikes

    def activity(self, in_events: float, synops: Optional[float]) -> float:
        if self.events_worst == 0:
            return float(self.fixed)
        a = min(max(in_events / self.events_worst, 0.0), 1.0)
        if synops is not None and self.synops_worst > 0:
            scatter = self.scatter_worst * min(max(synops / self.synops_worst, 0.0), 1.0)
        else:
            scatter = a * self.scatter_worst
        return self.fixed + a * self.per_event_worst + scatter


def _walk_conv(weight: np.ndarray, T: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...], pad: int, stride: int, P: int) -> _Walk:
    co, ci, kh, kw = weight.shape
    _, H, W = in_shape
    _, Ho, Wo = out_shape
    nnz = np.count_nonzero(weight, axis=0)  # [ci, kh, kw]: entries of table row (ci, ky, kx)
    cy = _conv_valid_counts(H, kh, pad, stride, Ho)  # [kh]
    cx = _conv_valid_counts(W, kw, pad, stride, Wo)  # [kw]
    reach = cy[:, None] * cx[None, :]  # [kh, kw] input positions per channel reaching an output
    n_in = ci * H * W
    ceil_rows = -(-nnz // P)
    scatter = int((ceil_rows * reach[None]).sum())
    synops = int((nnz * reach[None]).sum())
    valid_taps = int(reach.sum()) * ci
    per_event = n_in * kh * kw * TAP_CYCLES + valid_taps * D_SCATTER
    fixed = n_in * SCAN_CYCLES + ci * H * LOOP_ENTRY + ci * LOOP_ENTRY
    return _Walk(T * fixed, T * per_event, T * scatter, T * n_in, T * synops)


def _walk_dense(weight: np.ndarray, T: int, P: int) -> _Walk:
    n_in = weight.shape[1]
    nnz = np.count_nonzero(weight, axis=0)  # [n_in]: table row i
    scatter = int((-(-nnz // P)).sum())
    return _Walk(T * n_in * SCAN_CYCLES, T * n_in * (TAP_CYCLES + D_SCATTER), T * scatter, T * n_in, T * int(nnz.sum()))


def _walk_skip(lyr: SpikingConv2d, src_shape: tuple[int, ...], out_shape: tuple[int, ...], T: int, P: int) -> _Walk:
    skip = lyr.skip
    co, Ho, Wo = out_shape
    cs = src_shape[0]
    table = np.diag(skip.gain) if skip.weight is None else skip.weight  # [co, cs]
    nnz = np.count_nonzero(table, axis=0)  # [cs]
    positions = Ho * Wo  # the skip walk samples the source on the output grid
    scatter = int((-(-nnz // P)).sum()) * positions
    return _Walk(
        T * cs * positions * SCAN_CYCLES,
        T * cs * positions * D_SCATTER,
        T * scatter,
        T * cs * positions,
        T * int(nnz.sum()) * positions,
    )


def _spiking_layer(lyr, net: IntNet, shapes, prev: str, P: int, first: bool, has_uram: bool, events) -> LayerEstimate:
    T = net.time_steps
    direct = first and net.encoding == "direct"
    in_max = 2**PIXEL_BITS - 1 if direct else 1
    in_shape = shapes[prev]
    out_shape = shapes[lyr.name]
    n_out = int(np.prod(out_shape))
    is_conv = isinstance(lyr, SpikingConv2d)
    is_readout = isinstance(lyr, Readout)
    co = lyr.weight.shape[0]
    n_table = int(np.count_nonzero(lyr.weight))
    n_rows = int(np.prod(lyr.weight.shape[1:]))  # conv: ci*kh*kw, dense/readout: n_in

    lo, hi = _acc_range(lyr.weight, lyr.bias, in_max)
    skip_table = 0
    if is_conv and lyr.skip is not None:
        st = np.diag(lyr.skip.gain) if lyr.skip.weight is None else lyr.skip.weight
        lo += int(np.where(st < 0, st, 0).sum(axis=1).min(initial=0))
        hi += int(np.where(st > 0, st, 0).sum(axis=1).max(initial=0))
        skip_table = int(np.count_nonzero(st))
    if is_readout:
        lo, hi = T * lo, T * hi
    acc_bits = signed_bits(lo, hi)
    target_bits = bits_for(max(co - 1, 1)) if is_conv else bits_for(max(n_out - 1, 1))
    index_bits = bits_for(n_table)
    addr_bits = bits_for(max(n_out - 1, 1))

    a = _Acc()
    # accumulate lanes (+ fabric multipliers or DSPs for the direct-encoded first layer)
    a.add("lanes", LUT=P * acc_bits, FF=P * acc_bits)
    dsp = 0
    if direct:
        if lyr.w_bits >= 9:
            dsp = P
            a.add("multipliers", DSP=P)
        else:
            a.add("multipliers", LUT=P * lut_multiplier(lyr.w_bits, PIXEL_BITS))
    a.add("crossbar", LUT=2 * P * mux_luts(P, acc_bits))
    a.add("address", LUT=P * addr_bits * (2 if is_conv else 1))
    a.mem("acc", acc_bits, math.ceil(n_out / P), rom=False, has_uram=has_uram, copies=P)
    # compressed nonzero table: targets + weights read P entries per cycle, offsets, bias
    a.mem("weights", P * (target_bits + lyr.w_bits), math.ceil(n_table / P), rom=True, has_uram=has_uram)
    a.mem("offsets", index_bits, n_rows + 1, rom=True, has_uram=has_uram)
    a.mem("bias", signed_bits(int(lyr.bias.min(initial=0)), int(lyr.bias.max(initial=0))), co, rom=True, has_uram=has_uram)
    if first:
        in_bits = net.input_bits
        n_in_total = T * int(np.prod(in_shape))
        a.add("input_port", LUT=mux_luts(n_in_total, in_bits), FF=n_in_total * in_bits)
    a.add("control", LUT=CTRL_LUT, FF=CTRL_FF)
    a.counter(T)
    a.counter(n_rows)
    a.counter(n_table)
    a.counter(n_out)

    walk = _walk_conv(lyr.weight, T, in_shape, out_shape, lyr.padding, lyr.stride, P) if is_conv else _walk_dense(lyr.weight, T, P)
    if is_conv and lyr.skip is not None:
        skip = lyr.skip
        src_shape = shapes[skip.source]
        sw = _walk_skip(lyr, src_shape, out_shape, T, P)
        walk = _Walk(*(getattr(walk, f) + getattr(sw, f) for f in ("fixed", "per_event_worst", "scatter_worst", "events_worst", "synops_worst")))
        s_w_bits = skip.w_bits if skip.weight is not None else signed_bits(int(skip.gain.min(initial=0)), int(skip.gain.max(initial=0)))
        a.mem("skip_table", P * (target_bits + s_w_bits), math.ceil(skip_table / P), rom=True, has_uram=has_uram)
        a.mem("skip_offsets", bits_for(skip_table), src_shape[0] + 1, rom=True, has_uram=has_uram)
        a.counter(src_shape[0] * out_shape[1] * out_shape[2])

    if is_readout:
        # InitAcc, then per step: bias loop (n_out), walk; finally copy out (n_out)
        a.add("bias_adder", LUT=acc_bits)
        fixed = n_out + T * (n_out + LOOP_ENTRY + LOOP_ENTRY) + n_out
        kind = "readout"
    else:
        nrn = lyr.neuron
        sum_bits = max(nrn.v_bits, acc_bits) + 2  # as hls/layers.py sizes sum_t
        a.mem("membrane", nrn.v_bits, n_out, rom=False, has_uram=has_uram)
        a.mem("threshold", nrn.v_bits, co, rom=True, has_uram=has_uram)
        a.add("neuron", LUT=4 * sum_bits + (nrn.v_bits if nrn.leak_shift > 0 else 0), FF=3 * sum_bits)
        a.mem("out_spikes", 1, T * n_out, rom=False, has_uram=has_uram, copies=PIPO_COPIES)
        # InitV, then per step: init_currents, walk, fire_all
        fixed = n_out + T * (n_out + D_INIT + n_out + D_FIRE + 2 * LOOP_ENTRY)
        kind = ("direct_" if direct else "") + ("conv" if is_conv else "dense")

    worst = fixed + walk.fixed + walk.per_event_worst + walk.scatter_worst
    ie, so = _events(events, lyr.name)
    act = None if ie is None else fixed + walk.activity(ie, so)
    r = a.r
    return LayerEstimate(
        name=lyr.name,
        kind=kind,
        parallelism=P,
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
            "acc_bits": acc_bits,
            "synops_worst": walk.synops_worst,
            "events_worst": walk.events_worst,
            "breakdown": a.items,
        },
    )


def _maxpool_layer(lyr: MaxPool2d, net: IntNet, shapes, prev: str, has_uram: bool, events) -> LayerEstimate:
    T = net.time_steps
    n_out = int(np.prod(shapes[lyr.name]))
    ii = math.ceil(lyr.kernel * lyr.kernel / 2)  # two read ports on the input array
    a = _Acc()
    a.add("or_tree", LUT=math.ceil(lyr.kernel * lyr.kernel / 6) + 4 * bits_for(n_out), FF=lyr.kernel * lyr.kernel)
    a.add("control", LUT=CTRL_LUT // 2, FF=CTRL_FF // 2)
    a.counter(T * n_out)
    a.mem("out_spikes", 1, T * n_out, rom=False, has_uram=has_uram, copies=PIPO_COPIES)
    cycles = T * n_out * ii + 3
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
        detail={"n_out": n_out, "initiation_interval": ii, "breakdown": a.items},
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
    shapes = net.shapes()
    par = _resolve_parallelism(net, board, parallelism)
    has_uram = board.resources.URAM > 0
    per_layer: list[LayerEstimate] = []
    prev = "input"
    for i, lyr in enumerate(net.layers):
        if isinstance(lyr, MaxPool2d):
            le = _maxpool_layer(lyr, net, shapes, prev, has_uram, events)
        elif isinstance(lyr, (SpikingConv2d, SpikingDense, Readout)):
            le = _spiking_layer(lyr, net, shapes, prev, par[lyr.name], i == 0, has_uram, events)
        else:  # pragma: no cover - IntNet.validate admits nothing else
            raise SpikehlsError(f"layer {lyr.name}: no cost model for {type(lyr).__name__}")
        per_layer.append(le)
        prev = lyr.name
    total = {k: sum(getattr(le, k) for le in per_layer) for k in RESOURCE_KINDS}
    worst = sum(le.cycles_worst for le in per_layer)
    if events and all(le.cycles_activity is not None for le in per_layer):
        act: Optional[float] = float(sum(le.cycles_activity for le in per_layer))  # type: ignore[misc]
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
