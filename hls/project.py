"""Generate a complete hls4ml project from the exported QONNX model for one board.

``generate_project`` runs QONNX -> :func:`~spikehls.hls.transforms.clean_graph` -> hls4ml
``convert_from_onnx_model`` (our handlers, registered by :func:`spikehls.hls.extension.register`)
with the board's backend, part and clock period, writes the project (firmware, weights,
``build_prj.tcl``, testbench and ``tb_data/``), and stores what the C-simulation needs in
``PRJ/spikehls.json`` (+ a copy of the QONNX file and the test vectors). Everything is written
into a temporary folder first and swapped in at the end: an interrupted run leaves no half
project. The returned :class:`hls4ml.model.ModelGraph` points at the final folder, so
``compile()`` / ``predict()`` work as hls4ml users expect.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import onnx

from spikehls.boards import Board, load_board
from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_dir, check_out_dir, lock_dir, write_json
from spikehls.hls.extension import register
from spikehls.hls.geometry import layer_parallelism
from spikehls.hls.layers import LAYER_CLASSES, output_banks
from spikehls.hls.transforms import clean_graph, load_onnx

PROJECT_NAME = "myproject"
META_FILE = "spikehls.json"
INPUT_NAME = "spikes_in"  # hls4ml reserves the layer name 'input'
SPIKE_TYPE = "ap_uint<1>"
PIXEL_TYPE = "ap_ufixed<8,0>"


def _input_kind(clean: onnx.ModelProto) -> str:
    """'pixels' when the first layer's input scale is 2^-8 (direct encoding), else 'spikes'."""
    first = clean.graph.node[0]
    in_scale = next((onnx.helper.get_attribute_value(a) for a in first.attribute if a.name == "in_scale"), 1.0)
    return "pixels" if abs(float(in_scale) - 2.0**-8) < 1e-12 else "spikes"


def _rename_input(clean: onnx.ModelProto, new: str) -> str:
    old = clean.graph.input[0].name
    clean.graph.input[0].name = new
    for n in clean.graph.node:
        for i, x in enumerate(n.input):
            if x == old:
                n.input[i] = new
    return old


def generate_project(
    onnx_path: str | Path,
    board: str | Path | Board,
    out_dir: str | Path,
    testvectors: Optional[str | Path] = None,
    parallelism: Optional[int] = None,
    layer_overrides: Optional[Mapping[str, int]] = None,
    verbose: bool = False,
    replace: bool = True,
):
    """Write the hls4ml project for ``onnx_path`` and ``board`` into ``out_dir``; return the ModelGraph.

    ``out_dir`` must be new, empty, or (with ``replace``, the CLI's ``--force``) a spikehls HLS
    project; a folder of anything else is never touched, nor one that holds an input.
    """
    inputs = [onnx_path] + ([testvectors] if testvectors is not None else [])
    check_out_dir(out_dir, "hls", inputs=inputs, replace=replace)  # before any work
    with lock_dir(out_dir):
        check_out_dir(out_dir, "hls", inputs=inputs, replace=replace)  # and again, now that it is ours
        return _generate(onnx_path, board, out_dir, testvectors, parallelism, layer_overrides, verbose)


def _generate(onnx_path, board, out_dir, testvectors, parallelism, layer_overrides, verbose):
    import hls4ml

    register()
    brd = board if isinstance(board, Board) else load_board(board)
    onnx_path = Path(onnx_path)
    model = load_onnx(onnx_path)
    try:
        clean = clean_graph(model)
    except SpikehlsError as err:  # name the file the graph came from
        raise SpikehlsError(str(err) if str(onnx_path) in str(err) else f"{onnx_path}: {err}") from None
    graph_input = _rename_input(clean, INPUT_NAME)
    kind = _input_kind(clean)
    names = [n.name for n in clean.graph.node]
    weighted = [n.name for n in clean.graph.node if n.op_type != "SpikeMaxPool2d"]  # the layers that add weights
    par = layer_parallelism(brd, weighted, parallelism, layer_overrides or {}, strict=True)  # shared with the cost model
    in_shape = [d.dim_value for d in clean.graph.input[0].type.tensor_type.shape.dim][1:]

    tv = None
    if testvectors is not None:
        from spikehls.quantize.testvectors import load_testvectors

        tv = load_testvectors(testvectors)
        if list(tv[0].shape[1:]) != list(in_shape):
            raise SpikehlsError(f"{testvectors}: inputs have shape {list(tv[0].shape[1:])}, the model expects {in_shape}")

    hls_config: dict[str, Any] = {
        # dataflow, not a pipelined top: each layer's event loop is sequential inside, pipelined with II=1
        "Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency", "PipelineStyle": "dataflow"},
        "LayerName": {INPUT_NAME: {"Precision": {"result": PIXEL_TYPE if kind == "pixels" else SPIKE_TYPE}}},
    }
    for n in weighted:
        hls_config["LayerName"][n] = {"Parallelism": par[n]}

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        meta_dir = tmp / "spikehls"
        meta_dir.mkdir()
        tb_in = tb_out = None
        if tv is not None:
            # kept inside the project: hls4ml's compile() rewrites tb_data/ from these
            inputs, _, ref = tv
            scale = 2.0**-8 if kind == "pixels" else 1.0
            tb_in, tb_out = meta_dir / "tb_input_features.npy", meta_dir / "tb_output_predictions.npy"
            np.save(tb_in, (inputs.reshape(len(inputs), -1) * scale).astype(np.float64))
            np.save(tb_out, ref.readout.reshape(len(inputs), -1).astype(np.float64))
        quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
        with quiet:
            hls_model = hls4ml.converters.convert_from_onnx_model(
                clean,
                output_dir=str(tmp),
                project_name=PROJECT_NAME,
                input_data_tb=str(tb_in) if tb_in else None,
                output_data_tb=str(tb_out) if tb_out else None,
                backend=brd.hls.backend,
                part=brd.part,
                clock_period=round(brd.clock_period_ns, 6),
                io_type=brd.hls.io_type,
                hls_config=hls_config,
                write_weights_txt=True,  # csim loads weights from .txt: compiles much faster
            )
            for lyr in hls_model.get_layers():
                if lyr.class_name in LAYER_CLASSES and lyr.class_name != "SpikeReadout":
                    # spike tensors stay memories; hls4ml's default complete partition would turn
                    # them into registers. A layer that writes B neighbouring positions per cycle
                    # (B fire lanes, or B pooled outputs) owns B banks (pos % B): cyclic by B, and
                    # its consumer scans B positions per cycle.
                    f = output_banks(lyr)
                    lyr.get_output_variable().pragma = ("partition", "cyclic", f) if f > 1 else None
            hls_model.write()
        shutil.copyfile(onnx_path, meta_dir / "model.qonnx.onnx")
        onnx.save(clean, str(meta_dir / "clean.onnx"))
        if testvectors is not None:
            shutil.copyfile(testvectors, meta_dir / "testvectors.npz")
        layers = []
        ours = [lyr for lyr in hls_model.get_layers() if lyr.class_name in LAYER_CLASSES]
        if len(ours) != len(names):
            raise RuntimeError(f"hls4ml produced {len(ours)} spiking layers for {len(names)} nodes")
        for lyr, source_name in zip(ours, names):
            layers.append(
                {
                    "name": lyr.name,
                    "source_name": source_name,  # the QONNX node = IntNet layer name
                    "class": lyr.class_name,
                    "index": int(lyr.index),
                    "inputs": list(lyr.inputs),
                    "output_size": int(np.prod(lyr.get_output_variable().shape)),
                    "spiking": lyr.class_name != "SpikeReadout",
                    "mac": bool(getattr(lyr, "input_is_pixels", lambda: False)()),
                    "nonzero_weights": int(lyr.get_attr("nnz", 0)) + int(lyr.get_attr("skip_nnz", 0) or 0),
                    "parallelism": int(lyr.get_attr("parallelism", 1) or 1),
                    "lanes": int(lyr.get_attr("n_lanes", 1) or 1),
                    "fire_lanes": int(lyr.get_attr("fire_lanes", 1) or 1),
                    "out_banks": output_banks(lyr),
                    "read_lanes": lyr.read_lanes() if lyr.class_name != "SpikeMaxPool2D" else None,
                    "table_chunks": int(lyr.get_attr("chunks", 0) or 0) + int(lyr.get_attr("skip_chunks", 0) or 0),
                    "out_shape": [int(x) for x in lyr.get_attr("out_shape", [])] or None,
                }
            )
        meta = {
            "format": "spikehls.hlsproject/1",
            "project_name": PROJECT_NAME,
            "source_onnx": str(onnx_path.resolve()),
            "graph_input": graph_input,
            "input_kind": kind,
            "input_shape": in_shape,
            "time_steps": in_shape[0],
            "num_classes": int(clean.graph.output[0].type.tensor_type.shape.dim[-1].dim_value),
            "board": {"name": brd.name, "source": brd.source, "part": brd.part, "clock_mhz": brd.clock_mhz,
                      "clock_period_ns": brd.clock_period_ns, "backend": brd.hls.backend, "io_type": brd.hls.io_type},
            "testvectors": "spikehls/testvectors.npz" if testvectors is not None else None,
            "layers": layers,
        }
        write_json(tmp / META_FILE, meta)
    hls_model.config.config["OutputDir"] = str(out_dir)
    if tv is not None:
        hls_model.config.config["InputData"] = str(out_dir / "spikehls" / "tb_input_features.npy")
        hls_model.config.config["OutputPredictions"] = str(out_dir / "spikehls" / "tb_output_predictions.npy")
    return hls_model
