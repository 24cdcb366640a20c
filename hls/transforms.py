"""QONNX -> the clean graph our hls4ml handlers read.

hls4ml 1.3.0 crashes on a custom op whose weights are graph initializers (an orphan
``Constant`` layer, ``IndexError`` in ``infer_precision``, DESIGN.md section 5), and it
cannot read the weights through ``Quant`` nodes of a custom op anyway. So before conversion
we fold every ``Quant``-ed weight and bias of our spiking ops into **integer node attributes**
(``weight_int``/``weight_shape``/``bias_int``/``w_bits``, and ``skip_weight_int``/
``skip_weight_shape`` for a 1x1 skip), drop the ``Quant`` nodes and initializers, and write the
shape of every activation into ``value_info`` (hls4ml reads input shapes from there; qonnx
shape inference would need our custom ops' shape functions, which this does not depend on).

The result is still a valid ONNX graph in the ``spikehls.quantize.qonnx_ops`` domain; its
nodes carry everything the integer contract needs, so :func:`intnet_from_clean` can also
rebuild the :class:`~spikehls.quantize.intnet.IntNet` for the C-simulation check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from spikehls.errors import SpikehlsError
from spikehls.hls.geometry import conv_out_size
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, Skip, SpikingConv2d, SpikingDense

try:  # qonnx's Transformation base, so the fold composes with other qonnx passes
    from qonnx.transformation.base import Transformation
except ImportError:  # pragma: no cover - qonnx is a hard dependency of the project
    Transformation = object  # type: ignore[misc,assignment]

SPIKING_OPS = ("SpikingConv2d", "SpikingDense", "SpikeMaxPool2d", "Readout")
PASS_THROUGH_OPS = ("Identity", "Dropout")  # removed by mapping their output to their input
WEIGHT_OPS = ("Quant",)  # only allowed on weight / bias paths


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def _where(node: onnx.NodeProto) -> str:
    return f"node '{node.name or node.output[0]}' (op {node.op_type})"


class FoldSpikingWeights(Transformation):
    """Fold Quant-ed weights of our spiking ops into integer attributes (see module docstring)."""

    def apply(self, model):  # qonnx ModelWrapper in, (ModelWrapper, False) out
        from qonnx.core.modelwrapper import ModelWrapper

        return ModelWrapper(clean_graph(model.model)), False


def load_onnx(path_or_model: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model
    from spikehls.fileio import read_onnx

    p = Path(path_or_model)
    if not p.is_file():
        raise SpikehlsError(f"{p}: QONNX model file not found")
    return read_onnx(p, "ONNX file")


def check_supported(model: onnx.ModelProto) -> None:
    """Raise SpikehlsError naming the first op (and its node) we cannot turn into HLS."""
    allowed = set(SPIKING_OPS) | set(PASS_THROUGH_OPS) | set(WEIGHT_OPS)
    for node in model.graph.node:
        if node.op_type not in allowed:
            raise SpikehlsError(
                f"unsupported QONNX op '{node.op_type}' in node '{node.name or node.output[0]}'; "
                f"spikehls HLS supports {', '.join(SPIKING_OPS)} (+ Quant on weights, {', '.join(PASS_THROUGH_OPS)})"
            )


class _Graph:
    """Lookup helpers over one ONNX graph."""

    def __init__(self, model: onnx.ModelProto):
        self.g = model.graph
        self.init = {t.name: numpy_helper.to_array(t) for t in self.g.initializer}
        self.producer = {o: n for n in self.g.node for o in n.output}

    def const(self, name: str, user: onnx.NodeProto) -> np.ndarray:
        if name in self.init:
            return np.asarray(self.init[name], dtype=np.float64)
        prod = self.producer.get(name)
        if prod is not None and prod.op_type == "Constant":
            return np.asarray(numpy_helper.to_array(_attr(prod, "value")), dtype=np.float64)
        raise SpikehlsError(f"{_where(user)}: input '{name}' must be a constant (an initializer or a Quant of one)")

    def integer(self, name: str, user: onnx.NodeProto, fallback_scale: np.ndarray | None, what: str) -> tuple[np.ndarray, int]:
        """Integer values (and bit width) of a weight input: Quant(init, scale, zp, bits) or a raw initializer."""
        prod = self.producer.get(name)
        if prod is not None and prod.op_type == "Quant":
            x = self.const(prod.input[0], prod)
            scale = self.const(prod.input[1], prod)
            zp = self.const(prod.input[2], prod)
            bits = int(self.const(prod.input[3], prod).reshape(-1)[0])
            q = x / scale + zp
        else:
            x = self.const(name, user)
            if fallback_scale is None:
                raise SpikehlsError(f"{_where(user)}: {what} has no Quant node and no scale to read it with")
            q = x / fallback_scale
            bits = 0
        ints = np.round(q)
        if not np.allclose(q, ints, rtol=0, atol=1e-6):
            raise SpikehlsError(f"{_where(user)}: {what} is not an integer multiple of its scale")
        ints = ints.astype(np.int64)
        if bits == 0:
            mag = int(np.abs(ints).max()) if ints.size else 0
            bits = max(2, mag.bit_length() + 1)
        return ints, bits


def _ints_attr(name: str, arr: np.ndarray) -> onnx.AttributeProto:
    """An INTS attribute of ``arr`` (integers): built directly, not through ``helper.make_attribute``,
    whose per-value type checks and a Python int per element were seconds for a VGG-16."""
    attr = onnx.AttributeProto()
    attr.name = name
    attr.type = onnx.AttributeProto.INTS
    attr.ints.extend(np.asarray(arr).reshape(-1).astype(np.int64).tolist())
    return attr


def _shape_of(g: onnx.GraphProto, name: str) -> list[int]:
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.name == name:
            return [d.dim_value for d in vi.type.tensor_type.shape.dim]
    raise SpikehlsError(f"tensor '{name}' has no shape in the QONNX graph")


def clean_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a new model: only our spiking ops, integer weights as attributes, all shapes known."""
    check_supported(model)
    G = _Graph(model)
    g = model.graph
    inits = set(G.init)
    graph_inputs = [i for i in g.input if i.name not in inits]
    if len(graph_inputs) != 1:
        raise SpikehlsError(f"the QONNX graph must have exactly one input, has {len(graph_inputs)}")
    gin = graph_inputs[0]
    in_shape = [d.dim_value for d in gin.type.tensor_type.shape.dim]
    if len(in_shape) not in (3, 5) or in_shape[0] != 1:
        raise SpikehlsError(f"graph input '{gin.name}' must be [1, T, C, H, W] or [1, T, N], is {in_shape}")

    alias: dict[str, str] = {}
    shapes: dict[str, list[int]] = {gin.name: in_shape}
    streams: set[str] = set()  # residual stream tensors (a SpikingConv2d's second output)
    nodes: list[onnx.NodeProto] = []
    for node in g.node:
        if node.op_type in WEIGHT_OPS:
            continue
        if node.op_type in PASS_THROUGH_OPS:
            alias[node.output[0]] = alias.get(node.input[0], node.input[0])
            continue
        x = alias.get(node.input[0], node.input[0])
        if x not in shapes:
            raise SpikehlsError(f"{_where(node)}: its input '{x}' is not the output of a supported layer")
        xs = shapes[x]
        t_steps = xs[1]
        attrs: dict[str, Any] = {}
        inputs = [x]
        acc_scale = np.asarray(_attr(node, "acc_scale", [1.0]), dtype=np.float64)
        in_scale = float(_attr(node, "in_scale", 1.0))
        op = node.op_type
        if op in ("SpikingConv2d", "SpikingDense", "Readout"):
            w_scale = (acc_scale / in_scale).reshape(-1)
            if len(node.input) < 3:
                raise SpikehlsError(f"{_where(node)}: needs inputs x, weight, bias")
            w_guess = G.init.get(node.input[1])
            wshape_nd = w_guess.ndim if w_guess is not None else None
            W, wbits = G.integer(node.input[1], node, None if wshape_nd is None else w_scale.reshape((-1,) + (1,) * (wshape_nd - 1)), "weight")
            B, _ = G.integer(node.input[2], node, acc_scale.reshape(-1), "bias")
            attrs.update(weight_int=W, weight_shape=list(W.shape), bias_int=B.reshape(-1), w_bits=wbits)
        if op == "SpikingConv2d":
            if len(xs) != 5:
                raise SpikehlsError(f"{_where(node)}: conv input must be [1, T, C, H, W], is {xs}")
            co, ci, kh, kw = W.shape
            strides = list(_attr(node, "strides", [1, 1]))
            pads = list(_attr(node, "pads", [0, 0, 0, 0]))
            if len(set(strides)) != 1 or len(set(pads)) != 1:
                raise SpikehlsError(f"{_where(node)}: only equal strides and symmetric padding are supported ({strides}, {pads})")
            s, p = strides[0], pads[0]
            ho, wo = conv_out_size(xs[3], kh, s, p), conv_out_size(xs[4], kw, s, p)
            out_shape = [1, t_steps, co, ho, wo]
            has_res = int(_attr(node, "has_residual", 0) or 0)  # the residual stream is the last input
            n_main = len(node.input) - (1 if has_res else 0)
            if n_main > 3 and node.input[3]:
                sx = alias.get(node.input[3], node.input[3])
                if sx not in shapes:
                    raise SpikehlsError(f"{_where(node)}: skip input '{sx}' is not the output of a supported layer")
                inputs.append(sx)
                if n_main > 4 and node.input[4]:
                    SW, sbits = G.integer(node.input[4], node, acc_scale.reshape(-1, 1), "skip weight")
                    SW = SW.reshape(SW.shape[0], -1)
                    attrs.update(skip_weight_int=SW, skip_weight_shape=list(SW.shape), skip_w_bits=sbits)
                else:
                    gain = _attr(node, "skip_gain", None)
                    gain = np.ones(co, dtype=np.int64) if not gain else np.asarray(gain, dtype=np.int64)
                    attrs.update(skip_gain=gain)
                attrs["skip_stride"] = int(_attr(node, "skip_stride", 1))
            if has_res:
                zx = alias.get(node.input[-1], node.input[-1])
                if zx not in streams:
                    raise SpikehlsError(f"{_where(node)}: residual input '{zx}' is not the stream output of an earlier conv")
                if shapes[zx] != out_shape:
                    raise SpikehlsError(f"{_where(node)}: residual stream '{zx}' has shape {shapes[zx]}, needs {out_shape}")
                inputs.append(zx)
                attrs["has_residual"] = 1
            sign = _attr(node, "current_sign", None)
            if sign:
                attrs["current_sign"] = np.asarray(sign, dtype=np.int64)
            attrs.update(kernel_shape=[kh, kw], strides=[s, s], pads=[p, p, p, p])
        elif op == "SpikingDense" or op == "Readout":
            n_in = int(np.prod(xs[2:]))
            if W.shape[1] != n_in:
                raise SpikehlsError(f"{_where(node)}: weight expects {W.shape[1]} inputs, input has {n_in}")
            out_shape = [1, t_steps, W.shape[0]] if op == "SpikingDense" else [1, W.shape[0]]
        else:  # SpikeMaxPool2d
            k = list(_attr(node, "kernel_shape", [2, 2]))
            st = list(_attr(node, "strides", k))
            if len(xs) != 5:
                raise SpikehlsError(f"{_where(node)}: pooling input must be [1, T, C, H, W], is {xs}")
            out_shape = [1, t_steps, xs[2], conv_out_size(xs[3], k[0], st[0], 0), conv_out_size(xs[4], k[1], st[1], 0)]
            attrs.update(kernel_shape=k, strides=st)
        if op in ("SpikingConv2d", "SpikingDense"):
            attrs.update(
                threshold=np.asarray(_attr(node, "threshold"), dtype=np.int64),
                leak_shift=int(_attr(node, "leak_shift", 0)),
                reset=str(_attr(node, "reset", "zero")),
                v_bits=int(_attr(node, "v_bits", 16)),
            )
        if op != "SpikeMaxPool2d":
            attrs.update(in_scale=in_scale, acc_scale=[float(a) for a in acc_scale.reshape(-1)])
        outputs = [node.output[0]]
        if op == "SpikingConv2d" and len(node.output) > 1 and node.output[1]:  # a residual source: its stream
            outputs.append(node.output[1])
            streams.add(node.output[1])
            shapes[node.output[1]] = out_shape
        new = helper.make_node(op, inputs, outputs, name=node.name or node.output[0], domain=node.domain)
        for k, v in attrs.items():
            if isinstance(v, np.ndarray):
                new.attribute.append(_ints_attr(k, v))
            else:
                new.attribute.append(helper.make_attribute(k, v))
        nodes.append(new)
        shapes[node.output[0]] = out_shape

    outs = [alias.get(o.name, o.name) for o in g.output]
    if len(outs) != 1 or not nodes or nodes[-1].op_type != "Readout" or nodes[-1].output[0] != outs[0]:
        raise SpikehlsError("the QONNX graph must end in one Readout node whose output is the graph output")
    value_info = [
        helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, shapes[o]) for n in nodes[:-1] for o in n.output
    ]
    graph = helper.make_graph(
        nodes,
        g.name or "spikehls",
        [helper.make_tensor_value_info(gin.name, onnx.TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(outs[0], onnx.TensorProto.FLOAT, shapes[outs[0]])],
        value_info=value_info,
    )
    clean = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="spikehls.hls")
    clean.ir_version = model.ir_version
    return clean


def intnet_from_clean(clean: onnx.ModelProto, encoding: str) -> IntNet:
    """The IntNet a clean graph describes (names = node names; used to check the C-simulation)."""
    g = clean.graph
    in_shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    t_steps = in_shape[1]
    src_name = {g.input[0].name: "input"}
    stream_of: dict[str, str] = {}  # stream tensor -> the conv writing it
    layers = []
    for n in g.node:
        src_name[n.output[0]] = n.name
        if len(n.output) > 1:
            stream_of[n.output[1]] = n.name
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in a.items()}
        if n.op_type == "SpikeMaxPool2d":
            layers.append(MaxPool2d(n.name, kernel=int(a["kernel_shape"][0]), stride=int(a["strides"][0])))
            continue
        W = np.asarray(a["weight_int"], dtype=np.int64).reshape(a["weight_shape"])
        B = np.asarray(a["bias_int"], dtype=np.int64)
        w_scale = np.asarray(a["acc_scale"]) / a["in_scale"]
        common = dict(weight=W, bias=B, w_bits=int(a["w_bits"]), w_scale=w_scale, in_scale=float(a["in_scale"]))
        if n.op_type == "Readout":
            layers.append(Readout(n.name, **common))
            continue
        neuron = Neuron(np.asarray(a["threshold"]), int(a["leak_shift"]), a["reset"], int(a["v_bits"]))
        if n.op_type == "SpikingDense":
            layers.append(SpikingDense(n.name, neuron=neuron, **common))
            continue
        skip = None
        has_res = int(a.get("has_residual", 0) or 0)
        if len(n.input) - has_res > 1:
            if "skip_weight_int" in a:
                sw = np.asarray(a["skip_weight_int"], dtype=np.int64).reshape(a["skip_weight_shape"])
                skip = Skip(src_name[n.input[1]], weight=sw, stride=int(a["skip_stride"]), w_bits=int(a["skip_w_bits"]))
            else:
                skip = Skip(src_name[n.input[1]], gain=np.asarray(a["skip_gain"]), stride=int(a["skip_stride"]))
        layers.append(
            SpikingConv2d(n.name, neuron=neuron, stride=int(a["strides"][0]), padding=int(a["pads"][0]), skip=skip,
                          residual=stream_of[n.input[-1]] if has_res else None,
                          current_sign=np.asarray(a["current_sign"], dtype=np.int64) if a.get("current_sign") else None, **common)
        )
    return IntNet(tuple(in_shape[2:]), t_steps, encoding, layers)  # type: ignore[arg-type]
