"""One geometry for every consumer: the HLS project (``firmware/parameters.h``, ``defines.h``,
``spikehls.json``), the cost model's per-layer ``detail`` and :func:`spikehls.hls.geometry.net_geometry`
must give every layer the same lanes, banks, table shapes and bit widths (the RTL generator
reads ``net_geometry`` itself). Projects are generated, not compiled: fast."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.boards import load_board  # noqa: E402
from spikehls.errors import SpikehlsError  # noqa: E402
from spikehls.hls.estimate import _resolve_parallelism, estimate  # noqa: E402
from spikehls.hls.geometry import conv_out_size, layer_parallelism, net_geometry, signed_bits, unsigned_bits  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402
from spikehls.quantize.random_net import random_inputs, random_intnet  # noqa: E402

BOARD = load_board("pynq-z2")
# random nets drawn to cover conv + pool + dense, identity / 1x1 skips (27, 30: from the pixel
# input), direct and spike encodings; "hand": the handmade net (pool-fed 1x1 skip, dense)
NETS = ["hand", 0, 3, 27, 30]


def _net(which):
    return handmade_net(reset="subtract", encoding="rate") if which == "hand" else random_intnet(np.random.default_rng(which))


def _structs(firmware: Path) -> dict[int, dict]:
    """``{layer index: {name: value}}`` of every ``configN`` struct; typedefs as their bit width."""
    defines = dict((name, t) for t, name in re.findall(r"typedef\s+(\S+)\s+(\w+);", (firmware / "defines.h").read_text()))
    out: dict[int, dict] = {}
    text = (firmware / "parameters.h").read_text()
    for m in re.finditer(r"struct config(\d+) \{(.*?)\n\};", text, re.S):
        body, vals = m.group(2), {}
        for decl in re.findall(r"static const (?:unsigned|bool|int|long long) ([^;]*);", body):
            for part in decl.split(","):
                k, v = (x.strip() for x in part.split("="))
                vals[k] = {"true": True, "false": False}.get(v, None)
                if vals[k] is None:
                    vals[k] = int(v.rstrip("L"))
        local = dict((name, t) for t, name in re.findall(r"typedef\s+(\S+)\s+(\w+);", body))
        for name in local:
            t = name
            while t in local or t in defines:
                t = local.get(t) or defines[t]
            w = re.match(r"(?:ap_u?int|spk::u?int_t)<(\d+)>", t)  # spk:: types: ap_int in synthesis
            if w:
                vals[name] = int(w.group(1))
        out[int(m.group(1))] = vals
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("geo")
    out = {}
    for which in NETS:
        net = _net(which)
        x = handmade_inputs(net, 2) if which == "hand" else random_inputs(np.random.default_rng(1), net, 2)
        out[which] = (net, write_run(net, base / f"run_{which}", x))
    return out


def _parallelisms(net):
    """One P for every layer, and a per-layer mapping (distinct P per layer)."""
    weighted = [lyr.name for lyr in net.layers if hasattr(lyr, "weight")]
    rng = np.random.default_rng(len(weighted))
    return [(1, {}), (3, {}), (None, {n: int(rng.integers(1, 13)) for n in weighted})]


@pytest.mark.parametrize("which", NETS)
def test_hls_project_cost_model_and_geometry_agree(which, runs, tmp_path):
    net, run = runs[which]
    for i, (p, overrides) in enumerate(_parallelisms(net)):
        prj = tmp_path / f"p{i}"
        generate_project(run / "model.qonnx.onnx", BOARD, prj, parallelism=p, layer_overrides=overrides)
        meta = {lyr["source_name"]: lyr for lyr in json.loads((prj / "spikehls.json").read_text())["layers"]}
        structs = _structs(prj / "firmware")
        par = _resolve_parallelism(net, BOARD, overrides or p)
        geos = net_geometry(net, par)
        est = {le.name: le for le in estimate(net, BOARD, overrides or p).per_layer}
        for g in geos:
            where = f"net {which}, P {p or overrides}, layer {g.name}"
            m, c, d = meta[g.name], structs[meta[g.name]["index"]], est[g.name].detail
            assert m["out_banks"] == g.out_banks, where
            if g.kind != "readout":
                assert m["out_shape"] == list(g.out_shape), where
            if g.kind == "maxpool":
                assert c["out_lanes"] == g.out_lanes == d["out_lanes"], where
                assert d["in_banks"] == g.in_banks and d["initiation_interval"] == g.pool_ii, where
                assert (c["out_height"], c["out_width"]) == g.out_shape[1:], where
                continue
            # the HLS project
            assert (m["parallelism"], c["parallelism"]) == (g.parallelism, g.parallelism), where
            assert (m["lanes"], c["n_lanes"]) == (g.lanes, g.lanes), where
            assert (m["fire_lanes"], c["fire_lanes"]) == (g.fire_lanes, g.fire_lanes), where
            assert c["n_groups"] == g.groups, where
            assert (m["read_lanes"], c["read_lanes"]) == (g.read_lanes, g.read_lanes), where
            # the C++ arrays hold at least one (never addressed) chunk
            assert (c["n_chunks"], c["n_table"]) == (max(g.table.chunks, 1), max(g.table.chunks, 1) * g.lanes), where
            assert c["n_nonzero"] == g.table.nnz, where
            assert (c["plane_words"], c["acc_depth"], c["v_depth"]) == (g.plane_words, g.acc_depth, g.v_depth), where
            assert m["nonzero_weights"] == g.table.nnz + (g.skip_table.nnz if g.skip_table else 0), where
            assert m["table_chunks"] == g.table.chunks + (g.skip_table.chunks if g.skip_table else 0), where
            assert c["accum_t"] == g.acc_bits and c["bias_t"] == g.bias_bits, where
            assert (c["weight_t"], c["group_t"], c["index_t"]) == (g.table.weight_bits, g.table.group_bits, g.table.index_bits), where
            assert m["mac"] == g.pixels, where
            if g.kind == "conv":
                assert (c["tap_lanes"], c["tap_words"], c["back_to_back"]) == (g.tap_lanes, g.tap_words, g.back_to_back), where
                assert c["n_rows"] == g.table.rows, where
                assert (c["stride_height"], c["pad_top"]) == (g.stride, g.padding), where
                assert c["has_skip"] == (g.skip_table is not None), where
                if g.skip_table is not None:
                    st = g.skip_table
                    assert (c["skip_chunks"], c["skip_stride"]) == (max(st.chunks, 1), g.skip_stride), where
                    assert (c["skip_chan"], c["skip_height"], c["skip_width"]) == g.skip_shape, where
                    assert (c["skip_weight_t"], c["skip_group_t"], c["skip_index_t"]) == (st.weight_bits, st.group_bits, st.index_bits), where
            if g.is_neuron:
                assert c["sum_t"] == g.sum_bits and c["v_t"] == g.v_bits, where
                assert (c["fire_once"], c["n_breaks"]) == (g.fire_once, g.n_breaks), where
            # the cost model
            assert est[g.name].parallelism == g.parallelism, where
            for key, val in (("lanes", g.lanes), ("fire_lanes", g.fire_lanes), ("out_banks", g.out_banks),
                             ("read_lanes", g.read_lanes), ("tap_lanes", g.tap_lanes), ("back_to_back", g.back_to_back),
                             ("acc_bits", g.acc_bits), ("table_chunks", g.table.chunks), ("nonzero_weights", g.table.nnz),
                             ("frames", g.frames), ("n_out", g.n_out)):
                assert d[key] == val, f"{where}: estimate {key} {d[key]} != geometry {val}"


def test_pixel_skip_counts_the_pixel_range():
    """A skip from the pixel input adds up to 255 x its weights: the HLS layers always sized it so,
    and the cost model now reads the same acc_bits (it used to count x1)."""
    net = random_intnet(np.random.default_rng(30))
    conv0 = net.layers[0]
    assert net.encoding == "direct" and conv0.skip is not None and conv0.skip.source == "input"
    g = net_geometry(net, {n.name: 2 for n in net.layers})[0]
    st = np.diag(conv0.skip.gain) if conv0.skip.weight is None else conv0.skip.weight
    w = conv0.weight.reshape(conv0.weight.shape[0], -1)
    lo = int((conv0.bias + 255 * np.where(w < 0, w, 0).sum(1)).min(initial=0)) + int((255 * np.where(st < 0, st, 0).sum(1)).min(initial=0))
    hi = int((conv0.bias + 255 * np.where(w > 0, w, 0).sum(1)).max(initial=0)) + int((255 * np.where(st > 0, st, 0).sum(1)).max(initial=0))
    assert (g.acc_lo, g.acc_hi, g.acc_bits) == (lo, hi, signed_bits(lo, hi))
    assert estimate(net, BOARD, 2).per_layer[0].detail["acc_bits"] == g.acc_bits


def test_one_parallelism_precedence():
    names = ["conv0", "conv1", "fc0", "readout"]
    brd = BOARD.model_copy(deep=True)
    brd.hls.layer_parallelism = {"conv1": 5}
    brd.hls.parallelism = 2
    assert layer_parallelism(brd, names) == {"conv0": 2, "conv1": 5, "fc0": 2, "readout": 2}
    assert layer_parallelism(brd, names, 7) == {n: 7 for n in names}
    assert layer_parallelism(brd, names, 7, {"fc0": 3}) == {"conv0": 7, "conv1": 7, "fc0": 3, "readout": 7}
    assert layer_parallelism(brd, names, None, {"fc0": 3}) == {"conv0": 2, "conv1": 5, "fc0": 3, "readout": 2}
    with pytest.raises(SpikehlsError, match=r"unknown layer\(s\) nope"):
        layer_parallelism(brd, names, None, {"nope": 3})
    assert layer_parallelism(brd, names, None, {"nope": 3}, strict=False)["conv0"] == 2  # the cost model ignores them
    with pytest.raises(SpikehlsError, match="parallelism of layer conv0 must be an integer >= 1"):
        layer_parallelism(brd, names, 0)


def test_bit_helpers():
    for lo in range(-70, 1):
        for hi in (0, 1, 2, 3, 7, 8, 63, 64, 1000):
            n = signed_bits(lo, hi)
            assert -(2 ** (n - 1)) <= lo and hi <= 2 ** (n - 1) - 1 and n >= 2
            assert n == 2 or not (-(2 ** (n - 2)) <= lo and hi <= 2 ** (n - 2) - 1)  # the smallest
    assert [unsigned_bits(v) for v in (0, 1, 2, 3, 4, 255, 256)] == [1, 1, 2, 2, 3, 8, 9]
    assert conv_out_size(28, 3, 1, 1) == 28 and conv_out_size(28, 2, 2, 0) == 14 and conv_out_size(7, 3, 2, 0) == 3


def test_offsets_deviation_bits_price_the_offsets_rom_by_its_content():
    """The offsets ROM as logic costs what its content deviates from a ramp: nothing for a table
    of one chunk per row (the identity) or any constant count, a few bits for a near-regular walk."""
    from spikehls.hls.geometry import offsets_deviation_bits

    assert offsets_deviation_bits(np.ones(3200, np.int64)) == 0
    assert offsets_deviation_bits(np.full(500, 3)) == 0
    assert offsets_deviation_bits(np.zeros(0, np.int64)) == 0
    walk = np.random.default_rng(1).integers(0, 3, 4096)
    off = np.concatenate([[0], np.cumsum(walk)])
    dev = off - np.rint(np.arange(off.size) * (off[-1] / walk.size)).astype(np.int64)
    assert offsets_deviation_bits(walk) == signed_bits(int(dev.min()), int(dev.max())) < unsigned_bits(int(off[-1]))
    assert offsets_deviation_bits(np.array([0, 0, 0, 7])) > 0


def test_bias_lanes_count_lanes_with_a_nonzero_start_value():
    """LayerGeometry.bias_lanes: lanes (channel % L) holding a nonzero bias in some group; a stream
    layer's accumulators start at z (no bias), so none."""
    from spikehls.hls.geometry import accumulate_geometry, count_live_lanes

    w = np.ones((10, 4), np.int64)
    bias = np.zeros(10, np.int64)
    bias[[1, 5, 7]] = [3, -2, 1]  # lanes 1, 1, 3 at L = 4
    g = accumulate_geometry("fc", "readout", w, bias, (4,), 2, 4, w_bits=4)
    assert g.lanes == 4 and g.bias_lanes == 2
    assert accumulate_geometry("fc", "readout", w, np.zeros(10, np.int64), (4,), 2, 4, w_bits=4).bias_lanes == 0
    assert count_live_lanes(np.array([True, False, False, False, False, True]), 4) == 2


def test_model_prices_bias_inputs_and_offsets_by_content():
    """twin_cost.items: the bias inputs of the bank write muxes only for lanes with a nonzero bias
    (F x acc bits x bias lanes x 2 with the fire reset), and the offsets ROM by its deviation bits:
    nothing for a one-chunk-per-row table (the identity), something for uneven rows."""
    from spikehls.hls.geometry import accumulate_geometry
    from spikehls.hls.twin_cost import items
    from spikehls.quantize.intnet import Neuron

    def geo(w, bias):
        return accumulate_geometry("c", "conv", w, np.asarray(bias, np.int64), (w.shape[1], 4, 4), 2, 4,
                                   w_bits=4, padding=0, neuron=Neuron(np.full(w.shape[0], 3)))

    ones = np.ones((4, 80, 1, 1), np.int64)  # 80 rows of one chunk each (4 lanes): offsets = identity
    zero, biased = geo(ones, [0, 0, 0, 0]), geo(ones, [1, 0, -2, 0])
    assert zero.bias_lanes == 0 and items(zero)["LUT"]["bias_mux"] == 0
    assert biased.bias_lanes == 2
    assert items(biased)["LUT"]["bias_mux"] == biased.fire_lanes * biased.acc_bits * 2 * 2
    assert zero.table.offset_bits == 0 and items(zero)["LUT"]["offsets_rom"] == 0
    uneven = ones.copy()
    uneven[:, ::3] = 0  # every third row empty: the offsets wander off the ramp
    g = geo(uneven, [0, 0, 0, 0])
    assert g.table.offset_bits > 0 and items(g)["LUT"]["offsets_rom"] > 0


def _varying_by_walking_the_chunks(w_rows, lanes, wb):
    """varying_bits the long way: build every chunk word and compare its bits."""
    from spikehls.hls.geometry import unsigned_bits

    rows, n_t = w_rows.shape
    groups = -(-n_t // lanes)
    padded = np.zeros((rows, groups * lanes), np.int64)
    padded[:, :n_t] = w_rows
    by_group = padded.reshape(rows, groups, lanes)
    r, g = np.nonzero((by_group != 0).any(axis=2))
    if len(r) <= 1:
        return 0
    bits = ((by_group[r, g] & ((1 << wb) - 1))[:, :, None] >> np.arange(wb)) & 1
    gbits = (g[:, None] >> np.arange(unsigned_bits(max(groups - 1, 1)))) & 1
    return int((bits.min(0) != bits.max(0)).sum() + (gbits.min(0) != gbits.max(0)).sum())


def test_varying_bits_count_the_chunk_bits_that_differ_between_chunks():
    """TableGeometry.varying_bits: the chunk-word bits yosys keeps (a bit equal in every chunk is a
    constant), from per-channel figures, equal to walking the chunks on random tables of every
    shape and sparsity (and through WeightStats, the planner's path)."""
    from spikehls.hls.geometry import WeightStats, table_geometry
    from spikehls.hls.memory import MemoryPlan

    assert table_geometry(np.array([[1, 0], [3, 0]]), 2, 4, 2).varying_bits == 1  # 0001 / 0011; lane 1 zero
    assert table_geometry(np.array([[1, 0], [-1, 0]]), 2, 4, 2).varying_bits == 3  # 0001 / 1111
    assert table_geometry(np.array([[1, 2, 0, 0], [0, 0, 1, 2]]), 2, 4, 4).varying_bits == 1  # only the group bit
    assert table_geometry(np.array([[5, 1]]), 2, 4, 2).varying_bits == 0  # one chunk: a constant word
    rng = np.random.default_rng(0)
    for _ in range(400):
        co, ci = int(rng.integers(1, 14)), int(rng.integers(1, 4))
        w = rng.integers(-8, 8, (co, ci, 3, 3))
        w[rng.random(w.shape) < rng.uniform(0, 0.97)] = 0
        if rng.random() < 0.3:
            w = np.abs(w)  # lanes of one sign: their sign bits are constant
        rows, lanes = w.reshape(co, -1).T, int(rng.integers(1, 9))
        t = table_geometry(rows, lanes, 4, co)
        assert t.varying_bits == _varying_by_walking_the_chunks(rows, lanes, t.weight_bits)
        assert table_geometry(rows, lanes, 4, co, WeightStats(w)) == t
        # within what the live lanes and the group hold: the chunk registers' bits (twin_cost)
        assert t.varying_bits <= t.live_lanes * t.weight_bits + t.group_bits
    # a block ROM is counted on the bits it keeps: 64 x 631 with 28 constant bits is one RAMB36
    assert MemoryPlan("block", 64, 631, rom=True).bram18 == 4
    assert MemoryPlan("block", 64, 631, rom=True, kept_width=36).bram18 == 2


def test_readout_and_pool_items_as_built():
    """The readout's write / bias muxes are items of their own (its one bank of L lanes), its
    register accumulators' add-side read is not priced (it folds into the adder), the stream's
    select is one (words x L):1 mux."""
    from spikehls.hls.geometry import accumulate_geometry
    from spikehls.hls.twin_cost import _mux, items, layer_memories

    w = np.random.default_rng(2).integers(-3, 4, (10, 6))
    g = accumulate_geometry("fc", "readout", w, np.arange(10, dtype=np.int64), (6,), 2, 8, w_bits=4)
    it = items(g)["LUT"]
    assert "bank_write_mux" not in it and it["readout_write_mux"] > 0 and it["readout_bias_mux"] > 0
    acc = layer_memories(g)["acc"]
    assert acc.style == "registers" and acc.depth == 2 and "reg_read_mux" not in it
    assert it["out_mux"] == g.acc_bits * _mux(g.lanes * acc.depth)
    assert [_mux(n) for n in (1, 2, 4, 5, 16)] == [0, 1, 1, 2, 5]


@pytest.mark.parametrize("seed", range(40))
def test_pool_walk_steps_reproduce_the_span_starts_and_cases_cover_every_read(seed):
    """PoolWalk (the pool's divider-free walk, shared by the Verilog and the model): adding its
    steps with one carry to (word, offset-in-units) gives ``base / IOB`` and ``base % IOB`` of every
    window row in the FSM's order; every word read puts each span input it holds on one of that
    input's cases, and the widths hold every value the registers take."""
    from spikehls.hls.geometry import PoolWalk, pool_geometry

    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 4))
    s = int(rng.integers(1, k + 1))
    shape = (int(rng.integers(1, 6)), int(rng.integers(k, 14)), int(rng.integers(k, 14)))
    banks = int(rng.choice([1, 2, 3, 4, 5, 6, 8, 12, 16, 24]))
    g = pool_geometry("p", shape, 2, k, s, banks)
    pw = PoolWalk.of(g)
    c, h, w = shape
    _, ho, wo = g.out_shape
    R, IOB, U = g.out_lanes, banks, pw.unit
    assert IOB % U == 0 and all(d % U == 0 for d in pw.steps)
    wf, off = 0, 0
    order = [(pc, oy, sg, py) for pc in range(c) for oy in range(ho) for sg in range(wo // R) for py in range(k)]
    for i, (pc, oy, sg, py) in enumerate(order):
        base = pc * h * w + (oy * s + py) * w + sg * R * s
        assert (wf, off * U) == (base // IOB, base % IOB), (i, pc, oy, sg, py)
        assert wf < 2 ** pw.word_bits and off < 2 ** pw.offset_bits
        for wd in range(base // IOB, (base + pw.span - 1) // IOB + 1):
            rel_u = (base - wd * IOB) // U
            assert -(2 ** (pw.rel_bits - 1)) <= rel_u < 2 ** (pw.rel_bits - 1)
            for p in range(pw.span):
                inside = 0 <= base + p - wd * IOB < IOB
                assert (rel_u in pw.cases[p]) == inside
        if i + 1 < len(order):
            nxt = order[i + 1]
            step = pw.steps[0 if nxt[3] else 1 if nxt[2] else 2 if nxt[1] else 3]
            q, r = divmod(step, IOB)
            o = off + r // U
            carry = o >= IOB // U
            wf, off = wf + q + carry, o - carry * (IOB // U)
