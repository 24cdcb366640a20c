"""C-simulation as a regression suite: samples of the run's test split, JUnit reports, golden outputs.

* :func:`split_samples`: N (or all) samples of the test split of the run that made the project,
  encoded by the same encoder as the exported test vectors (``encoded_batches``: batch ``b`` of
  256 with seed ``encoding.seed + b``, so the first samples *are* the test vectors), with the
  integer reference computed from the project's own copy of the QONNX model.
* :func:`junit_xml`: one JUnit test case per layer (and readout) per sample batch: a CI system
  shows which layer broke, on which samples.
* Golden outputs (:func:`golden_digests`, :func:`save_golden`, :func:`compare_golden`): per
  sample and layer a 64-bit digest of the output spikes, and the readout integers, recorded from
  one revision of the design and compared with a later one: which samples and layers changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, Optional
from xml.sax.saxutils import quoteattr

import numpy as np

from spikehls.errors import SpikehlsError

GOLDEN_FORMAT = "spikehls.golden/1"
BATCH = 256  # = the export's encoding batch: sample batches of the report line up with encoder seeds


# ---- the run's test split --------------------------------------------------------------------
def run_of(project: Path, meta: dict, run: Optional[Path] = None) -> Path:
    """The training run that made ``project`` (``--run`` or the folder of its source QONNX), checked."""
    from spikehls.fileio import read_bytes

    run = Path(run) if run is not None else Path(meta.get("source_onnx", "")).parent
    if not (run / "config.yaml").is_file():
        raise SpikehlsError(f"{run / 'config.yaml'}: not found: --samples beyond the project's test vectors needs "
                            "the run that made the project (pass --run RUN)")
    from spikehls.hls.model_copy import model_copy_bytes, model_copy_path

    mine = model_copy_path(project)
    theirs = run / "model.qonnx.onnx"
    if not theirs.is_file() or read_bytes(theirs, "QONNX model") != model_copy_bytes(project):
        raise SpikehlsError(f"{theirs}: not the model this project was generated from ({mine}); "
                            "re-export and regenerate, or pass the right --run")
    return run


def split_samples(project: Path, meta: dict, n: Optional[int], run: Optional[Path] = None) -> Iterator[tuple]:
    """Yield ``(inputs, labels, RefResult)`` batches of the first ``n`` (None: all) test-split samples."""
    from spikehls.config import load_config
    from spikehls.quantize import reference as ref
    from spikehls.quantize.export_run import encoded_batches
    from spikehls.hls.model_copy import load_model_copy
    from spikehls.quantize.qonnx_export import intnet_from_qonnx
    from spikehls.training.datasets import load_dataset

    run = run_of(project, meta, run)
    cfg = load_config(run / "config.yaml")
    _, test_set = load_dataset(cfg.dataset, seed=cfg.train.seed)
    total = len(test_set) if n is None else min(n, len(test_set))
    net = intnet_from_qonnx(load_model_copy(project))
    for start, x in encoded_batches(test_set.images[:total], cfg, batch=BATCH):
        yield x, test_set.labels[start:start + len(x)], ref.run(net, x)


def split_size(project: Path, meta: dict, run: Optional[Path] = None) -> int:
    from spikehls.config import load_config
    from spikehls.training.datasets import load_dataset

    run = run_of(project, meta, run)
    cfg = load_config(run / "config.yaml")
    return len(load_dataset(cfg.dataset, seed=cfg.train.seed)[1])


# ---- golden outputs --------------------------------------------------------------------------
def _digest(bits: np.ndarray) -> np.ndarray:
    """64-bit digest of each sample's spikes (``[n, ...]`` 0/1) -> uint64 ``[n]``."""
    flat = np.packbits(bits.reshape(len(bits), -1).astype(np.uint8), axis=1)
    return np.array([int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "little") for r in flat],
                    dtype=np.uint64)


def golden_digests(spikes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: _digest(s) for name, s in spikes.items()}


def inputs_digest(chunks: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for x in chunks:
        h.update(np.ascontiguousarray(x.astype(np.uint8)).tobytes())
    return h.hexdigest()


def save_golden(path: Path, layers: list[str], digests: dict[str, np.ndarray], readout: np.ndarray, inputs_sha: str) -> None:
    from spikehls.fileio import atomic_path

    arrays = {"format": np.array(GOLDEN_FORMAT), "layers": np.array(layers), "readout": readout.astype(np.int64),
              "inputs_sha256": np.array(inputs_sha)}
    arrays.update({f"digest:{k}": v for k, v in digests.items()})
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def load_golden(path: Path) -> dict:
    from spikehls.fileio import read_npz

    data = read_npz(path, "golden outputs (spikehls csim --save-golden)", keys=("format", "layers", "readout", "inputs_sha256"))
    if str(data["format"]) != GOLDEN_FORMAT:
        raise SpikehlsError(f"{path}: format: expected {GOLDEN_FORMAT}, got {data['format']}")
    layers = [str(s) for s in data["layers"]]
    missing = [k for k in layers if f"digest:{k}" not in data]
    if missing:
        raise SpikehlsError(f"{path}: layers: no digests for {', '.join(missing)}")
    return {"layers": layers, "readout": data["readout"], "inputs_sha256": str(data["inputs_sha256"]),
            "digests": {k: data[f"digest:{k}"] for k in layers}}


def compare_golden(path: Path, golden: dict, layers: list[str], digests: dict[str, np.ndarray], readout: np.ndarray,
                   inputs_sha: str) -> dict:
    """Which samples and layers differ from the golden outputs (same inputs required)."""
    n = len(readout)
    if len(golden["readout"]) != n or golden["inputs_sha256"] != inputs_sha:
        raise SpikehlsError(f"{path}: recorded on other inputs ({len(golden['readout'])} samples, inputs sha256 "
                            f"{golden['inputs_sha256'][:12]}; now {n} samples, {inputs_sha[:12]}): record it with the "
                            "same --samples")
    if golden["layers"] != layers:
        raise SpikehlsError(f"{path}: layers: recorded {golden['layers']}, the design has {layers} (a new architecture "
                            "needs a new golden file)")
    changed = {}
    for name in layers:
        idx = np.nonzero(golden["digests"][name] != digests[name])[0]
        changed[name] = [int(i) for i in idx]
    ridx = np.nonzero((golden["readout"] != readout).any(axis=1))[0]
    changed["readout"] = [int(i) for i in ridx]
    return {"file": str(path), "samples": n, "changed": {k: v for k, v in changed.items() if v},
            "changed_samples": sorted({i for v in changed.values() for i in v}),
            "equal": not any(changed.values())}


# ---- JUnit -------------------------------------------------------------------------------------
def junit_xml(project_name: str, batches: list[dict], golden: Optional[dict], seconds: float) -> str:
    """JUnit XML: suite ``csim``, one case per layer per batch (``layer[a-b]``); golden cases per layer."""
    cases = []
    for b in batches:
        lo, hi = b["start"], b["stop"] - 1
        for name, mm in b["layers"].items():
            what = "readout" if name == "readout" else "spikes"
            case = {"classname": f"spikehls.csim.{project_name}.{name}", "name": f"{name} {what} samples {lo}-{hi}",
                    "time": b["seconds"] / max(len(b["layers"]), 1)}
            if mm["mismatches"]:
                case["failure"] = (f"{mm['mismatches']} {what} mismatch(es) against the integer reference; "
                                   f"first in sample {mm['first_sample']}")
            cases.append(case)
    if golden is not None:
        names = sorted(set(golden.get("layers_checked", [])) | set(golden["changed"]))
        for name in names:
            idx = golden["changed"].get(name, [])
            case = {"classname": f"spikehls.golden.{project_name}.{name}",
                    "name": f"{name} equal to golden {Path(golden['file']).name}", "time": 0.0}
            if idx:
                shown = ", ".join(map(str, idx[:20])) + (" ..." if len(idx) > 20 else "")
                case["failure"] = f"{len(idx)} sample(s) changed against the golden outputs: {shown}"
            cases.append(case)
    failures = sum(1 for c in cases if "failure" in c)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuites name="spikehls csim" tests="{len(cases)}" failures="{failures}" errors="0" time="{seconds:.3f}">',
             f'  <testsuite name={quoteattr("spikehls.csim." + project_name)} tests="{len(cases)}" failures="{failures}" '
             f'errors="0" skipped="0" time="{seconds:.3f}">']
    for c in cases:
        head = f'    <testcase classname={quoteattr(c["classname"])} name={quoteattr(c["name"])} time="{c["time"]:.3f}"'
        if "failure" in c:
            lines += [head + ">", f'      <failure message={quoteattr(c["failure"])} type="mismatch"/>', "    </testcase>"]
        else:
            lines.append(head + "/>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
