"""Model structure (the quantize stage depends on it), presets, prune groups and SynOps counting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikehls.config import Config, config_from_dict
from spikehls.errors import SpikehlsError
from spikehls.training.models import PRESETS, BasicBlock, ConvBlock, build_model, resolve_model_config
from spikehls.training.neurons import SpikingNeuron
from spikehls.training.synops import ActivityMonitor, conv_fanout_map, energy_pj, measure


def _cfg(**model) -> Config:
    return config_from_dict({"model": model})


SMALL_HW = {"digits": (8, 8), "mnist": (28, 28), "resnet_small": (12, 12), "preresnet_small": (12, 12)}


@pytest.mark.parametrize("preset", list(SMALL_HW))
def test_small_presets_forward_backward(preset):
    torch.manual_seed(0)
    m = build_model(_cfg(preset=preset), 1, SMALL_HW[preset], 10)
    x = torch.rand(2, 3, 1, *SMALL_HW[preset])
    y = m(x)
    assert y.shape == (3, 10)
    y.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("preset", ["vgg11", "vgg16", "resnet19"])
def test_cifar_presets_build(preset):
    m = build_model(_cfg(preset=preset), 3, (32, 32), 10)
    assert m.readout.out_features == 10
    assert resolve_model_config(_cfg(preset=preset).model).arch == PRESETS[preset]["arch"]


def test_vgg_structure_names_and_biases():
    m = build_model(_cfg(preset=None, arch="vgg", layers=[4, "M", 6], hidden=[5]), 2, (8, 8), 3)
    b0, b1 = m.features
    assert isinstance(b0, ConvBlock) and isinstance(b0.pool, nn.MaxPool2d) and b1.pool is None
    assert b0.conv.bias is None and b0.conv.kernel_size == (3, 3) and b0.conv.padding == (1, 1)
    assert isinstance(b0.bn, nn.BatchNorm2d) and isinstance(b0.neuron, SpikingNeuron)
    assert m.hidden[0].fc.in_features == 6 * 4 * 4 and m.hidden[0].fc.bias is None
    assert m.readout.in_features == 5 and m.readout.bias is not None
    assert m.input_layer == "features.0.conv"
    assert m.model_args == {"in_channels": 2, "image_hw": [8, 8], "num_classes": 3}
    assert not any(isinstance(x, nn.AvgPool2d) for x in m.modules())


def test_forward_is_mean_over_t_of_per_step_readout():
    torch.manual_seed(1)
    m = build_model(_cfg(preset=None, arch="vgg", layers=[4, "M"]), 1, (6, 6), 3).eval()
    x = torch.rand(3, 2, 1, 6, 6)
    blk = m.features[0]
    # per-step reference: conv/bn per step, neuron over time, pool per step, readout per step
    cur = torch.stack([blk.bn(blk.conv(x[t])) for t in range(3)])
    s = blk.neuron(cur)
    s = torch.stack([blk.pool(s[t]) for t in range(3)])
    ref = torch.stack([m.readout(s[t].flatten(1)) for t in range(3)]).sum(0) / 3
    assert torch.allclose(m(x), ref, atol=1e-6)


def test_preset_arch_conflict_and_overrides():
    with pytest.raises(SpikehlsError, match="conflicts with model.preset"):
        build_model(_cfg(preset="resnet_small", arch="vgg"), 1, (8, 8), 10)
    m = build_model(_cfg(preset="resnet_small"), 1, (8, 8), 10)  # arch follows the preset
    assert type(m).__name__ == "ResNet"
    m = build_model(_cfg(preset="digits", layers=[3, "M"]), 1, (8, 8), 10)
    assert [b.conv.out_channels for b in m.features] == [3]
    with pytest.raises(SpikehlsError, match="model.layers is required"):
        build_model(_cfg(preset=None), 1, (8, 8), 10)


def test_bad_layer_lists():
    with pytest.raises(SpikehlsError, match="model.layers\\[0\\]"):
        build_model(_cfg(preset=None, layers=["M", 4]), 1, (8, 8), 10)
    with pytest.raises(SpikehlsError, match="shrinks"):
        build_model(_cfg(preset=None, layers=[4, "M", 4, "M", 4, "M", 4, "M"]), 1, (8, 8), 10)


def test_resnet_identity_shortcut_adds_input_spikes():
    torch.manual_seed(0)
    blk = BasicBlock(3, 3, 1, Config().neuron).eval()
    assert blk.shortcut is None
    with torch.no_grad():
        blk.conv2.weight.zero_()
        blk.bn2.bias.zero_()
    x = (torch.rand(2, 4, 3, 5, 5) > 0.5).float()
    # current = 0 + input spike (1.0 = threshold) -> output spikes equal input spikes
    assert torch.equal(blk(x), x)


def test_resnet_groups_tie_identity_channels():
    m = build_model(_cfg(preset=None, arch="resnet", stem=4, stages=[(4, 2, 1), (6, 1, 2)]), 1, (8, 8), 10)
    groups = {g.name: g for g in m.prunable_groups()}
    stem = groups["stem.conv"]
    assert stem.member_names == ["stem.conv", "stages.0.0.conv2", "stages.0.1.conv2"]
    assert [n for n, _ in stem.neurons] == ["stem.neuron", "stages.0.0.neuron2", "stages.0.1.neuron2"]
    down = groups["stages.1.0.conv2"]
    assert down.member_names == ["stages.1.0.conv2", "stages.1.0.shortcut.0"]
    assert {"stages.0.0.conv1", "stages.0.1.conv1", "stages.1.0.conv1"} <= set(groups)
    # every conv of the model is in exactly one group; no dense/readout
    convs = [n for n, mod in m.named_modules() if isinstance(mod, nn.Conv2d)]
    members = [n for g in groups.values() for n in g.member_names]
    assert sorted(convs) == sorted(members)


def test_preresnet_groups_cover_all_convs():
    m = build_model(_cfg(preset="preresnet_small"), 1, (8, 8), 10)
    groups = m.prunable_groups()
    convs = [n for n, mod in m.named_modules() if isinstance(mod, nn.Conv2d)]
    assert sorted(convs) == sorted(n for g in groups for n in g.member_names)
    stream = groups[0]
    assert ("bn", m.bn) not in stream.bns  # the final BN reads the last stage's stream, not the stem's
    assert any(name == "bn" for g in groups for name, _ in g.bns)


# ---- SynOps ------------------------------------------------------------------------------------


def test_conv_fanout_map_borders():
    assert conv_fanout_map(3, 3, 3, 1, 1).tolist() == [[4, 6, 4], [6, 9, 6], [4, 6, 4]]
    assert conv_fanout_map(4, 4, 3, 2, 1).tolist()[0] == [1, 2, 1, 1]
    # total fan-out = (outputs) x (kernel taps that land inside)
    assert conv_fanout_map(5, 5, 3, 1, 0).sum() == 9 * 9


def _one_layer_model():
    torch.manual_seed(0)
    return build_model(_cfg(preset=None, arch="vgg", layers=[2]), 1, (3, 3), 4)


def test_synops_hand_computed_spike_input():
    m = _one_layer_model()
    x = torch.zeros(2, 1, 1, 3, 3)  # T=2, N=1
    x[0, 0, 0, 0, 0] = 1.0  # corner spike: feeds 4 output positions x 2 channels
    x[1, 0, 0, 1, 1] = 1.0  # centre spike: 9 positions x 2 channels
    spikes = {}
    m.features[0].neuron.register_forward_hook(lambda mod, i, o: spikes.update(n=float(o.sum())))
    r = measure(m, x, direct_input=False)
    assert r["synops_per_layer"]["features.0.conv"] == 4 * 2 + 9 * 2
    assert r["synops_per_layer"]["readout"] == spikes["n"] * 4
    assert r["macs_per_sample"] == 0
    assert r["synops_per_sample"] == 26 + spikes["n"] * 4
    # a masked output channel is not fed
    with torch.no_grad():
        m.features[0].conv.weight[1] = 0
    assert measure(m, x, direct_input=False)["synops_per_layer"]["features.0.conv"] == 4 + 9


def test_direct_input_counted_as_macs_and_energy():
    m = _one_layer_model()
    x = torch.rand(3, 2, 1, 3, 3)  # T=3, N=2
    r = measure(m, x, direct_input=True)
    # per sample: T * C_in * sum(fan-out map) * kept outputs = 3 * 1 * 49 * 2
    assert r["macs_per_sample"] == 3 * 49 * 2
    assert "features.0.conv" not in r["synops_per_layer"]
    assert r["energy_pj_per_sample"] == pytest.approx(0.9 * r["synops_per_sample"] + 4.6 * r["macs_per_sample"])
    assert energy_pj(10, 1) == pytest.approx(13.6)


def test_firing_rates_and_identity_skip_counted():
    torch.manual_seed(0)
    m = build_model(_cfg(preset="resnet_small"), 1, (8, 8), 10)
    x = (torch.rand(2, 3, 1, 8, 8) > 0.5).float()
    stem_out = {}
    m.stem.register_forward_hook(lambda mod, i, o: stem_out.update(s=o.detach().clone()))
    with torch.no_grad(), ActivityMonitor(m.eval(), direct_input=False) as mon:
        m(x)
    r = mon.result()
    assert r["synops_per_layer"]["stages.0.0.skip"] == pytest.approx(float(stem_out["s"].sum()) / 3)
    assert r["firing_rate"]["stem.neuron"] == pytest.approx(float(stem_out["s"].mean()))
    assert not any(n.record for n in m.modules() if isinstance(n, SpikingNeuron))  # restored
