"""What a layer costs as built: the structural items of the Verilog twin, and its exact schedule.

The cost model (:mod:`spikehls.hls.estimate`) prices each layer from two things defined here,
next to the geometry they read (:mod:`spikehls.hls.geometry`), like FINN's per-layer
``lut_estimation`` / ``get_exp_cycles``:

* :func:`items`: the layer's structural quantities as the generator (:mod:`spikehls.hls.rtl.verilog`)
  instantiates them -- adder bits, mux inputs x bits, ROM bits per read port, LUTRAM bits by
  memory shape, register bits -- each a count that a per-item coefficient turns into LUT / FF /
  LUTRAM. The coefficients are fitted against yosys on the twins of random networks
  (``benchmarks/calibrate.py``, constants in :mod:`spikehls.hls.calibration`).
* :func:`cycles`: the twin's schedule, cycle for cycle (its FSM: one init pass, per frame one
  scan cycle per R-position word plus one cycle per kernel row / tap of every event and one per
  further chunk of a row, the skip walk, one fire pass of F neurons per cycle), given the number
  of input events per frame (the C-simulation's counters) -- exact wherever a table row holds at
  most one chunk (one channel group), and scaled by the synaptic operations elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Optional

import numpy as np

from spikehls.hls.geometry import LayerGeometry, PoolWalk, unsigned_bits
from spikehls.hls.lanes import chunks_per_row
from spikehls.hls.memory import MemoryPlan, lutram_cell_luts, lutram_map, memory_plan, memory_style, registered_read


def _w(n: int) -> int:
    return unsigned_bits(max(int(n) - 1, 1))


def lutram_cost(width: int, depth: int, read_ports: int = 1, ultrascale: bool = False) -> tuple[float, float]:
    """``(LUTRAM LUTs, read-mux bits in logic)`` of a distributed RAM as yosys maps it (:func:`lutram_map`;
    ``ultrascale``: with the UltraScale library's 8-LUT cells)."""
    cells, mux, _ = lutram_map(width, depth, read_ports, ultrascale)
    return float(lutram_cell_luts(ultrascale) * cells), float(mux)


def rom_luts(width: int, depth: int, ports: int = 1) -> float:
    """LUT6 of a ROM built as logic: a LUT6 is a 64 x 1 ROM; deeper ROMs add a mux tree (a third
    more). What yosys gives a ROM abc maps alone -- the twin builds the deep ones as modules of their
    own for that (rtl.verilog.RomSet; benchmarks/results/rom_logic.json: 41 x 3,200 random words
    2,725 LUT against 2,733 here)."""
    if depth <= 2 or width <= 0:  # one or two words: a constant, or one address bit that joins its consumer's LUT
        return 0.0
    return float(ports * width * math.ceil(depth / 64) * (4 / 3 if depth > 64 else 1))


def _cb(n: int) -> int:
    """Bits of a register counting ``n`` values: none for one value (a constant)."""
    return 0 if int(n) <= 1 else _w(n)


def _mux(n: int) -> int:
    """LUT6 per bit of an ``n``:1 multiplexer: a LUT6 is a 4:1 mux, a tree of them (n - 1) / 3
    (yosys's abc9 maps to LUTs only: no MUXF7 / MUXF8)."""
    return math.ceil((int(n) - 1) / 3) if n > 1 else 0


def _pow2(n: int) -> bool:
    return n & (n - 1) == 0


def output_buffer(g: LayerGeometry, readers: int) -> tuple[int, int, int]:
    """(time banks, banks, words per bank) of the spike buffer a layer writes (rtl.generate)."""
    tb = g.time_steps if g.fire_once else 1
    ob = g.out_banks
    depth = (g.n_out // ob) * (1 if tb > 1 else g.time_steps)
    return tb, ob, depth


def spike_buffer_plan(g: LayerGeometry, readers: int, ultra: bool = False) -> MemoryPlan:
    """The output spike buffer as the twin builds it (rtl.verilog.buffer_body): per time bank, one
    memory per write group (:attr:`LayerGeometry.spike_write_groups`) of ``out_banks / groups`` bits a
    word.

    Read by its consumer alone (``readers == 1``: no skip reader), the buffer is read through a
    registered port -- the consumer's scan presents next cycle's address (rtl.verilog) -- so the
    memory rule may put it in block RAM (or URAM, ``ultra``) where it fills the primitive: a deep
    buffer then costs no LUT. Otherwise, and where the rule says distributed anyway, it is read in
    the cycle of the address (distributed): the RTL of a small buffer is what it always was."""
    tb, ob, depth = output_buffer(g, readers)
    k = g.spike_write_groups
    if readers == 1:
        sync = memory_plan(ob // k, depth, rom=False, banks=tb * k, sync_read=True, ultra=ultra)
        if registered_read(sync.style):
            return sync
    style = memory_style(ob, depth * tb, rom=False, sync_read=False)
    return MemoryPlan(style, ob // k, depth, tb * k)


def spike_buffer_cost(sb: MemoryPlan, readers: int, ultrascale: bool = False) -> tuple[float, float]:
    """``(LUTRAM LUTs, read-mux bits)`` of a spike buffer (:func:`spike_buffer_plan`): its ``banks``
    memories, each read by the ``readers`` ports asynchronously; none in block / ultra RAM (the
    primitives are counted by :func:`layer_memories`)."""
    if registered_read(sb.style):
        return 0.0, 0.0
    luts, mux_bits = lutram_cost(sb.width, sb.depth, readers, ultrascale)
    return sb.banks * luts, sb.banks * mux_bits


def out_address(g: LayerGeometry, readers: int) -> float:
    """Address bits the spike buffer computes (rtl.verilog): the write address and each reader's
    read address ``t * words + word``, an add of a constant product when the buffer holds more
    than one step (one bank of T steps), else the word alone."""
    tb, _, depth = output_buffer(g, readers)
    steps = g.time_steps if tb == 1 else 1
    return float((readers + 1) * _w(depth)) if steps > 1 else 0.0


def table_ports(g: LayerGeometry) -> int:
    """Simultaneous reads of a layer's chunk tables: one per tap slot (a kernel row per cycle
    reads ``kw`` chunks at once)."""
    return g.tap_lanes if g.kind == "conv" else 1


def _table_shapes(g: LayerGeometry) -> dict[str, tuple[int, int]]:
    t = g.table
    assert t is not None
    out = {"table": (g.lanes * t.weight_bits + t.group_bits, max(t.chunks, 1))}
    if g.skip_table is not None:
        s = g.skip_table
        out["skip_table"] = (g.lanes * s.weight_bits + s.group_bits, max(s.chunks, 1))
    return out


def registered_tables(g: LayerGeometry) -> bool:
    """Whether the twin reads this layer's chunk tables through a registered port, so the memory
    rule may put them in block RAM: yes where the rule, asked with ``sync_read=True``, picks block
    RAM for the main or the skip table.

    The FSM never steers by a chunk word (only by the offsets ROM), so the registered read costs
    no cycle per event: the chunk arrives in a stage of its own ahead of the accumulator read
    (stage 0 presents the table address, stage 1 the accumulator address from the chunk's group,
    stage 2 adds and writes). The one price is the drain: ``done`` comes one cycle later, so the
    last spike is written before the next layer reads (:func:`cycles` adds 1 per sample); the
    readout spends that cycle in a drain state before its stream reads the accumulators (the
    stream's port bypasses the write of its cycle, so it sees the last add). ROMs never go to
    URAM (no initial contents), so ``ultra`` does not enter. Not (yet) for a residual-stream layer
    (``z_current``): its stream read and write-back run on the FSM's signals without the extra stage,
    so its tables stay distributed (an honest limit, priced the same way here and in the Verilog)."""
    if g.kind == "maxpool" or g.table is None or g.z_current:
        return False
    k = table_ports(g)
    return any(memory_style(w, d, rom=True, sync_read=True, read_ports=k) == "block"
               for w, d in _table_shapes(g).values())


def lane_forwarding(g: LayerGeometry, ultra: bool = False) -> bool:
    """Whether the twin forwards the accumulators' one-cycle write-to-read collision per scatter
    lane (each tap slot's ``L`` sums) rather than per bank (``F`` words of ``L`` lanes).

    A block / ultra RAM reads the old word when the cycle's write hits the word being read; the
    read-modify-write pipeline needs the new one. Per bank, every bank's read is muxed with the
    word written into it (``F x L x acc_bits`` mux bits and as many flip-flops). Per lane, only the
    ``K`` tap slots' lane sums of the last cycle are kept, and a slot takes the one whose
    (bank, address) equals its own (``K x K`` compares; at most one matches: the slots of one
    cycle write distinct banks), which holds when the scatter is the only writer a read can
    collide with, by construction:

    * init and the residual load end at least two cycles before the first scatter (``S_NEXT``,
      ``S_SCAN``), and a fire pass two cycles before the next frame's;
    * consecutive fire (or residual-load) cycles visit distinct words when a plane holds more
      than one word (``plane_words > 1``: the word advances every cycle, and the lane wrap steps
      back ``plane_words - 1`` words);
    * the scatter's last write and the fire pass's first read are kept apart by one gap cycle
      (``S_GAP``, :func:`fire_gap`) -- the price: one cycle per fire pass.

    Chosen where it is the smaller: a slot's select among ``K`` sums and the bank's word is
    ``_mux(K + 1)`` LUTs a bit against the ``F`` banks' one each (one slot, more than one bank; a
    kernel row of 3, more than 3 banks). The readout's accumulators are never in a registered
    RAM (its stream reads them too)."""
    if g.kind in ("maxpool", "readout") or g.table is None:
        return False
    K = g.tap_lanes if g.kind == "conv" else 1
    if g.plane_words <= 1 or K * max(1, _mux(K + 1)) >= g.fire_lanes:
        return False
    return registered_read(acc_plan(g, ultra).style)


def acc_plan(g: LayerGeometry, ultra: bool = False) -> MemoryPlan:
    """Where the accumulators live: ``F`` banks of one ``L``-lane word per position, read through
    the read-modify-write pipeline (the readout's also by its stream, in the cycle: never a
    registered RAM). One rule for :func:`layer_memories` and :func:`lane_forwarding`."""
    return memory_plan(g.lanes * g.acc_bits, g.acc_depth, rom=False, banks=g.fire_lanes,
                       sync_read=g.kind != "readout", ultra=ultra)


def fire_passes(g: LayerGeometry) -> int:
    """Fire passes per sample: one per step, one in all for a layer that fires once (its pixel
    current is fired through its spike-train table), none for the readout."""
    if g.kind in ("maxpool", "readout"):
        return 0
    return 1 if g.fire_once else g.time_steps


def fire_gap(g: LayerGeometry, ultra: bool = False) -> int:
    """Cycles per sample of the gap before each fire pass (:func:`lane_forwarding`)."""
    return fire_passes(g) if lane_forwarding(g, ultra) else 0


def layer_memories(g: LayerGeometry, readers: int = 1, ultra: bool = False,
                   ultrascale: bool = False) -> dict[str, MemoryPlan]:
    """Every array of one layer of the twin and where the memory rule (:mod:`spikehls.hls.memory`)
    puts it -- the RTL generator builds these, the cost model counts them.

    RAMs: the accumulators (``F`` banks of one ``L``-lane word per position, read through the
    read-modify-write pipeline; the readout's stream also reads them in its beat, so they stay
    distributed), the membranes (one word of the ``F`` fire lanes), the output spike buffer
    (:func:`spike_buffer_plan`: block / ultra RAM behind a registered read where its consumer alone
    reads it and it fills the primitive, else distributed). ROMs (read in the cycle of
    the address: the FSM steers by them): offsets, bias, thresholds / fire tables; the chunk
    tables (main and skip) are read through a registered port where :func:`registered_tables`
    says so (block RAM, ``table_ports`` read ports), else in the cycle of the address.
    ``ultrascale``: the part's distributed RAM cells are UltraScale's (their bits allocated)."""
    mems = _layer_memories(g, readers, ultra)
    return {k: replace(m, ultrascale=True) for k, m in mems.items()} if ultrascale else mems


def _layer_memories(g: LayerGeometry, readers: int, ultra: bool) -> dict[str, MemoryPlan]:
    mems: dict[str, MemoryPlan] = {}
    if g.kind == "maxpool":
        mems["out_spikes"] = spike_buffer_plan(g, readers, ultra)
        return mems
    t = g.table
    assert t is not None
    L, F, AB, CO, PW = g.lanes, g.fire_lanes, g.acc_bits, g.channels, g.plane_words
    readout = g.kind == "readout"
    mems["acc"] = acc_plan(g, ultra)
    if g.is_neuron:
        if not g.fire_once and g.time_steps > 1:  # at T = 1 no membrane outlives its step: no memory
            mems["membranes"] = memory_plan(F * g.v_bits, CO * PW, rom=False, sync_read=True, ultra=ultra)
        mems["out_spikes"] = spike_buffer_plan(g, readers, ultra)
    rom = {"offsets": (t.index_bits, t.rows + 1), "bias": (L * (AB if readout else g.bias_bits), g.groups)}
    if g.skip_table is not None:
        rom["skip_offsets"] = (g.skip_table.index_bits, g.skip_table.rows + 1)
    sync, k = registered_tables(g), table_ports(g)
    for name, (w, d) in _table_shapes(g).items():
        plan = memory_plan(w, d, rom=True, sync_read=sync, read_ports=k)
        if plan.style == "block":  # yosys maps the bits that vary (constant columns removed)
            plan = replace(plan, kept_width=(t if name == "table" else g.skip_table).varying_bits)
        mems[name] = plan
    if g.is_neuron:
        if g.fire_once:
            rom["fire_tables"] = (g.n_breaks * (AB + 1) + (g.n_breaks + 1) * g.time_steps, CO)
        else:
            rom["thresholds"] = (g.v_bits, CO)
    for name, (w, d) in rom.items():
        mems[name] = memory_plan(w, d, rom=True, sync_read=False)
    return mems


def memory_bits(mems: dict[str, MemoryPlan]) -> dict[str, int]:
    """``bits_stored`` (what the layer holds) and ``bits_allocated`` (what its primitives
    provide), and the BRAM18 / URAM they take."""
    return {"bits_stored": sum(m.bits_stored for m in mems.values()),
            "bits_allocated": sum(m.bits_allocated for m in mems.values()),
            "BRAM18": sum(m.bram18 for m in mems.values()), "URAM": sum(m.uram for m in mems.values())}


def items(g: LayerGeometry, readers: int = 1, ultra: bool = False, ultrascale: bool = False) -> dict[str, dict[str, float]]:
    """The structural quantities of one layer of the twin: ``{"LUT": {...}, "FF": {...}, "LUTRAM": {...}}``.

    ``readers``: read ports on the layer's output buffer (its consumer and any skip readers);
    ``ultra``: the part has URAM (the memory rule may pick it); ``ultrascale``: its distributed RAMs
    are UltraScale's 8-LUT cells (:func:`spikehls.hls.memory.lutram_map`). Block / ultra RAMs are
    not here (no LUT): :func:`layer_memories` counts them.
    """
    lut: dict[str, float] = {}
    ff: dict[str, float] = {}
    ram: dict[str, float] = {}
    T = g.time_steps
    if g.kind == "maxpool":
        # the twin's pool (rtl.verilog.maxpool_module) walks its input by PoolWalk: no divider, no
        # multiplier, so its logic is a handful of known-width adders and counters and the select
        c, h, w = g.in_shape
        R, k = g.out_lanes, g.pool_kernel
        pw = PoolWalk.of(g)
        # span input p: an OR of its cases (rel_u == v) && a constant bit; the compares are shared
        lut["pool_select"] = sum(len(v) for v in pw.cases)
        lut["pool_decode"] = len({v for cs in pw.cases for v in cs}) * pw.rel_bits
        lut["pool_hit"] = R * k  # each output's OR of its k span inputs
        # wf + step + carry and wd's next (wd + 1 / wf_n / 0); off + step, its carry and wrap;
        # rel_u's next (rel_u - IOB / unit, off_n, 0)
        lut["pool_words"] = 2 * pw.word_bits
        lut["pool_offset"] = 3 * (pw.offset_bits + 1) + pw.rel_bits
        lut["control"] = 1.0
        sb = spike_buffer_plan(g, readers, ultra)
        ram["out_spikes"], lut["lutram_mux"] = spike_buffer_cost(sb, readers, ultrascale)
        if registered_read(sb.style):  # its consumer's next-cycle read address (rtl.verilog)
            lut["buffer_next_address"] = _w(sb.depth)
        # the buffer's read addresses t * words + word; the pool writes through a running count
        lut["out_address"] = out_address(g, readers) * readers / (readers + 1)
        counters = _cb(T) + _cb(c) + _cb(g.out_shape[1]) + _cb(max(1, g.out_shape[2] // R)) + _cb(k) + _cb(max(1, sb.depth))
        lut["pool_counters"] = counters  # the nested counters and their end compares
        ff["registers"] = counters + 2 * pw.word_bits + pw.offset_bits + pw.rel_bits + R + 2
        return {"LUT": lut, "FF": ff, "LUTRAM": ram}
    t = g.table
    assert t is not None
    L, F, G, PW, K, R = g.lanes, g.fire_lanes, g.groups, g.plane_words, g.tap_lanes, g.read_lanes
    AB, WB, IB = g.acc_bits, t.weight_bits, t.index_bits
    CO = g.channels
    depth = G * PW
    IW = 8 if g.pixels else 1
    readout = g.kind == "readout"
    # the scatter: K x L adders, each reading its bank through an F:1 mux; every bank a data mux.
    # A layer whose tables hold no weight never adds (every offset row is empty): yosys removes
    # the whole scatter path, and only init, fire and the walk remain
    live = t.chunks > 0 or (g.skip_table is not None and g.skip_table.chunks > 0)
    KS = K if live else 0
    # lanes that ever add a nonzero weight (the skip table's too; a stream layer's all): a lane whose
    # channels are all empty adds constant zeros, and yosys removes its adder, multiplier and the
    # weight bits of its ROM words (the max of the two tables: a lower bound of their union)
    LL = L if g.z_current else max(t.live_lanes, g.skip_table.live_lanes if g.skip_table is not None else 0)
    lut["adders"] = KS * LL * AB
    if g.pixels:
        from spikehls.hls.estimate import lut_multiplier

        # a one-chunk table is a constant (a one-word ROM): each lane multiplies by a constant, a
        # shift-and-add of about one adder, not a general multiplier
        const = t.chunks <= 1 and (g.skip_table is None or g.skip_table.chunks <= 1)
        lut["multipliers"] = KS * LL * ((WB + 8) if const else lut_multiplier(WB, 8))
    mems = layer_memories(g, readers, ultra, ultrascale)
    # the bank muxes are priced by where the banks live: banks of one or two words in registers
    # apart from LUTRAM banks (the fit: about 0.57 / 0.11 against 0.96 / 0.21 per unit; a LUTRAM
    # bank's read also drives its own address and output logic), and the readout's one bank of L
    # lanes (F = 1) apart from the engines' F-bank crossbar (its write mux about twice theirs per
    # unit; shared with them, the stream's select had absorbed the difference)
    acc_regs = not readout and mems["acc"].style == "registers"
    lut["reg_bank_read_mux" if acc_regs else "bank_read_mux"] = KS * L * AB * (F - 1)
    fire_we = not readout and not g.pixels  # the fire pass writes the bank back (rtl.verilog: fire_we)
    write_mux = "readout_write_mux" if readout else "reg_bank_write_mux" if acc_regs else "bank_write_mux"
    lut[write_mux] = L * F * AB * (KS + (1 if fire_we else 0) + 1)
    # the start value b_init (and, where the fire pass writes, the reset value b_fire) of every bank
    # and bias lane: an input of each write-mux bit unless the lane's biases are all 0 (a constant)
    lut["readout_bias_mux" if readout else "bias_mux"] = F * AB * g.bias_lanes * (1 + (1 if fire_we and not g.z_current else 0))
    lut["bank_address"] = F * _cb(depth) * (KS + 2)  # a one-word bank has no address
    # tables: ROMs as logic (offsets read twice per tap slot, a chunk per slot, bias twice)
    reg_tbl = registered_tables(g)
    # the offsets ROMs (read twice per tap slot) by the bits their content deviates from a ramp
    # (TableGeometry.offset_bits): priced apart from the other ROMs, whose content is random-like
    lut["offsets_rom"] = rom_luts(t.offset_bits, t.rows + 1, 2 * K) + (
        rom_luts(g.skip_table.offset_bits, g.skip_table.rows + 1, 2 * K) if g.skip_table is not None else 0.0)
    rom = 0.0
    for name in ("table", "skip_table"):  # a chunk table in block RAM costs no LUT (its BRAM18 are counted)
        if name in mems and mems[name].style != "block":
            tg = t if name == "table" else g.skip_table
            rom += rom_luts(mems[name].width - (L - tg.live_lanes) * tg.weight_bits, mems[name].depth, K)
    bb = AB if readout else g.bias_bits
    rom += rom_luts((L if g.z_current else g.bias_lanes) * bb, G, 1 if readout else 2)  # a zero-bias lane's bits are constants (a stream layer's bias feeds its current: all lanes)
    if g.is_neuron:  # the breakpoint + train (or threshold) ROMs by the columns yosys keeps (hls.rom_bits)
        rom += rom_luts(g.neuron_rom_bits, CO, 1)
    if g.signed_current:
        rom += rom_luts(2, CO, 1)  # the current's sign per channel
    lut["rom"] = rom
    # input scan and the target of each tap
    subs = max(1, g.in_banks // R)
    lut["scan"] = R * IW + (subs - 1) * R * IW + R * _w(R)
    if g.kind == "conv":
        _, hi, wi = g.in_shape
        xb, yb = _w(wi + g.padding + 1), _w(hi + g.padding + 1)
        div = 0 if _pow2(F) and _pow2(g.out_shape[2] // F if g.out_shape[2] % F == 0 else 1) else 1
        lut["target"] = KS * (xb + yb) + yb + div * KS * xb * _w(F) + (0 if g.stride == 1 else KS * (xb + yb) * 2)
        lut["row_index"] = KS * _w(t.rows + 1)
    else:
        lut["row_index"] = _w(t.rows + 1) if live else 0
    if g.skip_table is not None:
        so, sh, sw = g.skip_shape
        lut["skip_walk"] = _w(so * sh * sw) * (2 if _pow2(max(1, g.in_banks)) else 4) + _w(PW) * 2
    # neurons / train select / readout output
    if g.is_neuron:
        lut["fire_read_mux"] = F * AB * (L - 1)
        if g.fire_once:
            # per neuron: the current against each of the channel's breakpoints (a compare of
            # acc_bits + 1), the count of those passed, and the (NB + 1):1 select of a T-bit train
            NB = g.n_breaks
            lut["break_compare"] = F * NB * (AB + 1)
            lut["train_select"] = F * (NB + T * math.ceil(NB / 3))
        else:
            # leak, add, saturate, compare and reset per neuron; at T = 1 the membrane starts at 0
            # and is never stored: only the compare of the (saturated) current is left
            lut["neurons"] = F * g.sum_bits * (1 if T == 1 else 3 if g.leak_shift == 0 else 4)
            if T > 1 and g.reset == "subtract":
                # the subtractive reset's ``vsat - thr`` and its select, on the v_bits kept; a reset to
                # zero is an AND that folds into the write-back (the fit's miss pattern: subtract
                # layers under-priced by up to 29 %, zero-reset ones over)
                lut["reset_subtract"] = F * g.v_bits
    else:
        # the readout's stream: value k is lane k % L of word k / L -- with the accumulators in
        # registers one (words x L):1 select of AB bits, else the L:1 lane select of the word its
        # own asynchronous port reads (that port's read mux is lutram_mux)
        words = g.acc_depth if mems["acc"].style == "registers" else 1
        lut["out_mux"] = AB * _mux(L * words)
    if g.z_current:
        lut.update(stream_items(g))
    lut["control"] = 1.0
    # registers of the FSM (rtl.verilog: every reg the module declares), each as wide as what it
    # counts: a counter over one value (a single group, step, word) is a constant yosys removes,
    # and so is a spike input's value (always 1): _cb counts them as no bits
    ADC, EV = _cb(depth), (8 if g.pixels else 0)
    regs = 4 + _cb(T) + ADC + _cb(G) + _cb(PW) + _cb(g.n_in // R) + _cb(max(1, g.n_in // g.in_banks)) + _cb(subs) + R + 1
    if g.kind == "conv":
        ci, hi, wi = g.in_shape
        kh, kw = g.kernel
        regs += 2 * (_cb(ci) + _cb(hi)) + _cb(wi) + _cb(wi) + 1 + _cb(kh * kw) + _cb(kh) + _cb(kw)
    else:
        regs += _cb(g.n_in // R)
    regs += EV + _cb(R) + 2 * IB + _cb(F) + _cb(PW) + 1
    if g.skip_table is not None:
        regs += _cb(g.skip_shape[0]) + _cb(g.out_shape[1]) + _cb(g.out_shape[2])
    if readout:
        regs += _cb(CO) + _cb(L) + _cb(G) + 1
    else:
        regs += _cb(CO * PW) + _cb(PW) + _cb(CO) + _cb(L) + _cb(G) + ADC
    ff["registers"] = regs
    # their next-state logic: every counter bit an increment / compare / load (a LUT and a carry
    # share each); the chunk walk's pointer compares and selects (t_b != t_e per slot, the row's
    # length, ce + 1 == cend, the chunk address select)
    lut["fsm"] = regs
    EB = max(IB, g.skip_table.index_bits) if g.skip_table is not None else IB
    lut["chunk_walk"] = (KS * 2 * IB + 4 * EB) if live else 0
    # the read-modify-write pipeline's stage-2 registers (rtl.verilog: p_*)
    pipe = 1 + K + K * _cb(F) + F * ADC + _cb(G) + EV
    # the chunk words of the K slots (p_chunk, p_schunk): ROM contents, so yosys keeps only the
    # bits that vary over the table (TableGeometry.varying_bits) -- none of a one-chunk table
    ff["chunk_regs"] = K * t.varying_bits
    if g.skip_table is not None:
        pipe += 1 + EV
        st = g.skip_table
        ff["chunk_regs"] += K * st.varying_bits
    if not readout:
        pipe += 1 + _cb(L) + _cb(G) + _cb(CO) + _cb(CO * PW) + _cb(T)
    if reg_tbl:
        # stage 0 -> 1 (rtl.verilog: q_*): what the accumulator address and stage 2 need, one
        # cycle later, beside the chunk the table's output register holds; and the delayed done
        q = 2 + K + K * _cb(F) + K * _cb(PW) + 2 * ADC + 2 * _cb(G) + EV + _cb(L) + _cb(CO) + _cb(CO * PW) + _cb(T) + 1
        if g.skip_table is not None:
            q += 1 + (8 if g.skip_pixels else 1)  # q_skip, q_kin
        pipe += q
    ff["pipeline"] = pipe
    # memories by the rule: accumulators (F banks of L-lane words), membranes (a word of F lanes),
    # the output spike buffer; block / ultra RAM costs no LUTRAM but a forwarding register and mux
    mux = 0.0  # the read muxes of distributed RAMs deeper than one primitive (lutram_map)
    for name, m in mems.items():
        if m.rom or name == "out_spikes":
            continue
        # the readout's stream reads the accumulators too: a second port of a LUTRAM (a copy); of
        # registers, the stream's select is out_mux, and the add's read of its (at most two) words
        # folds into the adder's LUTs (the fit priced that read mux at 0)
        ports = 2 if (readout and name == "acc" and m.style == "distributed") else 1
        if m.style == "distributed":
            luts, mux_bits = lutram_cost(m.width, m.depth, ports, ultrascale)
            ram[name] = m.banks * luts
            mux += m.banks * mux_bits
            # rtl.verilog._ram: the registered read address of every bank (the read sees last cycle's write)
            ff["ram_address"] = ff.get("ram_address", 0.0) + m.banks * _w(m.depth)
        elif m.style == "registers":
            ff["acc_registers"] = ff.get("acc_registers", 0.0) + m.bits_stored
            # a word per register: the read is a depth:1 mux per bit and port; the membranes' read of
            # two words folds into the neuron's adder (select, step-0 clear, current bit and the sum:
            # one LUT6 beside the carry); the accumulators' feeds a bank mux first and does not
            if not readout and not (name == "membranes" and m.depth <= 2):
                lut["reg_read_mux"] = lut.get("reg_read_mux", 0.0) + m.banks * m.width * (m.depth - 1) * ports
        elif name == "membranes":
            pass  # never forwarded: the fire pass's membrane word advances every cycle (rtl.verilog)
        elif lane_forwarding(g, ultra):
            # each slot's lane sums kept, K x K compares of a slot's (bank, address) with the last
            # cycle's, and in each lane of each slot a select among the K sums and the bank's word
            # (the slots' stage-2 addresses beside them)
            ff["forward_lane"] = K * (L * AB + K + _w(m.depth))
            lut["forward_lane"] = K * L * AB * max(1, _mux(K + 1)) + K * K * (_w(m.depth) + _w(F))
        else:
            ff["forward"] = ff.get("forward", 0.0) + m.banks * (m.width + 1)
            lut["forward"] = lut.get("forward", 0.0) + m.banks * (m.width + 2 * _w(m.depth))
    if g.is_neuron:
        tb, ob, _ = output_buffer(g, readers)
        ram["out_spikes"], sb_mux = spike_buffer_cost(mems["out_spikes"], readers, ultrascale)
        mux += sb_mux
        if registered_read(mems["out_spikes"].style):  # its consumer's next-cycle read address (rtl.verilog)
            lut["buffer_next_address"] = _w(mems["out_spikes"].depth)
        lut["out_read_mux"] = readers * ob * (tb - 1)
        lut["out_address"] = out_address(g, readers)
    if g.writes_stream:  # the stream buffer z [T][C][H][W]: z_banks banks, one read port per reader
        luts, mux_bits = lutram_cost(AB, T * g.n_out // g.z_banks, g.stream_readers, ultrascale)
        ram["stream"] = g.z_banks * luts
        mux += g.z_banks * mux_bits
    lut["lutram_mux"] = mux
    return {"LUT": lut, "FF": ff, "LUTRAM": ram}


def stream_items(g: LayerGeometry) -> dict[str, float]:
    """LUT items of a stream layer (rtl.verilog): per fire lane the current ``bias + sign * z``
    (an adder, and with signs a subtractor and a 3:1 select), a residual reader's bank select of
    the source's stream word (z_banks / F : 1 per lane) and stream addresses. Not fitted yet:
    priced at their structural count (coefficient 1)."""
    F, AB, PW = g.fire_lanes, g.acc_bits, g.plane_words
    zb = max(AB, g.bias_bits) + 1
    out = {"stream_current": F * zb * (3 if g.signed_current else 1)}
    addr = 2 * _w(g.channels * g.plane) + _w(g.time_steps * g.n_out)  # position, word, step offset
    select = 0.0
    if g.residual_source is not None:
        select += F * AB * max(0, g.residual_banks // F - 1) + addr + _w(PW)
    if g.writes_stream:
        select += addr + g.z_banks  # the write address and bank mask
    out["stream_select"] = select
    return out


def scan_words(g: LayerGeometry) -> int:
    return g.n_in // max(1, g.read_lanes)


def taps_per_event(g: LayerGeometry) -> int:
    if g.kind != "conv":
        return 1
    kh, kw = g.kernel
    return kh if g.tap_lanes > 1 else kh * kw


def _chunk_counts(g: LayerGeometry, weight: np.ndarray, stats=None) -> tuple[int, int, int, int]:
    """Over every valid (input position, tap) of one frame: (further chunks, synops, chunks,
    nonempty taps) -- what the walk costs beyond one cycle per tap when everything spikes.
    ``stats``: the weights' :class:`~spikehls.hls.geometry.WeightStats` (same figures, no pass)."""
    if stats is not None:  # the planner prices a layer at many lane counts: each count once
        key = ("chunk_counts", g.kind, g.lanes, g.in_shape, g.out_shape, g.kernel, g.padding, g.stride)
        got = stats.memo.get(key)
        if got is None:
            got = stats.memo[key] = _count_chunks(g, weight, stats)
        return got
    return _count_chunks(g, weight, None)


def _count_chunks(g: LayerGeometry, weight: np.ndarray, stats=None) -> tuple[int, int, int, int]:
    co = g.channels
    if g.kind == "conv":
        ci, H, W = g.in_shape
        kh, kw = g.kernel
        if stats is not None:
            ch = stats.chunks(g.lanes).reshape(ci, kh, kw)
            nnz = stats.row_nnz.reshape(ci, kh, kw)
        else:
            rows = weight.reshape(co, -1).T
            ch = chunks_per_row(rows, g.lanes).reshape(ci, kh, kw)
            nnz = np.count_nonzero(weight, axis=0)
        from spikehls.hls.estimate import _conv_valid_counts

        cy = _conv_valid_counts(H, kh, g.padding, g.stride, g.out_shape[1])
        cx = _conv_valid_counts(W, kw, g.padding, g.stride, g.out_shape[2])
        reach = (cy[:, None] * cx[None, :])[None]
    else:
        ch = stats.chunks(g.lanes) if stats is not None else chunks_per_row(weight.T, g.lanes)
        nnz = stats.row_nnz if stats is not None else np.count_nonzero(weight, axis=0)
        reach = 1
    return (int((np.maximum(ch - 1, 0) * reach).sum()), int((nnz * reach).sum()), int((ch * reach).sum()),
            int(((ch > 0) * reach).sum()))


def extra_chunks_worst(g: LayerGeometry, weight: np.ndarray, stats=None) -> tuple[int, int]:
    """(further chunks over all valid taps of every input position of one frame, synops of it):
    the cycles a row's second and later chunks add when everything spikes."""
    if g.groups == 1:
        return 0, 0
    ex, syn, _, _ = _chunk_counts(g, weight, stats)
    return ex, syn


def cycles(g: LayerGeometry, weight: Optional[np.ndarray] = None, in_events: Any = None, synops: Any = None,
           skip_events: Any = None, skip_table: Optional[np.ndarray] = None, stats=None,
           ultra: bool = False) -> tuple[int, Any]:
    """(worst case, on the given activity) cycles of one layer of the twin for one sample.

    ``in_events``: active inputs per sample over all walked frames (the C-simulation's counter;
    a number or an array of samples); ``synops`` weight additions (to scale further chunks);
    ``ultra``: the part has URAM (where the accumulators live decides :func:`fire_gap`)."""
    T = g.time_steps
    if g.kind == "maxpool":
        c, h, w = g.in_shape
        _, ho, wo = g.out_shape
        R, k, s, IOB = g.out_lanes, g.pool_kernel, g.pool_stride, g.in_banks
        span = s * (R - 1) + k
        total = 0
        for oy in range(ho):
            for sg in range(wo // R):
                for py in range(k):
                    for cc in range(c):
                        base = cc * h * w + (oy * s + py) * w + sg * R * s
                        total += (base + span - 1) // IOB - base // IOB + 1
        n = T * total
        return n, (float(n) if in_events is not None else None)
    frames = g.frames
    nw = scan_words(g)
    tpe = taps_per_event(g)
    fire = g.channels * g.plane_words
    depth = g.groups * g.plane_words
    skip_fixed = 0
    if g.skip_table is not None:
        skip_fixed = g.skip_shape[0] * g.out_shape[1] * g.out_shape[2]
    init = fire if g.residual_source is not None else depth  # a residual reader loads z_0 channel by channel
    fixed = init + frames * (1 + nw + skip_fixed) + (1 if registered_tables(g) else 0)  # + the drain of stage 0
    fixed += fire_gap(g, ultra)
    if g.kind == "readout":
        fixed += g.channels + 1
    elif g.pixels:
        fixed += fire if g.fire_once else T * fire + (T - 1)
    else:
        fixed += T * fire
    # the further chunks (only where a row may hold several: more than one channel group), counted once
    ex_w, syn_w, ch_w, taps_w = _chunk_counts(g, weight, stats) if weight is not None and g.groups > 1 else (0, 0, 0, 0)
    events_worst = frames * g.n_in
    worst = fixed + events_worst * tpe + frames * ex_w
    if in_events is None:
        return int(worst), None
    ie = np.asarray(in_events, dtype=np.float64) if np.ndim(in_events) else float(in_events)
    if skip_events is not None:  # the C-simulation counts a skip walk's active inputs as input events too
        ie = np.maximum(ie - np.asarray(skip_events, dtype=np.float64), 0) if np.ndim(ie) or np.ndim(skip_events) else max(ie - float(skip_events), 0.0)
    extra = 0.0
    if ex_w:
        if synops is not None and syn_w:
            # chunks walked ~ synops x (chunks per weight); minus the first chunk of every
            # nonempty tap, ~ events x (nonempty taps per event)
            sy = np.asarray(synops, dtype=np.float64)
            extra = np.clip(sy * ch_w / syn_w - ie * taps_w / g.n_in, 0, frames * ex_w)
        else:
            extra = np.clip(ie / events_worst, 0, 1) * frames * ex_w
    if skip_events is not None and skip_table is not None and g.groups > 1:
        # an active skip input walks its source channel's chunks: one cycle each after the first
        per = float(np.maximum(chunks_per_row(np.asarray(skip_table).T, g.lanes) - 1, 0).mean())
        extra = extra + np.asarray(skip_events, dtype=np.float64) * per if np.ndim(skip_events) else extra + float(skip_events) * per
    act = fixed + ie * tpe + extra
    return int(worst), act
