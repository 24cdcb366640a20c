"""Slimming: removing SCA-pruned channels changes no surviving spike (VGG, ResNet, dense heads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _qnets import model_config, randomize_bn
from spikehls.errors import SpikehlsError
from spikehls.quantize.floatnet import FConv, FDense, from_training_model
from spikehls.quantize.slim import count_params, keep_from_masks, slim
from spikehls.training.masks import Masks, apply_masks
from spikehls.training.models import build_model


def _masked(arch: str, hidden=(), seed: int = 0, keep_p: float = 0.5, neuron="if", reset="zero"):
    cfg = model_config(arch, neuron, reset, "rate", model={"hidden": list(hidden)})
    torch.manual_seed(seed)
    model = build_model(cfg, 1, (8, 8), 10)
    randomize_bn(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.mul_(2.0)
    masks = Masks.full(model.prunable_groups())
    rng = np.random.default_rng(seed)
    for g in masks.groups.values():
        g.keep[:] = rng.random(g.keep.size) < keep_p
        g.keep[rng.integers(g.keep.size)] = True
    apply_masks(model, masks)
    return model.eval(), masks


@pytest.mark.parametrize("arch,hidden,neuron,reset", [
    ("vgg", (), "if", "zero"), ("vgg", (9,), "lif", "subtract"),
    ("resnet", (), "lif", "zero"), ("resnet", (6,), "if", "subtract"),
])
def test_slim_equals_masked_model(arch, hidden, neuron, reset):
    model, masks = _masked(arch, hidden, neuron=neuron, reset=reset)
    T = 4
    x = (torch.rand(T, 16, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    with torch.no_grad():
        y_model = model(x)  # mean over T
        fnet = from_training_model(model, "rate", T)
        y_low, outs = fnet(x.transpose(0, 1), record=True)
        slim_net = slim(fnet, keep_from_masks(fnet, masks))
        y_slim, souts = slim_net(x.transpose(0, 1), record=True)
    torch.testing.assert_close(y_low / T, y_model, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y_slim, y_low, rtol=1e-5, atol=1e-5)
    fired = 0
    for lyr in fnet.layers:
        if lyr.kind == "readout":
            continue
        full, small = outs[lyr.name], souts[lyr.name]
        if isinstance(lyr, FConv) or lyr.kind == "maxpool":
            # find the conv whose channels this output carries
            keep = None
            for prev in fnet.layers:
                if isinstance(prev, FConv):
                    keep = keep_from_masks(fnet, masks).get(prev.name, keep)
                if prev is lyr:
                    break
            idx = torch.as_tensor(np.flatnonzero(keep))
            assert torch.equal(full[:, :, idx], small), lyr.name
            # the pruned channels were silent in the masked model
            rest = torch.as_tensor(np.flatnonzero(~keep))
            assert full[:, :, rest].sum() == 0, lyr.name
        else:
            assert torch.equal(full, small), lyr.name
        fired += int(small.sum())
    assert fired > 0


def test_slim_counts_and_shapes():
    model, masks = _masked("resnet", (5,), keep_p=0.4)
    fnet = from_training_model(model, "direct", 2)
    s = slim(fnet, keep_from_masks(fnet, masks))
    for lyr in s.layers:
        if isinstance(lyr, FConv):
            assert lyr.conv.out_channels == int(masks.layer_keep(lyr.name).sum())
            assert lyr.bn.num_features == lyr.conv.out_channels
            if lyr.skip is not None and lyr.skip.conv is not None:
                assert lyr.skip.conv.out_channels == lyr.conv.out_channels
    dense, kept = count_params(fnet), count_params(s)
    assert kept["parameters"] < dense["parameters"]
    assert kept["channels"] == sum(int(masks.layer_keep(n).sum()) for n in keep_from_masks(fnet, masks)) + 5
    assert dense["channels"] == sum(lyr.conv.out_channels for lyr in fnet.layers if isinstance(lyr, FConv)) + 5
    # the first dense layer reads the flattened (C, H, W) of the kept channels only
    d = next(lyr for lyr in s.layers if isinstance(lyr, FDense))
    last_conv = [lyr for lyr in s.layers if isinstance(lyr, FConv)][-1]
    assert d.linear.in_features % last_conv.conv.out_channels == 0


def test_per_channel_thresholds_are_slimmed():
    model, masks = _masked("vgg")
    with torch.no_grad():
        n = model.features[1].neuron
        n.threshold = torch.linspace(0.5, 1.5, model.features[1].conv.out_channels)
    fnet = from_training_model(model, "rate", 2)
    keep = keep_from_masks(fnet, masks)
    s = slim(fnet, keep)
    assert torch.equal(s.layers[1].neuron.threshold, n.threshold[torch.as_tensor(np.flatnonzero(keep["features.1.conv"]))])


def test_untied_identity_skip_and_empty_layer_are_errors():
    model, masks = _masked("resnet")
    fnet = from_training_model(model, "rate", 2)
    keep = keep_from_masks(fnet, masks)
    bad = dict(keep)
    bad["stages.0.0.conv2"] = ~keep["stages.0.0.conv2"] | keep["stages.0.0.conv2"]  # all kept, stem pruned
    if np.array_equal(bad["stages.0.0.conv2"], keep["stem.conv"]):
        bad["stem.conv"] = keep["stem.conv"].copy()
        bad["stem.conv"][0] = not bad["stem.conv"][0]
    with pytest.raises(SpikehlsError, match="tied residual"):
        slim(fnet, bad)
    empty = dict(keep)
    empty["stages.0.0.conv1"] = np.zeros_like(keep["stages.0.0.conv1"])
    with pytest.raises(SpikehlsError, match="all channels are pruned"):
        slim(fnet, empty)
    with pytest.raises(SpikehlsError, match="does not have"):
        slim(fnet, {"nope": np.ones(3, bool)})
