"""Fast tests of the HLS project generator: generated files, accumulate-only source, zero weights,
parallelism, bad inputs. No full compile here (see test_hls_csim.py, marked slow)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.cli import main  # noqa: E402
from spikehls.errors import SpikehlsError  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    net = handmade_net(reset="subtract", encoding="rate")
    return write_run(net, tmp_path_factory.mktemp("run"), handmade_inputs(net, 6))


@pytest.fixture(scope="module")
def project(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prj") / "prj"
    generate_project(run_dir / "model.qonnx.onnx", "pynq-z2", out, testvectors=run_dir / "testvectors.npz")
    return out


def _array(path: Path) -> np.ndarray:
    """Values of the one C array initialised in a generated weights header."""
    from spikehls.hls.weights import header_values  # an initializer may include its .txt

    return np.array([int(v) for v in header_values(path)], dtype=np.int64)


def _functions(cpp: str) -> dict[str, str]:
    """Top-level function bodies of a C++ header, by name (templates included)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"\n(?:inline\s+)?[\w:<>,\s]*?\b(\w+)\s*\(([^;{}]*)\)\s*\{", cpp):
        name, start, depth = m.group(1), m.end(), 1
        i = start
        while depth:
            depth += {"{": 1, "}": -1}.get(cpp[i], 0)
            i += 1
        out.setdefault(name, "")
        out[name] += cpp[start : i - 1]
    return out


# ---- the generated project has everything Vitis HLS needs ---------------------------------------
def test_project_files_part_clock_top_testbench(project, run_dir):
    tcl = (project / "project.tcl").read_text()
    assert 'set part "xc7z020clg400-1"' in tcl
    assert re.search(r"set clock_period 10(\.0)?\b", tcl)
    build = (project / "build_prj.tcl").read_text()
    assert "set_top ${project_name}" in build and "csim_design" in build
    top = (project / "firmware" / "myproject.cpp").read_text()
    assert re.search(r"void myproject\(\s*input_t spikes_in\[4\*2\*8\*8\]", top)
    assert (project / "myproject_test.cpp").is_file()
    for h in ("nnet_spiking.h", "nnet_spiking_common.h", "nnet_spiking_direct.h"):
        assert (project / "firmware" / "nnet_utils" / h).is_file()
    data = np.loadtxt(project / "tb_data" / "tb_input_features.dat")
    z = np.load(run_dir / "testvectors.npz")
    np.testing.assert_array_equal(data, z["inputs"].reshape(len(z["inputs"]), -1))
    preds = np.loadtxt(project / "tb_data" / "tb_output_predictions.dat")
    np.testing.assert_array_equal(preds, z["readout"])
    import json

    meta = json.loads((project / "spikehls.json").read_text())
    assert meta["board"]["part"] == "xc7z020clg400-1" and meta["input_kind"] == "spikes"
    assert [lyr["source_name"] for lyr in meta["layers"]] == ["conv0", "pool0", "conv1", "fc0", "readout"]


def test_board_file_sets_part_clock_and_backend(run_dir, tmp_path):
    board = tmp_path / "myboard.yaml"
    board.write_text(
        "name: Mine\npart: xczu7ev-ffvc1156-2-e\nclock_mhz: 250\n"
        "resources: {LUT: 230400, FF: 460800, BRAM18: 624, URAM: 96, DSP: 1728}\n"
        "hls: {backend: Vivado, parallelism: 3}\n"
    )
    model = generate_project(run_dir / "model.qonnx.onnx", board, tmp_path / "p")
    tcl = (tmp_path / "p" / "project.tcl").read_text()
    assert 'set part "xczu7ev-ffvc1156-2-e"' in tcl and re.search(r"set clock_period 4(\.0)?\b", tcl)
    assert model.config.get_config_value("Backend") == "Vivado"
    assert "static const unsigned parallelism = 3;" in (tmp_path / "p" / "firmware" / "parameters.h").read_text()
    assert model.config.get_output_dir() == str(tmp_path / "p")  # ModelGraph points at the final folder


# ---- accumulate-only, proven on the generated source -------------------------------------------
def test_spiking_layers_only_add_weights(project):
    src = (project / "firmware" / "nnet_utils" / "nnet_spiking.h").read_text()
    src = re.sub(r"//[^\n]*", "", src)
    # set the direct-encoding MAC (pixels, never spikes) aside: everything else must be add-only
    mac_at = src.index("SPK_INLINE unsigned chunk_mac(")
    mac_end = src.index("\n}\n", mac_at) + 3
    mac, src = src[mac_at:mac_end], src[:mac_at] + src[mac_end:]
    assert "acc[j] += w * pixel" in mac
    funcs = _functions(src)
    for name in ("spiking_conv2d_core", "spiking_dense", "spike_readout", "chunk_add", "chunk_hit", "input_event", "skip_current",
                 "fire_all", "conv_taps"):
        assert name in funcs, name
    loads, adds = set(), set()
    for name, body in funcs.items():
        for m in re.finditer(r"[^\n;{}]*\bweights\[[^\n;]*", body):
            stmt = m.group(0).strip()
            loads.add(stmt)  # a weight is only ever loaded into w ...
            assert re.fullmatch(r"const T_w w = weights\[[^\]]*\]", stmt), f"{name}: {stmt}"
        for m in re.finditer(r"[^\n;{}]*\bw\b[^\n;{}]*", body):
            stmt = m.group(0).strip()
            if stmt.startswith("const T_w w = weights["):
                continue
            # ... and w is only counted when nonzero (a synaptic op) or added into an accumulator word
            assert stmt in ("n += w != 0",) or re.fullmatch(r"acc\[[^=*]*\]\s*\+=\s*w", stmt), f"{name}: {stmt}"
            if stmt.startswith("acc"):
                adds.add(stmt)
    assert len(loads) == 1 and adds == {"acc[j] += w"}  # the single accumulate, in chunk_add
    # a spike can only reach chunk_add: chunk_event's spike_t overload never calls the MAC
    spike_overload = re.search(r"chunk_event\(spike_t s[^{]*\{(.*?)\n\}", src, re.S).group(1)
    assert "chunk_add" in spike_overload and "chunk_mac" not in spike_overload
    assert "chunk_mac" not in funcs["chunk_add"]
    # the only products in chunk_add are index arithmetic with compile-time constants
    assert not re.search(r"\*", re.sub(r"[\w\[\]]+\s*\*\s*CONFIG_T::\w+", "", funcs["chunk_add"]))
    # the generated top calls accumulate-only kernels only (rate encoding: no MAC layer)
    top = (project / "firmware" / "myproject.cpp").read_text()
    calls = [c for c in re.findall(r"nnet::(\w+)<", top) if c not in ("load_weights_from_txt", "spike_load_weights")]
    assert calls == ["spiking_conv2d", "spike_maxpool2d", "spiking_conv2d_skip", "spiking_dense", "spike_readout"]


def test_direct_encoding_first_layer_is_the_mac_layer(tmp_path):
    net = handmade_net(reset="zero", encoding="direct")
    run = write_run(net, tmp_path / "run", handmade_inputs(net, 3))
    generate_project(run / "model.qonnx.onnx", "pynq-z2", tmp_path / "p", testvectors=run / "testvectors.npz")
    top = (tmp_path / "p" / "firmware" / "myproject.cpp").read_text()
    assert [c for c in re.findall(r"nnet::(\w+)<", top) if c not in ("load_weights_from_txt", "spike_load_weights")][:2] == ["direct_conv2d", "spike_maxpool2d"]
    assert "input_t spikes_in" in top
    assert "typedef ap_ufixed<8,0> input_t;" in (tmp_path / "p" / "firmware" / "defines.h").read_text()


# ---- zero / pruned weights generate no add ------------------------------------------------------
def _lanes(params: str, idx: int) -> int:
    body = re.search(rf"struct config{idx} \{{(.*?)\n\}};", params, re.S).group(1)
    return int(re.search(r"n_lanes = (\d+)", body).group(1))


def test_zero_weights_have_no_add(project):
    """Every nonzero weight sits in exactly one chunk slot (slot j of group g = output g*lanes+j);
    a group with no nonzero weight in a row has no chunk (no cycle), and a zero slot is no add."""
    net = handmade_net(reset="subtract", encoding="rate")
    w = project / "firmware" / "weights"
    params = (project / "firmware" / "parameters.h").read_text()
    for lyr, idx in (("conv0", 2), ("conv1", 4), ("fc0", 5), ("readout", 6)):
        W = net.layer(lyr).weight
        lanes = _lanes(params, idx)
        vals, grps, offs = _array(w / f"w{idx}.h"), _array(w / f"grp{idx}.h"), _array(w / f"off{idx}.h")
        nnz = int(np.count_nonzero(W))
        assert f"n_nonzero = {nnz};" in params and np.count_nonzero(vals) == nnz, lyr
        rows = W.reshape(W.shape[0], -1).T  # [inputs, outputs]
        for r in range(rows.shape[0]):
            got = np.zeros(rows.shape[1], np.int64)
            for e in range(offs[r], offs[r + 1]):
                slots = vals[e * lanes : (e + 1) * lanes]
                assert slots.any(), (lyr, r)  # no chunk without a weight to add
                tgt = grps[e] * lanes + np.arange(lanes)
                assert (slots[tgt >= rows.shape[1]] == 0).all()
                got[tgt[tgt < rows.shape[1]]] += slots[tgt < rows.shape[1]]
            np.testing.assert_array_equal(got, rows[r])  # exactly the row's weights, each once
            want_chunks = len({int(c) // lanes for c in np.nonzero(rows[r])[0]})
            assert offs[r + 1] - offs[r] == want_chunks, (lyr, r)
    skip_vals = _array(w / "skip_w4.h")  # 1x1 skip [[1,0,2,0],[0,0,0,0],[3,-1,0,1]]: 5 nonzeros
    assert sorted(skip_vals[skip_vals != 0].tolist()) == [-1, 1, 1, 2, 3]


def test_chunks_put_lane_j_on_channel_bank_j(run_dir, tmp_path):
    """P=2 on conv0 (4 channels, channel 1 pruned): groups {0,1} and {2,3}; a row's chunk for
    group 0 only holds channel 0 (slot 0) since channel 1 has no weight: lane 1 idles, no add."""
    generate_project(run_dir / "model.qonnx.onnx", "pynq-z2", tmp_path / "p", parallelism=2)
    w = tmp_path / "p" / "firmware" / "weights"
    params = (tmp_path / "p" / "firmware" / "parameters.h").read_text()
    assert _lanes(params, 2) == 2
    vals, grps = _array(w / "w2.h").reshape(-1, 2), _array(w / "grp2.h")
    assert (vals[grps == 0][:, 1] == 0).all()  # channel 1 (group 0, lane 1) is pruned
    assert re.search(r"n_lanes = 2, fire_lanes = 2, n_groups = 2;", params)


def test_all_zero_layer_has_empty_table(tmp_path):
    net = handmade_net()
    net.layer("fc0").weight[:] = 0
    run = write_run(net, tmp_path / "run", handmade_inputs(net, 2))
    generate_project(run / "model.qonnx.onnx", "pynq-z2", tmp_path / "p")
    assert (_array(tmp_path / "p" / "firmware" / "weights" / "off5.h") == 0).all()  # every row empty: no chunk
    assert "n_nonzero = 0;" in (tmp_path / "p" / "firmware" / "parameters.h").read_text()


# ---- the parallelism knob ----------------------------------------------------------------------
def test_parallelism_board_global_and_per_layer(run_dir, tmp_path):
    generate_project(run_dir / "model.qonnx.onnx", "pynq-z2", tmp_path / "p", parallelism=2, layer_overrides={"conv1": 16})
    params = (tmp_path / "p" / "firmware" / "parameters.h").read_text()
    par = {}
    for body in re.findall(r"struct config\d+ \{(.*?)\n\};", params, re.S):
        m = re.search(r"parallelism = (\d+);", body)
        if m:
            par[re.search(r"// \w+ '(\w+)'", body).group(1)] = m.group(1)
    assert par == {"conv0": "2", "conv1": "16", "fc0": "2", "readout": "2"}
    with pytest.raises(SpikehlsError, match=r"unknown layer\(s\) nope; layers are conv0, conv1, fc0, readout"):
        generate_project(run_dir / "model.qonnx.onnx", "pynq-z2", tmp_path / "q", layer_overrides={"nope": 2})


@pytest.mark.parametrize("P", [1, 2, 4, 16])
def test_generated_lanes_are_what_the_cost_model_charges(run_dir, tmp_path, P):
    """Scan width, pool lanes, output banks and kernel-row taps: the project and the estimate agree
    (both follow spikehls.hls.lanes, but each chains producer -> consumer itself)."""
    import json

    from spikehls.boards import load_board
    from spikehls.hls.estimate import estimate
    generate_project(run_dir / "model.qonnx.onnx", "pynq-z2", tmp_path / "p", parallelism=P)
    meta = json.loads((tmp_path / "p" / "spikehls.json").read_text())
    params = (tmp_path / "p" / "firmware" / "parameters.h").read_text()
    taps = {re.search(r"// \w+ '(\w+)'", b).group(1): int(m.group(1))
            for b in re.findall(r"struct config\d+ \{(.*?)\n\};", params, re.S) if (m := re.search(r"tap_lanes = (\d+);", b))}
    est = {le.name: le.detail for le in estimate(handmade_net(reset="subtract", encoding="rate"), load_board("pynq-z2"), P).per_layer}
    for lyr in meta["layers"]:
        d = est[lyr["source_name"]]
        if lyr["class"] == "SpikeMaxPool2D":
            assert lyr["out_banks"] == d["out_lanes"], lyr
        else:
            assert lyr["read_lanes"] == d["read_lanes"], lyr
            if lyr["class"] != "SpikeReadout":
                assert lyr["out_banks"] == d["out_banks"], lyr
                # twice the fire lanes (row-aligned) where a pool reads the layer
                assert d["out_banks"] in (d["fire_lanes"], 2 * d["fire_lanes"]), d
        if lyr["class"] == "SpikingConv2D":
            assert taps[lyr["name"]] == d["tap_lanes"], lyr
    if P == 4:  # conv0 fires 4 lanes into 8 banks (a pool reads it): the pool takes 4 windows a cycle
        assert est["conv0"]["fire_lanes"] == 4 and est["conv0"]["out_banks"] == 8
        assert est["pool0"]["out_lanes"] == 4 and est["pool0"]["initiation_interval"] == 1 and est["conv1"]["read_lanes"] == 4


# ---- bad inputs ---------------------------------------------------------------------------------
def test_unsupported_op_names_op_and_node(run_dir, tmp_path):
    model = onnx.load(str(run_dir / "model.qonnx.onnx"))
    model.graph.node.append(helper.make_node("Softmax", ["readout"], ["probs"], name="my_softmax"))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(SpikehlsError, match="unsupported QONNX op 'Softmax' in node 'my_softmax'"):
        generate_project(bad, "pynq-z2", tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_unknown_board_lists_available(run_dir, tmp_path):
    with pytest.raises(SpikehlsError, match=r"unknown board 'nosuch'.*pynq-z2"):
        generate_project(run_dir / "model.qonnx.onnx", "nosuch", tmp_path / "p")


def test_failed_generation_keeps_previous_project(project, tmp_path, run_dir):
    import shutil

    out = tmp_path / "keep"
    shutil.copytree(project, out)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(SpikehlsError, match="not a readable ONNX file"):
        generate_project(bad, "pynq-z2", out)
    assert (out / "spikehls.json").is_file() and (out / "firmware" / "myproject.cpp").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".keep")]  # no temp leftovers


def test_cli_errors_one_line(tmp_path, capsys, run_dir):
    assert main(["hls", "--run", str(tmp_path), "--board", "pynq-z2", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "model.qonnx.onnx: not found" in err and err.count("\n") == 1
    assert main(["hls", "--run", str(run_dir), "--board", "nosuch", "--out", str(tmp_path / "p")]) == 2
    assert "pynq-z2" in capsys.readouterr().err
    assert main(["csim", "--project", str(tmp_path)]) == 2
    assert "not a spikehls HLS project" in capsys.readouterr().err


def test_gxx_failure_shows_first_error(project, tmp_path):
    import shutil

    from spikehls.hls.csim import build_driver

    broken = tmp_path / "broken"
    shutil.copytree(project, broken)
    top = broken / "firmware" / "myproject.cpp"
    top.write_text(top.read_text().replace("nnet::spike_readout<", "nnet::spike_readout_typo<"))
    with pytest.raises(SpikehlsError) as err:
        build_driver(broken)
    msg = str(err.value)
    assert msg.startswith(f"g++ failed compiling {broken}:") and "error" in msg and "spike_readout_typo" in msg
    assert "\n" not in msg and len(msg) < 400


def test_register_is_idempotent():
    import importlib

    from spikehls.hls.extension import register

    handlers = importlib.import_module("hls4ml.converters.onnx_to_hls").layer_handlers
    register()
    n = len(handlers)
    register()
    register()
    assert len(handlers) == n and "SpikingConv2d" in handlers
