"""The project's copy of the exported QONNX model: ``PRJ/spikehls/model.qonnx.onnx.gz``.

The report rebuilds the integer network from it and ``spikehls csim --samples all`` computes the
reference with it, so a project stands on its own. It is kept gzip-compressed: QONNX stores the
4-bit weights as float32 initializers, which compress ~4x (a VGG-16's 59 MB copy is 15 MB), and
the copy is the project's largest file. Projects of earlier versions hold the plain
``model.qonnx.onnx``; both are read here.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from spikehls.errors import SpikehlsError

MODEL_COPY = "spikehls/model.qonnx.onnx.gz"
PLAIN_COPY = "spikehls/model.qonnx.onnx"  # projects of earlier versions


def write_model_copy(onnx_path: str | Path, project_dir: str | Path) -> Path:
    """Copy the exported model into the project, gzip-compressed (level 1: the fastest, ~4x smaller;
    no time stamp in the header, so the same model gives the same bytes)."""
    dst = Path(project_dir) / MODEL_COPY
    with open(onnx_path, "rb") as src, open(dst, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz:
        shutil.copyfileobj(src, gz, 1 << 20)
    return dst


def model_copy_path(project: str | Path) -> Path:
    """The project's model copy (the compressed one, else an earlier version's plain one); the
    compressed name where neither exists (for the error message)."""
    p = Path(project) / MODEL_COPY
    plain = Path(project) / PLAIN_COPY
    return plain if not p.is_file() and plain.is_file() else p


def model_copy_bytes(project: str | Path) -> bytes:
    """The bytes of the exported model the project was made from (decompressed)."""
    from spikehls.fileio import read_bytes

    p = model_copy_path(project)
    data = read_bytes(p, "QONNX model (the project's copy)")
    if p.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise SpikehlsError(f"{p}: not a readable gzip file ({err}); regenerate the project with 'spikehls hls'") from None


def load_model_copy(project: str | Path):
    """The project's model copy as an ``onnx.ModelProto``."""
    import onnx

    from spikehls.fileio import reading

    p = model_copy_path(project)
    data = model_copy_bytes(project)
    with reading(p, "ONNX file"):
        model = onnx.load_from_string(data)
    if not model.graph.node:
        raise SpikehlsError(f"{p}: not a readable ONNX file (no graph: empty or damaged file)")
    return model
