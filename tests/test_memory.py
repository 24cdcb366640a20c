"""The memory rule (hls/memory.py): styles by width, depth and fill; primitive counts as yosys maps
them (measured: benchmarks/results/memory_primitives.json); the twin and the estimate agree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from spikehls.hls.memory import (  # noqa: E402
    BRAM18_BITS,
    MIN_FILL,
    URAM_BITS,
    bram18_count,
    has_uram,
    memory_plan,
    uram_count,
)

MEASURED = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "memory_primitives.json"


def test_primitive_counts_equal_yosys_on_the_measured_shapes():
    rows = json.loads(MEASURED.read_text())["rows"]
    assert len(rows) >= 30
    for r in rows:
        model = (uram_count(r["width"], r["depth"]) if r["style"] == "ultra"
                 else bram18_count(r["width"], r["depth"], r.get("read_ports", 1), r.get("rom", False)))
        assert model == r["yosys"], r


def test_counts_by_hand():
    assert bram18_count(36, 512) == 1 and bram18_count(72, 512) == 2 and bram18_count(1, 16384) == 1
    assert bram18_count(180, 112) == 5  # five 36 x 512 RAMB18 side by side
    assert bram18_count(15, 2048) == 2  # one RAMB36 in 18 x 2048
    # yosys packs the address blocks of a narrow word side by side: 19 x 2448 is five 512-word
    # blocks of 27 (byte-padded) bits in two 72 x 512 RAMB36, not five 36 x 512 RAMB18
    assert bram18_count(19, 2448) == 4 and bram18_count(25, 2448) == 4 and bram18_count(19, 3000) == 5
    # a ROM has no write bytes to pad to; two reads share a true-dual-port primitive, three need two copies
    assert bram18_count(64, 1500, 1, rom=True) == 6 and bram18_count(64, 1500, 2, rom=True) == 8
    assert bram18_count(64, 1500, 3, rom=True) == 16


def test_distributed_ram_cells_as_yosys_maps_them():
    """memory.lutram_map: yosys's choice among RAM32M / RAM64M / RAM64X1D / RAM128X1D, as read off the
    cells of the calibration twins (benchmarks/results/calibration_data.json)."""
    from spikehls.hls.memory import lutram_map

    assert lutram_map(112, 11)[0] == 19  # RAM32M, 6 bits each
    assert lutram_map(1, 88)[0] == 1  # one RAM128X1D
    assert lutram_map(1, 144)[0] == 3  # three RAM64M, not two RAM128X1D
    assert lutram_map(40, 90)[0] == 21  # 3 x 7 RAM32M beats 2 x 14 RAM64M
    assert lutram_map(38, 216)[0] == 52  # ... but 4 x 13 RAM64M beat 7 x 7 RAM32M (fewer mux bits)
    assert lutram_map(1, 450, 2)[0] == 16  # two read ports: two copies
    assert lutram_map(14, 3, 2)[0] == 6
    assert uram_count(72, 4096) == 1 and uram_count(73, 4096) == 2 and uram_count(1, 16384) == 1


def test_ultrascale_distributed_ram_cells():
    """memory.lutram_map on UltraScale (yosys's lutrams_xcu.txt): 8-LUT cells, RAM32M16 (32 x 14) and
    RAM64M8 (64 x 7) for one write and one read port.
    The counts are those of the wide ZCU104 calibration twins (tests/test_calibration_data.py)."""
    from spikehls.hls.memory import is_ultrascale, lutram_cell_luts, lutram_map

    assert is_ultrascale("xczu7ev-ffvc1156-2-e") and is_ultrascale("xck26-sfvc784-2LV-c") and not is_ultrascale("xc7z020clg400-1")
    assert lutram_cell_luts(True) == 8 and lutram_cell_luts(False) == 4
    assert lutram_map(14, 32, 1, True)[0] == 1 and lutram_map(15, 32, 1, True)[0] == 2  # one RAM32M16 holds 14 bits
    assert lutram_map(7, 64, 1, True)[0] == 1 and lutram_map(16, 528, 1, True)[0] == 27  # RAM64M8: 9 blocks x 3
    assert lutram_map(16, 528, 1, False)[0] == 54  # the same array on 7-series: RAM64M, 3 bits a cell


def test_rule_styles():
    assert memory_plan(40, 2, rom=False).style == "registers"
    assert memory_plan(40, 2, rom=True, sync_read=False).style == "distributed"  # ROMs are never registers
    assert memory_plan(16, 10816, rom=False, sync_read=False).style == "distributed"  # a scan reads it in the cycle
    assert memory_plan(16, 10816, rom=False).style == "block"
    assert memory_plan(180, 112, rom=False).style == "distributed"  # 20 kbit in five 18 kbit RAMs: under half full
    assert memory_plan(72, 4096, rom=False).style == "block"
    assert memory_plan(72, 4096, rom=False, ultra=True).style == "ultra"
    assert memory_plan(16, 1024, rom=False, ultra=True).style == "block"  # far under half a URAM


@pytest.mark.parametrize("seed", range(20))
def test_block_and_ultra_are_at_least_half_full(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        w, d = int(rng.integers(1, 300)), int(rng.integers(1, 40000))
        for ultra in (False, True):
            m = memory_plan(w, d, rom=False, banks=int(rng.integers(1, 5)), ultra=ultra)
            assert m.bits_allocated >= m.bits_stored
            if m.style == "block":
                assert m.bits_stored >= MIN_FILL * m.bram18 * BRAM18_BITS and m.uram == 0
            elif m.style == "ultra":
                assert ultra and m.bits_stored >= MIN_FILL * m.uram * URAM_BITS and m.bram18 == 0
            else:
                assert m.bram18 == m.uram == 0


def test_parts_with_uram():
    for p in ("xczu7ev-ffvc1156-2-e", "xck26-sfvc784-2LV-c", "xcvu9p-flga2104-2L-e", "xcku5p-ffvb676-2-e"):
        assert has_uram(p), p
    for p in ("xc7z020clg400-1", "xc7a100tcsg324-1", "xcku040-ffva1156-2-e", "", None):
        assert not has_uram(p), p


def test_twin_declares_what_the_rule_and_the_estimate_say(tmp_path):
    """Every accumulator / membrane memory of the generated Verilog carries the style the estimate's
    detail names, and the estimate's BRAM18 is the sum of the rule's primitives."""
    import re

    from _hls_nets import write_run

    from spikehls.boards import load_board
    from spikehls.hls.estimate import estimate
    from spikehls.hls.project import generate_project
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.quantize.random_net import random_inputs, random_intnet

    rng = np.random.default_rng(48)
    net = random_intnet(rng, max_channels=16, max_hw=24, max_convs=2, max_time_steps=3)
    x = random_inputs(rng, net, 2)
    run = write_run(net, tmp_path / "run", x)
    generate_project(run / "model.qonnx.onnx", "pynq-z2", tmp_path / "prj", testvectors=run / "testvectors.npz", parallelism=1)
    layout = generate_rtl(tmp_path / "prj")
    e = estimate(net, load_board("pynq-z2"), 1)
    assert e.total["BRAM18"] > 0
    for lyr, le in zip(layout["layers"], e.per_layer):
        text = (tmp_path / "prj" / "rtl" / f"{lyr['module']}.v").read_text()
        for arr, var in (("acc", r"acc_mem_\d+"), ("membranes", r"v_mem")):
            m = le.detail.get("memories", {}).get(arr)
            found = re.findall(rf'ram_style = "(\w+)" \*\) reg \[(\d+)-1:0\] {var} \[0:(\d+)-1\]', text)
            if m is None:
                assert not found, (le.name, arr)
                continue
            assert len(found) == m["banks"], (le.name, arr, found)
            assert {(s, int(w), int(d)) for s, w, d in found} == {(m["style"], m["width"], m["depth"])}, (le.name, arr)
        assert le.BRAM18 == sum(m["BRAM18"] for m in le.detail["memories"].values())
