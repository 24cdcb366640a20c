"""The analytic resource/latency model (hls/estimate.py): hand-computed cases and monotonicity."""

from __future__ import annotations

import numpy as np
import pytest

from spikehls.boards import load_board
from spikehls.errors import SpikehlsError
from spikehls.hls.estimate import estimate, lut_multiplier, mux_luts, overhead_cycles
from spikehls.hls.geometry import memory_style, signed_bits
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, SpikingConv2d, SpikingDense

BRAM18_LUT_EQUIV = 18432 // 64
PYNQ = load_board("pynq-z2")
ZCU = load_board("zcu104")


def tiny_dense_net() -> IntNet:
    """rate-coded 4 inputs -> spiking dense 3 -> readout 2, T = 2; nonzero per input column: 2, 0, 3, 1."""
    w = np.array([[1, 0, 2, 0], [-1, 0, 1, 0], [0, 0, 3, -2]])
    dense = SpikingDense("d", w, np.array([0, 1, 0]), Neuron(np.array([2, 2, 2]), v_bits=8), w_bits=4)
    ro = Readout("ro", np.array([[1, 2, 0], [0, -1, 1]]), np.zeros(2, np.int64), w_bits=4)
    return IntNet((4, 1, 1), 2, "rate", [dense, ro])


def mnist_like(c1: int = 16, c2: int = 32, seed: int = 0, zero_frac: float = 0.5, w_bits: int = 4, encoding="direct") -> IntNet:
    rng = np.random.default_rng(seed)

    def w(*shape):
        a = rng.integers(-7, 8, size=shape)
        a[rng.random(shape) < zero_frac] = 0
        return a

    full1, full2, fullr = w(32, 1, 3, 3), w(64, 32, 3, 3), w(10, 64 * 5 * 5)
    # channel slimming keeps a prefix of channels: the smaller net is a sub-network of the larger
    conv1 = full1[:c1]
    conv2 = full2[:c2, :c1]
    ro = fullr.reshape(10, 64, 5, 5)[:, :c2].reshape(10, -1)
    return IntNet(
        (1, 28, 28),
        4,
        encoding,
        [
            SpikingConv2d("conv1", conv1 if w_bits == 4 else conv1 * 16, np.zeros(c1, np.int64), Neuron(np.full(c1, 200)), w_bits=w_bits),
            MaxPool2d("pool1"),
            SpikingConv2d("conv2", conv2, np.zeros(c2, np.int64), Neuron(np.full(c2, 20)), w_bits=4),
            MaxPool2d("pool2"),
            Readout("fc", ro, np.zeros(10, np.int64), w_bits=4),
        ],
    )


# ---- primitives, by hand -------------------------------------------------------------------------


def test_memory_binding_is_the_rule():
    # big pipelined arrays go to block RAM, what a scan reads asynchronously stays distributed
    assert memory_style(16, 10816, rom=False) == "block" and memory_style(8, 2, rom=False) == "registers"
    assert memory_style(16, 10816, rom=False, sync_read=False) == "distributed"
    assert memory_style(72, 8192, rom=True, sync_read=False) == "distributed"
    assert memory_style(72, 8192, rom=False, ultra=True) == "ultra"
    for board in (PYNQ, ZCU):
        e = estimate(mnist_like(c1=32, c2=64, zero_frac=0.0), board, 1)
        mems = [m for le in e.per_layer for m in le.detail["memories"].values()]
        assert e.total["BRAM18"] == sum(m["BRAM18"] for m in mems) and e.total["URAM"] == sum(m["URAM"] for m in mems)
        assert e.total["BRAM18"] + e.total["URAM"] > 0
        if board is PYNQ:  # a 7-series part has no URAM
            assert e.total["URAM"] == 0
        for le in e.per_layer:
            assert le.detail["bits_allocated"] >= le.detail["bits_stored"] > 0


def test_bit_and_logic_helpers():
    assert signed_bits(-8, 7) == 4
    assert signed_bits(0, 8) == 5
    assert signed_bits(-9, 0) == 5
    assert lut_multiplier(4, 8) == (2 * 2 - 1) * 12  # FINN: (2 ceil((W+A)/6) - 1)(W+A)
    assert mux_luts(1, 16) == 0
    assert mux_luts(4, 16) == 16
    assert mux_luts(8, 10) == 30


def test_dense_layer_cycles_by_hand():
    """The twin's schedule (hls/rtl/verilog.py): init G words; per step one cycle to start the
    frame, one scan cycle per input, one cycle per event (its row's first chunk) and one per
    further chunk of its row; one fire pass of 3 neurons."""
    net = tiny_dense_net()
    T, n_in, n_out = 2, 4, 3
    # chunks per input column (nonzero targets 0,1 | - | 0,1,2 | 2), by lanes = min(P, 3):
    # P=1: one chunk per nonzero; P=2: groups {0,1},{2}; P=4 -> 3 lanes: one group
    for P, groups, chunk_rows, worst in ((1, 3, [2, 0, 3, 1], 33), (2, 2, [1, 0, 2, 1], 28), (4, 1, [1, 0, 1, 1], 25)):
        e = estimate(net, PYNQ, P)
        d = e.per_layer[0]
        assert d.kind == "dense" and d.parallelism == P and d.detail["lanes"] == min(P, 3)
        extra = sum(max(0, c - 1) for c in chunk_rows)
        assert d.cycles_worst == groups + T * (1 + n_in + n_in + extra) + T * n_out == worst
        assert d.detail["table_chunks"] == sum(chunk_rows)
        assert d.detail["nonzero_weights"] == 6
        assert d.detail["extra_chunks_worst"] == extra
    e = estimate(net, PYNQ, 1)
    assert e.cycles_worst == sum(le.cycles_worst for le in e.per_layer) + overhead_cycles(net)
    assert overhead_cycles(net) == T * n_in + 2 + 1  # input beats, a hand-over per layer, the class beat


def test_dense_layer_resources_by_hand():
    net = tiny_dense_net()
    e = estimate(net, PYNQ, 4)
    d = e.per_layer[0]
    # currents: bias + positive fan-in = max(0+3, 1+1, 0+3) = 3; negative: min(0, -1+1, -2) = -2 -> 3 bits
    acc_bits = d.detail["acc_bits"]
    assert acc_bits == signed_bits(-2, 3) == 3
    b = d.detail["breakdown"]
    assert d.detail["lanes"] == 3 and d.detail["fire_lanes"] == 1
    # the priced items of the twin: 3 adders of acc_bits, no bank to select (one position bank)
    assert "LUT.adders" in b and b.get("LUT.bank_read_mux", 0) == 0 and "LUT.neurons" in b
    assert "LUT.multipliers" not in b  # spikes in: accumulate only
    assert d.DSP == 0 and d.URAM == 0 and d.BRAM18 == 0
    assert abs(d.LUT - sum(v for k, v in b.items() if k.startswith(("LUT.", "LUTRAM.")))) <= 1
    assert abs(d.FF - sum(v for k, v in b.items() if k.startswith("FF."))) <= 1
    # readout accumulates over T = 2: range 2 * [bias + sums] = 2 * [-1, 3] -> 4 bits
    assert e.per_layer[1].kind == "readout"
    assert e.per_layer[1].detail["acc_bits"] == signed_bits(-2, 6)
    assert e.total["LUT"] > sum(le.LUT for le in e.per_layer)  # + the top level
    assert e.interval_worst == e.cycles_worst + 1  # one sample in flight


def test_conv_lanes_follow_the_kernel_rules():
    """Lanes as the generated kernels instantiate them: scatter lanes = min(P, channels), fire lanes =
    the most row-aligned positions <= P (a divisor of the row, or whole rows); a direct-encoded
    first layer walks one frame."""
    from spikehls.hls.lanes import fire_lanes, output_banks, pool_interval, pool_lanes, read_lanes, row_lanes, tap_lanes

    net = mnist_like(c1=6, c2=10)
    for P in (1, 4, 8, 16):
        e = estimate(net, PYNQ, P)
        c1, c2 = e.per_layer[0].detail, e.per_layer[2].detail
        assert c1["lanes"] == min(P, 6) and c2["lanes"] == min(P, 10)
        assert c1["fire_lanes"] == fire_lanes(P, 26, 26) and c2["fire_lanes"] == fire_lanes(P, 11, 11)
        assert c1["frames"] == 1 and c1["events_worst"] == 28 * 28  # frame 0 only
        assert c2["frames"] == 4
        # a pool reads conv1: its output has twice the fire lanes in banks (row-aligned), the pool
        # reads those, conv2 scans the pool's
        assert c1["out_banks"] == output_banks(c1["fire_lanes"], 26, 26, True) == row_lanes(2 * c1["fire_lanes"], 26, 26)
        assert e.per_layer[1].detail["out_lanes"] == pool_lanes(c1["out_banks"], 2, 2, 13)
        assert c2["read_lanes"] == read_lanes(e.per_layer[1].detail["out_lanes"], 13)
    assert (fire_lanes(16, 26, 26), fire_lanes(16, 28, 28), fire_lanes(3, 8, 8), fire_lanes(16, 11, 11), fire_lanes(8, 11, 11)) == (13, 14, 2, 11, 1)
    assert fire_lanes(16, 4, 4) == 16 and fire_lanes(16, 6, 6) == 12 and fire_lanes(16) == 1  # whole rows; dense: 1
    # one window per cycle (k = stride, 1 output lane): the old figures
    assert [pool_interval(k, k, b, 1) for k, b in ((2, 1), (2, 2), (2, 16), (3, 1), (3, 4))] == [2, 1, 1, 5, 2]
    # several windows per cycle, a divisor of the output row, chosen for outputs per cycle
    assert pool_lanes(14, 2, 2, 14) == 7 and pool_lanes(28, 2, 2, 14) == 14 and pool_lanes(14, 2, 2, 7) == 7
    assert pool_lanes(16, 2, 2, 3) == 3 and pool_interval(3, 2, 16, 5) == 2  # span 11 <= 16, three rows on two ports
    # a span wider than the banks when it still pays: 7 outputs every 2 cycles beat 2 every cycle
    assert pool_lanes(7, 2, 2, 14) == 7 and pool_interval(2, 2, 7, 7) == 2
    assert pool_lanes(4, 2, 2, 7) == 7 and pool_interval(2, 2, 4, 7) == 4  # 1.75 per cycle, not 1
    assert pool_lanes(16, 3, 2, 20) == 20 and pool_interval(3, 2, 16, 20) == 5  # 4 per cycle beats 5 every 2
    # no gain, no lanes: an unbanked producer gives one window per two cycles at any width
    assert pool_lanes(1, 2, 2, 14) == 1 and pool_lanes(2, 2, 2, 14) == 1
    for b, k, s, w in ((1, 2, 2, 14), (7, 2, 2, 14), (14, 3, 2, 12), (5, 2, 2, 10)):
        r = pool_lanes(b, k, s, w)
        assert all(r / pool_interval(k, s, b, r) >= q / pool_interval(k, s, b, q) for q in range(1, w + 1) if w % q == 0)
    # a consumer scans what its producer's banks give, a conv at most one input row
    assert read_lanes(14, 28) == 14 and read_lanes(28, 14) == 14 and read_lanes(7) == 7 and read_lanes(1, 28) == 1
    # a whole kernel row per cycle needs spikes, one channel group and fire lanes >= kw
    assert tap_lanes(3, 4, 1, False) == 3 and tap_lanes(3, 2, 1, False) == 1
    assert tap_lanes(3, 4, 2, False) == 1 and tap_lanes(3, 16, 1, True) == 1
    # back-to-back events: consecutive events of a channel must land on other output rows within
    # the scatter depth -- a 3x3 kernel (row per cycle or tap per cycle) can, 1x1 and 2-row
    # kernels taken a row per cycle cannot, and several channel groups never do
    from spikehls.hls.lanes import events_back_to_back

    assert events_back_to_back(3, 3, 3) and events_back_to_back(3, 3, 1) and events_back_to_back(2, 3, 1)
    assert not events_back_to_back(1, 1, 1) and not events_back_to_back(2, 3, 3)
    assert not events_back_to_back(3, 3, 3, groups=2)
    e1, e4 = estimate(net, PYNQ, 1), estimate(net, PYNQ, 4)
    # one fire lane into two banks: one window per cycle (on one bank it would take two)
    assert e1.per_layer[0].detail["out_banks"] == 2 and e1.per_layer[1].detail["initiation_interval"] == 1
    assert pool_interval(2, 2, 1, 1) == 2 and e4.per_layer[1].detail["initiation_interval"] == 1
    assert e4.per_layer[1].cycles_worst <= e1.per_layer[1].cycles_worst
    assert output_banks(7, 14, 14, False) == 7 and output_banks(7, 14, 14, True) == 14 and output_banks(4, 5, 5, True) == 4
    rate = estimate(mnist_like(c1=6, c2=10, encoding="rate"), PYNQ, 8).per_layer[0].detail
    assert rate["frames"] == 4 and rate["events_worst"] == 4 * 28 * 28


def test_lif_neuron_costs_a_subtractor():
    net = tiny_dense_net()
    lif = tiny_dense_net()
    lif.layers[0].neuron.leak_shift = 2
    a = estimate(net, PYNQ, 1).per_layer[0].detail["breakdown"]["LUT.neurons"]
    b = estimate(lif, PYNQ, 1).per_layer[0].detail["breakdown"]["LUT.neurons"]
    assert b > a


def test_latency_in_us_at_board_clock_and_labels():
    net = mnist_like()
    e = estimate(net, PYNQ, 8)
    assert e.source == "estimate" and all(le.source == "estimate" for le in e.per_layer)
    assert e.us_worst == pytest.approx(e.cycles_worst / 100.0)
    d = e.to_dict()
    assert d["source"] == "estimate"
    assert set(d["total"]) == {"LUT", "FF", "BRAM18", "URAM", "DSP"}
    assert d["latency"]["us"]["worst"] == pytest.approx(e.cycles_worst / 100.0)
    assert [le["name"] for le in d["per_layer"]] == ["conv1", "pool1", "conv2", "pool2", "fc"]
    z = estimate(net, ZCU, 8)  # same cycles, different clock
    assert z.cycles_worst == e.cycles_worst and z.us_worst == pytest.approx(e.cycles_worst / ZCU.clock_mhz)


# ---- the rules the brief names ---------------------------------------------------------------------


def test_no_dsp_below_9_bit_weights():
    e8 = estimate(mnist_like(w_bits=8), PYNQ, 4)
    assert e8.total["DSP"] == 0
    assert e8.per_layer[0].kind == "direct_conv"
    assert e8.per_layer[0].detail["breakdown"]["LUT.multipliers"] > 0
    e9 = estimate(mnist_like(w_bits=9), PYNQ, 4)
    assert e9.total["DSP"] == 4  # one DSP per lane of the multiply-accumulate first layer
    assert "LUT.multipliers" not in e9.per_layer[0].detail["breakdown"]
    # a spike-coded first layer is accumulate-only: no multiplier at all
    r = estimate(mnist_like(encoding="rate"), PYNQ, 4)
    assert r.per_layer[0].kind == "conv" and "LUT.multipliers" not in r.per_layer[0].detail["breakdown"]


def test_fewer_channels_never_cost_more():
    """Block memories, DSPs and cycles never grow; LUT/FF only by what an array that leaves BRAM
    for LUTRAM costs there, so the memory-equivalent area (a RAMB18 = 288 LUT6 of 64 bits) shrinks."""
    prev = None
    for c1, c2 in ((32, 64), (16, 32), (8, 16), (4, 8), (2, 3)):
        e = estimate(mnist_like(c1, c2), PYNQ, 8)
        if prev is not None:
            for k in ("BRAM18", "URAM", "DSP"):
                assert e.total[k] <= prev.total[k], (c1, c2, k)
            for k in ("LUT", "FF"):
                assert e.total[k] + BRAM18_LUT_EQUIV * e.total["BRAM18"] < prev.total[k] + BRAM18_LUT_EQUIV * prev.total["BRAM18"]
            if e.total["BRAM18"] == prev.total["BRAM18"]:  # nothing left block RAM for LUTRAM
                assert e.total["LUT"] < prev.total["LUT"]
            assert e.cycles_worst < prev.cycles_worst
        prev = e


def test_fewer_channels_in_one_layer_cost_less_there():
    a = estimate(mnist_like(16, 32), PYNQ, 8)
    b = estimate(mnist_like(16, 24), PYNQ, 8)
    assert b.per_layer[0].resources() == a.per_layer[0].resources()  # conv1 untouched
    for i in (2, 4):  # conv2 and the readout see fewer channels
        assert b.per_layer[i].cycles_worst < a.per_layer[i].cycles_worst
        for k in ("LUT", "FF", "BRAM18"):
            assert b.per_layer[i].resources()[k] <= a.per_layer[i].resources()[k]


def test_more_parallelism_fewer_cycles_more_luts():
    """Cycles always fall with P; LUT rise from P = 2 on. From P = 1 to 2 the table may shrink by
    more than a lane costs (at P = 1 every nonzero weight is its own chunk, a ROM word with its
    group and an offset)."""
    net = mnist_like(zero_frac=0.2)
    prev = None
    for p in (1, 2, 4, 8, 16):
        e = estimate(net, PYNQ, p)
        if prev is not None:
            assert e.cycles_worst < prev.cycles_worst, p
            if p > 2:
                assert e.total["LUT"] > prev.total["LUT"], p
        prev = e


def test_pruned_weights_cost_no_cycles():
    dense = mnist_like(zero_frac=0.0)
    sparse = mnist_like(zero_frac=0.7)
    a, b = estimate(dense, PYNQ, 1), estimate(sparse, PYNQ, 1)
    assert b.cycles_worst < a.cycles_worst
    assert b.per_layer[2].detail["synops_worst"] < a.per_layer[2].detail["synops_worst"]
    # at the default threshold the dense readout's table fills its block RAM and the sparse one's
    # does not: fewer BRAM18, more LUT (the memory rule's step, not a price of sparsity) ...
    assert a.per_layer[4].detail["memories"]["table"]["style"] == "block"
    assert b.per_layer[4].detail["memories"]["table"]["style"] == "distributed"
    assert b.total["BRAM18"] < a.total["BRAM18"]
    # ... with every table in logic (threshold 1: nothing fills a primitive whole), no resource grows
    logic = PYNQ.with_block_ram_min_fill(1.0)
    a, b = estimate(dense, logic, 1), estimate(sparse, logic, 1)
    for k in ("LUT", "FF", "BRAM18"):
        assert b.total[k] <= a.total[k]


def test_per_layer_parallelism_mapping_and_errors():
    net = mnist_like()
    e = estimate(net, PYNQ, {"conv2": 16})
    assert e.per_layer[2].parallelism == 16
    assert e.per_layer[0].parallelism == PYNQ.hls.parallelism  # board default for the rest
    with pytest.raises(SpikehlsError, match="conv1"):
        estimate(net, PYNQ, {"conv1": 0})


# ---- activity-based cycles ---------------------------------------------------------------------------


def test_activity_cycles_between_idle_and_worst():
    net = mnist_like()
    worst = estimate(net, PYNQ, 8)
    full = {le.name: {"in_events": le.detail["events_worst"], "synops": le.detail["synops_worst"]} for le in worst.per_layer if "events_worst" in le.detail}
    e_full = estimate(net, PYNQ, 8, full)
    for le, lw in zip(e_full.per_layer, worst.per_layer):
        assert le.cycles_activity == pytest.approx(lw.cycles_worst)  # everything spiking = the worst case
    assert e_full.cycles_activity == pytest.approx(worst.cycles_worst)
    idle = estimate(net, PYNQ, 8, {n: 0 for n in full})
    half = estimate(net, PYNQ, 8, {n: {"in_events": v["in_events"] / 2, "synops": v["synops"] / 2} for n, v in full.items()})
    assert idle.cycles_activity < half.cycles_activity < worst.cycles_worst
    # without synops, scatter cycles scale with the input events alone
    only_events = estimate(net, PYNQ, 8, {n: v["in_events"] / 2 for n, v in full.items()})
    assert only_events.cycles_activity == pytest.approx(half.cycles_activity)
    # a layer without counts leaves the total activity unknown
    part = dict(full)
    part.pop("conv2")
    assert estimate(net, PYNQ, 8, part).cycles_activity is None
