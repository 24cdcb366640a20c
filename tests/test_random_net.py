"""The random network generator covers the corners it promises, and only draws valid networks."""

from __future__ import annotations

import numpy as np
import pytest

from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import IntNet, MaxPool2d, SpikingConv2d, SpikingDense
from spikehls.quantize.random_net import random_inputs, random_intnet


@pytest.fixture(scope="module")
def drawn() -> list[tuple[IntNet, np.ndarray]]:
    out = []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        net = random_intnet(rng)
        out.append((net, random_inputs(rng, net, 3)))
    return out


def test_networks_are_valid_and_within_limits(drawn):
    for net, x in drawn:
        net.validate()  # raises on any inconsistency
        convs = [lyr for lyr in net.layers if isinstance(lyr, SpikingConv2d)]
        assert 1 <= len(convs) <= 4
        assert 1 <= net.time_steps <= 8
        for lyr in convs:
            assert 1 <= lyr.weight.shape[2] <= 5 and lyr.stride in (1, 2) and 0 <= lyr.padding <= 2
        for lyr in net.layers:
            if hasattr(lyr, "w_bits"):
                assert 2 <= lyr.w_bits <= 8
                mant, _ = np.frexp(lyr.w_scale)
                assert (mant == 0.5).all()  # powers of two
            if hasattr(lyr, "neuron"):
                assert 6 <= lyr.neuron.v_bits <= 20 and 0 <= lyr.neuron.leak_shift <= 4
        assert x.shape == (3, net.time_steps) + tuple(net.input_shape)
        assert x.min() >= 0 and x.max() <= 2**net.input_bits - 1


def test_generator_covers_the_corners(drawn):
    seen = set()
    for net, _ in drawn:
        seen.add(("encoding", net.encoding))
        seen.add(("T1", net.time_steps == 1))
        for lyr in net.layers:
            seen.add(("kind", type(lyr).__name__))
            if isinstance(lyr, (SpikingConv2d, SpikingDense)):
                seen.add(("leak", lyr.neuron.leak_shift > 0))
                seen.add(("reset", lyr.neuron.reset))
                w = lyr.weight.reshape(lyr.weight.shape[0], -1)
                if (w == 0).all(axis=1).any():
                    seen.add("pruned channel")
                seen.add(("per-channel scale", len(set(lyr.w_scale)) > 1))
            if isinstance(lyr, SpikingConv2d) and lyr.skip is not None:
                seen.add(("skip", "identity" if lyr.skip.weight is None else "1x1"))
                seen.add(("skip stride", lyr.skip.stride))
                if lyr.skip.source == "input":
                    seen.add("skip from input")
            if isinstance(lyr, MaxPool2d):
                seen.add(("pool overlapping", lyr.stride < lyr.kernel))
    want = {("encoding", e) for e in ("direct", "rate", "bitplane")} | {
        ("T1", True), ("kind", "SpikingConv2d"), ("kind", "SpikingDense"), ("kind", "MaxPool2d"),
        ("leak", True), ("leak", False), ("reset", "zero"), ("reset", "subtract"), "pruned channel",
        ("per-channel scale", True), ("skip", "identity"), ("skip", "1x1"), ("skip stride", 1),
        ("skip stride", 2), "skip from input", ("pool overlapping", True), ("pool overlapping", False),
    }
    assert want <= seen, want - seen


def test_activity_is_nontrivial_and_membranes_saturate(drawn, monkeypatch):
    hits = {"upper": 0, "lower": 0}
    real_clip = np.clip

    def counting_clip(v, lo, hi, out=None):
        hits["upper"] += int((v > hi).any())
        hits["lower"] += int((v < lo).any())
        return real_clip(v, lo, hi, out=out)

    monkeypatch.setattr(ref.np, "clip", counting_clip)
    rates = []
    for net, x in drawn:
        r = ref.run(net, x)
        rates += [float(s.mean()) for s in r.spikes.values()]
    rates = np.array(rates)
    assert (rates > 0).mean() > 0.75  # most layers fire
    assert (rates < 1).mean() > 0.95  # almost none fires everywhere all the time
    assert 0.1 < np.median(rates) < 0.8
    assert hits["upper"] > 0 and hits["lower"] > 0  # saturation at both ends does happen


def test_same_seed_same_network():
    a = random_intnet(np.random.default_rng(42))
    b = random_intnet(np.random.default_rng(42))
    from spikehls.quantize.qonnx_export import intnets_equal

    assert intnets_equal(a, b)


def test_limits_are_honoured_and_checked():
    for seed in range(20):
        net = random_intnet(np.random.default_rng(seed), max_convs=1, max_dense=0, max_channels=2, max_hw=4,
                            max_time_steps=2, encodings=("rate",))
        assert sum(isinstance(lyr, SpikingConv2d) for lyr in net.layers) == 1
        assert not any(isinstance(lyr, SpikingDense) for lyr in net.layers)
        assert net.time_steps <= 2 and max(net.input_shape[1:]) <= 4 and net.encoding == "rate"
    with pytest.raises(TypeError, match="max_layers"):
        random_intnet(np.random.default_rng(0), max_layers=3)


def test_direct_inputs_repeat_the_image_and_bitplanes_are_bits():
    rng = np.random.default_rng(3)
    while True:
        net = random_intnet(rng, encodings=("direct",))
        if net.time_steps > 1:
            break
    x = random_inputs(rng, net, 4)
    assert (x == x[:, :1]).all() and x.max() > 1
    net = random_intnet(np.random.default_rng(4), encodings=("bitplane",))
    x = random_inputs(np.random.default_rng(5), net, 4)
    assert set(np.unique(x)) <= {0, 1}
