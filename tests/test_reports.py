"""Vitis/Vivado report parsing (hls/reports.py) and the report stage (hls/report_run.py, CLI).

The fixtures in tests/fixtures/reports/ are written in the exact schema of the tools' output
(see their README): a Vitis 2023.1 project with per-module csynth files and the instance tree,
a Vivado HLS 2020.1 project (DSP48E tag, no tree), Vivado utilization reports for 7-series and
UltraScale+, and broken files.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from spikehls.boards import load_board
from spikehls.hls.estimate import latency_per_sample
from spikehls.cli import main
from spikehls.errors import SpikehlsError
from spikehls.hls import reports
from spikehls.hls.estimate import estimate
from spikehls.hls.report_run import build_report, format_table, layer_shares, over_budget, run_report
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, SpikingConv2d

FIX = Path(__file__).parent / "fixtures" / "reports"
VITIS = FIX / "vitis_prj"
VIVADO_HLS = FIX / "vivado_hls_prj"
LAYER_KEYS = {"conv1": ["config2"], "pool1": ["config3"], "conv2": ["config4"], "pool2": ["config5"], "fc": ["config6"]}


# ---- csynth XML ----------------------------------------------------------------------------------


def test_parse_top_csynth_vitis():
    rep = reports.read_csynth(VITIS)
    assert rep is not None and rep.source == "csynth"
    top = rep.top
    assert top.module == "myproject" and top.version == "2023.1" and top.part == "xc7z020-clg400-1"
    assert top.resources == {"LUT": 7184, "FF": 3723, "BRAM18": 49, "URAM": 0, "DSP": 0}
    assert top.available == {"BRAM18": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": 0}
    # event loops have data-dependent trip counts: Vitis writes 'undef', which is "unknown", not 0
    assert top.latency_worst is None and top.latency_best is None and top.interval_max is None
    assert top.target_clock_ns == 10.0 and top.estimated_clock_ns == pytest.approx(7.281)
    assert len(rep.modules) == 9 and "myproject" not in rep.modules


def test_parse_vivado_hls_dsp48e_and_numeric_latency():
    rep = reports.read_csynth(VIVADO_HLS)
    assert rep is not None
    t = rep.top
    assert t.module == "snn" and t.version == "2020.1"
    assert t.resources == {"LUT": 2871, "FF": 1544, "BRAM18": 3, "URAM": 0, "DSP": 0}
    assert (t.latency_best, t.latency_avg, t.latency_worst, t.interval_min, t.interval_max) == (2105, 9874, 20417, 20418, 20418)
    assert t.available["DSP"] == 240  # DSP48E read as DSP
    assert rep.hierarchy == {}  # Vivado HLS wrote no instance tree


def test_our_reading_agrees_with_hls4ml():
    from hls4ml.report import parse_vivado_report

    for prj in (VITIS, VIVADO_HLS):
        theirs = parse_vivado_report(str(prj))["CSynthesisReport"]
        ours = reports.read_csynth(prj).top
        for tag, key in (("LUT", "LUT"), ("FF", "FF"), ("BRAM_18K", "BRAM18"), ("DSP", "DSP"), ("URAM", "URAM")):
            assert int(theirs[tag]) == ours.resources[key]
        w = theirs["WorstLatency"]
        assert (None if w == "undef" else int(w)) == ours.latency_worst


def test_per_layer_modules_with_instance_tree():
    rep = reports.read_csynth(VITIS)
    assert rep.hierarchy  # from csynth.xml's <RTLDesignHierarchy>
    m = reports.match_layer_modules(rep.modules, LAYER_KEYS, rep.hierarchy)
    names = {k: [x.module for x in v] for k, v in m.items()}
    # outermost module per layer: the conv2 wrapper, not its core or the outlined pipelines
    assert names == {
        "conv1": ["direct_conv2d_ap_ufixed_8_0_5_3_0_ap_uint_1_config2_s"],
        "pool1": ["spike_maxpool2d_ap_uint_1_ap_uint_1_config3_s"],
        "conv2": ["spiking_conv2d_ap_uint_1_ap_uint_1_config4_s"],
        "pool2": ["spike_maxpool2d_ap_uint_1_ap_uint_1_config5_s"],
        "fc": ["spike_readout_ap_uint_1_ap_int_13_config6_s"],
    }
    assert m["conv1"][0].resources == {"LUT": 3512, "FF": 1903, "BRAM18": 26, "URAM": 0, "DSP": 0}
    assert m["pool1"][0].latency_worst == 5411 and m["conv2"][0].latency_worst is None
    # the same answer without the tree (largest match = the parent)
    m2 = reports.match_layer_modules(rep.modules, LAYER_KEYS, {})
    assert {k: [x.module for x in v] for k, v in m2.items()} == names
    # whole-token matching: config2 must not pick up a config21 module
    fake = dict(rep.modules)
    fake["spike_readout_ap_uint_1_ap_int_9_config21_s"] = rep.modules["spike_readout_ap_uint_1_ap_int_13_config6_s"]
    assert [x.module for x in reports.match_layer_modules(fake, {"conv1": ["config2"]}, {})["conv1"]] == names["conv1"]
    # a layer with no module gets an empty list (the caller then keeps the estimate)
    assert reports.match_layer_modules(rep.modules, {"x": ["config9"]}, rep.hierarchy) == {"x": []}


def test_other_layout_without_solution_file(tmp_path):
    # a report folder outside hls4ml's <top>_prj/<solution> layout (e.g. the unified Vitis flow)
    src = VITIS / "myproject_prj" / "solution1" / "syn" / "report"
    shutil.copytree(src, tmp_path / "myproject" / "hls" / "syn" / "report")
    (tmp_path / "project.tcl").write_text((VITIS / "project.tcl").read_text())
    rep = reports.read_csynth(tmp_path)
    assert rep is not None and rep.top.resources["LUT"] == 7184 and len(rep.modules) == 9


def test_no_synthesis_run_is_none(tmp_path):
    (tmp_path / "project.tcl").write_text('set project_name "myproject"\n')
    assert reports.read_csynth(tmp_path) is None
    assert reports.read_vivado_synth(tmp_path) is None


def test_malformed_module_report_names_the_file():
    bad = FIX / "malformed_prj"
    with pytest.raises(SpikehlsError, match=r"spike_readout_ap_uint_1_ap_int_13_config6_s_csynth\.xml: malformed csynth XML"):
        reports.read_csynth(bad)


def test_missing_fields_and_files_name_the_file(tmp_path):
    with pytest.raises(SpikehlsError, match=r"no_lut_csynth\.xml: malformed csynth report: <Resources> lacks LUT"):
        reports.parse_csynth_xml(FIX / "no_lut_csynth.xml")
    with pytest.raises(SpikehlsError, match=r"nothere_csynth\.xml: csynth report not found"):
        reports.parse_csynth_xml(tmp_path / "nothere_csynth.xml")
    other = tmp_path / "x_csynth.xml"
    other.write_text("<project><a/></project>")
    with pytest.raises(SpikehlsError, match=r"x_csynth\.xml: not a csynth report"):
        reports.parse_csynth_xml(other)
    text = (VITIS / "myproject_prj/solution1/syn/report/myproject_csynth.xml").read_text()
    nolat = tmp_path / "nolat_csynth.xml"
    nolat.write_text(text.replace("<Worst-caseLatency>undef</Worst-caseLatency>", "<Worst-caseLatency>many</Worst-caseLatency>"))
    with pytest.raises(SpikehlsError, match=r"nolat_csynth\.xml: <Worst-caseLatency> is 'many'"):
        reports.parse_csynth_xml(nolat)


# ---- Vivado utilization ------------------------------------------------------------------------------


def test_vivado_utilization_7series():
    u = reports.read_vivado_synth(VITIS)
    # Block RAM Tile 21.5 = 12 RAMB36 + 19 RAMB18 -> 43 RAMB18 (hls4ml reports the tile count as BRAM_18K)
    assert u == {"LUT": 4127, "FF": 2960, "BRAM18": 43, "URAM": 0, "DSP": 0}


def test_vivado_utilization_ultrascale_sections_differ():
    u = reports.parse_vivado_utilization(FIX / "vivado_synth_ultrascale.rpt")
    assert u == {"LUT": 11873, "FF": 8311, "BRAM18": 16 + 2 * 30, "URAM": 4, "DSP": 16}


def test_vivado_utilization_errors(tmp_path):
    f = tmp_path / "vivado_synth.rpt"
    f.write_text("Utilization Design Information\n\n| Site Type | Used |\n| DSPs | 3 |\n")
    with pytest.raises(SpikehlsError, match=r"vivado_synth\.rpt: malformed utilization report: no LUT or FF row"):
        reports.read_vivado_synth(tmp_path)
    f.write_text("| Slice LUTs* | lots | 0 |\n")
    with pytest.raises(SpikehlsError, match=r"vivado_synth\.rpt: row 'Slice LUTs' has used count 'lots'"):
        reports.parse_vivado_utilization(f)
    with pytest.raises(SpikehlsError, match="not found"):
        reports.parse_vivado_utilization(tmp_path / "none.rpt")


# ---- the report stage on a project -----------------------------------------------------------------


def small_net() -> IntNet:
    """Direct-encoded 12x12 -> conv1(4) -> pool -> conv2(6) -> pool -> readout 10 (names match the fixtures)."""
    rng = np.random.default_rng(3)

    def w(*s):
        a = rng.integers(-7, 8, size=s)
        a[rng.random(s) < 0.4] = 0
        return a

    return IntNet(
        (1, 12, 12),
        2,
        "direct",
        [
            SpikingConv2d("conv1", w(4, 1, 3, 3), np.zeros(4, np.int64), Neuron(np.full(4, 300)), w_bits=4, in_scale=2.0**-8),
            MaxPool2d("pool1"),
            SpikingConv2d("conv2", w(6, 4, 3, 3), np.zeros(6, np.int64), Neuron(np.full(6, 4)), w_bits=4),
            MaxPool2d("pool2"),
            Readout("fc", w(10, 6), np.zeros(10, np.int64), w_bits=4),
        ],
    )


def clean_onnx(net: IntNet) -> onnx.ModelProto:
    """The 'clean' graph spikehls.hls.transforms writes (integer attributes), for a fabricated project."""
    shapes = net.shapes()
    T = net.time_steps
    nodes, infos, prev = [], [], "spikes_in"
    ops = {SpikingConv2d: "SpikingConv2d", MaxPool2d: "SpikeMaxPool2d", Readout: "Readout"}
    for lyr in net.layers:
        a: dict = {}
        op = ops[type(lyr)]
        if op == "SpikeMaxPool2d":
            a.update(kernel_shape=[lyr.kernel] * 2, strides=[lyr.stride] * 2)
        else:
            a.update(
                weight_int=lyr.weight.reshape(-1).tolist(),
                weight_shape=list(lyr.weight.shape),
                bias_int=lyr.bias.tolist(),
                w_bits=lyr.w_bits,
                in_scale=float(lyr.in_scale),
                acc_scale=(lyr.w_scale * lyr.in_scale).tolist(),
            )
        if op == "SpikingConv2d":
            n = lyr.neuron
            a.update(kernel_shape=list(lyr.weight.shape[2:]), strides=[lyr.stride] * 2, pads=[lyr.padding] * 4,
                     threshold=n.threshold.tolist(), leak_shift=n.leak_shift, reset=n.reset, v_bits=n.v_bits)
        out = lyr.name + "_out"
        nodes.append(helper.make_node(op, [prev], [out], name=lyr.name, domain="spikehls.quantize.qonnx_ops", **a))
        shape = [1, shapes[lyr.name][0]] if op == "Readout" else [1, T, *shapes[lyr.name]]
        infos.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, shape))
        prev = out
    x = helper.make_tensor_value_info("spikes_in", TensorProto.FLOAT, [1, T, *net.input_shape])
    return helper.make_model(helper.make_graph(nodes, "fabricated", [x], [infos[-1]], value_info=infos[:-1]))


def fabricate_project(prj: Path, net: IntNet, board: str = "pynq-z2", parallelism: int = 4) -> Path:
    """A project folder as spikehls.hls.project writes it, minus the hls4ml firmware we do not read."""
    (prj / "spikehls").mkdir(parents=True)
    onnx.save(clean_onnx(net), str(prj / "spikehls" / "clean.onnx"))
    layers = [
        {"name": lyr.name, "class": type(lyr).__name__, "index": i + 2, "parallelism": parallelism}
        for i, lyr in enumerate(net.layers)
    ]
    meta = {
        "format": "spikehls.hlsproject/1",
        "project_name": "myproject",
        "input_kind": "pixels" if net.encoding == "direct" else "spikes",
        "time_steps": net.time_steps,
        "board": {"name": "PYNQ-Z2", "source": f"{board}.yaml", "clock_mhz": 100.0},
        "layers": layers,
    }
    (prj / "spikehls.json").write_text(json.dumps(meta))
    return prj


def tight_board(tmp_path: Path, lut: int, latency_us: float | None = None) -> Path:
    f = tmp_path / "tight.yaml"
    lines = [
        "name: Tight",
        "part: xc7z020clg400-1",
        "clock_mhz: 100",
        f"resources: {{LUT: {lut}, FF: 100000, BRAM18: 100, URAM: 0, DSP: 10}}",
        "budget: {LUT: 0.5, FF: 0.5, BRAM18: 0.5, URAM: 0.5, DSP: 0.5}",
    ]
    if latency_us is not None:
        lines += ["hls:", f"  max_latency_us: {latency_us}"]
    f.write_text("\n".join(lines) + "\n")
    return f


def test_report_from_estimate(tmp_path):
    net = small_net()
    prj = fabricate_project(tmp_path / "prj", net)
    r = build_report(prj)
    assert r["source"] == "estimate" and r["sources"] == {"total": "estimate", "per_layer": "estimate", "latency": "estimate"}
    e = estimate(net, load_board("pynq-z2"), 4)
    assert r["total"] == e.total
    assert r["latency"]["cycles"]["worst"] == e.cycles_worst
    assert r["latency"]["us"]["worst"] == pytest.approx(e.cycles_worst / 100)
    assert [row["name"] for row in r["per_layer"]] == ["conv1", "pool1", "conv2", "pool2", "fc"]
    assert all(row["source"] == "estimate" for row in r["per_layer"])
    assert r["utilization"]["of_board"]["LUT"] == pytest.approx(e.total["LUT"] / 53200)
    assert r["utilization"]["of_budget"]["LUT"] == pytest.approx(e.total["LUT"] / (53200 * 0.8))
    assert r["fits"] is True and r["over_budget"] == {}
    assert r["latency"]["cycles"]["activity"] is None  # no csim.json


def test_estimate_report_without_a_project(tmp_path):
    from spikehls.hls.report_run import estimate_report

    net = small_net()
    prj = fabricate_project(tmp_path / "prj", net)
    a, b = build_report(prj), estimate_report(net, "pynq-z2", 4)
    for k in ("source", "sources", "total", "latency", "utilization", "fits", "over_budget", "layer_shares"):
        assert b[k] == a[k], k
    strip = lambda rows: [{k: v for k, v in r.items() if k != "hls_index"} for r in rows]  # noqa: E731
    assert strip(b["per_layer"]) == strip(a["per_layer"])
    used = b["total"]["LUT"]
    tight = estimate_report(net, tight_board(tmp_path, lut=used), 4)
    assert tight["fits"] is False and tight["over_budget"]["LUT"] == pytest.approx(1.0)
    assert "NO" in format_table({**tight, "project": "(model)"})


def test_parsed_reports_override_and_say_so(tmp_path):
    prj = fabricate_project(tmp_path / "prj", small_net())
    shutil.copytree(VITIS / "myproject_prj", prj / "myproject_prj")
    shutil.copy(VITIS / "project.tcl", prj / "project.tcl")
    r = build_report(prj)
    assert r["source"] == "csynth" and r["total"] == {"LUT": 7184, "FF": 3723, "BRAM18": 49, "URAM": 0, "DSP": 0}
    assert r["sources"]["per_layer"] == "csynth"
    conv1 = r["per_layer"][0]
    assert (conv1["LUT"], conv1["FF"], conv1["BRAM18"], conv1["source"]) == (3512, 1903, 26, "csynth")
    assert conv1["modules"] == ["direct_conv2d_ap_ufixed_8_0_5_3_0_ap_uint_1_config2_s"]
    assert r["per_layer"][1]["csynth_latency_worst"] == 5411
    # Vitis could not bound the latency: it stays the model's, and says so
    assert r["sources"]["latency"] == "estimate" and r["latency"]["source"] == "estimate"
    assert any("could not bound the latency" in n for n in r["notes"])
    # the model's figures are still there, labelled
    assert r["estimate"]["source"] == "estimate" and r["estimate"]["total"] != r["total"]
    # post-synthesis utilization wins for the totals; per layer stays csynth (and says so)
    shutil.copy(VITIS / "vivado_synth.rpt", prj / "vivado_synth.rpt")
    r2 = build_report(prj)
    assert r2["source"] == "vivado_synth" and r2["total"] == {"LUT": 4127, "FF": 2960, "BRAM18": 43, "URAM": 0, "DSP": 0}
    assert r2["sources"] == {"total": "vivado_synth", "per_layer": "csynth", "latency": "estimate"}


def test_numeric_csynth_latency_is_used(tmp_path):
    prj = fabricate_project(tmp_path / "prj", small_net())
    shutil.copytree(VITIS / "myproject_prj", prj / "myproject_prj")
    f = prj / "myproject_prj/solution1/syn/report/myproject_csynth.xml"
    f.write_text(f.read_text().replace("<Worst-caseLatency>undef</Worst-caseLatency>", "<Worst-caseLatency>123456</Worst-caseLatency>"))
    r = build_report(prj)
    assert r["latency"]["source"] == "csynth" and r["latency"]["cycles"]["worst"] == 123456
    assert r["latency"]["us"]["worst"] == pytest.approx(1234.56)


def test_unmatched_layer_keeps_estimate_per_layer(tmp_path):
    prj = fabricate_project(tmp_path / "prj", small_net())
    shutil.copytree(VITIS / "myproject_prj", prj / "myproject_prj")
    (prj / "myproject_prj/solution1/syn/report/spike_readout_ap_uint_1_ap_int_13_config6_s_csynth.xml").unlink()
    r = build_report(prj)
    assert r["source"] == "csynth" and r["sources"]["per_layer"] == "estimate"
    assert all(row["source"] == "estimate" for row in r["per_layer"])  # never a mix within per_layer
    assert any("fc" in n for n in r["notes"])


def test_malformed_report_in_project_is_an_error(tmp_path):
    prj = fabricate_project(tmp_path / "prj", small_net())
    shutil.copytree(FIX / "malformed_prj" / "myproject_prj", prj / "myproject_prj")
    with pytest.raises(SpikehlsError, match=r"config6_s_csynth\.xml: malformed csynth XML"):
        build_report(prj)


def test_fits_and_over_budget_with_a_tight_board(tmp_path):
    net = small_net()
    prj = fabricate_project(tmp_path / "prj", net)
    used = estimate(net, load_board("pynq-z2"), 4).total["LUT"]
    board = tight_board(tmp_path, lut=used)  # budget 50%: allowed = used / 2
    r = build_report(prj, board)
    assert r["fits"] is False and r["fits_detail"]["LUT"] is False and r["fits_detail"]["FF"] is True
    assert r["over_budget"]["LUT"] == pytest.approx(used / (used * 0.5) - 1)
    assert over_budget(r, load_board(board)) == {"LUT": pytest.approx(1.0)}
    assert r["fits_detail"]["latency"] is None  # no bound on this board
    roomy = tight_board(tmp_path, lut=4 * used)
    r2 = build_report(prj, roomy)
    assert r2["fits"] is True and over_budget(r2, load_board(roomy)) == {}
    # a latency bound below the design's latency: over budget on 'latency' only
    us = r2["latency"]["us"]["worst"]
    slow = tight_board(tmp_path, lut=4 * used, latency_us=us / 2)
    r3 = build_report(prj, slow)
    assert r3["fits"] is False and r3["fits_detail"]["latency"] is False
    assert r3["over_budget"] == {"latency": pytest.approx(1.0)}
    assert r3["latency"]["bound_checked"] == "worst"


def test_resource_the_board_lacks(tmp_path):
    prj = fabricate_project(tmp_path / "prj", small_net())
    r = build_report(prj)
    r["total"]["URAM"] = 2  # e.g. a csynth report that bound URAM on a part without any
    b = load_board("pynq-z2")
    assert over_budget(r, b) == {"URAM": math.inf}


def test_layer_shares_sum_to_one(tmp_path):
    prj = fabricate_project(tmp_path / "prj", small_net())
    shares = layer_shares(build_report(prj))
    assert set(shares) == {"conv1", "pool1", "conv2", "pool2", "fc"}
    for k in ("LUT", "FF", "cycles"):
        assert sum(s[k] for s in shares.values()) == pytest.approx(1.0)
    # no layer uses block RAM (memory_style: distributed) or a DSP: all shares 0
    assert all(s["DSP"] == 0.0 and s["BRAM18"] == 0.0 for s in shares.values())


def test_csim_events_give_activity_latency(tmp_path):
    net = small_net()
    prj = fabricate_project(tmp_path / "prj", net)
    # hls4ml may rename a layer: the project keeps the network's name as source_name
    meta = json.loads((prj / "spikehls.json").read_text())
    meta["layers"][2].update(name="conv2_hls", source_name="conv2")
    (prj / "spikehls.json").write_text(json.dumps(meta))
    worst = estimate(net, load_board("pynq-z2"), 4)
    layers = {}
    for le, entry in zip(worst.per_layer, meta["layers"]):
        if "events_worst" in le.detail:  # the layout spikehls.hls.csim writes
            layers[entry["name"]] = {
                "class": entry["class"],
                "in_events_per_sample": le.detail["events_worst"] * 0.25,
                "synops_per_sample": le.detail["synops_worst"] * 0.25,
                "out_spikes_per_sample": 3.0,
            }
    (prj / "csim.json").write_text(json.dumps({"samples": 10, "exact": True, "layers": layers}))
    r = build_report(prj)
    act = r["latency"]["cycles"]["activity"]
    assert act is not None and act < r["latency"]["cycles"]["worst"]
    assert r["events"]["conv2"]["in_events"] == pytest.approx(worst.per_layer[2].detail["events_worst"] * 0.25)
    assert r["latency"]["us"]["activity"] == pytest.approx(act / 100)
    expect = estimate(net, load_board("pynq-z2"), 4, {n: v for n, v in r["events"].items()})
    assert act == pytest.approx(expect.cycles_activity)
    assert all(row["cycles_activity"] is not None for row in r["per_layer"])
    assert "activity_max" not in r["latency"]["cycles"]  # no per-sample counters
    # every sample's own counters (what csim writes to csim_events.npz): per-sample latency
    scale = np.array([0.5, 1.0, 1.5, 2.0])  # the mean sample is the one above
    counters = {}
    for le, entry in zip(worst.per_layer, meta["layers"]):
        if "events_worst" in le.detail:
            c = np.zeros((4, 3), np.uint64)
            c[:, 0] = np.round(le.detail["events_worst"] * 0.25 * scale / 1.25)
            c[:, 1] = np.round(le.detail["synops_worst"] * 0.25 * scale / 1.25)
            counters[entry["name"]] = c
    np.savez(prj / "csim_events.npz", **counters)
    r = build_report(prj)
    per = latency_per_sample(net, load_board("pynq-z2"), 4, {
        src: {"in_events": counters[e["name"]][:, 0].astype(float), "synops": counters[e["name"]][:, 1].astype(float)}
        for src, e in (((e.get("source_name") or e["name"]), e) for e in meta["layers"]) if e["name"] in counters})
    hi = r["latency"]["cycles"]["activity_max"]
    assert hi == pytest.approx(per.max()) and per.min() < act < hi <= r["latency"]["cycles"]["worst"]
    assert r["latency"]["us"]["activity_max"] == pytest.approx(hi / 100) and r["latency"]["samples"] == 4
    assert "slowest of 4 test samples" in format_table(r)
    (prj / "csim_events.npz").write_text("not an npz")
    with pytest.raises(SpikehlsError, match="csim_events.npz"):
        build_report(prj)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(SpikehlsError, match="project folder not found"):
        build_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpikehlsError, match=r"spikehls\.json: not found"):
        build_report(tmp_path / "empty")
    prj = fabricate_project(tmp_path / "prj", small_net())
    (prj / "csim.json").write_text("{not json")
    with pytest.raises(SpikehlsError, match=r"csim\.json: invalid JSON"):
        build_report(prj)
    (prj / "csim.json").unlink()
    meta = json.loads((prj / "spikehls.json").read_text())
    meta["board"] = {"name": "Mystery", "source": "/nowhere/mystery.yaml"}
    (prj / "spikehls.json").write_text(json.dumps(meta))
    with pytest.raises(SpikehlsError, match="board 'Mystery'.*pass --board"):
        build_report(prj)
    assert build_report(prj, "arty-a7-100t")["board"]["name"] == "Arty A7-100T"


def test_cli_report_writes_json_table_and_plot(tmp_path, capsys):
    prj = fabricate_project(tmp_path / "prj", small_net())
    assert main(["report", "--project", str(prj), "--plot"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "used / allowed" in out and "fits the board budget: yes" in out
    rep = json.loads((prj / "report.json").read_text())
    for key in ("source", "total", "latency", "per_layer", "utilization", "fits"):
        assert key in rep
    assert set(rep["total"]) == {"LUT", "FF", "BRAM18", "URAM", "DSP"}
    assert set(rep["latency"]["cycles"]) >= {"worst", "activity"} and set(rep["latency"]["us"]) >= {"worst", "activity"}
    png = prj / "report.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in prj.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave nothing behind


def test_cli_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", "--project", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing" in err[0]
    prj = fabricate_project(tmp_path / "prj", small_net())
    assert main(["report", "--project", str(prj), "--board", "no-such-board"]) == 2
    assert "unknown board 'no-such-board'" in capsys.readouterr().err


def test_cli_table_says_no_when_over(tmp_path, capsys):
    net = small_net()
    prj = fabricate_project(tmp_path / "prj", net)
    used = estimate(net, load_board("pynq-z2"), 4).total["LUT"]
    assert main(["report", "--project", str(prj), "--board", str(tight_board(tmp_path, lut=used))]) == 0
    out = capsys.readouterr().out
    assert "fits the board budget: NO (LUT +100%)" in out
    assert json.loads((prj / "report.json").read_text())["fits"] is False
    assert "NO" in format_table(run_report(prj, tight_board(tmp_path, lut=used)))


# ---- on a project the HLS stage really generates ---------------------------------------------------


def _real_project(tmp_path: Path, n: int = 6) -> Path:
    from spikehls.hls.project import generate_project
    from spikehls.quantize import reference
    from spikehls.quantize.qonnx_export import export_qonnx
    from spikehls.quantize.testvectors import save_testvectors

    net = small_net()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(n, net.time_steps, 1, 12, 12))
    x[rng.random(x.shape) < 0.5] = 0
    x[:, 1:] = x[:, :1]  # direct encoding repeats the frame
    save_testvectors(tmp_path / "tv.npz", x, np.zeros(n, np.int64), reference.run(net, x))
    export_qonnx(net, tmp_path / "m.onnx")
    generate_project(tmp_path / "m.onnx", "pynq-z2", tmp_path / "prj", testvectors=tmp_path / "tv.npz", parallelism=2)
    return tmp_path / "prj"


def test_report_on_a_generated_project(tmp_path):
    prj = _real_project(tmp_path)
    r = build_report(prj)
    assert [row["name"] for row in r["per_layer"]] == ["conv1", "pool1", "conv2", "pool2", "fc"]
    assert [row["hls_index"] for row in r["per_layer"]] == [2, 3, 4, 5, 6]  # the config<index> the firmware uses
    fw = (prj / "firmware" / "myproject.cpp").read_text()
    for row in r["per_layer"]:
        assert f"config{row['hls_index']}>" in fw
    assert all(row["parallelism"] == 2 for row in r["per_layer"] if row["kind"] != "maxpool")
    assert r["board"]["name"] == "PYNQ-Z2" and r["source"] == "estimate"
    assert r["total"] == estimate(small_net(), load_board("pynq-z2"), 2).total


@pytest.mark.slow
def test_report_after_csim_uses_its_events(tmp_path):
    from spikehls.hls.csim import csim

    prj = _real_project(tmp_path)
    res = csim(prj)
    assert res["exact"]
    r = build_report(prj)
    assert r["events"]["conv2"]["in_events"] == pytest.approx(res["layers"]["conv2"]["in_events_per_sample"])
    act, worst = r["latency"]["cycles"]["activity"], r["latency"]["cycles"]["worst"]
    assert act is not None and 0 < act <= worst
    assert act <= r["latency"]["cycles"]["activity_max"] <= worst  # the slowest sample, from csim's counters
    assert r["latency"]["samples"] == res["samples"]


def test_report_puts_yosys_beside_the_estimate_and_judges_on_it(tmp_path, capsys):
    """spikehls report with PRJ/synth.json: estimate | yosys | ratio, never mixed; --source yosys
    judges the fit on the yosys totals; without synth.json --source yosys is one error line."""
    from spikehls.cli import main

    net = small_net()
    prj = fabricate_project(tmp_path / "prj", net)
    assert main(["report", "--project", str(prj), "--source", "yosys"]) == 2
    assert "synth.json" in capsys.readouterr().err
    per = {lyr.name: {"LUT": 100 * (i + 1), "LUT_logic": 90 * (i + 1), "LUTRAM": 10 * (i + 1), "FF": 7, "BRAM18": 0,
                      "URAM": 0, "DSP": 0} for i, lyr in enumerate(net.layers)}
    big = 10 ** 6  # over any PYNQ-Z2 budget: the yosys verdict must say so while the estimate fits
    total = {"LUT": big, "LUT_logic": big, "LUTRAM": 0, "FF": 35, "BRAM18": 0, "URAM": 0, "DSP": 0}
    (prj / "synth.json").write_text(json.dumps({"source": "yosys", "yosys": "Yosys 0.70 (test)", "family": "xc7",
                                                "per_layer": per, "total": total, "top": {"LUT": 5}}))
    assert main(["report", "--project", str(prj), "--source", "yosys"]) == 0
    out = capsys.readouterr().out
    assert "source: yosys" in out and "fits the board budget on the yosys figures: NO (LUT)" in out
    rep = json.loads((prj / "report.json").read_text())
    assert rep["source"] == "estimate" and rep["fits"] is True  # the estimate stays the estimate
    y = rep["measured"]["yosys"]
    assert y["total"]["LUT"]["yosys"] == big and y["total"]["LUT"]["estimate"] == rep["total"]["LUT"]
    first = net.layers[0].name
    assert y["per_layer"][first]["LUT"]["ratio"] == round(100 / rep["per_layer"][0]["LUT"], 3)
    assert rep["fits_yosys"] is False and rep["fits_yosys_detail"]["LUT"] is False


def test_cli_report_on_a_non_exact_project_says_so_and_exits_1(tmp_path, capsys):
    """A design whose C-simulation (or Verilator run) disagreed with the reference is a failure, not a result."""
    prj = fabricate_project(tmp_path / "prj", small_net())
    (prj / "csim.json").write_text(json.dumps({"exact": True, "spike_mismatches": 0, "readout_mismatches": 0}))
    assert main(["report", "--project", str(prj)]) == 0
    assert "NOT EXACT" not in capsys.readouterr().out
    (prj / "csim.json").write_text(json.dumps({"exact": False, "spike_mismatches": 3, "readout_mismatches": 1}))
    assert main(["report", "--project", str(prj)]) == 1
    out = capsys.readouterr().out
    assert "NOT EXACT" in out and "csim.json: C-simulation has 3 spike and 1 readout mismatches" in out
    assert (prj / "report.json").is_file()  # the figures are still written, and flagged on the terminal and exit code
