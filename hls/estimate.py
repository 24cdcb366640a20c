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
from spikehls.hls import calibration, twin_cost
from spikehls.quantize.intnet import IntNet, MaxPool2d, Readout, SpikingConv2d, SpikingDense

PIXEL_BITS = 8  # direct encoding: the first layer multiplies 8-bit pixels


def mux_luts(n_inputs: int, width: int) -> int:
    """LUT6 count of an n:1 multiplexer of ``width`` bits (a LUT6 is a 4:1 mux; a tree needs (n-1)/3)."""
    return 0 if n_inputs <= 1 else width * math.ceil((n_inputs - 1) / 3)


def lut_multiplier(w_bits: int, a_bits: int) -> int:
    """LUTs of a W x A multiplier in fabric (FINN ``lut_estimation``: (2 ceil((W+A)/6) - 1)(W+A))."""
    s = w_bits + a_bits
    return (2 * math.ceil(s / 6) - 1) * s


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


def _priced(g: LayerGeometry, readers: int) -> tuple[dict[str, float], dict[str, float]]:
    """The layer's structural items (:func:`spikehls.hls.twin_cost.items`) priced with the fitted
    coefficients (:mod:`spikehls.hls.calibration`): ``(totals, breakdown)`` with LUT (logic +
    LUTRAM), LUT_logic, LUTRAM, FF."""
    it = twin_cost.items(g, readers)
    br: dict[str, float] = {}
    for kind, coef in (("LUT", calibration.LUT), ("LUTRAM", calibration.LUTRAM), ("FF", calibration.FF)):
        for name, q in it[kind].items():
            br[f"{kind}.{name}"] = coef.get(name, 1.0) * q
    logic = sum(v for k, v in br.items() if k.startswith("LUT."))
    ram = sum(v for k, v in br.items() if k.startswith("LUTRAM."))
    ff = sum(v for k, v in br.items() if k.startswith("FF."))
    return {"LUT": logic + ram, "LUT_logic": logic, "LUTRAM": ram, "FF": ff}, {k: round(v, 1) for k, v in br.items()}


def _spiking_layer(lyr, g: LayerGeometry, readers: int, events, skip_events=None) -> LayerEstimate:
    """Cost of a conv / dense neuron layer or the readout, built as ``g`` (:mod:`spikehls.hls.geometry`)."""
    t = g.table
    dsp = g.tap_lanes * g.lanes if (g.pixels and mac_in_dsp(t.weight_bits)) else 0  # the rule the RTL's MAC lanes follow
    r, breakdown = _priced(g, readers)
    if dsp:  # the multipliers are DSP48s, not LUTs
        m = breakdown.pop("LUT.multipliers", 0.0)
        r["LUT"] -= m
        r["LUT_logic"] -= m
    ie, so = _events(events, lyr.name)
    worst, act = twin_cost.cycles(g, lyr.weight, ie, so, skip_events)
    kind = "readout" if g.kind == "readout" else ("direct_" if g.pixels else "") + g.kind
    ex_w, syn_w = twin_cost.extra_chunks_worst(g, lyr.weight)
    return LayerEstimate(
        name=lyr.name,
        kind=kind,
        parallelism=g.parallelism,
        LUT=int(round(r["LUT"])),
        FF=int(round(r["FF"])),
        BRAM18=0,  # memory_style: every array is distributed (LUTRAM) or logic
        URAM=0,
        DSP=dsp,
        cycles_worst=int(worst),
        cycles_activity=act,
        detail={
            "n_out": g.n_out,
            "nonzero_weights": t.nnz,
            "table_chunks": t.chunks,
            "lanes": g.lanes,
            "fire_lanes": g.fire_lanes,
            "out_banks": g.out_banks,
            "read_lanes": g.read_lanes,
            "tap_lanes": g.tap_lanes,
            "back_to_back": g.back_to_back,
            "acc_bits": g.acc_bits,
            "LUT_logic": int(round(r["LUT_logic"])),
            "LUTRAM": int(round(r["LUTRAM"])),
            "events_worst": g.frames * g.n_in,
            "taps_per_event": twin_cost.taps_per_event(g),
            "extra_chunks_worst": ex_w,
            "synops_worst": g.frames * syn_w,  # weight additions of the further chunks when everything spikes
            "frames": g.frames,
            "breakdown": breakdown,
        },
    )


def _maxpool_layer(lyr: MaxPool2d, g: LayerGeometry, readers: int, events) -> LayerEstimate:
    r, breakdown = _priced(g, readers)
    worst, act = twin_cost.cycles(g, None, 0.0 if events else None)
    return LayerEstimate(
        name=lyr.name,
        kind="maxpool",
        parallelism=1,
        LUT=int(round(r["LUT"])),
        FF=int(round(r["FF"])),
        BRAM18=0,
        URAM=0,
        DSP=0,
        cycles_worst=int(worst),
        # pooling does not depend on activity: the same figure, so totals stay comparable
        cycles_activity=float(worst) if events else None,
        detail={"n_out": g.n_out, "initiation_interval": g.pool_ii, "in_banks": g.in_banks, "out_lanes": g.out_lanes,
                "LUT_logic": int(round(r["LUT_logic"])), "LUTRAM": int(round(r["LUTRAM"])), "breakdown": breakdown},
    )


def top_cost(net: IntNet) -> dict[str, float]:
    """The top level of the twin: the input buffer (one LUTRAM bit per input value per 64 words),
    sequencing and the output stream."""
    beats = int(np.prod(net.input_shape)) * (1 if net.encoding == "direct" else net.time_steps)
    width = 8 if net.encoding == "direct" else 1
    ram = calibration.TOP["LUTRAM_per_input_bit"] * beats * width
    return {"LUT": calibration.TOP["LUT"] + ram, "LUTRAM": ram, "FF": calibration.TOP["FF"], "beats": beats}


def overhead_cycles(net: IntNet) -> int:
    """Cycles of one sample outside the layers: the input beats, one hand-over per layer, the class beat."""
    beats = int(np.prod(net.input_shape)) * (1 if net.encoding == "direct" else net.time_steps)
    return beats + len(net.layers) + 1


def _skip_events(net: IntNet, events, geos) -> dict[str, Any]:
    """Active skip inputs per sample of every layer with a skip (the C-simulation counts them as
    input events): the source's output spikes sampled on the output grid."""
    out: dict[str, Any] = {}
    if not events:
        return out
    by_name = {g.name: g for g in geos}
    for lyr, g in zip(net.layers, geos):
        if g.skip_source is None:
            continue
        if g.skip_source == "input":
            first = net.layers[0].name
            src = _events(events, first)[0]
            frac = 1.0
            if src is None:
                continue
        else:
            e = events.get(g.skip_source) if isinstance(events, Mapping) else None
            src = None if not isinstance(e, Mapping) else e.get("out_spikes")
            if src is None:
                continue
            src = _count(src)
        sshape = g.skip_shape
        frac = (g.out_shape[1] * g.out_shape[2]) / float(sshape[1] * sshape[2])
        if g.skip_source != "input" and by_name[g.skip_source].fire_once and g.pixels:
            frac /= g.time_steps
        out[lyr.name] = src * frac
    return out


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
    per_layer: list[LayerEstimate] = []
    # one geometry (lanes, banks, tables, widths) shared with the HLS layers and the RTL; each
    # layer reads its producer's banks
    geos = net_geometry(net, par)
    readers = {g.name: 1 for g in geos}
    for g in geos:
        if g.skip_source is not None and g.skip_source in readers:
            readers[g.skip_source] += 1
    skips = _skip_events(net, events, geos)
    for i, (lyr, g) in enumerate(zip(net.layers, geos)):
        if isinstance(lyr, MaxPool2d):
            le = _maxpool_layer(lyr, g, readers[g.name], events)
        elif isinstance(lyr, (SpikingConv2d, SpikingDense, Readout)):
            le = _spiking_layer(lyr, g, readers[g.name], events, skips.get(lyr.name))
        else:  # pragma: no cover - IntNet.validate admits nothing else
            raise SpikehlsError(f"layer {lyr.name}: no cost model for {type(lyr).__name__}")
        per_layer.append(le)
    top = top_cost(net)
    total = {k: sum(getattr(le, k) for le in per_layer) for k in RESOURCE_KINDS}
    total["LUT"] += int(round(top["LUT"]))
    total["FF"] += int(round(top["FF"]))
    over = overhead_cycles(net)
    worst = sum(le.cycles_worst for le in per_layer) + over
    if events and all(le.cycles_activity is not None for le in per_layer):
        act: Optional[float] = sum(le.cycles_activity for le in per_layer) + over  # type: ignore[assignment]
        act = float(act) if np.ndim(act) == 0 else act  # an array with per-sample counts
    else:
        act = None
    interval = worst + 1  # one sample in flight: the next enters when the class is out
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
