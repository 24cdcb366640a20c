"""The co-design planner as it was before incremental pricing: the reference the planner is tested against.

Every candidate copies the whole integer network (:func:`~spikehls.planning.prune_intnet`) and
re-estimates every layer from its weights (:func:`~spikehls.hls.report_run.estimate_report`).
Slow on large networks, simple to trust: ``tests/test_planning_incremental.py`` checks that
:func:`spikehls.planning.plan` chooses exactly the plan this one chooses.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from spikehls.boards import Board
from spikehls.hls.lanes import distinct_parallelisms
from spikehls.planning import (
    Parallelism,
    Plan,
    _excess,
    _latency_us,
    _pressure,
    prunable_groups,
    prune_intnet,
    resolve_parallelism,
)
from spikehls.quantize.intnet import IntNet, SpikingConv2d


def plan_reference(
    net: IntNet,
    board: Board,
    activity: Mapping[str, np.ndarray],
    parallelism: Parallelism = None,
    margin: float = 0.9,
    strategy: str = "cost_per_activity",
    events: Optional[Mapping[str, Any]] = None,
    max_parallelism: int = 256,
) -> Plan:
    """Plan per-layer parallelism and channel caps so that ``net`` fits ``margin`` x the budget.

    Phase 1 costs no accuracy: halve or double one layer's parallelism at a time (fewer lanes
    free LUT/FF, more lanes cut latency), taking the move that reduces the total excess over the
    budget most, while any move does. Phase 2 removes channels by ``strategy`` until it fits.
    """
    from spikehls.hls.report_run import estimate_report

    if strategy not in ("cost_per_activity", "uniform"):
        raise ValueError(f"unknown strategy '{strategy}' (allowed: cost_per_activity, uniform)")
    groups = prunable_groups(net)
    size = {g[0]: int(net.layer(g[0]).weight.shape[0]) for g in groups}
    group_act = {g[0]: sum(np.asarray(activity.get(n, np.zeros(size[g[0]])), dtype=np.float64) for n in g)
                 for g in groups}
    # removal order inside a group: least active first (activity summed over tied members)
    order = {k: np.lexsort((np.arange(size[k]), a)) for k, a in group_act.items()}
    act_sorted = {k: np.sort(a) for k, a in group_act.items()}
    removed = {k: 0 for k in size}
    par = resolve_parallelism(net, board, parallelism)

    def keep_of(rem: Mapping[str, int]) -> dict[str, np.ndarray]:
        keep = {}
        for g in groups:
            idx = np.sort(order[g[0]][rem[g[0]]:])
            for n in g:
                keep[n] = idx
        return keep

    def log_share(k: str, fewer: int, more: int) -> float:
        """log(activity kept with ``fewer`` removed / kept with ``more`` removed) in group ``k``:
        what removing channels ``fewer..more`` costs (or giving them back returns), as a share."""
        a = act_sorted[k]
        return math.log((float(a[fewer:].sum()) + 1e-9) / max(float(a[more:].sum()) + 1e-9, 1e-9))

    def evaluate(rem: Mapping[str, int], p: Mapping[str, int]) -> tuple[dict, dict[str, float]]:
        # event counts stay as measured on the unpruned network: removing channels only lowers
        # them, so the activity latency of a plan is a conservative (upper) estimate
        rep = estimate_report(prune_intnet(net, keep_of(rem)), board, dict(p), events)
        return rep, _pressure(rep, board, margin)

    rep, press = evaluate(removed, par)
    steps = 0
    par_steps = 0
    notes: list[str] = []

    def parallelism_moves(rem: Mapping[str, int]) -> int:
        """Phase 1 (no accuracy cost), also re-run between channel removals: move one layer's
        parallelism to any other lane configuration it has (:func:`distinct_parallelisms`: every
        distinct pair of scatter and fire lanes up to ``max_parallelism``), the move that reduces
        the excess most, while any does. Any value, not only the neighbours: a far move crosses
        the plateaus where fewer lanes first cost more (a smaller plane of banks leaving LUTRAM
        for BRAM), and P = channels (one channel group) is often the knee of a layer's curve."""
        nonlocal par, rep, press
        n = 0
        pruned = prune_intnet(net, keep_of(rem))
        shapes = pruned.shapes()
        options = {}
        for lyr in pruned.layers:
            if lyr.name in par:
                co = int(lyr.weight.shape[0])
                hw = shapes[lyr.name][1:] if isinstance(lyr, SpikingConv2d) else (1, 1)
                options[lyr.name] = distinct_parallelisms(co, int(hw[0]), int(hw[1]), max_parallelism)
        while _excess(press) > 0:
            best = None
            for name, p in par.items():
                for q in options[name]:  # all within 1..max_parallelism
                    if q == p:
                        continue
                    cand = {**par, name: q}
                    c_rep, c_press = evaluate(rem, cand)
                    if _excess(c_press) >= _excess(press) - 1e-9:
                        continue
                    # least excess first; among equals (e.g. several moves that fit) the fastest
                    key = (round(_excess(c_press), 9), _latency_us(c_rep))
                    if best is None or key < best[0]:
                        best = (key, cand, c_rep, c_press)
            if best is None:
                break
            _, par, rep, press = best
            n += 1
        return n

    # phase 1: parallelism (no accuracy cost)
    par_steps += parallelism_moves(removed)
    steps += par_steps

    # phase 2: channels
    if _excess(press) > 0 and strategy == "uniform":
        s = 0.0
        while _excess(press) > 0 and s < 1.0:
            s = round(s + 0.01, 2)
            removed = {k: size[k] - max(1, math.floor((1 - s) * size[k])) for k in size}
            rep, press = evaluate(removed, par)
            steps += 1
            n = parallelism_moves(removed)
            par_steps += n
            steps += n
        notes.append(f"uniform sparsity {s:.2f} in every prunable group")
    elif _excess(press) > 0:
        while _excess(press) > 0:
            best = None
            # memories come in whole blocks, so one channel may free nothing: if no group gains
            # from its smallest step, try doubling steps (a plateau is crossed, not stopped at)
            chunk_scale = 1
            while best is None and chunk_scale <= max(size.values(), default=1):
                for k in size:
                    left = size[k] - removed[k]
                    if left <= 1:
                        continue
                    chunk = min(left - 1, max(1, math.ceil(0.03 * size[k])) * chunk_scale)
                    cand = {**removed, k: removed[k] + chunk}
                    c_rep, c_press = evaluate(cand, par)
                    gain = _excess(press) - _excess(c_press)
                    if gain <= 1e-12:
                        continue
                    # what the layer loses, as a share of the activity it still carries: scale-free
                    # across layers, and the last channels of a layer cost more and more -- a layer
                    # is not emptied to feed another
                    lost = log_share(k, removed[k], cand[k])
                    ratio = gain / (lost + 1e-6)
                    if best is None or ratio > best[0]:
                        best = (ratio, cand, c_rep, c_press)
                chunk_scale *= 2
            if best is None:
                notes.append("no channel removal reduces the excess any further")
                break
            _, removed, rep, press = best
            steps += 1
            # fewer channels can make fewer lanes pay off: try the free moves again
            n = parallelism_moves(removed)
            par_steps += n
            steps += n
        # refill: memories shrink in whole blocks, so the removal steps that crossed a plateau
        # may have taken more than needed; give channels back, the one that returns the largest
        # share of its layer's activity first, while the design still fits
        refilled = 0
        while _excess(press) == 0:
            best = None
            for k in size:
                if removed[k] == 0:
                    continue
                cand = {**removed, k: removed[k] - 1}
                c_rep, c_press = evaluate(cand, par)
                if _excess(c_press) > 0:
                    continue
                share = log_share(k, removed[k] - 1, removed[k])
                if best is None or share > best[0]:
                    best = (share, cand, c_rep, c_press)
            if best is None:
                break
            _, removed, rep, press = best
            refilled += 1
            steps += 1
        if refilled:
            notes.append(f"{refilled} channel(s) given back after the removal overshot")
    if par_steps:
        notes.append(f"parallelism changed in {par_steps} step(s)")
    return Plan(
        strategy=strategy,
        fits=_excess(press) == 0,
        keep=keep_of(removed),
        caps={k: int(size[k] - removed[k]) for k in size},
        channels_before=dict(size),
        parallelism=dict(par),
        report=rep,
        steps=steps,
        notes=notes,
        pressure={k: (v if math.isfinite(v) else 1e300) for k, v in press.items()},
    )
