"""Write an :class:`IntNet` as a QONNX graph, run such a graph, and read an IntNet back from one.

The graph format is ``docs/qonnx_format.md``: weights and biases as float initializers behind
standard QONNX ``Quant`` nodes, the stateful spiking layers as custom ops of
:mod:`spikehls.quantize.qonnx_ops` (which call the NumPy reference), one sample per execution
as stored (:func:`run_qonnx` executes a batch-widened copy).
The HLS stage and ``spikehls csim`` only get the ``.onnx`` file: :func:`intnet_from_qonnx` is
how they recover the integer network (and so the reference) from it. Importing this module
applies the onnx/onnxruntime IR-version patch of :mod:`spikehls.quantize.onnx_compat`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Union

import numpy as np
import onnx
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_path
from spikehls.quantize import onnx_compat
from spikehls.quantize import qonnx_ops as ops
from spikehls.quantize.intnet import IntNet, MaxPool2d, Readout, SpikingConv2d, SpikingDense

onnx_compat.patch_qonnx()

QUANT_DOMAIN = "qonnx.custom_op.general"
ONNX_OPSET = 13
FORMAT = "spikehls.qonnx/1"
_OP_TYPES = {SpikingConv2d: "SpikingConv2d", SpikingDense: "SpikingDense", MaxPool2d: "SpikeMaxPool2d", Readout: "Readout"}

ModelLike = Union[ModelWrapper, onnx.ModelProto, str, Path]


# ---- export -------------------------------------------------------------------------------------
def _is_pow2(values) -> bool:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        return False
    mant, exp = np.frexp(v)
    # float32 attributes must hold them exactly: normal float32 range
    return bool(np.all(mant == 0.5) and np.all(exp - 1 >= -126) and np.all(exp - 1 <= 127))


def _check_exportable(net: IntNet, bias_bits: int) -> None:
    from spikehls.config import QuantConfig, field_range

    lo, hi = field_range(QuantConfig, "bias_bits")  # one range, the schema's
    if not lo <= bias_bits <= hi:
        raise SpikehlsError(f"bias_bits={bias_bits}: allowed {lo}..{hi} (quant.bias_bits; float32 must carry the biases exactly)")
    net.validate()
    names = [lyr.name for lyr in net.layers]
    if "input" in names:
        raise SpikehlsError("integer network: no layer may be called 'input' (that name means the network input)")
    blo, bhi = -(2 ** (bias_bits - 1)), 2 ** (bias_bits - 1) - 1
    for lyr in net.layers:
        if type(lyr) not in _OP_TYPES:
            raise SpikehlsError(f"layer {getattr(lyr, 'name', '?')}: type {type(lyr).__name__} cannot be exported to QONNX")
        if isinstance(lyr, MaxPool2d):
            continue
        if not _is_pow2(lyr.w_scale) or not _is_pow2(lyr.in_scale) or not _is_pow2(lyr.w_scale * lyr.in_scale):
            raise SpikehlsError(f"layer {lyr.name}: weight and input scales must be powers of two (DESIGN.md section 3)")
        if lyr.bias.size and (lyr.bias.min() < blo or lyr.bias.max() > bhi):
            need = int(max(abs(int(lyr.bias.min())) - 1, int(lyr.bias.max()))).bit_length() + 1
            raise SpikehlsError(f"layer {lyr.name}: bias needs {need} bits, more than bias_bits={bias_bits}")
        # qonnx's Quant turns signed 1-bit values into bipolar +-1, so 1-bit weights cannot pass it
        bits = [("w_bits", lyr.w_bits)]
        if getattr(lyr, "skip", None) is not None and lyr.skip.weight is not None:
            bits.append(("skip w_bits", lyr.skip.w_bits))
        for what, b in bits:
            if not 2 <= b <= 24:
                raise SpikehlsError(f"layer {lyr.name}: {what}={b}, QONNX export allows 2..24")


class _GraphBuilder:
    """Collects nodes and initializers of the QONNX graph."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def init(self, name: str, value) -> str:
        self.inits.append(onnx.numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(self, prefix: str, float_value: np.ndarray, scale: np.ndarray, bits: int) -> str:
        """``prefix`` (float) -> Quant(scale, 0, bits, signed) -> ``prefix + 'q'``."""
        ins = [
            self.init(prefix, float_value),
            self.init(f"{prefix}_scale", scale),
            self.init(f"{prefix}_zeropt", np.float32(0.0)),
            self.init(f"{prefix}_bits", np.float32(bits)),
        ]
        out = f"{prefix}q"
        self.nodes.append(
            helper.make_node("Quant", ins, [out], name=f"{prefix}_quant", domain=QUANT_DOMAIN,
                             signed=1, narrow=0, rounding_mode="ROUND")
        )
        return out


def build_qonnx(net: IntNet, bias_bits: int = 16) -> onnx.ModelProto:
    """The QONNX ModelProto of ``net`` (validated, shapes and datatypes annotated)."""
    _check_exportable(net, bias_bits)
    g = _GraphBuilder()
    t_steps, (c, h, w) = net.time_steps, net.input_shape
    tensor = {"input": "input"}  # layer name -> output tensor
    stream = {name: f"{name}_stream" for name in net.stream_sources()}  # residual source -> its stream tensor
    shapes = net.shapes()
    stream_infos = []
    scale = {"input": net.input_scale}  # layer name -> float scale of its output values
    prev = "input"
    for lyr in net.layers:
        x = tensor[prev]
        if isinstance(lyr, MaxPool2d):
            out = f"{lyr.name}_spikes"
            g.nodes.append(helper.make_node(
                "SpikeMaxPool2d", [x], [out], name=lyr.name, domain=ops.DOMAIN, layer_name=lyr.name,
                kernel_shape=[lyr.kernel, lyr.kernel], strides=[lyr.stride, lyr.stride], in_scale=float(scale[prev]),
            ))
            tensor[lyr.name], scale[lyr.name], prev = out, scale[prev], lyr.name
            continue
        if lyr.in_scale != scale[prev]:
            raise SpikehlsError(f"layer {lyr.name}: in_scale {lyr.in_scale} differs from the scale {scale[prev]} of its input")
        acc = (lyr.w_scale * lyr.in_scale).astype(np.float64)
        co = lyr.weight.shape[0]
        wshape = (co,) + (1,) * (lyr.weight.ndim - 1)
        wq = g.quant(f"{lyr.name}_W", lyr.weight * lyr.w_scale.reshape(wshape), lyr.w_scale.reshape(wshape), lyr.w_bits)
        bq = g.quant(f"{lyr.name}_B", lyr.bias * acc, acc, bias_bits)
        inputs = [x, wq, bq]
        attrs: dict = {"layer_name": lyr.name, "in_scale": float(lyr.in_scale), "acc_scale": [float(a) for a in acc]}
        if isinstance(lyr, Readout):
            out = "readout"
        else:
            out = f"{lyr.name}_spikes"
            nrn = lyr.neuron
            attrs.update(threshold=[int(t) for t in nrn.threshold], leak_shift=int(nrn.leak_shift),
                         reset=str(nrn.reset), v_bits=int(nrn.v_bits))
        if isinstance(lyr, SpikingConv2d):
            kh, kw = lyr.weight.shape[2:]
            attrs.update(kernel_shape=[int(kh), int(kw)], strides=[lyr.stride] * 2, pads=[lyr.padding] * 4)
            if lyr.skip is not None:
                sk = lyr.skip
                s_scale = scale[sk.source]
                inputs.append(tensor[sk.source])
                attrs.update(skip_stride=int(sk.stride), skip_in_scale=float(s_scale))
                if sk.weight is None:
                    gain = np.ones(co, np.int64) if sk.gain is None else sk.gain
                    attrs["skip_gain"] = [int(v) for v in gain]
                else:
                    sw_scale = (acc / s_scale).reshape(co, 1)
                    if not _is_pow2(sw_scale):
                        raise SpikehlsError(f"layer {lyr.name}: skip weight scale is not a power of two")
                    inputs.append(g.quant(f"{lyr.name}_SW", sk.weight * sw_scale, sw_scale, sk.w_bits))
            if lyr.residual is not None:
                inputs.append(stream[lyr.residual])
                attrs["has_residual"] = 1
            if lyr.current_sign is not None:
                attrs["current_sign"] = [int(v) for v in lyr.current_sign]
        outs = [out]
        if lyr.name in stream:
            outs.append(stream[lyr.name])
            stream_infos.append(helper.make_tensor_value_info(stream[lyr.name], TensorProto.FLOAT, [1, t_steps, *shapes[lyr.name]]))
        g.nodes.append(helper.make_node(_OP_TYPES[type(lyr)], inputs, outs, name=lyr.name, domain=ops.DOMAIN, **attrs))
        tensor[lyr.name], scale[lyr.name], prev = out, 1.0, lyr.name
    graph = helper.make_graph(
        g.nodes, "spikehls",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, t_steps, c, h, w])],
        [helper.make_tensor_value_info("readout", TensorProto.FLOAT, [1, net.num_classes])],
        initializer=g.inits, value_info=stream_infos,  # shape inference sees a custom op's first output only
    )
    model = helper.make_model(
        graph, producer_name="spikehls",
        opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid(QUANT_DOMAIN, 1),
                       helper.make_opsetid(ops.DOMAIN, 1)],
    )
    model.ir_version = onnx_compat.target_ir_version()
    for key, value in (("spikehls.format", FORMAT), ("spikehls.encoding", net.encoding)):
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    wrapper = ModelWrapper(model).transform(InferShapes()).transform(InferDataTypes())
    onnx.checker.check_model(wrapper.model)
    return wrapper.model


def export_qonnx(net: IntNet, path: Union[str, Path], bias_bits: int = 16) -> None:
    """Write ``net`` to ``path`` as a QONNX graph (``onnx.checker`` clean), atomically."""
    model = build_qonnx(net, bias_bits)
    with atomic_path(path, suffix=".onnx") as tmp:
        onnx.save(model, str(tmp))


# ---- loading and running ------------------------------------------------------------------------
def load_qonnx(path: Union[str, Path]) -> ModelWrapper:
    """Load a QONNX file written by :func:`export_qonnx` (or transformed since)."""
    path = Path(path)
    if not path.is_file():
        raise SpikehlsError(f"{path}: QONNX model file not found")
    try:
        return ModelWrapper(str(path))
    except Exception as err:  # protobuf DecodeError and friends
        raise SpikehlsError(f"{path}: not a readable ONNX model ({type(err).__name__})") from err


def _wrap(model: ModelLike) -> ModelWrapper:
    if isinstance(model, ModelWrapper):
        return model
    if isinstance(model, onnx.ModelProto):
        return ModelWrapper(model)
    return load_qonnx(model)


def _is_ours(node: onnx.NodeProto) -> bool:
    return node.domain == ops.DOMAIN and node.op_type in ops.__all__


def _input_scale(model: ModelWrapper) -> float:
    """Float scale of the graph input: the ``in_scale`` of the layers that read it."""
    name = model.graph.input[0].name
    scales = set()
    for node in model.graph.node:
        if _is_ours(node) and name in node.input:
            op = getCustomOp(node)
            scales.add(float(op.get_nodeattr("skip_in_scale" if node.input[0] != name else "in_scale")))
    if len(scales) > 1:
        raise SpikehlsError(f"QONNX graph: layers disagree on the input scale {sorted(scales)}")
    return scales.pop() if scales else 1.0


QONNX_BATCH_ELEMS = 64_000_000  # activation elements (float32 in the execution context) per batch


def _batched(mw: ModelWrapper, n: int) -> ModelWrapper:
    """A copy of the graph that executes ``n`` samples at once: the batch axis of the input, the
    outputs and every activation tensor (what our spiking ops produce) set to ``n``. The weights
    and their ``Quant`` nodes do not depend on the batch; the ops compute per sample (the NumPy
    reference is batch-first), so every sample's result equals its single-sample execution."""
    import copy

    if n == 1:
        return mw
    proto = copy.deepcopy(mw.model)
    acts = {proto.graph.input[0].name} | {o.name for o in proto.graph.output}
    for node in proto.graph.node:
        if _is_ours(node):
            acts.update(node.output)
    for vi in list(proto.graph.input) + list(proto.graph.output) + list(proto.graph.value_info):
        if vi.name in acts:
            dims = vi.type.tensor_type.shape.dim
            if not dims or dims[0].dim_value != 1:
                raise SpikehlsError(f"QONNX graph: tensor '{vi.name}' has no batch axis of 1 (shape "
                                    f"{[d.dim_value for d in dims]}); cannot batch its execution")
            dims[0].dim_value = n
    return ModelWrapper(proto)


def _activation_elems(mw: ModelWrapper) -> int:
    """Activation elements of one sample (input, outputs, every tensor our ops produce)."""
    names = {mw.graph.input[0].name} | {o.name for o in mw.graph.output}
    for node in mw.graph.node:
        if _is_ours(node):
            names.update(node.output)
    return sum(math.prod(mw.get_tensor_shape(t) or [1]) for t in names)


def run_qonnx(model: ModelLike, x_int: np.ndarray, batch: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Execute the graph with ``execute_onnx``, ``batch`` samples per execution.

    ``x_int``: encoded integer inputs ``[N, T, C, H, W]``. Returns the readout (int64 ``[N, K]``)
    and the spikes of every spiking/pooling layer (uint8 ``[N, T, ...]``, keyed by layer name).
    The file holds a batch-of-one graph (docs/qonnx_format.md); for ``batch > 1`` a copy with the
    batch axis of its activations widened is executed (:func:`_batched`), the last batch padded
    with zeros. Default ``batch``: as many samples as keep the execution context's activations
    under ``QONNX_BATCH_ELEMS`` elements (256 at most). Per-execution costs (quantizing every
    weight tensor, rebuilding the layers, rounding every tensor) are paid once per batch instead
    of once per sample: a VGG-16 ran 1.2 s per sample one at a time.
    """
    mw = _wrap(model)
    x_int = np.asarray(x_int)
    in_name, out_name = mw.graph.input[0].name, mw.graph.output[0].name
    in_scale = _input_scale(mw)
    layer_out = {}
    for node in mw.graph.node:
        if _is_ours(node) and node.op_type != "Readout":
            layer_out[getCustomOp(node).get_nodeattr("layer_name") or node.name] = node.output[0]
    n_all = int(x_int.shape[0])
    if batch is None:
        batch = max(1, min(256, QONNX_BATCH_ELEMS // max(1, _activation_elems(mw))))
    batch = max(1, min(int(batch), n_all)) if n_all else 1
    run_mw = _batched(mw, batch)
    readouts, spikes = [], {k: [] for k in layer_out}
    for a in range(0, n_all, batch):
        b = min(n_all, a + batch)
        xb = x_int[a:b]
        if b - a < batch:  # the last batch, padded (the padding's outputs are dropped)
            xb = np.concatenate([xb, np.zeros((batch - (b - a),) + xb.shape[1:], xb.dtype)])
        xs = (xb.astype(np.float64) * in_scale).astype(np.float32)
        ctx = execute_onnx(run_mw, {in_name: xs}, return_full_exec_context=True)
        readouts.append(ops.to_int(ctx[out_name], 1.0, "readout")[: b - a])
        for k, t in layer_out.items():
            spikes[k].append(ops.to_int(ctx[t], 1.0, f"{k} spikes").astype(np.uint8)[: b - a])
    k_cls = mw.get_tensor_shape(out_name)[-1]
    readout = np.concatenate(readouts).astype(np.int64) if readouts else np.zeros((0, k_cls), np.int64)
    return readout, {k: np.concatenate(v) if v else np.zeros((0,), np.uint8) for k, v in spikes.items()}


# ---- QONNX -> IntNet ----------------------------------------------------------------------------
def _const(mw: ModelWrapper, tensor: str, what: str) -> tuple[np.ndarray, int | None]:
    """Value of a constant tensor (initializer, or a Quant of initializers) and its Quant bit width."""
    init = mw.get_initializer(tensor)
    if init is not None:
        return np.asarray(init, dtype=np.float64), None
    prod = mw.find_producer(tensor)
    if prod is None or prod.op_type not in ("Quant", "IntQuant"):
        kind = "graph input" if prod is None else f"'{prod.op_type}' node '{prod.name}'"
        raise SpikehlsError(f"QONNX graph: {what} comes from a {kind}, expected a constant or a Quant of constants")
    ctx = {}
    for inp in prod.input:
        v = mw.get_initializer(inp)
        if v is None:
            raise SpikehlsError(f"QONNX graph: Quant node '{prod.name}' ({what}) has a non-constant input '{inp}'")
        ctx[inp] = v
    getCustomOp(prod).execute_node(ctx, mw.graph)
    return np.asarray(ctx[prod.output[0]], dtype=np.float64), int(mw.get_initializer(prod.input[3]))


def intnet_from_qonnx(model: ModelLike) -> IntNet:
    """Recover the integer network from a spikehls QONNX graph (the inverse of :func:`export_qonnx`).

    Works on the file as written and after qonnx's cleanup / channels-last transforms (tensor
    and node names may change; layer names are kept in the ``layer_name`` attribute).
    """
    mw = _wrap(model)
    graph = mw.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise SpikehlsError("QONNX graph: expected one input and one output")
    in_name = graph.input[0].name
    shape = mw.get_tensor_shape(in_name)
    if shape is None or len(shape) != 5:
        raise SpikehlsError(f"QONNX graph: input '{in_name}' must be [1, T, C, H, W], has shape {shape}")
    param_consumers = set()
    for node in graph.node:
        if _is_ours(node):
            param_consumers.update(node.input[1:3])
            if node.op_type == "SpikingConv2d":
                roles = _conv_roles(node)
                if "skip_w" in roles:
                    param_consumers.add(node.input[roles["skip_w"]])
    layers = []
    producer_layer = {in_name: "input"}
    stream_layer: dict[str, str] = {}  # stream tensor -> the layer writing it
    prev_tensor = in_name
    for node in graph.node:
        if node.op_type in ("Quant", "IntQuant") and all(o in param_consumers for o in node.output):
            continue  # weights and biases; read through _const below
        if not _is_ours(node):
            raise SpikehlsError(
                f"QONNX graph: unsupported op '{node.op_type}' (domain '{node.domain}') in node '{node.name}'; "
                f"spikehls reads {', '.join(ops.__all__)} and Quant on their parameters"
            )
        op = getCustomOp(node)
        name = op.get_nodeattr("layer_name") or node.name
        if node.input[0] != prev_tensor:
            raise SpikehlsError(f"QONNX graph: layer '{name}' does not read the previous layer's output (not a chain)")
        try:
            if node.op_type == "SpikeMaxPool2d":
                layer = ops.layer_from_node(op)
            else:
                wt, w_bits = _const(mw, node.input[1], f"weights of '{name}'")
                bs, _ = _const(mw, node.input[2], f"bias of '{name}'")
                roles = _conv_roles(node) if node.op_type == "SpikingConv2d" else {}
                sw, sw_bits = (_const(mw, node.input[roles["skip_w"]], f"skip weights of '{name}'")
                               if "skip_w" in roles else (None, None))
                layer = ops.layer_from_node(op, wt, bs, sw, w_bits=w_bits or 8, skip_w_bits=sw_bits or 8)
        except ValueError as err:
            raise SpikehlsError(f"QONNX graph: {err}") from err
        if getattr(layer, "skip", None) is not None:
            src = producer_layer.get(node.input[3])
            if src is None:
                raise SpikehlsError(f"QONNX graph: skip input of '{name}' is not the output of an earlier layer")
            layer.skip.source = src
        if getattr(layer, "residual", None) is not None:
            src = stream_layer.get(node.input[roles["residual"]])
            if src is None:
                raise SpikehlsError(f"QONNX graph: residual input of '{name}' is not the stream output of an earlier conv")
            layer.residual = src
        layers.append(layer)
        producer_layer[node.output[0]] = name
        if len(node.output) > 1:
            stream_layer[node.output[1]] = name
        prev_tensor = node.output[0]
    if prev_tensor != graph.output[0].name:
        raise SpikehlsError("QONNX graph: the last layer's output is not the graph output")
    meta = {p.key: p.value for p in mw.model.metadata_props}
    encoding = meta.get("spikehls.encoding")
    if encoding is None:
        first = layers[0] if layers else None
        encoding = "direct" if first is not None and getattr(first, "in_scale", 1.0) == 2.0**-8 else "rate"
    net = IntNet((int(shape[2]), int(shape[3]), int(shape[4])), int(shape[1]), encoding, layers)
    net.validate()
    return net


def _conv_roles(node: onnx.NodeProto) -> dict[str, int]:
    """Input roles of a SpikingConv2d node (:func:`spikehls.quantize.qonnx_ops.conv_input_roles`)."""
    has_residual = next((int(a.i) for a in node.attribute if a.name == "has_residual"), 0)
    try:
        return ops.conv_input_roles(node, has_residual)
    except ValueError as err:
        raise SpikehlsError(f"QONNX graph: {err}") from err


def intnets_equal(a: IntNet, b: IntNet) -> bool:
    """Exact structural equality of two integer networks (all fields, all array values)."""

    def same(x, y) -> bool:
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            return x is not None and y is not None and np.array_equal(np.asarray(x), np.asarray(y))
        if isinstance(x, float) or isinstance(y, float):
            return x is not None and y is not None and math.isclose(x, y, rel_tol=0, abs_tol=0)
        if hasattr(x, "__dataclass_fields__"):
            return type(x) is type(y) and all(same(getattr(x, f), getattr(y, f)) for f in x.__dataclass_fields__)
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
        return x == y

    return same(a, b)
