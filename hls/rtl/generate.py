"""``spikehls rtl``: write the Verilog twin of a generated HLS project into ``PRJ/rtl/``.

The integer network is rebuilt from the project's clean ONNX graph (the one the HLS layers were
built from) and every layer's parallelism is read from ``PRJ/spikehls.json``, so the RTL has the
lanes and banks of the HLS project: both come from :func:`spikehls.hls.geometry.net_geometry`.
Written atomically (``PRJ/rtl`` appears complete or not at all); ``PRJ/rtl/rtl.json`` records the
layout the simulator and the synthesis step read back.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import numpy as np

from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_dir, write_json, write_text
from spikehls.hls.geometry import LayerGeometry, net_geometry
from spikehls.hls.layers import chunk_table
from spikehls.hls.memory import block_fill, has_uram
from spikehls.hls.rtl.tables import break_words, chunk_words, lane_words, threshold_words, to_twos, train_codes, write_mem
from spikehls.hls.twin_cost import spike_buffer_plan
from spikehls.hls.rtl.verilog import BufferSpec, _w, accumulate_module, buffer_body, maxpool_module, stream_buffer_module
from spikehls.quantize.intnet import IntNet, MaxPool2d

RTL_DIR = "rtl"
LAYOUT_FILE = "rtl.json"
TOP = "spikehls_top"


def _ident(name: str) -> str:
    out = "".join(ch if ch.isalnum() else "_" for ch in name)
    return out if out and not out[0].isdigit() else "l_" + out


def project_geometry(project: Path) -> tuple[IntNet, list[LayerGeometry], dict[str, Any]]:
    """The integer network of a project and its layers' geometry at the project's parallelism."""
    from spikehls.hls.csim import load_meta
    from spikehls.hls.report_run import project_net

    meta = load_meta(project)
    net = project_net(project, meta)
    par = {}
    for lyr in meta.get("layers", []):
        par[lyr.get("source_name", lyr["name"])] = int(lyr.get("parallelism", 1) or 1)
    return net, net_geometry(net, par), meta


def _write_tables(d: Path, tag: str, lyr, g: LayerGeometry) -> dict[str, str]:
    """The ROM files of one accumulate layer; returns role -> file name."""
    files: dict[str, str] = {}
    co = g.channels
    w = lyr.weight
    rows = w.reshape(co, -1).T
    tab = chunk_table(rows, g.lanes)
    t = g.table
    assert t is not None
    files["offsets"] = f"{tag}_offsets.mem"
    write_mem(d / files["offsets"], [to_twos(int(x), t.index_bits) for x in tab.offsets], t.index_bits)
    files["table"] = f"{tag}_table.mem"
    write_mem(d / files["table"], chunk_words(tab.groups, tab.weights, g.lanes, t.weight_bits, t.group_bits),
              g.lanes * t.weight_bits + t.group_bits)
    files["bias"] = f"{tag}_bias.mem"
    if g.kind == "readout":  # out[k] = sum_t (b_k + ...): the accumulators start at T b_k
        write_mem(d / files["bias"], lane_words(lyr.bias * g.time_steps, g.lanes, g.groups, g.acc_bits), g.lanes * g.acc_bits)
    else:
        write_mem(d / files["bias"], lane_words(lyr.bias, g.lanes, g.groups, g.bias_bits), g.lanes * g.bias_bits)
    if g.skip_table is not None:
        sk = lyr.skip
        st = np.diag(sk.gain) if sk.weight is None else sk.weight  # [co, cs]
        stab = chunk_table(st.T, g.lanes)
        s = g.skip_table
        files["skip_offsets"] = f"{tag}_skip_offsets.mem"
        write_mem(d / files["skip_offsets"], [to_twos(int(x), s.index_bits) for x in stab.offsets], s.index_bits)
        files["skip_table"] = f"{tag}_skip_table.mem"
        write_mem(d / files["skip_table"], chunk_words(stab.groups, stab.weights, g.lanes, s.weight_bits, s.group_bits),
                  g.lanes * s.weight_bits + s.group_bits)
    if g.is_neuron:
        if g.fire_once:
            from spikehls.hls.spike_trains import constant_current_trains

            table = constant_current_trains(lyr.neuron, g.time_steps, g.acc_bits)
            assert table is not None and table.n_breaks == g.n_breaks
            files["breaks"] = f"{tag}_breaks.mem"
            write_mem(d / files["breaks"], break_words(table.breaks, g.acc_bits), g.n_breaks * (g.acc_bits + 1))
            files["trains"] = f"{tag}_trains.mem"
            write_mem(d / files["trains"], train_codes(table.trains, g.time_steps), (g.n_breaks + 1) * g.time_steps)
        else:
            files["thr"] = f"{tag}_thr.mem"
            write_mem(d / files["thr"], threshold_words(lyr.neuron.threshold, g.v_bits), g.v_bits)
    if g.z_current and g.signed_current:  # the current's sign per channel: 2-bit two's complement
        files["sign"] = f"{tag}_sign.mem"
        write_mem(d / files["sign"], [to_twos(int(x), 2) for x in lyr.current_sign], 2)
    return files


class Stream:
    """A residual source's stream buffer in the top: its spec, module, and the layers that read it."""

    def __init__(self, spec: BufferSpec, module: str, readers: list[str]):
        self.spec, self.module, self.readers = spec, module, readers

    def wires(self, name: str) -> list[str]:
        t, b = _ident(name), self.spec
        n = len(self.readers) + 1  # + the (unused) debug port
        return [f"    wire {t}_zw_we;\n    wire [{_w(b.depth)}-1:0] {t}_zw_addr;\n    wire [{b.banks}-1:0] {t}_zw_bmask;\n"
                f"    wire [{b.banks * b.width}-1:0] {t}_zw_bits;",
                f"    wire [{n * b.t_bits}-1:0] {t}_zrd_t;\n    wire [{n * b.addr_bits}-1:0] {t}_zrd_word;\n"
                f"    wire [{n * b.banks * b.width}-1:0] {t}_zrd_data;"]

    def instance(self, name: str) -> str:
        t, b = _ident(name), self.spec
        d = len(self.readers)
        return (f"    {self.module} u_{t}_z (.clk(clk), .ob_we({t}_zw_we), .ob_addr({t}_zw_addr), .ob_bmask({t}_zw_bmask),"
                f" .ob_bits({t}_zw_bits), .rd_t({t}_zrd_t), .rd_word({t}_zrd_word), .rd_data({t}_zrd_data));\n"
                f"    assign {t}_zrd_t[{d * b.t_bits} +: {b.t_bits}] = 0;  // the debug port: unused\n"
                f"    assign {t}_zrd_word[{d * b.addr_bits} +: {b.addr_bits}] = 0;")

    def read_ports(self, name: str, reader: str) -> list[str]:
        t, b = _ident(name), self.spec
        i = self.readers.index(reader)
        w = b.banks * b.width
        return [f".rz_t({t}_zrd_t[{i * b.t_bits} +: {b.t_bits}])", f".rz_word({t}_zrd_word[{i * b.addr_bits} +: {b.addr_bits}])",
                f".rz_data({t}_zrd_data[{i * w} +: {w}])"]

    @staticmethod
    def write_ports(name: str) -> list[str]:
        t = _ident(name)
        return [f".zw_we({t}_zw_we)", f".zw_addr({t}_zw_addr)", f".zw_bmask({t}_zw_bmask)", f".zw_bits({t}_zw_bits)"]


def _top(net: IntNet, geos: list[LayerGeometry], mods: list[str], bufs: dict[str, BufferSpec],
         readers: dict[str, list[tuple[str, str]]], out_width: int, streams: Optional[dict[str, Stream]] = None) -> str:
    """The generated top: AXI4-Stream compatible input (one input value per beat) and output
    (K readout values, then the class with TLAST), the layers started one after another."""
    pixels = net.encoding == "direct"
    inb = bufs["input"]
    n_in_beats = inb.depth
    K = net.num_classes
    NL = len(geos)
    dbw = max(b.banks * b.width for b in bufs.values())
    dbuf_bits = _w(len(bufs))
    dt_bits = max(b.t_bits for b in bufs.values())
    dw_bits = max(b.addr_bits for b in bufs.values())
    L: list[str] = []
    a = L.append
    a("// spikehls_top -- generated by spikehls.hls.rtl: the Verilog twin of the HLS project.")
    a(f"// Input: {n_in_beats} beats of {'8-bit pixels (one frame; direct encoding)' if pixels else 'spikes (bit 0), all T frames'}"
      " in [T][C][H][W] order; output: the readout's K values (signed, sign-extended), then the class with TLAST.")
    a(f"module {TOP} (")
    a("    input  wire clk,\n    input  wire rst,")
    a("    input  wire [7:0] s_axis_tdata,\n    input  wire s_axis_tvalid,\n    output wire s_axis_tready,\n    input  wire s_axis_tlast,")
    a(f"    output wire [{out_width}-1:0] m_axis_tdata,\n    output wire m_axis_tvalid,\n    input  wire m_axis_tready,\n    output wire m_axis_tlast")
    a("`ifdef SPIKEHLS_DEBUG")
    a(f"    ,input  wire [{dbuf_bits}-1:0] dbg_buf,\n    input  wire [{dt_bits}-1:0] dbg_t,\n    input  wire [{dw_bits}-1:0] dbg_word,\n"
      f"    output wire [{dbw}-1:0] dbg_data,\n    output wire [{NL}-1:0] dbg_busy")
    a("`endif")
    a(");")
    a("    localparam T_LOAD = 2'd0, T_RUN = 2'd1, T_VALUES = 2'd2, T_CLASS = 2'd3;")
    a("    reg [1:0] tstate;")
    a(f"    reg [{_w(n_in_beats)}-1:0] in_cnt;")
    a(f"    wire [{NL}-1:0] l_start, l_done, l_busy;")
    # ---- the input buffer
    a("    // ---- the input buffer (written by the input stream)")
    a("    wire ob_we = tstate == T_LOAD && s_axis_tvalid;")
    a(f"    wire [{_w(inb.depth)}-1:0] ob_addr = in_cnt;")
    a("    wire [0:0] ob_bmask = 1'b1;")
    a(f"    wire [{inb.width}-1:0] ob_bits = s_axis_tdata[{inb.width}-1:0];")
    n = inb.readers
    a(f"    wire [{n * inb.t_bits}-1:0] rd_t;\n    wire [{n * inb.addr_bits}-1:0] rd_word;\n    wire [{n * inb.banks * inb.width}-1:0] rd_data;")
    a(buffer_body(inb, "the input").replace("genvar gtb, gbk, grd;", "genvar gtb, gbk, grd;  // input buffer"))
    a("    assign s_axis_tready = tstate == T_LOAD;")
    # wires of every layer's read ports
    for name, b in bufs.items():
        if name == "input":
            continue
        t = _ident(name)
        a(f"    wire [{b.readers * b.t_bits}-1:0] {t}_rd_t;\n    wire [{b.readers * b.addr_bits}-1:0] {t}_rd_word;\n"
          f"    wire [{b.readers * b.banks * b.width}-1:0] {t}_rd_data;")

    def port(src: str, idx: int, sig: str) -> str:
        b = bufs[src]
        pre = "" if src == "input" else _ident(src) + "_"
        w = {"t": b.t_bits, "word": b.addr_bits, "data": b.banks * b.width}[sig]
        return f"{pre}rd_{sig}[{idx * w} +: {w}]"

    streams = streams or {}
    for name, z in streams.items():  # residual stream buffers: written by a stream layer, read by its readers
        L.extend(z.wires(name))
        a(z.instance(name))
    reader_idx = {src: {who: i for i, (who, _) in enumerate(lst)} for src, lst in readers.items()}
    a("    wire [31:0] ro_data_w;\n    wire ro_valid, ro_last, ro_ready;")
    prev = "input"
    for i, (g, mod) in enumerate(zip(geos, mods)):
        t = _ident(g.name)
        ports = [".clk(clk)", ".rst(rst)", f".start(l_start[{i}])", f".done(l_done[{i}])", f".busy(l_busy[{i}])"]
        ri = reader_idx[prev][g.name + ":in"]
        ports += [f".in_t({port(prev, ri, 't')})", f".in_word({port(prev, ri, 'word')})", f".in_data({port(prev, ri, 'data')})"]
        if g.skip_source is not None:
            si = reader_idx[g.skip_source][g.name + ":skip"]
            src = g.skip_source
            ports += [f".sk_t({port(src, si, 't')})", f".sk_word({port(src, si, 'word')})", f".sk_data({port(src, si, 'data')})"]
        if g.residual_source is not None:
            ports += streams[g.residual_source].read_ports(g.residual_source, g.name)
        if g.name in streams:
            ports += Stream.write_ports(g.name)
        if g.kind == "readout":
            ports += [".o_valid(ro_valid)", ".o_ready(ro_ready)", ".o_data(ro_data_w)", ".o_last(ro_last)"]
        else:
            ports += [f".rd_t({t}_rd_t)", f".rd_word({t}_rd_word)", f".rd_data({t}_rd_data)"]
        a(f"    {mod} u_{t} (\n        " + ",\n        ".join(ports) + "\n    );")
        prev = g.name
    # ---- sequencing
    a("    // ---- layers run one after another; a sample's output streams out, then the class")
    a(f"    assign l_start = {{l_done[{NL - 2}:0], (tstate == T_LOAD && s_axis_tvalid && in_cnt == {n_in_beats - 1})}};"
      if NL > 1 else f"    assign l_start = tstate == T_LOAD && s_axis_tvalid && in_cnt == {n_in_beats - 1};")
    a(f"    reg [{_w(K)}-1:0] k_cnt, best_k;\n    reg signed [31:0] best_v;")
    a("    assign ro_ready = tstate == T_VALUES && m_axis_tready;")
    a("    assign m_axis_tvalid = (tstate == T_VALUES && ro_valid) || tstate == T_CLASS;")
    a(f"    assign m_axis_tdata = tstate == T_CLASS ? {{{{{out_width - _w(K)}{{1'b0}}}}, best_k}} : {{{{{out_width - 32}{{ro_data_w[31]}}}}, ro_data_w}};"
      if out_width > 32 else
      f"    assign m_axis_tdata = tstate == T_CLASS ? {{{{{out_width - _w(K)}{{1'b0}}}}, best_k}} : ro_data_w;")
    a("    assign m_axis_tlast = tstate == T_CLASS;")
    a("    wire signed [31:0] ro_v = ro_data_w;")
    a("    always @(posedge clk) begin")
    a("        if (rst) begin tstate <= T_LOAD; in_cnt <= 0; end")
    a("        else case (tstate)")
    a(f"        T_LOAD: if (s_axis_tvalid) begin if (in_cnt == {n_in_beats - 1}) begin in_cnt <= 0; tstate <= T_RUN; end else in_cnt <= in_cnt + 1; end")
    a("        T_RUN: if (ro_valid) begin tstate <= T_VALUES; k_cnt <= 0; end")
    a("        T_VALUES: if (ro_valid && m_axis_tready) begin  // first index of the maximum")
    a("            if (k_cnt == 0 || ro_v > best_v) begin best_v <= ro_v; best_k <= k_cnt; end")
    a("            k_cnt <= k_cnt + 1;")
    a("            if (ro_last) tstate <= T_CLASS;")
    a("        end")
    a("        T_CLASS: if (m_axis_tready) tstate <= T_LOAD;")
    a("        endcase")
    a("    end")
    # ---- debug read-back (simulation only)
    a("`ifdef SPIKEHLS_DEBUG")
    a("    assign dbg_busy = l_busy;")
    sel = []
    for bi, (name, b) in enumerate(bufs.items()):
        di = readers[name][-1][1]
        assert di == "debug"
        idx = len(readers[name]) - 1
        a(f"    assign {port(name, idx, 't')} = dbg_t[{b.t_bits}-1:0];")
        a(f"    assign {port(name, idx, 'word')} = dbg_word[{b.addr_bits}-1:0];")
        sel.append(f"(dbg_buf == {bi}) ? {{{{{dbw - b.banks * b.width}{{1'b0}}}}, {port(name, idx, 'data')}}}"
                   if dbw > b.banks * b.width else f"(dbg_buf == {bi}) ? {port(name, idx, 'data')}")
    a("    assign dbg_data = " + " :\n        ".join(sel) + f" : {dbw}'d0;")
    a("`else")
    for name, b in bufs.items():
        idx = len(readers[name]) - 1
        a(f"    assign {port(name, idx, 't')} = 0;\n    assign {port(name, idx, 'word')} = 0;")
    a("`endif")
    a("endmodule")
    return "\n".join(L) + "\n"


def generate_rtl(project: str | Path, out: Optional[str | Path] = None) -> dict[str, Any]:
    """Write ``PRJ/rtl/`` (or ``out``): one Verilog module per layer, the top, the ROM files, a
    file list, ``rtl.json`` (the layout) and a README. Returns the layout. The memories are the
    HLS project's: the memory rule at the block RAM threshold the project was generated with."""
    from spikehls.hls.report_run import project_fill

    project = Path(project)
    net, geos, meta = project_geometry(project)
    with block_fill(project_fill(meta)):
        return _generate_rtl(project, out, net, geos, meta)


def _generate_rtl(project: Path, out: Optional[str | Path], net: IntNet, geos: list[LayerGeometry],
                  meta: dict[str, Any]) -> dict[str, Any]:
    out = Path(out) if out is not None else project / RTL_DIR
    T = net.time_steps
    # the buffers: who writes, who reads (consumer, skip readers, then the debug port)
    bufs: dict[str, BufferSpec] = {}
    readers: dict[str, list[tuple[str, str]]] = {}
    in_shape = net.input_shape
    n_in = int(np.prod(in_shape))
    pixels = net.encoding == "direct"
    bufs["input"] = BufferSpec(time_banks=1, banks=1, words_per_step=n_in, time_steps=1 if pixels else T, width=8 if pixels else 1)
    readers["input"] = []
    for g in geos:
        if g.kind != "readout":
            bufs[g.name] = BufferSpec(time_banks=T if g.fire_once else 1, banks=g.out_banks,
                                      words_per_step=g.n_out // g.out_banks, time_steps=T,
                                      write_groups=g.spike_write_groups)
            readers[g.name] = []
    prev = "input"
    for g in geos:
        readers[prev].append((g.name + ":in", "in"))
        if g.skip_source is not None:
            readers[g.skip_source].append((g.name + ":skip", "skip"))
        prev = g.name
    ultra = has_uram(meta.get("board", {}).get("part"))  # the memory rule may pick URAM on UltraScale+
    for name in bufs:
        readers[name].append(("debug", "debug"))
        bufs[name].readers = len(readers[name])
    for g in geos:  # where the rule puts each spike buffer (block / ultra: a registered read)
        if g.name in bufs:
            bufs[g.name].style = spike_buffer_plan(g, len(readers[g.name]) - 1, ultra).style
    streams: dict[str, Stream] = {}
    for i, g in enumerate(geos):
        if g.writes_stream:
            spec = BufferSpec(time_banks=1, banks=g.z_banks, words_per_step=g.n_out // g.z_banks, time_steps=T, width=g.acc_bits)
            streams[g.name] = Stream(spec, f"spk_l{i}_{_ident(g.name)}_zbuf", [r.name for r in geos if r.residual_source == g.name])
    for z in streams.values():
        z.spec.readers = len(z.readers) + 1
    ro = geos[-1]
    out_width = max(32, -(-ro.acc_bits // 8) * 8)
    if ro.acc_bits > 32:
        raise SpikehlsError(f"layer {ro.name}: a {ro.acc_bits}-bit readout exceeds the RTL's 32-bit output stream")
    layout: dict[str, Any] = {"format": "spikehls.rtl/1", "top": TOP, "time_steps": T, "input_kind": meta["input_kind"],
                              "input_beats": bufs["input"].depth, "num_classes": net.num_classes, "out_width": out_width,
                              "buffers": [], "layers": []}
    with atomic_dir(out) as d:
        mods, files = [], ["spikehls_top.v"]
        prev = "input"
        for i, (g, lyr) in enumerate(zip(geos, net.layers)):
            tag = f"l{i}_{_ident(g.name)}"
            mod = f"spk_{tag}"
            if isinstance(lyr, MaxPool2d):
                text = maxpool_module(g, mod, bufs[prev], bufs[g.name])
                rom = {}
            else:
                rom = _write_tables(d, tag, lyr, g)
                zin = streams[g.residual_source].spec if g.residual_source is not None else None
                zout = streams[g.name].spec if g.name in streams else None
                text = accumulate_module(g, mod, rom, bufs[prev], bufs.get(g.name), bufs.get(g.skip_source) if g.skip_source else None,
                                         zin=zin, zout=zout, ultra=ultra)
            write_text(d / f"{mod}.v", text)
            files.append(f"{mod}.v")
            mods.append(mod)
            entry = {"name": g.name, "module": mod, "kind": g.kind, "direct": g.pixels, "mem_files": sorted(rom.values()),
                     "geometry": {k: v for k, v in asdict(g).items() if k not in ("extra", "table", "skip_table")}}
            layout["layers"].append(entry)
            prev = g.name
        for name, z in streams.items():
            write_text(d / f"{z.module}.v", stream_buffer_module(z.spec, z.module, name))
            files.append(f"{z.module}.v")
            layout.setdefault("streams", []).append({"name": name, "module": z.module, "banks": z.spec.banks,
                                                     "width": z.spec.width, "readers": z.readers})
        write_text(d / "spikehls_top.v", _top(net, geos, mods, bufs, readers, out_width, streams))
        for i, (name, b) in enumerate(bufs.items()):
            n_pos = n_in if name == "input" else next(g.n_out for g in geos if g.name == name)
            layout["buffers"].append({"name": name, "index": i, "time_banks": b.time_banks, "banks": b.banks,
                                      "words_per_step": b.words_per_step, "time_steps": b.time_steps, "width": b.width,
                                      "positions": n_pos, "spiking": name != "input"})
        mems = sorted(p.name for p in d.glob("*.mem"))
        write_text(d / "files.f", "\n".join(files[1:] + files[:1]) + "\n")
        layout["files"] = files
        layout["mem_files"] = mems
        layout["dsp_lanes"] = [g.name for g in geos if g.pixels and g.table is not None and g.table.weight_bits >= 9]
        write_json(d / LAYOUT_FILE, layout)
        write_text(d / "README.md", _readme(layout, meta))
    return layout


def _readme(layout: dict[str, Any], meta: dict[str, Any]) -> str:
    board = meta.get("board", {})
    return f"""# RTL twin of this spikehls project

Generated by `spikehls rtl`: the same integer network and the same lanes, banks and chunked
nonzero tables as the HLS project one folder up, as synthesizable Verilog-2005.

- `spikehls_top.v`: the top, `{layout['top']}`. AXI4-Stream compatible: `s_axis_*` takes
  {layout['input_beats']} input beats ({'8-bit pixels of one frame' if layout['input_kind'] == 'pixels' else 'spikes in bit 0, all T frames'},
  [T][C][H][W] order); `m_axis_*` gives the readout's {layout['num_classes']} values
  ({layout['out_width']}-bit signed), then the class index with TLAST. One sample at a time.
- `spk_l*.v`: one module per layer; `*.mem`: the weight / offset / bias / threshold (or
  spike-train) tables, read with `$readmemh` at elaboration.
- `files.f`: the file list; `rtl.json`: the layout (buffers, geometry of every layer).

## Vivado

```tcl
create_project spikehls_rtl ./vivado -part {board.get('part', '<part>')}
add_files [glob *.v]
add_files [glob *.mem]          ;# the ROM contents: keep the .mem files next to the .v files
set_property top {layout['top']} [current_fileset]
synth_design -top {layout['top']} -part {board.get('part', '<part>')}
report_utilization
```

Memories carry `ram_style` / `rom_style` attributes (distributed: every read-modify-write array
is read in the cycle it is written back); the pixel x weight lanes of a direct-encoded layer carry
`use_dsp`. `spikehls rtlsim` simulates this RTL with Verilator against the integer reference;
`spikehls synth` synthesizes it with yosys (figures labelled `yosys`, not Vivado's).
"""
