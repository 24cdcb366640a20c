"""The residual stream of pre-activation ResNets (``SpikingConv2d.residual`` / ``current_sign``).

Pinned three ways: a naive per-step Python-int loop of the contract in quantize/intnet.py against
the vectorised reference, the reference against QONNX execution on random PreResNet integer nets,
and (slow) a trained PyTorch PreResNet in eval mode against the reference, spike for spike.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from spikehls.errors import SpikehlsError
from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, SpikingConv2d
from spikehls.quantize.random_net import random_inputs, random_intnet, random_preresnet_intnet


# ---- a naive loop version of the contract -------------------------------------------------------
def _naive_stream(lyr: SpikingConv2d, x_t: np.ndarray, skip_t, res_t) -> np.ndarray:
    """z[c, y, x] of one time step with Python ints: conv + skip + residual stream."""
    co, ci, kh, kw = lyr.weight.shape
    _, h, w = x_t.shape
    ho = (h + 2 * lyr.padding - kh) // lyr.stride + 1
    wo = (w + 2 * lyr.padding - kw) // lyr.stride + 1
    z = np.zeros((co, ho, wo), dtype=object)
    for c, oy, ox in np.ndindex(co, ho, wo):
        acc = 0
        for i, dy, dx in np.ndindex(ci, kh, kw):
            y, xx = oy * lyr.stride + dy - lyr.padding, ox * lyr.stride + dx - lyr.padding
            if 0 <= y < h and 0 <= xx < w and x_t[i, y, xx]:
                acc += int(lyr.weight[c, i, dy, dx]) * int(x_t[i, y, xx])
        if lyr.skip is not None:
            s = lyr.skip
            src = skip_t[:, oy * s.stride, ox * s.stride]
            acc += int(s.gain[c]) * int(src[c]) if s.weight is None else sum(int(s.weight[c, j]) * int(v) for j, v in enumerate(src))
        if res_t is not None:
            acc += int(res_t[c, oy, ox])
        z[c, oy, ox] = acc
    return z


def _naive_run(net: IntNet, x: np.ndarray):
    """One sample [T, C, H, W] -> (spikes per layer, readout) for conv / pool / readout nets."""
    t_steps = x.shape[0]
    outs, streams, cur, result = {"input": x}, {}, x, None
    for lyr in net.layers:
        if isinstance(lyr, MaxPool2d):
            cur = np.stack([ref.spike_maxpool2d(cur[None, t:t + 1], lyr)[0, 0] for t in range(t_steps)])
        elif isinstance(lyr, Readout):
            result = [sum(int(lyr.bias[k]) + sum(int(lyr.weight[k, i]) * int(v) for i, v in enumerate(cur[t].reshape(-1)))
                          for t in range(t_steps)) for k in range(lyr.weight.shape[0])]
            continue
        else:
            nrn, sign = lyr.neuron, lyr.signs
            lo, hi = -(2 ** (nrn.v_bits - 1)), 2 ** (nrn.v_bits - 1) - 1
            v, o, zs = None, [], []
            for t in range(t_steps):
                skip_t = outs[lyr.skip.source][t] if lyr.skip is not None else None
                res_t = streams[lyr.residual][t] if lyr.residual is not None else None
                z = _naive_stream(lyr, cur[t], skip_t, res_t)
                zs.append(z)
                v = np.zeros(z.shape, dtype=object) if v is None else v
                s_t = np.zeros(z.shape, dtype=np.int64)
                for idx in np.ndindex(z.shape):
                    c = idx[0]
                    vv = v[idx]
                    if nrn.leak_shift:
                        vv = vv - (vv // 2**nrn.leak_shift)
                    vv = min(hi, max(lo, vv + int(lyr.bias[c]) + int(sign[c]) * z[idx]))
                    if vv >= int(nrn.threshold[c]):
                        s_t[idx] = 1
                        vv = vv - int(nrn.threshold[c]) if nrn.reset == "subtract" else 0
                    v[idx] = vv
                o.append(s_t)
            cur, streams[lyr.name] = np.stack(o), np.stack(zs)
        outs[lyr.name] = cur
    return outs, result


@pytest.mark.parametrize("seed", range(10))
def test_reference_equals_naive_loops_on_random_preresnets(seed):
    rng = np.random.default_rng(500 + seed)
    net = random_preresnet_intnet(rng, max_hw=6, max_channels=4, max_time_steps=4)
    x = random_inputs(rng, net, 2)
    r = ref.run(net, x)
    for n in range(2):
        outs, result = _naive_run(net, x[n])
        for name, s in r.spikes.items():
            np.testing.assert_array_equal(s[n], outs[name], err_msg=f"seed {seed} layer {name}")
        assert r.readout[n].tolist() == result


def _tiny_chain(sign=None, residual="a") -> IntNet:
    """a (1x1 conv, 2 ch) -> b (1x1 conv adding a's stream) -> readout, on 1x1 rate inputs."""
    a = SpikingConv2d("a", np.array([[[[3]]], [[[2]]]]), np.zeros(2), Neuron(np.array([5, 5])), w_bits=4)
    b = SpikingConv2d("b", np.array([[[[1], [0]]], [[[0], [1]]]]).reshape(2, 2, 1, 1), np.array([0, 4]),
                      Neuron(np.array([4, 4])), w_bits=4, residual=residual, current_sign=sign)
    return IntNet((1, 1, 1), 3, "rate", [a, b, Readout("r", np.eye(2, dtype=np.int64), np.zeros(2), w_bits=2)])


def test_hand_computed_stream_and_signs():
    # input spikes 1,1,1: z_a = (3, 2) each step; a fires (V 3,6->1,4 / 2,4,6->1): s_a = [0,1,0], [0,0,1]
    # b: z_b = W s_a + z_a = (3 + s_a0, 2 + s_a1); sign (+1, -1): I = (z0, 4 - z1)
    net = _tiny_chain(sign=np.array([1, -1]))
    x = np.ones((1, 3, 1, 1, 1), dtype=np.int64)
    r = ref.run(net, x)
    assert r.spikes["a"][0, :, :, 0, 0].tolist() == [[0, 0], [1, 0], [0, 1]]
    # ch0: z = 3, 4, 3 -> V 3, 7 -> spike (zero) 0, 3 ; ch1: I = 2, 2, 1 -> V 2, 4 -> spike, 1
    assert r.spikes["b"][0, :, :, 0, 0].tolist() == [[0, 0], [1, 1], [0, 0]]
    _, z = ref.spiking_conv2d(r.spikes["a"], net.layers[1], None, ref.spiking_conv2d(x, net.layers[0], return_stream=True)[1],
                              return_stream=True)
    assert z[0, :, :, 0, 0].tolist() == [[3, 2], [4, 2], [3, 3]]


def test_sign_zero_ignores_the_stream():
    net = _tiny_chain(sign=np.array([0, 0]))
    x = np.ones((1, 3, 1, 1, 1), dtype=np.int64)
    # I = bias = (0, 4): channel 0 never fires, channel 1 fires every step (threshold 4)
    assert ref.run(net, x).spikes["b"][0, :, :, 0, 0].tolist() == [[0, 1], [0, 1], [0, 1]]


def test_unset_fields_are_the_plain_layer():
    """residual None and current_sign None / all +1 give today's layer, bit for bit."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        net = random_intnet(rng)
        x = random_inputs(rng, net, 2)
        plain = ref.run(net, x)
        ones = IntNet(net.input_shape, net.time_steps, net.encoding, [
            dataclasses.replace(lyr, current_sign=np.ones(lyr.weight.shape[0], np.int64)) if isinstance(lyr, SpikingConv2d) else lyr
            for lyr in net.layers
        ])
        ones.validate()
        signed = ref.run(ones, x)
        for k in plain.spikes:
            np.testing.assert_array_equal(plain.spikes[k], signed.spikes[k])
        np.testing.assert_array_equal(plain.readout, signed.readout)


def test_save_load_round_trip(tmp_path):
    for seed in range(6):
        rng = np.random.default_rng(seed)
        net = random_preresnet_intnet(rng)
        net.save(tmp_path / "n.npz")
        back = IntNet.load(tmp_path / "n.npz")
        for a, b in zip(net.layers, back.layers):
            assert getattr(a, "residual", None) == getattr(b, "residual", None)
            sa, sb = getattr(a, "current_sign", None), getattr(b, "current_sign", None)
            assert (sa is None and sb is None) or np.array_equal(sa, sb)
        x = random_inputs(rng, net, 2)
        np.testing.assert_array_equal(ref.run(net, x).readout, ref.run(back, x).readout)


def test_run_in_sample_chunks_equals_one_batch(monkeypatch):
    rng = np.random.default_rng(3)
    net = random_preresnet_intnet(rng)
    x = random_inputs(rng, net, 7)
    whole = ref.run(net, x)
    monkeypatch.setattr(ref, "_CHUNK_ELEMS", 1)  # one sample per chunk
    parts = ref.run(net, x)
    for k in whole.spikes:
        np.testing.assert_array_equal(whole.spikes[k], parts.spikes[k])
    np.testing.assert_array_equal(whole.readout, parts.readout)


def test_generator_draws_every_shortcut_and_sign():
    seen = set()
    for seed in range(40):
        net = random_preresnet_intnet(np.random.default_rng(seed))
        for lyr in net.layers:
            if isinstance(lyr, SpikingConv2d):
                seen |= {f"sign{v}" for v in lyr.signs.tolist()}
                if lyr.residual is not None:
                    seen.add("identity+skip" if lyr.skip is not None else "identity")
                elif lyr.skip is not None:
                    seen.add(f"projection/{lyr.skip.stride}")
        seen.add(net.encoding)
    assert seen >= {"sign1", "sign-1", "sign0", "identity", "identity+skip", "projection/1", "projection/2",
                    "direct", "rate", "bitplane"}


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(residual="nope"), "residual 'nope' is not an earlier layer"),
        (dict(residual="b"), "residual 'b' is not an earlier layer"),
        (dict(current_sign=np.array([1, 2])), "current_sign values must be -1, 0 or +1"),
        (dict(current_sign=np.array([1])), "current_sign has shape (1,), needs (2,)"),
        (dict(w_scale=np.array([0.5, 1.0])), "residual 'a' has acc_scale [1.0, 1.0], needs the same as b"),
    ],
)
def test_validate_names_the_layer(change, message):
    net = _tiny_chain()
    net.layers[1] = dataclasses.replace(net.layers[1], **change)
    with pytest.raises(SpikehlsError, match=re.escape("layer b: " + message)):
        net.validate()


def test_validate_residual_shape_and_kind():
    net = _tiny_chain()
    pool = MaxPool2d("p", kernel=1, stride=1)
    net.layers.insert(1, pool)
    net.layers[2] = dataclasses.replace(net.layers[2], residual="p")
    with pytest.raises(SpikehlsError, match="layer b: residual 'p' is a maxpool layer, allowed: a conv layer"):
        net.validate()
    wide = SpikingConv2d("a", np.ones((3, 1, 1, 1)), np.zeros(3), Neuron(np.ones(3)), w_bits=4)
    b = SpikingConv2d("b", np.ones((2, 3, 1, 1)), np.zeros(2), Neuron(np.ones(2)), w_bits=4, residual="a")
    net = IntNet((1, 1, 1), 1, "rate", [wide, b, Readout("r", np.eye(2, dtype=np.int64), np.zeros(2), w_bits=2)])
    with pytest.raises(SpikehlsError, match=r"layer b: residual 'a' has output \(3, 1, 1\), needs \(2, 1, 1\)"):
        net.validate()


# ---- QONNX: export, execution, read back ---------------------------------------------------------
def _qonnx_matches(model, net: IntNet, x: np.ndarray) -> None:
    from spikehls.quantize.qonnx_export import run_qonnx

    r = ref.run(net, x)
    readout, spikes = run_qonnx(model, x)
    np.testing.assert_array_equal(readout, r.readout)
    assert set(spikes) == set(r.spikes)
    for name, s in r.spikes.items():
        np.testing.assert_array_equal(spikes[name], s, err_msg=f"layer {name}")


@pytest.mark.parametrize("seed", range(12))
def test_qonnx_execution_equals_reference_on_random_preresnets(seed):
    from spikehls.quantize.qonnx_export import build_qonnx, intnet_from_qonnx, intnets_equal

    rng = np.random.default_rng(700 + seed)
    net = random_preresnet_intnet(rng, max_hw=7)
    x = random_inputs(rng, net, 2)
    model = build_qonnx(net)
    _qonnx_matches(model, net, x)
    assert intnets_equal(intnet_from_qonnx(model), net)


def test_qonnx_graph_carries_the_stream_as_a_second_output():
    from spikehls.quantize.qonnx_export import build_qonnx

    net = _tiny_chain(sign=np.array([1, -1]))
    model = build_qonnx(net)
    a, b = (n for n in model.graph.node if n.op_type == "SpikingConv2d")
    assert list(a.output) == ["a_spikes", "a_stream"]
    assert list(b.output) == ["b_spikes"]  # not a residual source: no stream output
    assert b.input[-1] == "a_stream"
    attrs = {at.name: at for at in b.attribute}
    assert attrs["has_residual"].i == 1 and list(attrs["current_sign"].ints) == [1, -1]
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in model.graph.value_info}
    assert shapes["a_stream"] == [1, 3, 2, 1, 1]


@pytest.mark.parametrize("seed", [1, 4, 9])
def test_qonnx_cleanup_and_channels_last_keep_the_stream(tmp_path, seed):
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    from spikehls.quantize.qonnx_export import export_qonnx, intnet_from_qonnx, intnets_equal, load_qonnx

    rng = np.random.default_rng(seed)
    net = random_preresnet_intnet(rng, max_hw=6)
    x = random_inputs(rng, net, 2)
    export_qonnx(net, tmp_path / "m.onnx")
    mw = cleanup_model(load_qonnx(tmp_path / "m.onnx")).transform(ConvertToChannelsLastAndClean())
    mw = cleanup_model(mw)
    _qonnx_matches(mw, net, x)
    assert intnets_equal(intnet_from_qonnx(mw), net)


def test_qonnx_stream_tensor_must_come_from_a_stream_output():
    from spikehls.quantize.qonnx_export import build_qonnx, intnet_from_qonnx

    model = build_qonnx(_tiny_chain())
    b = next(n for n in model.graph.node if n.name == "b")
    b.input[-1] = "a_spikes"
    with pytest.raises(SpikehlsError, match="residual input of 'b' is not the stream output of an earlier conv"):
        intnet_from_qonnx(model)


@pytest.mark.slow
def test_qonnx_execution_equals_reference_on_many_random_preresnets():
    from hypothesis import HealthCheck, given, settings

    from spikehls.quantize.qonnx_export import build_qonnx, intnet_from_qonnx, intnets_equal
    from spikehls.quantize.random_net import random_preresnet_strategy

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(random_preresnet_strategy())
    def check(case):
        net, x = case
        model = build_qonnx(net)
        _qonnx_matches(model, net, x)
        assert intnets_equal(intnet_from_qonnx(model), net)

    check()


# ---- PyTorch PreResNet -> integer net: torch eval == reference ----------------------------------
def _preresnet(enc: str, reset: str, seed: int = 0):
    """A small PreResNet (identity and projection blocks) with random BN (negative and zero gamma) and masks."""
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from _qnets import randomize_bn

    from spikehls.config import config_from_dict
    from spikehls.training.masks import Masks, apply_masks
    from spikehls.training.models import build_model

    cfg = config_from_dict({
        "model": {"preset": None, "arch": "preresnet", "stem": 6, "stages": [[6, 1, 1], [8, 1, 2]]},
        "neuron": {"kind": "lif", "reset": reset, "threshold": 0.6, "leak_shift": 2},
        "encoding": {"kind": enc}, "quant": {"w_bits": 4},
    })
    torch.manual_seed(seed)
    model = build_model(cfg, 8 if enc == "bitplane" else 1, (8, 8), 10)
    randomize_bn(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        model.blocks[0].bn1.weight[1] = 0.0  # gamma == 0 on the stem's stream: sign 0
        model.blocks[1].bn1.weight[0] = -0.8  # a negative gamma for sure: sign -1
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.mul_(2.5)  # stronger weights so that deep layers fire
    masks = Masks.full(model.prunable_groups())
    rng = np.random.default_rng(seed)
    for g in masks.groups.values():
        g.keep[:] = rng.random(g.keep.size) < 0.7
        g.keep[1] = True  # keep the gamma-0 channel of the stem stream
        g.keep[0] = True
    apply_masks(model, masks)
    return cfg, model.eval(), masks


def _export_chain(cfg, model, masks, enc: str, t_steps: int):
    from spikehls.quantize.extract import extract
    from spikehls.quantize.floatnet import from_training_model
    from spikehls.quantize.fold import fold_bn
    from spikehls.quantize.qat import quantize_net
    from spikehls.quantize.slim import keep_from_masks, slim

    fnet = from_training_model(model, enc, t_steps)
    q = quantize_net(fold_bn(slim(fnet, keep_from_masks(fnet, masks))), cfg.quant, cfg)
    return fnet, q, extract(q)


def _torch_equals_reference(q, net: IntNet, x: np.ndarray, train_path: bool = True) -> ref.RefResult:
    import torch

    xf = torch.from_numpy(x).float() * q.in_scale
    r = ref.run(net, x)
    paths = (False, True) if train_path else (False,)
    for training in paths:
        q.train(training)
        with torch.no_grad():
            _, outs = q(xf, record=True)
        for name, s in r.spikes.items():
            np.testing.assert_array_equal(outs[name].numpy().astype(np.uint8), s, err_msg=f"train={training} {name}")
    q.eval()
    with torch.no_grad():
        q(xf)
    np.testing.assert_array_equal(q.readout_int().numpy(), r.readout)
    return r


@pytest.mark.parametrize("enc,reset", [("rate", "zero"), ("direct", "subtract"), ("bitplane", "zero")])
def test_torch_preresnet_equals_reference_with_negative_and_zero_gamma(enc, reset):
    from spikehls.training.encoding import encode_int

    cfg, model, masks = _preresnet(enc, reset)
    _, q, net = _export_chain(cfg, model, masks, enc, 4)
    stem, conv2 = net.layer("stem"), net.layer("blocks.0.conv2")
    assert conv2.residual == "stem" and net.layer("blocks.1.conv2").skip is not None  # identity, projection
    assert 0 in stem.signs and -1 in net.layer("blocks.0.conv2").signs.tolist() + stem.signs.tolist()
    assert np.array_equal(stem.acc_scale, conv2.acc_scale)
    images = np.random.default_rng(1).integers(0, 256, size=(10, 1, 8, 8), dtype=np.uint8)
    x = encode_int(images, enc, 4, seed=3)
    r = _torch_equals_reference(q, net, x)
    assert all(int(s.sum()) > 0 for s in r.spikes.values()), "a silent layer would prove nothing"
    _qonnx_matches(__import__("spikehls.quantize.qonnx_export", fromlist=["build_qonnx"]).build_qonnx(net), net, x[:2])


def test_fold_divides_by_gamma_and_keeps_the_float_spikes():
    import torch

    from spikehls.quantize.fold import fold_bn

    cfg, model, masks = _preresnet("rate", "subtract", seed=2)
    from spikehls.quantize.floatnet import from_training_model

    fnet = from_training_model(model, "rate", 4)
    folded = fold_bn(fnet)
    stem = folded.layers[0]
    bn = model.blocks[0].bn1
    a = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    assert stem.sign.tolist() == torch.sign(a).tolist() and stem.sign[1] == 0
    torch.testing.assert_close(stem.neuron.threshold, torch.where(a == 0, torch.ones_like(a), a.abs()).reciprocal() * 0.6)
    x = torch.from_numpy(random_inputs(np.random.default_rng(0), IntNet((1, 8, 8), 4, "rate", []), 6)).float()
    with torch.no_grad():
        _, a_outs = fnet(x, record=True)
        _, b_outs = folded(x, record=True)
        y = model(x.transpose(0, 1))
    torch.testing.assert_close(y * 4, fnet(x))
    for k in a_outs:
        assert torch.equal(a_outs[k], b_outs[k]), k


def test_quantized_preresnet_save_load_round_trip(tmp_path):
    import torch

    from spikehls.quantize.qat import load_quantized, save_quantized

    cfg, model, masks = _preresnet("direct", "zero", seed=3)
    _, q, net = _export_chain(cfg, model, masks, "direct", 3)
    save_quantized(q, tmp_path / "q.pt", cfg.to_yaml())
    q2 = load_quantized(tmp_path / "q.pt")
    x = random_inputs(np.random.default_rng(0), net, 4)
    xf = torch.from_numpy(x).float() * q.in_scale
    with torch.no_grad():
        q(xf)
        a = q.readout_int().clone()
        q2(xf)
    assert torch.equal(a, q2.readout_int())
    assert [lyr.peers != [] for lyr in q2.layers if getattr(lyr, "stream", False)] == \
        [lyr.peers != [] for lyr in q.layers if getattr(lyr, "stream", False)]


def test_slimming_refuses_an_untied_stream_mask():
    from spikehls.quantize.floatnet import from_training_model
    from spikehls.quantize.slim import slim

    _, model, _ = _preresnet("rate", "zero")
    fnet = from_training_model(model, "rate", 2)
    keep = {"stem": np.array([True, True, False, True, True, True])}  # blocks.0.conv2 keeps all 6
    with pytest.raises(SpikehlsError, match="layer blocks.0.conv2: its residual stream from stem is not pruned consistently"):
        slim(fnet, keep)


def test_average_pooling_is_refused_naming_the_layer():
    import torch

    from spikehls.quantize.floatnet import from_training_model

    _, model, _ = _preresnet("rate", "zero")
    model.pools.append(torch.nn.AvgPool2d(2))
    with pytest.raises(SpikehlsError, match=r"layer pools.0: AvgPool2d cannot be exported .*use nn.MaxPool2d"):
        from_training_model(model, "rate", 2)


@pytest.mark.slow
def test_trained_preresnet_digits_torch_equals_reference(tmp_path):
    """A PreResNet trained one epoch on digits, exported in memory: eval torch == reference == QONNX."""
    import torch

    from spikehls.config import config_from_dict
    from spikehls.quantize.export_run import encoded_batches
    from spikehls.training.datasets import load_dataset
    from spikehls.training.masks import Masks
    from spikehls.training.trainer import load_run, train

    cfg = config_from_dict({
        "model": {"preset": None, "arch": "preresnet", "stem": 6, "stages": [[6, 1, 1], [8, 1, 2]]},
        "dataset": {"train_limit": 200, "test_limit": 24}, "train": {"epochs": 1, "time_steps": 3},
        "encoding": {"kind": "rate"}, "sca": {"p": 0.3, "q": 0.05}, "quant": {"w_bits": 4},
    })
    torch.manual_seed(0)
    train(cfg, tmp_path / "run", progress=False)
    cfg, model, masks, _ = load_run(tmp_path / "run")
    masks = masks if masks is not None else Masks.full(model.prunable_groups())
    _, q, net = _export_chain(cfg, model.eval(), masks, "rate", 3)
    _, test = load_dataset(cfg.dataset, seed=cfg.train.seed)
    _, x = next(encoded_batches(test.images[:24], cfg))
    r = _torch_equals_reference(q, net, x)
    assert sum(int(s.sum()) for s in r.spikes.values()) > 0
    _qonnx_matches(__import__("spikehls.quantize.qonnx_export", fromlist=["build_qonnx"]).build_qonnx(net), net, x[:3])
