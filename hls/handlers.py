"""hls4ml ONNX frontend handlers for the clean spiking graph (see :mod:`spikehls.hls.transforms`).

Each handler turns one node of the clean graph into the attribute dict of our IR layer; the
node attributes already hold integer weights, so nothing here reads initializers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _base(node, input_names, input_shapes, class_name: str) -> dict[str, Any]:
    shape = input_shapes[0]  # [1, T, ...]
    layer = {
        "class_name": class_name,
        "name": node.name,
        "inputs": list(input_names),
        "outputs": list(node.output),
        "n_time": int(shape[1]),
        "in_shape": [int(d) for d in shape[2:]],
        "n_in": int(_prod(shape[2:])),
    }
    return layer


def _prod(xs) -> int:
    p = 1
    for x in xs:
        p *= int(x)
    return p


def _int_list(v) -> list[int]:
    """``[int(x) for x in v]`` at NumPy speed (a VGG-16 layer has 2.4 million weights)."""
    return np.asarray(v, dtype=np.int64).reshape(-1).tolist()


def _neuron(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "threshold": [int(x) for x in a["threshold"]],
        "leak_shift": int(a.get("leak_shift", 0)),
        "reset": str(a.get("reset", "zero")),
        "v_bits": int(a.get("v_bits", 16)),
    }


def _weights(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "weight_int": _int_list(a["weight_int"]),
        "weight_shape": [int(x) for x in a["weight_shape"]],
        "bias_int": [int(x) for x in a["bias_int"]],
        "w_bits": int(a["w_bits"]),
    }


def parse_spiking_conv2d(node, input_names, input_shapes, graph):
    a = _attrs(node)
    layer = _base(node, input_names[:1], input_shapes, "SpikingConv2D")
    layer.update(_weights(a), **_neuron(a))
    layer["stride"] = int(a["strides"][0])
    layer["padding"] = int(a["pads"][0])
    residual = bool(a.get("has_residual", 0))  # the source's stream tensor is the last input
    n_main = len(input_names) - (1 if residual else 0)
    if n_main > 1:
        layer["inputs"] = list(input_names[:2])
        layer["skip_shape"] = [int(d) for d in input_shapes[1][2:]]
        layer["skip_stride"] = int(a.get("skip_stride", 1))
        if "skip_weight_int" in a:
            layer["skip_weight_int"] = _int_list(a["skip_weight_int"])
            layer["skip_weight_shape"] = [int(x) for x in a["skip_weight_shape"]]
            layer["skip_w_bits"] = int(a.get("skip_w_bits", 8))
        else:
            layer["skip_gain"] = [int(x) for x in a["skip_gain"]]
    if residual:
        layer["inputs"].append(input_names[-1])
        layer["residual"] = True
    if "current_sign" in a:
        layer["current_sign"] = [int(x) for x in a["current_sign"]]
    if len(node.output) > 1:  # a stream writer: the layers that add its stream (built after it)
        layer["stream_readers"] = [n.name for n in graph.node if node.output[1] in n.input]
    return layer


def parse_spiking_dense(node, input_names, input_shapes, graph):
    a = _attrs(node)
    layer = _base(node, input_names, input_shapes, "SpikingDense")
    layer.update(_weights(a), **_neuron(a))
    return layer


def parse_readout(node, input_names, input_shapes, graph):
    a = _attrs(node)
    layer = _base(node, input_names, input_shapes, "SpikeReadout")
    layer.update(_weights(a))
    return layer


def parse_spike_maxpool2d(node, input_names, input_shapes, graph):
    a = _attrs(node)
    layer = _base(node, input_names, input_shapes, "SpikeMaxPool2D")
    layer["pool_size"] = int(a["kernel_shape"][0])
    layer["stride"] = int(a["strides"][0])
    return layer


ONNX_HANDLERS = {
    "SpikingConv2d": parse_spiking_conv2d,
    "SpikingDense": parse_spiking_dense,
    "Readout": parse_readout,
    "SpikeMaxPool2d": parse_spike_maxpool2d,
}
