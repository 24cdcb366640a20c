"""BN folding: the folded float network computes the same currents and spikes (negative γ included)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from _qnets import float_neuron, random_floatnet, randomize_bn
from spikehls.quantize.floatnet import FConv, FDense, FloatNet, FReadout, FSkip
from spikehls.quantize.fold import fold_bn


def test_fold_random_nets_equal_in_float():
    rng = np.random.default_rng(0)
    n_neg = 0
    for _ in range(15):
        net, _ = random_floatnet(rng)
        x = torch.from_numpy((rng.random((5, net.time_steps) + net.input_shape) < 0.5).astype(np.float32))
        with torch.no_grad():
            y, outs = net(x, record=True)
            folded = fold_bn(net)
            y2, outs2 = folded(x, record=True)
        torch.testing.assert_close(y2, y, rtol=1e-5, atol=1e-5)
        for k in outs:
            assert torch.equal(outs[k], outs2[k]), k
        for lyr in folded.layers:
            assert getattr(lyr, "bn", None) is None
            if getattr(lyr, "skip", None) is not None:
                assert lyr.skip.bn is None
        n_neg += sum(int((m.weight < 0).sum()) for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert n_neg > 0  # negative gammas were exercised


def test_fold_formula_and_negative_gamma_keeps_threshold_positive():
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=True)
    bn = nn.BatchNorm2d(3)
    randomize_bn(nn.Sequential(bn), torch.Generator().manual_seed(0))
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([-1.5, 0.7, -0.2]))
    neuron = float_neuron(torch.tensor(0.5))
    net = FloatNet([FConv("c", conv, bn, neuron), FReadout("r", nn.Linear(3 * 4 * 4, 2))], (2, 4, 4), 3, "rate")
    f = fold_bn(net.eval())
    std = torch.sqrt(bn.running_var + bn.eps)
    g = bn.weight / std
    torch.testing.assert_close(f.layers[0].conv.weight, conv.weight * g.view(-1, 1, 1, 1))
    torch.testing.assert_close(f.layers[0].conv.bias, bn.bias + g * (conv.bias - bn.running_mean))
    assert float(f.layers[0].neuron.threshold) == 0.5  # the threshold is untouched and positive


def test_fold_shortcut_bias_moves_into_receiving_layer():
    c1 = FConv("a", nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2), float_neuron(0.3))
    sc = FSkip("a", nn.Conv2d(2, 4, 1, stride=2, bias=False), nn.BatchNorm2d(4))
    c2 = FConv("b", nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(4), float_neuron(0.3), sc)
    d = FDense("d", nn.Linear(4 * 3 * 3, 5, bias=False), nn.BatchNorm1d(5), float_neuron(0.2))
    net = FloatNet([c1, c2, d, FReadout("r", nn.Linear(5, 3))], (1, 6, 6), 4, "direct")
    randomize_bn(net, torch.Generator().manual_seed(2))
    net.eval()
    x = torch.rand(7, 4, 1, 6, 6)
    with torch.no_grad():
        i_ref = net.layers[1].current(net.layers[0](x), net.layers[0](x))
        f = fold_bn(net)
        s0 = f.layers[0](x)
        i_fold = f.layers[1].current(s0, s0)
        torch.testing.assert_close(i_fold, i_ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(f(x), net(x), rtol=1e-5, atol=1e-5)
    assert f.layers[1].skip.conv.bias is None and f.layers[1].skip.bn is None
