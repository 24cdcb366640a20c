"""Test vectors: encoded inputs with the reference's outputs, the file later stages check against.

``testvectors.npz`` holds ``inputs`` (int ``[N, T, C, H, W]``), ``labels`` (int64 ``[N]``),
``readout`` (int64 ``[N, K]``), ``prediction`` (int64 ``[N]``), ``events__<layer>`` (int64 ``[N]``)
and ``spikes__<layer>`` (uint8 ``[N, T, ...]``) for every layer the reference reports, in network
order (``layers``: the names as a string array). The HLS C-simulation and ``spikehls csim``
compare against these arrays, so they are written atomically and read back with checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_path
from spikehls.quantize.reference import RefResult

_SPIKES = "spikes__"
_EVENTS = "events__"


def save_testvectors(path: str | Path, inputs: np.ndarray, labels: np.ndarray, ref: RefResult) -> None:
    """Write ``path`` (.npz) with the inputs, labels and every output of ``ref`` (atomic)."""
    inputs = np.asarray(inputs)
    labels = np.asarray(labels, dtype=np.int64)
    n = inputs.shape[0]
    if labels.shape != (n,) or ref.readout.shape[0] != n or ref.prediction.shape != (n,):
        raise ValueError(
            f"test vectors disagree on N: inputs {inputs.shape}, labels {labels.shape}, readout {ref.readout.shape}"
        )
    arrays: dict[str, np.ndarray] = {
        "inputs": inputs.astype(np.uint8) if inputs.size and inputs.min() >= 0 and inputs.max() <= 255 else inputs,
        "labels": labels,
        "readout": np.asarray(ref.readout, dtype=np.int64),
        "prediction": np.asarray(ref.prediction, dtype=np.int64),
        "layers": np.array(list(ref.spikes), dtype=str),
    }
    for name, s in ref.spikes.items():
        arrays[_SPIKES + name] = np.asarray(s, dtype=np.uint8)
    for name, e in ref.events.items():
        arrays[_EVENTS + name] = np.asarray(e, dtype=np.int64)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def load_testvectors(path: str | Path) -> tuple[np.ndarray, np.ndarray, RefResult]:
    """Read ``path``; return ``(inputs int64 [N,T,C,H,W], labels, RefResult)``."""
    from spikehls.fileio import read_npz

    path = Path(path)
    data = read_npz(path, "test vector file (testvectors.npz)")
    missing = [k for k in ("inputs", "labels", "readout", "prediction") if k not in data]
    if missing:
        raise SpikehlsError(f"{path}: test vector file lacks {', '.join(missing)}")
    n = len(data["inputs"]) if data["inputs"].ndim else -1
    if n < 0 or any(data[k].ndim == 0 or len(data[k]) != n for k in ("labels", "readout", "prediction")):
        raise SpikehlsError(f"{path}: test vector arrays disagree on the number of samples")
    if not all(np.issubdtype(data[k].dtype, np.integer) for k in ("inputs", "labels", "readout", "prediction")):
        raise SpikehlsError(f"{path}: test vector arrays must hold integers")
    order = [str(s) for s in data["layers"]] if "layers" in data else [k[len(_SPIKES):] for k in data if k.startswith(_SPIKES)]
    lost = [name for name in order if _SPIKES + name not in data]
    if lost:
        raise SpikehlsError(f"{path}: test vector file lacks the spikes of layer(s) {', '.join(lost)}")
    spikes = {name: data[_SPIKES + name] for name in order}
    events = {name: data[_EVENTS + name] for name in order if _EVENTS + name in data}
    ref = RefResult(spikes=spikes, readout=data["readout"], prediction=data["prediction"], events=events)
    return data["inputs"].astype(np.int64), data["labels"], ref
