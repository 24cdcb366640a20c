"""Make qonnx's node-by-node execution work with the installed onnx/onnxruntime pair (DESIGN.md §5).

Where it bites: ``qonnx.core.onnx_exec.execute_node`` runs every *standard* ONNX node (Reshape,
MaxPool, Conv, Transpose, ... anything that is not a qonnx ``CustomOp``) by wrapping it in a
one-node model built with ``qonnx.util.basic.qonnx_make_model`` and handing that to
onnxruntime. ``onnx.helper.make_model`` stamps the model with the newest IR version onnx knows
(onnx 1.23: IR 14), whatever the IR of the graph being executed, and onnxruntime 1.31 refuses it::

    Unsupported model IR version: 14, max supported IR version: 13

The same helper builds the temporary models of qonnx's channels-last wrapped ops, its NHWC
max pool and quantised average pool, which hit the same error. Our own custom ops never reach
onnxruntime, but ``cleanup_model`` / ``ConvertToChannelsLastAndClean`` / hls4ml preprocessing
may insert standard nodes, and users may add their own.

A second qonnx bug bites our graphs: ``ModelWrapper.rename_tensor`` (used by ``cleanup_model``
through ``GiveReadableTensorNames``) renames only the *first* occurrence of a tensor among a
node's inputs. A spiking conv whose skip reads the same tensor as its main input (a skip from
the previous layer, or from the network input into the first layer) is left with a dangling
input name and the cleaned model cannot run. :func:`patch_qonnx` also makes ``rename_tensor``
rename every occurrence.

What we do:
* :func:`max_runtime_ir_version` asks onnxruntime itself (a tiny Identity model at decreasing IR
  versions, cached) instead of trusting a version table;
* :func:`target_ir_version` = min(onnx's, onnxruntime's): the IR version spikehls writes;
* :func:`patch_qonnx` wraps ``qonnx_make_model`` in every qonnx module that imported it, so the
  models it builds are stamped with :func:`target_ir_version`. The patch is idempotent (the
  wrapper is marked and never wrapped twice), does nothing when the versions already agree, and
  is applied on import of :mod:`spikehls.quantize.qonnx_export` and
  :mod:`spikehls.quantize.qonnx_ops`.
"""

from __future__ import annotations

import functools
import importlib
from typing import Callable

import onnx
from onnx import TensorProto, helper

# qonnx modules that build throw-away models for onnxruntime with ``qonnx_make_model``
_QONNX_MODULES = (
    "qonnx.util.basic",
    "qonnx.core.onnx_exec",
    "qonnx.custom_op.channels_last.base_wrapped_op",
    "qonnx.custom_op.general.maxpoolnhwc",
    "qonnx.custom_op.general.quantavgpool2d",
    "qonnx.transformation.merge_onnx_models",
)
_MARK = "_spikehls_ir_clamp"


def _identity_model(ir_version: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "ir_probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = ir_version
    return model


def runtime_accepts_ir(ir_version: int) -> bool:
    """Whether onnxruntime loads a model stamped with ``ir_version``."""
    import onnxruntime as ort

    try:
        ort.InferenceSession(_identity_model(ir_version).SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime raises its own Fail/InvalidGraph types
        return False
    return True


@functools.lru_cache(maxsize=None)
def max_runtime_ir_version() -> int:
    """The newest model IR version the installed onnxruntime accepts (probed once)."""
    for ir in range(onnx.IR_VERSION, 6, -1):  # opset 13 needs IR >= 7
        if runtime_accepts_ir(ir):
            return ir
    raise RuntimeError("onnxruntime accepts no IR version between 7 and onnx's own; the installation is broken")


def target_ir_version() -> int:
    """The IR version spikehls writes: the newest both onnx and onnxruntime understand."""
    return min(onnx.IR_VERSION, max_runtime_ir_version())


def clamp_ir_version(model: onnx.ModelProto) -> onnx.ModelProto:
    """Lower ``model.ir_version`` to :func:`target_ir_version` if it is newer (in place)."""
    target = target_ir_version()
    if model.ir_version > target:
        model.ir_version = target
    return model


def _wrap(make_model: Callable[..., onnx.ModelProto]) -> Callable[..., onnx.ModelProto]:
    @functools.wraps(make_model)
    def qonnx_make_model(graph_proto, **kwargs):
        return clamp_ir_version(make_model(graph_proto, **kwargs))

    setattr(qonnx_make_model, _MARK, True)
    return qonnx_make_model


def _patch_rename_tensor() -> None:
    """Make ``ModelWrapper.rename_tensor`` rename every occurrence in node inputs and outputs."""
    from qonnx.core.modelwrapper import ModelWrapper

    original = ModelWrapper.rename_tensor
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def rename_tensor(self, old_name: str, new_name: str) -> None:
        original(self, old_name, new_name)
        for node in self.graph.node:
            for i, name in enumerate(node.input):
                if name == old_name:
                    node.input[i] = new_name
            for i, name in enumerate(node.output):
                if name == old_name:
                    node.output[i] = new_name

    setattr(rename_tensor, _MARK, True)
    ModelWrapper.rename_tensor = rename_tensor


def patch_qonnx() -> bool:
    """Apply both fixes: IR version of qonnx's onnxruntime models, complete tensor renaming.

    Returns True when the IR-version patch is (now) in place, False when the installed onnx and
    onnxruntime agree and it is not needed. Safe to call any number of times.
    """
    _patch_rename_tensor()
    if onnx.IR_VERSION <= max_runtime_ir_version():
        return False
    basic = importlib.import_module("qonnx.util.basic")
    original = basic.qonnx_make_model
    wrapped = original if getattr(original, _MARK, False) else _wrap(original)
    for name in _QONNX_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:  # other qonnx versions may lack a module; nothing to patch there
            continue
        current = getattr(mod, "qonnx_make_model", None)
        if current is not None and not getattr(current, _MARK, False):
            mod.qonnx_make_model = wrapped
    return True


def is_patched() -> bool:
    """Whether qonnx's per-node execution builds models onnxruntime accepts."""
    exec_mod = importlib.import_module("qonnx.core.onnx_exec")
    return onnx.IR_VERSION <= max_runtime_ir_version() or getattr(exec_mod.qonnx_make_model, _MARK, False)
