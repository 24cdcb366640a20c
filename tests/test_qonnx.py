"""QONNX export, execution through qonnx with our custom ops, round trips and the IR-version fix."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
from qonnx.util.cleanup import cleanup_model

from spikehls.errors import SpikehlsError
from spikehls.quantize import onnx_compat
from spikehls.quantize import qonnx_ops
from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import IntNet, Neuron, Readout, Skip, SpikingConv2d
from spikehls.quantize.qonnx_export import (
    build_qonnx,
    export_qonnx,
    intnet_from_qonnx,
    intnets_equal,
    load_qonnx,
    run_qonnx,
)
from spikehls.quantize.random_net import random_inputs, random_intnet, random_intnet_strategy


def _assert_matches(model, net: IntNet, x: np.ndarray) -> None:
    r = ref.run(net, x)
    readout, spikes = run_qonnx(model, x)
    assert readout.dtype == np.int64
    np.testing.assert_array_equal(readout, r.readout)
    assert set(spikes) == set(r.spikes)
    for name, s in r.spikes.items():
        np.testing.assert_array_equal(spikes[name], s, err_msg=f"layer {name}")


def _skip_net() -> IntNet:
    """Direct-encoded residual net: identity skip from conv0, 1x1-conv skip (stride 2) from the input."""
    rng = np.random.default_rng(0)
    conv0 = SpikingConv2d("conv0", rng.integers(-2, 8, (3, 2, 3, 3)), [5, 0, -3], Neuron([300, 200, 250], 2, "subtract", 14),
                          padding=1, w_bits=4, w_scale=[2**-3, 2**-2, 2**-3], in_scale=2**-8)
    conv1 = SpikingConv2d("conv1", rng.integers(-1, 4, (3, 3, 3, 3)), [0, 1, 0], Neuron([4, 3, 5], 0, "zero", 8),
                          padding=1, w_bits=3, w_scale=2**-1, skip=Skip("conv0", gain=[2, 1, 3]))
    conv2 = SpikingConv2d("conv2", rng.integers(-2, 6, (4, 3, 3, 3)), [0, 0, 1, 0], Neuron([6, 4, 4, 5], 1, "zero", 10),
                          stride=2, padding=1, w_bits=4, w_scale=2**-2,
                          skip=Skip("input", weight=rng.integers(-3, 4, (4, 2)), stride=2, w_bits=3))
    out = Readout("classifier", rng.integers(-4, 4, (3, 4 * 3 * 3)), [1, 0, -1], w_bits=3, w_scale=2**-4)
    net = IntNet((2, 6, 6), 3, "direct", [conv0, conv1, conv2, out])
    net.validate()
    return net


def test_export_passes_checker_and_writes_the_documented_graph(tmp_path):
    net = _skip_net()
    path = tmp_path / "model.qonnx.onnx"
    export_qonnx(net, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.qonnx.onnx"]  # atomic, nothing else
    onnx.checker.check_model(str(path))
    model = onnx.load(str(path))
    assert model.ir_version == onnx_compat.target_ir_version()
    domains = {o.domain for o in model.opset_import}
    assert {"", "qonnx.custom_op.general", qonnx_ops.DOMAIN} <= domains
    ops = [(n.op_type, n.domain) for n in model.graph.node]
    assert ops.count(("Quant", "qonnx.custom_op.general")) == 2 * 4 + 1  # W and B of 3 convs and the readout, 1x1 skip
    assert [o for o in ops if o[1] == qonnx_ops.DOMAIN] == [("SpikingConv2d", qonnx_ops.DOMAIN)] * 3 + [
        ("Readout", qonnx_ops.DOMAIN)]
    conv2 = next(n for n in model.graph.node if n.name == "conv2")
    assert list(conv2.input)[3] == "input" and len(conv2.input) == 5
    init = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(init["conv0_W"], net.layers[0].weight * np.array([2**-3, 2**-2, 2**-3]).reshape(3, 1, 1, 1))
    assert init["conv0_B_bits"] == 16 and init["conv0_W_bits"] == 4
    mw = ModelWrapper(model)
    for n in model.graph.node:
        if n.domain == qonnx_ops.DOMAIN:
            info = getCustomOp(n).verify_node()
            assert info == ["All required attributes are set and valid"], info
    assert mw.get_tensor_shape("conv2_spikes") == [1, 3, 4, 3, 3]
    assert mw.get_tensor_datatype("conv1_spikes").name == "BINARY"


def test_direct_encoded_residual_net_matches_reference(tmp_path):
    net = _skip_net()
    path = tmp_path / "m.onnx"
    export_qonnx(net, path)
    x = random_inputs(np.random.default_rng(1), net, 4)
    _assert_matches(path, net, x)
    r = ref.run(net, x)
    assert all(r.spikes[k].any() for k in r.spikes), "test net should be active"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_intnet_strategy(max_hw=8, max_channels=4))
def test_qonnx_execution_equals_reference_on_random_nets(case):
    net, x = case
    _assert_matches(build_qonnx(net), net, x)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_intnet_strategy())
def test_qonnx_execution_equals_reference_on_many_random_nets(case):
    net, x = case
    model = build_qonnx(net)
    _assert_matches(model, net, x)
    assert intnets_equal(intnet_from_qonnx(model), net)


@pytest.mark.parametrize("seed", [0, 3, 7, 11, 19])
def test_round_trip_through_qonnx_cleanup_and_channels_last(tmp_path, seed):
    rng = np.random.default_rng(seed)
    net = random_intnet(rng)
    x = random_inputs(rng, net, 2)
    path = tmp_path / "m.onnx"
    export_qonnx(net, path)
    mw = cleanup_model(load_qonnx(path))
    mw = mw.transform(ConvertToChannelsLastAndClean())
    mw = cleanup_model(mw)
    assert mw.graph.input[0].name != "input"  # cleanup renamed tensors; layer names must survive anyway
    _assert_matches(mw, net, x)
    assert intnets_equal(intnet_from_qonnx(mw), net)
    back = tmp_path / "clean.onnx"
    mw.save(str(back))
    assert intnets_equal(intnet_from_qonnx(back), net)


def test_round_trip_skip_net_after_cleanup(tmp_path):
    net = _skip_net()
    mw = cleanup_model(ModelWrapper(build_qonnx(net))).transform(ConvertToChannelsLastAndClean())
    _assert_matches(mw, net, random_inputs(np.random.default_rng(2), net, 2))
    assert intnets_equal(intnet_from_qonnx(mw), net)


@pytest.mark.parametrize("seed", range(20))
def test_intnet_from_qonnx_inverts_export(seed):
    net = random_intnet(np.random.default_rng(100 + seed))
    back = intnet_from_qonnx(build_qonnx(net))
    assert intnets_equal(back, net)


def test_intnets_equal_sees_differences():
    net = _skip_net()
    other = intnet_from_qonnx(build_qonnx(net))
    assert intnets_equal(net, other)
    other.layers[1].neuron.threshold[0] += 1
    assert not intnets_equal(net, other)
    other = intnet_from_qonnx(build_qonnx(net))
    other.layers[2].skip.source = "conv0"
    assert not intnets_equal(net, other)


def test_unsupported_op_is_a_one_line_error_naming_op_and_node():
    model = build_qonnx(_skip_net())
    conv1 = next(n for n in model.graph.node if n.name == "conv1")
    # put a Relu between conv0 and conv1
    relu = helper.make_node("Relu", ["conv0_spikes"], ["relu_out"], name="my_relu")
    conv1.input[0] = "relu_out"
    idx = [n.name for n in model.graph.node].index("conv1")
    model.graph.node.insert(idx, relu)
    with pytest.raises(SpikehlsError, match=r"unsupported op 'Relu'.*'my_relu'") as err:
        intnet_from_qonnx(model)
    assert "\n" not in str(err.value)


def test_export_rejects_what_it_cannot_express(tmp_path):
    net = _skip_net()
    net.layers[0].w_scale = np.array([0.3, 0.25, 0.125])
    path = tmp_path / "bad.onnx"
    with pytest.raises(SpikehlsError, match="conv0.*powers of two"):
        export_qonnx(net, path)
    net = _skip_net()
    net.layers[1].bias = np.array([0, 40000, 0])
    with pytest.raises(SpikehlsError, match="conv1: bias needs 17 bits"):
        export_qonnx(net, path)
    export_qonnx(net, path, bias_bits=17)  # a wider bias is fine when asked for
    path.unlink()
    with pytest.raises(SpikehlsError, match="bias_bits"):
        export_qonnx(_skip_net(), path, bias_bits=40)
    net = _skip_net()
    net.layers[2].skip.w_bits = 1
    net.layers[2].skip.weight = -(net.layers[2].skip.weight > 0).astype(np.int64)  # fits signed 1 bit
    with pytest.raises(SpikehlsError, match="conv2: skip w_bits=1"):
        export_qonnx(net, path)
    net = _skip_net()
    net.layers[1].in_scale = 2**-8
    with pytest.raises(SpikehlsError, match="in_scale"):
        export_qonnx(net, path)
    assert list(tmp_path.iterdir()) == []  # no partial files
    with pytest.raises(SpikehlsError, match="not found"):
        load_qonnx(tmp_path / "missing.onnx")


def test_custom_op_refuses_inexact_inputs():
    net = _skip_net()
    mw = ModelWrapper(build_qonnx(net))
    x = np.full((1, 3, 2, 6, 6), 0.5 * 2**-8, dtype=np.float32)  # half a pixel: not an integer
    with pytest.raises(ValueError, match="not integer multiples"):
        execute_onnx(mw, {"input": x})


def test_standard_onnx_node_inside_the_graph_runs_through_onnxruntime():
    """A standard op in the graph goes through qonnx's one-node onnxruntime models (the IR issue)."""
    net = random_intnet(np.random.default_rng(4), encodings=("rate",))
    model = build_qonnx(net)
    first = next(n for n in model.graph.node if n.domain == qonnx_ops.DOMAIN)
    model.graph.node.insert(0, helper.make_node("Identity", ["input"], ["input_copy"], name="copy"))
    first.input[0] = "input_copy"
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    model.graph.value_info.append(helper.make_tensor_value_info("input_copy", TensorProto.FLOAT, shape))
    x = random_inputs(np.random.default_rng(5), net, 2)
    _assert_matches(ModelWrapper(model), net, x)


def test_ir_version_probe_matches_onnxruntime():
    top = onnx_compat.max_runtime_ir_version()
    assert onnx_compat.runtime_accepts_ir(top)
    if top < onnx.IR_VERSION:
        assert not onnx_compat.runtime_accepts_ir(top + 1)
    assert onnx_compat.target_ir_version() == min(top, onnx.IR_VERSION)


def _std_ops_model(ir_version: int) -> ModelWrapper:
    """Conv -> MaxPool -> Reshape at opset 13: the standard ops qonnx hands to onnxruntime."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = onnx.numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
    shp = onnx.numpy_helper.from_array(np.array([1, 4], np.int64), "shp")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shp"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "std", [x], [y], initializer=[w, shp])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = ir_version
    from qonnx.transformation.infer_shapes import InferShapes

    return ModelWrapper(model).transform(InferShapes())


def test_qonnx_per_node_execution_works_with_standard_ops():
    assert onnx_compat.is_patched()
    mw = _std_ops_model(onnx_compat.target_ir_version())
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out = execute_onnx(mw, {"x": x})["y"]
    conv = ref.conv_current(x.astype(np.int64), np.ones((1, 1, 3, 3), np.int64), 1, 1)  # [1, 1, 4, 4]
    want = conv.reshape(2, 2, 2, 2).max(axis=(1, 3)).reshape(1, 4)  # 2x2 max pool
    np.testing.assert_array_equal(out, want)


def test_patch_is_idempotent_and_needed():
    import qonnx.core.onnx_exec as oe
    import qonnx.util.basic as basic

    before = oe.qonnx_make_model
    assert onnx_compat.patch_qonnx() == (onnx.IR_VERSION > onnx_compat.max_runtime_ir_version())
    onnx_compat.patch_qonnx()
    assert oe.qonnx_make_model is before  # not wrapped twice
    if onnx.IR_VERSION > onnx_compat.max_runtime_ir_version():
        assert basic.qonnx_make_model is before
        # the unpatched helper stamps the newest IR, which onnxruntime refuses: the bug we work around
        raw = before.__wrapped__(helper.make_graph([], "g", [], []))
        assert raw.ir_version == onnx.IR_VERSION
        assert not onnx_compat.runtime_accepts_ir(raw.ir_version)
        assert before(helper.make_graph([], "g", [], [])).ir_version == onnx_compat.target_ir_version()


def test_fresh_interpreter_finds_the_custom_ops_by_domain(tmp_path):
    """qonnx alone (no spikehls import first) must find our ops through the node domain."""
    net = random_intnet(np.random.default_rng(8), encodings=("rate",))
    path = tmp_path / "m.onnx"
    export_qonnx(net, path)
    x = random_inputs(np.random.default_rng(9), net, 1)
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    code = (
        "import sys, numpy as np\n"
        "from qonnx.core.modelwrapper import ModelWrapper\n"
        "from qonnx.core.onnx_exec import execute_onnx\n"
        f"m = ModelWrapper(r'{path}')\n"
        f"out = execute_onnx(m, {{'input': np.load(r'{tmp_path / 'x.npy'}')}})['readout']\n"
        "print(' '.join(str(int(v)) for v in out.reshape(-1)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [str(v) for v in ref.run(net, x).readout.reshape(-1)]


def test_rename_tensor_renames_every_occurrence():
    """qonnx renamed only the first of two identical node inputs (skip from the previous layer)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    model = helper.make_model(helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g", [x], [y]))
    mw = ModelWrapper(model)
    mw.rename_tensor("x", "global_in")
    assert list(mw.graph.node[0].input) == ["global_in", "global_in"]
    # and the case that broke: a skip from the layer right before, then qonnx's cleanup
    conv0 = SpikingConv2d("conv0", np.ones((2, 1, 3, 3)), [0, 0], Neuron([2, 3]), padding=1, w_bits=2)
    conv1 = SpikingConv2d("conv1", np.ones((2, 2, 1, 1)), [0, 0], Neuron([3, 2]), w_bits=2,
                          skip=Skip("conv0", gain=[1, 2]))
    net = IntNet((1, 4, 4), 2, "rate", [conv0, conv1, Readout("out", np.ones((2, 32)), [0, 0], w_bits=2)])
    mw = cleanup_model(ModelWrapper(build_qonnx(net)))
    _assert_matches(mw, net, random_inputs(np.random.default_rng(0), net, 2))
    assert intnets_equal(intnet_from_qonnx(mw), net)


def test_skip_weights_must_fit_their_bits():
    net = _skip_net()
    net.layers[2].skip.w_bits = 2  # weights drawn in [-3, 3] do not fit [-2, 1]
    with pytest.raises(SpikehlsError, match="conv2: skip weights exceed 2-bit range"):
        net.validate()


def test_verify_node_reports_problems():
    model = build_qonnx(_skip_net())
    conv0 = next(n for n in model.graph.node if n.name == "conv0")
    del conv0.attribute[[a.name for a in conv0.attribute].index("threshold")]
    info = getCustomOp(conv0).verify_node()
    assert len(info) == 1 and "threshold" in info[0]
    dense = helper.make_node("SpikingDense", ["x", "w"], ["y"], domain=qonnx_ops.DOMAIN, threshold=[0, 2], acc_scale=[1.0])
    info = getCustomOp(dense).verify_node()
    assert any("takes 3 inputs" in m for m in info)
    assert "threshold and acc_scale need one entry per output channel" in info
    assert "thresholds must be >= 1" in info


def test_identity_skip_without_gain_attribute_means_gain_one():
    model = build_qonnx(_skip_net())
    conv1 = next(n for n in model.graph.node if n.name == "conv1")
    names = [a.name for a in conv1.attribute]
    del conv1.attribute[names.index("skip_gain")]
    net = intnet_from_qonnx(model)
    assert net.layer("conv1").skip.gain.tolist() == [1, 1, 1]
    _assert_matches(ModelWrapper(model), net, random_inputs(np.random.default_rng(3), net, 1))


def test_without_the_patch_qonnx_execution_of_standard_ops_fails(tmp_path):
    """Where it bites: plain qonnx + onnx 1.23 + onnxruntime 1.31 cannot run a Conv/MaxPool/Reshape graph."""
    if onnx.IR_VERSION <= onnx_compat.max_runtime_ir_version():
        pytest.skip("the installed onnx and onnxruntime agree on the IR version; nothing to work around")
    path = tmp_path / "std.onnx"
    _std_ops_model(onnx_compat.target_ir_version()).save(str(path))
    code = (
        "import numpy as np\n"
        "from qonnx.core.modelwrapper import ModelWrapper\n"
        "from qonnx.core.onnx_exec import execute_onnx\n"
        f"m = ModelWrapper(r'{path}')\n"
        "x = {'x': np.zeros((1, 1, 4, 4), np.float32)}\n"
        "try:\n"
        "    execute_onnx(m, x)\n"
        "    print('unpatched: ran')\n"
        "except Exception as err:\n"
        "    print('unpatched: failed', 'IR version' in str(err))\n"
        "import spikehls.quantize.qonnx_export\n"
        "print('patched:', execute_onnx(m, x)['y'].shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["unpatched: failed True", "patched: (1, 4)"]


@pytest.mark.parametrize("seed", [3, 9, 14])
def test_batched_execution_equals_one_sample_at_a_time(seed):
    """run_qonnx widens the batch axis of a copy of the graph: every batch size (the last batch
    padded) gives each sample's single-sample result, and the reference's."""
    rng = np.random.default_rng(seed)
    net = random_intnet(rng)
    x = random_inputs(rng, net, 7)
    model = build_qonnx(net)
    one = run_qonnx(model, x, batch=1)
    for b in (3, 7, None):
        got = run_qonnx(model, x, batch=b)
        np.testing.assert_array_equal(got[0], one[0])
        assert set(got[1]) == set(one[1])
        for k in one[1]:
            np.testing.assert_array_equal(got[1][k], one[1][k], err_msg=f"batch {b}, layer {k}")
    _assert_matches(model, net, x)
    assert len(model.graph.input[0].type.tensor_type.shape.dim) and model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
