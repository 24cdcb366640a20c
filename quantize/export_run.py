"""The export stage: a training run directory -> quantized, integer and QONNX artifacts.

``export_run(DIR)`` reads the run (config, checkpoint, masks), lowers the model to a
:class:`~spikehls.quantize.floatnet.FloatNet`, slims it, folds BN, runs quantization-aware
fine-tuning, extracts the :class:`~spikehls.quantize.intnet.IntNet` and checks the whole chain:

* ``quantized.pt``    the fine-tuned quantized PyTorch model (module + state dict + config)
* ``intnet.npz``      the integer network (``IntNet.save``)
* ``model.qonnx.onnx`` the QONNX graph (docs/qonnx_format.md)
* ``testvectors.npz`` encoded inputs, per-layer spikes, readout, labels of the first
  ``quant.test_vectors`` test samples (from the NumPy reference)
* ``export.json``     accuracies, mismatch counts, bit widths, parameters/channels kept vs
  dense, SynOps and an energy estimate (0.9 pJ/AC, 4.6 pJ/MAC, 45 nm, Horowitz 2014), and
  ``training``: whether the run finished (``summary.json`` present). A run killed mid-way still
  exports (its best checkpoint so far), with a warning, and ``training.complete: false``.

Parameters are counted on the BN-folded network on both sides (dense and kept: weights and the
biases the folding creates), so ``kept_fraction`` is 1 for an unpruned net, never above.

Nothing is written into DIR until every artifact exists in a temporary folder next to it; then
they are moved in (``export.json`` last, so its presence means the export is complete). A user
error anywhere leaves DIR as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from spikehls.config import Config, load_config
from spikehls.errors import SpikehlsError
from spikehls.fileio import write_json
from spikehls.training.synops import ENERGY_CONVENTION

from . import reference as ref
from .extract import extract
from .floatnet import from_training_model
from .fold import fold_bn
from .intnet import IntNet, MaxPool2d, Readout, SpikingConv2d, SpikingDense
from .qat import QuantSNN, finetune, layer_bits, quantize_net, save_quantized
from .slim import count_params, keep_from_masks, slim

PJ_PER_AC = 0.9  # pJ per accumulate (45 nm, Horowitz ISSCC 2014)
PJ_PER_MAC = 4.6  # pJ per multiply-accumulate (FP32, same source)
ARTIFACTS = ("quantized.pt", "intnet.npz", "model.qonnx.onnx", "testvectors.npz", "export.json")
EVAL_BATCH = 256  # the encoding batch (batch b is encoded with seed encoding.seed + b): fixed
CHECK_ELEMS = 64_000_000  # spikes of every layer per sub-batch of a check (float32 in torch: 256 MB)


# ---- inputs --------------------------------------------------------------------------------------
def encoded_batches(images: np.ndarray, cfg: Config, batch: int = EVAL_BATCH):
    """Yield ``(start, int64 [n, T, C, H, W])`` encoded test inputs, deterministically.

    Batch ``b`` is encoded with seed ``encoding.seed + b`` (rate encoding draws per batch), so the
    float model, the quantized model, the reference and the test vectors all see the same ints.
    """
    from spikehls.training.encoding import encode_int

    for b, i in enumerate(range(0, len(images), batch)):
        yield i, encode_int(images[i:i + batch], cfg.encoding.kind, cfg.train.time_steps, seed=cfg.encoding.seed + b)


def _as_float(x_int: np.ndarray, in_scale: float) -> torch.Tensor:
    return torch.from_numpy(x_int).to(torch.float32) * in_scale


def sub_batch(net_or_elems, limit: int = CHECK_ELEMS) -> int:
    """Samples per sub-batch of a check: as many as keep every layer's spikes of the sub-batch
    under ``limit`` elements (an :class:`IntNet`, or its spike elements per sample), at most
    ``EVAL_BATCH``. The encoding batches stay ``EVAL_BATCH`` (their seeds); only the model and
    reference runs are split, so a VGG-16's check holds tens of samples at a time, not 256."""
    if isinstance(net_or_elems, IntNet):
        shapes = net_or_elems.shapes()
        per = net_or_elems.time_steps * sum(int(np.prod(v)) for v in shapes.values())
    else:
        per = int(net_or_elems)
    return max(1, min(EVAL_BATCH, limit // max(1, per)))


def _split(x: np.ndarray, step: int):
    """``(offset, x[offset:offset + step])`` pieces of a batch."""
    for a in range(0, len(x), step):
        yield a, x[a:a + step]


# ---- metrics -------------------------------------------------------------------------------------
def synops(net: IntNet, x: np.ndarray, result: ref.RefResult) -> dict:
    """SynOps and MACs summed over a batch (DESIGN.md section 4 convention, exact conv borders).

    A spike feeds every output its weights reach: for a conv, the output positions whose window
    covers it (counted at the borders) times the output channels with a nonzero filter; for a
    dense layer or the readout, the outputs with a nonzero weight row. A direct-encoded first layer
    multiplies: every input element (zeros included) times its fan-out counts as a MAC.
    """
    from spikehls.training.synops import conv_fanout_map

    outs = {"input": x}
    outs.update(result.spikes)
    syn: dict[str, float] = {}
    macs: dict[str, float] = {}
    prev = "input"
    for lyr in net.layers:
        if isinstance(lyr, MaxPool2d):
            prev = lyr.name
            continue
        xin = outs[prev]
        if isinstance(lyr, SpikingConv2d):
            co, _, kh, kw = lyr.weight.shape
            live = int((lyr.weight.reshape(co, -1) != 0).any(1).sum())
            fan = conv_fanout_map(xin.shape[3], xin.shape[4], (kh, kw), lyr.stride, lyr.padding) * live
            if prev == "input" and net.encoding == "direct":
                macs[lyr.name] = float(fan.sum()) * xin.shape[0] * xin.shape[1] * xin.shape[2]
            else:
                syn[lyr.name] = float((xin.sum(axis=(1, 2), dtype=np.int64) * fan).sum())
            if lyr.skip is not None:
                sx = outs[lyr.skip.source][..., ::lyr.skip.stride, ::lyr.skip.stride]
                fan_s = 1 if lyr.skip.weight is None else int((lyr.skip.weight != 0).any(1).sum())
                syn[lyr.name] += float(sx.sum(dtype=np.int64)) * fan_s
        else:  # dense / readout
            live = int((lyr.weight != 0).any(1).sum())
            n_in = float(xin.reshape(xin.shape[0], xin.shape[1], -1).astype(bool).sum(dtype=np.int64))
            if prev == "input" and net.encoding == "direct":
                macs[lyr.name] = float(np.prod(xin.shape)) * live
            else:
                syn[lyr.name] = n_in * live
        if not isinstance(lyr, Readout):
            prev = lyr.name
    return {"synops": syn, "macs": macs}


def _add(acc: dict, part: dict) -> None:
    for kind, d in part.items():
        for k, v in d.items():
            acc.setdefault(kind, {}).setdefault(k, 0.0)
            acc[kind][k] += v


# ---- evaluation ----------------------------------------------------------------------------------
@torch.no_grad()
def float_accuracy(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, cfg: Config) -> float:
    """Accuracy of the (masked) float training model; it takes time-first input."""
    model.eval()
    scale = 2.0**-8 if cfg.encoding.kind == "direct" else 1.0
    correct = 0
    for i, x in encoded_batches(images, cfg):
        out = model(_as_float(x, scale).transpose(0, 1))
        correct += int((out.argmax(1).numpy() == labels[i:i + len(x)]).sum())
    return correct / max(len(labels), 1)


@torch.no_grad()
def slimmed_accuracy(run_dir: str | Path) -> tuple[float, dict[str, int], dict[str, int]]:
    """Accuracy of a training run's best checkpoint with its pruned channels physically removed
    (the float network slimming builds), on the whole test set; with the parameter counts of the
    slimmed and the dense folded network. SCA's best epoch is chosen on the masked network, so the
    two accuracies must be equal: the check that "best" means what slimming gives."""
    from spikehls.training.datasets import load_dataset
    from spikehls.training.trainer import load_run

    cfg, model, masks, _ = load_run(run_dir)
    fnet = from_training_model(model, cfg.encoding.kind, cfg.train.time_steps)
    snet = slim(fnet, keep_from_masks(fnet, masks)).eval()
    _, test = load_dataset(cfg.dataset, seed=cfg.train.seed)
    scale = 2.0**-8 if cfg.encoding.kind == "direct" else 1.0
    correct = 0
    for i, x in encoded_batches(test.images, cfg):
        correct += int((snet(_as_float(x, scale)).argmax(1).numpy() == test.labels[i:i + len(x)]).sum())
    return correct / max(len(test.labels), 1), count_params(fold_bn(snet)), count_params(fold_bn(fnet))


@torch.no_grad()
def quantized_accuracy(q: QuantSNN, images: np.ndarray, labels: np.ndarray, cfg: Config) -> float:
    """Accuracy of the quantized torch model in eval mode (the integer semantics)."""
    q.eval()
    correct = 0
    for i, x in encoded_batches(images, cfg):
        q(_as_float(x, q.in_scale))
        correct += int((q.readout_int().argmax(1).numpy() == labels[i:i + len(x)]).sum())
    return correct / max(len(labels), 1)


@torch.no_grad()
def check_quantized(q: QuantSNN, net: IntNet, images: np.ndarray, labels: np.ndarray, cfg: Config,
                    progress: bool = True, keep: int = 0) -> dict:
    """Quantized torch (eval) vs the NumPy reference on every sample; accuracy and SynOps.

    A sample is a mismatch when any spike of any layer or any readout integer differs. The
    samples are encoded in batches of ``EVAL_BATCH`` and run in sub-batches of
    :func:`sub_batch` (memory bounded whatever the network). ``keep``: the encoded inputs and the
    reference results of the first ``keep`` samples are returned too (``kept_inputs``,
    ``kept_reference``: the test vectors, not computed a second time).
    """
    from tqdm import tqdm

    from spikehls.console import bars_on

    q.eval()
    correct = mismatches = 0
    ops: dict = {}
    n_total = len(images)
    step = sub_batch(net)
    kept_x: list[np.ndarray] = []
    kept_r: list[ref.RefResult] = []
    bar = tqdm(total=n_total, desc="check torch vs reference", disable=not bars_on(progress), leave=False)
    for i, xb in encoded_batches(images, cfg):
        for j, x in _split(xb, step):
            _, outs = q(_as_float(x, q.in_scale), record=True)
            r = ref.run(net, x)
            bad = np.zeros(len(x), bool)
            for name, s in r.spikes.items():
                bad |= (outs[name].numpy().astype(np.uint8) != s).reshape(len(x), -1).any(1)
            bad |= (q.readout_int().numpy() != r.readout).any(1)
            mismatches += int(bad.sum())
            correct += int((r.prediction == labels[i + j:i + j + len(x)]).sum())
            _add(ops, synops(net, x, r))
            if i + j < keep:
                m = min(len(x), keep - (i + j))
                kept_x.append(x[:m])
                kept_r.append(ref.RefResult(spikes={k: v[:m].copy() for k, v in r.spikes.items()}, readout=r.readout[:m],
                                            prediction=r.prediction[:m], events={k: v[:m] for k, v in r.events.items()}))
            bar.update(len(x))
    bar.close()
    n = max(n_total, 1)
    syn = sum(ops.get("synops", {}).values()) / n
    mac = sum(ops.get("macs", {}).values()) / n
    return {
        "quantized_accuracy": correct / n,
        "reference_mismatches": mismatches,
        "synops_per_sample": syn,
        "macs_per_sample": mac,
        "synops_per_layer": {k: v / n for k, v in ops.get("synops", {}).items()},
        "macs_per_layer": {k: v / n for k, v in ops.get("macs", {}).items()},
        "energy_pj_per_sample": PJ_PER_AC * syn + PJ_PER_MAC * mac,
        "kept_inputs": np.concatenate(kept_x) if kept_x else None,
        "kept_reference": _concat_ref(kept_r) if kept_r else None,
    }


def _concat_ref(parts: list[ref.RefResult]) -> ref.RefResult:
    if len(parts) == 1:
        return parts[0]
    return ref.RefResult(spikes={k: np.concatenate([p.spikes[k] for p in parts]) for k in parts[0].spikes},
                         readout=np.concatenate([p.readout for p in parts]),
                         prediction=np.concatenate([p.prediction for p in parts]),
                         events={k: np.concatenate([p.events[k] for p in parts]) for k in parts[0].events})


def qonnx_mismatches(path: Path, x: np.ndarray, r: ref.RefResult) -> int:
    """Samples of ``x`` whose QONNX execution differs from the reference (any spike or readout integer)."""
    from .qonnx_export import run_qonnx

    readout, spikes = run_qonnx(path, x)
    bad = (np.asarray(readout) != r.readout).any(1)
    for name, s in r.spikes.items():
        if name not in spikes:
            raise RuntimeError(f"QONNX execution reports no spikes for layer {name}")
        bad |= (np.asarray(spikes[name]).reshape(s.shape) != s).reshape(len(x), -1).any(1)
    return int(bad.sum())


# ---- the stage -----------------------------------------------------------------------------------
def training_status(run_dir: Path, cfg: Config) -> dict:
    """Whether the run finished: ``summary.json`` is written at the end of training only.

    ``epochs_done`` counts the complete lines of ``metrics.jsonl`` (one per finished epoch).
    """
    import json

    run_dir = Path(run_dir)
    configured = int(cfg.train.epochs)
    if (run_dir / "summary.json").is_file():
        return {"complete": True, "epochs_configured": configured}
    done = 0
    try:
        for line in (run_dir / "metrics.jsonl").read_text(errors="replace").splitlines():
            try:
                done += isinstance(json.loads(line), dict)
            except ValueError:
                continue  # a line torn by the kill
    except OSError:
        pass
    warning = (f"{run_dir}: no summary.json: the training run did not finish (killed mid-way? {done} of "
               f"{configured} epochs recorded in metrics.jsonl); exporting its best checkpoint so far "
               "(recorded in export.json: training.complete false)")
    return {"complete": False, "epochs_configured": configured, "epochs_done": done, "warning": warning}


def prepare(run_dir: Path, config_path: Optional[str | Path]):
    """Load and check everything a user can get wrong, before any work: (cfg, model, masks)."""
    from spikehls.training.trainer import load_run

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SpikehlsError(f"{run_dir}: run directory not found")
    if not (run_dir / "checkpoint.pt").is_file():
        raise SpikehlsError(f"{run_dir}: no checkpoint.pt in the run directory (run 'spikehls train' first)")
    cfg, model, masks, _summary = load_run(run_dir)
    if config_path is not None:
        cfg = cfg.model_copy(deep=True)
        cfg.quant = load_config(config_path).quant
    return cfg, model, masks


def export_run(run_dir: str | Path, config_path: Optional[str | Path] = None, progress: bool = True,
               log: Callable[[str], None] = print, out_dir: Optional[str | Path] = None,
               quant_override: Optional[dict] = None) -> dict:
    """Run the whole export stage for ``run_dir``; return the ``export.json`` content.

    Artifacts go to ``out_dir`` (default: the run directory). ``quant_override`` (a dict of
    ``quant`` fields, validated) is applied after ``config_path``; benchmarks use it to sweep bits.
    """
    from spikehls.training.datasets import load_dataset
    from spikehls.training.masks import apply_masks

    t0 = time.time()
    run_dir = Path(run_dir)
    cfg, model, masks = prepare(run_dir, config_path)
    if quant_override:
        from spikehls.config import config_from_dict

        cfg.quant = config_from_dict({"quant": {**cfg.quant.model_dump(), **quant_override}}, "quant override").quant
    out = Path(out_dir) if out_dir is not None else run_dir
    training = training_status(run_dir, cfg)
    if not training["complete"]:
        log(f"warning: {training['warning']}")
    T = cfg.train.time_steps
    if masks is not None:
        apply_masks(model, masks)  # load_run applies them already; a hand-made run may not
    fnet = from_training_model(model, cfg.encoding.kind, T)  # refuses what cannot be expressed
    layer_bits(fnet, cfg.quant)  # unknown layer names in quant.layer_w_bits: fail before any work
    train_set, test_set = load_dataset(cfg.dataset, seed=cfg.train.seed)

    float_acc = float_accuracy(model, test_set.images, test_set.labels, cfg)
    log(f"float (masked) test accuracy {float_acc:.4f}")
    keep = keep_from_masks(fnet, masks) if masks is not None else {}
    slim_net = fold_bn(slim(fnet, keep))
    dense = count_params(fold_bn(fnet))  # counted like the kept net: folded (BN gives each conv a bias)
    q = quantize_net(slim_net, cfg.quant, cfg)
    acc_before = quantized_accuracy(q, test_set.images, test_set.labels, cfg) if cfg.quant.qat_epochs else None
    if acc_before is not None:
        log(f"quantized test accuracy before QAT {acc_before:.4f}")
    teacher = None
    if cfg.quant.qat_epochs and cfg.train.distill_from is not None:
        from spikehls.training.encoding import encoded_channels
        from spikehls.training.trainer import load_teacher

        c, h, w = train_set.frame_shape
        teacher = load_teacher(cfg, torch.device("cpu"), encoded_channels(cfg.encoding.kind, c), (h, w),
                               train_set.num_classes)
        log(f"QAT taught by {cfg.train.distill_from} (train.distill_from)")
    history = finetune(q, train_set, cfg, cfg.quant.qat_epochs, cfg.quant.qat_lr, progress=progress, teacher=teacher,
                       log=lambda r: log(f"QAT epoch {r['epoch']}: loss {r['loss']:.4f}, train accuracy {r['train_accuracy']:.4f}"))
    net = extract(q)
    n_tv = min(cfg.quant.test_vectors, len(test_set))
    checks = check_quantized(q, net, test_set.images, test_set.labels, cfg, progress=progress, keep=n_tv)
    log(f"quantized test accuracy {checks['quantized_accuracy']:.4f}, torch vs reference mismatches "
        f"{checks['reference_mismatches']}")
    kept_x, kept_ref = checks.pop("kept_inputs"), checks.pop("kept_reference")
    tv_x = np.concatenate([x for _, x in encoded_batches(test_set.images[:n_tv], cfg)])
    # the first n_tv samples must be encoded exactly as in the full-set check (same batches)
    if n_tv > EVAL_BATCH:
        tv_x = np.concatenate([x for _, x in encoded_batches(test_set.images, cfg)])[:n_tv]
    tv_y = test_set.labels[:n_tv]
    # the check ran the reference on these very inputs where the encodings agree (direct and
    # bitplane; rate draws differ with the batch length below EVAL_BATCH): not computed again
    same = kept_x is not None and kept_x.shape == tv_x.shape and np.array_equal(kept_x, tv_x)
    tv_ref = kept_ref if same else ref.run(net, tv_x)

    kept = count_params(slim_net)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export.", suffix=".tmp", dir=out))
    try:
        from .qonnx_export import export_qonnx
        from .testvectors import save_testvectors

        save_quantized(q, tmp / "quantized.pt", cfg.to_yaml())
        net.save(tmp / "intnet.npz")
        export_qonnx(net, tmp / "model.qonnx.onnx", bias_bits=cfg.quant.bias_bits)
        save_testvectors(tmp / "testvectors.npz", tv_x, tv_y, tv_ref)
        qonnx_bad = qonnx_mismatches(tmp / "model.qonnx.onnx", tv_x, tv_ref)
        log(f"QONNX vs reference mismatches on {n_tv} test vectors: {qonnx_bad}")
        summary = {
            "float_accuracy": float_acc,
            "quantized_accuracy": checks["quantized_accuracy"],
            "accuracy_drop": float_acc - checks["quantized_accuracy"],
            "quantized_accuracy_before_qat": acc_before,
            "reference_mismatches": checks["reference_mismatches"],
            "reference_checked_samples": len(test_set),
            "qonnx_mismatches": qonnx_bad,
            "test_vectors": n_tv,
            "encoding": cfg.encoding.kind,
            "time_steps": T,
            "bits": {
                "weights": {lyr.name: lyr.w_bits for lyr in net.layers if hasattr(lyr, "w_bits")},
                "shortcut_weights": {lyr.name: lyr.skip.w_bits for lyr in net.layers
                                     if getattr(lyr, "skip", None) is not None and lyr.skip.weight is not None},
                "bias": cfg.quant.bias_bits,
                "membrane": cfg.quant.v_bits,
                "input": net.input_bits,
                "per_channel_scale": cfg.quant.per_channel,
            },
            "parameters": {"dense": dense["parameters"], "kept": kept["parameters"],
                           "kept_fraction": kept["parameters"] / max(dense["parameters"], 1)},
            "channels": {"dense": dense["channels"], "kept": kept["channels"],
                         "kept_fraction": kept["channels"] / max(dense["channels"], 1),
                         "per_layer": {lyr.name: int(lyr.weight.shape[0]) for lyr in net.layers
                                       if isinstance(lyr, (SpikingConv2d, SpikingDense))}},
            "synops_per_sample": checks["synops_per_sample"],
            "macs_per_sample": checks["macs_per_sample"],
            "synops_per_layer": checks["synops_per_layer"],
            "macs_per_layer": checks["macs_per_layer"],
            "energy_pj_per_sample": checks["energy_pj_per_sample"],
            "energy_convention": ENERGY_CONVENTION,
            "qat": {"epochs": cfg.quant.qat_epochs, "lr": cfg.quant.qat_lr, "history": history,
                    "during_sca": cfg.quant.qat_during_sca},
            "training": training,
            "seconds": round(time.time() - t0, 1),
        }
        write_json(tmp / "export.json", summary)
        for name in ARTIFACTS:  # export.json last: its presence marks a complete export
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary
