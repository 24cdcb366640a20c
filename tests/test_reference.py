"""The NumPy integer reference pinned on hand-computed cases and against a naive loop version."""

from __future__ import annotations

import numpy as np
import pytest

from spikehls.errors import SpikehlsError
from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, Skip, SpikingConv2d, SpikingDense
from spikehls.quantize.random_net import random_inputs, random_intnet
from spikehls.quantize.testvectors import load_testvectors, save_testvectors


def _dense_net(weight, neuron, t_steps, encoding="rate"):
    """Input [C, 1, 1] -> one spiking dense layer -> readout of its spikes."""
    weight = np.asarray(weight)
    co, ci = weight.shape
    layers = [
        SpikingDense("fc", weight, np.zeros(co, np.int64), neuron, w_bits=8),
        Readout("out", np.eye(co, dtype=np.int64), np.zeros(co, np.int64), w_bits=2),
    ]
    return IntNet((ci, 1, 1), t_steps, encoding, layers)


def _spikes(net, x_t):
    """Run one sample given as [T, C] (spatial 1x1) and return the first layer's spikes [T, Co]."""
    x = np.asarray(x_t, dtype=np.int64)[None, :, :, None, None]
    return ref.run(net, x).spikes[net.layers[0].name][0]


def test_lif_leak_floors_negative_membrane():
    # t0: V = -3; t1: V = -3 - (-3 >> 1) = -3 - (-2) = -1 (floor; truncation would give -2), +2 -> 1 >= 1
    net = _dense_net([[-3, 2]], Neuron(threshold=[1], leak_shift=1, reset="zero", v_bits=8), 3)
    s = _spikes(net, [[1, 0], [0, 1], [0, 1]])
    assert s[:, 0].tolist() == [0, 1, 1]


def test_lif_leak_positive_membrane():
    # V: 5; 5 - 2 + 0 = 3; 3 - 1 + 5 = 7 >= 7 spike (subtract -> 0)
    net = _dense_net([[5]], Neuron(threshold=[7], leak_shift=1, reset="subtract", v_bits=8), 3)
    assert _spikes(net, [[1], [0], [1]])[:, 0].tolist() == [0, 0, 1]


def test_saturation_upper():
    # v_bits 4: V in [-8, 7]. V: 5; 10 -> 7 spike -> 0; 5 (without saturation: 3, then 8 -> spike)
    net = _dense_net([[5]], Neuron(threshold=[7], reset="subtract", v_bits=4), 3)
    assert _spikes(net, [[1], [1], [1]])[:, 0].tolist() == [0, 1, 0]


def test_saturation_lower():
    # V: -5, -8, -8 (clamped; unclamped -15), then +7: -1, 6, 13 -> 7 >= 7 spike
    net = _dense_net([[-5, 7]], Neuron(threshold=[7], reset="zero", v_bits=4), 6)
    x = [[1, 0]] * 3 + [[0, 1]] * 3
    assert _spikes(net, x)[:, 0].tolist() == [0, 0, 0, 0, 0, 1]


def test_membrane_equal_to_threshold_spikes():
    net = _dense_net([[3]], Neuron(threshold=[3], v_bits=8), 1)
    assert _spikes(net, [[1]])[:, 0].tolist() == [1]
    net = _dense_net([[2]], Neuron(threshold=[3], v_bits=8), 1)
    assert _spikes(net, [[1]])[:, 0].tolist() == [0]


@pytest.mark.parametrize("reset, expected", [("subtract", [0, 1, 1, 0, 1]), ("zero", [0, 1, 0, 1, 0])])
def test_reset_modes(reset, expected):
    # weight 2, threshold 3. subtract: 2, 4->1, 3->0, 2, 4->1. zero: 2, 4->0, 2, 4->0, 2
    net = _dense_net([[2]], Neuron(threshold=[3], reset=reset, v_bits=8), 5)
    assert _spikes(net, [[1]] * 5)[:, 0].tolist() == expected


def test_per_channel_thresholds_and_bias():
    # channel 0: bias 1 + weight 1 = 2 >= 2 every step; channel 1: bias -1 + 1 = 0, never
    layers = [
        SpikingDense("fc", [[1], [1]], [1, -1], Neuron(threshold=[2, 1], v_bits=8), w_bits=2),
        Readout("out", [[1, 0], [0, 1]], [0, 0], w_bits=2),
    ]
    net = IntNet((1, 1, 1), 2, "rate", layers)
    assert _spikes(net, [[1], [1]]).tolist() == [[1, 0], [1, 0]]


def test_direct_encoded_first_layer_multiplies():
    # pixel 200 * weight 3 = 600 per step; threshold 1000, subtract: 600, 1200->200, 800, 1400->400
    conv = SpikingConv2d("c", np.full((1, 1, 1, 1), 3), [0], Neuron([1000], reset="subtract", v_bits=16), w_bits=4,
                         in_scale=2.0**-8)
    net = IntNet((1, 1, 1), 4, "direct", [conv, Readout("out", [[1]], [0], w_bits=2)])
    x = np.full((1, 4, 1, 1, 1), 200)
    r = ref.run(net, x)
    assert r.spikes["c"][0, :, 0, 0, 0].tolist() == [0, 1, 0, 1]
    assert r.readout.tolist() == [[2]]


def test_conv_zero_padding_and_stride_hand_computed():
    # 3x3 all-ones kernel, padding 1, stride 2 on a 3x3 input of ones: output 2x2 counts 4, 4, 4, 4
    # (corners see 2x2 of real pixels, the rest is zero padding); threshold 4 -> all spike, 5 -> none
    x = np.ones((1, 1, 1, 3, 3), np.int64)
    for th, want in ((4, 1), (5, 0)):
        conv = SpikingConv2d("c", np.ones((1, 1, 3, 3)), [0], Neuron([th], v_bits=8), stride=2, padding=1, w_bits=2)
        out = ref.spiking_conv2d(x, conv)
        assert out.shape == (1, 1, 1, 2, 2)
        assert (out == want).all()
    assert ref.conv_current(x[0], np.ones((1, 1, 3, 3), np.int64), 1, 1)[0, 0].tolist() == [[4, 6, 4], [6, 9, 6], [4, 6, 4]]


def _skip_net(skip: Skip, co: int) -> IntNet:
    """Input [1, 4, 4] -> conv0 (1x1, copies the input) -> conv1 (1x1 stride 2, zero weights) + skip."""
    conv0 = SpikingConv2d("conv0", np.ones((1, 1, 1, 1)), [0], Neuron([1], v_bits=8), w_bits=2)
    conv1 = SpikingConv2d("conv1", np.zeros((co, 1, 1, 1)), np.zeros(co), Neuron(np.full(co, 2), v_bits=8),
                          stride=2, w_bits=2, skip=skip)
    return IntNet((1, 4, 4), 2, "rate", [conv0, conv1, Readout("out", np.ones((2, co * 4)), [0, 0], w_bits=2)])


def test_identity_skip_with_stride():
    x = np.zeros((1, 2, 1, 4, 4), np.int64)
    x[0, 0, 0, 0, 0] = x[0, 0, 0, 2, 2] = x[0, 0, 0, 1, 1] = 1  # (1, 1) is dropped by the stride-2 skip
    x[0, 1, 0, 2, 0] = 1
    # gain 2 >= threshold 2: conv1 spikes exactly where its strided skip input spikes
    net = _skip_net(Skip(source="conv0", gain=[2], stride=2), 1)
    net.validate()
    s = ref.run(net, x).spikes["conv1"][0, :, 0]
    assert s[0].tolist() == [[1, 0], [0, 1]]
    assert s[1].tolist() == [[0, 0], [1, 0]]
    # gain 1 < 2 with reset to zero: needs two skip spikes at the same place (IF integrates)
    net = _skip_net(Skip(source="input", gain=[1], stride=2), 1)
    x2 = np.zeros((1, 2, 1, 4, 4), np.int64)
    x2[0, :, 0, 2, 2] = 1
    x2[0, 0, 0, 0, 2] = 1
    s = ref.run(net, x2).spikes["conv1"][0, :, 0]
    assert s.tolist() == [[[0, 0], [0, 0]], [[0, 0], [0, 1]]]


def test_one_by_one_conv_skip():
    # skip weights [[2], [-1]]: channel 0 copies the strided input, channel 1 never fires
    net = _skip_net(Skip(source="input", weight=[[2], [-1]], stride=2), 2)
    net.validate()
    x = np.zeros((1, 2, 1, 4, 4), np.int64)
    x[0, 0, 0, 2, 0] = 1
    x[0, 1, 0, 0, 2] = 1
    s = ref.run(net, x).spikes["conv1"][0]
    assert s[:, 0].tolist() == [[[0, 0], [1, 0]], [[0, 1], [0, 0]]]
    assert s[:, 1].max() == 0


def test_maxpool_is_or_over_window():
    x = np.zeros((1, 1, 1, 4, 4), np.uint8)
    x[0, 0, 0, 1, 1] = x[0, 0, 0, 3, 2] = 1
    out = ref.spike_maxpool2d(x, MaxPool2d("p", 2, 2))
    assert out[0, 0, 0].tolist() == [[1, 0], [0, 1]]
    out = ref.spike_maxpool2d(x, MaxPool2d("p", 3, 1))  # overlapping windows, floor size 2x2
    assert out[0, 0, 0].tolist() == [[1, 1], [1, 1]]


def test_readout_sums_over_time_and_argmax_tie_takes_first():
    # readout over 2 inputs, T = 3: out = T * bias + W @ counts
    lyr = Readout("out", [[1, 0], [0, 2], [2, 0]], [1, 0, -1], w_bits=3)
    x = np.array([[[1, 0], [1, 1], [0, 0]]])  # counts [2, 1]
    assert ref.readout(x, lyr).tolist() == [[3 + 2, 0 + 2, -3 + 4]]  # [5, 2, 1]
    net = IntNet((2, 1, 1), 3, "rate", [Readout("out", [[0, 0], [1, 1], [2, 0]], [0, 0, 0], w_bits=3)])
    xin = np.zeros((1, 3, 2, 1, 1), np.int64)
    xin[0, 0, 0] = 1
    xin[0, 1, 1] = 1  # counts [1, 1]: readout [0, 2, 2] -> tie between 1 and 2, first wins
    r = ref.run(net, xin)
    assert r.readout.tolist() == [[0, 2, 2]]
    assert r.prediction.tolist() == [1]


def test_events_count_spikes_per_sample():
    net = _dense_net([[3], [1]], Neuron(threshold=[3, 2], reset="zero", v_bits=8), 4)
    x = np.ones((2, 4, 1, 1, 1), np.int64)
    x[1] = 0
    r = ref.run(net, x)
    # sample 0: channel 0 fires 4 times, channel 1 every 2nd step (2) -> 6; sample 1 silent
    assert r.events["fc"].tolist() == [6, 0]
    assert r.spikes["fc"].dtype == np.uint8 and r.readout.dtype == np.int64 and r.prediction.dtype == np.int64


def test_bad_inputs_are_user_errors():
    net = _dense_net([[1]], Neuron([1]), 2)
    with pytest.raises(SpikehlsError, match="shape"):
        ref.run(net, np.zeros((1, 3, 1, 1, 1), np.int64))
    with pytest.raises(SpikehlsError, match=r"\[0, 1\]"):
        ref.run(net, np.full((1, 2, 1, 1, 1), 2))
    with pytest.raises(SpikehlsError, match="integers"):
        ref.run(net, np.zeros((1, 2, 1, 1, 1), np.float32))


def test_exact_matmul_beyond_float64_mantissa():
    a = np.array([[2**40, 1]], np.int64)
    b = np.array([[2**20 + 1], [3]], np.int64)
    got = ref.exact_matmul(a, b)
    assert int(got[0, 0]) == 2**40 * (2**20 + 1) + 3  # not representable in float64


# ---- a naive, loop-by-loop implementation of the intnet.py docstring ---------------------------
def _naive_layer_current(lyr, x_t, skip_t):
    if isinstance(lyr, SpikingConv2d):
        co, ci, kh, kw = lyr.weight.shape
        _, h, w = x_t.shape
        ho = (h + 2 * lyr.padding - kh) // lyr.stride + 1
        wo = (w + 2 * lyr.padding - kw) // lyr.stride + 1
        cur = np.zeros((co, ho, wo), dtype=object)
        for c in range(co):
            for oy in range(ho):
                for ox in range(wo):
                    acc = int(lyr.bias[c])
                    for i in range(ci):
                        for dy in range(kh):
                            for dx in range(kw):
                                y, xx = oy * lyr.stride + dy - lyr.padding, ox * lyr.stride + dx - lyr.padding
                                if 0 <= y < h and 0 <= xx < w and x_t[i, y, xx]:
                                    acc += int(lyr.weight[c, i, dy, dx]) * int(x_t[i, y, xx])
                    if lyr.skip is not None:
                        s = lyr.skip
                        src = skip_t[:, oy * s.stride, ox * s.stride]
                        if s.weight is None:
                            acc += int(s.gain[c]) * int(src[c])
                        else:
                            acc += sum(int(s.weight[c, j]) * int(src[j]) for j in range(len(src)))
                    cur[c, oy, ox] = acc
        return cur
    flat = x_t.reshape(-1)
    return np.array([int(lyr.bias[c]) + sum(int(lyr.weight[c, i]) * int(flat[i]) for i in range(len(flat)))
                     for c in range(lyr.weight.shape[0])], dtype=object)


def _naive_run(net: IntNet, x: np.ndarray):
    """One sample [T, C, H, W] -> (spikes per layer [T, ...], readout [K]) with Python ints."""
    t_steps = x.shape[0]
    outs = {"input": x}
    cur = x
    result = None
    for lyr in net.layers:
        if isinstance(lyr, MaxPool2d):
            c, h, w = cur.shape[1:]
            ho, wo = (h - lyr.kernel) // lyr.stride + 1, (w - lyr.kernel) // lyr.stride + 1
            o = np.zeros((t_steps, c, ho, wo), dtype=np.int64)
            for oy in range(ho):
                for ox in range(wo):
                    ys, xs = oy * lyr.stride, ox * lyr.stride
                    o[:, :, oy, ox] = cur[:, :, ys:ys + lyr.kernel, xs:xs + lyr.kernel].max(axis=(2, 3))
            cur = o
        elif isinstance(lyr, Readout):
            result = [sum(int(lyr.bias[k]) + sum(int(lyr.weight[k, i]) * int(v) for i, v in enumerate(cur[t].reshape(-1)))
                          for t in range(t_steps)) for k in range(lyr.weight.shape[0])]
            continue
        else:
            nrn = lyr.neuron
            lo, hi = -(2 ** (nrn.v_bits - 1)), 2 ** (nrn.v_bits - 1) - 1
            v = None
            o = []
            for t in range(t_steps):
                skip_t = outs[lyr.skip.source][t] if getattr(lyr, "skip", None) is not None else None
                i_t = _naive_layer_current(lyr, cur[t], skip_t)
                if v is None:
                    v = np.zeros(i_t.shape, dtype=object)
                th = nrn.threshold.reshape((-1,) + (1,) * (i_t.ndim - 1)).astype(object)
                th = np.broadcast_to(th, i_t.shape)
                s_t = np.zeros(i_t.shape, dtype=np.int64)
                for idx in np.ndindex(i_t.shape):
                    vv = v[idx]
                    if nrn.leak_shift:
                        vv = vv - (vv // 2**nrn.leak_shift)  # Python floor division = arithmetic shift
                    vv = min(hi, max(lo, vv + i_t[idx]))
                    if vv >= th[idx]:
                        s_t[idx] = 1
                        vv = vv - th[idx] if nrn.reset == "subtract" else 0
                    v[idx] = vv
                o.append(s_t)
            cur = np.stack(o)
        outs[lyr.name] = cur
    return outs, result


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_reference_equals_naive_loops(seed):
    rng = np.random.default_rng(1000 + seed)
    net = random_intnet(rng, max_hw=7, max_channels=4, max_time_steps=4)
    x = random_inputs(rng, net, 2)
    r = ref.run(net, x)
    for n in range(2):
        outs, result = _naive_run(net, x[n])
        for name, s in r.spikes.items():
            np.testing.assert_array_equal(s[n], outs[name], err_msg=f"seed {seed} layer {name}")
        assert r.readout[n].tolist() == result


def test_testvectors_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    net = random_intnet(rng)
    x = random_inputs(rng, net, 3)
    r = ref.run(net, x)
    labels = np.array([0, 1, 2])
    path = tmp_path / "tv.npz"
    save_testvectors(path, x, labels, r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tv.npz"]  # no temporary left behind
    x2, labels2, r2 = load_testvectors(path)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(labels2, labels)
    np.testing.assert_array_equal(r2.readout, r.readout)
    np.testing.assert_array_equal(r2.prediction, r.prediction)
    assert list(r2.spikes) == list(r.spikes)
    for k in r.spikes:
        np.testing.assert_array_equal(r2.spikes[k], r.spikes[k])
        np.testing.assert_array_equal(r2.events[k], r.events[k])
    with pytest.raises(SpikehlsError, match="not found"):
        load_testvectors(tmp_path / "missing.npz")
