"""The training loop: SNN + SCA pruning, metrics, checkpoints, resume.

Run directory (every file written atomically; see spikehls.fileio)::

    DIR/config.yaml      the full config (model preset resolved), the run's whole description
    DIR/metrics.jsonl    one line per epoch (loss, accuracies, firing rates, channels kept, SynOps, lr, seconds)
    DIR/checkpoint.pt    best epoch: model state, masks, config, epoch, accuracy, model_args
    DIR/masks.json       the best epoch's masks (spikehls.training.masks.Masks)
    DIR/last.pt          everything needed to resume: model, optimizer, pruner, RNG states, epoch
    DIR/summary.json     the result (test_accuracy, channels_total/kept, per-layer counts, SynOps, seconds, ...)
    DIR/structure.png    with SCA on: kept channels per layer per epoch and the churn of every mask update

Order of one epoch (evaluation every ``train.eval_every`` epochs and always after the last; the
metrics of epochs without evaluation hold null): train (``sca.masking: step`` re-applies the masks after every optimizer step, ``epoch`` only at the
update; SCA scores accumulated) -> evaluate the masked network on the test set (SynOps, firing rates) -> maybe save as best -> SCA mask update
(not after the last epoch: nothing would train under the new masks) -> metrics line -> last.pt.

"Best" epoch: with SCA on, only epochs evaluated under SCA masks qualify (otherwise the dense
first epoch could win and the run would return an unpruned model); ties keep the earliest.

The learning rate is a pure function of the epoch (``lr_at``), so resuming, or extending a run
with more epochs, needs no scheduler state. Randomness comes from explicit generators (init,
shuffling, encoding, augmentation, SCA re-init) whose states are saved: a fixed seed gives
identical metrics on CPU, with or without an interruption and ``resume``.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from tqdm import tqdm

from spikehls.console import bars_on

from spikehls.config import Config, load_config
from spikehls.errors import SpikehlsError
from spikehls.fileio import (append_jsonl, atomic_path, check_out_dir, lock_dir, read_json, read_text, read_torch,
                             reading, write_json, write_text)
from spikehls.training.datasets import augment, batches, load_dataset
from spikehls.training.encoding import check_encoding, encode, encoded_channels
from spikehls.training.masks import Masks, apply_masks
from spikehls.training.models import build_model, resolve_model_config
from spikehls.training.sca import SCAPruner
from spikehls.training.synops import ENERGY_CONVENTION, ActivityMonitor

CHECKPOINT_FORMAT = "spikehls.checkpoint/1"
#: config fields that may differ between the original run and a resumed one
_RESUMABLE_CHANGES = {("train", "epochs"), ("train", "device"), ("train", "num_threads")}
EVAL_BATCH = 256
_EVAL_KEYS = ("test_acc", "test_loss", "synops_per_sample", "macs_per_sample", "energy_pj_per_sample", "firing_rate")


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; "cuda" without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpikehlsError("train.device: 'cuda' requested but no CUDA device is available (use auto or cpu)")
    return torch.device(name)


def lr_at(epoch: int, cfg: Config) -> float:
    """Learning rate for 0-based ``epoch`` (cosine over train.epochs, step decay, or constant)."""
    o = cfg.optim
    if o.schedule == "cosine":
        return o.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / cfg.train.epochs))
    if o.schedule == "step":
        return o.lr * o.gamma ** (epoch // o.step_size)
    return o.lr


def make_optimizer(model: torch.nn.Module, cfg: Config) -> torch.optim.Optimizer:
    o = cfg.optim
    params = model.parameters()
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)


def _resolved(cfg: Config) -> Config:
    return cfg.model_copy(update={"model": resolve_model_config(cfg.model)})


#: the sections that made the trained network (quant, codesign, hls may be changed for a later stage:
#: ``codesign --from-run`` and sweeps do)
_TRAINED_SECTIONS = ("dataset", "encoding", "neuron", "model", "sca", "optim", "train")


def _config_diff(a: Config, b: Config, sections: Optional[tuple[str, ...]] = None) -> Optional[str]:
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    for sec in (sections or da):
        for key in da[sec]:
            if (sec, key) not in _RESUMABLE_CHANGES and da[sec][key] != db[sec][key]:
                return f"{sec}.{key}"
    return None


def _torch_save(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@torch.no_grad()
def evaluate(model: torch.nn.Module, data, cfg: Config, device: torch.device, progress: bool = False) -> dict:
    """Test accuracy, loss, SynOps/MACs per sample and firing rates (eval mode, fixed encoding seed)."""
    model.eval()
    gen = torch.Generator().manual_seed(cfg.encoding.seed)
    correct, loss_sum, n = 0, 0.0, 0
    with ActivityMonitor(model, direct_input=cfg.encoding.kind == "direct") as mon:
        for imgs, labels in tqdm(batches(data, EVAL_BATCH, shuffle=False), desc="  eval", leave=False,
                                 disable=not bars_on(progress), total=math.ceil(len(data) / EVAL_BATCH)):
            x = encode(imgs.to(device), cfg.encoding.kind, cfg.train.time_steps, gen)
            labels = labels.to(device)
            out = model(x)
            loss_sum += float(F.cross_entropy(out, labels, reduction="sum"))
            correct += int((out.argmax(1) == labels).sum())
            n += labels.numel()
    res = mon.result()
    res.update(test_acc=correct / max(n, 1), test_loss=loss_sum / max(n, 1))
    return res


def train(cfg: Config, out_dir: str | Path, resume: bool = False, progress: bool = True,
          on_epoch: Optional[Callable[[dict], Optional[bool]]] = None,
          init_from: Optional[str | Path] = None, init_masks: Optional[Masks] = None) -> dict:
    """Train ``cfg`` into ``out_dir``; returns the summary dict (also written to summary.json).

    ``resume`` continues from ``out_dir/last.pt`` (``cfg`` must equal the run's config except
    train.epochs/device/num_threads). ``on_epoch(record)`` is called after every epoch with the
    metrics line; returning False stops training early (the summary is still written).

    ``init_from`` (a ``checkpoint.pt`` or a run directory) starts from trained weights instead of
    a fresh init, and ``init_masks`` from given masks (default with ``init_from``: that
    checkpoint's masks). The co-design loop uses both to fine-tune a pruned network under new
    per-layer caps. Every epoch of such a run counts for "best" (it starts pruned). With SCA off,
    the initial masks stay fixed (re-applied after every optimizer step).
    """
    out = Path(out_dir)
    cfg = _resolved(cfg)
    last_path = out / "last.pt"
    with lock_dir(out):  # a second trainer on the same folder is refused, naming this one
        return _train_locked(cfg, out, resume, progress, on_epoch, last_path, init_from, init_masks)


def _train_locked(cfg: Config, out: Path, resume: bool, progress: bool, on_epoch, last_path: Path,
                  init_from, init_masks) -> dict:
    if not resume:
        check_out_dir(out, "run")  # never into a folder that holds anything but a (killed) training run
    if resume:
        if not last_path.is_file():
            raise SpikehlsError(f"{out}: nothing to resume (no last.pt); run without --resume to start")
        saved = load_config(out / "config.yaml")
        diff = _config_diff(saved, cfg)
        if diff:
            raise SpikehlsError(f"{out}/config.yaml: {diff} differs from the given config; resume needs the same config "
                                "(only train.epochs, train.device, train.num_threads may change)")
    elif out.exists() and any((out / f).exists() for f in ("metrics.jsonl", "last.pt", "checkpoint.pt", "summary.json")):
        raise SpikehlsError(f"{out}: already holds a training run; pass --resume to continue it or choose another --out")

    threads = torch.get_num_threads()
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    try:
        return _train(cfg, out, resume, progress, on_epoch, last_path, init_from, init_masks)
    finally:
        torch.set_num_threads(threads)  # do not leak a global setting into the caller


def distill_loss(ce: torch.Tensor, logits: torch.Tensor, taught: torch.Tensor, weight: float,
                 temperature: float) -> torch.Tensor:
    """Hinton et al.'s knowledge distillation: ``(1 - weight) CE + weight T^2 KL(teacher_T || student_T)``.

    Softened by the temperature, the teacher's outputs say which wrong classes are close; the T^2
    factor keeps the term's gradient on the scale of the cross-entropy's whatever T is. A pruned
    network fine-tuned this way learns from the wider one it was cut from, not from labels alone.
    """
    t = temperature
    kl = F.kl_div(F.log_softmax(logits / t, dim=1), F.log_softmax(taught / t, dim=1), log_target=True,
                  reduction="batchmean")
    return (1.0 - weight) * ce + weight * t * t * kl


def load_teacher(cfg: Config, device: torch.device, in_ch: int, image_hw: tuple[int, int],
                 num_classes: int) -> Optional[torch.nn.Module]:
    """The trained run ``train.distill_from`` names, in eval mode and frozen; None without one.

    The teacher reads the student's encoded input, so it must take the same channels, image size and
    classes: a mismatch is a one-line error before the first epoch, not a shape error inside it.
    """
    src = cfg.train.distill_from
    if src is None:
        return None
    d = Path(src)
    if d.name == "checkpoint.pt":
        d = d.parent
    if not (d / "checkpoint.pt").is_file():
        raise SpikehlsError(f"train.distill_from: {src}: not a trained run (no checkpoint.pt)")
    t_cfg, teacher, _, _, a = _load_run(d)
    got = (a["in_channels"], tuple(a["image_hw"]), a["num_classes"])
    if got != (in_ch, tuple(image_hw), num_classes):
        raise SpikehlsError(f"train.distill_from: {src}: the teacher takes (channels, image, classes) {got}, "
                            f"this run {(in_ch, tuple(image_hw), num_classes)}")
    if t_cfg.train.time_steps != cfg.train.time_steps or t_cfg.encoding.kind != cfg.encoding.kind:
        raise SpikehlsError(f"train.distill_from: {src}: the teacher was trained with encoding {t_cfg.encoding.kind}, "
                            f"T = {t_cfg.train.time_steps}; this run uses {cfg.encoding.kind}, T = {cfg.train.time_steps}")
    teacher.to(device).eval()
    for prm in teacher.parameters():
        prm.requires_grad_(False)
    return teacher


def _initial_state(init_from: Optional[str | Path]) -> Optional[dict]:
    if init_from is None:
        return None
    p = Path(init_from)
    if p.is_dir():
        p = p / "checkpoint.pt"
    if not p.is_file():
        raise SpikehlsError(f"{p}: checkpoint to start from not found")
    return read_torch(p, "checkpoint", fmt=CHECKPOINT_FORMAT, keys=("model", "masks"))


def _restore(st: dict, model, optimizer, pruner, g_shuffle, g_encode, g_aug) -> None:
    model.load_state_dict(st["model"])
    optimizer.load_state_dict(st["optimizer"])
    if pruner is not None:
        pruner.load_state_dict(st["pruner"])
    torch.set_rng_state(st["rng"]["torch"])
    g_shuffle.set_state(st["rng"]["shuffle"])
    g_encode.set_state(st["rng"]["encode"])
    g_aug.set_state(st["rng"]["augment"])


def _epoch_of(line: str) -> float:
    """The epoch of a metrics line; a line cut short by a kill counts as after every epoch (dropped)."""
    try:
        return int(json.loads(line)["epoch"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


def _train(cfg: Config, out: Path, resume: bool, progress: bool, on_epoch, last_path: Path,
           init_from: Optional[str | Path] = None, init_masks: Optional[Masks] = None) -> dict:
    device = resolve_device(cfg.train.device)
    seed = cfg.train.seed

    train_set, test_set = load_dataset(cfg.dataset, seed)
    check_encoding(train_set.is_sequence, train_set.time_steps, cfg.encoding.kind, cfg.train.time_steps)
    c, h, w = train_set.frame_shape
    in_ch = encoded_channels(cfg.encoding.kind, c)

    torch.manual_seed(seed)
    model = build_model(cfg, in_ch, (h, w), train_set.num_classes).to(device)
    if cfg.quant.qat_during_sca:
        # fake-quantize conv/linear weights while SCA trains (same Parameters: masks and checkpoints unaffected)
        from spikehls.quantize.qat import enable_weight_qat

        enable_weight_qat(model, cfg.quant)
    optimizer = make_optimizer(model, cfg)
    init = _initial_state(init_from) if not resume else None
    if init is not None:
        try:
            model.load_state_dict(init["model"])
        except RuntimeError as err:
            raise SpikehlsError(f"{init_from}: checkpoint does not fit the configured model ({str(err).splitlines()[0]})") from None
        if init_masks is None:
            init_masks = Masks.from_json(init["masks"], str(init_from))
    pruner = SCAPruner.from_config(model, cfg.sca, seed=seed + 3) if cfg.sca.enabled else None
    fixed_masks = None
    if init_masks is not None and not resume:
        apply_masks(model, init_masks)  # also checks that the groups fit the model
        if pruner is not None:
            pruner.masks = init_masks.copy()
        else:
            fixed_masks = init_masks.copy()
    teacher = load_teacher(cfg, device, in_ch, (h, w), train_set.num_classes)
    g_shuffle = torch.Generator().manual_seed(seed + 1)
    g_encode = torch.Generator().manual_seed(cfg.encoding.seed + seed * 1000 + 2)
    g_aug = torch.Generator().manual_seed(seed + 4)

    start_epoch, seconds = 0, 0.0
    best: dict = {"test_acc": -1.0, "epoch": 0}
    # a warm start from a dense checkpoint (full masks) is not pruned yet: its first epoch must not win "best"
    started_pruned = init_masks is not None and init_masks.kept() < init_masks.total()
    if resume:
        st = read_torch(last_path, "resume state (last.pt)", keys=("model", "optimizer", "rng", "epoch", "seconds", "best"),
                        map_location=device)
        with reading(last_path, "resume state (last.pt) of this model"):
            _restore(st, model, optimizer, pruner, g_shuffle, g_encode, g_aug)
        start_epoch, seconds, best = int(st["epoch"]), float(st["seconds"]), dict(st["best"])
        started_pruned = bool(st.get("started_pruned", False))
        if st.get("fixed_masks") is not None:
            fixed_masks = Masks.from_json(st["fixed_masks"], str(last_path))
            apply_masks(model, fixed_masks)
        # drop metric lines of epochs that did not reach last.pt (interrupted in between)
        lines = read_text(out / "metrics.jsonl", "metrics file").splitlines() if (out / "metrics.jsonl").exists() else []
        write_text(out / "metrics.jsonl", "".join(ln + "\n" for ln in lines if _epoch_of(ln) <= start_epoch))
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "config.yaml", cfg.to_yaml())
    write_text(out / "config.yaml", cfg.to_yaml())  # epochs may have been extended on resume

    epochs = cfg.train.epochs
    kind, T = cfg.encoding.kind, cfg.train.time_steps
    n_batches = math.ceil(len(train_set) / cfg.optim.batch_size)
    last_eval: dict = {}
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        lr = lr_at(epoch, cfg)
        for grp in optimizer.param_groups:
            grp["lr"] = lr
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(batches(train_set, cfg.optim.batch_size, shuffle=True, generator=g_shuffle), total=n_batches,
                   desc=f"epoch {epoch + 1}/{epochs}", disable=not bars_on(progress), leave=False, dynamic_ncols=True)
        for imgs, labels in bar:
            if cfg.dataset.augment:
                imgs = augment(imgs, g_aug)
            x = encode(imgs.to(device), kind, T, g_encode)
            labels = labels.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, labels)
            if teacher is not None:
                with torch.no_grad():
                    taught = teacher(x)
                loss = distill_loss(loss, logits, taught, cfg.train.distill_weight, cfg.train.distill_temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if pruner is not None:
                pruner.after_backward()
            optimizer.step()
            if pruner is not None:
                pruner.after_step()
            elif fixed_masks is not None:
                apply_masks(model, fixed_masks)
            loss_sum += float(loss.detach()) * labels.numel()
            correct += int((logits.detach().argmax(1) == labels).sum())
            seen += labels.numel()
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()

        evaluated = (epoch + 1) % cfg.train.eval_every == 0 or epoch == epochs - 1
        if pruner is not None:
            masks = pruner.masks.copy()
        else:
            masks = fixed_masks.copy() if fixed_masks is not None else Masks.full(model.prunable_groups())
        sca_masked = (pruner is None or started_pruned or epoch > cfg.sca.start_epoch
                      or epochs - 1 <= cfg.sca.start_epoch)
        epoch_no = epoch + 1
        # evaluate and save the masked network (what slimming builds), whatever the masking mode
        with (pruner.masked() if pruner is not None else nullcontext()):
            ev = evaluate(model, test_set, cfg, device, progress) if evaluated else dict.fromkeys(_EVAL_KEYS)
            is_best = evaluated and sca_masked and ev["test_acc"] > best["test_acc"]
            if is_best:
                best = {"test_acc": ev["test_acc"], "epoch": epoch_no,
                        **{k: ev[k] for k in ("synops_per_sample", "macs_per_sample", "energy_pj_per_sample",
                                              "firing_rate")}}
                _save_checkpoint(out, model, masks, cfg, epoch_no, ev["test_acc"])
        update = None
        if pruner is not None and cfg.sca.start_epoch <= epoch < epochs - 1:
            pruner.update_masks()
            update = dict(pruner.last_update)
        seconds += time.perf_counter() - t0
        record = {
            "epoch": epoch_no, "loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
            "test_acc": ev["test_acc"], "test_loss": ev["test_loss"], "lr": lr,
            "channels_kept_total": masks.kept(), "channels_total": masks.total(),
            "channels_kept": {k: v["kept"] for k, v in masks.layer_counts().items()},
            "firing_rate": ev["firing_rate"], "synops_per_sample": ev["synops_per_sample"],
            "macs_per_sample": ev["macs_per_sample"], "energy_pj_per_sample": ev["energy_pj_per_sample"],
            "best": is_best, "mask_update": update, "seconds": time.perf_counter() - t0,
        }
        append_jsonl(out / "metrics.jsonl", record)
        _torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "pruner": pruner.state_dict() if pruner is not None else None,
                     "rng": {"torch": torch.get_rng_state(), "shuffle": g_shuffle.get_state(),
                             "encode": g_encode.get_state(), "augment": g_aug.get_state()},
                     "fixed_masks": fixed_masks.to_json() if fixed_masks is not None else None,
                     "started_pruned": started_pruned, "epoch": epoch_no, "seconds": seconds, "best": best}, last_path)
        last_eval = record
        if progress and evaluated:
            tqdm.write(f"epoch {epoch_no:>3}/{epochs}  loss {record['loss']:.4f}  train {record['train_acc']:.2%}  "
                       f"test {record['test_acc']:.2%}  channels {masks.kept()}/{masks.total()}  "
                       f"SynOps/sample {record['synops_per_sample']:,.0f}  {record['seconds']:.1f}s")
        if on_epoch is not None and on_epoch(record) is False:
            break

    if not (out / "checkpoint.pt").is_file():  # stopped before any epoch qualified as "best": keep the last
        masks = pruner.masks.copy() if pruner is not None else (
            fixed_masks.copy() if fixed_masks is not None else Masks.full(model.prunable_groups()))
        with (pruner.masked() if pruner is not None else nullcontext()):
            ev = evaluate(model, test_set, cfg, device)
            best = {"test_acc": ev["test_acc"], "epoch": int(last_eval.get("epoch", 0)),
                    **{k: ev[k] for k in ("synops_per_sample", "macs_per_sample", "energy_pj_per_sample", "firing_rate")}}
            _save_checkpoint(out, model, masks, cfg, best["epoch"], ev["test_acc"])
    if pruner is not None:
        from spikehls.training.structure_plot import plot_structure

        plot_structure(out / "metrics.jsonl", out / "structure.png")
    return _write_summary(out, cfg, best, last_eval, seconds, device)


def _save_checkpoint(out: Path, model, masks: Masks, cfg: Config, epoch: int, acc: float) -> None:
    _torch_save({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "masks": masks.to_json(),
                 "config": cfg.model_dump(mode="json"), "epoch": epoch, "test_accuracy": acc,
                 "model_args": model.model_args}, out / "checkpoint.pt")
    masks.save(out / "masks.json")


def _write_summary(out: Path, cfg: Config, best: dict, last: dict, seconds: float, device: torch.device) -> dict:
    ck = read_torch(out / "checkpoint.pt", "checkpoint")
    masks = Masks.from_json(ck["masks"])
    weights_total = weights_nonzero = 0
    for k, v in ck["model"].items():
        if k.endswith("weight") and v.ndim >= 2:
            weights_total += v.numel()
            weights_nonzero += int(v.ne(0).sum())
    summary = {
        "test_accuracy": best["test_acc"],
        "best_epoch": best["epoch"],
        "final_test_accuracy": last["test_acc"] if last.get("test_acc") is not None else best["test_acc"],
        "epochs": int(last.get("epoch", best["epoch"])),
        "channels_total": masks.total(),
        "channels_kept": masks.kept(),
        "channels_per_layer": masks.layer_counts(),
        "synops_per_sample": best.get("synops_per_sample"),
        "macs_per_sample": best.get("macs_per_sample"),
        "energy_pj_per_sample": best.get("energy_pj_per_sample"),
        "energy_convention": ENERGY_CONVENTION,
        "firing_rate": best.get("firing_rate"),
        "weights_total": weights_total,
        "weights_nonzero": weights_nonzero,
        "sca": {"enabled": cfg.sca.enabled, "p": cfg.sca.p, "q": cfg.sca.q},
        "dataset": cfg.dataset.name,
        "time_steps": cfg.train.time_steps,
        "seconds": seconds,
        "device": str(device),
    }
    write_json(out / "summary.json", summary)
    return summary


def _check_whole_config(path: Path) -> None:
    """A run's config.yaml is written whole by spikehls (every section): one that lacks a section was
    cut short, and its defaults would silently replace what the run was trained and exported with."""
    import yaml

    try:
        data = yaml.safe_load(read_text(path, "run config"))
    except yaml.YAMLError:
        return  # load_config has already named the parse error
    missing = [k for k in Config.model_fields if not isinstance(data, dict) or k not in data]
    if missing:
        raise SpikehlsError(f"{path}: section(s) {', '.join(missing)} missing: the file is truncated or damaged "
                            "(spikehls writes every section); restore it or train again")


def load_run(run_dir: str | Path):
    """Load a trained run: ``(cfg, model, masks, summary)``; the model in eval mode, masks applied."""
    return _load_run(run_dir)[:4]


def _load_run(run_dir: str | Path):
    """:func:`load_run` and the checkpoint's ``model_args`` (input channels, image size, classes),
    from the one read of the checkpoint."""
    d = Path(run_dir)
    ck_path = d / "checkpoint.pt"
    if not ck_path.is_file():
        raise SpikehlsError(f"{d}: not a training run (no checkpoint.pt); run 'spikehls train --out {d}' first")
    cfg = load_config(d / "config.yaml")
    ck = read_torch(ck_path, "checkpoint", fmt=CHECKPOINT_FORMAT, keys=("model", "masks", "model_args"))
    _check_whole_config(d / "config.yaml")
    saved = ck.get("config")
    if isinstance(saved, dict):  # a damaged or edited config.yaml must not silently change the run
        from spikehls.config import config_from_dict

        try:
            diff = _config_diff(_resolved(config_from_dict(saved, str(ck_path))), _resolved(cfg), _TRAINED_SECTIONS)
        except SpikehlsError:
            diff = None  # a checkpoint from an older schema: the yaml is the record
        if diff:
            raise SpikehlsError(f"{d / 'config.yaml'}: {diff} differs from the config saved in {ck_path} "
                                "(the file is damaged or was edited; restore it or train again)")
    with reading(ck_path, f"checkpoint of the model in {d / 'config.yaml'}"):
        a = ck["model_args"]
        model = build_model(cfg, a["in_channels"], tuple(a["image_hw"]), a["num_classes"])
        model.load_state_dict(ck["model"])
        masks = Masks.from_json(ck["masks"], str(ck_path))
        apply_masks(model, masks)
    model.eval()
    summary = read_json(d / "summary.json", "training summary") if (d / "summary.json").is_file() else {}
    return cfg, model, masks, summary, a
