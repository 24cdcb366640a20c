"""qonnx custom ops of the spikehls QONNX graph (domain ``spikehls.quantize.qonnx_ops``).

qonnx finds a custom op by importing the module named like the node's domain and looking up the
class named like its ``op_type`` (``qonnx.custom_op.registry.getCustomOp``, using ``__all__``);
this module is that domain, and it also registers its classes explicitly with
``add_op_to_domain`` so the registry cache holds them once imported. The graph format is
documented in ``docs/qonnx_format.md``.

The ops hold no semantics of their own: :meth:`execute_node` converts the float tensors of the
QONNX graph back to the integers they stand for (dividing by the power-of-two scales and
checking that the result is exact) and calls the kernels of :mod:`spikehls.quantize.reference`.
:func:`layer_from_node` is the one place that turns a node plus its float weights into an
integer layer; :func:`spikehls.quantize.qonnx_export.intnet_from_qonnx` uses it too.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp
from qonnx.custom_op.registry import add_op_to_domain

from spikehls.quantize import intnet as ir
from spikehls.quantize import onnx_compat
from spikehls.quantize import reference as ref

DOMAIN = "spikehls.quantize.qonnx_ops"
__all__ = ["SpikingConv2d", "SpikingDense", "SpikeMaxPool2d", "Readout"]

onnx_compat.patch_qonnx()


def to_int(values: np.ndarray, scale, what: str) -> np.ndarray:
    """``values / scale`` as int64, which must be exact (power-of-two scales make it so)."""
    q = np.asarray(values, dtype=np.float64) / np.asarray(scale, dtype=np.float64)
    r = np.rint(q)
    if not np.array_equal(q, r):
        bad = np.abs(q - r).max()
        raise ValueError(f"{what}: values are not integer multiples of their scale (off by up to {bad})")
    return r.astype(np.int64)


_NEURON_ATTRS = {
    "threshold": ("ints", True, []),  # per output channel, integers >= 1
    "leak_shift": ("i", False, 0),  # 0: IF; k > 0: LIF, V -= V >> k
    "reset": ("s", False, "zero", {"zero", "subtract"}),
    "v_bits": ("i", False, 16),
    "in_scale": ("f", False, 1.0),
    "acc_scale": ("floats", True, []),  # per output channel
    "layer_name": ("s", False, ""),  # the IntNet layer name (tensor and node names may be rewritten)
}


def _neuron(op: CustomOp) -> ir.Neuron:
    return ir.Neuron(
        threshold=np.asarray(op.get_nodeattr("threshold"), dtype=np.int64),
        leak_shift=int(op.get_nodeattr("leak_shift")),
        reset=op.get_nodeattr("reset"),
        v_bits=int(op.get_nodeattr("v_bits")),
    )


def _name(op: CustomOp) -> str:
    return op.get_nodeattr("layer_name") or op.onnx_node.name or op.onnx_node.output[0]


def layer_from_node(
    op: CustomOp,
    weight: Optional[np.ndarray] = None,
    bias: Optional[np.ndarray] = None,
    skip_weight: Optional[np.ndarray] = None,
    w_bits: int = 8,
    skip_w_bits: int = 8,
) -> ir.Layer:
    """The integer layer a node stands for, given its float (dequantised) weight tensors.

    Weights are ``W_int * acc_scale[c] / in_scale``, biases ``b_int * acc_scale[c]``, 1x1 skip
    weights ``S_int * acc_scale[c] / skip_in_scale``; every division must be exact.
    """
    name = _name(op)
    if isinstance(op, SpikeMaxPool2d):
        kh, kw = op.get_nodeattr("kernel_shape")
        sh, sw = op.get_nodeattr("strides")
        if kh != kw or sh != sw:
            raise ValueError(f"{name}: only square pooling windows and strides are supported")
        return ir.MaxPool2d(name=name, kernel=int(kh), stride=int(sh))
    acc = np.asarray(op.get_nodeattr("acc_scale"), dtype=np.float64)
    in_scale = float(op.get_nodeattr("in_scale"))
    w_scale = acc / in_scale
    co = acc.shape[0]
    wshape = (co,) + (1,) * (np.ndim(weight) - 1)
    w_int = to_int(weight, w_scale.reshape(wshape), f"{name} weights")
    b_int = to_int(bias, acc, f"{name} bias")
    common = dict(name=name, weight=w_int, bias=b_int, w_bits=w_bits, w_scale=w_scale, in_scale=in_scale)
    if isinstance(op, Readout):
        return ir.Readout(**common)
    if isinstance(op, SpikingDense):
        return ir.SpikingDense(neuron=_neuron(op), **common)
    kh, kw = op.get_nodeattr("kernel_shape")
    sh, sw = op.get_nodeattr("strides")
    pads = list(op.get_nodeattr("pads"))
    if kh != kw or sh != sw or len(set(pads)) != 1:
        raise ValueError(f"{name}: only square kernels, equal strides and symmetric padding are supported")
    skip = None
    roles = conv_input_roles(op.onnx_node, int(op.get_nodeattr("has_residual")))
    if "skip_x" in roles:
        stride = int(op.get_nodeattr("skip_stride"))
        if "skip_w" not in roles:
            gain = np.asarray(op.get_nodeattr("skip_gain"), dtype=np.int64)
            skip = ir.Skip(source="?", gain=gain if gain.size else np.ones(co, np.int64), stride=stride)
        else:
            s_scale = (acc / float(op.get_nodeattr("skip_in_scale"))).reshape(co, 1)
            s_int = to_int(skip_weight, s_scale, f"{name} skip weights")
            skip = ir.Skip(source="?", weight=s_int, stride=stride, w_bits=skip_w_bits)
    sign = op.get_nodeattr("current_sign")
    return ir.SpikingConv2d(
        neuron=_neuron(op), stride=int(sh), padding=int(pads[0]), skip=skip,
        residual="?" if "residual" in roles else None,  # the source's name: intnet_from_qonnx resolves it
        current_sign=np.asarray(sign, dtype=np.int64) if len(sign) else None, **common,
    )


def conv_input_roles(node, has_residual: int) -> dict[str, int]:
    """Input index of each role of a SpikingConv2d node: x, w, b [, skip_x [, skip_w]] [, residual].

    The residual stream, when ``has_residual``, is always the last input; what is left after
    x, w, b is the skip (spikes, then its 1x1 weights), as before residual streams existed.
    """
    n = len(node.input) - (1 if has_residual else 0)
    if n < 3 or n > 5:
        raise ValueError(f"{node.name}: SpikingConv2d takes x, Wq, Bq [, skip_x [, skip_Wq]] [, residual], has {len(node.input)} inputs")
    roles = {"x": 0, "w": 1, "b": 2}
    if n >= 4:
        roles["skip_x"] = 3
    if n == 5:
        roles["skip_w"] = 4
    if has_residual:
        roles["residual"] = n
    return roles


def _shape_of(model, tensor: str) -> list[int]:
    """Shape of ``tensor``; if not annotated yet, derived from the spikehls op that produces it.

    qonnx's InferShapes swaps *all* custom ops for shape-compatible ones before running ONNX
    shape inference, so a chain of our ops must be able to compute its shapes on its own.
    """
    shape = model.get_tensor_shape(tensor)
    if shape is not None:
        return list(shape)
    prod = model.find_producer(tensor)
    if prod is not None and prod.op_type == "RandomNormal":  # an op of ours already swapped out
        return [int(d) for d in next(a for a in prod.attribute if a.name == "shape").ints]
    if prod is None or prod.domain != DOMAIN:
        raise ValueError(f"shape of tensor '{tensor}' is unknown")
    return list(model.get_customop_wrapper(prod)._out_shape(model))


class _SpikehlsOp(CustomOp):
    """Shared plumbing: integer conversion of the inputs, datatype annotation, verification."""

    n_inputs: tuple[int, ...] = (3,)

    def _input_int(self, context, idx: int, scale: float) -> np.ndarray:
        name = self.onnx_node.input[idx]
        return to_int(context[name], scale, f"{_name(self)} input '{name}'")

    def _layer(self, context) -> ir.Layer:
        node = self.onnx_node
        skip_w = None
        if isinstance(self, SpikingConv2d):
            roles = conv_input_roles(node, int(self.get_nodeattr("has_residual")))
            skip_w = context[node.input[roles["skip_w"]]] if "skip_w" in roles else None
        return layer_from_node(self, context[node.input[1]], context[node.input[2]], skip_w)

    def _out_shape(self, model) -> list[int]:
        raise NotImplementedError

    def make_shape_compatible_op(self, model):
        return self.make_const_shape_op(self._out_shape(model))

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["BINARY"])

    def verify_node(self):
        info = []
        node = self.onnx_node
        if node.domain != DOMAIN:
            info.append(f"domain should be {DOMAIN}")
        if len(node.input) not in self.n_inputs:
            info.append(f"{node.op_type} takes {' or '.join(map(str, self.n_inputs))} inputs, has {len(node.input)}")
        try:
            for name, spec in self.get_nodeattr_types().items():
                if spec[1]:
                    self.get_nodeattr(name)
        except Exception as err:  # get_nodeattr raises plain Exception / AssertionError
            return info + [f"attribute problem: {' '.join(str(err).split())}"]
        if "threshold" in self.get_nodeattr_types():
            th = self.get_nodeattr("threshold")
            if len(th) != len(self.get_nodeattr("acc_scale")):
                info.append("threshold and acc_scale need one entry per output channel")
            if any(t < 1 for t in th):
                info.append("thresholds must be >= 1")
        if not info:
            info.append("All required attributes are set and valid")
        return info


class SpikingConv2d(_SpikehlsOp):
    """Spiking 2-D conv: ``x [N,T,C,H,W], Wq, Bq [, skip_x [, skip_Wq]] [, residual] -> spikes [, stream]``.

    A residual source has a second output, its stream ``z * acc_scale`` (float64 in the execution
    context, exact); a reader (``has_residual=1``) takes that tensor as its last input.
    """

    n_inputs = (3, 4, 5, 6)

    def get_nodeattr_types(self):
        return {
            **_NEURON_ATTRS,
            "kernel_shape": ("ints", True, []),
            "strides": ("ints", False, [1, 1]),
            "pads": ("ints", False, [0, 0, 0, 0]),
            "skip_gain": ("ints", False, []),
            "skip_stride": ("i", False, 1),
            "skip_in_scale": ("f", False, 1.0),
            "has_residual": ("i", False, 0),  # 1: the last input is the stream of an earlier conv
            "current_sign": ("ints", False, []),  # per output channel in {-1, 0, 1}; empty: all +1
        }

    def _out_shape(self, model):
        n, t, _, h, w = _shape_of(model, self.onnx_node.input[0])
        kh, kw = self.get_nodeattr("kernel_shape")
        sh, sw = self.get_nodeattr("strides")
        pt, pl, pb, pr = self.get_nodeattr("pads")
        co = len(self.get_nodeattr("threshold"))
        return [n, t, co, (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1]

    def infer_node_datatype(self, model):
        super().infer_node_datatype(model)
        if len(self.onnx_node.output) > 1:  # the stream: scaled integers of any size
            model.set_tensor_datatype(self.onnx_node.output[1], DataType["FLOAT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        layer = self._layer(context)
        roles = conv_input_roles(node, int(self.get_nodeattr("has_residual")))
        x = self._input_int(context, 0, layer.in_scale)
        skip_x = self._input_int(context, 3, self.get_nodeattr("skip_in_scale")) if "skip_x" in roles else None
        acc = layer.acc_scale.reshape(1, 1, -1, 1, 1)
        res_z = self._input_int(context, roles["residual"], acc) if "residual" in roles else None
        if len(node.output) > 1:
            spikes, z = ref.spiking_conv2d(x, layer, skip_x, res_z, return_stream=True)
            context[node.output[1]] = z * acc  # float64: exact (power-of-two scale, |z| < 2**53)
        else:
            spikes = ref.spiking_conv2d(x, layer, skip_x, res_z)
        context[node.output[0]] = spikes.astype(np.float32)


class SpikingDense(_SpikehlsOp):
    """Spiking fully connected: ``x [N,T,...] (flattened C,H,W), Wq [Co,Ci], Bq -> spikes [N,T,Co]``."""

    def get_nodeattr_types(self):
        return dict(_NEURON_ATTRS)

    def _out_shape(self, model):
        shape = _shape_of(model, self.onnx_node.input[0])
        return [shape[0], shape[1], len(self.get_nodeattr("threshold"))]

    def execute_node(self, context, graph):
        layer = self._layer(context)
        x = self._input_int(context, 0, layer.in_scale)
        context[self.onnx_node.output[0]] = ref.spiking_dense(x, layer).astype(np.float32)


class SpikeMaxPool2d(_SpikehlsOp):
    """Max pooling over space of ``[N,T,C,H,W]`` (OR on spikes), no padding, floor size."""

    n_inputs = (1,)

    def get_nodeattr_types(self):
        return {
            "kernel_shape": ("ints", True, []),
            "strides": ("ints", False, []),  # default: the kernel
            "in_scale": ("f", False, 1.0),  # float scale of the input (1 for spikes)
            "layer_name": ("s", False, ""),
        }

    def get_nodeattr(self, name):
        value = super().get_nodeattr(name)
        if name == "strides" and not value:
            return super().get_nodeattr("kernel_shape")
        return value

    def _out_shape(self, model):
        n, t, c, h, w = _shape_of(model, self.onnx_node.input[0])
        kh, kw = self.get_nodeattr("kernel_shape")
        sh, sw = self.get_nodeattr("strides")
        return [n, t, c, (h - kh) // sh + 1, (w - kw) // sw + 1]

    def infer_node_datatype(self, model):
        # OR on spikes keeps spikes binary; on an (unusual) pixel input it keeps the input's type
        model.set_tensor_datatype(self.onnx_node.output[0], model.get_tensor_datatype(self.onnx_node.input[0]))

    def execute_node(self, context, graph):
        scale = float(self.get_nodeattr("in_scale"))
        x = self._input_int(context, 0, scale)
        pooled = ref.spike_maxpool2d(x, layer_from_node(self))
        context[self.onnx_node.output[0]] = (pooled * scale).astype(np.float32)


class Readout(_SpikehlsOp):
    """Non-spiking readout summed over T: ``x [N,T,...], Wq [K,Ci], Bq -> [N,K]`` (exact integers)."""

    def get_nodeattr_types(self):
        return {
            "in_scale": ("f", False, 1.0),
            "acc_scale": ("floats", True, []),
            "layer_name": ("s", False, ""),
        }

    def _out_shape(self, model):
        n = _shape_of(model, self.onnx_node.input[0])[0]
        return [n, len(self.get_nodeattr("acc_scale"))]

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["INT32"])

    def execute_node(self, context, graph):
        layer = self._layer(context)
        x = self._input_int(context, 0, layer.in_scale)
        # float64 carries the integers exactly up to 2**53 (float32 only to 2**24)
        context[self.onnx_node.output[0]] = ref.readout(x, layer).astype(np.float64)


for _cls in (SpikingConv2d, SpikingDense, SpikeMaxPool2d, Readout):
    add_op_to_domain(DOMAIN, _cls)
