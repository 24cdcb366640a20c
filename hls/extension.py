"""The one registration point of the spikehls hls4ml extension.

:func:`register` installs, once per process, everything hls4ml needs to turn our clean QONNX
graph into HLS: the ONNX handlers, the IR layer classes, the config and function-call
templates for the Vivado **and** Vitis backends, and the C++ headers (``hls/cpp``), which
hls4ml copies into ``firmware/nnet_utils`` of every project.

It also wraps hls4ml's writer of the top function (:func:`_memory_input_port`): for a model
holding our layers, the input array becomes a memory port (``ap_memory``) instead of hls4ml's
io_parallel default (the whole input reshaped into one ``T * n_in * bits`` register port,
which for MNIST alone would cost ~25k FF): the first layer reads it one word per cycle, and
only frame 0 of it for direct encoding. The same wrapper points the top's C-simulation weight
loads at ``nnet::spike_load_weights`` (:func:`_fast_weight_loader`). The wrapper sits in the
writer, so hls4ml's own ``write()`` / ``compile()`` keep producing the same top.

And it wraps hls4ml's weight writer (:func:`_wrap_weight_writer`): the weights of our layers
are written by :func:`spikehls.hls.weights.write_weight_files`, exact integers, because hls4ml
formats every value through a float64 (``'{:.0f}'``), which loses the low bits of anything
wider than 53 bits (the spike-train codes of a direct-encoded layer are ``ap_uint<T>``, T <= 64).

hls4ml raises when a handler or pass is registered twice, and tests and notebooks import
twice, so every step checks hls4ml's own registries first: calling :func:`register` again
(or after a module reload) is a no-op.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, Callable

import hls4ml
from hls4ml.model import layers as hls_layers
from hls4ml.model.optimizer import optimizer as hls_optimizer

from spikehls.hls.handlers import ONNX_HANDLERS
from spikehls.hls.layers import LAYER_CLASSES
from spikehls.hls.templates import TEMPLATES

BACKENDS = ("Vivado", "Vitis")
CPP_DIR = Path(__file__).resolve().parent / "cpp"
CPP_HEADERS = ("nnet_spiking_types.h", "nnet_spiking_common.h", "nnet_spiking.h", "nnet_spiking_direct.h")
# the tables of our layers that the kernels read in their event loops: their typedefs in defines.h
# become spk::int_t / spk::uint_t (:func:`_fast_table_types`)
FAST_TABLES = ("offsets", "groups", "weights", "bias", "thr", "skip_offsets", "skip_groups", "skip_weights")


def _memory_input_port(top: str, inputs: list[str], outputs: list[str]) -> str:
    """The top's IO pragmas with the inputs as memory ports (outputs keep hls4ml's ap_vld registers)."""
    lines = []
    for line in top.splitlines(keepends=True):
        st = line.strip()
        if any(st.startswith(f"#pragma HLS ARRAY_RESHAPE variable={i} ") for i in inputs):
            continue
        if st.startswith("#pragma HLS INTERFACE ap_vld port=") and inputs:
            indent = line[: len(line) - len(line.lstrip())]
            for i in inputs:
                lines.append(f"{indent}#pragma HLS INTERFACE ap_memory port={i}\n")
            lines.append(f"{indent}#pragma HLS INTERFACE ap_vld port={','.join(outputs)}\n")
            continue
        lines.append(line)
    return "".join(lines)


def _fast_weight_loader(top: str) -> str:
    """The top's C-simulation weight loads (``#ifndef __SYNTHESIS__``) through ``nnet::spike_load_weights``
    (``cpp/nnet_spiking_common.h``: a scanner of decimal integers; a VGG-16's driver start-up went
    from 7.3 s to 0.4 s) instead of hls4ml's ``load_weights_from_txt``: same files, same integers,
    same arrays; the synthesized code does not change."""
    return re.sub(r"\bnnet::load_weights_from_txt<", "nnet::spike_load_weights<", top)


def _fast_table_types(defines: str, type_names: set[str]) -> str:
    """defines.h with the typedefs of ``type_names`` (our layers' tables, :data:`FAST_TABLES`) as
    ``spk::int_t<W>`` / ``spk::uint_t<W>`` (``cpp/nnet_spiking_types.h``): in synthesis those are
    ``ap_int<W>`` / ``ap_uint<W>`` themselves, so the synthesized code does not change; C-simulation
    compiles the kernels with native integers of exactly ap's semantics. Every other type (the top's
    input and output, the layers' spike arrays, anything hls4ml's own code or testbench touches)
    stays as hls4ml wrote it."""
    def sub(m: re.Match) -> str:
        if m.group(3) not in type_names:
            return m.group(0)
        return f"typedef spk::{'uint_t' if m.group(1) == 'ap_uint' else 'int_t'}<{m.group(2)}> {m.group(3)};"

    text = re.sub(r"^typedef (ap_u?int)<\s*(\d+)\s*> (\w+);", sub, defines, flags=re.M)
    if text != defines and '#include "nnet_utils/nnet_spiking_types.h"' not in text:
        text = text.replace('#include "ap_int.h"\n', '#include "ap_int.h"\n#include "nnet_utils/nnet_spiking_types.h"\n', 1)
    return text


def _after_writer(method: str, post: Callable[[Any], None]) -> None:
    """Wrap ``VivadoWriter.<method>`` so that ``post(model)`` runs after hls4ml's own writer
    (idempotent: a wrapped method is marked and not wrapped again)."""
    from hls4ml.writer.vivado_writer import VivadoWriter

    original = getattr(VivadoWriter, method)
    if getattr(original, "_spikehls", False):
        return

    def wrapped(self, model):
        original(self, model)
        post(model)

    wrapped._spikehls = True  # type: ignore[attr-defined]
    setattr(VivadoWriter, method, wrapped)


def _post_defines(model) -> None:
    """defines.h: our tables' typedefs as the C-simulation integer types (spk::int_t / uint_t)."""
    names = {w.type.name for lyr in model.get_layers() if lyr.class_name in LAYER_CLASSES
             for key, w in lyr.weights.items() if key in FAST_TABLES}
    if not names:
        return
    path = Path(model.config.get_output_dir()) / "firmware" / "defines.h"
    text = path.read_text()
    new = _fast_table_types(text, names)
    if new != text:
        path.write_text(new)


def _post_top(model) -> None:
    """The top function: the integer weight loader and (io_parallel) the memory input port."""
    if not any(lyr.class_name in LAYER_CLASSES for lyr in model.get_layers()):
        return
    top = Path(model.config.get_output_dir()) / "firmware" / f"{model.config.get_project_name()}.cpp"
    text = _fast_weight_loader(top.read_text())
    if model.config.get_config_value("IOType") == "io_parallel":
        ins = [v.name for v in model.get_input_variables()]
        outs = [v.name for v in model.get_output_variables()]
        text = _memory_input_port(text, ins, outs)
    top.write_text(text)


def _wrap_weight_writer() -> None:
    from hls4ml.writer.vivado_writer import VivadoWriter

    from spikehls.hls.weights import write_weight_files

    original = VivadoWriter.print_array_to_cpp
    if getattr(VivadoWriter.write_weights, "_spikehls", False):
        return

    def write_weights(self, model):
        cfg = model.config.get_writer_config()
        namespace, write_txt = cfg.get("Namespace", None), cfg.get("WriteWeightsTxt", True)
        odir = model.config.get_output_dir()
        for layer in model.get_layers():
            ours = layer.class_name in LAYER_CLASSES
            for weights in layer.get_weights():
                if ours:
                    write_weight_files(weights, odir, namespace=namespace, write_txt_file=write_txt)
                else:
                    original(self, weights, odir, namespace=namespace, write_txt_file=write_txt)

    write_weights._spikehls = True  # type: ignore[attr-defined]
    VivadoWriter.write_weights = write_weights


def register() -> None:
    """Register handlers, layers, templates and sources with hls4ml (idempotent)."""
    # the module, not the function of the same name that hls4ml.converters re-exports
    onnx_to_hls = importlib.import_module("hls4ml.converters.onnx_to_hls")
    for op, handler in ONNX_HANDLERS.items():
        if op not in onnx_to_hls.layer_handlers:
            onnx_to_hls.register_onnx_layer_handler(op, handler)
    for name, cls in LAYER_CLASSES.items():
        if hls_layers.layer_map.get(name) is not cls:
            hls_layers.register_layer(name, cls)
    for backend_name in BACKENDS:
        backend = hls4ml.backends.get_backend(backend_name)
        for tmpl_cls in TEMPLATES:
            full = f"{backend_name.lower()}:{tmpl_cls().get_name()}"
            if full not in hls_optimizer.optimizer_map:
                backend.register_template(tmpl_cls)
        for header in CPP_HEADERS:
            backend.register_source(CPP_DIR / header)  # a dict entry: re-registering is harmless
    _after_writer("write_project_cpp", _post_top)
    _after_writer("write_defines", _post_defines)
    _wrap_weight_writer()
