"""The resource and latency model of the generated design (DESIGN.md section 7, docs/resource_model.md).

No vendor tool runs here; every figure this module returns is labelled ``source: "estimate"``.
It prices each layer as the Verilog twin builds it -- the datapath the HLS kernels describe, with
the same lanes, banks and tables (one :class:`~spikehls.hls.geometry.LayerGeometry` for the HLS
layers, the RTL and this model):

* cycles: the twin's schedule, cycle for cycle (:func:`spikehls.hls.twin_cost.cycles`), on the
  C-simulation's event counts when given (``cycles_activity``) or with every input spiking
  (``cycles_worst``), plus the per-sample overhead of the top (:func:`overhead_cycles`);
* LUT / FF: the twin's structural items (:func:`spikehls.hls.twin_cost.items`) times coefficients
  fitted against yosys (:mod:`spikehls.hls.calibration`, ``benchmarks/calibrate.py``), plus the
  top level (:func:`top_cost`);
* BRAM18 / URAM: counted primitive by primitive from the one memory rule
  (:func:`spikehls.hls.memory.memory_plan`, the rule the twin's ``ram_style`` attributes and the
  kernels' ``BIND_STORAGE`` follow), so they equal yosys's on the twin; per layer ``detail``
  holds ``bits_stored`` (what the layer holds) beside ``bits_allocated`` (what its primitives
  provide) and where each array lives;
* DSP: one per pixel x weight lane from 9-bit weights (:func:`spikehls.hls.geometry.mac_in_dsp`).

The planner calls :func:`estimate` thousands of times: it builds no tables, only counts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional, Union

import numpy as np

from spikehls.boards import RESOURCE_KINDS, Board
from spikehls.errors import SpikehlsError
from spikehls.hls.geometry import LayerGeometry, layer_parallelism, mac_in_dsp, net_geometry
from spikehls.hls import calibration, twin_cost
from spikehls.hls.memory import block_fill, has_uram, is_ultrascale
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


def part_memory(part: str | None) -> tuple[bool, bool]:
    """``(ultra, ultrascale)`` of a board part: whether the memory rule may pick URAM288, and
    whether distributed RAM is built of UltraScale's 8-LUT cells (both priced by the model)."""
    return has_uram(part), is_ultrascale(part)


def _priced(g: LayerGeometry, readers: int, ultra: bool = False, ultrascale: bool = False) -> tuple[dict[str, float], dict[str, float]]:
    """The layer's structural items (:func:`spikehls.hls.twin_cost.items`) priced with the fitted
    coefficients (:mod:`spikehls.hls.calibration`): ``(totals, breakdown)`` with LUT (logic +
    LUTRAM), LUT_logic, LUTRAM, FF."""
    it = twin_cost.items(g, readers, ultra, ultrascale)
    br: dict[str, float] = {}
    for kind, coef in (("LUT", calibration.LUT), ("LUTRAM", calibration.LUTRAM), ("FF", calibration.FF)):
        for name, q in it[kind].items():
            br[f"{kind}.{name}"] = coef.get(name, 1.0) * q
    logic = sum(v for k, v in br.items() if k.startswith("LUT."))
    ram = sum(v for k, v in br.items() if k.startswith("LUTRAM."))
    ff = sum(v for k, v in br.items() if k.startswith("FF."))
    return {"LUT": logic + ram, "LUT_logic": logic, "LUTRAM": ram, "FF": ff}, {k: round(v, 1) for k, v in br.items()}


def _memory_detail(g: LayerGeometry, readers: int, ultra: bool, ultrascale: bool = False) -> dict[str, Any]:
    """Where every array of the layer lives, and bits stored against bits allocated."""
    mems = twin_cost.layer_memories(g, readers, ultra, ultrascale)
    out: dict[str, Any] = twin_cost.memory_bits(mems)
    out["arrays"] = {k: {"style": m.style, "rom": m.rom, "width": m.width, "depth": m.depth, "banks": m.banks,
                         "bits_stored": m.bits_stored, "bits_allocated": m.bits_allocated,
                         "BRAM18": m.bram18, "URAM": m.uram} for k, m in mems.items()}
    return out


def _spiking_layer(lyr, g: LayerGeometry, readers: int, events, skip_events=None, ultra: bool = False,
                   stats=None, ultrascale: bool = False) -> LayerEstimate:
    """Cost of a conv / dense neuron layer or the readout, built as ``g`` (:mod:`spikehls.hls.geometry`);
    ``stats``: :class:`~spikehls.hls.geometry.WeightStats` of its weights (the planner's cache);
    ``ultra`` / ``ultrascale``: the part has URAM / UltraScale distributed RAM (:func:`part_memory`)."""
    t = g.table
    dsp = g.tap_lanes * g.lanes if (g.pixels and mac_in_dsp(t.weight_bits)) else 0  # the rule the RTL's MAC lanes follow
    r, breakdown = _priced(g, readers, ultra, ultrascale)
    mem = _memory_detail(g, readers, ultra, ultrascale)
    if dsp:  # the multipliers are DSP48s, not LUTs
        m = breakdown.pop("LUT.multipliers", 0.0)
        r["LUT"] -= m
        r["LUT_logic"] -= m
    ie, so = _events(events, lyr.name)
    sk = getattr(lyr, "skip", None)
    skip_table = None if sk is None else (np.diag(sk.gain) if sk.weight is None else sk.weight)  # [co, cs]
    worst, act = twin_cost.cycles(g, lyr.weight, ie, so, skip_events, skip_table, stats, ultra)
    kind = "readout" if g.kind == "readout" else ("direct_" if g.pixels else "") + g.kind
    ex_w, syn_w = twin_cost.extra_chunks_worst(g, lyr.weight, stats)
    return LayerEstimate(
        name=lyr.name,
        kind=kind,
        parallelism=g.parallelism,
        LUT=int(round(r["LUT"])),
        FF=int(round(r["FF"])),
        BRAM18=mem["BRAM18"],  # the memory rule's primitives, counted as yosys maps them
        URAM=mem["URAM"],
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
            "bits_stored": mem["bits_stored"],
            "bits_allocated": mem["bits_allocated"],
            "memories": mem["arrays"],
            "breakdown": breakdown,
        },
    )


def _maxpool_layer(lyr: MaxPool2d, g: LayerGeometry, readers: int, events, ultra: bool = False,
                   ultrascale: bool = False) -> LayerEstimate:
    r, breakdown = _priced(g, readers, ultra, ultrascale)
    mem = _memory_detail(g, readers, ultra, ultrascale)
    worst, act = twin_cost.cycles(g, None, 0.0 if events else None)
    return LayerEstimate(
        name=lyr.name,
        kind="maxpool",
        parallelism=1,
        LUT=int(round(r["LUT"])),
        FF=int(round(r["FF"])),
        BRAM18=mem["BRAM18"],
        URAM=mem["URAM"],
        DSP=0,
        cycles_worst=int(worst),
        # pooling does not depend on activity: the same figure, so totals stay comparable
        cycles_activity=float(worst) if events else None,
        detail={"n_out": g.n_out, "initiation_interval": g.pool_ii, "in_banks": g.in_banks, "out_lanes": g.out_lanes,
                "LUT_logic": int(round(r["LUT_logic"])), "LUTRAM": int(round(r["LUTRAM"])),
                "bits_stored": mem["bits_stored"], "bits_allocated": mem["bits_allocated"], "memories": mem["arrays"],
                "breakdown": breakdown},
    )


def top_cost(net: IntNet, ultrascale: bool = False) -> dict[str, float]:
    """The top level of the twin: the input buffer (``n_in`` words per step, 8-bit pixels once or
    T spike planes; one read port per reader: the first layer and every skip from the input) in
    LUTRAM as yosys maps it (:func:`spikehls.hls.memory.lutram_map`), its read mux and address
    counter, the sequencing and the output stream (fitted: ``calibration.TOP``)."""
    from spikehls.hls.memory import lutram_cell_luts, lutram_map
    from spikehls.hls.twin_cost import _w

    beats = int(np.prod(net.input_shape)) * (1 if net.encoding == "direct" else net.time_steps)
    width = 8 if net.encoding == "direct" else 1
    readers = 1 + sum(1 for lyr in net.layers if getattr(getattr(lyr, "skip", None), "source", None) == "input")
    cells, mux, _ = lutram_map(width, beats, readers, ultrascale)
    ram = float(lutram_cell_luts(ultrascale) * cells)
    tc = calibration.TOP
    lut = tc["LUT"] + tc["LUT_per_address_bit"] * _w(beats) + tc["LUT_per_mux_bit"] * mux
    ff = tc["FF"] + tc["FF_per_address_bit"] * _w(beats)
    return {"LUT": lut + ram, "LUTRAM": ram, "FF": ff, "beats": beats, "address_bits": _w(beats), "mux_bits": mux}


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
            src = _events(events, net.layers[0].name)[0]  # the first layer's input events ...
            if src is None:
                continue
            g0 = geos[0]
            if g0.skip_source == "input":  # ... which count its own skip walk over the input too
                f0 = (g0.out_shape[1] * g0.out_shape[2]) / float(g0.skip_shape[1] * g0.skip_shape[2])
                src = src / (1.0 + f0)
            if g0.pixels and not g.pixels:  # one pixel frame, which a later layer's skip walks every step
                src = src * g.time_steps
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


def output_readers(geos) -> dict[str, int]:
    """Read ports on each layer's output buffer: its consumer and every skip that reads it."""
    readers = {g.name: 1 for g in geos}
    for g in geos:
        if g.skip_source is not None and g.skip_source in readers:
            readers[g.skip_source] += 1
    return readers


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
    readers = output_readers(geos)
    skips = _skip_events(net, events, geos)
    ultra, us = part_memory(board.part)
    with block_fill(board.hls.block_ram_min_fill):  # the memory rule at this board's threshold
        for i, (lyr, g) in enumerate(zip(net.layers, geos)):
            if isinstance(lyr, MaxPool2d):
                le = _maxpool_layer(lyr, g, readers[g.name], events, ultra, us)
            elif isinstance(lyr, (SpikingConv2d, SpikingDense, Readout)):
                le = _spiking_layer(lyr, g, readers[g.name], events, skips.get(lyr.name), ultra, ultrascale=us)
            else:  # pragma: no cover - IntNet.validate admits nothing else
                raise SpikehlsError(f"layer {lyr.name}: no cost model for {type(lyr).__name__}")
            per_layer.append(le)
    top = top_cost(net, us)
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
