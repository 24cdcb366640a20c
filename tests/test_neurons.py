"""Neuron dynamics, surrogate gradients and the no-state-between-calls rule, hand-computed."""

from __future__ import annotations

import math

import pytest
import torch

from spikehls.training.neurons import SpikingNeuron
from spikehls.training.surrogate import SURROGATES, spike, surrogate_grad


def _run(neuron: SpikingNeuron, currents: list[float]) -> list[int]:
    x = torch.tensor(currents, dtype=torch.float32).view(-1, 1, 1)  # [T, N=1, C=1]
    return [int(v) for v in neuron(x).flatten()]


def test_if_reset_zero_hand_computed():
    # V: 0.4, 0.8, 1.2 -> spike, reset to 0; 0.4, 0.8, 1.2 -> spike
    assert _run(SpikingNeuron(1.0, reset="zero"), [0.4] * 6) == [0, 0, 1, 0, 0, 1]


def test_if_reset_subtract_hand_computed():
    # V: 0.75, 1.5 -> spike (0.5), 1.25 -> spike (0.25), 1.0 -> spike (0), 0.75
    assert _run(SpikingNeuron(1.0, reset="subtract"), [0.75] * 5) == [0, 1, 1, 1, 0]


def test_spike_at_exact_threshold():
    # the integer contract spikes at V >= threshold, the float model must too
    assert _run(SpikingNeuron(1.0), [1.0, 0.0]) == [1, 0]
    assert _run(SpikingNeuron(0.5), [0.25, 0.25]) == [0, 1]


def test_lif_power_of_two_leak():
    # k=1: V = V - V/2 + I ; I = 0.6 -> 0.6, 0.9, 1.05 -> spike
    n = SpikingNeuron(1.0, leak_shift=1)
    assert _run(n, [0.6, 0.6, 0.6]) == [0, 0, 1]
    # k=2: 0.6, 0.45+0.6=1.05 -> spike
    assert _run(SpikingNeuron(1.0, leak_shift=2), [0.6, 0.6]) == [0, 1]


def test_membrane_values_lif_subtract():
    n = SpikingNeuron(1.0, leak_shift=2, reset="subtract")
    v = torch.zeros(1, 1)
    seq = []
    for i in [0.8, 0.8, 0.0]:
        v, s = n.step(v, torch.tensor([[i]]))
        seq.append((round(float(v), 6), int(s)))
    # 0.8 ; 0.8-0.2+0.8 = 1.4 -> spike, 0.4 ; 0.4-0.1 = 0.3
    assert seq == [(0.8, 0), (0.4, 1), (0.3, 0)]


def test_no_state_between_calls():
    n = SpikingNeuron(1.0)
    x = torch.full((3, 2, 4), 0.45)
    first = n(x)
    n(torch.full((3, 2, 4), 0.99))  # leaves a high membrane if state leaked
    again = n(x)
    assert torch.equal(first, again)
    assert first[:2].sum() == 0 and first[2].sum() == 8  # 0.45, 0.9, 1.35


def test_per_channel_threshold_buffer():
    n = SpikingNeuron(1.0)
    n.threshold = torch.tensor([0.5, 2.0])
    out = n(torch.full((2, 1, 2, 3, 3), 1.0))  # [T, N, C, H, W]
    assert out[:, :, 0].sum() == 2 * 9  # spikes every step
    assert out[0, :, 1].sum() == 0 and out[1, :, 1].sum() == 9  # 1, 2 -> spike at t=1
    assert "threshold" in dict(n.named_buffers())


@pytest.mark.parametrize("kind", SURROGATES)
def test_surrogate_gradient_matches_formula(kind):
    alpha = 4.0
    x = torch.linspace(-1, 1, 41, requires_grad=True)
    y = spike(x, kind, alpha)
    assert torch.equal(y, (x >= 0).float())
    y.sum().backward()
    xd = x.detach()
    expected = {
        "sigmoid": alpha * torch.sigmoid(alpha * xd) * (1 - torch.sigmoid(alpha * xd)),
        "atan": alpha / 2 / (1 + (math.pi / 2 * alpha * xd) ** 2),
        "fast_sigmoid": 1 / (1 + alpha * xd.abs()) ** 2,
        "triangle": alpha * torch.clamp(1 - alpha * xd.abs(), min=0),
    }[kind]
    assert torch.allclose(x.grad, expected)
    assert torch.allclose(surrogate_grad(xd, kind, alpha), expected)


def test_sigmoid_surrogate_is_derivative_of_sigmoid():
    x = torch.linspace(-2, 2, 17, requires_grad=True)
    torch.sigmoid(4 * x).sum().backward()
    g_ref = x.grad.clone()
    x.grad = None
    spike(x, "sigmoid", 4.0).sum().backward()
    assert torch.allclose(x.grad, g_ref)
    assert float(surrogate_grad(torch.tensor(0.0), "sigmoid", 4.0)) == pytest.approx(1.0)


def test_gradient_flows_through_time_and_detach_reset_matters():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 5) * 1.5
    grads = []
    for detach in (True, False):
        xi = x.clone().requires_grad_(True)
        SpikingNeuron(1.0, reset="subtract", detach_reset=detach)(xi).sum().backward()
        grads.append(xi.grad)
    assert grads[0].abs().sum() > 0 and grads[1].abs().sum() > 0
    assert not torch.allclose(grads[0], grads[1])


def test_record_score_is_mean_of_spikes_plus_abs_membrane_after_reset():
    n = SpikingNeuron(1.0, reset="zero")
    n.record = True
    # channel 0: 0.6, 0.6 -> V 0.6 (S0), 1.2 -> S1, V0 : (0+0.6) + (1+0) = 1.6
    # channel 1: -0.5, 0.2 -> V -0.5, -0.3 : (0.5) + (0.3) = 0.8
    x = torch.tensor([[[0.6, -0.5]], [[0.6, 0.2]]])  # [T=2, N=1, C=2]
    n(x)
    assert torch.allclose(n.last_score, torch.tensor([1.6 / 2, 0.8 / 2]))
    assert n.spike_count.tolist() == [1.0, 0.0] and n.positions == 2


def test_lif_from_config_and_if_ignores_leak():
    from spikehls.config import NeuronConfig

    assert SpikingNeuron.from_config(NeuronConfig(kind="if", leak_shift=3)).leak_shift == 0
    n = SpikingNeuron.from_config(NeuronConfig(kind="lif", leak_shift=3, reset="subtract", surrogate="atan"))
    assert (n.leak_shift, n.reset, n.surrogate) == (3, "subtract", "atan")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    n = SpikingNeuron(1.0, leak_shift=1).cuda()
    x = torch.full((3, 2, 4), 0.6, device="cuda")
    assert torch.equal(n(x).cpu(), SpikingNeuron(1.0, leak_shift=1)(x.cpu()))


@pytest.mark.parametrize("leak", [0, 1, 3])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("per_channel", [False, True])
def test_fused_bptt_matches_autograd_on_step_loop(leak, reset, per_channel):
    torch.manual_seed(leak * 7 + len(reset))
    n = SpikingNeuron(1.0, leak, reset, "atan" if per_channel else "sigmoid", 4.0)
    if per_channel:
        n.threshold = torch.tensor([0.5, 1.0, 2.0])
    n.record = True
    x = (torch.randn(5, 4, 3, 2, 2) * 1.2).requires_grad_(True)
    w = torch.randn(5, 4, 3, 2, 2)
    fused = n(x)  # grad enabled and x requires grad: the fused kernel
    (fused * w).sum().backward()
    g_fused, score_fused = x.grad.clone(), n.last_score.clone()
    x.grad = None
    v, out = torch.zeros_like(x[0]), []
    for t in range(5):
        v, s = n.step(v, x[t])
        out.append(s)
    loop = torch.stack(out)
    (loop * w).sum().backward()
    assert torch.equal(fused, loop)
    assert torch.allclose(g_fused, x.grad, atol=1e-6)
    with torch.no_grad():
        n(x)  # the plain loop path records the same score
    assert torch.allclose(score_fused, n.last_score, atol=1e-6)
