"""hls4ml IR layers for the spiking ops, their ONNX handlers, and the nonzero weight tables.

Every spiking layer's output is a flat ``[T][C][H][W]`` array of ``ap_uint<1>`` spikes; the
readout's is ``[K]`` integers. A layer's weights live in a *chunked nonzero table* (see
:func:`chunk_table`): zero and pruned weights have no entry, so they get no adder and no
cycle in hardware, and the kernels only ever do ``acc[bank][word] += weight``.

Lanes, banks, table shapes and bit widths are not computed here: every layer reads its
:class:`~spikehls.hls.geometry.LayerGeometry` (:meth:`_SpikeLayer.geometry`), the one the RTL
generator and the cost model read, and only formats it into attributes and precisions. The
widths come from the integers themselves (worst-case sums), so the C++ is exact by construction:
the accumulator of a channel holds ``bias + sum W`` (+ skip) without overflow, the neuron update
is computed two bits wider than ``max(acc, v_bits)`` before saturating to ``v_bits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from hls4ml.model.layers import Layer
from hls4ml.model.types import IntegerPrecisionType, FixedPrecisionType

from spikehls.errors import SpikehlsError
from spikehls.hls.geometry import LayerGeometry, TableGeometry, WeightStats, accumulate_geometry, pool_geometry
from spikehls.hls.lanes import fire_lanes
from spikehls.hls.spike_trains import constant_current_trains
from spikehls.quantize.intnet import Neuron, Skip


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
@dataclass(frozen=True)
class _Named:
    """What hls4ml's ``get_layer_config_value`` reads of a layer not built yet: its name and class."""

    name: str
    class_name: str = "SpikingConv2D"


class _SpikeLayer(Layer):
    """Shared helpers: time steps, parallelism, geometry, table weights, input kind (spikes or pixels)."""

    GEOMETRY_KIND = ""  # the LayerGeometry kind: conv | dense | readout | maxpool

    def _time_steps(self) -> int:
        return int(self.get_attr("n_time"))

    def input_is_pixels(self) -> bool:
        return not _is_spike(self.get_input_variable().type.precision)

    def input_banks(self) -> int:
        """Banks of the input spike array (its producer's :func:`output_banks`; 1 for the graph input)."""
        return output_banks(self.get_input_node(self.inputs[0]))

    def pooled(self) -> bool:
        """Whether a max pool reads this layer's output (its output is then banked for the pool)."""
        return any(isinstance(n, SpikeMaxPool2D) and self.outputs[0] in n.inputs for n in self.model.get_layers())

    def read_lanes(self) -> int:
        """Input positions scanned per cycle (the geometry's ``read_lanes``); pixels: one.

        Computed when the project is written, from the final graph, so a rewrite of the graph
        after ``initialize`` cannot leave a stale figure behind.
        """
        return self.geometry().read_lanes

    def _parallelism(self) -> int:
        p = self.get_attr("parallelism", None)
        if p is None:
            p = self.model.config.get_layer_config_value(self, "Parallelism", 1)
        p = int(p)
        if p < 1:
            raise SpikehlsError(f"layer {self.name}: parallelism must be >= 1, got {p}")
        self.set_attr("parallelism", p)
        return p

    def _neuron(self) -> Optional[Neuron]:
        return None

    def _skip(self) -> tuple[Optional[Skip], Optional[list], bool]:
        return None, None, False

    def _stream(self) -> dict:
        """The residual-stream arguments of :func:`accumulate_geometry` (none but for a conv)."""
        return {}

    def _ints(self, attr: str) -> np.ndarray:
        """Integer attribute ``attr`` as a read-only int64 array, converted once per attribute value.

        The geometry is asked for dozens of times per layer while a project is written (every
        template, the producer's banks of every consumer); a VGG-16 layer's ``weight_int`` is a
        list of 2.4 million ints, whose conversion was most of ``spikehls hls``. The cache holds
        the list it was made from and is used only while the attribute is that very object."""
        v = self.get_attr(attr)
        cache = self.__dict__.setdefault("_spikehls_ints", {})
        hit = cache.get(attr)
        if hit is not None and hit[0] is v:
            return hit[1]
        a = _arr(v)
        a.flags.writeable = False
        cache[attr] = (v, a)
        return a

    def _weight_stats(self) -> WeightStats:
        """:class:`~spikehls.hls.geometry.WeightStats` of the weight (its figures equal the array
        functions'), computed once per weight array: every later geometry reads columns of it."""
        w = self._ints("weight_int")
        hit = self.__dict__.get("_spikehls_stats")
        shape = tuple(int(x) for x in self.get_attr("weight_shape"))
        if hit is not None and hit[0] is w and hit[1] == shape:
            return hit[2]
        stats = WeightStats(w.reshape(shape))
        self.__dict__["_spikehls_stats"] = (w, shape, stats)
        return stats

    def geometry(self, in_banks: Optional[int] = None) -> LayerGeometry:
        """This layer as built (:func:`spikehls.hls.geometry.accumulate_geometry`), from its integer
        attributes and the graph as it stands: ``in_banks`` from its producer (unless given: nothing
        but ``read_lanes`` depends on it), ``pooled`` when a max pool reads it."""
        kind = self.GEOMETRY_KIND
        w = self._ints("weight_int").reshape(self.get_attr("weight_shape"))
        skip, skip_shape, skip_pixels = self._skip()
        return accumulate_geometry(
            self.name,
            kind,
            w,
            self._ints("bias_int"),
            self.get_attr("in_shape", None) or [int(w.shape[1])],
            self._time_steps(),
            self._parallelism(),
            w_bits=int(self.get_attr("w_bits")),
            pixels=self.input_is_pixels(),
            in_banks=self.input_banks() if in_banks is None else int(in_banks),
            pooled=kind == "conv" and self.pooled(),
            stride=int(self.get_attr("stride", 1) or 1) if kind == "conv" else 1,
            padding=int(self.get_attr("padding", 0) or 0) if kind == "conv" else 0,
            neuron=self._neuron(),
            skip=skip,
            skip_shape=skip_shape,
            skip_pixels=skip_pixels,
            stats=self._weight_stats(),
            **self._stream(),
        )

    def _add_table(self, prefix: str, table: ChunkTable, geo: TableGeometry) -> None:
        """The chunked table's arrays, at the widths of its geometry."""
        if (table.n_chunks, table.nnz, table.rows) != (geo.chunks, geo.nnz, geo.rows):  # pragma: no cover - a bug
            raise RuntimeError(f"layer {self.name}: {prefix}table has {table.n_chunks} chunks, its geometry {geo.chunks}")
        self.add_weights_variable(name=f"{prefix}offsets", var_name=f"{prefix}off{{index}}", precision=uint(geo.index_bits), data=table.offsets)
        self.add_weights_variable(name=f"{prefix}groups", var_name=f"{prefix}grp{{index}}", precision=uint(geo.group_bits), data=table.groups)
        self.add_weights_variable(name=f"{prefix}weights", var_name=f"{prefix}w{{index}}", precision=sint(geo.weight_bits), data=table.weights)
        self.set_attr(f"{prefix}nnz", geo.nnz)
        self.set_attr(f"{prefix}rows", geo.rows)
        self.set_attr(f"{prefix}chunks", geo.chunks)

    def _set_lanes(self, g: LayerGeometry) -> int:
        """Scatter lanes (channels) and fire lanes (positions), as the geometry builds them."""
        self.set_attr("n_lanes", g.lanes)
        self.set_attr("fire_lanes", g.fire_lanes)
        return g.lanes

    def _add_bias(self, b: np.ndarray, g: LayerGeometry) -> None:
        self.add_weights_variable(name="bias", var_name="b{index}", precision=sint(g.bias_bits), data=b)


class _NeuronLayer(_SpikeLayer):
    """A spiking layer with a fused IF/LIF neuron."""

    def _neuron(self) -> Neuron:
        return Neuron(threshold=self._ints("threshold"), leak_shift=int(self.get_attr("leak_shift")),
                      reset=self.get_attr("reset"), v_bits=int(self.get_attr("v_bits")))

    def _check_neuron(self, n_chan: int) -> None:
        thr = self._ints("threshold")
        v_bits = int(self.get_attr("v_bits"))
        if thr.shape != (n_chan,):
            raise SpikehlsError(f"layer {self.name}: threshold has {thr.size} values, needs {n_chan}")
        if self.get_attr("reset") not in ("zero", "subtract"):
            raise SpikehlsError(f"layer {self.name}: reset must be 'zero' or 'subtract', got {self.get_attr('reset')!r}")
        if thr.min() < 1 or thr.max() > 2 ** (v_bits - 1) - 1:
            raise SpikehlsError(f"layer {self.name}: thresholds must be in [1, 2^(v_bits-1)-1]")

    def _add_neuron(self, g: LayerGeometry) -> None:
        thr = self._ints("threshold")
        v_bits = int(self.get_attr("v_bits"))
        self.set_attr("acc_bits", g.acc_bits)
        self.set_attr("sum_bits", g.sum_bits)
        self.add_weights_variable(name="thr", var_name="thr{index}", precision=sint(v_bits), data=thr)
        self._add_trains(thr, v_bits, g.acc_bits, allowed=not g.z_current)
        n_values = self._time_steps() * int(np.prod(self.get_attr("out_shape")))
        self.add_output_variable([n_values], precision=SPIKE_PRECISION)
        if g.writes_stream:  # the stream buffer z [T][C][H][W], exact (acc_bits), a second output
            self.add_output_variable([n_values], out_name=self.outputs[1], var_name="layer{index}_z",
                                     type_name="layer{index}_z_t", precision=sint(g.acc_bits))
            self.declare_output_types()
        self.set_attr("n_time", self._time_steps())

    def declare_output_types(self) -> None:
        """hls4ml keeps one ``result_t`` per layer (what defines.h declares), the type of the output
        variable set last -- with two outputs, the stream's. Both types are declared, the spikes' as
        ``result_t``; the project calls this again after hls4ml's passes have rebuilt the variables."""
        if len(self.variables) > 1:
            self.set_attr("stream_t", self.get_output_variable(self.outputs[1]).type)
            self.set_attr("result_t", self.get_output_variable().type)

    def _add_trains(self, thr: np.ndarray, v_bits: int, acc_bits: int, allowed: bool = True) -> None:
        """Direct encoding: the constant-current spike-train table (:mod:`spikehls.hls.spike_trains`)
        that lets the layer fire all T steps in one pass; ``fire_once`` is False where none fits, or
        where not ``allowed`` (a stream layer: its fire pass writes the stream at every step)."""
        self.set_attr("fire_once", False)
        self.set_attr("n_breaks", 1)
        if not self.input_is_pixels():
            return
        neuron = Neuron(threshold=thr, leak_shift=int(self.get_attr("leak_shift")), reset=self.get_attr("reset"), v_bits=v_bits)
        table = constant_current_trains(neuron, self._time_steps(), acc_bits) if allowed else None
        if table is not None:
            self.set_attr("fire_once", True)
            self.set_attr("n_breaks", table.n_breaks)
            breaks, trains = table.breaks.reshape(-1), table.trains.reshape(-1)
        else:  # the direct kernels take the table anyway; unused (zeros) without one
            breaks, trains = np.zeros(thr.size, np.int64), np.zeros(2 * thr.size, np.int64)
        self.add_weights_variable(name="fire_breaks", var_name="brk{index}", precision=sint(acc_bits + 1), data=breaks)
        self.add_weights_variable(name="fire_trains", var_name="trn{index}", precision=uint(self._time_steps()), data=trains)



class SpikingConv2D(_NeuronLayer):
    """Spiking 2-D convolution, neuron fused, optional skip input (second input), optional residual
    stream (``residual``: the source layer, whose stream is the last input; ``current_sign``; a
    second output, the layer's own stream, when a later layer reads it)."""

    GEOMETRY_KIND = "conv"

    def has_skip(self) -> bool:
        return self.get_attr("skip_shape", None) is not None

    def residual_input(self) -> Optional[str]:
        """The stream tensor this layer adds (its last input), or None."""
        return self.inputs[-1] if self.get_attr("residual", None) else None

    def stream_output(self) -> Optional[str]:
        """This layer's stream tensor (its second output), or None when nobody reads it."""
        return self.outputs[1] if len(self.outputs) > 1 else None

    def _reader_fire_lanes(self, out_hw: tuple[int, int]) -> list[int]:
        """Fire lanes of every layer that reads this layer's stream (``stream_readers``, named by the
        handler from the ONNX graph: they are built after this layer), from their parallelism."""
        if self.stream_output() is None:
            return []
        names = list(self.get_attr("stream_readers", None) or [])
        if not names:
            raise SpikehlsError(f"layer {self.name}: writes a residual stream that no layer reads")
        cfg = self.model.config
        return [fire_lanes(int(cfg.get_layer_config_value(_Named(n), "Parallelism", 1)), *out_hw) for n in names]

    def residual_writer(self) -> Optional["SpikingConv2D"]:
        tensor = self.residual_input()
        if tensor is None:
            return None
        for n in self.model.get_layers():
            if isinstance(n, SpikingConv2D) and n.stream_output() == tensor:
                return n
        raise SpikehlsError(f"layer {self.name}: residual stream '{tensor}' is written by no spiking conv")

    def _stream(self) -> dict:
        """Sign, residual source (and its stream range) and the readers' fire lanes, for the geometry.
        The readers' fire lanes come from their parallelism and the (shared) output plane directly,
        not from their geometry, which depends on this one's."""
        sign = self.get_attr("current_sign", None)
        writer = self.residual_writer()
        co, ho, wo = self.get_attr("out_shape", None) or self._out_shape()
        return {
            "current_sign": None if sign is None else _arr(sign),
            "residual": None if writer is None else writer.name,
            **self._writer_stream(writer),
            "stream_readers_fire": self._reader_fire_lanes((ho, wo)),
        }

    @staticmethod
    def _writer_stream(writer: Optional["SpikingConv2D"]) -> dict:
        """The residual source's stream range and buffer banks (its geometry), for a reader's."""
        if writer is None:
            return {"residual_range": (0, 0), "residual_banks": 1}
        wg = writer.geometry(in_banks=1)
        return {"residual_range": (wg.acc_lo, wg.acc_hi), "residual_banks": wg.z_banks}

    def _out_shape(self) -> tuple[int, int, int]:
        from spikehls.hls.geometry import conv_out_size

        c, h, w = self.get_attr("in_shape")
        co, _, kh, kw = self.get_attr("weight_shape")
        s, p = int(self.get_attr("stride", 1) or 1), int(self.get_attr("padding", 0) or 0)
        return int(co), conv_out_size(h, kh, s, p), conv_out_size(w, kw, s, p)

    def _skip(self) -> tuple[Optional[Skip], Optional[list], bool]:
        """The skip input as an :class:`~spikehls.quantize.intnet.Skip`, its per-step shape, and
        whether it is the pixel input."""
        if not self.has_skip():
            return None, None, False
        source = self.inputs[1]
        stride = int(self.get_attr("skip_stride", 1) or 1)
        if self.get_attr("skip_weight_int", None) is not None:
            sw = self._ints("skip_weight_int").reshape(self.get_attr("skip_weight_shape"))
            skip = Skip(source, weight=sw, stride=stride, w_bits=int(self.get_attr("skip_w_bits", 2)))
        else:
            skip = Skip(source, gain=self._ints("skip_gain"), stride=stride)
        pixels = not _is_spike(self.get_input_variable(self.inputs[1]).type.precision)
        return skip, list(self.get_attr("skip_shape")), pixels

    def initialize(self):
        w = self._ints("weight_int").reshape(self.get_attr("weight_shape"))
        b = self._ints("bias_int")
        co, ci, kh, kw = w.shape
        inp = self.get_attr("in_shape")  # [C, H, W]
        if inp[0] != ci:
            raise SpikehlsError(f"layer {self.name}: weight expects {ci} input channels, input has {inp[0]}")
        self._check_neuron(co)
        skip, skip_shape, _ = self._skip()
        if skip is not None:
            sw = np.diag(skip.gain) if skip.weight is None else skip.weight
            if sw.shape != (co, skip_shape[0]):
                raise SpikehlsError(f"layer {self.name}: skip weight shape {sw.shape} != {(co, skip_shape[0])}")
        g = self.geometry(in_banks=1)  # the producer's banks change only read_lanes (read at write time)
        self.set_attr("out_shape", list(g.out_shape))
        lanes = self._set_lanes(g)
        self.set_attr("tap_lanes", g.tap_lanes)
        self.set_attr("back_to_back", g.back_to_back)
        self._add_table("", chunk_table(conv_rows(w), lanes), g.table)
        if skip is not None:
            self._add_table("skip_", chunk_table(sw.T, lanes), g.skip_table)
        self._add_bias(b, g)
        if g.z_current:  # the sign of every channel's current: an add, a subtract, or nothing
            sign = self.get_attr("current_sign", None)
            if sign is not None and (_arr(sign).shape != (co,) or not np.isin(_arr(sign), (-1, 0, 1)).all()):
                raise SpikehlsError(f"layer {self.name}: current_sign must be {co} values in {{-1, 0, 1}}")
            self.add_weights_variable(name="sign", var_name="sgn{index}", precision=sint(2),
                                      data=np.ones(co, np.int64) if sign is None else _arr(sign))
            self.set_attr("z_banks", g.z_banks)
        self._add_neuron(g)


class SpikingDense(_NeuronLayer):
    """Spiking fully connected layer, neuron fused; input flattened in (C, H, W) order."""

    GEOMETRY_KIND = "dense"

    def initialize(self):
        w = self._ints("weight_int").reshape(self.get_attr("weight_shape"))
        b = self._ints("bias_int")
        co, ci = w.shape
        self._check_neuron(co)
        g = self.geometry(in_banks=1)
        self.set_attr("out_shape", [co])
        lanes = self._set_lanes(g)
        self._add_table("", chunk_table(w.T, lanes), g.table)
        self._add_bias(b, g)
        self._add_neuron(g)


class SpikeReadout(_SpikeLayer):
    """Non-spiking readout summed over T (accumulate-only); output ``[K]`` integers."""

    GEOMETRY_KIND = "readout"

    def initialize(self):
        if self.input_is_pixels():
            raise SpikehlsError(f"layer {self.name}: a readout directly on the pixel input is not supported")
        w = self._ints("weight_int").reshape(self.get_attr("weight_shape"))
        b = self._ints("bias_int")
        k = w.shape[0]
        g = self.geometry(in_banks=1)  # fire_lanes 1: no neurons, the accumulators are banked by lane only
        lanes = self._set_lanes(g)
        self._add_table("", chunk_table(w.T, lanes), g.table)
        self.set_attr("acc_bits", g.acc_bits)  # the sum over T
        self._add_bias(b, g)
        self.add_output_variable([k], precision=sint(g.acc_bits))


class SpikeMaxPool2D(_SpikeLayer):
    """Max pooling on spikes = OR over the window (no padding, floor size)."""

    GEOMETRY_KIND = "maxpool"

    def geometry(self, in_banks: Optional[int] = None) -> LayerGeometry:
        """The pool as built (:func:`spikehls.hls.geometry.pool_geometry`), reading its producer's banks."""
        return pool_geometry(self.name, self.get_attr("in_shape"), self._time_steps(), int(self.get_attr("pool_size")),
                             int(self.get_attr("stride")), self.input_banks() if in_banks is None else int(in_banks))

    def initialize(self):
        if self.input_is_pixels():
            raise SpikehlsError(f"layer {self.name}: max pooling directly on the pixel input is not supported")
        self.set_attr("out_shape", list(self.geometry(in_banks=1).out_shape))
        self.add_output_variable([self._time_steps() * int(np.prod(self.get_attr("out_shape")))], precision=SPIKE_PRECISION)

    def out_lanes(self) -> int:
        """Pooled outputs per cycle (the geometry's ``out_lanes``) = banks of the output."""
        return self.geometry().out_lanes


def output_banks(node) -> int:
    """Banks (``pos % banks``) of a layer's output spike array: what a consumer reads per cycle.

    The geometry's ``out_banks``: a neuron layer writes ``fire_lanes`` neighbouring positions per
    cycle (twice as many banks when a max pool reads it), a pool ``out_lanes``; anything else
    (the graph input, a readout) is one bank.
    """
    if isinstance(node, SpikeMaxPool2D):
        return node.out_lanes()
    if isinstance(node, (SpikingConv2D, SpikingDense)):
        return node.geometry(in_banks=1).out_banks  # a neuron layer's banks do not depend on its input's
    return 1


LAYER_CLASSES = {
    "SpikingConv2D": SpikingConv2D,
    "SpikingDense": SpikingDense,
    "SpikeReadout": SpikeReadout,
    "SpikeMaxPool2D": SpikeMaxPool2D,
}
