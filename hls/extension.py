"""The one registration point of the spikehls hls4ml extension.

:func:`register` installs, once per process, everything hls4ml needs to turn our clean QONNX
graph into HLS: the ONNX handlers, the IR layer classes, the config and function-call
templates for the Vivado **and** Vitis backends, and the C++ headers (``hls/cpp``), which
hls4ml copies into ``firmware/nnet_utils`` of every project.

hls4ml raises when a handler or pass is registered twice, and tests and notebooks import
twice, so every step checks hls4ml's own registries first: calling :func:`register` again
(or after a module reload) is a no-op.
"""

from __future__ import annotations

from pathlib import Path

import importlib

import hls4ml
from hls4ml.model import layers as hls_layers
from hls4ml.model.optimizer import optimizer as hls_optimizer

from spikehls.hls.handlers import ONNX_HANDLERS
from spikehls.hls.layers import LAYER_CLASSES
from spikehls.hls.templates import TEMPLATES

BACKENDS = ("Vivado", "Vitis")
CPP_DIR = Path(__file__).resolve().parent / "cpp"
CPP_HEADERS = ("nnet_spiking_common.h", "nnet_spiking.h", "nnet_spiking_direct.h")


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
