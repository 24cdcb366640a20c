"""From the IP to a board (issue 14 item 2): the AXI4-Stream + AXI-Lite wrapper, the block-design
Tcl per board, the PYNQ driver's byte layout, configurable project name and namespace.
No Vivado here: the Tcl is checked by content; the wrapper is C-simulated with g++ (slow tests)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.boards import load_board  # noqa: E402
from spikehls.cli import main  # noqa: E402
from spikehls.errors import SpikehlsError  # noqa: E402
from spikehls.hls import accelerator as acc  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402
from spikehls.quantize import reference as ref  # noqa: E402


def _make(tmp: Path, encoding: str, board: str = "pynq-z2", name: str = "myproject", ns=None, n: int = 5):
    net = handmade_net(reset="subtract", encoding=encoding)
    x = handmade_inputs(net, n)
    run = write_run(net, tmp / f"run_{encoding}_{name}", x)
    prj = tmp / f"prj_{encoding}_{name}"
    generate_project(run / "model.qonnx.onnx", board, prj, testvectors=run / "testvectors.npz",
                     project_name=name, namespace=ns, accelerator=True)
    return net, x, prj


def _driver(prj: Path):
    spec = importlib.util.spec_from_file_location(f"drv_{prj.name}", prj / "accelerator" / "spikehls_driver.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # no pynq needed to import it: pynq is imported when the overlay is used
    return mod


@pytest.fixture(scope="module")
def direct_prj(tmp_path_factory):
    return _make(tmp_path_factory.mktemp("acc"), "direct", name="snn_a", ns="snn_a_ns")


# ---- fast -----------------------------------------------------------------------------------------
def test_accelerator_files_and_layout(direct_prj):
    net, x, prj = direct_prj
    d = prj / "accelerator"
    for f in ("snn_a_axi.h", "snn_a_axi.cpp", "tb_snn_a_axi.cpp", "build_axi.tcl", "block_design.tcl",
              "spikehls_driver.py", "layout.json"):
        assert (d / f).is_file(), f
    lay = json.loads((d / "layout.json").read_text())
    assert lay["input_kind"] == "pixels" and lay["frame"] == 2 * 8 * 8 and lay["in_words_per_sample"] == 32
    assert lay["out_words_per_sample"] == 3 + 1 and lay["ip_vlnv"] == "spikehls:hls:snn_a_axi:1.0"
    cpp = (d / "snn_a_axi.cpp").read_text()
    assert "#pragma HLS INTERFACE axis port=in_stream" in cpp and "#pragma HLS INTERFACE axis port=out_stream" in cpp
    assert "s_axilite port=n_samples bundle=control" in cpp and "s_axilite port=return bundle=control" in cpp
    assert "using namespace snn_a_ns;" in cpp and "snn_a(x, y);" in cpp
    assert json.loads((prj / "spikehls.json").read_text())["accelerator"] == "snn_a_axi"
    tcl = (d / "build_axi.tcl").read_text()
    assert "set_top snn_a_axi" in tcl and "set_part {xc7z020clg400-1}" in tcl and "export_design -format ip_catalog" in tcl


@pytest.mark.parametrize("board,part,board_part,ps", [
    ("pynq-z2", "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0", "processing_system7"),
    ("zcu104", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu104:part0:1.1", "zynq_ultra_ps_e"),
    ("kv260", "xck26-sfvc784-2LV-c", "xilinx.com:kv260_som:part0:1.4", "zynq_ultra_ps_e"),
])
def test_block_design_names_the_boards_part(direct_prj, tmp_path, board, part, board_part, ps):
    _, _, prj = direct_prj
    brd = load_board(board)
    assert brd.part == part
    meta = json.loads((prj / "spikehls.json").read_text())
    acc.write_accelerator(tmp_path, meta, brd.part, brd.clock_mhz, brd.clock_period_ns)
    tcl = (tmp_path / "accelerator" / "block_design.tcl").read_text()
    assert f"-part {part}" in tcl and f"set_property board_part {board_part}" in tcl
    assert f"xilinx.com:ip:{ps}" in tcl and "xilinx.com:ip:axi_dma" in tcl
    assert "create_bd_cell -type ip -vlnv spikehls:hls:snn_a_axi:1.0 snn_a_axi_0" in tcl
    assert "axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins snn_a_axi_0/in_stream]" in tcl
    assert "snn_a_axi_0/out_stream] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]" in tcl
    assert "write_bitstream" in tcl and ".hwh" in tcl


def test_parts_without_a_processing_system_are_one_error_line(tmp_path, capsys):
    net = handmade_net()
    run = write_run(net, tmp_path / "run", handmade_inputs(net, 2))
    for board in ("arty-a7-100t", "alveo-u250"):
        rc = main(["hls", "--run", str(run), "--board", board, "--out", str(tmp_path / board), "--accelerator"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and "no processing system" in err[0] and not (tmp_path / board).exists()
    rc = main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(tmp_path / "p"), "--project-name", "3x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--project-name" in err[0] and not (tmp_path / "p").exists()
    with pytest.raises(SpikehlsError, match="namespace"):
        generate_project(run / "model.qonnx.onnx", "pynq-z2", tmp_path / "q", namespace="class")


def test_driver_packing_byte_layout(direct_prj):
    _, _, prj = direct_prj
    drv = _driver(prj)
    lay = drv.LAYOUT
    px = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(1, 2, 8, 8)
    w = drv.pack_inputs(px, lay)
    assert w.dtype == np.uint32 and len(w) == 32 and w[0] == 0x03020100 and w[1] == 0x07060504  # pixel i: byte i%4 of word i//4
    np.testing.assert_array_equal(w, acc.pack_inputs(px, lay))
    sp_lay = {**lay, "input_kind": "spikes", "elements_per_sample": 40, "elements_per_word": 32, "in_words_per_sample": 2}
    s = np.zeros((1, 40), np.uint8)
    s[0, [0, 5, 31, 33]] = 1
    assert drv.pack_inputs(s, sp_lay).tolist() == [(1 << 0) | (1 << 5) | (1 << 31), 1 << 1]  # spike i: bit i%32 of word i//32
    out = np.array([5, 0xFFFFFFFE, 7, 2, 1, 2, 3, 0], dtype=np.uint32)  # two samples: K=3 readouts + class
    ro, cl = drv.unpack_outputs(out, 2, lay)
    assert ro.tolist() == [[5, -2, 7], [1, 2, 3]] and cl.tolist() == [2, 0]


# ---- slow: the wrapper C-simulated with g++ --------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_wrapper_streams_spike_exact_and_driver_round_trip(encoding, direct_prj, tmp_path):
    net, x, prj = direct_prj if encoding == "direct" else _make(tmp_path, "rate", board="kv260", name="snn_b")
    drv = _driver(prj)
    want = ref.run(net, x)
    words = drv.pack_inputs(x[:, 0] if encoding == "direct" else x, drv.LAYOUT)  # pixels once, or spikes
    data, last, spikes = acc.simulate_wrapper(prj, words, len(x), capture=True)
    readout, classes = drv.unpack_outputs(data, len(x), drv.LAYOUT)
    np.testing.assert_array_equal(readout, want.readout)
    np.testing.assert_array_equal(classes, want.prediction)
    assert last.tolist() == [0] * (len(data) - 1) + [1]
    meta = json.loads((prj / "spikehls.json").read_text())
    for lyr in meta["layers"]:
        if lyr["spiking"]:  # every layer's spikes, captured behind the streams
            np.testing.assert_array_equal(spikes[lyr["name"]], want.spikes[lyr["source_name"]].reshape(spikes[lyr["name"]].shape))
    # the whole batch in one call (n_samples = N), as the driver runs it on the board
    data_b, last_b = acc.simulate_wrapper(prj, words, len(x), batch=True)
    np.testing.assert_array_equal(data_b, data)
    assert last_b.tolist() == [0] * (len(data_b) - 1) + [1]


@pytest.mark.slow
def test_named_project_in_a_namespace_csims_exactly(direct_prj):
    from spikehls.hls.csim import csim

    _, _, prj = direct_prj
    assert (prj / "firmware" / "snn_a.cpp").is_file() and "namespace snn_a_ns" in (prj / "firmware" / "snn_a.h").read_text()
    r = csim(prj)
    assert r["exact"] and r["samples"] == 5
