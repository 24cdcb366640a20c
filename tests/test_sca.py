"""SCA pruning as specified: score, prune count, regrowth by BN-gamma gradient, masking, ties, targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spikehls.config import config_from_dict
from spikehls.errors import SpikehlsError
from spikehls.training.masks import Masks, apply_masks
from spikehls.training.models import build_model
from spikehls.training.sca import SCAPruner


def _vgg(layers=(8, 12, "M", 10), hw=(6, 6)):
    torch.manual_seed(0)
    cfg = config_from_dict({"model": {"preset": None, "arch": "vgg", "layers": list(layers)}})
    return build_model(cfg, 1, hw, 5)


def _resnet():
    torch.manual_seed(0)
    cfg = config_from_dict({"model": {"preset": None, "arch": "resnet", "stem": 6, "stages": [[6, 2, 1], [8, 1, 2]]}})
    return build_model(cfg, 1, (8, 8), 5)


def _feed(pruner: SCAPruner, scores: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
    """Pretend one minibatch produced these per-group scores and BN-gamma gradients."""
    for g, s, gr in zip(pruner.groups, scores, grads):
        for _, n in g.neurons:
            n.last_score = s.clone()
        g.bns[0][1].weight.grad = gr.clone().float()
        for _, bn in g.bns[1:]:
            bn.weight.grad = torch.zeros_like(bn.weight)
    pruner.after_backward()
    pruner.after_step()


def _train_step(model, pruner, opt, x, y):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    pruner.after_backward()
    opt.step()
    pruner.after_step()


def test_score_is_running_mean_of_minibatch_scores_and_resets():
    m = _vgg()
    pr = SCAPruner(m, p=0.5, q=0.1)
    x1, x2 = torch.rand(4, 3, 1, 6, 6), torch.rand(4, 3, 1, 6, 6)
    y = torch.tensor([0, 1, 2])
    opt = torch.optim.SGD(m.parameters(), lr=0.0)  # lr 0: the network does not change between batches
    per_batch = []
    for x in (x1, x2):
        _train_step(m, pr, opt, x, y)
        per_batch.append([n.last_score.double().clone() for _, n in m.spiking_neurons()])
    for i, s in enumerate(pr.scores()):
        assert torch.allclose(s, (per_batch[0][i] + per_batch[1][i]) / 2)
    # recompute batch 1's score of layer 0 by hand: mean over t, n, h, w of S + |V after reset|
    blk = m.features[0]
    with torch.no_grad():
        m.train()
        cur = blk.bn(blk.conv(x2.flatten(0, 1))).view(4, 3, 8, 6, 6)
        v, acc = torch.zeros_like(cur[0]), torch.zeros(8, dtype=torch.float64)
        for t in range(4):
            v = v + cur[t]
            s = (v >= 1.0).float()
            v = v * (1 - s)
            acc += (s + v.abs()).sum(dim=(0, 2, 3)).double()
    assert torch.allclose(per_batch[1][0], acc / (4 * 3 * 6 * 6), atol=1e-6)
    pr.update_masks()
    assert all(float(s.abs().sum()) == 0 for s in pr.scores())


@pytest.mark.parametrize("p,q", [(0.5, 0.1), (0.7, 0.05), (0.3, 0.0), (0.55, 0.15)])
def test_prune_and_regrow_counts(p, q):
    m = _vgg()
    pr = SCAPruner(m, p=p, q=q)
    gen = torch.Generator().manual_seed(1)
    scores = [torch.rand(g.size, generator=gen) + 0.1 for g in pr.groups]
    grads = [torch.rand(g.size, generator=gen) + 0.1 for g in pr.groups]
    _feed(pr, scores, grads)
    masks = pr.update_masks()
    M = 30
    assert masks.total() == M
    assert pr.last_update["kept_by_score"] == math.floor((1 - p - q) * M + 1e-9)
    assert pr.last_update["regrown"] == math.floor(q * M + 1e-9)
    assert masks.kept() == math.floor((1 - p - q) * M + 1e-9) + math.floor(q * M + 1e-9)


def test_keep_by_score_then_regrow_by_gamma_gradient():
    m = _vgg()
    pr = SCAPruner(m, p=0.5, q=0.1)  # M = 30: keep 12 by score, regrow 3 by gradient
    sc = torch.arange(30, dtype=torch.float64) / 30.0  # channel j scores j/30: keep the top 12 (18..29)
    gr = torch.zeros(30, dtype=torch.float64)
    gr[[0, 5, 17]] = torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)  # largest gradients among the pruned
    gr[[29, 28]] = 10.0  # already kept: must not count as regrowth
    gr[[1, 2]] = -0.5  # |grad| is what counts: 0.5 < 1.0
    sizes = [g.size for g in pr.groups]
    _feed(pr, list(torch.split(sc, sizes)), list(torch.split(gr, sizes)))
    masks = pr.update_masks()
    keep = np.concatenate([masks[g.name] for g in pr.groups])
    assert sorted(np.flatnonzero(keep).tolist()) == sorted([0, 5, 17] + list(range(18, 30)))


def test_masked_channels_emit_no_spikes_and_stay_masked():
    m = _vgg()
    pr = SCAPruner(m, p=0.6, q=0.0, masking="step")
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    x, y = torch.rand(4, 6, 1, 6, 6), torch.randint(0, 5, (6,))
    _train_step(m, pr, opt, x, y)
    masks = pr.update_masks()
    for _ in range(3):  # Adam momentum would revive masked weights if masks were not re-applied
        _train_step(m, pr, opt, x * 3, y)
    outs = {}
    for name, n in m.spiking_neurons():
        n.register_forward_hook(lambda mod, i, o, name=name: outs.update({name: o.detach()}))
    for mode in (True, False):
        m.train(mode)
        m(torch.rand(4, 6, 1, 6, 6) * 4)
        for i, g in enumerate(pr.groups):
            drop = ~torch.from_numpy(masks[g.name])
            assert drop.any()
            assert outs[f"features.{i}.neuron"][:, :, drop].sum() == 0
            assert g.convs[0][1].weight[drop].abs().sum() == 0
            assert g.bns[0][1].weight[drop].abs().sum() == 0 and g.bns[0][1].bias[drop].abs().sum() == 0


def test_tied_residual_channels_pruned_together():
    m = _resnet()
    pr = SCAPruner(m, p=0.5, q=0.0)
    x, y = (torch.rand(4, 5, 1, 8, 8) > 0.4).float(), torch.randint(0, 5, (5,))
    _train_step(m, pr, torch.optim.SGD(m.parameters(), lr=0.1), x, y)
    masks = pr.update_masks()
    stem = next(g for g in pr.groups if g.name == "stem.conv")
    assert len(stem.convs) == 3
    keep = masks["stem.conv"]
    drop = torch.from_numpy(~keep)
    for name, conv in stem.convs:
        assert conv.weight[drop].abs().sum() == 0, name
        assert masks.layer_keep(name) is keep
    outs = {}
    for name in ("stem.neuron", "stages.0.0.neuron2", "stages.0.1.neuron2"):
        m.get_submodule(name).register_forward_hook(lambda mod, i, o, name=name: outs.update({name: o.detach()}))
    m.eval()(x * 1.0)
    for name, o in outs.items():
        if drop.any():
            assert o[:, :, drop].sum() == 0, name
    counts = masks.layer_counts()
    assert counts["stem.conv"] == counts["stages.0.0.conv2"] == counts["stages.0.1.conv2"]
    assert masks.total() == 6 + 6 + 6 + 8 + 8  # stem group counted once


def test_group_score_is_mean_and_gradient_is_sum_over_members():
    m = _resnet()
    pr = SCAPruner(m, p=0.5, q=0.1)
    stem = next(g for g in pr.groups if g.name == "stem.conv")
    for k, (_, n) in enumerate(stem.neurons):
        n.last_score = torch.full((6,), float(k))
    assert torch.allclose(stem.score(), torch.full((6,), 1.0))
    for k, (_, bn) in enumerate(stem.bns):
        bn.weight.grad = torch.full((6,), -float(k + 1))
    assert torch.allclose(stem.gamma_grad(), torch.full((6,), 6.0, dtype=torch.float64))


def test_layer_targets_and_caps_respected():
    m = _vgg(layers=(8, 12, "M", 20))  # M = 40: keep 16 by score, regrow 4
    pr = SCAPruner(m, p=0.5, q=0.1, layer_targets={"features.1.conv": 0.75}, layer_caps={"features.0.conv": 2})
    # without limits group 0 (score 9) and group 1 (score 5) would take 20 of the 20 places
    sc = [torch.full((8,), 9.0), torch.full((12,), 5.0), torch.full((20,), 3.0)]
    _feed(pr, sc, [torch.ones(g.size) for g in pr.groups])
    masks = pr.update_masks()
    counts = masks.layer_counts()
    assert counts["features.0.conv"]["kept"] == 2  # cap
    assert counts["features.1.conv"]["kept"] == 3  # floor((1 - 0.75) * 12)
    assert counts["features.2.conv"]["kept"] == 15  # the global rule fills the rest
    assert masks.kept() == 16 + 4
    # without targets/caps: the plain global rule
    pr.set_targets({}, {})
    _feed(pr, sc, [torch.ones(g.size) for g in pr.groups])
    assert pr.update_masks().layer_counts()["features.0.conv"]["kept"] == 8


def test_no_layer_pruned_to_zero():
    m = _vgg()
    pr = SCAPruner(m, p=0.95, q=0.0)  # keep floor(0.05 * 30) = 1 channel globally
    _feed(pr, [torch.full((g.size,), float(i)) for i, g in enumerate(pr.groups)], [torch.zeros(g.size) for g in pr.groups])
    masks = pr.update_masks()
    assert all(masks[g.name].sum() >= 1 for g in pr.groups)


def test_unknown_layer_in_targets_is_an_error():
    with pytest.raises(SpikehlsError, match="sca.layer_targets: unknown layer 'nope'.*features.0.conv"):
        SCAPruner(_vgg(), p=0.5, q=0.1, layer_targets={"nope": 0.5})


def test_revived_channel_is_reinitialised():
    m = _vgg()
    pr = SCAPruner(m, p=0.5, q=0.0, masking="step")
    sizes = [g.size for g in pr.groups]
    _feed(pr, list(torch.split(torch.arange(30.0), sizes)), [torch.zeros(s) for s in sizes])
    pr.update_masks()
    dead = np.flatnonzero(~pr.masks["features.0.conv"])
    assert dead.size > 0
    # now the dead channels score highest: they come back, with a fresh filter and gamma = 1
    _feed(pr, list(torch.split(30.0 - torch.arange(30.0), sizes)), [torch.zeros(s) for s in sizes])
    pr.update_masks()
    blk = m.features[0]
    assert pr.masks["features.0.conv"][dead].all()
    assert (blk.conv.weight[dead].flatten(1).abs().sum(1) > 0).all()
    assert torch.equal(blk.bn.weight[dead], torch.ones(dead.size))


def test_l1_term_added_to_3x3_conv_gradients():
    m = _vgg()
    pr = SCAPruner(m, p=0.5, q=0.1, l1=1e-2)
    w = m.features[0].conv.weight
    w.grad = torch.zeros_like(w)
    m.readout.weight.grad = torch.zeros_like(m.readout.weight)
    pr.after_backward()
    assert torch.equal(w.grad, 1e-2 * torch.sign(w.detach()))
    assert m.readout.weight.grad.abs().sum() == 0


def test_masks_roundtrip_and_apply(tmp_path):
    m = _vgg()
    pr = SCAPruner(m, p=0.5, q=0.1)
    _feed(pr, [torch.rand(g.size) for g in pr.groups], [torch.rand(g.size) for g in pr.groups])
    masks = pr.update_masks()
    masks.save(tmp_path / "masks.json")
    back = Masks.load(tmp_path / "masks.json")
    assert back == masks and back.kept() == masks.kept() and back.layer_counts() == masks.layer_counts()
    fresh = _vgg()
    apply_masks(fresh, back)
    for g in fresh.prunable_groups():
        drop = torch.from_numpy(~back[g.name])
        assert g.convs[0][1].weight[drop].abs().sum() == 0
    with pytest.raises(SpikehlsError, match="not a spikehls masks file"):
        Masks.from_json({"groups": []})


def test_pruner_state_roundtrip():
    m = _vgg()
    pr = SCAPruner(m, p=0.5, q=0.1, seed=3)
    _feed(pr, [torch.rand(g.size) for g in pr.groups], [torch.rand(g.size) for g in pr.groups])
    st = pr.state_dict()
    pr2 = SCAPruner(m, p=0.5, q=0.1, seed=99)
    pr2.load_state_dict(st)
    assert pr2.update_masks() == pr.update_masks()


def test_layer_score_norm_ranks_layers_by_relative_activity():
    """score_norm=layer: a layer with 10x larger scores no longer takes every kept slot."""
    import torch

    from spikehls.config import Config
    from spikehls.training.models import build_model
    from spikehls.training.sca import SCAPruner

    cfg = Config()
    model = build_model(cfg, 1, (8, 8), 10)
    sizes = [g.size for g in model.prunable_groups()]
    scores = [torch.linspace(1, 2, n, dtype=torch.float64) * (10.0 if i == 0 else 1.0) for i, n in enumerate(sizes)]
    grads = [torch.zeros(n, dtype=torch.float64) for n in sizes]
    plain = SCAPruner(model, p=0.6, q=0.0)
    keep_plain = plain.select(scores, grads)
    assert keep_plain[0].all()  # the loud first layer keeps everything under the plain rule
    normed = SCAPruner(model, p=0.6, q=0.0, score_norm="layer")
    plain_n = sum(int(k.sum()) for k in keep_plain)
    normed._sum = [s.clone() for s in scores]
    normed._count = 1
    keep_norm = normed.select(normed.scores(), grads)
    assert sum(int(k.sum()) for k in keep_norm) == plain_n  # same budget, floor((1-p-q) M)
    assert not keep_norm[0].all() and all(k.any() for k in keep_norm)


# ---- masking modes (DESIGN.md section 4: the authors zero once per epoch, at the update) ----------
def test_epoch_masking_lets_pruned_channels_move_and_masked_restores_them():
    m = _vgg()
    pr = SCAPruner(m, p=0.6, q=0.0, masking="epoch")
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    x, y = torch.rand(4, 6, 1, 6, 6) * 3, torch.randint(0, 5, (6,))
    _train_step(m, pr, opt, x, y)
    masks = pr.update_masks()
    g = pr.groups[0]
    drop = ~torch.from_numpy(masks[g.name])
    bn = g.bns[0][1]
    assert bn.bias[drop].abs().sum() == 0 and g.convs[0][1].weight[drop].abs().sum() == 0  # zeroed at the update
    for _ in range(3):
        _train_step(m, pr, opt, x, y)
    moved = bn.bias.detach()[drop].clone()
    assert moved.abs().sum() > 0  # Adam's momentum and the gradient through beta moved them (not re-masked)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pr.masked():
        assert bn.bias[drop].abs().sum() == 0 and bn.weight[drop].abs().sum() == 0
        assert g.convs[0][1].weight[drop].abs().sum() == 0
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # training state put back exactly


def test_epoch_masking_does_not_reinitialise_and_records_churn():
    m = _vgg()
    pr = SCAPruner(m, p=0.5, q=0.0, masking="epoch")
    sizes = [g.size for g in pr.groups]
    _feed(pr, list(torch.split(torch.arange(30.0), sizes)), [torch.zeros(s) for s in sizes])
    pr.update_masks()
    first = dict(pr.last_update)
    assert first["pruned"] == 30 - first["channels_kept"] and first["revived"] == 0
    dead = np.flatnonzero(~pr.masks["features.0.conv"])
    _feed(pr, list(torch.split(30.0 - torch.arange(30.0), sizes)), [torch.zeros(s) for s in sizes])
    pr.update_masks()
    assert pr.masks["features.0.conv"][dead].all()
    assert pr.last_update["revived"] >= dead.size and pr.last_update["churn"] == pr.last_update["revived"] + pr.last_update["pruned"]
    assert sum(pr.last_update["kept_per_layer"].values()) == pr.last_update["channels_kept"]
    # no fresh filter in epoch mode: what the optimizer left (here: the zero of the last update) stays
    assert m.features[0].conv.weight[dead].abs().sum() == 0


def test_unknown_masking_mode_is_an_error():
    with pytest.raises(SpikehlsError, match="sca.masking"):
        SCAPruner(_vgg(), p=0.5, q=0.1, masking="batch")
