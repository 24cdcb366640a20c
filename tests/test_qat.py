"""QAT layers and extraction: the quantized PyTorch model (eval) == NumPy reference == QONNX, exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _qnets import model_config, random_floatnet, random_input, randomize_bn
from spikehls.config import QuantConfig
from spikehls.errors import SpikehlsError
from spikehls.quantize import reference as ref
from spikehls.quantize.extract import extract
from spikehls.quantize.floatnet import from_training_model
from spikehls.quantize.fold import fold_bn
from spikehls.quantize.intnet import IntNet, Neuron
from spikehls.quantize.qat import (
    IntNeuron,
    NeuronParams,
    enable_weight_qat,
    disable_weight_qat,
    load_quantized,
    pow2_fake_quant,
    quantize_net,
    save_quantized,
)
from spikehls.quantize.slim import keep_from_masks, slim
from spikehls.training.encoding import encode_int
from spikehls.training.masks import Masks, apply_masks
from spikehls.training.models import build_model


def torch_run(q, x_int: np.ndarray, with_float: bool = False):
    """Eval-mode quantized torch model on integer inputs: (spikes by layer, readout ints[, float readout])."""
    q.eval()
    with torch.no_grad():
        out, outs = q(torch.from_numpy(x_int).float() * q.in_scale, record=True)
    res = ({k: v.numpy().astype(np.uint8) for k, v in outs.items() if k != "input"}, q.readout_int().numpy())
    return res + (out.numpy(),) if with_float else res


def assert_same(q, net: IntNet, x_int: np.ndarray) -> ref.RefResult:
    spikes, readout, out = torch_run(q, x_int, with_float=True)
    r = ref.run(net, x_int)
    # the float readout the model is trained on ranks the classes exactly as the integers do
    np.testing.assert_array_equal(out.argmax(1), r.prediction)
    for name, s in r.spikes.items():
        np.testing.assert_array_equal(spikes[name], s, err_msg=f"layer {name}")
    np.testing.assert_array_equal(readout, r.readout)
    return r


def assert_train_path_same(q, x_int: np.ndarray) -> None:
    """The differentiable float32 training path computes the very same spikes and readout."""
    spikes, _ = torch_run(q, x_int)
    q.train()
    with torch.no_grad():
        out, outs = q(torch.from_numpy(x_int).float() * q.in_scale, record=True)
    q.eval()
    with torch.no_grad():
        ev = q(torch.from_numpy(x_int).float() * q.in_scale)
    for name, s in spikes.items():
        np.testing.assert_array_equal(outs[name].numpy().astype(np.uint8), s, err_msg=f"train path, layer {name}")
    torch.testing.assert_close(out.double(), ev.double(), rtol=0, atol=1e-6 * float(ev.abs().max() + 1))


# ---- the neuron alone against the contract -------------------------------------------------------
@pytest.mark.parametrize("leak,reset", [(0, "zero"), (0, "subtract"), (1, "zero"), (3, "subtract")])
def test_int_neuron_matches_contract(leak, reset):
    rng = np.random.default_rng(leak * 7 + len(reset))
    co, T, v_bits = 5, 7, 8
    acc = torch.tensor([2.0**-3, 2.0**-5, 2.0**-4, 1.0, 2.0**-6])
    p = NeuronParams(torch.tensor([0.7, 0.3, 1.1, 2.0, 0.05]), leak, reset, 4.0, True)
    n = IntNeuron(p, v_bits)
    n.acc = acc
    cur = torch.as_tensor(rng.integers(-60, 90, size=(4, T, co, 3, 3)), dtype=torch.int64)
    out = n.forward_int(cur).numpy().astype(np.uint8)
    th = n.theta_int(acc).numpy().astype(np.int64)
    assert list(th) == [6, 10, 18, 2, 3]  # round(θ/acc), at least 1
    want = ref.integrate(cur.numpy(), np.zeros(co, np.int64), Neuron(th, leak, reset, v_bits))
    np.testing.assert_array_equal(out, want)
    # float training path (values = ints * acc) gives the same spikes
    fl = n.run(cur.float() * acc.view(1, 1, -1, 1, 1))
    np.testing.assert_array_equal(fl.detach().numpy().astype(np.uint8), want)


def test_int_neuron_threshold_clamped_to_membrane_range():
    n = IntNeuron(NeuronParams(torch.tensor([1000.0, 0.0001]), 0, "zero", 4.0, True), v_bits=6)
    assert n.theta_int(torch.tensor([1.0, 1.0])).tolist() == [31.0, 1.0]


def test_int_neuron_surrogate_gradient_flows():
    n = IntNeuron(NeuronParams(torch.tensor([0.5, 0.5]), 2, "subtract", 4.0, True), v_bits=12)
    n.acc = torch.tensor([2.0**-4, 2.0**-4])
    cur = (torch.rand(3, 4, 2) * 0.8).requires_grad_()
    n.run(cur).sum().backward()
    assert cur.grad is not None and cur.grad.abs().sum() > 0


def test_weight_scales_are_powers_of_two_and_bits_hold():
    rng = np.random.default_rng(3)
    net, qd = random_floatnet(rng)
    for per_channel in (False, True):
        q = quantize_net(fold_bn(net), QuantConfig(**{**qd, "per_channel": per_channel}))
        for lyr in extract(q).layers:
            if hasattr(lyr, "w_scale"):
                m, _ = np.frexp(lyr.w_scale)
                assert np.all(m == 0.5), lyr.w_scale
                if not per_channel:
                    assert np.all(lyr.w_scale == lyr.w_scale[0])
                lo, hi = -(2 ** (lyr.w_bits - 1)), 2 ** (lyr.w_bits - 1) - 1
                assert lyr.weight.min() >= lo and lyr.weight.max() <= hi


def test_bits_out_of_range_and_unknown_layers_are_user_errors():
    net, _ = random_floatnet(np.random.default_rng(5))
    with pytest.raises(SpikehlsError, match="unknown layer"):
        quantize_net(fold_bn(net), QuantConfig(layer_w_bits={"nope": 4}))
    bad = QuantConfig()
    object.__setattr__(bad, "w_bits", 9)  # bypass pydantic, as a hand-built config could
    with pytest.raises(SpikehlsError, match="2..8"):
        quantize_net(fold_bn(net), bad)


# ---- the training models: VGG / ResNet, IF / LIF, both resets, all encodings ----------------------
CASES = [
    ("vgg", "if", "zero", "direct"),
    ("vgg", "lif", "subtract", "rate"),
    ("vgg", "lif", "zero", "bitplane"),
    ("resnet", "if", "subtract", "direct"),
    ("resnet", "lif", "zero", "rate"),
    ("resnet", "if", "zero", "bitplane"),
]


def _trained_like(arch, neuron, reset, enc, seed=0, hidden=()):
    cfg = model_config(arch, neuron, reset, enc, quant={"w_bits": 4}, model={"hidden": list(hidden)})
    torch.manual_seed(seed)
    in_ch = 8 if enc == "bitplane" else 1
    model = build_model(cfg, in_ch, (8, 8), 10)
    randomize_bn(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():  # stronger weights so that deep layers fire
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.mul_(2.5)
    masks = Masks.full(model.prunable_groups())
    rng = np.random.default_rng(seed)
    for g in masks.groups.values():
        g.keep[:] = rng.random(g.keep.size) < 0.6
        g.keep[rng.integers(g.keep.size)] = True
    apply_masks(model, masks)
    return cfg, model.eval(), masks


@pytest.mark.parametrize("arch,neuron,reset,enc", CASES)
def test_training_models_torch_equals_reference_and_qonnx(arch, neuron, reset, enc):
    from spikehls.quantize.qonnx_export import export_qonnx, run_qonnx

    cfg, model, masks = _trained_like(arch, neuron, reset, enc, hidden=(7,) if arch == "vgg" else ())
    fnet = from_training_model(model, enc, 4)
    q = quantize_net(fold_bn(slim(fnet, keep_from_masks(fnet, masks))), cfg.quant, cfg)
    net = extract(q)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(12, 1, 8, 8), dtype=np.uint8)
    x = encode_int(images, enc, 4, seed=3)
    r = assert_same(q, net, x)
    assert sum(int(s.sum()) for s in r.spikes.values()) > 0, "nothing fired: the test would prove nothing"
    assert_train_path_same(q, x)
    if arch == "resnet":
        assert any(getattr(lyr, "skip", None) is not None and lyr.skip.weight is not None for lyr in net.layers)
        assert any(getattr(lyr, "skip", None) is not None and lyr.skip.weight is None for lyr in net.layers)
    # QONNX on a few samples
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.onnx"
        export_qonnx(net, path, bias_bits=cfg.quant.bias_bits)
        readout, spikes = run_qonnx(path, x[:3])
    np.testing.assert_array_equal(readout, r.readout[:3])
    for name, s in r.spikes.items():
        np.testing.assert_array_equal(spikes[name], s[:3], err_msg=name)


def test_quantized_model_save_load_roundtrip(tmp_path):
    cfg, model, masks = _trained_like("resnet", "lif", "subtract", "direct", seed=4)
    fnet = from_training_model(model, "direct", 3)
    q = quantize_net(fold_bn(slim(fnet, keep_from_masks(fnet, masks))), cfg.quant, cfg)
    save_quantized(q, tmp_path / "q.pt", cfg.to_yaml())
    q2 = load_quantized(tmp_path / "q.pt")
    x = random_input(np.random.default_rng(0), "direct", 5, 3, q.input_shape)
    s1, r1 = torch_run(q, x)
    s2, r2 = torch_run(q2, x)
    np.testing.assert_array_equal(r1, r2)
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k])
    with pytest.raises(SpikehlsError, match="not found"):
        load_quantized(tmp_path / "missing.pt")


# ---- property test: random small torch networks ---------------------------------------------------
def _check_random(seed: int, qonnx: bool = False) -> int:
    rng = np.random.default_rng(seed)
    net, qd = random_floatnet(rng)
    q = quantize_net(fold_bn(net), QuantConfig(**qd))
    inet = extract(q)
    x = random_input(rng, net.encoding, 6, net.time_steps, net.input_shape)
    r = assert_same(q, inet, x)
    assert_train_path_same(q, x)
    if qonnx:
        import tempfile
        from pathlib import Path

        from spikehls.quantize.qonnx_export import export_qonnx, run_qonnx

        with tempfile.TemporaryDirectory() as d:
            export_qonnx(inet, Path(d) / "m.onnx", bias_bits=qd["bias_bits"])
            readout, spikes = run_qonnx(Path(d) / "m.onnx", x[:2])
        np.testing.assert_array_equal(readout, r.readout[:2])
    return sum(int(s.sum()) for s in r.spikes.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1))
def test_random_torch_nets_extract_exactly(seed):
    _check_random(seed)


def test_random_nets_are_not_silent():
    fired = [_check_random(s) for s in range(12)]
    assert sum(f > 0 for f in fired) >= 9, fired


@pytest.mark.slow
def test_random_torch_nets_extract_exactly_many():
    for s in range(300):
        _check_random(1000 + s, qonnx=s % 10 == 0)


# ---- QAT during SCA (weights only) ---------------------------------------------------------------
def test_pow2_fake_quant_grid_and_ste():
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    for per_channel in (False, True):
        q = pow2_fake_quant(w, 3, per_channel)
        dims = (1, 2, 3) if per_channel else None
        m = w.detach().abs().amax(dim=dims, keepdim=True) if per_channel else w.detach().abs().max()
        scale = torch.exp2(torch.ceil(torch.log2(m / 3)))
        ints = q.detach() / scale
        assert torch.equal(ints, ints.round()) and ints.abs().max() <= 4
    q.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_enable_weight_qat_keeps_modules_and_masks():
    cfg, model, masks = _trained_like("vgg", "if", "zero", "direct", seed=2)
    names = enable_weight_qat(model, cfg.quant)
    assert "features.0.conv" in names and "readout" in names
    apply_masks(model, masks)  # masks still act on the same Parameter
    g = model.prunable_groups()[0]
    assert torch.all(g.convs[0][1].weight[torch.as_tensor(~masks[g.name])] == 0)
    x = torch.rand(4, 2, 1, 8, 8)
    with torch.no_grad():
        y_q = model(x)
    disable_weight_qat(model)
    with torch.no_grad():
        y_f = model(x)
    assert type(model.features[0].conv) is torch.nn.Conv2d
    assert not torch.equal(y_q, y_f)


def test_lowering_refuses_what_the_contract_cannot_express():
    cfg, model, _ = _trained_like("vgg", "if", "zero", "direct")
    model.features[0].pool = torch.nn.AvgPool2d(2)
    with pytest.raises(SpikehlsError, match="AvgPool2d"):
        from_training_model(model, "direct", 2)
    pre = build_model(model_config("vgg", model={"preset": "preresnet_small", "arch": "preresnet"}), 1, (8, 8), 10)
    # pre-activation ResNets lower to stream writers (they used to be refused; tests/test_preresnet.py)
    assert [lyr.name for lyr in from_training_model(pre, "direct", 2).layers if getattr(lyr, "bn_on_stream", False)][:2] == ["stem", "blocks.0.conv2"]
