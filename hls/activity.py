"""Trip counts of the kernels' data-dependent loops, from the reference's activity on the test vectors.

The event loops of ``hls/cpp/nnet_spiking.h`` run once per active input (``Events``,
``EventsOneGroup``), once per iteration of a channel's events (``EvFlat``) or once per chunk of
a table row (``RowChunks``): their trip counts depend on the data, so csynth reports their
latency as ``?`` unless the loop carries ``LOOP_TRIPCOUNT``. :func:`set_tripcounts` measures
them on the project's test vectors (the reference spikes of the layer feeding each kernel, as
``spikehls.quantize.testvectors`` stores them) and stores ``(min, max, avg)`` on the layer
(attributes ``trip_events``, ``trip_chan``, ``trip_row``); the config templates write them into
the layer's config struct (``hls/templates.py``) and the kernels' pragmas read them there.
``max`` is always the structural bound (every input active; every chunk of the fullest row),
never the measured one, so the pragma stays true on data the test vectors do not hold. Without
test vectors ``min = 0`` and ``avg = max``: the worst case, labelled as such in the config.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

Trip = tuple[int, int, int]


def _trip(counts: Optional[np.ndarray], hi: int) -> Trip:
    hi = max(0, int(hi))
    if counts is None or np.asarray(counts).size == 0:
        return (0, hi, hi)
    c = np.asarray(counts, dtype=np.float64).ravel()
    return (int(min(c.min(), hi)), hi, int(min(hi, round(float(c.mean())))))


def _frames(x: np.ndarray, once: bool) -> np.ndarray:
    """``x [N, T, ...]`` as active flags ``[frames, ...]``: every frame, or frame 0 only (a layer
    that computes its current once, direct encoding)."""
    x = np.asarray(x)
    if once:
        x = x[:, :1]
    return (x != 0).reshape((-1,) + x.shape[2:])


def layer_tripcounts(node, active: Optional[np.ndarray]) -> dict[str, Trip]:
    """``trip_events`` / ``trip_chan`` / ``trip_row`` of one hls4ml spiking layer, from ``active``
    (its input's active flags ``[frames, ...]``, or None: no test vectors)."""
    cls = node.class_name
    n_in = int(node.get_attr("n_in"))
    offsets = np.asarray(node.get_weights("offsets").data, dtype=np.int64).ravel()
    chunks = np.diff(offsets)  # chunks of every table row
    fullest = [int(chunks.max())] if chunks.size else [0]
    skip = node.get_weights("skip_offsets") if "skip_offsets" in node.weights else None
    if skip is not None:  # RowChunks runs the skip table's rows too (skip_current)
        skip_chunks = np.diff(np.asarray(skip.data, dtype=np.int64).ravel())
        fullest.append(int(skip_chunks.max()) if skip_chunks.size else 0)
    groups = max(fullest)
    flat = None if active is None else active.reshape(len(active), -1)
    out: dict[str, Trip] = {"trip_events": _trip(None if flat is None else flat.sum(1), n_in)}
    if cls == "SpikingConv2D":
        c, h, w = (int(v) for v in node.get_attr("in_shape"))
        kh, kw = (int(v) for v in node.get_attr("weight_shape")[2:])
        per_event = kh * (kw // int(node.get_attr("tap_lanes")))
        per_chan = None if flat is None else flat.reshape(len(flat), c, h * w).sum(2) * per_event
        out["trip_chan"] = _trip(per_chan, h * w * per_event)
        # rows (ci, ky, kx): an event of channel ci runs the rows of ci
        by_chan = None if flat is None else flat.reshape(len(flat), c, h * w).sum((0, 2)).astype(np.float64)
        weights_rows = None if by_chan is None else np.repeat(by_chan, kh * kw)[: len(chunks)]
    else:
        weights_rows = None if flat is None else flat.sum(0).astype(np.float64)[: len(chunks)]
    if chunks.size == 0:
        out["trip_row"] = (0, 0, 0)
    elif weights_rows is None or weights_rows.sum() == 0:
        out["trip_row"] = (int(chunks.min()), groups, int(round(float(chunks.mean()))))
    else:  # the chunks an event runs, averaged over the events of the test vectors
        avg = float((chunks * weights_rows).sum() / weights_rows.sum())
        out["trip_row"] = (int(chunks.min()), groups, int(round(avg)))
    return out


def set_tripcounts(layers: Sequence, graph_nodes: Sequence, graph_input: str, tv, pixels: bool) -> None:
    """Store the trip counts on every weighted layer of ``layers`` (the hls4ml layers of the
    project, in the order of ``graph_nodes``, the clean graph's nodes).

    ``tv`` is ``load_testvectors``'s ``(inputs, labels, RefResult)`` or None; a layer's input is
    the graph input (the encoded test inputs) or the reference spikes of the node feeding it.
    """
    producer = {n.output[0]: n.name for n in graph_nodes}
    for lyr, node in zip(layers, graph_nodes):
        if lyr.class_name == "SpikeMaxPool2D":
            continue  # no data-dependent loop
        active = None
        if tv is not None:
            inputs, _, ref = tv
            src = node.input[0]
            if src == graph_input:
                active = _frames(inputs, once=pixels)
            elif producer.get(src) in ref.spikes:
                active = _frames(ref.spikes[producer[src]], once=False)
        for key, trip in layer_tripcounts(lyr, active).items():
            lyr.set_attr(key, trip)
        _reformat_config(lyr)


def _reformat_config(lyr) -> None:
    """hls4ml formats a layer's config struct during conversion (its apply_templates pass): format
    it again now that the trip counts are known."""
    from hls4ml.backends.template import LayerConfigTemplate

    from spikehls.hls.templates import TEMPLATES

    for cls in TEMPLATES:
        if issubclass(cls, LayerConfigTemplate):
            tmpl = cls()
            if tmpl.match(lyr):
                lyr.set_attr(tmpl.attribute_name, tmpl.format(lyr))
