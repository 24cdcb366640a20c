"""The planner's cost function: the resource/latency model of a pruned network, priced incrementally.

:func:`spikehls.planning.plan` asks thousands of times what the design costs with some channels
removed and some layer's parallelism moved. Asked of :func:`~spikehls.hls.report_run.estimate_report`,
each question copies the whole integer network and re-reads every weight of every layer (a VGG-16
for ZCU104 ran for over 20 minutes in the first phase). :class:`IncrementalCost` answers it from
the same model, layer by layer:

* a layer's figures depend only on its own slice of the network (the channels its producer and
  its own group keep, its skip source's channels), its parallelism and its producer's banks; they
  are cached under that key, so a candidate re-prices only the layers it changes;
* a pruned layer is sliced once per channel state (no deep copy of the network) and its weight
  statistics (:class:`~spikehls.hls.geometry.WeightStats`) are computed once, so pricing it at
  another lane count does not read its weights again.

The per-layer figures come from the model's own functions (:mod:`spikehls.hls.estimate`), summed
as :func:`~spikehls.hls.estimate.estimate` sums them; the planner checks its final plan against a
full :func:`~spikehls.hls.report_run.estimate_report` (:meth:`IncrementalCost.check`).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Mapping, Optional

import numpy as np

from spikehls.boards import RESOURCE_KINDS, Board
from spikehls.hls import estimate as est
from spikehls.hls.geometry import WeightStats, accumulate_geometry, pool_geometry
from spikehls.hls.memory import block_fill
from spikehls.quantize.intnet import IntNet, MaxPool2d, Readout, SpikingConv2d, SpikingDense

Sel = Optional[np.ndarray]  # kept channel indices (ascending), None = all


def prune_layer(lyr, in_sel: Sel, out_sel: Sel, src_sel: Sel, in_shape: tuple[int, ...]):
    """``lyr`` keeping output channels ``out_sel`` (a conv) of the inputs ``in_sel`` (its producer's
    kept channels; ``in_shape`` the producer's unpruned shape) and skip channels ``src_sel``.

    A new layer object; arrays are sliced, never written, so an unpruned array may be shared with
    ``lyr`` (copy the layer first where the result must own its arrays).
    """
    if isinstance(lyr, MaxPool2d):
        return lyr
    new = copy.copy(lyr)
    if isinstance(lyr, SpikingConv2d):
        if in_sel is not None and out_sel is not None:
            w = lyr.weight[np.ix_(out_sel, in_sel)]  # one copy, not two
        elif in_sel is not None:
            w = lyr.weight[:, in_sel]
        else:
            w = lyr.weight if out_sel is None else lyr.weight[out_sel]
        if out_sel is not None:
            new.bias = lyr.bias[out_sel]
            new.w_scale = lyr.w_scale[out_sel]
            new.neuron = copy.copy(lyr.neuron)
            new.neuron.threshold = lyr.neuron.threshold[out_sel]
        new.weight = w
        if lyr.skip is not None:
            sk = new.skip = copy.copy(lyr.skip)
            if sk.weight is None:
                if not _same(src_sel, out_sel):
                    raise ValueError(f"{lyr.name}: identity shortcut from {sk.source} needs the same channels")
                if out_sel is not None:
                    sk.gain = lyr.skip.gain[out_sel]
            else:
                sw = sk.weight if src_sel is None else sk.weight[:, src_sel]
                sk.weight = sw if out_sel is None else sw[out_sel]
    elif isinstance(lyr, (SpikingDense, Readout)) and in_sel is not None:
        hw = int(np.prod(in_shape[1:])) if len(in_shape) == 3 else 1
        cols = (np.asarray(in_sel)[:, None] * hw + np.arange(hw)[None, :]).reshape(-1)
        new.weight = lyr.weight[:, cols]
    return new


def _same(a: Sel, b: Sel) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool((a == b).all())


def _fingerprint(x: Any) -> Any:
    """A hashable stand-in for an event count (a float, or a per-sample array)."""
    if x is None:
        return None
    if np.ndim(x):
        a = np.asarray(x, dtype=np.float64)
        return (a.shape, a.tobytes())
    return float(x)


class IncrementalCost:
    """The model's figures of ``net`` under removed channels and per-layer parallelism, cached per layer.

    ``groups`` are the planner's prunable groups; ``order[k]`` the removal order of group ``k``'s
    channels (a state removes the first ``removed[k]``). ``events``: the C-simulation's counts
    (as measured on the unpruned network), as :func:`~spikehls.hls.estimate.estimate` takes them.
    """

    def __init__(self, net: IntNet, board: Board, events: Optional[Mapping[str, Any]],
                 groups: list[list[str]], order: Mapping[str, np.ndarray], slice_bytes: int = 768 << 20):
        self.net, self.board, self.events = net, board, events
        # the memory rule may choose URAM on this part; its distributed RAM cells (as estimate() does)
        self.ultra, self.ultrascale = est.part_memory(board.part)
        self.order = order
        self.shapes = net.shapes()
        member = {n: g[0] for g in groups for n in g}
        chan = {"input": None}  # the group whose removals set each output's channels
        self.in_group: list[Optional[str]] = []
        self.out_group: list[Optional[str]] = []
        self.skip_group: list[Optional[str]] = []
        self.prev: list[str] = []
        prev = "input"
        for lyr in net.layers:
            self.prev.append(prev)
            self.in_group.append(chan[prev])
            sk = getattr(lyr, "skip", None)
            self.skip_group.append(chan[sk.source] if sk is not None else None)
            own = member.get(lyr.name) if isinstance(lyr, SpikingConv2d) else None
            self.out_group.append(own)
            chan[lyr.name] = chan[prev] if isinstance(lyr, MaxPool2d) else own
            prev = lyr.name
        self.chan = chan
        self.readers = {lyr.name: 1 for lyr in net.layers}
        for lyr in net.layers:
            sk = getattr(lyr, "skip", None)
            if sk is not None and sk.source in self.readers:
                self.readers[sk.source] += 1
        self.top = est.top_cost(net, self.ultrascale)
        self._top_lut, self._top_ff = int(round(self.top["LUT"])), int(round(self.top["FF"]))
        self.overhead = est.overhead_cycles(net)
        self._keep: dict[tuple[str, int], np.ndarray] = {}
        self._slices: OrderedDict = OrderedDict()  # (layer, channel key) -> (pruned layer, stats, bytes): LRU
        self._slice_bytes, self._held = int(slice_bytes), 0
        self._last: Optional[tuple] = None  # the previous state priced: (removed, P, banks in, rows, costs)
        self._deps = [tuple(g for g in (self.in_group[i], self.out_group[i], self.skip_group[i]) if g is not None)
                      for i in range(len(net.layers))]
        self._skips = any(getattr(lyr, "skip", None) is not None for lyr in net.layers)
        self._par_names = [None if isinstance(lyr, MaxPool2d) else lyr.name for lyr in net.layers]
        self._users: dict[str, list[int]] = {}  # group -> the layers whose slice its removals change
        for i, deps in enumerate(self._deps):
            for k in deps:
                self._users.setdefault(k, []).append(i)
        self._geo: dict = {}
        self._cost: dict = {}
        self.priced = 0  # layer estimates computed (the rest came from the cache)

    # ---- channels -------------------------------------------------------------------------------
    def keep(self, k: Optional[str], removed: Mapping[str, int]) -> Sel:
        """Kept channel indices of group ``k`` (None: a layer no group prunes)."""
        if k is None:
            return None
        key = (k, int(removed[k]))
        got = self._keep.get(key)
        if got is None:
            got = self._keep[key] = np.sort(self.order[k][key[1]:])
        return got

    def channels(self, name: str, removed: Mapping[str, int]) -> int:
        """Output channels (a conv) or units of layer ``name`` in state ``removed``."""
        k = self.chan.get(name)
        if k is not None:
            return len(self.order[k]) - int(removed[k])
        return int(self.net.layer(name).weight.shape[0])

    def _shape(self, name: str, removed: Mapping[str, int]) -> tuple[int, ...]:
        shp = self.net.input_shape if name == "input" else self.shapes[name]
        k = self.chan.get(name)
        return tuple(shp) if k is None else (len(self.order[k]) - int(removed[k]),) + tuple(shp[1:])

    def _sliced(self, i: int, removed: Mapping[str, int]):
        """(pruned layer i, its WeightStats or None) for the channel state; an LRU of slices."""
        gi, go, gs = self.in_group[i], self.out_group[i], self.skip_group[i]
        key = (i, None if gi is None else removed[gi], None if go is None else removed[go],
               None if gs is None else removed[gs])
        got = self._slices.get(key)
        if got is not None:
            self._slices.move_to_end(key)
            return key, got[:2]
        lyr = self.net.layers[i]
        new = prune_layer(lyr, self.keep(gi, removed), self.keep(go, removed), self.keep(gs, removed),
                          self._shape_unpruned(self.prev[i]))
        stats = None if isinstance(lyr, MaxPool2d) else WeightStats(new.weight)
        size = 0 if stats is None else stats.nbytes + int(new.weight.nbytes)
        self._slices[key] = (new, stats, size)
        self._held += size
        while self._held > self._slice_bytes and len(self._slices) > 1:  # a slice is re-made if needed again
            self._held -= self._slices.popitem(last=False)[1][2]
        return key, (new, stats)

    def _shape_unpruned(self, name: str) -> tuple[int, ...]:
        return tuple(self.net.input_shape) if name == "input" else tuple(self.shapes[name])

    # ---- pricing --------------------------------------------------------------------------------
    def _geometry(self, i: int, removed: Mapping[str, int], p: int, banks: int):
        skey, (lyr, stats) = self._sliced(i, removed)
        key = (skey, p, banks)
        g = self._geo.get(key)
        if g is None:
            layers = self.net.layers
            in_shape = self._shape(self.prev[i], removed)
            if isinstance(lyr, MaxPool2d):
                g = pool_geometry(lyr.name, in_shape, self.net.time_steps, lyr.kernel, lyr.stride, banks)
            else:
                pixels = self.prev[i] == "input" and self.net.encoding == "direct"
                kind = "conv" if isinstance(lyr, SpikingConv2d) else ("readout" if isinstance(lyr, Readout) else "dense")
                sk = getattr(lyr, "skip", None)
                g = accumulate_geometry(
                    lyr.name, kind, lyr.weight, lyr.bias, in_shape, self.net.time_steps, p, w_bits=int(lyr.w_bits),
                    pixels=pixels, in_banks=banks,
                    pooled=i + 1 < len(layers) and isinstance(layers[i + 1], MaxPool2d),
                    stride=int(getattr(lyr, "stride", 1)), padding=int(getattr(lyr, "padding", 0)),
                    neuron=getattr(lyr, "neuron", None), skip=sk,
                    skip_shape=None if sk is None else self._shape(sk.source, removed),
                    skip_pixels=sk is not None and sk.source == "input" and self.net.encoding == "direct",
                    stats=stats)
            self._geo[key] = g
        return key, lyr, stats, g

    def price(self, removed: Mapping[str, int], par: Mapping[str, int]) -> dict[str, Any]:
        """The model's totals and latency of the state: ``{"total": {...}, "latency": {"us": {...}}}``,
        the fields the planner reads of a report.

        Only the layers whose channels, parallelism or input banks differ from the previous state
        priced are looked up again (the planner's candidates differ from each other in one or two
        layers); the sums run over every layer in order, as the model sums them."""
        n = len(self.net.layers)
        pvec = [1 if nm is None else int(par.get(nm, 1)) for nm in self._par_names]
        last = self._last
        if last is None:
            dirty = set(range(n))
        else:
            dirty = {i for i in range(n) if pvec[i] != last[1][i]}
            for k, v in removed.items():
                if v != last[0].get(k):
                    dirty.update(self._users.get(k, ()))
        rows = list(last[3]) if last is not None else [None] * n
        per = list(last[4]) if last is not None else [None] * n
        banks_in = list(last[2]) if last is not None else [1] * n
        if dirty:
            top = max(dirty)
            i = min(dirty)
            banks = banks_in[i]
            while i < n:
                if i > top and banks == banks_in[i]:
                    break  # from here on every layer is as in the previous state
                banks_in[i] = banks
                row = rows[i] = self._geometry(i, removed, pvec[i], banks)
                if not self._skips:
                    per[i] = self._layer_cost(row, None)
                banks = row[3].out_banks
                i += 1
        if self._skips and self.events:  # a skip layer's events follow its source's geometry: re-read them all
            skips = est._skip_events(self.net, self.events, [r[3] for r in rows])
            per = [self._layer_cost(r, skips.get(r[1].name)) for r in rows]
        elif self._skips:
            per = [self._layer_cost(r, None) for r in rows]
        self._last = (dict(removed), pvec, banks_in, rows, per)
        res, cyc, acts = zip(*per)
        total = dict(zip(RESOURCE_KINDS, map(sum, zip(*res))))
        total["LUT"] += self._top_lut
        total["FF"] += self._top_ff
        worst = sum(cyc) + self.overhead
        act = None
        if self.events and None not in acts:
            act = sum(acts) + self.overhead  # in layer order, as the model sums them
            act = float(act) if np.ndim(act) == 0 else act
        clock = self.board.clock_mhz
        return {"total": total, "latency": {"us": {"worst": worst / clock,
                                                   "activity": None if act is None else act / clock}}}

    def _layer_cost(self, row: tuple, skip_events: Any) -> tuple:
        """(resources in RESOURCE_KINDS order, worst cycles, activity cycles) of one priced layer."""
        gkey, lyr, stats, g = row
        key = (gkey, _fingerprint(skip_events))
        c = self._cost.get(key)
        if c is None:
            readers = self.readers[lyr.name]
            with block_fill(self.board.hls.block_ram_min_fill):  # as estimate() prices this board
                if isinstance(lyr, MaxPool2d):
                    le = est._maxpool_layer(lyr, g, readers, self.events, self.ultra, self.ultrascale)
                else:
                    le = est._spiking_layer(lyr, g, readers, self.events, skip_events, self.ultra, stats=stats,
                                            ultrascale=self.ultrascale)
            res = le.resources()
            c = self._cost[key] = (tuple(res[k] for k in RESOURCE_KINDS), le.cycles_worst, le.cycles_activity)
            self.priced += 1
        return c

    def check(self, priced: Mapping[str, Any], report: Mapping[str, Any]) -> None:
        """Raise if ``priced`` (:meth:`price`) differs from the full model's ``report`` of the same state:
        the planner and the model must never drift apart."""
        us_a, us_b = priced["latency"]["us"], report["latency"]["us"]
        same = dict(priced["total"]) == {k: report["total"][k] for k in RESOURCE_KINDS}
        same = same and us_a["worst"] == us_b["worst"]
        same = same and ((us_a["activity"] is None and us_b["activity"] is None)
                         or np.array_equal(np.asarray(us_a["activity"]), np.asarray(us_b["activity"])))
        if not same:
            raise RuntimeError(f"incremental cost {priced['total']}, {us_a} differs from the model's "
                               f"{report['total']}, {us_b}: a bug in spikehls.plan_cost")


def has_stream_layers(net: IntNet) -> bool:
    """Whether a layer's cost depends on other layers' (a residual stream: the reader's init and the
    writer's buffer banks follow the source's range and every reader's lanes), which the per-layer
    cache of :class:`IncrementalCost` does not key on."""
    return any(getattr(lyr, "residual", None) is not None or getattr(lyr, "current_sign", None) is not None
               for lyr in net.layers)


class FullCost(IncrementalCost):
    """The planner's pricing by the whole model for every candidate (:func:`estimate_report` of the
    pruned net): slower, exact by construction; used for nets with residual streams. The channel
    bookkeeping is :class:`IncrementalCost`'s; only the pricing differs."""

    def __init__(self, net: IntNet, board: Board, events: Optional[Mapping[str, Any]], groups, order, keep_of):
        super().__init__(net, board, events, groups, order)
        self.keep_of = keep_of

    def price(self, removed: Mapping[str, int], par: Mapping[str, int]) -> dict[str, Any]:
        from spikehls.hls.report_run import estimate_report
        from spikehls.planning import prune_intnet

        self.priced += 1
        return estimate_report(prune_intnet(self.net, self.keep_of(removed)), self.board, dict(par), self.events)
