"""The incremental planner against the reference planner and the full model, on random networks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spikehls.boards import load_board
from spikehls.hls.geometry import WeightStats, acc_range
from spikehls.hls.lanes import chunks_per_row
from spikehls.hls.report_run import estimate_report
from spikehls.plan_cost import IncrementalCost
from spikehls.planning import channel_activity, plan, prunable_groups, prune_intnet
from spikehls.quantize import reference as ref
from spikehls.quantize.random_net import random_inputs, random_intnet

sys.path.insert(0, str(Path(__file__).parent))
from _planning_ref import plan_reference  # noqa: E402

LIMITS = {"max_channels": 12, "max_hw": 10, "max_convs": 4}

BOARD = """name: tight
part: xc7z020clg400-1
clock_mhz: 100
resources: {{LUT: {lut}, FF: 106400, BRAM18: 280, URAM: 0, DSP: 220}}
budget: {{LUT: 1.0, BRAM18: 1.0}}
hls: {{parallelism: {par}{bound}}}
"""


def _events(net, x):
    """Per-layer counts as the C-simulation reports them (mean per sample), from the reference."""
    r = ref.run(net, x)
    outs = {"input": x, **r.spikes}
    ev, prev = {}, "input"
    for lyr in net.layers:
        ins = float(outs[prev].sum()) / len(x)
        ev[lyr.name] = {"in_events": ins, "synops": 3.0 * ins,
                        "out_spikes": float(outs[lyr.name].sum()) / len(x) if lyr.name in outs else 0.0}
        if lyr.kind != "readout":
            prev = lyr.name
    return ev, r


def _case(seed, tmp_path):
    rng = np.random.default_rng(seed)
    net = random_intnet(rng, **LIMITS)
    x = random_inputs(rng, net, 3)
    events, r = _events(net, x) if seed % 2 else (None, ref.run(net, x))
    lut = int(estimate_report(net, load_board("pynq-z2"), 4, events)["total"]["LUT"] * rng.uniform(0.55, 0.95))
    bound = f", max_latency_us: {rng.uniform(5, 200):.1f}" if seed % 3 == 0 else ""
    path = tmp_path / f"b{seed}.yaml"
    path.write_text(BOARD.format(lut=max(lut, 200), par=int(rng.choice([1, 4, 8])), bound=bound))
    return net, load_board(path), channel_activity(r.spikes), events


@pytest.mark.parametrize("strategy", ["cost_per_activity", "uniform"])
@pytest.mark.parametrize("seed", range(8))
def test_incremental_plan_equals_the_reference_plan(seed, strategy, tmp_path):
    net, board, act, events = _case(seed, tmp_path)
    new = plan(net, board, act, margin=0.9, strategy=strategy, events=events, max_parallelism=16)
    old = plan_reference(net, board, act, margin=0.9, strategy=strategy, events=events, max_parallelism=16)
    assert new.summary() == old.summary()
    assert new.keep.keys() == old.keep.keys()
    for k in new.keep:
        np.testing.assert_array_equal(new.keep[k], old.keep[k])
    assert new.report["total"] == old.report["total"]
    assert new.pressure == old.pressure


@pytest.mark.parametrize("seed", range(10))
def test_incremental_cost_equals_the_full_model_in_any_state(seed):
    """Random channel removals and lane settings: the incremental totals are the model's, exactly;
    on odd seeds under a board whose block RAM threshold is not the default (the planner prices
    the memories at the board's threshold, as estimate() does)."""
    rng = np.random.default_rng(100 + seed)
    net = random_intnet(rng, **LIMITS)
    x = random_inputs(rng, net, 2)
    events, _ = _events(net, x)
    board = load_board("zcu104")
    if seed % 2:
        fill = float(rng.choice([0.0, 0.1, 0.3]))
        board = board.with_block_ram_min_fill(fill)
    groups = prunable_groups(net)
    order = {g[0]: rng.permutation(net.layer(g[0]).weight.shape[0]) for g in groups}
    cost = IncrementalCost(net, board, events, groups, order, slice_bytes=1)  # evictions exercised
    names = [lyr.name for lyr in net.layers if lyr.kind != "maxpool"]
    for _ in range(6):
        removed = {k: int(rng.integers(0, len(o))) for k, o in order.items()}
        par = {n: int(rng.integers(1, 20)) for n in names}
        keep = {n: np.sort(order[g[0]][removed[g[0]]:]) for g in groups for n in g}
        full = estimate_report(prune_intnet(net, keep), board, par, events)
        cost.check(cost.price(removed, par), full)  # raises on any difference


@pytest.mark.parametrize("seed", range(6))
def test_weight_stats_equal_the_array_functions(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 40)), int(rng.integers(1, 9))) + ((3, 3) if seed % 2 else ())
    w = rng.integers(-8, 8, size=shape)
    w[rng.random(shape) < rng.uniform(0, 0.9)] = 0
    b = rng.integers(-50, 50, size=shape[0])
    st = WeightStats(w)
    rows = w.reshape(shape[0], -1).T
    for lanes in range(1, shape[0] + 3):
        np.testing.assert_array_equal(st.chunks(lanes), chunks_per_row(rows, lanes))
    for in_max in (1, 255):
        assert st.acc_range(b, in_max) == acc_range(w.reshape(shape[0], -1), b, in_max)
    assert st.nnz == int((w != 0).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residual_stream_nets_are_planned_on_the_full_model(seed):
    """A residual stream ties layers' costs together (the reader's init and the writer's banks), which the
    per-layer cache does not key on: such nets are priced by the whole model per candidate, and the plan's
    final check (priced == estimate_report) holds."""
    from spikehls.boards import load_board
    from spikehls.plan_cost import has_stream_layers
    from spikehls.planning import channel_activity, plan
    from spikehls.quantize import reference as ref
    from spikehls.quantize.random_net import random_preresnet_intnet

    rng = np.random.default_rng(seed)
    net = random_preresnet_intnet(rng)
    assert has_stream_layers(net)
    shape = (4, net.time_steps, *net.input_shape)
    x = rng.integers(0, 256, shape) if net.encoding == "direct" else (rng.random(shape) < 0.3).astype(np.int64)
    act = channel_activity(ref.run(net, x).spikes)
    p = plan(net, load_board("pynq-z2"), act, 4, 0.9, "cost_per_activity", None, log=lambda m: None, progress=False)
    assert p.fits
