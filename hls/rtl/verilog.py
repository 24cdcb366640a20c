"""Verilog text of the RTL twin: one module per layer, filled in from its :class:`LayerGeometry`.

Each layer module is the same datapath the HLS kernels describe (``hls/cpp/nnet_spiking.h``),
written as a small FSM over the same memories (``docs/rtl.md`` draws it):

* **accumulate engine** (spiking conv / dense, direct-encoded conv / dense, readout): ``L``
  scatter lanes (lane ``j`` only ever writes accumulator bank row ``j``), ``F`` fire lanes,
  accumulators in ``L x F`` banks of ``G W`` words, the chunked nonzero table one chunk per ROM
  word, the offsets ROM, a word-wide input scan (``R`` positions per cycle, a priority encoder
  over the mask), one cycle per kernel tap with the tap's first chunk added in that cycle, one
  more cycle per further chunk of the row, the skip walk, and one flat fire pass of ``F``
  neurons per cycle that resets the accumulators to the bias;
* **max pool**: ``R_o`` pooled outputs of one output row per window-row word read (OR);
* the **output spike buffer** of a layer lives in the layer that writes it: ``OB`` one-bit
  banks (``pos % OB``), read by its consumers through asynchronous read ports.

Every read-modify-write memory (accumulators, membranes) is a two-stage pipeline: the FSM's
cycle presents the address, the next cycle adds (or fires) and writes back, and the read always
includes the write of the cycle it was presented in (write-to-read forwarding for block / ultra
RAM, a registered address for distributed RAM), so back-to-back events on one word see each other
and the FSM's schedule is unchanged (the pipeline drains while the next layer starts). Where each
array lives is the memory rule's (:func:`spikehls.hls.twin_cost.layer_memories`,
:mod:`spikehls.hls.memory`): the accumulators are one word of the ``L`` lanes per position, the
membranes one word of the ``F`` fire lanes, and the memories carry ``ram_style`` / ``rom_style``.
The only multipliers are the direct-encoded
layer's pixel x weight lanes; they carry ``use_dsp`` as decided by
:func:`spikehls.hls.geometry.mac_in_dsp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from spikehls.hls.geometry import LayerGeometry, PoolWalk, mac_in_dsp, unsigned_bits
from spikehls.hls.memory import memory_style, registered_read
from spikehls.hls.twin_cost import lane_forwarding, layer_memories, registered_tables


def _w(n: int) -> int:
    """Bits of an index into ``n`` things (at least 1)."""
    return unsigned_bits(max(int(n) - 1, 1))


@dataclass
class BufferSpec:
    """The output spike buffer of a layer (or the graph input) as its readers see it."""

    time_banks: int  # 1: t is part of the address; T: one memory per step (a fire-once writer)
    banks: int  # OB one-bit (pixels: 8-bit) banks, pos % OB
    words_per_step: int  # n_out / OB
    time_steps: int
    width: int = 1  # 8 for the pixel input
    readers: int = 1  # read ports (consumer, skip readers, debug)
    # 0: a memory per bank (the stream buffer: its writer's enable slides over the banks); k >= 1:
    # the banks are written in k equal groups of one enable each (LayerGeometry.spike_write_groups),
    # each group one memory of banks / k bits a word -- the same address, the same write
    write_groups: int = 0
    # the memory rule's choice (twin_cost.spike_buffer_plan; "" -- the graph input, a stream buffer:
    # read in the cycle of the address, distributed); block / ultra: read through a registered port,
    # the consumer presenting next cycle's address (rd_t / rd_word) and taking the word a cycle later
    style: str = ""

    @property
    def registered(self) -> bool:
        return registered_read(self.style)

    @property
    def t_bits(self) -> int:
        return _w(self.time_steps)

    @property
    def addr_bits(self) -> int:
        return _w(self.words_per_step)

    @property
    def depth(self) -> int:
        return self.words_per_step * (1 if self.time_banks > 1 else self.time_steps)


def buffer_ports(b: BufferSpec) -> str:
    n = b.readers
    return (
        f"    input  wire [{n * b.t_bits}-1:0] rd_t,\n"
        f"    input  wire [{n * b.addr_bits}-1:0] rd_word,\n"
        f"    output wire [{n * b.banks * b.width}-1:0] rd_data"
    )


def buffer_body(b: BufferSpec, name: str) -> str:
    """Memories, write port (``ob_we``, ``ob_addr``, ``ob_bmask``, ``ob_bits``) and read ports.

    Every read port is computed inside the bank's own generate block (no hierarchical reference
    into another block: yosys and Verilator both take it)."""
    # the consumers' scans read a word in the cycle they present its address (distributed), or,
    # registered (block / ultra RAM), the cycle after
    style = b.style or memory_style(b.width * b.banks, b.depth * b.time_banks, rom=False, sync_read=False)
    assert not b.registered or (b.write_groups and b.readers == 2), "registered: the consumer and the debug port"
    aw = _w(b.depth)
    tb, nb, n, wd = b.time_banks, b.banks, b.readers, b.width
    lines = [
        f"    // output spike buffer of {name}: {tb} time bank(s) x {nb} bank(s) x {b.depth} words"
        f" ({'pos % ' + str(nb) if nb > 1 else 'one bank'}), {n} read port(s)",
        f"    wire [{n * aw}-1:0] rd_addr;",
        f"    wire [{tb * nb * n * wd}-1:0] rd_q;  // [time bank][bank][reader]",
        "    genvar gtb, gbk, grd;",
        *(["    genvar ggr, gsb;"] if b.write_groups else []),
        "    generate",
        f"    for (grd = 0; grd < {n}; grd = grd + 1) begin : raddr",
    ]
    if tb == 1:
        lines.append(f"        assign rd_addr[grd * {aw} +: {aw}] = rd_t[grd * {b.t_bits} +: {b.t_bits}] * {b.words_per_step}"
                     f" + rd_word[grd * {b.addr_bits} +: {b.addr_bits}];")
    else:
        lines.append(f"        assign rd_addr[grd * {aw} +: {aw}] = rd_word[grd * {b.addr_bits} +: {b.addr_bits}];")
    lines.append("    end")
    if b.write_groups:
        lines += _grouped_memories(b, style, aw)
    else:
        lines += _bank_memories(b, style, aw)
    if b.registered:  # the time bank a word came from: the step presented with its address
        lines += [f"    reg [{b.t_bits}-1:0] t_q;", "    always @(posedge clk) t_q <= rd_t[0 +: %d];" % b.t_bits]
    lines += [
        f"    for (grd = 0; grd < {n}; grd = grd + 1) begin : rport",
        (f"        wire [{b.t_bits}-1:0] t_r = grd == 0 ? t_q : rd_t[grd * {b.t_bits} +: {b.t_bits}];" if b.registered else
         f"        wire [{b.t_bits}-1:0] t_r = rd_t[grd * {b.t_bits} +: {b.t_bits}];"),
        f"        for (gbk = 0; gbk < {nb}; gbk = gbk + 1) begin : rbank",
    ]
    q = lambda t: f"rd_q[(({t} * {nb} + gbk) * {n} + grd) * {wd} +: {wd}]"  # noqa: E731
    if tb == 1:
        lines.append(f"            assign rd_data[(grd * {nb} + gbk) * {wd} +: {wd}] = {q(0)};")
    else:
        sel = " :\n                ".join(f"(t_r == {t}) ? {q(t)}" for t in range(tb - 1))
        lines.append(f"            assign rd_data[(grd * {nb} + gbk) * {wd} +: {wd}] =\n                {sel} :\n                {q(tb - 1)};")
    lines += ["        end", "    end", "    endgenerate"]
    return "\n".join(lines)


def _grouped_memories(b: BufferSpec, style: str, aw: int) -> list[str]:
    """One memory per time bank and write group, ``S = banks / groups`` banks a word: every read
    port reads the group's word and hands each bank its bits (rd_q as :func:`_bank_memories`)."""
    tb, nb, n, wd = b.time_banks, b.banks, b.readers, b.width
    k = b.write_groups
    S = nb // k
    assert S * k == nb, (nb, k)
    gw = S * wd
    return [
        f"    for (gtb = 0; gtb < {tb}; gtb = gtb + 1) begin : tbank",
        f"        for (ggr = 0; ggr < {k}; ggr = ggr + 1) begin : wgroup",
        f'            (* ram_style = "{style}" *) reg [{gw}-1:0] mem [0:{b.depth}-1];',
        "            always @(posedge clk) begin",
        f"                if (ob_we && ob_bmask[ggr * {S}]) mem[ob_addr] <= ob_bits[(gtb * {nb} + ggr * {S}) * {wd} +: {gw}];",
        "            end",
        f"            wire [{n * gw}-1:0] word_r;  // [reader]",
        *([f"            reg [{gw}-1:0] word_q;  // the registered read of the consumer's port",
           f"            always @(posedge clk) word_q <= mem[rd_addr[0 +: {aw}]];",
           f"            assign word_r[0 +: {gw}] = word_q;"] if b.registered else [
          f"            for (grd = 0; grd < {n - 1}; grd = grd + 1) begin : rd",
          f"                assign word_r[grd * {gw} +: {gw}] = mem[rd_addr[grd * {aw} +: {aw}]];",
          "            end"]),
        "            // the last port is the simulation's debug read-back: no replica of the memory in synthesis",
        "`ifdef SPIKEHLS_DEBUG",
        f"            assign word_r[{n - 1} * {gw} +: {gw}] = mem[rd_addr[{n - 1} * {aw} +: {aw}]];",
        "`else",
        f"            assign word_r[{n - 1} * {gw} +: {gw}] = {gw}'d0;",
        "`endif",
        f"            for (gsb = 0; gsb < {S}; gsb = gsb + 1) begin : sub",
        f"                for (grd = 0; grd < {n}; grd = grd + 1) begin : rq",
        f"                    assign rd_q[((gtb * {nb} + ggr * {S} + gsb) * {n} + grd) * {wd} +: {wd}] = word_r[grd * {gw} + gsb * {wd} +: {wd}];",
        "                end",
        "            end",
        "        end",
        "    end",
    ]


def _bank_memories(b: BufferSpec, style: str, aw: int) -> list[str]:
    """One memory per time bank and bank (the stream buffer's layout)."""
    tb, nb, n, wd = b.time_banks, b.banks, b.readers, b.width
    return [
        f"    for (gtb = 0; gtb < {tb}; gtb = gtb + 1) begin : tbank",
        f"        for (gbk = 0; gbk < {nb}; gbk = gbk + 1) begin : bank",
        f'            (* ram_style = "{style}" *) reg [{wd}-1:0] mem [0:{b.depth}-1];',
        "            always @(posedge clk) begin",
        f"                if (ob_we && ob_bmask[gbk]) mem[ob_addr] <= ob_bits[(gtb * {nb} + gbk) * {wd} +: {wd}];",
        "            end",
        f"            for (grd = 0; grd < {n - 1}; grd = grd + 1) begin : rd",
        f"                assign rd_q[((gtb * {nb} + gbk) * {n} + grd) * {wd} +: {wd}] = mem[rd_addr[grd * {aw} +: {aw}]];",
        "            end",
        "            // the last port is the simulation's debug read-back: no replica of the memory in synthesis",
        "`ifdef SPIKEHLS_DEBUG",
        f"            assign rd_q[((gtb * {nb} + gbk) * {n} + {n - 1}) * {wd} +: {wd}] = mem[rd_addr[{n - 1} * {aw} +: {aw}]];",
        "`else",
        f"            assign rd_q[((gtb * {nb} + gbk) * {n} + {n - 1}) * {wd} +: {wd}] = {wd}'d0;",
        "`endif",
        "        end",
        "    end",
    ]


def _rom(name: str, width: int, depth: int, file: str, style: Optional[str] = None) -> str:
    """A ROM initialised from ``file``; ``style``: the memory rule's choice (default: read in the
    cycle of the address, as the ROMs the FSM steers by are: distributed)."""
    if style is None:
        style = memory_style(width, depth, rom=True, sync_read=False)
    # yosys has no distributed-ROM primitive: what Vivado builds as a distributed ROM (LUTs) is
    # "logic" to yosys; the same placement, named for each tool
    attr = (f'`ifdef SPIKEHLS_YOSYS\n    (* rom_style = "logic" *)\n`else\n    (* rom_style = "{style}" *)\n`endif\n'
            if style == "distributed" else f'    (* rom_style = "{style}" *)\n')
    return f'{attr}    reg [{width}-1:0] {name} [0:{max(depth, 1)}-1];\n    initial $readmemh("{file}", {name});'



# A ROM as logic deeper than one LUT6 (64 words) is built as a module of its own, read through an
# instance per read port. Why: inline, abc maps the ROM together with the logic that computes its
# address and loses the LUT6 + MUXF7 / MUXF8 tree of a clean ROM. Measured with yosys 0.70
# (xcup, benchmarks/rom_logic.py): a 41 x 3,200 ROM of random words 2,725 LUT with the address a
# module input, 8,389 behind a 2:1 address select (registering the select does not help: memory_dff
# merges that register into the read port); a VGG slice's readout 8,559 -> 3,547 LUT in its design
# (benchmarks/results/calibration_data_vgglayer.json). The module boundary keeps the clean
# mapping, which is what twin_cost.rom_luts prices (a LUT6 per 64 words and bit, a third more for
# the mux tree).
SEPARATE_ROM_DEPTH = 64


def separate_rom(style: str, depth: int) -> bool:
    """Whether a ROM is built as a module of its own (:data:`SEPARATE_ROM_DEPTH`): logic
    (distributed) ROMs deeper than one LUT6."""
    return style == "distributed" and depth > SEPARATE_ROM_DEPTH


class RomSet:
    """The ROMs of one layer module: declared inline, or -- deep logic ROMs (:func:`separate_rom`)
    -- as modules ``<layer module>_<name>`` appended after the layer, read by instances."""

    def __init__(self, mod: str):
        self.mod = mod
        self.separate: dict[str, tuple[int, int, str]] = {}  # name -> (width, depth, file)
        self._n = 0

    def declare(self, name: str, width: int, depth: int, file: str, style: Optional[str] = None) -> str:
        if style is None:
            style = memory_style(width, depth, rom=True, sync_read=False)
        if separate_rom(style, max(depth, 1)):
            self.separate[name] = (width, max(depth, 1), file)
            return f"    // {name}: {width} x {max(depth, 1)} ROM as logic, the module {self.mod}_{name} (one instance per read)"
        return _rom(name, width, depth, file, style)

    def read(self, name: str, addr: str, q: str, width: int) -> str:
        """``wire [width-1:0] q`` = ``name[addr]`` (asynchronous)."""
        if name not in self.separate:
            return f"wire [{width}-1:0] {q} = {name}[{addr}];"
        self._n += 1
        return (f"wire [{width}-1:0] {q};\n"
                f"        {self.mod}_{name} u_{name}_{self._n} (.a({addr}), .q({q}));")

    def modules(self) -> str:
        out = []
        for name, (w, d, file) in self.separate.items():
            aw = max(1, (d - 1).bit_length())
            out += [f"// {name} of {self.mod}: a {w} x {d} ROM as logic, alone so that abc maps it as a ROM",
                    f"module {self.mod}_{name} (input wire [{aw}-1:0] a, output wire [{w}-1:0] q);",
                    _rom("m", w, d, file, "distributed"), "    assign q = m[a];", "endmodule"]
        return "\n".join(out) + ("\n" if out else "")


def _ram(name: str, style: str, width: int, depth: int, *, ra: str, wa: str, we: str, wd: str, q: str,
         ports: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (), forward: bool = True) -> str:
    """A ``depth x width`` RAM of the read-modify-write pipeline: address ``ra`` presented in one
    cycle, its word on ``q`` in the next, written (``we``, ``wa``, ``wd``) in that next cycle.

    ``q`` always includes the write of the cycle the address was presented in (write-first), so
    back-to-back operations on one word see each other. Block / ultra RAM reads through its
    output register and forwards a write that hit the word being read (the primitives read the
    old word on a collision); distributed RAM registers the address and reads asynchronously,
    which is write-first by itself. ``ports``: further asynchronous reads ``(address, out)`` with
    the same-cycle write bypassed (distributed only). ``forward=False``: a block / ultra RAM reads
    as the primitive does (the old word on a collision), for a caller whose schedule never reads
    the word written in the read's cycle, or that forwards it itself (twin_cost.lane_forwarding)."""
    aw = _w(depth)
    lines = [f'    (* ram_style = "{style}" *) reg [{width}-1:0] {name} [0:{depth}-1];']
    if registered_read(style) and not forward:
        assert not ports, "a block / ultra RAM has one read port"
        lines += [
            f"    reg [{width}-1:0] {name}_r;  // the registered read (read-first: no collision by the schedule)",
            "    always @(posedge clk) begin",
            f"        if ({we}) {name}[{wa}] <= {wd};",
            f"        {name}_r <= {name}[{ra}];",
            "    end",
            f"    assign {q} = {name}_r;",
        ]
    elif registered_read(style):
        assert not ports, "a block / ultra RAM has one read port"
        lines += [
            f"    reg [{width}-1:0] {name}_r, {name}_fd;  // the registered read; the word written in the read's cycle",
            f"    reg {name}_fw;",
            "    always @(posedge clk) begin",
            f"        if ({we}) {name}[{wa}] <= {wd};",
            f"        {name}_r <= {name}[{ra}];",
            f"        {name}_fw <= {we} && {wa} == {ra};",
            f"        {name}_fd <= {wd};",
            "    end",
            f"    assign {q} = {name}_fw ? {name}_fd : {name}_r;  // write-to-read forwarding",
        ]
    else:
        lines += [
            f"    reg [{aw}-1:0] {name}_a;  // the registered address: the read sees last cycle's write",
            "    always @(posedge clk) begin",
            f"        if ({we}) {name}[{wa}] <= {wd};",
            f"        {name}_a <= {ra};",
            "    end",
            f"    assign {q} = {name}[{name}_a];",
        ]
        for addr, out in ports:
            lines.append(f"    assign {out} = ({we} && {wa} == {addr}) ? {wd} : {name}[{addr}];  // this cycle's write bypassed")
    return "\n".join(lines)


def _lowest_set(r: int) -> str:
    """A priority encoder function over an ``r``-bit mask."""
    fb = _w(r)
    body = "\n".join(f"            if (m[{i}]) f = {i};" for i in range(r - 1, -1, -1))
    return (
        f"    function [{fb}-1:0] lowest_set;\n        input [{r}-1:0] m;\n        reg [{fb}-1:0] f;\n"
        f"        begin\n            f = 0;\n{body}\n            lowest_set = f;\n        end\n    endfunction"
    )


def stream_buffer_module(b: BufferSpec, mod: str, name: str) -> str:
    """The stream buffer of a residual source (``z`` per step, ``b.width`` bits, ``b.banks`` banks):
    written by its writer's fire pass (``ob_*``), read by every layer that adds the stream (and the
    debug port, last). A module of its own, so the writer and its readers are wired in the top."""
    return "\n".join([
        f"// {name}: residual stream buffer z [T][C][H][W], {b.width}-bit exact integers -- generated by spikehls.hls.rtl",
        f"module {mod} (",
        "    input  wire clk,",
        f"    input  wire ob_we,\n    input  wire [{_w(b.depth)}-1:0] ob_addr,\n    input  wire [{b.banks}-1:0] ob_bmask,",
        f"    input  wire [{b.banks * b.width}-1:0] ob_bits,",
        buffer_ports(b),
        ");",
        buffer_body(b, f"{name} (stream)"),
        "endmodule",
    ]) + "\n"


def _stream_ports(zin: Optional[BufferSpec], zout: Optional[BufferSpec]) -> list[str]:
    """Ports of a stream layer: the read port of its residual source's buffer, the write port of its own."""
    lines = []
    if zin is not None:
        lines.append(f"    output wire [{zin.t_bits}-1:0] rz_t,\n    output wire [{zin.addr_bits}-1:0] rz_word,\n"
                     f"    input  wire [{zin.banks * zin.width}-1:0] rz_data,")
    if zout is not None:
        lines.append(f"    output wire zw_we,\n    output wire [{_w(zout.depth)}-1:0] zw_addr,\n    output wire [{zout.banks}-1:0] zw_bmask,\n"
                     f"    output wire [{zout.banks * zout.width}-1:0] zw_bits,")
    return lines


def accumulate_module(g: LayerGeometry, mod: str, files: dict[str, str], inbuf: BufferSpec,
                      outbuf: Optional[BufferSpec], skipbuf: Optional[BufferSpec], out_width: int = 32,
                      zin: Optional[BufferSpec] = None, zout: Optional[BufferSpec] = None, ultra: bool = False) -> str:
    """A spiking conv / dense (spikes or pixels in) or the readout, as one module; ``ultra``: the
    part has URAM (:func:`spikehls.hls.memory.has_uram`), which the memory rule may then choose.

    A stream layer (``g.z_current``) holds ``z`` in its accumulators: they start at 0, or -- a
    residual reader, ``zin`` its source's stream buffer -- at ``z_t`` of the source (a channel-major
    pass ``S_RINIT`` before the first step, then the fire pass's reset); the fire pass integrates
    ``bias + sign * z`` (an add or a subtract per channel) and, a writer, stores ``z`` through the
    ``zw_*`` port into its stream buffer ``zout``. All of it in stage 2 of the pipeline."""
    conv = g.kind == "conv"
    readout = g.kind == "readout"
    T = g.time_steps
    L, F, G, PW = g.lanes, g.fire_lanes, g.groups, g.plane_words
    CO = g.channels
    AB = g.acc_bits
    tbl = g.table
    assert tbl is not None
    WB, GB, IB = tbl.weight_bits, tbl.group_bits, tbl.index_bits
    CW = L * WB + GB  # chunk word
    R = g.read_lanes
    IW = 8 if g.pixels else 1  # input element width
    IOB = inbuf.banks
    NIN = g.n_in
    NW = NIN // R  # scan words per frame
    SUBS = IOB // R  # scan words per input buffer word
    cur_once = g.pixels  # the repeated frame's current is computed once and kept
    acc_depth = G * PW
    ADW = _w(acc_depth)
    TBITS = _w(T)
    FB = _w(F)
    LB = _w(L)
    if conv:
        ci, hi, wi = g.in_shape
        co, ho, wo = g.out_shape
        kh, kw = g.kernel
        stride, pad = g.stride, g.padding
        ntaps = kh * kw
    else:
        ntaps = 1
    has_skip = g.skip_table is not None
    lines: list[str] = []
    a = lines.append
    a(f"// {g.name}: {'readout' if readout else ('direct-encoded ' if g.pixels else 'spiking ') + g.kind}"
      f" -- generated by spikehls.hls.rtl from the layer geometry (spikehls.hls.geometry)")
    a(f"// lanes L={L}, fire lanes F={F}, groups G={G}, plane words W={PW}, read lanes R={R}, acc {AB} bits,"
      f" table {tbl.chunks} chunks / {tbl.nnz} nonzero weights")
    a(f"module {mod} (")
    a("    input  wire clk,\n    input  wire rst,\n    input  wire start,\n    output reg  done,\n    output wire busy,")
    a(f"    output wire [{inbuf.t_bits}-1:0] in_t,\n    output wire [{inbuf.addr_bits}-1:0] in_word,\n"
      f"    input  wire [{IOB * IW}-1:0] in_data,")
    if has_skip:
        assert skipbuf is not None
        a(f"    output wire [{skipbuf.t_bits}-1:0] sk_t,\n    output wire [{skipbuf.addr_bits}-1:0] sk_word,\n"
          f"    input  wire [{skipbuf.banks * skipbuf.width}-1:0] sk_data,")
    stream = g.z_current
    rinit = stream and g.residual_source is not None
    assert rinit == (zin is not None) and (stream and g.writes_stream) == (zout is not None)
    lines += _stream_ports(zin, zout)
    if readout:
        a(f"    output reg  o_valid,\n    input  wire o_ready,\n    output wire signed [{out_width}-1:0] o_data,\n    output wire o_last")
    else:
        assert outbuf is not None
        a(buffer_ports(outbuf))
    a(");")
    # ---- ROMs
    mems = layer_memories(g, ultra=ultra)  # the memory rule: the cost model counts the same arrays
    lane_fw = lane_forwarding(g, ultra)  # forward the collision per scatter lane, not per bank
    assert not lane_fw or registered_read(mems["acc"].style)
    # the chunk tables through a registered port (block RAM), one pipeline stage ahead of the
    # accumulator read (stage 0): the FSM never steers by a chunk word, only by the offsets
    reg_tbl = registered_tables(g)
    roms = RomSet(mod)
    a(roms.declare("off_rom", IB, tbl.rows + 1, files["offsets"]))
    a(roms.declare("tbl_rom", CW, max(tbl.chunks, 1), files["table"], mems["table"].style))
    a(_rom("bias_rom", L * g.bias_bits if not readout else L * AB, G, files["bias"]))
    if has_skip:
        st = g.skip_table
        a(roms.declare("soff_rom", st.index_bits, st.rows + 1, files["skip_offsets"]))
        a(roms.declare("stbl_rom", L * st.weight_bits + st.group_bits, max(st.chunks, 1), files["skip_table"], mems["skip_table"].style))
    if g.is_neuron:
        if g.fire_once:
            NB = g.n_breaks
            a(_rom("brk_rom", NB * (AB + 1), CO, files["breaks"]))
            a(_rom("trn_rom", (NB + 1) * T, CO, files["trains"]))
        else:
            a(_rom("thr_rom", g.v_bits, CO, files["thr"]))
    if stream and g.signed_current:
        a(_rom("sgn_rom", 2, CO, files["sign"]))
    # ---- state
    a("    localparam S_IDLE = 4'd0, S_INIT = 4'd1, S_SCAN = 4'd2, S_TAP = 4'd3, S_CHUNK = 4'd4, S_SKIP = 4'd5,"
      " S_SKCHUNK = 4'd6, S_FIRE = 4'd7, S_OUT = 4'd8, S_NEXT = 4'd9;")
    a("    reg [3:0] state;")
    if lane_fw:
        a("    localparam S_GAP = 4'd12;  // one cycle before a fire pass: the scatter's last write lands first")
    # the registered table's extra stage drains before anything reads this layer's results: a
    # readout spends that cycle in S_DRAIN before its stream; any other layer raises done a cycle late
    drain_state, late_done = reg_tbl and readout, reg_tbl and not readout
    if drain_state:
        a("    localparam S_DRAIN = 4'd11;  // one cycle: the registered table's stage drains before S_OUT")
    if late_done:  # done one cycle after the FSM's: the extra stage's last write lands before the next layer reads
        a("    reg done_f;  // the FSM's done; done follows one cycle later")
        a("    assign busy = state != S_IDLE || done_f;")
    else:
        a("    assign busy = state != S_IDLE;")
    a(f"    reg [{TBITS}-1:0] t;")
    a(f"    reg [{ADW}-1:0] iw;  // init word")
    a(f"    reg [{_w(G)}-1:0] ig;  // init group\n    reg [{_w(PW)}-1:0] ia;  // init plane word")
    # scan counters
    a(f"    reg [{_w(NW)}-1:0] sw;  // scan word of the frame")
    a(f"    reg [{inbuf.addr_bits}-1:0] s_word;  // input buffer word\n    reg [{_w(SUBS)}-1:0] s_sub;  // R-slice of it")
    a(f"    reg [{R}-1:0] mask;  // events left in the current word")
    a("    reg scan_end;")
    if conv:
        a(f"    reg [{_w(ci)}-1:0] sc;\n    reg [{_w(hi)}-1:0] sy;\n    reg [{_w(wi)}-1:0] sx;  // where the scan word starts")
        a(f"    reg [{_w(ci)}-1:0] e_c;\n    reg [{_w(hi)}-1:0] e_y;\n    reg [{_w(wi) + 1}-1:0] e_xb;  // word start column of the event")
        a(f"    reg [{_w(ntaps)}-1:0] tap;\n    reg [{_w(kh)}-1:0] ky;\n    reg [{_w(kw)}-1:0] kx;")
    else:
        a(f"    reg [{_w(NW)}-1:0] e_w;  // scan word of the event")
    a(f"    reg [{IW}-1:0] e_val;  // the event's input value (a pixel, or 1)")
    a(f"    reg [{_w(R)}-1:0] e_f;  // offset of the event in its word")
    EBR = max(IB, g.skip_table.index_bits) if has_skip else IB  # the skip table may be longer than the main one
    a(f"    reg [{EBR}-1:0] ce, cend;  // chunk pointer / end of the current row (main or skip table)")
    a(f"    reg [{FB}-1:0] c_bank;\n    reg [{_w(PW)}-1:0] c_word;  // target bank / plane word of the row")
    a("    reg c_skip;  // the pending chunks are the skip table's")
    if has_skip:
        sc_, sh_, sw_ = g.skip_shape
        a(f"    reg [{_w(sc_)}-1:0] k_c;\n    reg [{_w(g.out_shape[1])}-1:0] k_y;\n    reg [{_w(g.out_shape[2])}-1:0] k_x;")
    # fire counters
    if not readout:
        a(f"    reg [{_w(CO * PW)}-1:0] vw;\n    reg [{_w(PW)}-1:0] fa;\n    reg [{_w(CO)}-1:0] fc;\n"
          f"    reg [{LB}-1:0] fj;\n    reg [{_w(G)}-1:0] fg;\n    reg [{ADW}-1:0] faw;")
    else:
        a(f"    reg [{_w(CO)}-1:0] ok;\n    reg [{LB}-1:0] oj;\n    reg [{_w(G)}-1:0] og;")
    a(_lowest_set(R))
    # ---- input read
    a(f"    assign in_t = {'0' if cur_once else 't'};")
    if inbuf.registered:  # a registered read: next cycle's word, which the scan takes then (t is
        # stable in every cycle before a scan cycle: it only changes on the way into S_NEXT)
        adv_w = "state == S_SCAN" + (f" && s_sub == {SUBS - 1}" if SUBS > 1 else "")
        a(f"    wire [{inbuf.addr_bits}-1:0] s_word_n = (state == S_NEXT) ? {inbuf.addr_bits}'d0 : ({adv_w}) ? s_word + 1'b1 : s_word;")
        a("    assign in_word = s_word_n;")
    else:
        a("    assign in_word = s_word;")
    a(f"    wire [{R * IW}-1:0] in_slice = in_data[s_sub * {R * IW} +: {R * IW}];")
    if IW == 1:
        a(f"    wire [{R}-1:0] in_mask = in_slice;")
    else:
        a(f"    wire [{R}-1:0] in_mask = {{{', '.join(f'|in_slice[{i * 8} +: 8]' for i in range(R - 1, -1, -1))}}};")
    a(f"    wire [{_w(R)}-1:0] first_f = lowest_set(in_mask);")
    a(f"    wire [{_w(R)}-1:0] next_f = lowest_set(mask);")
    a(f"    wire [{R}-1:0] mask_after_first = in_mask & ~({R}'d1 << first_f);")
    a(f"    wire [{R}-1:0] mask_after_next = mask & ~({R}'d1 << next_f);")
    fv = "in_slice[first_f * 8 +: 8]" if IW == 8 else "1'b1"
    a(f"    wire [{IW}-1:0] first_val = {fv};")
    # ---- the taps of this cycle: K slots (K = tap_lanes: a kernel row per cycle, or one tap)
    K = g.tap_lanes if conv else 1
    a(f"    // {K} tap slot(s) per cycle" + (" (a whole kernel row: distinct output positions, so distinct banks pos % F)" if K > 1 else ""))
    if conv:
        a(f"    wire [{_w(wi) + 2}-1:0] e_x = e_xb + e_f;")
        a(f"    wire signed [{_w(hi) + _w(kh) + 3}-1:0] ny = $signed({{1'b0, e_y}}) + {pad} - $signed({{1'b0, ky}});")
        yb, xb = _w(hi + pad + 1), _w(wi + pad + 1)  # every non-negative ny / nx
        a(f"    wire [{yb}-1:0] ny_u = ny[{yb}-1:0];")
        if stride == 1:
            a(f"    wire [{yb}-1:0] t_oy = ny_u;\n    wire t_divy = 1'b1;")
        else:
            a(f"    wire [{yb}-1:0] t_oy = ny_u / {stride};\n    wire t_divy = ny_u % {stride} == 0;")
        a(f"    wire t_validy = (ny >= 0) && t_divy && (t_oy < {ho});")
    if has_skip:
        st = g.skip_table
        so, sh_, sw_ = g.skip_shape
        sb = skipbuf
        a(f"    // skip input: source ({so}, {sh_}, {sw_}) sampled with stride {g.skip_stride} on the output grid")
        a(f"    wire [{_w(so * sh_ * sw_)}-1:0] k_pos = k_c * {sh_ * sw_} + k_y * {g.skip_stride * sw_} + k_x * {g.skip_stride};")
        # a source of one stored frame (the pixel input: its frame repeats every step) is read at
        # frame 0 every step; the frame index t would address past its buffer
        a(f"    assign sk_t = {'0' if cur_once or sb.time_steps == 1 else 't'};")
        a(f"    assign sk_word = k_pos / {sb.banks};")
        a(f"    wire [{sb.width}-1:0] k_in = sk_data[(k_pos % {sb.banks}) * {sb.width} +: {sb.width}];")
        a("    wire k_act = |k_in;")
        a(f"    {roms.read('soff_rom', 'k_c', 'k_b', st.index_bits)}\n    {roms.read('soff_rom', 'k_c + 1', 'k_e', st.index_bits)}")
        kpos_o = f"(k_y * {g.out_shape[2]} + k_x)"
        a(f"    wire [{FB}-1:0] k_bank = {kpos_o} % {F};\n    wire [{_w(PW)}-1:0] k_word = {kpos_o} / {F};")
        SCW = L * st.weight_bits + st.group_bits
    a("    wire add_skip = " + ("state == S_SKIP || state == S_SKCHUNK;" if has_skip else "1'b0;"))
    if rinit:
        a("    localparam S_RINIT = 4'd10;  // acc = z_0 of the residual source, channel-major")
    # what stage 1 (the accumulator address) and stage 2 read of the FSM: the FSM's own signals,
    # or (registered tables) their copies one cycle later, in step with the chunk
    n = {"init": "(state == S_INIT)", "fire": "in_fire", "iw": "iw", "faw": "faw", "ig": "ig", "val": "e_val",
         "skip": "add_skip", "kin": "k_in", "fj": "fj", "fg": "fg", "fc": "fc", "vw": "vw", "t": "t"}
    if reg_tbl:
        a("    // stage 0 -> 1: the FSM's operation, one cycle later (the chunk is in the table's output register)")
        a(f"    reg q_init;\n    reg [{ADW}-1:0] q_iw;\n    reg [{_w(G)}-1:0] q_ig;\n    reg [{IW}-1:0] q_val;\n    reg [{TBITS}-1:0] q_t;")
        if not readout:  # the fire pass's counters (a readout has none: its stream runs after the drain)
            a(f"    reg q_fire;\n    reg [{ADW}-1:0] q_faw;\n    reg [{_w(G)}-1:0] q_fg;\n"
              f"    reg [{LB}-1:0] q_fj;\n    reg [{_w(CO)}-1:0] q_fc;\n    reg [{_w(CO * PW)}-1:0] q_vw;")
        a("    always @(posedge clk) begin")
        a("        q_init <= !rst && state == S_INIT; q_iw <= iw; q_ig <= ig; q_val <= e_val; q_t <= t;")
        if not readout:
            a("        q_fire <= !rst && state == S_FIRE; q_faw <= faw; q_fg <= fg; q_fj <= fj; q_fc <= fc; q_vw <= vw;")
        a("    end")
        if has_skip:
            a(f"    reg q_skip;\n    reg [{skipbuf.width}-1:0] q_kin;")
            a("    always @(posedge clk) begin q_skip <= add_skip; q_kin <= k_in; end")
        n = {k: f"q_{k}" for k in n}
    EB = max(IB, g.skip_table.index_bits) if has_skip else IB
    a(f"    wire [{K}-1:0] s_go;  // slot k adds this cycle\n    wire [{K * FB}-1:0] s_bank;\n    wire [{K * ADW}-1:0] s_addr;")
    a(f"    wire [{K * CW}-1:0] s_chunk;" + (f"\n    wire [{K * SCW}-1:0] s_schunk;" if has_skip else ""))
    a(f"    wire [{K}-1:0] t_has;  // slot k's tap reaches an output through a nonempty row")
    a(f"    wire [{K * IB}-1:0] t_bv, t_ev;\n    wire [{K * FB}-1:0] t_bkv;\n    wire [{K * _w(PW)}-1:0] t_wdv;")
    a("    genvar gk, gj, gf, gt;\n    generate")
    a(f"    for (gk = 0; gk < {K}; gk = gk + 1) begin : slot")
    if conv:
        kx_expr = "gk" if K > 1 else "kx"
        a(f"        wire signed [{_w(wi) + _w(kw) + 4}-1:0] nx = $signed({{1'b0, e_x}}) + {pad} - $signed({{1'b0, {kx_expr}}});")
        a(f"        wire [{xb}-1:0] nx_u = nx[{xb}-1:0];")
        if stride == 1:
            a(f"        wire [{xb}-1:0] t_ox = nx_u;\n        wire t_divx = 1'b1;")
        else:
            a(f"        wire [{xb}-1:0] t_ox = nx_u / {stride};\n        wire t_divx = nx_u % {stride} == 0;")
        a(f"        wire t_valid = t_validy && (nx >= 0) && t_divx && (t_ox < {wo});")
        row = f"e_c * {ntaps} + ky * {kw} + gk" if K > 1 else f"e_c * {ntaps} + tap"
        a(f"        wire [{_w(tbl.rows + 1)}-1:0] t_row = {row};")
        if wo % F == 0:
            a(f"        wire [{FB}-1:0] t_bank = t_ox % {F};\n        wire [{_w(PW)}-1:0] t_word = t_oy * {wo // F} + t_ox / {F};")
        else:  # F = m whole rows
            mr = F // wo
            a(f"        wire [{FB}-1:0] t_bank = (t_oy % {mr}) * {wo} + t_ox;\n        wire [{_w(PW)}-1:0] t_word = t_oy / {mr};")
    else:
        a(f"        wire t_valid = 1'b1;\n        wire [{_w(tbl.rows + 1)}-1:0] t_row = e_w * {R} + e_f;")
        a(f"        wire [{FB}-1:0] t_bank = 0;\n        wire [{_w(PW)}-1:0] t_word = 0;")
    a(f"        {roms.read('off_rom', 't_row', 't_b', IB)}\n        {roms.read('off_rom', 't_row + 1', 't_e', IB)}")
    a(f"        assign t_has[gk] = t_valid && (t_b != t_e);\n        assign t_bv[gk * {IB} +: {IB}] = t_b;\n        assign t_ev[gk * {IB} +: {IB}] = t_e;")
    a(f"        assign t_bkv[gk * {FB} +: {FB}] = t_bank;\n        assign t_wdv[gk * {_w(PW)} +: {_w(PW)}] = t_word;")
    # slot 0 also carries the further chunks of a row and the skip walk
    e_sel = "(state == S_TAP) ? t_b : " + ("(state == S_SKIP) ? k_b : " if has_skip else "") + "ce"
    b_sel = "(state == S_TAP) ? t_bank : " + ("(state == S_SKIP) ? k_bank : " if has_skip else "") + "c_bank"
    w_sel = "(state == S_TAP) ? t_word : " + ("(state == S_SKIP) ? k_word : " if has_skip else "") + "c_word"
    go0 = "(state == S_TAP && t_valid && (t_b != t_e)) || (gk == 0 && (state == S_CHUNK" + (
        " || (state == S_SKIP && k_act && k_b != k_e) || state == S_SKCHUNK" if has_skip else "") + "))"
    a(f"        wire [{EB}-1:0] c_e = {e_sel};")
    if reg_tbl:  # stage 0: the table address; the chunk and the slot's target arrive in stage 1
        a(f"        reg [{CW}-1:0] chunk_m;" + (f"\n        reg [{SCW}-1:0] chunk_s;" if has_skip else ""))
        reads = []  # (register, what it loads): a table the rule keeps in logic is read by its module
        for r, q, w in (("tbl_rom", "chunk_m", CW),) + ((("stbl_rom", "chunk_s", SCW),) if has_skip else ()):
            if r in roms.separate:
                a(f"        {roms.read(r, 'c_e', q + '_d', w)}")
            reads.append((q, f"{q}_d" if r in roms.separate else f"{r}[c_e]"))
        a("        always @(posedge clk) begin  // the registered read: block RAM")
        a("\n".join(f"            {q} <= {src};" for q, src in reads))
        a("        end")
        a(f"        reg [{FB}-1:0] c_bk;\n        reg [{_w(PW)}-1:0] c_wd;\n        reg c_go;")
        a(f"        always @(posedge clk) begin c_bk <= {b_sel}; c_wd <= {w_sel}; c_go <= !rst && ({go0}); end")
        a("        assign s_go[gk] = c_go;")
    else:
        a(f"        wire [{FB}-1:0] c_bk = {b_sel};\n        wire [{_w(PW)}-1:0] c_wd = {w_sel};")
        a(f"        assign s_go[gk] = {go0};")
        a(f"        {roms.read('tbl_rom', 'c_e', 'chunk_m', CW)}" + (f"\n        {roms.read('stbl_rom', 'c_e', 'chunk_s', SCW)}" if has_skip else ""))
    a(f"        assign s_chunk[gk * {CW} +: {CW}] = chunk_m;")
    if has_skip:
        a(f"        assign s_schunk[gk * {SCW} +: {SCW}] = chunk_s;")
        a(f"        wire [{max(GB, st.group_bits)}-1:0] c_g = {n['skip']} ? chunk_s[{L * st.weight_bits} +: {st.group_bits}] : chunk_m[{L * WB} +: {GB}];")
    else:
        a(f"        wire [{GB}-1:0] c_g = chunk_m[{L * WB} +: {GB}];")
    a(f"        assign s_bank[gk * {FB} +: {FB}] = c_bk;\n        assign s_addr[gk * {ADW} +: {ADW}] = c_g * {PW} + c_wd;")
    a("    end")
    a("    endgenerate")
    # slot 0's tap, for the FSM (a row with several chunks: one tap per cycle, K = 1)
    a(f"    wire [{IB}-1:0] t_b = t_bv[0 +: {IB}];\n    wire [{IB}-1:0] t_e = t_ev[0 +: {IB}];")
    a(f"    wire [{FB}-1:0] t_bank = t_bkv[0 +: {FB}];\n    wire [{_w(PW)}-1:0] t_word = t_wdv[0 +: {_w(PW)}];")
    if not readout:
        a("    wire in_fire = state == S_FIRE;")
    if rinit:
        a("    wire in_rinit = state == S_RINIT;")
    # ---- accumulators and lanes: a two-stage read-modify-write (the FSM's cycle presents the
    # address, the next cycle adds and writes back), so block / ultra RAM can hold them
    acc_plan = mems["acc"]
    LW = L * AB  # one word: the L channel lanes of one position, read and written together
    a(f"    // accumulators: {F} bank(s) (position % {F}) of {acc_depth} words x {L} lanes (channel % {L}) of {AB} bits,"
      f" {acc_plan.style}; read in the FSM's cycle (stage 1), added and written back in the next (stage 2)")
    a(f"    wire [{F * ADW}-1:0] acc_ra;  // stage 1: bank f's read address")
    a("    generate")
    a(f"    for (gf = 0; gf < {F}; gf = gf + 1) begin : baddr")
    sel_addr = " | ".join(f"((s_go[{k}] && s_bank[{k * FB} +: {FB}] == gf) ? s_addr[{k * ADW} +: {ADW}] : {ADW}'d0)" for k in range(K))
    other = ((f"({n['fire']} || in_rinit) ? {n['faw']} : " if rinit else f"{n['fire']} ? {n['faw']} : ")
             if not readout else "")
    a(f"        assign acc_ra[gf * {ADW} +: {ADW}] = {n['init']} ? {n['iw']} : {other}({sel_addr});")
    a("    end")
    a("    endgenerate")
    # stage-2 registers: everything the add, the fire and the write-back read, as of stage 1
    SCWR = SCW if has_skip else 0
    a("    // stage 2: the operation of the previous cycle")
    a(f"    reg p_init;\n    reg [{K}-1:0] p_go;\n    reg [{K * FB}-1:0] p_bank;\n    reg [{K * CW}-1:0] p_chunk;\n"
      f"    reg [{F * ADW}-1:0] p_ra;\n    reg [{_w(G)}-1:0] p_ig;\n    reg [{IW}-1:0] p_val;")
    if has_skip:
        a(f"    reg [{K * SCWR}-1:0] p_schunk;\n    reg p_skip;\n    reg [{skipbuf.width}-1:0] p_kin;")
    if not readout:
        a(f"    reg p_fire;\n    reg [{LB}-1:0] p_fj;\n    reg [{_w(G)}-1:0] p_fg;\n    reg [{_w(CO)}-1:0] p_fc;\n"
          f"    reg [{_w(CO * PW)}-1:0] p_vw;\n    reg [{TBITS}-1:0] p_t;")
    if stream and not readout:
        a(f"    reg [{_w(PW)}-1:0] p_fa;")
    if rinit:
        a("    reg p_rinit;")
    a("    always @(posedge clk) begin")
    a(f"        p_init <= !rst && {n['init']}; p_go <= rst ? 0 : s_go;" + (f" p_fire <= !rst && {n['fire']};" if not readout else ""))
    a(f"        p_bank <= s_bank; p_chunk <= s_chunk; p_ra <= acc_ra; p_ig <= {n['ig']}; p_val <= {n['val']};")
    if has_skip:
        a(f"        p_schunk <= s_schunk; p_skip <= {n['skip']}; p_kin <= {n['kin']};")
    if not readout:
        a(f"        p_fj <= {n['fj']}; p_fg <= {n['fg']}; p_fc <= {n['fc']}; p_vw <= {n['vw']}; p_t <= {n['t']};")
    if stream and not readout:  # a stream layer never has registered tables (twin_cost.registered_tables)
        a("        p_fa <= fa;")
    if rinit:
        a("        p_rinit <= !rst && in_rinit;")
    a("    end")
    if rinit:  # the residual source's z of (channel p_fc, plane word p_fa): z_0 at init, z_{t+1} in the fire pass
        B = zin.banks  # the stream buffer reads asynchronously: addressed from stage 2, read in stage 2
        a(f"    wire [{_w(CO * g.plane)}-1:0] rz_pos = p_fc * {g.plane} + p_fa * {F};  // the word's first position")
        a(f"    assign rz_t = (p_fire && p_t != {T - 1}) ? p_t + 1 : 0;")
        a(f"    assign rz_word = rz_pos / {B};")
        a(f"    wire [{_w(B)}-1:0] rz_bank0 = rz_pos % {B};  // bank of fire lane 0 (a multiple of {F})")
    a(f"    wire [{F * LW}-1:0] acc_q;  // stage 2: bank f's word at p_ra (the word written last cycle included)")
    a(f"    wire [{F}-1:0] acc_we;\n    wire [{F * LW}-1:0] acc_d;")
    ports = [("og", "o_word")] if readout else []
    if readout:
        a(f"    wire [{LW}-1:0] o_word;  // the stream's read of word og (asynchronous)")
    for f in range(F):
        a(_ram(f"acc_mem_{f}", acc_plan.style, LW, acc_depth, ra=f"acc_ra[{f * ADW} +: {ADW}]", wa=f"p_ra[{f * ADW} +: {ADW}]",
               we=f"acc_we[{f}]", wd=f"acc_d[{f * LW} +: {LW}]", q=f"acc_q[{f * LW} +: {LW}]", ports=ports,
               forward=not lane_fw))
    a(f"    wire [{K * L * AB}-1:0] lane_sum;  // slot k, lane j: the new value")
    if lane_fw:  # twin_cost.lane_forwarding: the only writers a scatter read can collide with are the last scatter's
        a("    // the collision forwarded per lane: did slot kp's write of the last cycle hit the word slot k reads?")
        a(f"    reg [{K * ADW}-1:0] p_addr;  // stage 2: the slots' word addresses\n    reg [{K * K}-1:0] fwd_hit;  // [k][kp]\n"
          f"    reg [{K * LW}-1:0] fwd_sum;  // what stage 2 wrote in the last cycle")
        a("    always @(posedge clk) begin")
        a("        p_addr <= s_addr;\n        fwd_sum <= lane_sum;")
        for k in range(K):
            for kp in range(K):
                a(f"        fwd_hit[{k * K + kp}] <= !rst && s_go[{k}] && p_go[{kp}] && s_bank[{k * FB} +: {FB}] == p_bank[{kp * FB} +: {FB}]"
                  f" && s_addr[{k * ADW} +: {ADW}] == p_addr[{kp * ADW} +: {ADW}];")
        a("    end")
    dsp = mac_in_dsp(WB) if g.pixels else False
    a("    generate")
    a(f"    for (gk = 0; gk < {K}; gk = gk + 1) begin : tlane")
    a(f"        for (gj = 0; gj < {L}; gj = gj + 1) begin : lane")
    a(f"            wire signed [{WB}-1:0] w_m = p_chunk[gk * {CW} + gj * {WB} +: {WB}];")
    if has_skip:
        a(f"            wire signed [{st.weight_bits}-1:0] w_s = p_schunk[gk * {SCW} + gj * {st.weight_bits} +: {st.weight_bits}];")
        a(f"            wire signed [{max(WB, st.weight_bits)}-1:0] w = p_skip ? w_s : w_m;")
    else:
        a(f"            wire signed [{WB}-1:0] w = w_m;")
    a(f"            wire [{FB}-1:0] bk = p_bank[gk * {FB} +: {FB}];")
    # lane j of every bank first (constant selects), then an F:1 mux by the slot's bank: a variable
    # select over the whole F x L word would make yosys build an F L-wide shifter per lane
    a(f"            wire [{F * AB}-1:0] row_q;  // lane j of bank f, for every f")
    a(f"            for (gt = 0; gt < {F}; gt = gt + 1) begin : rowq\n"
      f"                assign row_q[gt * {AB} +: {AB}] = acc_q[(gt * {L} + gj) * {AB} +: {AB}];\n            end")
    if lane_fw:  # at most one slot of the last cycle wrote bank bk (distinct banks per cycle)
        fsel = " | ".join(f"(fwd_hit[gk * {K} + {kp}] ? fwd_sum[({kp} * {L} + gj) * {AB} +: {AB}] : {AB}'d0)" for kp in range(K))
        a(f"            wire [{K}-1:0] hit = fwd_hit[gk * {K} +: {K}];")
        a(f"            wire signed [{AB}-1:0] cur = (|hit) ? ({fsel}) : row_q[bk * {AB} +: {AB}];"
          "  // the last cycle's sum, or an F:1 mux")
    else:
        a(f"            wire signed [{AB}-1:0] cur = row_q[bk * {AB} +: {AB}];  // an F:1 mux: bank pos % F, lane j")
    if IW == 8:
        val = "(p_skip ? p_kin : p_val)" if has_skip else "p_val"
        a(f'            (* use_dsp = "{"yes" if dsp else "no"}" *) wire signed [{(max(WB, g.skip_table.weight_bits) if has_skip else WB) + 9}-1:0] prod = w * $signed({{1\'b0, {val}}});  // pixel x weight: the one MAC')
    elif has_skip and g.skip_pixels:
        a(f"            wire signed [{max(WB, g.skip_table.weight_bits) + 9}-1:0] prod = p_skip ? w * $signed({{1'b0, p_kin}}) : w;")
    else:
        a(f"            wire signed [{max(WB, g.skip_table.weight_bits) if has_skip else WB}-1:0] prod = w;  // a spike selects the weight: accumulate only")
    a(f"            wire [{AB}-1:0] prod_a = prod;  // mod 2^acc_bits: exact, every partial sum fits acc_bits")
    a(f"            assign lane_sum[(gk * {L} + gj) * {AB} +: {AB}] = cur + prod_a;")
    a("        end")
    a("    end")
    a("    endgenerate")
    # bias words (stage 2)
    BBW = AB if readout else g.bias_bits
    a(f"    wire [{L * BBW}-1:0] bias_init = bias_rom[p_ig];")
    if not readout:
        a(f"    wire [{L * BBW}-1:0] bias_fire = bias_rom[p_fg];")
    # ---- write-back: init / scatter (the slot on this bank; lanes without a weight add 0) / fire reset
    a("    generate")
    a(f"    for (gf = 0; gf < {F}; gf = gf + 1) begin : wbank")
    hits = [f"(p_go[{k}] && p_bank[{k * FB} +: {FB}] == gf)" for k in range(K)]
    a(f"        wire scat_we = {' || '.join(hits)};")
    fire_we = "" if (readout or cur_once) else " || p_fire"
    a(f"        assign acc_we[gf] = p_init{' || p_rinit' if rinit else ''}{fire_we} || scat_we;")
    a(f"        for (gj = 0; gj < {L}; gj = gj + 1) begin : wlane")
    a(f"            wire signed [{AB}-1:0] b_init = $signed(bias_init[gj * {BBW} +: {BBW}]);")
    data = " | ".join(f"({h} ? lane_sum[({k} * {L} + gj) * {AB} +: {AB}] : {AB}'d0)" for k, h in enumerate(hits))
    a(f"            wire [{AB}-1:0] scat_d = {data};")
    if fire_we and not stream:
        a(f"            wire signed [{AB}-1:0] b_fire = $signed(bias_fire[gj * {BBW} +: {BBW}]);")
        a(f"            wire [{AB}-1:0] fire_d = (p_fj == gj) ? b_fire : acc_q[(gf * {L} + gj) * {AB} +: {AB}];")
        a(f"            assign acc_d[(gf * {L} + gj) * {AB} +: {AB}] = p_init ? b_init : p_fire ? fire_d : scat_d;")
    elif stream and not rinit:  # a stream layer: z starts at 0 and is reset to 0 (lane p_fj only)
        a(f"            wire [{AB}-1:0] fire_d = (p_fj == gj) ? {AB}'d0 : acc_q[(gf * {L} + gj) * {AB} +: {AB}];")
        a(f"            assign acc_d[(gf * {L} + gj) * {AB} +: {AB}] = p_init ? {AB}'d0 : "
          f"{'p_fire ? fire_d : ' if fire_we else ''}scat_d;")
    elif rinit:  # a residual reader: z starts at (and is reset to) z_t of the source, lane p_fj only
        ZW = zin.width
        a(f"            wire signed [{AB}-1:0] z_res = $signed(rz_data[(rz_bank0 + gf) * {ZW} +: {ZW}]);")
        a(f"            wire [{AB}-1:0] rz_d = (p_fj == gj) ? z_res : acc_q[(gf * {L} + gj) * {AB} +: {AB}];")
        a(f"            assign acc_d[(gf * {L} + gj) * {AB} +: {AB}] = (p_rinit{' || p_fire' if fire_we else ''}) ? rz_d : scat_d;")
    else:
        a(f"            assign acc_d[(gf * {L} + gj) * {AB} +: {AB}] = p_init ? b_init : scat_d;")
    a("        end")
    a("    end")
    a("    endgenerate")
    # ---- neurons (stage 2: the word read for the fire pass's previous cycle)
    if not readout:
        m = outbuf.banks // F  # 1 or 2 output banks per fire lane
        a(f"    // fire: {F} neurons of channel p_fc per cycle; their currents from lane p_fj of each bank")
        a(f"    wire [{F * outbuf.time_banks}-1:0] spk;  // [time bank][fire lane]")
        if g.fire_once:
            NB = g.n_breaks
            a(f"    wire [{NB * (AB + 1)}-1:0] brk = brk_rom[p_fc];\n    wire [{(NB + 1) * T}-1:0] trn = trn_rom[p_fc];")
        else:
            VB, SB = g.v_bits, g.sum_bits
            a(f"    wire signed [{VB}-1:0] thr = $signed(thr_rom[p_fc]);")
            a(f"    wire [{F * VB}-1:0] v_q, v_d;")
            if "membranes" in mems:
                v_plan = mems["membranes"]
                a(f"    // membranes: one word of the {F} fire lanes per (channel, plane word), {v_plan.style}")
                # never forwarded: vw advances every fire cycle and passes are two cycles apart, so
                # no read meets the write of its own cycle
                a(_ram("v_mem", v_plan.style, F * VB, CO * PW, ra=n["vw"], wa="p_vw", we="p_fire", wd="v_d", q="v_q",
                       forward=False))
            else:  # T = 1: every membrane starts at 0 and ends with its step (twin_cost.layer_memories)
                a(f"    assign v_q = {F * VB}'d0;  // no membrane memory at T = 1; v_d is not stored")
        if stream and g.signed_current:
            a("    wire signed [1:0] sgn = $signed(sgn_rom[p_fc]);")
        if zout is not None:
            a(f"    wire [{F * AB}-1:0] z_lanes;  // z of fire lane f")
        a("    generate")
        a(f"    for (gf = 0; gf < {F}; gf = gf + 1) begin : neuron")
        a(f"        wire [{LW}-1:0] col_q = acc_q[gf * {LW} +: {LW}];  // bank f's word")
        if stream:  # bias + sign * z: the sign selects an add or a subtract (accumulate-only)
            CB, ZB = g.cur_bits, max(AB, g.bias_bits) + 1
            a(f"        wire signed [{AB}-1:0] z = col_q[p_fj * {AB} +: {AB}];  // an L:1 mux")
            a(f"        wire signed [{ZB}-1:0] zb = z;\n        wire signed [{ZB}-1:0] bb = $signed(bias_fire[p_fj * {g.bias_bits} +: {g.bias_bits}]);")
            if g.signed_current:
                a(f"        wire signed [{ZB}-1:0] cur_w = (sgn == 2'sd1) ? bb + zb : (sgn == -2'sd1) ? bb - zb : bb;")
            else:
                a(f"        wire signed [{ZB}-1:0] cur_w = bb + zb;")
            a(f"        wire signed [{CB}-1:0] i_cur = cur_w[{CB}-1:0];  // exact: the current fits cur_bits")
            if zout is not None:
                a(f"        assign z_lanes[gf * {AB} +: {AB}] = z;  // to the stream buffer (before the reset)")
        else:
            a(f"        wire signed [{AB}-1:0] i_cur = col_q[p_fj * {AB} +: {AB}];  // an L:1 mux")
        if g.fire_once:
            NB = g.n_breaks
            cmp = " + ".join(f"(i_cur >= $signed(brk[{b * (AB + 1)} +: {AB + 1}]))" for b in range(NB))
            a(f"        wire [{_w(NB + 1)}-1:0] piece = {cmp};")
            a(f"        wire [{T}-1:0] train = trn[piece * {T} +: {T}];")
            a(f"        for (gt = 0; gt < {T}; gt = gt + 1) begin : step\n"
              f"            assign spk[gt * {F} + gf] = train[gt];\n        end")
        else:
            a(f"        wire signed [{SB}-1:0] v0 = (p_t == 0) ? {SB}'sd0 : $signed(v_q[gf * {VB} +: {VB}]);")
            if g.leak_shift > 0:
                a(f"        wire signed [{SB}-1:0] v1 = v0 - (v0 >>> {g.leak_shift});")
            else:
                a(f"        wire signed [{SB}-1:0] v1 = v0;")
            a(f"        wire signed [{SB}-1:0] vs = v1 + i_cur;")
            vmax, vmin = 2 ** (VB - 1) - 1, -(2 ** (VB - 1))
            a(f"        wire signed [{SB}-1:0] vsat = (vs > {vmax}) ? {vmax} : (vs < -{-vmin}) ? -{-vmin} : vs;")
            a("        wire s = vsat >= thr;")
            if g.reset == "subtract":
                a(f"        wire signed [{SB}-1:0] vnew = s ? vsat - thr : vsat;")
            else:
                a(f"        wire signed [{SB}-1:0] vnew = s ? {SB}'sd0 : vsat;")
            a(f"        assign v_d[gf * {VB} +: {VB}] = vnew[{VB}-1:0];")
            a("        assign spk[gf] = s;")
        a("    end")
        a("    endgenerate")
        if zout is not None:  # the stream buffer write (stage 2): z of the F neurons, into banks (pos % B) of one word
            B, m_z = zout.banks, zout.banks // F
            a(f"    wire [{_w(CO * g.plane)}-1:0] zw_pos = p_fc * {g.plane} + p_fa * {F};")
            a("    assign zw_we = p_fire;")
            a(f"    assign zw_addr = p_t * {zout.words_per_step} + zw_pos / {B};")
            a(f"    assign zw_bmask = {{{{{B - F}{{1'b0}}}}, {{{F}{{1'b1}}}}}} << (zw_pos % {B});" if B > F else f"    assign zw_bmask = {{{B}{{1'b1}}}};")
            a(f"    assign zw_bits = {{{m_z}{{z_lanes}}}};  // bank b takes lane b % {F}")
        # output buffer write (stage 2)
        ob = outbuf
        a("    wire ob_we = p_fire;")
        a(f"    wire [{_w(ob.depth)}-1:0] ob_addr = {'' if ob.time_banks > 1 else f'p_t * {ob.words_per_step} + '}p_vw / {m};")
        if m == 1:
            a(f"    wire [{ob.banks}-1:0] ob_bmask = {{{ob.banks}{{1'b1}}}};")
            a(f"    wire [{ob.time_banks * ob.banks}-1:0] ob_bits = spk;")
        else:
            a(f"    wire [{ob.banks}-1:0] ob_bmask = (p_vw % 2) ? {{{{{F}{{1'b1}}}}, {{{F}{{1'b0}}}}}} : {{{{{F}{{1'b0}}}}, {{{F}{{1'b1}}}}}};")
            parts = []
            for tb in range(ob.time_banks - 1, -1, -1):
                parts.append(f"spk[{tb * F} +: {F}], spk[{tb * F} +: {F}]")
            a(f"    wire [{ob.time_banks * ob.banks}-1:0] ob_bits = {{{', '.join(parts)}}};")
        a(buffer_body(ob, g.name))
    else:
        # readout stream: value k from lane k % L, word k / L (its own asynchronous port, see acc_mem_0)
        a(f"    wire signed [{AB}-1:0] o_acc = o_word[oj * {AB} +: {AB}];")
        a("    assign o_data = o_acc;  // sign-extended to the stream width")
        a(f"    assign o_last = ok == {CO - 1};")
    # ---- the FSM
    done_r = "done_f" if late_done else "done"
    if late_done:
        a("    always @(posedge clk) done <= !rst && done_f;")
    a("    always @(posedge clk) begin")
    a(f"        {done_r} <= 1'b0;")
    a("        if (rst) begin")
    a("            state <= S_IDLE;")
    if readout:
        a("            o_valid <= 1'b0;")
    a("        end else begin")
    a("            case (state)")
    a("            S_IDLE: if (start) begin")
    if rinit:
        a("                state <= S_RINIT; t <= 0; vw <= 0; fa <= 0; fc <= 0; fj <= 0; fg <= 0; faw <= 0;")
    else:
        a("                state <= S_INIT; t <= 0; iw <= 0; ig <= 0; ia <= 0;")
    a("            end")
    a("            S_INIT: begin  // acc = bias, L x F words per cycle")
    a("                iw <= iw + 1;")
    a(f"                if (ia == {PW - 1}) begin ia <= 0; ig <= ig + 1; end else ia <= ia + 1;")
    a(f"                if (iw == {acc_depth - 1}) state <= S_NEXT;")
    a("            end")
    # S_NEXT: start a frame walk (or fire directly if the current is kept)
    start_scan = ("sw <= 0; s_word <= 0; s_sub <= 0; scan_end <= 1'b0; state <= S_SCAN;"
                  + (" sc <= 0; sy <= 0; sx <= 0;" if conv else ""))
    to_out = "begin state <= S_OUT; ok <= 0; oj <= 0; og <= 0; o_valid <= 1'b1; end"
    fire_state = "S_GAP" if lane_fw else "S_FIRE"
    after_walk_fire = f"begin state <= {fire_state}; vw <= 0; fa <= 0; fc <= 0; fj <= 0; fg <= 0; faw <= 0; end" if not readout else \
        ("begin state <= S_DRAIN; end" if drain_state else to_out)
    # after a frame's scan: the skip walk, the fire pass, or (readout) the next frame / the output
    if readout:
        after_scan = f"begin if (t == {T - 1}) {after_walk_fire} else begin t <= t + 1; state <= S_NEXT; end end"
    elif has_skip:
        after_scan = "begin state <= S_SKIP; k_c <= 0; k_y <= 0; k_x <= 0; end"
    else:
        after_scan = after_walk_fire
    a("            S_NEXT: begin")
    if cur_once:
        a(f"                if (t == 0) begin {start_scan} end else {after_walk_fire}")
    else:
        a(f"                {start_scan}")
    a("            end")
    # scan
    adv = []
    adv.append("sw <= sw + 1;")
    if SUBS > 1:
        adv.append(f"if (s_sub == {SUBS - 1}) begin s_sub <= 0; s_word <= s_word + 1; end else s_sub <= s_sub + 1;")
    else:
        adv.append("s_word <= s_word + 1;")
    if conv:
        adv.append(f"if (sx + {R} >= {wi}) begin sx <= 0; if (sy == {hi - 1}) begin sy <= 0; sc <= sc + 1; end else sy <= sy + 1; end"
                   f" else sx <= sx + {R};")
    adv.append(f"if (sw == {NW - 1}) scan_end <= 1'b1;")
    adv_s = " ".join(adv)
    decode_first = ("e_c <= sc; e_y <= sy; e_xb <= sx;" if conv else "e_w <= sw;") + \
        " e_f <= first_f; e_val <= first_val; mask <= mask_after_first;" + (" tap <= 0; ky <= 0; kx <= 0;" if conv else "")
    a("            S_SCAN: begin  // one R-position word per cycle; a word with an event starts its taps")
    a(f"                {adv_s}")
    a(f"                if (in_mask != 0) begin {decode_first} state <= S_TAP; end")
    a(f"                else if (sw == {NW - 1}) {after_scan}")
    a("            end")
    # next tap / event logic as a text block
    if conv and g.tap_lanes > 1:  # a kernel row per cycle
        next_tap = f"if (ky != {kh - 1}) begin ky <= ky + 1; state <= S_TAP; end else "
    elif conv:
        next_tap = (f"if (tap != {ntaps - 1}) begin tap <= tap + 1; "
                    f"if (kx == {kw - 1}) begin kx <= 0; ky <= ky + 1; end else kx <= kx + 1; state <= S_TAP; end else ")
    else:
        next_tap = ""
    next_event = ("if (mask != 0) begin e_f <= next_f; mask <= mask_after_next; "
                  + ("tap <= 0; ky <= 0; kx <= 0; " if conv else "")
                  + f"state <= S_TAP; end else if (scan_end) {after_scan} else state <= S_SCAN;")
    a("            S_TAP: begin  // one kernel tap; its row's first chunk is added in this cycle")
    a("                if (t_has[0] && (t_e - t_b) > 1) begin ce <= t_b + 1; cend <= t_e; c_bank <= t_bank; c_word <= t_word; state <= S_CHUNK; end")
    a(f"                else begin {next_tap}{next_event} end")
    a("            end")
    a("            S_CHUNK: begin  // the row's further chunks, one per cycle")
    a("                ce <= ce + 1;")
    a(f"                if (ce + 1 == cend) begin {next_tap}{next_event} end")
    a("            end")
    if has_skip:
        so, sh_, sw_ = g.skip_shape
        nxt_k = (f"if (k_x == {g.out_shape[2] - 1}) begin k_x <= 0; if (k_y == {g.out_shape[1] - 1}) begin k_y <= 0; "
                 f"if (k_c == {so - 1}) {after_walk_fire} else k_c <= k_c + 1; end else k_y <= k_y + 1; end else k_x <= k_x + 1;")
        a("            S_SKIP: begin  // one skip position per cycle (first chunk added now)")
        a("                if (k_act && (k_e - k_b) > 1) begin ce <= k_b + 1; cend <= k_e; c_bank <= k_bank; c_word <= k_word; state <= S_SKCHUNK; end")
        a(f"                else begin {nxt_k} end")
        a("            end")
        a("            S_SKCHUNK: begin")
        a("                ce <= ce + 1;")
        a(f"                if (ce + 1 == cend) begin state <= S_SKIP; {nxt_k} end")
        a("            end")
    if rinit:
        a("            S_RINIT: begin  // F accumulators of one channel per cycle = z_0 of the residual source")
        a("                vw <= vw + 1; faw <= faw + 1;")
        a(f"                if (fa == {PW - 1}) begin fa <= 0; fc <= fc + 1;")
        a(f"                    if (fj == {L - 1}) begin fj <= 0; fg <= fg + 1; end else begin fj <= fj + 1; faw <= faw + 1 - {PW}; end")
        a("                end else fa <= fa + 1;")
        a(f"                if (vw == {CO * PW - 1}) state <= S_NEXT;")
        a("            end")
    if lane_fw:
        a("            S_GAP: state <= S_FIRE;  // the fire pass reads the banks unforwarded (twin_cost.lane_forwarding)")
    if not readout:
        a("            S_FIRE: begin  // F neurons of one channel per cycle, acc reset to the bias")
        a("                vw <= vw + 1; faw <= faw + 1;")
        a(f"                if (fa == {PW - 1}) begin fa <= 0; fc <= fc + 1;")
        a(f"                    if (fj == {L - 1}) begin fj <= 0; fg <= fg + 1; end else begin fj <= fj + 1; faw <= faw + 1 - {PW}; end")
        a("                end else fa <= fa + 1;")
        last_t = "1'b1" if g.fire_once else f"t == {T - 1}"
        a(f"                if (vw == {CO * PW - 1}) begin if ({last_t}) begin state <= S_IDLE; {done_r} <= 1'b1; end"
          f" else begin t <= t + 1; state <= S_NEXT; end end")
        a("            end")
    else:
        if drain_state:
            a(f"            S_DRAIN: {to_out}  // the last chunk's add is written in this cycle")
        a("            S_OUT: if (o_ready) begin  // the readout, one value per beat")
        a(f"                if (ok == {CO - 1}) begin o_valid <= 1'b0; state <= S_IDLE; done <= 1'b1; end")
        a(f"                else begin ok <= ok + 1; if (oj == {L - 1}) begin oj <= 0; og <= og + 1; end else oj <= oj + 1; end")
        a("            end")
    a("            default: state <= S_IDLE;")
    a("            endcase")
    a("        end")
    a("    end")
    a("endmodule")
    return "\n".join(lines) + "\n" + roms.modules()


def maxpool_module(g: LayerGeometry, mod: str, inbuf: BufferSpec, outbuf: BufferSpec) -> str:
    """OR max pooling: R_o outputs of one output row per cycle of one input word of a window row.

    The span of one window row (``s (R - 1) + k`` inputs from ``base``) is read word by word, from
    ``base / IOB`` to ``(base + span - 1) / IOB``. Both are kept as running registers: ``wf`` / ``off``
    (the span start's word and offset in it) move by the constant steps of :class:`~spikehls.hls.geometry.PoolWalk` with
    one carry, ``wd`` / ``rel_u`` (the word being read and the span start relative to it) step by one
    word; the row ends when the span's last input lies in the word read (``rel_u unit <= IOB - span``).
    Offsets are kept in units of :class:`~spikehls.hls.geometry.PoolWalk`'s ``unit``."""
    c, h, w = g.in_shape
    _, ho, wo = g.out_shape
    k, s = g.pool_kernel, g.pool_stride
    R = g.out_lanes
    IOB = inbuf.banks
    T = g.time_steps
    SEGS = wo // R
    assert IOB == g.in_banks
    pw = PoolWalk.of(g)  # the walk's constants and widths, as the cost model counts them
    span, U, AW, OFB, RUW = pw.span, pw.unit, pw.word_bits, pw.offset_bits, pw.rel_bits
    NU = IOB // U  # offsets in a word
    steps = [(d // IOB, (d % IOB) // U) for d in pw.steps]
    lines: list[str] = []
    a = lines.append
    a(f"// {g.name}: max pool {k}x{k} stride {s} on spikes (OR) -- {R} outputs per window-row word read")
    a(f"module {mod} (")
    a("    input  wire clk,\n    input  wire rst,\n    input  wire start,\n    output reg  done,\n    output wire busy,")
    a(f"    output wire [{inbuf.t_bits}-1:0] in_t,\n    output wire [{inbuf.addr_bits}-1:0] in_word,\n    input  wire [{IOB}-1:0] in_data,")
    a(buffer_ports(outbuf))
    a(");")
    a("    reg running;\n    assign busy = running;")
    a(f"    reg [{_w(T)}-1:0] t;\n    reg [{_w(c)}-1:0] pc;\n    reg [{_w(ho)}-1:0] py_o;\n    reg [{_w(SEGS)}-1:0] sg;")
    a(f"    reg [{_w(k)}-1:0] py;  // window row")
    a(f"    reg [{AW}-1:0] wf;  // word of the span's first input (base / {IOB})\n    reg [{OFB}-1:0] off;  // its offset in that word (base % {IOB}) / {U}")
    a(f"    reg [{AW}-1:0] wd;  // the word read this cycle\n    reg signed [{RUW}-1:0] rel_u;  // (base - wd * {IOB}) / {U}")
    a(f"    reg [{R}-1:0] acc;  // OR of the windows so far\n    reg [{_w(outbuf.depth)}-1:0] ow;")
    if not inbuf.registered:  # read in the cycle of the address (else below: next cycle's word)
        a("    assign in_t = t;\n    assign in_word = wd;")
    # span input p is bit rel + p of the word read, where in it: for each value rel_u may take
    # with that bit inside the word, a constant bit -- a select of at most IOB / U cases per input
    a(f"    wire [{span}-1:0] sp;  // the span's inputs found in this word")
    for p in range(span):
        cases = [f"(rel_u == {v}) && in_data[{v * U + p}]" for v in pw.cases[p]]
        expr = " || ".join(cases) or "1'b0"
        a(f"    assign sp[{p}] = {expr};")
    a(f"    wire [{R}-1:0] hit;")
    for j in range(R):
        a(f"    assign hit[{j}] = |sp[{j * s} +: {k}];")
    a(f"    wire [{R}-1:0] acc_n = acc | hit;")
    a(f"    wire row_end = rel_u <= {(IOB - span) // U};  // the span's last input is in this word")
    # the next window row's span start: one of four constant steps, one carry
    a("    wire last_py = py == %d;\n    wire last_sg = sg == %d;\n    wire last_oy = py_o == %d;" % (k - 1, SEGS - 1, ho - 1))
    a("    wire [1:0] step = !last_py ? 2'd0 : !last_sg ? 2'd1 : !last_oy ? 2'd2 : 2'd3;")
    qs = " : ".join(f"(step == 2'd{i}) ? {AW}'d{q % (1 << AW)}" for i, (q, _) in enumerate(steps[:3])) + f" : {AW}'d{steps[3][0] % (1 << AW)}"
    rs = " : ".join(f"(step == 2'd{i}) ? {OFB + 1}'d{r}" for i, (_, r) in enumerate(steps[:3])) + f" : {OFB + 1}'d{steps[3][1]}"
    a(f"    wire [{AW}-1:0] step_q = {qs};  // step / {IOB}")
    a(f"    wire [{OFB + 1}-1:0] step_r = {rs};  // step % {IOB}")
    a(f"    wire [{OFB + 1}-1:0] off_s = off + step_r;\n    wire carry = off_s >= {NU};")
    a(f"    wire [{OFB}-1:0] off_n = carry ? off_s - {NU} : off_s;\n    wire [{AW}-1:0] wf_n = wf + step_q + carry;")
    if inbuf.registered:  # a registered read: present the word (and step) of the next cycle
        a(f"    wire last_all = pc == {c - 1} && last_oy && last_sg && last_py;  // the step's last window row")
        a(f"    wire [{AW}-1:0] wd_n = !running ? {AW}'d0 : !row_end ? wd + 1'b1 : last_all ? {AW}'d0 : wf_n;")
        a(f"    wire [{_w(T)}-1:0] t_n = !running ? {_w(T)}'d0 : (row_end && last_all) ? t + 1'b1 : t;")
        a("    assign in_t = t_n;\n    assign in_word = wd_n;")

    a("    wire ob_we = running && row_end && last_py;")
    a(f"    wire [{_w(outbuf.depth)}-1:0] ob_addr = ow;  // {'per time bank' if outbuf.time_banks > 1 else 't * words + word'}: a running count")
    a(f"    wire [{R}-1:0] ob_bmask = {{{R}{{1'b1}}}};\n    wire [{R}-1:0] ob_bits = acc_n;")
    a(buffer_body(outbuf, g.name))
    last_ch = f"pc == {c - 1}"
    reset_ow = " ow <= 0;" if outbuf.time_banks > 1 else ""
    a("    always @(posedge clk) begin")
    a("        done <= 1'b0;")
    a("        if (rst) running <= 1'b0;")
    a("        else if (!running) begin")
    a("            if (start) begin running <= 1'b1; t <= 0; pc <= 0; py_o <= 0; sg <= 0; py <= 0; acc <= 0; ow <= 0;"
      " wf <= 0; off <= 0; wd <= 0; rel_u <= 0; end")
    a("        end else if (!row_end) begin acc <= acc_n; wd <= wd + 1; rel_u <= rel_u - %d; end" % NU)
    a("        else begin  // the next window row (or segment, output row, channel): its span start")
    a(f"            if ({last_ch} && last_oy && last_sg && last_py) begin wf <= 0; off <= 0; wd <= 0; rel_u <= 0; end")
    a("            else begin wf <= wf_n; off <= off_n; wd <= wf_n; rel_u <= $signed({1'b0, off_n}); end")
    a("            if (!last_py) begin acc <= acc_n; py <= py + 1; end")
    a("            else begin  // the R outputs are complete: written this cycle (ob_we)")
    a("                acc <= 0; py <= 0; ow <= ow + 1;")
    a("                if (!last_sg) sg <= sg + 1;")
    a("                else begin sg <= 0; if (!last_oy) py_o <= py_o + 1;")
    a(f"                    else begin py_o <= 0; if (!({last_ch})) pc <= pc + 1;")
    a(f"                        else begin pc <= 0;{reset_ow} if (t != {T - 1}) t <= t + 1; else begin running <= 1'b0; done <= 1'b1; end end")
    a("                    end")
    a("                end")
    a("            end")
    a("        end")
    a("    end")
    a("endmodule")
    return "\n".join(lines) + "\n"
