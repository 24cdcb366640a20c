"""Training loop: artifacts, determinism, resume, load_run, and the CLI's errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from spikehls.cli import main
from spikehls.config import config_from_dict, load_config
from spikehls.errors import SpikehlsError
from spikehls.training.masks import Masks
from spikehls.training.trainer import evaluate, load_run, train

TINY = {
    "dataset": {"name": "digits", "train_limit": 160, "test_limit": 80},
    "model": {"preset": None, "arch": "vgg", "layers": [4, "M", 6, "M"]},
    "sca": {"p": 0.5, "q": 0.1},
    "optim": {"batch_size": 40},
    "train": {"epochs": 3, "time_steps": 2, "seed": 7},
}


def _tiny(**over) -> dict:
    cfg = json.loads(json.dumps(TINY))
    for sec, vals in over.items():
        cfg.setdefault(sec, {}).update(vals)
    return cfg


def _metrics(d: Path) -> list[dict]:
    rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("seconds")
    return rows


def test_run_artifacts_and_summary(tmp_path):
    s = train(config_from_dict(_tiny()), tmp_path / "run", progress=False)
    d = tmp_path / "run"
    for f in ("config.yaml", "metrics.jsonl", "checkpoint.pt", "masks.json", "last.pt", "summary.json"):
        assert (d / f).is_file(), f
    assert not list(d.glob(".*tmp"))  # no temporary leftovers
    rows = _metrics(d)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for key in ("loss", "train_acc", "test_acc", "firing_rate", "channels_kept", "synops_per_sample", "lr"):
        assert key in rows[0]
    assert rows[0]["channels_kept_total"] == 10 and rows[1]["channels_kept_total"] == 4 + 1  # floor(.4*10)+floor(.1*10)
    assert rows[0]["mask_update"] is not None and rows[-1]["mask_update"] is None
    assert not rows[0]["best"]  # dense epoch does not qualify under SCA
    on_disk = json.loads((d / "summary.json").read_text())
    assert on_disk == s
    for key in ("test_accuracy", "channels_total", "channels_kept", "channels_per_layer", "synops_per_sample", "seconds"):
        assert key in s
    assert s["channels_total"] == 10 and s["channels_kept"] == Masks.load(d / "masks.json").kept()
    assert load_config(d / "config.yaml").model.layers == [4, "M", 6, "M"]


def test_fixed_seed_identical_metrics(tmp_path):
    cfg = config_from_dict(_tiny(encoding={"kind": "rate"}))
    train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", progress=False)
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")


def test_resume_after_interruption_gives_identical_run(tmp_path):
    cfg = config_from_dict(_tiny(encoding={"kind": "rate"}))
    train(cfg, tmp_path / "full", progress=False)

    class Crash(Exception):
        pass

    def crash_after_first(rec):
        if rec["epoch"] == 1:
            raise Crash

    with pytest.raises(Crash):
        train(cfg, tmp_path / "cut", progress=False, on_epoch=crash_after_first)
    assert len(_metrics(tmp_path / "cut")) == 1
    s = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "full")
    assert s["test_accuracy"] == json.loads((tmp_path / "full" / "summary.json").read_text())["test_accuracy"]


def test_on_epoch_false_stops_and_resume_extends(tmp_path):
    cfg = config_from_dict(_tiny())
    s = train(cfg, tmp_path / "r", progress=False, on_epoch=lambda r: r["epoch"] < 2)
    assert s["epochs"] == 2
    cfg.train.epochs = 4
    train(cfg, tmp_path / "r", resume=True, progress=False)
    assert [r["epoch"] for r in _metrics(tmp_path / "r")] == [1, 2, 3, 4]


def test_refuses_overwrite_and_bad_resume(tmp_path):
    cfg = config_from_dict(_tiny(train={"epochs": 1}))
    train(cfg, tmp_path / "r", progress=False)
    with pytest.raises(SpikehlsError, match="already holds a training run"):
        train(cfg, tmp_path / "r", progress=False)
    with pytest.raises(SpikehlsError, match="nothing to resume"):
        train(cfg, tmp_path / "other", resume=True, progress=False)
    changed = config_from_dict(_tiny(train={"epochs": 1}, sca={"p": 0.3}))
    with pytest.raises(SpikehlsError, match="sca.p differs"):
        train(changed, tmp_path / "r", resume=True, progress=False)


def test_load_run_reproduces_best_accuracy(tmp_path):
    s = train(config_from_dict(_tiny()), tmp_path / "r", progress=False)
    cfg, model, masks, summary = load_run(tmp_path / "r")
    assert summary == s and not model.training
    assert masks.kept() == s["channels_kept"]
    from spikehls.training.datasets import load_dataset

    _, test = load_dataset(cfg.dataset, cfg.train.seed)
    assert evaluate(model, test, cfg, torch.device("cpu"))["test_acc"] == s["test_accuracy"]
    with pytest.raises(SpikehlsError, match="not a training run"):
        load_run(tmp_path / "missing")


@pytest.mark.parametrize("preset,tied", [("resnet_small", ("stem.conv", "stages.0.0.conv2")),
                                         ("preresnet_small", ("stem", "blocks.0.conv2"))])
def test_residual_runs(tmp_path, preset, tied):
    arch = "resnet" if preset == "resnet_small" else "preresnet"
    cfg = config_from_dict(_tiny(model={"preset": preset, "arch": arch, "layers": None}, train={"epochs": 2}))
    s = train(cfg, tmp_path / "r", progress=False)
    counts = s["channels_per_layer"]
    assert counts[tied[0]] == counts[tied[1]]
    assert s["channels_kept"] < s["channels_total"]


# ---- CLI ------------------------------------------------------------------------------------------


def _write(tmp_path: Path, data) -> str:
    p = tmp_path / "c.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(p)


def test_cli_train_and_summary(tmp_path, capsys):
    rc = main(["train", "--config", _write(tmp_path, _tiny()), "--out", str(tmp_path / "r"), "--epochs", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "test acc" in out and "channels" in out and "SynOps" in out
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["epochs"] == 2
    rc = main(["train", "--config", _write(tmp_path, _tiny()), "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("error:") and "--resume" in err
    rc = main(["train", "--out", str(tmp_path / "r"), "--resume", "--epochs", "3", "--no-progress"])
    assert rc == 0 and len(_metrics(tmp_path / "r")) == 3


@pytest.mark.parametrize(
    "content,needle",
    [
        ("dataset: [unclosed", "invalid YAML"),
        ({"sca": {"p": 0.9, "q": 0.2}}, "sca.p + sca.q"),
        ({"train": {"time_steps": 0}}, "train.time_steps"),
        ({"dataset": {"name": "mnist", "path": "/nonexistent/mnist"}}, "/nonexistent/mnist"),
        ({"model": {"preset": "resnet_small", "arch": "vgg"}}, "model.arch"),
        ({"sca": {"layer_caps": {"nope": 2}}}, "unknown layer 'nope'"),
    ],
)
def test_cli_bad_input_one_line_exit_2(tmp_path, capsys, content, needle):
    rc = main(["train", "--config", _write(tmp_path, content), "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error:") and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "r" / "summary.json").exists()


def test_cli_bad_option_value(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--device", "tpu"])
    assert e.value.code == 2 and capsys.readouterr().err.startswith("error:")


@pytest.mark.slow
def test_default_config_reaches_90_percent(tmp_path):
    s = train(load_config(None), tmp_path / "r", progress=False)
    assert s["test_accuracy"] >= 0.90
    assert s["channels_kept"] < s["channels_total"]


def test_eval_every_skips_evaluation_but_not_the_last_epoch(tmp_path):
    s = train(config_from_dict(_tiny(train={"epochs": 3, "eval_every": 2})), tmp_path / "r", progress=False)
    rows = _metrics(tmp_path / "r")
    assert [r["test_acc"] is None for r in rows] == [True, False, False]
    assert s["best_epoch"] in (2, 3)


@pytest.mark.parametrize("sca", [True, False])
def test_init_from_checkpoint_and_masks(tmp_path, sca):
    """The co-design loop's use: fine-tune a trained, pruned run under new masks."""
    cfg = config_from_dict(_tiny(train={"epochs": 2}))
    train(cfg, tmp_path / "a", progress=False)
    masks = Masks.load(tmp_path / "a" / "masks.json")
    g0 = next(iter(masks.groups))
    keep = masks[g0].copy()
    keep[np.flatnonzero(keep)[1:]] = False  # keep only one channel of the first group
    masks.groups[g0].keep = keep
    cfg2 = config_from_dict(_tiny(train={"epochs": 1}, sca={"enabled": sca, "layer_caps": {g0: 1}}))
    s = train(cfg2, tmp_path / "b", progress=False, init_from=tmp_path / "a" / "checkpoint.pt", init_masks=masks)
    rows = _metrics(tmp_path / "b")
    assert rows[0]["best"]  # starts pruned: the first epoch qualifies
    assert s["channels_per_layer"][g0]["kept"] == 1
    _, model, m_back, _ = load_run(tmp_path / "b")
    conv = model.get_submodule(g0)
    assert int(conv.weight.flatten(1).ne(0).any(1).sum()) == 1
    with pytest.raises(SpikehlsError, match="not found"):
        train(cfg2, tmp_path / "c", progress=False, init_from=tmp_path / "nope")


def test_stop_before_any_pruned_epoch_still_gives_a_checkpoint(tmp_path):
    s = train(config_from_dict(_tiny()), tmp_path / "r", progress=False, on_epoch=lambda r: False)
    assert s["best_epoch"] == 1 and (tmp_path / "r" / "checkpoint.pt").is_file()
    # the state after the first mask update, evaluated as saved
    assert load_run(tmp_path / "r")[2].kept() == s["channels_kept"] == 5


def test_qat_during_sca_trains_with_quantized_weights_and_exports(tmp_path):
    """quant.qat_during_sca: the training model's convs fake-quantize their weights from the start."""
    from spikehls.quantize.export_run import export_run

    cfg = config_from_dict(_tiny(quant={"qat_during_sca": True, "qat_epochs": 1, "test_vectors": 8}))
    s = train(cfg, tmp_path / "q", progress=False)
    assert 0.0 <= s["test_accuracy"] <= 1.0
    ex = export_run(tmp_path / "q", progress=False, log=lambda m: None)
    assert ex["qat"]["during_sca"] is True
    assert ex["reference_mismatches"] == 0 and ex["qonnx_mismatches"] == 0


# ---- SCA masking modes: regrowth really happens, and "best" is what slimming builds ----------------
def _slimmed_accuracy(run_dir: Path) -> float:
    from spikehls.quantize.export_run import slimmed_accuracy

    acc, kept, dense = slimmed_accuracy(run_dir)
    assert kept["channels"] < dense["channels"]  # really smaller
    return acc


def test_epoch_masking_revives_channels_and_best_equals_slimmed(tmp_path):
    cfg = config_from_dict(_tiny(train={"epochs": 5}, sca={"p": 0.5, "q": 0.2, "masking": "epoch"},
                                 model={"layers": [8, "M", 12, "M"]}, optim={"lr": 0.01, "batch_size": 20}))
    s = train(cfg, tmp_path / "r", progress=False)
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    ups = [r["mask_update"] for r in rows if r["mask_update"]]
    assert len(ups) == 4 and all(u["masking"] == "epoch" for u in ups)
    assert sum(u["revived"] for u in ups[1:]) > 0  # a channel pruned at one update is kept at a later one
    assert (tmp_path / "r" / "structure.png").stat().st_size > 1000
    assert _slimmed_accuracy(tmp_path / "r") == s["test_accuracy"]


def test_step_masking_settles_after_the_first_update(tmp_path):
    cfg = config_from_dict(_tiny(train={"epochs": 4}, sca={"p": 0.5, "q": 0.2, "masking": "step"}))
    s = train(cfg, tmp_path / "r", progress=False)
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    ups = [r["mask_update"] for r in rows if r["mask_update"]]
    assert ups[0]["pruned"] > 0 and all(u["churn"] == 0 for u in ups[1:])  # one-shot pruning, as documented
    assert _slimmed_accuracy(tmp_path / "r") == s["test_accuracy"]


def test_distill_loss_is_hintons_mix():
    """(1 - w) CE + w T^2 KL(teacher_T || student_T): no KL term when the student already says what
    the teacher says; the KL term by hand otherwise."""
    from spikehls.training.trainer import distill_loss

    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(5, 10, generator=g), torch.randn(5, 10, generator=g)
    ce = torch.nn.functional.cross_entropy(s, torch.arange(5))
    assert torch.allclose(distill_loss(ce, s, s.clone(), 0.3, 4.0), 0.7 * ce)
    p_t = torch.softmax(t / 2.0, 1)
    kl = (p_t * (torch.log(p_t) - torch.log_softmax(s / 2.0, 1))).sum(1).mean()
    assert torch.allclose(distill_loss(ce, s, t, 1.0, 2.0), 4.0 * kl)


def test_distillation_learns_from_a_teacher_and_refuses_a_mismatched_one(tmp_path):
    teacher = tmp_path / "teacher"
    train(config_from_dict(_tiny(sca={"enabled": False})), teacher, progress=False)
    train(config_from_dict(_tiny(train={"epochs": 2})), tmp_path / "plain", progress=False)
    taught_cfg = config_from_dict(_tiny(train={"epochs": 2, "distill_from": str(teacher / "checkpoint.pt"),
                                               "distill_weight": 0.9}, quant={"qat_epochs": 1, "test_vectors": 8}))
    train(taught_cfg, tmp_path / "taught", progress=False)
    # same seed, same data order: only the teacher's term differs, and it changes what is learnt
    assert _metrics(tmp_path / "plain")[0]["loss"] != _metrics(tmp_path / "taught")[0]["loss"]
    assert load_config(tmp_path / "taught" / "config.yaml").train.distill_from == str(teacher / "checkpoint.pt")
    # the export's QAT is taught by the same teacher, and the integer network is still exact
    from spikehls.quantize.export_run import export_run

    lines: list[str] = []
    ex = export_run(tmp_path / "taught", progress=False, log=lines.append)
    assert any(ln.startswith("QAT taught by") for ln in lines), lines
    assert ex["reference_mismatches"] == 0 and ex["qonnx_mismatches"] == 0
    with pytest.raises(SpikehlsError, match=r"train.distill_from: .*T = 2; this run uses direct, T = 3"):
        train(config_from_dict(_tiny(train={"time_steps": 3, "distill_from": str(teacher)})), tmp_path / "t3",
              progress=False)
    with pytest.raises(SpikehlsError, match=r"train.distill_from: .*nowhere: not a trained run"):
        train(config_from_dict(_tiny(train={"distill_from": str(tmp_path / "nowhere")})), tmp_path / "t4",
              progress=False)
