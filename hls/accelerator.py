"""From the IP to a board: an AXI4-Stream + AXI-Lite accelerator wrapper, block-design Tcl, PYNQ driver.

``spikehls hls --accelerator`` writes ``PRJ/accelerator/``:

* ``NAME_axi.h`` / ``NAME_axi.cpp``: the top ``NAME_axi(in_stream, out_stream, n_samples)``.
  ``in_stream`` and ``out_stream`` are 32-bit AXI4-Stream ports (``axis``), ``n_samples`` and the
  block-level control (``ap_ctrl_hs``: start/done/idle) sit on one AXI-Lite slave (``control``).
  It runs ``n_samples`` samples back to back through the network top ``NAME`` (the same firmware
  that ``spikehls csim`` checks spike for spike).
* ``build_axi.tcl``: Vitis HLS build of the wrapper (csim-free: csynth + IP export, VLNV
  ``spikehls:hls:NAME_axi:1.0``).
* ``block_design.tcl``: Vivado block design for the board's part: the processing system
  (Zynq-7000 ``processing_system7`` for PYNQ-Z2, Zynq UltraScale+ ``zynq_ultra_ps_e`` for ZCU104
  and KV260), an AXI DMA (simple mode, 32-bit streams) feeding the wrapper, the AXI-Lite control
  on the PS master port, bitstream and ``.hwh`` copied to ``overlay/`` for PYNQ.
* ``spikehls_driver.py``: the PYNQ driver (NumPy only, plus ``pynq`` on the board): packs inputs,
  starts the IP, moves both streams by DMA and decodes readout and class.
* ``tb_NAME_axi.cpp`` and ``layout.json``: the g++ testbench of the wrapper and the byte layout.

The stream layout (little-endian 32-bit words; one sample after the other):

* input, direct encoding (``input_kind`` pixels): one frame ``C*H*W`` of 8-bit pixels, 4 per word
  (pixel ``i`` in bits ``8*(i%4)``..``8*(i%4)+7`` of word ``i//4``); the wrapper repeats it over the
  ``T`` steps, as the direct encoding does;
* input, spike encodings: the ``T*C*H*W`` spikes in ``[T][C][H][W]`` order, 32 per word (spike
  ``i`` in bit ``i%32`` of word ``i//32``), exactly the integer reference's input;
* output: ``K`` words of readout (signed 32-bit, the readout integers of the reference), then one
  word with the class (the first index of the maximum readout); TLAST on the last word of the
  last sample.
"""

from __future__ import annotations

import json
import pprint
import shutil
import subprocess
from pathlib import Path
from typing import Any, Optional

import numpy as np

from spikehls.errors import SpikehlsError

WORD_BITS = 32
IP_VENDOR, IP_LIBRARY, IP_VERSION = "spikehls", "hls", "1.0"
N_SAMPLES_OFFSET = 0x10  # Vitis HLS s_axilite map: 0x00 control, 0x04 GIE, 0x08 IER, 0x0C ISR, 0x10 first argument

# Board presets the block design needs beyond the part: the Vivado board part and the PS kind.
PLATFORMS: dict[str, dict[str, Optional[str]]] = {
    "xc7z020clg400-1": {"board": "PYNQ-Z2", "board_part": "tul.com.tw:pynq-z2:part0:1.0", "ps": "zynq7"},
    "xczu7ev-ffvc1156-2-e": {"board": "ZCU104", "board_part": "xilinx.com:zcu104:part0:1.1", "ps": "zynqmp"},
    "xck26-sfvc784-2LV-c": {"board": "Kria KV260", "board_part": "xilinx.com:kv260_som:part0:1.4", "ps": "zynqmp"},
}


def platform(part: str) -> dict[str, Optional[str]]:
    """The PS kind (and Vivado board part where known) of ``part``; an error for parts without a PS."""
    if part in PLATFORMS:
        return PLATFORMS[part]
    p = part.lower()
    if p.startswith("xc7z"):
        return {"board": None, "board_part": None, "ps": "zynq7"}
    if p.startswith(("xczu", "xck26", "xck24")):
        return {"board": None, "board_part": None, "ps": "zynqmp"}
    raise SpikehlsError(f"part {part}: no processing system for a PYNQ overlay; --accelerator supports Zynq-7000 "
                        "(xc7z...) and Zynq UltraScale+ (xczu..., xck26) parts")


def layout(meta: dict) -> dict[str, Any]:
    """The stream byte layout of a project (see the module docstring)."""
    shape = [int(v) for v in meta["input_shape"]]
    t = shape[0]
    frame = int(np.prod(shape[1:]))
    pixels = meta["input_kind"] == "pixels"
    n_in = frame if pixels else t * frame
    per_word = WORD_BITS // 8 if pixels else WORD_BITS
    k = int(meta["num_classes"])
    return {
        "format": "spikehls.axis/1",
        "top": f"{meta.get('project_name') or 'myproject'}_axi",
        "network_top": meta.get("project_name") or "myproject",
        "namespace": meta.get("namespace"),
        "input_kind": meta["input_kind"],
        "input_shape": shape,
        "time_steps": t,
        "frame": frame,
        "elements_per_sample": n_in,
        "elements_per_word": per_word,
        "in_words_per_sample": -(-n_in // per_word),
        "num_classes": k,
        "out_words_per_sample": k + 1,
        "word_bits": WORD_BITS,
        "n_samples_offset": N_SAMPLES_OFFSET,
        "ip_vlnv": f"{IP_VENDOR}:{IP_LIBRARY}:{meta.get('project_name') or 'myproject'}_axi:{IP_VERSION}",
    }


# ---- packing (the same functions are written into the PYNQ driver) -------------------------------
_PACKING = '''
def pack_inputs(x, lay):
    """Inputs -> uint32 stream words. Pixels: uint8 [N, C, H, W] or [N, T, C, H, W] (frame 0 is sent);
    spikes: 0/1 [N, T, C, H, W] (the integer reference's input, e.g. spikehls' encode_int)."""
    x = np.asarray(x)
    n = len(x)
    per, words = lay["elements_per_word"], lay["in_words_per_sample"]
    if lay["input_kind"] == "pixels":
        if x.ndim == len(lay["input_shape"]) + 1:
            x = x[:, 0]  # direct encoding repeats the frame: send it once
        flat = x.reshape(n, -1)
        if flat.shape[1] != lay["frame"] or flat.min(initial=0) < 0 or flat.max(initial=0) > 255:
            raise ValueError(f"expected {lay['frame']} pixels 0..255 per sample, got {flat.shape[1]}")
        buf = np.zeros((n, words * per), dtype=np.uint8)
        buf[:, : flat.shape[1]] = flat
        return buf.view("<u4").reshape(-1).astype(np.uint32)
    flat = x.reshape(n, -1)
    if flat.shape[1] != lay["elements_per_sample"] or flat.min(initial=0) < 0 or flat.max(initial=0) > 1:
        raise ValueError(f"expected {lay['elements_per_sample']} spikes 0/1 per sample, got {flat.shape[1]}")
    bits = np.zeros((n, words * per), dtype=np.uint8)
    bits[:, : flat.shape[1]] = flat
    packed = np.packbits(bits.reshape(n, words, per), axis=2, bitorder="little")  # bit i%32 of word i//32
    return packed.reshape(n, words * 4).view("<u4").reshape(-1).astype(np.uint32)


def unpack_outputs(words, n, lay):
    """uint32 stream words -> (readout int32 [n, K], class int64 [n])."""
    w = np.asarray(words, dtype=np.uint32).reshape(n, lay["out_words_per_sample"])
    readout = w[:, : lay["num_classes"]].view(np.int32).astype(np.int64)
    return readout, w[:, lay["num_classes"]].astype(np.int64)
'''
exec(compile(_PACKING, __file__ + ":_PACKING", "exec"))  # pack_inputs, unpack_outputs (the driver's own copy)


# ---- generated sources ---------------------------------------------------------------------------
def _wrapper_h(lay: dict) -> str:
    top, net = lay["top"], lay["network_top"]
    return f"""// spikehls accelerator wrapper: AXI4-Stream data in/out, AXI-Lite control (n_samples, ap_ctrl_hs)
#ifndef {top.upper()}_H_
#define {top.upper()}_H_

#include "ap_int.h"
#include "hls_stream.h"
#include "{net}.h"

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define SPIKEHLS_HAVE_AXI_SDATA 1
#endif
#endif
#ifdef SPIKEHLS_HAVE_AXI_SDATA
typedef ap_axiu<{WORD_BITS}, 0, 0, 0> spk_axis_t;  // Vitis: TDATA, TKEEP, TSTRB, TLAST
#else
struct spk_axis_t {{  // plain g++ (no Xilinx headers): the same fields
    ap_uint<{WORD_BITS}> data;
    ap_uint<{WORD_BITS // 8}> keep;
    ap_uint<{WORD_BITS // 8}> strb;
    ap_uint<1> last;
}};
#endif

#define SPK_AXI_T {lay['time_steps']}
#define SPK_AXI_FRAME {lay['frame']}
#define SPK_AXI_N_NET_IN {lay['time_steps'] * lay['frame']}
#define SPK_AXI_N_IN {lay['elements_per_sample']}
#define SPK_AXI_PER_WORD {lay['elements_per_word']}
#define SPK_AXI_IN_WORDS {lay['in_words_per_sample']}
#define SPK_AXI_K {lay['num_classes']}
#define SPK_AXI_PIXELS {1 if lay['input_kind'] == 'pixels' else 0}

void {top}(hls::stream<spk_axis_t> &in_stream, hls::stream<spk_axis_t> &out_stream, int n_samples);

#endif
"""


def _wrapper_cpp(lay: dict) -> str:
    top, net, ns = lay["top"], lay["network_top"], lay["namespace"]
    using = f"using namespace {ns};\n" if ns else ""
    return f"""// spikehls accelerator wrapper of {net} (generated by spikehls hls --accelerator).
// Stream layout: see accelerator/layout.json and spikehls.hls.accelerator.
#include "{top}.h"
{using}
void {top}(hls::stream<spk_axis_t> &in_stream, hls::stream<spk_axis_t> &out_stream, int n_samples) {{
#pragma HLS INTERFACE axis port=in_stream
#pragma HLS INTERFACE axis port=out_stream
#pragma HLS INTERFACE s_axilite port=n_samples bundle=control
#pragma HLS INTERFACE s_axilite port=return bundle=control
    static input_t x[SPK_AXI_N_NET_IN];
    result_t y[SPK_AXI_K];
samples:
    for (int s = 0; s < n_samples; s++) {{
    read_words:
        for (int w = 0; w < SPK_AXI_IN_WORDS; w++) {{
#pragma HLS PIPELINE II=1
            spk_axis_t v = in_stream.read();
            for (int j = 0; j < SPK_AXI_PER_WORD; j++) {{
#pragma HLS UNROLL
                const int i = w * SPK_AXI_PER_WORD + j;
                if (i < SPK_AXI_N_IN) {{
#if SPK_AXI_PIXELS
                    x[i].range(7, 0) = v.data.range(8 * j + 7, 8 * j);
#else
                    x[i] = v.data[j];
#endif
                }}
            }}
        }}
#if SPK_AXI_PIXELS
    repeat_frame:  // direct encoding: the same frame at every step (the first layer reads frame 0)
        for (int i = SPK_AXI_FRAME; i < SPK_AXI_N_NET_IN; i++) {{
#pragma HLS PIPELINE II=1
            x[i] = x[i % SPK_AXI_FRAME];
        }}
#endif
        {net}(x, y);
        int best = 0;
    write_words:
        for (int k = 0; k < SPK_AXI_K + 1; k++) {{
#pragma HLS PIPELINE II=1
            spk_axis_t o;
            if (k < SPK_AXI_K) {{
                if (y[k] > y[best]) best = k;  // the first maximum, like the reference's argmax
                o.data = (ap_uint<{WORD_BITS}>)(ap_int<{WORD_BITS}>)y[k].to_int();
            }} else {{
                o.data = best;
            }}
            o.keep = -1;
            o.strb = -1;
            o.last = (s == n_samples - 1 && k == SPK_AXI_K) ? 1 : 0;
            out_stream.write(o);
        }}
    }}
}}
"""


def _testbench_cpp(lay: dict) -> str:
    top = lay["top"]
    return f"""// g++ testbench of {top}: stream words from a file through the wrapper and back.
// usage: tb IN OUT [SPIKES | --batch]
//   IN : int32 n_samples, then n_samples * SPK_AXI_IN_WORDS uint32 words (accelerator/layout.json)
//   OUT: per output word: uint32 data, uint32 last
//   SPIKES (optional): every spiking layer's output spikes per sample, packed 8 per byte (MSB first),
//         captured inside the network while it runs behind the streams (as spikehls csim does)
//   --batch: all samples in one call with n_samples = N (TLAST from the wrapper itself)
#include <cstdio>
#include <cstring>
#include <vector>

#include "{top}.h"
#include "spikehls_layers.h"
#include "nnet_utils/nnet_spiking_common.h"

int main(int argc, char **argv) {{
    if (argc < 3) {{ std::fprintf(stderr, "usage: %s IN OUT [SPIKES]\\n", argv[0]); return 2; }}
    FILE *fin = std::fopen(argv[1], "rb");
    FILE *fout = std::fopen(argv[2], "wb");
    const bool batch = argc > 3 && std::strcmp(argv[3], "--batch") == 0;
    FILE *fsp = (argc > 3 && !batch) ? std::fopen(argv[3], "wb") : 0;
    if (!fin || !fout || (argc > 3 && !batch && !fsp)) {{ std::fprintf(stderr, "cannot open files\\n"); return 2; }}
    int n = 0;
    if (std::fread(&n, 4, 1, fin) != 1) {{ std::fprintf(stderr, "bad header\\n"); return 2; }}
    if (batch) {{
        hls::stream<spk_axis_t> in_stream("in_stream"), out_stream("out_stream");
        for (long w = 0; w < (long)n * SPK_AXI_IN_WORDS; w++) {{
            unsigned int d;
            if (std::fread(&d, 4, 1, fin) != 1) {{ std::fprintf(stderr, "input truncated\\n"); return 2; }}
            spk_axis_t v;
            v.data = d;
            v.keep = -1;
            v.strb = -1;
            v.last = (w == (long)n * SPK_AXI_IN_WORDS - 1) ? 1 : 0;
            in_stream.write(v);
        }}
        {top}(in_stream, out_stream, n);
        if (!in_stream.empty()) {{ std::fprintf(stderr, "wrapper left input words unread\\n"); return 3; }}
        while (!out_stream.empty()) {{
            spk_axis_t o = out_stream.read();
            unsigned int rec[2] = {{(unsigned int)o.data, (unsigned int)o.last}};
            std::fwrite(rec, 4, 2, fout);
        }}
        std::fclose(fout);
        return 0;
    }}
    std::vector<std::vector<unsigned char> > spikes(SPK_N_LAYERS);
    for (int l = 0; l < SPK_N_LAYERS; l++) {{
        spikes[l].resize(spk_layer_size[l] > 0 ? spk_layer_size[l] : 1);
        if (fsp && spk_layer_size[l] > 0) nnet::spike_capture_table()[spk_layer_id[l]] = spikes[l].data();
    }}
    std::vector<unsigned char> packed;
    for (int s = 0; s < n; s++) {{  // one sample per call, so that each sample's spikes can be captured
        hls::stream<spk_axis_t> in_stream("in_stream"), out_stream("out_stream");
        for (int w = 0; w < SPK_AXI_IN_WORDS; w++) {{
            unsigned int d;
            if (std::fread(&d, 4, 1, fin) != 1) {{ std::fprintf(stderr, "input truncated\\n"); return 2; }}
            spk_axis_t v;
            v.data = d;
            v.keep = -1;
            v.strb = -1;
            v.last = (w == SPK_AXI_IN_WORDS - 1) ? 1 : 0;
            in_stream.write(v);
        }}
        {top}(in_stream, out_stream, 1);
        if (!in_stream.empty()) {{ std::fprintf(stderr, "wrapper left input words unread\\n"); return 3; }}
        int words = 0;
        while (!out_stream.empty()) {{
            spk_axis_t o = out_stream.read();
            unsigned int rec[2] = {{(unsigned int)o.data, (unsigned int)o.last}};
            if (s != n - 1) rec[1] = 0;  // one call per sample here: TLAST belongs to the batch's last word
            std::fwrite(rec, 4, 2, fout);
            words++;
        }}
        if (words != SPK_AXI_K + 1) {{ std::fprintf(stderr, "wrapper wrote %d words, expected %d\\n", words, SPK_AXI_K + 1); return 3; }}
        if (fsp) {{
            for (int l = 0; l < SPK_N_LAYERS; l++) {{
                const int m = spk_layer_size[l];
                if (m <= 0) continue;
                packed.assign((m + 7) / 8, 0);
                for (int i = 0; i < m; i++)
                    if (spikes[l][i]) packed[i >> 3] |= (unsigned char)(0x80u >> (i & 7));
                std::fwrite(packed.data(), 1, packed.size(), fsp);
            }}
        }}
    }}
    std::fclose(fout);
    if (fsp) std::fclose(fsp);
    return 0;
}}
"""


def _build_tcl(lay: dict, part: str, clock_period_ns: float) -> str:
    top, net = lay["top"], lay["network_top"]
    return f"""# Vitis HLS build of the accelerator wrapper {top} (run in the project folder):
#   vitis-run --mode hls --tcl accelerator/build_axi.tcl     # Vitis 2024.2 and later
#   vitis_hls -f accelerator/build_axi.tcl                   # Vitis HLS 2020.2 - 2024.1
# C synthesis and IP export ({lay['ip_vlnv']}); the network itself is checked by spikehls csim.
open_project -reset {top}_prj
set_top {top}
add_files firmware/{net}.cpp -cflags "-std=c++11 -Ifirmware -Ifirmware/ap_types"
add_files accelerator/{top}.cpp -cflags "-std=c++11 -Ifirmware -Ifirmware/ap_types -Iaccelerator"
open_solution -reset solution1 -flow_target vivado
set_part {{{part}}}
create_clock -period {clock_period_ns:g} -name default
csynth_design
export_design -format ip_catalog -vendor {IP_VENDOR} -library {IP_LIBRARY} -version {IP_VERSION}
exit
"""


def _block_design_tcl(lay: dict, part: str, clock_mhz: float, plat: dict) -> str:
    top = lay["top"]
    bd = f"{top}_overlay"
    board_part = plat.get("board_part")
    bp = (f'if {{[catch {{set_property board_part {board_part} [current_project]}}]}} {{\n'
          f'    puts "warning: board files for {board_part} not installed: the PS keeps its defaults"\n}}\n'
          if board_part else "# no Vivado board part known for this part: the PS keeps its defaults\n")
    if plat["ps"] == "zynq7":
        ps_cell, ps_master, ps_slave, clk = "processing_system7_0", "M_AXI_GP0", "S_AXI_HP0", "FCLK_CLK0"
        ps = f"""create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7 {ps_cell}
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 -config {{make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"}} [get_bd_cells {ps_cell}]
set_property -dict [list CONFIG.PCW_USE_S_AXI_HP0 {{1}} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {{{clock_mhz:g}}}] [get_bd_cells {ps_cell}]
"""
    else:
        ps_cell, ps_master, ps_slave, clk = "zynq_ultra_ps_e_0", "M_AXI_HPM0_FPD", "S_AXI_HP0_FPD", "pl_clk0"
        ps = f"""create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e {ps_cell}
apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {{apply_board_preset "1"}} [get_bd_cells {ps_cell}]
set_property -dict [list CONFIG.PSU__USE__M_AXI_GP0 {{1}} CONFIG.PSU__USE__M_AXI_GP1 {{0}} CONFIG.PSU__USE__M_AXI_GP2 {{0}} CONFIG.PSU__USE__S_AXI_GP2 {{1}} CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {{{clock_mhz:g}}}] [get_bd_cells {ps_cell}]
"""
    return f"""# Vivado block design for {top} on {plat.get('board') or part} (part {part}, PL clock {clock_mhz:g} MHz).
# Build the wrapper IP first (accelerator/build_axi.tcl), then, in the project folder:
#   vivado -mode batch -source accelerator/block_design.tcl
# Result: overlay/{bd}.bit and overlay/{bd}.hwh, loaded by accelerator/spikehls_driver.py on PYNQ.
set prj_dir [file normalize [file join [file dirname [info script]] ..]]
create_project {bd} [file join $prj_dir {bd}] -part {part} -force
{bp}set_property ip_repo_paths [file join $prj_dir {top}_prj solution1 impl ip] [current_project]
update_ip_catalog
create_bd_design "{bd}"

# processing system ({plat['ps']})
{ps}
# AXI DMA, simple mode: MM2S feeds in_stream, out_stream feeds S2MM (32-bit words)
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma axi_dma_0
set_property -dict [list CONFIG.c_include_sg {{0}} CONFIG.c_sg_length_width {{26}} CONFIG.c_sg_include_stscntrl_strm {{0}} CONFIG.c_m_axis_mm2s_tdata_width {{32}} CONFIG.c_mm2s_burst_size {{16}}] [get_bd_cells axi_dma_0]

# the spikehls accelerator ({lay['ip_vlnv']})
create_bd_cell -type ip -vlnv {lay['ip_vlnv']} {top}_0
connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins {top}_0/in_stream]
connect_bd_intf_net [get_bd_intf_pins {top}_0/out_stream] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]

# control (AXI-Lite) from the PS master port; DMA memory ports to the PS high-performance slave port
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Master /{ps_cell}/{ps_master} Clk /{ps_cell}/{clk}] [get_bd_intf_pins {top}_0/s_axi_control]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Master /{ps_cell}/{ps_master} Clk /{ps_cell}/{clk}] [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Slave /{ps_cell}/{ps_slave} Clk /{ps_cell}/{clk}] [get_bd_intf_pins axi_dma_0/M_AXI_MM2S]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Slave /{ps_cell}/{ps_slave} Clk /{ps_cell}/{clk}] [get_bd_intf_pins axi_dma_0/M_AXI_S2MM]
validate_bd_design
save_bd_design

make_wrapper -files [get_files {bd}.bd] -top
add_files -norecurse [file join $prj_dir {bd} {bd}.gen sources_1 bd {bd} hdl {bd}_wrapper.v]
set_property top {bd}_wrapper [current_fileset]
launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1

file mkdir [file join $prj_dir overlay]
file copy -force [file join $prj_dir {bd} {bd}.runs impl_1 {bd}_wrapper.bit] [file join $prj_dir overlay {bd}.bit]
file copy -force [file join $prj_dir {bd} {bd}.gen sources_1 bd {bd} hw_handoff {bd}.hwh] [file join $prj_dir overlay {bd}.hwh]
"""


def _driver_py(lay: dict) -> str:
    top = lay["top"]
    return f'''"""PYNQ driver of the spikehls accelerator {top} (generated by spikehls hls --accelerator).

On the board (PYNQ 2.7+, NumPy):

    from spikehls_driver import SpikehlsAccelerator
    acc = SpikehlsAccelerator("overlay/{top}_overlay.bit")
    readout, classes = acc.predict(x)

``x``: direct encoding: uint8 images [N, C, H, W] (the pixels; the IP repeats them over T);
spike encodings: 0/1 [N, T, C, H, W], the integer reference's input (rate spikes come from
spikehls' ``encode_int`` on the host, or from the exported test vectors). ``readout`` are the
readout integers of the reference, ``classes`` the first index of their maximum.
"""

import numpy as np

LAYOUT = {pprint.pformat(lay, sort_dicts=False)}
{_PACKING}

class SpikehlsAccelerator:
    """The overlay: the IP ``{top}_0`` behind ``axi_dma_0`` (names of accelerator/block_design.tcl)."""

    def __init__(self, bitfile, ip="{top}_0", dma="axi_dma_0", overlay=None):
        if overlay is None:
            from pynq import Overlay

            overlay = Overlay(bitfile)
        self.overlay = overlay
        self.ip = getattr(overlay, ip)
        self.dma = getattr(overlay, dma)

    def predict(self, x):
        from pynq import allocate

        x = np.asarray(x)
        n = len(x)
        words = pack_inputs(x, LAYOUT)
        ibuf = allocate(shape=(words.size,), dtype=np.uint32)
        obuf = allocate(shape=(n * LAYOUT["out_words_per_sample"],), dtype=np.uint32)
        ibuf[:] = words
        self.ip.write(LAYOUT["n_samples_offset"], n)
        self.ip.write(0x00, 1)  # ap_start
        self.dma.recvchannel.transfer(obuf)
        self.dma.sendchannel.transfer(ibuf)
        self.dma.sendchannel.wait()
        self.dma.recvchannel.wait()
        out = unpack_outputs(np.array(obuf), n, LAYOUT)
        ibuf.freebuffer()
        obuf.freebuffer()
        return out
'''


def write_accelerator(prj: Path, meta: dict, part: str, clock_mhz: float, clock_period_ns: float) -> dict:
    """Write ``prj/accelerator/`` (sources, Tcl, driver, layout); return the layout."""
    plat = platform(part)
    lay = layout(meta)
    d = prj / "accelerator"
    d.mkdir(exist_ok=True)
    top = lay["top"]
    (d / f"{top}.h").write_text(_wrapper_h(lay))
    (d / f"{top}.cpp").write_text(_wrapper_cpp(lay))
    (d / f"tb_{top}.cpp").write_text(_testbench_cpp(lay))
    (d / "build_axi.tcl").write_text(_build_tcl(lay, part, clock_period_ns))
    (d / "block_design.tcl").write_text(_block_design_tcl(lay, part, clock_mhz, plat))
    (d / "spikehls_driver.py").write_text(_driver_py(lay))
    (d / "layout.json").write_text(json.dumps(lay, indent=2) + "\n")
    return lay


# ---- C-simulation of the wrapper (g++) -------------------------------------------------------------
def simulate_wrapper(project: str | Path, words: np.ndarray, n: int, capture: bool = False, batch: bool = False):
    """Stream ``words`` (``n`` samples) through the wrapper's g++ testbench; return (data, last[, spikes]).

    ``capture``: one wrapper call per sample, every spiking layer's spikes read back as well;
    ``batch``: one call with ``n_samples = n`` (as the PYNQ driver runs it; TLAST from the wrapper).

    Compiled in a private folder under ``PRJ/spikehls/`` and removed afterwards.
    """
    import tempfile

    from spikehls.hls.csim import CXX, _layers_header, load_meta

    project = Path(project)
    meta = load_meta(project)
    lay_path = project / "accelerator" / "layout.json"
    if not lay_path.is_file():
        raise SpikehlsError(f"{project}: no accelerator wrapper (generate the project with 'spikehls hls --accelerator')")
    lay = json.loads(lay_path.read_text())
    if shutil.which(CXX) is None:
        raise SpikehlsError(f"C++ compiler '{CXX}' not found (install g++ or set CXX)")
    top, net = lay["top"], lay["network_top"]
    work = Path(tempfile.mkdtemp(prefix=".axi-", dir=project / "spikehls"))
    try:
        (work / "spikehls_layers.h").write_text(_layers_header(meta))
        fw = project / "firmware"
        exe = work / "tb"
        cmd = [CXX, "-O2", "-std=c++11", "-w", f"-I{fw}", f"-I{fw / 'ap_types'}", f"-I{project / 'accelerator'}",
               f"-I{work}", f'-DWEIGHTS_DIR="{(fw / "weights").resolve()}"', str(fw / f"{net}.cpp"),
               str(project / "accelerator" / f"{top}.cpp"), str(project / "accelerator" / f"tb_{top}.cpp"), "-o", str(exe)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SpikehlsError(f"g++ failed compiling the accelerator wrapper of {project}: "
                                f"{next((ln for ln in p.stderr.splitlines() if 'error' in ln), p.stderr[:300])}")
        fin, fout, fsp = work / "in.bin", work / "out.bin", work / "spikes.bin"
        with open(fin, "wb") as fh:
            np.array([n], dtype="<i4").tofile(fh)
            np.asarray(words, dtype="<u4").tofile(fh)
        args = [str(exe), str(fin), str(fout)] + ([str(fsp)] if capture else (["--batch"] if batch else []))
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode != 0:
            raise SpikehlsError(f"accelerator testbench failed: {p.stderr.strip() or p.returncode}")
        rec = np.fromfile(fout, dtype="<u4").reshape(-1, 2)
        out = [rec[:, 0].astype(np.uint32), rec[:, 1].astype(np.uint8)]
        if capture:
            spiking = [lyr for lyr in meta["layers"] if lyr["spiking"]]
            fields = [(f"s{i}", np.uint8, ((lyr["output_size"] + 7) // 8,)) for i, lyr in enumerate(spiking)]
            raw = np.fromfile(fsp, dtype=np.dtype(fields))
            t = int(meta["time_steps"])
            out.append({lyr["name"]: np.unpackbits(raw[f"s{i}"], axis=1)[:, : lyr["output_size"]].reshape(
                [n, t] + list(lyr["out_shape"])) for i, lyr in enumerate(spiking)})
        return tuple(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
