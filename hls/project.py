"""Generate a complete hls4ml project from the exported QONNX model for one board.

``generate_project`` runs QONNX -> :func:`~spikehls.hls.transforms.clean_graph` -> hls4ml
``convert_from_onnx_model`` (our handlers, registered by :func:`spikehls.hls.extension.register`)
with the board's backend, part and clock period, writes the project (firmware, weights,
``build_prj.tcl``, testbench and ``tb_data/``), and stores what the C-simulation needs in
``PRJ/spikehls.json`` (+ a gzip'd copy of the QONNX file, :mod:`spikehls.hls.model_copy`, and the test vectors). Everything is written
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
from spikehls.fileio import atomic_dir, atomic_path, check_out_dir, lock_dir, write_json, write_text
from spikehls.hls.activity import set_tripcounts
from spikehls.hls.extension import register
from spikehls.hls.geometry import layer_parallelism
from spikehls.hls.layers import LAYER_CLASSES, output_banks
from spikehls.hls.memory import block_fill
from spikehls.hls.model_copy import MODEL_COPY, write_model_copy
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


SPIKE_BUFFER_IMPL = {"distributed": "lutram", "block": "bram", "ultra": "uram"}


def bind_spike_buffers(top_cpp: Path, hls_model, part: Optional[str]) -> None:
    """Bind every spike tensor between layers where the memory rule puts the twin's buffer
    (:func:`spikehls.hls.twin_cost.spike_buffer_plan`: block / ultra RAM for a deep buffer its
    consumer alone reads, else distributed), so Vitis is not left to guess: a ``BIND_STORAGE``
    line after the array's declaration (and its cyclic partition) in the top function. Readers
    are counted from the graph (the consumer and any layer that takes it as its skip input)."""
    from spikehls.hls.memory import has_uram
    from spikehls.hls.twin_cost import spike_buffer_plan

    ours = [lyr for lyr in hls_model.get_layers() if lyr.class_name in LAYER_CLASSES]
    text = top_cpp.read_text()
    lines = text.splitlines(keepends=True)
    for lyr in ours:
        if lyr.class_name == "SpikeReadout":
            continue
        var = lyr.get_output_variable().name
        readers = sum(other.inputs.count(lyr.outputs[0]) for other in ours)
        style = spike_buffer_plan(lyr.geometry(), max(1, readers), has_uram(part)).style
        if style not in SPIKE_BUFFER_IMPL:  # registers: a buffer of at most two words stays partitioned
            continue
        decl = next((i for i, ln in enumerate(lines) if ln.strip().startswith(f"{lyr.get_output_variable().type.name} {var}[")), None)
        if decl is None:
            raise RuntimeError(f"{top_cpp.name}: no declaration of {var} to bind")
        at = decl + 1
        while at < len(lines) and lines[at].strip().startswith("#pragma HLS ARRAY_PARTITION variable=" + var + " "):
            at += 1
        indent = lines[decl][: len(lines[decl]) - len(lines[decl].lstrip())]
        lines.insert(at, f"{indent}#pragma HLS BIND_STORAGE variable={var} type=ram_s2p impl={SPIKE_BUFFER_IMPL[style]}"
                         f" // spikehls memory rule: {style}, {readers} reader(s)\n")
    write_text(top_cpp, "".join(lines))


def generate_project(
    onnx_path: str | Path,
    board: str | Path | Board,
    out_dir: str | Path,
    testvectors: Optional[str | Path] = None,
    parallelism: Optional[int] = None,
    layer_overrides: Optional[Mapping[str, int]] = None,
    verbose: bool = False,
    replace: bool = True,
    project_name: str = PROJECT_NAME,
    namespace: Optional[str] = None,
    accelerator: bool = False,
):
    """Write the hls4ml project for ``onnx_path`` and ``board`` into ``out_dir``; return the ModelGraph.

    ``out_dir`` must be new, empty, or (with ``replace``, the CLI's ``--force``) a spikehls HLS
    project; a folder of anything else is never touched, nor one that holds an input.
    ``project_name`` names the top function and the IP, ``namespace`` wraps the generated C++ (two
    spikehls IPs in one design need different ones). ``accelerator`` adds ``PRJ/accelerator/``:
    an AXI4-Stream + AXI-Lite wrapper of the top, the block-design Tcl for the board and a PYNQ
    driver (:mod:`spikehls.hls.accelerator`).
    """
    check_identifier(project_name, "project name (--project-name)")
    if namespace is not None:
        check_identifier(namespace, "C++ namespace (--namespace)")
    inputs = [onnx_path] + ([testvectors] if testvectors is not None else [])
    check_out_dir(out_dir, "hls", inputs=inputs, replace=replace)  # before any work
    brd = board if isinstance(board, Board) else load_board(board)
    with lock_dir(out_dir):
        check_out_dir(out_dir, "hls", inputs=inputs, replace=replace)  # and again, now that it is ours
        # every BIND_STORAGE line and the twin's memories follow this board's block RAM threshold
        with block_fill(brd.hls.block_ram_min_fill):
            return _generate(onnx_path, brd, out_dir, testvectors, parallelism, layer_overrides, verbose,
                             project_name, namespace, accelerator)


_CXX_KEYWORDS = {"alignas", "auto", "bool", "break", "case", "catch", "char", "class", "const", "continue", "default",
                 "delete", "do", "double", "else", "enum", "extern", "float", "for", "friend", "goto", "if", "inline",
                 "int", "long", "namespace", "new", "operator", "private", "protected", "public", "register", "return",
                 "short", "signed", "sizeof", "static", "struct", "switch", "template", "this", "throw", "try",
                 "typedef", "union", "unsigned", "using", "virtual", "void", "volatile", "while", "nnet", "main"}


def check_identifier(name: str, what: str) -> None:
    """A C++ identifier that is no keyword (and not ``nnet``, ``main``): one error line otherwise."""
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", name) or name in _CXX_KEYWORDS:
        raise SpikehlsError(f"{what} '{name}': must be a C++ identifier (a letter, then letters, digits, _), "
                            "not a keyword")


def _generate(onnx_path, board, out_dir, testvectors, parallelism, layer_overrides, verbose,
              project_name=PROJECT_NAME, namespace=None, accelerator=False):
    import hls4ml

    register()
    brd = board if isinstance(board, Board) else load_board(board)
    if accelerator:
        from spikehls.hls.accelerator import platform

        platform(brd.part)  # a part without a processing system: one error line before any work
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
                project_name=project_name,
                namespace=namespace,
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
                    z_out = getattr(lyr, "stream_output", lambda: None)()
                    if z_out is not None:  # a residual stream: z_banks banks (writer and readers move F positions)
                        lyr.declare_output_types()
                        zb = int(lyr.get_attr("z_banks", 1))
                        lyr.get_output_variable(z_out).pragma = ("partition", "cyclic", zb) if zb > 1 else None
            # LOOP_TRIPCOUNT of the data-dependent loops, from the reference's activity (hls/activity.py)
            set_tripcounts([lyr for lyr in hls_model.get_layers() if lyr.class_name in LAYER_CLASSES],
                           list(clean.graph.node), INPUT_NAME, tv, kind == "pixels")
            # hls4ml's writer dumps its whole config, the ONNX model included (121 MB of YAML for a
            # VGG-16, three quarters of the run); the project keeps the model once, and
            # hls4ml_config.yml is rewritten below without it
            onnx_model = hls_model.config.config.pop("OnnxModel", None)
            try:
                hls_model.write()
            finally:
                if onnx_model is not None:
                    hls_model.config.config["OnnxModel"] = onnx_model
        bind_spike_buffers(tmp / "firmware" / f"{project_name}.cpp", hls_model, brd.part)
        if brd.hls.backend == "Vitis":
            write_text(tmp / "build_opt.tcl", BUILD_OPT_TCL)  # hls4ml's template runs co-simulation by default
        write_text(tmp / "README.md", project_readme(brd.hls.backend, brd.part))
        write_model_copy(onnx_path, tmp)  # the one ONNX copy, gzip'd (the clean graph is derived)
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
            "project_name": project_name,
            "namespace": namespace,
            "source_onnx": str(onnx_path.resolve()),
            "graph_input": graph_input,
            "input_kind": kind,
            "input_shape": in_shape,
            "time_steps": in_shape[0],
            "num_classes": int(clean.graph.output[0].type.tensor_type.shape.dim[-1].dim_value),
            "board": {"name": brd.name, "source": brd.source, "part": brd.part, "clock_mhz": brd.clock_mhz,
                      "clock_period_ns": brd.clock_period_ns, "backend": brd.hls.backend, "io_type": brd.hls.io_type,
                      # the memory rule's threshold the project was bound with (the twin reads it)
                      "block_ram_min_fill": brd.hls.block_ram_min_fill},
            "testvectors": "spikehls/testvectors.npz" if testvectors is not None else None,
            "layers": layers,
        }
        if accelerator:
            from spikehls.hls.accelerator import write_accelerator

            meta["accelerator"] = write_accelerator(tmp, meta, brd.part, brd.clock_mhz, brd.clock_period_ns)["top"]
        write_json(tmp / META_FILE, meta)
        # the paths hls4ml wrote name the temporary folder, gone after the swap: point them (in
        # the ModelGraph and in hls4ml_config.yml, which link_existing_project reads) at the final one
        final = out_dir.resolve()
        hls_model.config.config["OutputDir"] = str(final)
        if tv is not None:
            hls_model.config.config["InputData"] = str(final / "spikehls" / "tb_input_features.npy")
            hls_model.config.config["OutputPredictions"] = str(final / "spikehls" / "tb_output_predictions.npy")
        write_text(tmp / "hls4ml_config.yml", hls4ml_config_yaml(hls_model.config.config))
    return hls_model


def hls4ml_config_yaml(config: Mapping[str, Any]) -> str:
    """``hls4ml_config.yml`` as :func:`hls4ml.converters.link_existing_project` reads it (``yaml.safe_load``).

    hls4ml dumps the whole config, the ONNX ModelProto included, as a ``!!python/object`` that
    ``safe_load`` refuses; the project keeps the model as ``spikehls/model.qonnx.onnx.gz`` instead.
    """
    import yaml

    cfg = {k: v for k, v in config.items() if k not in ("OnnxModel", "KerasModel", "PytorchModel")}
    cfg["OnnxModelFile"] = MODEL_COPY  # relative to the project (gzip-compressed); informational
    return yaml.safe_dump(cfg, sort_keys=True)


def save_model(model, path: str | Path) -> Path:
    """Serialize ``model`` (a ModelGraph of :func:`generate_project`) to an hls4ml ``.fml`` file, test vectors included.

    hls4ml 1.3.0's ``serialize_model`` looks for ``InputData`` one level too high in the config it
    writes, so it never packs the testbench data while ``load_saved_model`` then requires it; this
    packs it where ``load_saved_model`` looks (``input_data_tb.npy`` / ``output_data_tb.npy``).
    Reopen with ``spikehls.hls.register()`` then ``hls4ml.converters.load_saved_model(path)``.
    """
    import tarfile
    import tempfile

    from hls4ml.utils.serialization import serialize_model

    path = Path(path).with_suffix(".fml")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp_fml, tempfile.TemporaryDirectory(prefix=".fml-", dir=path.parent) as d:
        raw, unpacked = Path(d) / "raw.fml", Path(d) / "unpacked"
        serialize_model(model, str(raw))
        unpacked.mkdir()
        with tarfile.open(raw, mode="r:gz") as archive:
            archive.extractall(unpacked, filter="data")
        cfg = model.config.config
        for key, name in (("InputData", "input_data_tb"), ("OutputPredictions", "output_data_tb")):
            if cfg.get(key):
                src = Path(cfg[key])
                shutil.copyfile(src, unpacked / (name + src.suffix))
        with tarfile.open(tmp_fml, mode="w:gz") as archive:
            archive.add(unpacked, recursive=True, arcname="")
    return path


# ---- building the project with the vendor tools ---------------------------------------------------
# What a user wants first: C simulation, C synthesis (latency/resource estimates) and the IP export.
# Co-simulation (RTL against C, slow) and Vivado synthesis (post-synthesis LUT/FF) are opt-in,
# one environment switch each (the Vitis build_prj.tcl of hls4ml 1.3 takes no arguments; it sources this).
BUILD_OPT_TCL = """\
# spikehls build options (sourced by build_prj.tcl). Defaults: C simulation, C synthesis, IP export.
# Opt in, one switch each:  SPIKEHLS_COSIM=1  (C/RTL co-simulation + validation against C simulation)
#                           SPIKEHLS_VSYNTH=1 (Vivado out-of-context synthesis: post-synthesis LUT/FF)
# e.g.  SPIKEHLS_COSIM=1 vitis-run --mode hls --tcl build_prj.tcl
# hls4ml's own ModelGraph.build(...) rewrites this file from its keyword arguments.
array set opt {
    reset      0
    csim       1
    synth      1
    cosim      0
    validation 0
    export     1
    vsynth     0
    fifo_opt   0
}
if {[info exists ::env(SPIKEHLS_COSIM)] && [string is true -strict $::env(SPIKEHLS_COSIM)]} {
    set opt(cosim) 1
    set opt(validation) 1
}
if {[info exists ::env(SPIKEHLS_VSYNTH)] && [string is true -strict $::env(SPIKEHLS_VSYNTH)]} {
    set opt(vsynth) 1
}
"""


def build_commands(backend: str = "Vitis") -> list[tuple[str, str]]:
    """(tool version, command) pairs that build a generated project, run in the project folder."""
    if backend == "Vivado":
        return [("Vivado HLS (2020.1 and older)", 'vivado_hls -f build_prj.tcl "csim=1 synth=1 cosim=0 export=1"')]
    return [
        ("Vitis 2024.2 and later", "vitis-run --mode hls --tcl build_prj.tcl"),
        ("Vitis HLS 2020.2 - 2024.1", "vitis_hls -f build_prj.tcl"),
    ]


def build_hint(backend: str = "Vitis") -> str:
    """One line naming the build command of each tool version."""
    return "; ".join(f"{cmd}  ({ver})" for ver, cmd in build_commands(backend))


def project_readme(backend: str, part: str) -> str:
    cmds = "\n".join(f"    {cmd:<46}# {ver}" for ver, cmd in build_commands(backend))
    opts = (
        "By default the build runs C simulation, C synthesis and the IP export (`build_opt.tcl`).\n"
        "Opt in to the slow steps, one switch each:\n\n"
        "    SPIKEHLS_COSIM=1 vitis-run --mode hls --tcl build_prj.tcl    # + C/RTL co-simulation and validation\n"
        "    SPIKEHLS_VSYNTH=1 vitis-run --mode hls --tcl build_prj.tcl   # + Vivado synthesis (post-synthesis LUT/FF)\n"
        if backend == "Vitis"
        else "Pass `cosim=1` or `vsynth=1` inside the quoted option string to opt in to co-simulation or Vivado synthesis.\n"
    )
    return (
        f"# spikehls HLS project ({backend} backend, part {part})\n\n"
        "Generated by `spikehls hls`. Build it in this folder with the command for your tool version:\n\n"
        f"{cmds}\n\n{opts}\n"
        "Without vendor tools: `spikehls csim --project .` (g++ C-simulation, spike-exact against the integer\n"
        "reference) and `spikehls report --project .` (the resource model's estimate, labelled as such).\n"
        "hls4ml reopens this folder with `hls4ml.converters.link_existing_project(PATH)` (then `compile()`,\n"
        "`predict()`; inputs are pixels x 2^-8 for direct encoding, spikes 0/1 otherwise).\n"
    )
