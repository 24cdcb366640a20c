"""hls4ml IR layers for the spiking ops, their ONNX handlers, and the nonzero weight tables.

Every spiking layer's output is a flat ``[T][C][H][W]`` array of ``ap_uint<1>`` spikes; the
readout's is ``[K]`` integers. A layer's weights live in a *chunked nonzero table* (see
:func:`chunk_table`): zero and pruned weights have no entry, so they get no adder and no
cycle in hardware, and the kernels only ever do ``acc[bank][word] += weight``.

Bit widths are derived from the integers themselves (worst-case sums), never guessed, so
the C++ is exact by construction: the accumulator of a channel holds
``|bias| + sum |W|`` (+ skip) without overflow, the neuron update is computed two bits wider
than ``max(acc, v_bits)`` before saturating to ``v_bits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hls4ml.model.layers import Layer
from hls4ml.model.types import IntegerPrecisionType, FixedPrecisionType

from spikehls.errors import SpikehlsError
from spikehls.hls.lanes import events_back_to_back, fire_lanes, pool_lanes, read_lanes, scatter_lanes, tap_lanes
from spikehls.hls.lanes import output_banks as lanes_output_banks
from spikehls.hls.spike_trains import constant_current_trains
from spikehls.quantize.intnet import Neuron


# ---- chunked nonzero tables --------------------------------------------------------------------
@dataclass
class ChunkTable:
    """The weights of a layer as the kernels read them: per input row, chunks of ``lanes`` slots.

    Outputs are split into groups of ``lanes`` consecutive channels; a row gets one chunk per
    group holding at least one nonzero weight of that row, and slot ``j`` of a chunk of group
    ``g`` is the weight to output ``g * lanes + j`` (0: no weight, that lane adds nothing).
    Row ``r``'s chunks are ``groups[offsets[r]:offsets[r+1]]`` and
    ``weights[chunk * lanes + j]``. Why chunks and not a flat list of (target, weight): lane
    ``j`` then only ever adds into accumulator bank ``j``, so P lanes provably write P
    different banks in one cycle (no crossbar, no bank conflict), and one chunk is one wide
    word of the reshaped weight memory. A group with no nonzero weight in a row has no chunk:
    pruned channels and zero weights cost no cycle; a zero inside a chunk costs a slot, no add.
    ``nnz`` counts the real nonzero weights; the arrays are padded to at least one chunk
    because C++ has no zero-length arrays (the pad is never addressed).
    """

    offsets: np.ndarray
    groups: np.ndarray
    weights: np.ndarray  # [n_chunks * lanes], flat
    nnz: int
    lanes: int
    n_chunks: int

    @property
    def rows(self) -> int:
        return len(self.offsets) - 1


def chunk_table(w_rows: np.ndarray, lanes: int) -> ChunkTable:
    """Build the table from ``w_rows [rows, targets]`` (entry ``[r, c]`` = weight of row r to output c)."""
    w_rows = np.asarray(w_rows, dtype=np.int64)
    rows, n_t = w_rows.shape
    lanes = max(1, int(lanes))
    n_groups = -(-n_t // lanes)
    padded = np.zeros((rows, n_groups * lanes), np.int64)
    padded[:, :n_t] = w_rows
    by_group = padded.reshape(rows, n_groups, lanes)
    r_idx, g_idx = np.nonzero((by_group != 0).any(axis=2))  # row-major: grouped by row, groups ascending
    counts = np.bincount(r_idx, minlength=rows)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    chunks = by_group[r_idx, g_idx]  # [n_chunks, lanes]
    n_chunks = len(chunks)
    if n_chunks == 0:
        g_idx, chunks = np.zeros(1, np.int64), np.zeros((1, lanes), np.int64)
    return ChunkTable(offsets, g_idx.astype(np.int64), chunks.reshape(-1), int(np.count_nonzero(w_rows)), lanes, n_chunks)


def conv_rows(weight: np.ndarray) -> np.ndarray:
    """Conv weight ``[Co, Ci, kh, kw]`` -> rows ``(ci, ky, kx)`` x targets ``co``."""
    co = weight.shape[0]
    return np.asarray(weight).reshape(co, -1).T


def signed_bits(lo: int, hi: int) -> int:
    """Smallest signed width holding every integer in [lo, hi] (at least 2)."""
    n = 2
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def unsigned_bits(hi: int) -> int:
    return max(1, int(hi).bit_length())


def sint(bits: int) -> IntegerPrecisionType:
    return IntegerPrecisionType(width=int(bits), signed=True)


def uint(bits: int) -> IntegerPrecisionType:
    return IntegerPrecisionType(width=int(bits), signed=False)


SPIKE_PRECISION = uint(1)
PIXEL_PRECISION = FixedPrecisionType(width=8, integer=0, signed=False)  # pixel * 2^-8, as QONNX feeds it


def _is_spike(prec) -> bool:
    return isinstance(prec, IntegerPrecisionType) and prec.width == 1 and not prec.signed


def _arr(v) -> np.ndarray:
    return np.asarray(v, dtype=np.int64)


# ---- IR layers ---------------------------------------------------------------------------------
class _SpikeLayer(Layer):
    """Shared helpers: time steps, parallelism, table weights, input kind (spikes or pixels)."""

    def _time_steps(self) -> int:
        return int(self.get_attr("n_time"))

    def input_is_pixels(self) -> bool:
        return not _is_spike(self.get_input_variable().type.precision)

    def input_banks(self) -> int:
        """Banks of the input spike array (its producer's :func:`output_banks`; 1 for the graph input)."""
        return output_banks(self.get_input_node(self.inputs[0]))

    def read_lanes(self) -> int:
        """Input positions scanned per cycle (:func:`spikehls.hls.lanes.read_lanes`); pixels: one.

        Computed when the project is written, from the final graph, so a rewrite of the graph
        after ``initialize`` cannot leave a stale figure behind.
        """
        if self.input_is_pixels():
            return 1
        shape = self.get_attr("in_shape", None)
        return read_lanes(self.input_banks(), int(shape[2]) if isinstance(self, SpikingConv2D) else 0)

    def _parallelism(self) -> int:
        p = self.get_attr("parallelism", None)
        if p is None:
            p = self.model.config.get_layer_config_value(self, "Parallelism", 1)
        p = int(p)
        if p < 1:
            raise SpikehlsError(f"layer {self.name}: parallelism must be >= 1, got {p}")
        self.set_attr("parallelism", p)
        return p

    def _add_table(self, prefix: str, table: ChunkTable, w_bits: int, n_targets: int) -> None:
        wmin = int(table.weights.min()) if table.nnz else 0
        wmax = int(table.weights.max()) if table.nnz else 0
        wb = max(int(w_bits), signed_bits(wmin, wmax))
        n_groups = -(-int(n_targets) // table.lanes)
        self.add_weights_variable(name=f"{prefix}offsets", var_name=f"{prefix}off{{index}}", precision=uint(unsigned_bits(table.n_chunks)), data=table.offsets)
        self.add_weights_variable(name=f"{prefix}groups", var_name=f"{prefix}grp{{index}}", precision=uint(unsigned_bits(max(n_groups - 1, 1))), data=table.groups)
        self.add_weights_variable(name=f"{prefix}weights", var_name=f"{prefix}w{{index}}", precision=sint(wb), data=table.weights)
        self.set_attr(f"{prefix}nnz", table.nnz)
        self.set_attr(f"{prefix}rows", table.rows)
        self.set_attr(f"{prefix}chunks", table.n_chunks)

    def _set_lanes(self, n_targets: int, height: int = 1, width: int = 1) -> int:
        """Scatter lanes (channels) and fire lanes (positions) from the parallelism knob."""
        p = self._parallelism()
        lanes = scatter_lanes(p, n_targets)
        self.set_attr("n_lanes", lanes)
        self.set_attr("fire_lanes", fire_lanes(p, height, width))
        return lanes


class _NeuronLayer(_SpikeLayer):
    """A spiking layer with a fused IF/LIF neuron."""

    def _add_neuron(self, n_chan: int, acc_hi: int, acc_lo: int) -> None:
        thr = _arr(self.get_attr("threshold"))
        v_bits = int(self.get_attr("v_bits"))
        if thr.shape != (n_chan,):
            raise SpikehlsError(f"layer {self.name}: threshold has {thr.size} values, needs {n_chan}")
        if self.get_attr("reset") not in ("zero", "subtract"):
            raise SpikehlsError(f"layer {self.name}: reset must be 'zero' or 'subtract', got {self.get_attr('reset')!r}")
        if thr.min() < 1 or thr.max() > 2 ** (v_bits - 1) - 1:
            raise SpikehlsError(f"layer {self.name}: thresholds must be in [1, 2^(v_bits-1)-1]")
        acc_bits = signed_bits(acc_lo, acc_hi)
        self.set_attr("acc_bits", acc_bits)
        self.set_attr("sum_bits", max(acc_bits, v_bits) + 2)
        self.add_weights_variable(name="thr", var_name="thr{index}", precision=sint(v_bits), data=thr)
        self._add_trains(thr, v_bits, acc_bits)
        self.add_output_variable([self._time_steps() * int(np.prod(self.get_attr("out_shape")))], precision=SPIKE_PRECISION)
        self.set_attr("n_time", self._time_steps())

    def _add_trains(self, thr: np.ndarray, v_bits: int, acc_bits: int) -> None:
        """Direct encoding: the constant-current spike-train table (:mod:`spikehls.hls.spike_trains`)
        that lets the layer fire all T steps in one pass; ``fire_once`` is False where none fits."""
        self.set_attr("fire_once", False)
        self.set_attr("n_breaks", 1)
        if not self.input_is_pixels():
            return
        neuron = Neuron(threshold=thr, leak_shift=int(self.get_attr("leak_shift")), reset=self.get_attr("reset"), v_bits=v_bits)
        table = constant_current_trains(neuron, self._time_steps(), acc_bits)
        if table is not None:
            self.set_attr("fire_once", True)
            self.set_attr("n_breaks", table.n_breaks)
            breaks, trains = table.breaks.reshape(-1), table.trains.reshape(-1)
        else:  # the direct kernels take the table anyway; unused (zeros) without one
            breaks, trains = np.zeros(thr.size, np.int64), np.zeros(2 * thr.size, np.int64)
        self.add_weights_variable(name="fire_breaks", var_name="brk{index}", precision=sint(acc_bits + 1), data=breaks)
        self.add_weights_variable(name="fire_trains", var_name="trn{index}", precision=uint(self._time_steps()), data=trains)


def _bias_and_bound(weights_by_chan: np.ndarray, bias: np.ndarray, scale: int) -> tuple[int, int]:
    """Worst-case accumulator range per channel: bias + all positive (negative) weights x input max."""
    pos = np.clip(weights_by_chan, 0, None).sum(axis=1) * scale
    neg = np.clip(weights_by_chan, None, 0).sum(axis=1) * scale
    return int((bias + pos).max(initial=0)), int((bias + neg).min(initial=0))


class SpikingConv2D(_NeuronLayer):
    """Spiking 2-D convolution, neuron fused, optional skip input (second input)."""

    def initialize(self):
        w = _arr(self.get_attr("weight_int")).reshape(self.get_attr("weight_shape"))
        b = _arr(self.get_attr("bias_int"))
        co, ci, kh, kw = w.shape
        inp = self.get_attr("in_shape")  # [C, H, W]
        if inp[0] != ci:
            raise SpikehlsError(f"layer {self.name}: weight expects {ci} input channels, input has {inp[0]}")
        s, p = int(self.get_attr("stride")), int(self.get_attr("padding"))
        ho, wo = (inp[1] + 2 * p - kh) // s + 1, (inp[2] + 2 * p - kw) // s + 1
        self.set_attr("out_shape", [co, ho, wo])
        lanes = self._set_lanes(co, ho, wo)
        groups = -(-co // lanes)
        taps = tap_lanes(kw, int(self.get_attr("fire_lanes")), groups, self.input_is_pixels())
        self.set_attr("tap_lanes", taps)
        self.set_attr("back_to_back", events_back_to_back(kh, kw, taps, groups))
        scale = 255 if self.input_is_pixels() else 1
        by_chan = w.reshape(co, -1)
        table = chunk_table(conv_rows(w), lanes)
        self._add_table("", table, int(self.get_attr("w_bits")), co)
        if len(self.inputs) > 1:
            if self.get_attr("skip_weight_int", None) is not None:
                sw = _arr(self.get_attr("skip_weight_int")).reshape(self.get_attr("skip_weight_shape"))
                sbits = int(self.get_attr("skip_w_bits", 2))
            else:
                gain = _arr(self.get_attr("skip_gain"))
                sw = np.diag(gain)
                sbits = 2
            skip_shape = self.get_attr("skip_shape")
            if sw.shape != (co, skip_shape[0]):
                raise SpikehlsError(f"layer {self.name}: skip weight shape {sw.shape} != {(co, skip_shape[0])}")
            self._add_table("skip_", chunk_table(sw.T, lanes), sbits, co)
        hi, lo = _bias_and_bound(by_chan, b, scale)
        if len(self.inputs) > 1:  # the skip current adds to the same accumulator
            sscale = 1 if _is_spike(self.get_input_variable(self.inputs[1]).type.precision) else 255
            shi, slo = _bias_and_bound(sw, np.zeros(co, np.int64), sscale)
            hi, lo = hi + shi, lo + slo
        self.add_weights_variable(name="bias", var_name="b{index}", precision=sint(signed_bits(int(b.min(initial=0)), int(b.max(initial=0)))), data=b)
        self._add_neuron(co, hi, lo)


class SpikingDense(_NeuronLayer):
    """Spiking fully connected layer, neuron fused; input flattened in (C, H, W) order."""

    def initialize(self):
        w = _arr(self.get_attr("weight_int")).reshape(self.get_attr("weight_shape"))
        b = _arr(self.get_attr("bias_int"))
        co, ci = w.shape
        self.set_attr("out_shape", [co])
        lanes = self._set_lanes(co)
        scale = 255 if self.input_is_pixels() else 1
        self._add_table("", chunk_table(w.T, lanes), int(self.get_attr("w_bits")), co)
        hi, lo = _bias_and_bound(w, b, scale)
        self.add_weights_variable(name="bias", var_name="b{index}", precision=sint(signed_bits(int(b.min(initial=0)), int(b.max(initial=0)))), data=b)
        self._add_neuron(co, hi, lo)


class SpikeReadout(_SpikeLayer):
    """Non-spiking readout summed over T (accumulate-only); output ``[K]`` integers."""

    def initialize(self):
        if self.input_is_pixels():
            raise SpikehlsError(f"layer {self.name}: a readout directly on the pixel input is not supported")
        w = _arr(self.get_attr("weight_int")).reshape(self.get_attr("weight_shape"))
        b = _arr(self.get_attr("bias_int"))
        k = w.shape[0]
        lanes = self._set_lanes(k)
        self.set_attr("fire_lanes", 1)  # no neurons: the accumulators are banked by lane only
        self._add_table("", chunk_table(w.T, lanes), int(self.get_attr("w_bits")), k)
        hi, lo = _bias_and_bound(w, b, 1)
        t = self._time_steps()
        acc_bits = signed_bits(lo * t, hi * t)
        self.set_attr("acc_bits", acc_bits)
        self.add_weights_variable(name="bias", var_name="b{index}", precision=sint(signed_bits(int(b.min(initial=0)), int(b.max(initial=0)))), data=b)
        self.add_output_variable([k], precision=sint(acc_bits))


class SpikeMaxPool2D(_SpikeLayer):
    """Max pooling on spikes = OR over the window (no padding, floor size)."""

    def initialize(self):
        if self.input_is_pixels():
            raise SpikehlsError(f"layer {self.name}: max pooling directly on the pixel input is not supported")
        c, h, w = self.get_attr("in_shape")
        k, s = int(self.get_attr("pool_size")), int(self.get_attr("stride"))
        self.set_attr("out_shape", [c, (h - k) // s + 1, (w - k) // s + 1])
        self.add_output_variable([self._time_steps() * int(np.prod(self.get_attr("out_shape")))], precision=SPIKE_PRECISION)

    def out_lanes(self) -> int:
        """Pooled outputs per cycle (:func:`spikehls.hls.lanes.pool_lanes`) = banks of the output."""
        _, _, wo = self.get_attr("out_shape")
        return pool_lanes(self.input_banks(), int(self.get_attr("pool_size")), int(self.get_attr("stride")), int(wo))


def output_banks(node) -> int:
    """Banks (``pos % banks``) of a layer's output spike array: what a consumer reads per cycle.

    A neuron layer writes ``fire_lanes`` neighbouring positions per cycle (twice as many banks
    when a max pool reads it: :func:`spikehls.hls.lanes.output_banks`), a pool ``out_lanes``;
    anything else (the graph input, a readout) is one bank.
    """
    if isinstance(node, SpikeMaxPool2D):
        return node.out_lanes()
    if isinstance(node, SpikingConv2D):
        _, ho, wo = node.get_attr("out_shape")
        pooled = any(isinstance(n, SpikeMaxPool2D) and node.outputs[0] in n.inputs for n in node.model.get_layers())
        return lanes_output_banks(int(node.get_attr("fire_lanes", 1) or 1), int(ho), int(wo), pooled)
    if isinstance(node, SpikingDense):
        return int(node.get_attr("fire_lanes", 1) or 1)
    return 1


LAYER_CLASSES = {
    "SpikingConv2D": SpikingConv2D,
    "SpikingDense": SpikingDense,
    "SpikeReadout": SpikeReadout,
    "SpikeMaxPool2D": SpikeMaxPool2D,
}
