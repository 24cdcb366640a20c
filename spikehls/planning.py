"""From a hardware report to per-layer channel caps: the planning half of the co-design loop.

The co-design loop (:mod:`spikehls.codesign`) asks one question between two training rounds:
*which channels should go so that the design fits the board?* This module answers it on the
integer network alone, with the analytic resource/latency model (:mod:`spikehls.hls.estimate`)
as the cost function, so that a plan costs milliseconds, not an HLS run:

* :func:`prune_intnet` removes output channels from an :class:`~spikehls.quantize.intnet.IntNet`
  (and the matching inputs of every consumer: the next conv, a dense/readout after the flatten, a
  1x1 shortcut; identity shortcuts tie channels into one group).
* :func:`channel_activity` measures each channel's mean spike rate on the test vectors: SCA's
  notion of how much a channel carries (DESIGN.md section 4), available without the float model.
* :func:`plan` removes channels greedily until the estimate fits ``margin`` x the board budget.
  Strategy ``cost_per_activity`` (the default): each step removes the least active channels of
  the group whose removal buys the most over-budget resource per unit of activity lost, so the
  layers that cost most per unit of what they carry give up most. Strategy ``uniform`` (the
  baseline): the same sparsity in every group, the smallest that fits. Both re-run the free
  parallelism moves after every step, so the LUT that fewer channels leave spare can buy latency.

Caps are reported per prunable group, keyed by the group's first conv layer name (which
:class:`~spikehls.training.sca.SCAPruner` resolves to its group).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

from spikehls.boards import RESOURCE_KINDS, Board
from spikehls.hls.lanes import distinct_parallelisms
from spikehls.plan_cost import FullCost, IncrementalCost, has_stream_layers, prune_layer
from spikehls.quantize.intnet import IntNet, MaxPool2d, Readout, SpikingConv2d, SpikingDense

Parallelism = Union[int, Mapping[str, int], None]


# ---- the network side ---------------------------------------------------------------------------
def prunable_groups(net: IntNet) -> list[list[str]]:
    """Spiking convs whose output channels may be removed, tied by identity shortcuts into groups.

    A conv fed an identity shortcut must keep exactly the channels of the shortcut's source; a
    group tied to the network input cannot shrink at all and is left out.
    """
    convs = [lyr.name for lyr in net.layers if isinstance(lyr, SpikingConv2d)]
    parent = {n: n for n in convs}
    pooled_from: dict[str, str] = {}  # a pool's output carries its input layer's channels
    prev = "input"
    fixed: set[str] = set()

    def root(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for lyr in net.layers:
        if isinstance(lyr, MaxPool2d):
            pooled_from[lyr.name] = pooled_from.get(prev, prev)
        if isinstance(lyr, SpikingConv2d) and lyr.skip is not None and lyr.skip.weight is None:
            src = pooled_from.get(lyr.skip.source, lyr.skip.source)
            if src == "input":
                fixed.add(lyr.name)
            elif src in parent:
                parent[root(lyr.name)] = root(src)
            else:  # identity skip from a dense layer: leave both alone
                fixed.add(lyr.name)
        prev = lyr.name
    groups: dict[str, list[str]] = {}
    for n in convs:
        groups.setdefault(root(n), []).append(n)
    fixed_roots = {root(n) for n in fixed}
    return [g for r, g in groups.items() if r not in fixed_roots]


def prune_intnet(net: IntNet, keep: Mapping[str, np.ndarray]) -> IntNet:
    """A copy of ``net`` keeping, for each conv named in ``keep``, only those output channels.

    ``keep[name]`` holds channel indices (ascending) of that layer's current outputs. Consumers
    lose the matching inputs. Tied layers (identity shortcuts) must be given the same indices.
    """
    shapes = net.shapes()
    sel: dict[str, Optional[np.ndarray]] = {"input": None}  # kept output channels of each layer (None = all)
    layers = []
    prev = "input"
    for lyr in net.layers:
        out_sel = np.asarray(keep[lyr.name]) if isinstance(lyr, SpikingConv2d) and lyr.name in keep else None
        skip = getattr(lyr, "skip", None)
        src_sel = sel[skip.source] if skip is not None else None
        in_shape = tuple(net.input_shape) if prev == "input" else tuple(shapes[prev])
        layers.append(prune_layer(copy.deepcopy(lyr), sel[prev], out_sel, src_sel, in_shape))
        sel[lyr.name] = sel[prev] if isinstance(lyr, MaxPool2d) else out_sel
        prev = lyr.name
    out = IntNet(tuple(net.input_shape), net.time_steps, net.encoding, layers)
    out.validate()
    return out


def channel_activity(spikes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean spike rate of every channel (over samples, time and space): ``[N, T, C, ...] -> [C]``."""
    out = {}
    for name, s in spikes.items():
        s = np.asarray(s, dtype=np.float64)
        axes = (0, 1) + tuple(range(3, s.ndim))
        out[name] = s.mean(axis=axes)
    return out


# ---- the hardware side --------------------------------------------------------------------------
@dataclass
class Plan:
    """What to change so that the estimate fits: per-layer parallelism first, then channel caps."""

    strategy: str
    fits: bool
    keep: dict[str, np.ndarray]  # conv name -> kept indices (into the current network's channels)
    caps: dict[str, int]  # group key (first conv of the group) -> channels kept
    channels_before: dict[str, int]
    parallelism: dict[str, int]  # layer -> weight additions per cycle
    report: dict[str, Any]  # predicted estimate of the planned network
    steps: int = 0
    notes: list[str] = field(default_factory=list)
    pressure: dict[str, float] = field(default_factory=dict)  # used / (margin x allowed) of the planned design
    latency_scale: float = 1.0  # the bounded latency over the mean-count latency the plan was priced on

    @property
    def binding(self) -> list[str]:
        """The resources (and ``latency``, for a board's bound) the planned design still exceeds."""
        return [k for k, v in self.pressure.items() if v > 1.0]

    @property
    def removes_channels(self) -> bool:
        return any(self.caps[k] < self.channels_before[k] for k in self.caps)

    def summary(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "fits": self.fits,
            "caps": dict(self.caps),
            "channels_before": dict(self.channels_before),
            "parallelism": dict(self.parallelism),
            "predicted_total": dict(self.report["total"]),
            "predicted_latency_us": self.report["latency"]["us"],
            "steps": self.steps,
            "notes": list(self.notes),
            "binding": self.binding,
        }


def _pressure(report: Mapping[str, Any], board: Board, margin: float,
              allowed: Optional[Mapping[str, float]] = None, latency_scale: float = 1.0) -> dict[str, float]:
    """used / (margin x allowed) for each resource (and the latency bound, if the board sets one);
    ``allowed``: ``board.allowed()``, when the caller holds it already. ``latency_scale``: what the
    bounded latency is per unit of the one candidates are priced on (see :func:`plan`)."""
    allowed = board.allowed() if allowed is None else allowed
    out = {}
    for k in RESOURCE_KINDS:
        used = float(report["total"][k])
        lim = allowed[k] * margin
        out[k] = used / lim if lim > 0 else (math.inf if used > 0 else 0.0)
    if board.hls.max_latency_us is not None:
        out["latency"] = _latency_us(report) * latency_scale / (board.hls.max_latency_us * margin)
    return out


def latency_scale(report: Mapping[str, Any], board: Board) -> float:
    """The bounded latency over the mean-count one on a C-simulated report: 1 for a bound on the
    mean; for ``hls.max_latency_of: slowest``, ``activity_max / activity`` (the slowest test vector
    over the mean counts), 1 when the report has no per-sample counts (its worst case bounds all)."""
    us = report.get("latency", {}).get("us", {})
    if board.hls.max_latency_of != "slowest" or not us.get("activity") or us.get("activity_max") is None:
        return 1.0
    return max(1.0, float(us["activity_max"]) / float(us["activity"]))


def _latency_us(report: Mapping[str, Any]) -> float:
    """The latency a bound is checked against (:func:`~spikehls.hls.report_run.latency_for_bound`)."""
    from spikehls.hls.report_run import latency_for_bound

    v, _ = latency_for_bound(report["latency"])
    return float("inf") if v is None else float(v)


def _excess(press: Mapping[str, float]) -> float:
    """How far over budget, summed over resources (0 when everything fits)."""
    return sum(max(0.0, v - 1.0) for v in press.values())


class _Progress:
    """The planner's progress: a tqdm bar on a terminal, a log line every few seconds off one."""

    def __init__(self, log: Optional[Callable[[str], None]], progress: bool, every_s: float = 5.0):
        from spikehls.console import bars_on

        self.log, self.every = log, every_s
        self.bar = None
        self.steps = 0
        self.t0 = self.last = time.perf_counter()
        if bars_on(progress) and log is not None:
            from tqdm import tqdm

            self.bar = tqdm(desc="plan", unit="step", leave=False)

    def start(self, excess: float, channels: int) -> None:
        if self.bar is None and self.log is not None:
            self.log(f"   planning: excess over the budget {excess:.3g}, {channels} prunable channels")

    def step(self, kind: str, excess: float, channels: int) -> None:
        self.steps += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{kind}, excess {excess:.3g}, channels {channels}", refresh=False)
            self.bar.update(1)
        elif self.log is not None and time.perf_counter() - self.last >= self.every:
            self.last = time.perf_counter()
            self.log(f"   planning: step {self.steps} ({kind}), excess {excess:.3g}, channels {channels}, "
                     f"{self.last - self.t0:.0f} s")

    def close(self, priced: int) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.log is not None:
            self.log(f"   planning: {self.steps} step(s), {priced} layer estimates, "
                     f"{time.perf_counter() - self.t0:.1f} s")


def resolve_parallelism(net: IntNet, board: Board, parallelism: Parallelism) -> dict[str, int]:
    """Per-layer adds per cycle of every layer that adds weights (the board's defaults filled in)."""
    from spikehls.hls.estimate import _resolve_parallelism  # the one place the precedence is defined

    par = _resolve_parallelism(net, board, parallelism)
    return {lyr.name: par[lyr.name] for lyr in net.layers if isinstance(lyr, (SpikingConv2d, SpikingDense, Readout))}


def plan(
    net: IntNet,
    board: Board,
    activity: Mapping[str, np.ndarray],
    parallelism: Parallelism = None,
    margin: float = 0.9,
    strategy: str = "cost_per_activity",
    events: Optional[Mapping[str, Any]] = None,
    max_parallelism: int = 256,
    log: Optional[Callable[[str], None]] = None,
    progress: bool = True,
    min_channels: Optional[Mapping[str, int]] = None,
    latency_scale: float = 1.0,
) -> Plan:
    """Plan per-layer parallelism and channel caps so that ``net`` fits ``margin`` x the budget.

    Phase 1 costs no accuracy: move one layer's parallelism at a time (fewer lanes free LUT/FF,
    more lanes cut latency), taking the move that reduces the total excess over the budget most,
    while any move does. Phase 2 removes channels by ``strategy`` until it fits.

    Candidates are priced incrementally (:class:`~spikehls.plan_cost.IncrementalCost`: only the
    layers a candidate changes), and the plan's report is the full model's, checked equal.
    ``log`` gets a line per step (a bar on a terminal instead, with ``progress``).

    ``min_channels``: group key -> the fewest channels phase 2 leaves it (default 1; a floor above
    the group's current size keeps it whole). Without one, a layer whose channels barely fire
    costs almost no activity to empty, and the greedy removal takes it down to one channel, which
    a trained network does not survive (measured on VGG-16: a 384-channel layer cut to 1).

    ``latency_scale``: candidates are priced on the measured mean event counts; a board that bounds
    the slowest test vector (``hls.max_latency_of: slowest``) is checked on that latency times the
    slowest-over-mean ratio the last C-simulation measured (:func:`latency_scale`), the way a
    yosys-corrected budget carries a measured ratio.
    """
    from spikehls.hls.report_run import estimate_report

    if strategy not in ("cost_per_activity", "uniform"):
        raise ValueError(f"unknown strategy '{strategy}' (allowed: cost_per_activity, uniform)")
    groups = prunable_groups(net)
    size = {g[0]: int(net.layer(g[0]).weight.shape[0]) for g in groups}
    floor = {k: min(n, max(1, int((min_channels or {}).get(k, 1)))) for k, n in size.items()}
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

    # event counts stay as measured on the unpruned network: removing channels only lowers
    # them, so the activity latency of a plan is a conservative (upper) estimate
    cost = (FullCost(net, board, events, groups, order, keep_of) if has_stream_layers(net)
            else IncrementalCost(net, board, events, groups, order))
    allowed = board.allowed()
    watch = _Progress(log, progress)

    def evaluate(rem: Mapping[str, int], p: Mapping[str, int]) -> tuple[dict, dict[str, float]]:
        rep = cost.price(rem, p)
        return rep, _pressure(rep, board, margin, allowed, latency_scale)

    rep, press = evaluate(removed, par)
    steps = 0
    par_steps = 0
    notes: list[str] = []
    watch.start(_excess(press), sum(size.values()))

    def parallelism_moves(rem: Mapping[str, int]) -> int:
        """Phase 1 (no accuracy cost), also re-run between channel removals: move one layer's
        parallelism to any other lane configuration it has (:func:`distinct_parallelisms`: every
        distinct pair of scatter and fire lanes up to ``max_parallelism``), the move that reduces
        the excess most, while any does. Any value, not only the neighbours: a far move crosses
        the plateaus where fewer lanes first cost more (a smaller plane of banks leaving LUTRAM
        for BRAM), and P = channels (one channel group) is often the knee of a layer's curve."""
        nonlocal par, rep, press
        n = 0
        shapes = net.shapes()
        options = {}
        for lyr in net.layers:
            if lyr.name in par:
                co = cost.channels(lyr.name, rem)
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
            watch.step("parallelism", _excess(press), sum(size[k] - rem[k] for k in size))
        return n

    # phase 1: parallelism (no accuracy cost)
    par_steps += parallelism_moves(removed)
    steps += par_steps

    # phase 2: channels
    if _excess(press) > 0 and strategy == "uniform":
        s = 0.0
        while _excess(press) > 0 and s < 1.0:
            s = round(s + 0.01, 2)
            removed = {k: size[k] - max(floor[k], math.floor((1 - s) * size[k])) for k in size}
            rep, press = evaluate(removed, par)
            steps += 1
            watch.step("uniform", _excess(press), sum(size[k] - removed[k] for k in size))
            # as after a removal by cost: fewer channels can make another lane count pay off (spare
            # LUT bought back as latency, where latency is what is over); the same free moves
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
                    if left <= floor[k]:
                        continue
                    chunk = min(left - floor[k], max(1, math.ceil(0.03 * size[k])) * chunk_scale)
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
            watch.step("channels", _excess(press), sum(size[k] - removed[k] for k in size))
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
            watch.step("refill", _excess(press), sum(size[k] - removed[k] for k in size))
        if refilled:
            notes.append(f"{refilled} channel(s) given back after the removal overshot")
    if par_steps:
        notes.append(f"parallelism changed in {par_steps} step(s)")
    watch.close(cost.priced)
    # the plan's report is the full model's (the one a report of the planned project shows), and
    # must be what the incremental pricing said
    full = estimate_report(prune_intnet(net, keep_of(removed)), board, dict(par), events)
    cost.check(rep, full)
    rep = full
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
        latency_scale=latency_scale,
    )
