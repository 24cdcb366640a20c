"""Clean errors (issue 11, items 7-9): every damaged file, bad value and impossible budget is one
``error:`` line naming the file and field, exit code 2, before any work; never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from spikehls.cli import main

TINY = {
    "dataset": {"train_limit": 64, "test_limit": 16},
    "model": {"layers": [4, "M"]},
    "train": {"epochs": 1},
    "quant": {"qat_epochs": 0, "test_vectors": 8},
}


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("run")
    (d / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    out = d / "run"
    assert main(["train", "--config", str(d / "tiny.yaml"), "--out", str(out), "--no-progress"]) == 0
    assert main(["export", "--run", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def project(run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prj") / "prj"
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(out)]) == 0
    return out


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: max(1, len(data) // 3)])
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    elif how == "empty":
        path.write_bytes(b"")
    else:  # not UTF-8
        path.write_bytes(b"\xff\xfe\x00" + data)


HOWS = ["truncated", "garbage", "empty", "latin1"]


# ---- item 7: damaged files ----------------------------------------------------------------------
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("name", ["checkpoint.pt", "config.yaml", "masks.json", "summary.json"])
def test_export_of_a_damaged_run(run, tmp_path, capsys, name, how):
    r = tmp_path / "r"
    shutil.copytree(run, r)
    _damage(r / name, how)
    rc = main(["export", "--run", str(r), "--no-progress"])
    if name in ("masks.json",):  # export reads the masks inside the checkpoint; masks.json is not an input
        assert rc in (0, 2)
        capsys.readouterr()
        return
    assert rc == 2
    assert name in _err(capsys)


@pytest.mark.parametrize("how", HOWS)
def test_resume_from_a_damaged_last_pt(run, tmp_path, capsys, how):
    r = tmp_path / "r"
    shutil.copytree(run, r)
    _damage(r / "last.pt", how)
    assert main(["train", "--out", str(r), "--resume", "--epochs", "2", "--no-progress"]) == 2
    assert "last.pt" in _err(capsys)


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("name", ["testvectors.npz", "model.qonnx.onnx"])
def test_hls_of_a_damaged_export(run, tmp_path, capsys, name, how):
    r = tmp_path / "r"
    shutil.copytree(run, r)
    _damage(r / name, how)
    assert main(["hls", "--run", str(r), "--board", "pynq-z2", "--out", str(tmp_path / "p")]) == 2
    assert name in _err(capsys)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("how", HOWS + ["fields"])
def test_csim_and_report_of_a_damaged_project(project, tmp_path, capsys, how):
    p = tmp_path / "p"
    shutil.copytree(project, p)
    if how == "fields":
        meta = json.loads((p / "spikehls.json").read_text())
        del meta["layers"][0]["output_size"]
        meta["time_steps"] = "four"
        (p / "spikehls.json").write_text(json.dumps(meta))
    else:
        _damage(p / "spikehls.json", how)
    assert main(["csim", "--project", str(p)]) == 2
    assert "spikehls.json" in _err(capsys)
    if how != "fields":
        assert main(["report", "--project", str(p)]) == 2
        assert "spikehls.json" in _err(capsys)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_csim_with_damaged_test_vectors(project, tmp_path, capsys, how):
    p = tmp_path / "p"
    shutil.copytree(project, p)
    _damage(p / "spikehls" / "testvectors.npz", how)
    assert main(["csim", "--project", str(p)]) == 2
    assert "testvectors.npz" in _err(capsys)


@pytest.mark.parametrize("how", HOWS)
def test_damaged_config_and_board_files(tmp_path, capsys, how):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train: {epochs: 1}\nmodel: {layers: [4, M]}\n")
    _damage(cfg, how)
    rc = main(["train", "--config", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"])
    if how == "empty":  # an empty YAML file is the default config: not an error
        capsys.readouterr()
        return
    assert rc == 2 and "c.yaml" in _err(capsys)
    assert not (tmp_path / "o").exists()
    board = tmp_path / "b.yaml"
    board.write_text("name: b\npart: xc7z020clg400-1\nclock_mhz: 100\nresources: {LUT: 1, FF: 1, BRAM18: 1, DSP: 1}\n")
    _damage(board, how)
    assert main(["boards", str(board)]) == 2
    assert "b.yaml" in _err(capsys)


def test_non_utf8_yaml_names_the_byte(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"train: {epochs: 1}\n# caf\xe9\n")
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "not UTF-8" in _err(capsys)


def test_empty_test_split(tmp_path, capsys):
    x = np.zeros((6, 1, 8, 8), np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array([0, 1, 0, 1, 0, 1]), x_test=x[:0], y_test=np.zeros(0, np.int64))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": {"name": "numpy", "path": str(tmp_path / "d.npz")}, "train": {"epochs": 1}}))
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = _err(capsys)
    assert "test split is empty" in err and "d.npz" in err


def test_no_traceback_from_the_console_script(tmp_path):
    """The installed entry point itself: a damaged checkpoint is one line on stderr, exit 2."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "checkpoint.pt").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "r" / "config.yaml").write_text("{}\n")
    p = subprocess.run([sys.executable, "-m", "spikehls", "export", "--run", str(tmp_path / "r")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and p.stderr.count("\n") == 1, p.stderr
    assert "checkpoint.pt" in p.stderr


# ---- item 8: every value checked, before any work, with one range per setting -------------------
@pytest.mark.parametrize("section,field,value,expect", [
    ("optim", "lr", float("inf"), "optim.lr"),
    ("optim", "lr", float("nan"), "optim.lr"),
    ("quant", "bias_bits", 28, "quant.bias_bits"),
    ("quant", "bias_bits", 1, "quant.bias_bits"),
    ("train", "epochs", True, "train.epochs"),
    ("train", "time_steps", 0, "train.time_steps"),
    ("neuron", "threshold", float("inf"), "neuron.threshold"),
    ("sca", "enabled", "yes", "sca.enabled"),
])
def test_bad_values_fail_before_work(tmp_path, capsys, section, field, value, expect):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({section: {field: value}}))
    for cmd in (["train", "--config", str(cfg), "--out", str(tmp_path / "o")],
                ["codesign", "--config", str(cfg), "--out", str(tmp_path / "o")]):
        assert main(cmd) == 2
        err = _err(capsys)
        assert "c.yaml" in err and expect in err
        assert not (tmp_path / "o").exists()


def test_bias_bits_has_one_range():
    from spikehls.config import QuantConfig, field_range

    assert field_range(QuantConfig, "bias_bits") == (2, 24)  # what the float32 QONNX export carries exactly


@pytest.mark.parametrize("args,expect", [
    (["--max-iters", "0"], "--max-iters 0"),
    (["--max-iters", "99"], "--max-iters 99"),
    (["--parallelism", "0"], "--parallelism 0"),
    (["--parallelism", "100000"], "--parallelism 100000"),
])
def test_codesign_options_fail_before_work(tmp_path, capsys, args, expect):
    assert main(["codesign", "--out", str(tmp_path / "o"), "--quiet", *args]) == 2
    assert expect in _err(capsys)
    assert not (tmp_path / "o").exists()


def test_codesign_from_a_missing_run(tmp_path, capsys):
    assert main(["codesign", "--from-run", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "--from-run" in _err(capsys)


def test_hls_parallelism_range(run, tmp_path, capsys):
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(tmp_path / "p"), "--parallelism", "0"]) == 2
    assert "--parallelism 0" in _err(capsys)


# ---- item 9: board files and infeasible budgets ----------------------------------------------------
GOOD_BOARD = {"name": "b", "part": "xc7z020clg400-1", "clock_mhz": 100,
              "resources": {"LUT": 53200, "FF": 106400, "BRAM18": 280, "URAM": 0, "DSP": 220}}


@pytest.mark.parametrize("patch,field", [
    ({"resources": {**GOOD_BOARD["resources"], "LUT": True}}, "resources.LUT"),
    ({"resources": {**GOOD_BOARD["resources"], "DSP": 1.5}}, "resources.DSP"),
    ({"part": ""}, "part"),
    ({"part": "   "}, "part"),
    ({"name": ""}, "name"),
    ({"clock_mhz": True}, "clock_mhz"),
    ({"clock_mhz": "100"}, "clock_mhz"),
    ({"budget": {"LUT": True}}, "budget.LUT"),
    ({"budget": {"LUT": float("nan")}}, "budget.LUT"),
    ({"hls": {"parallelism": True}}, "hls.parallelism"),
    ({"hls": {"max_latency_us": float("inf")}}, "hls.max_latency_us"),
])
def test_board_files_reject_wrong_types(tmp_path, capsys, patch, field):
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump({**GOOD_BOARD, **patch}))
    assert main(["boards", str(b)]) == 2
    err = _err(capsys)
    assert "b.yaml" in err and f": {field}:" in err
    assert main(["codesign", "--board", str(b), "--out", str(tmp_path / "o")]) == 2  # before any training
    assert field in _err(capsys) and not (tmp_path / "o").exists()


@pytest.mark.parametrize("which", ["LUT", "latency"])
def test_infeasible_budget_is_named_at_once(run, tmp_path, capsys, which):
    """Even one channel per layer cannot fit: said after the first iteration (no retraining), naming
    the board field; the record is kept."""
    board = dict(GOOD_BOARD)
    if which == "LUT":
        board["resources"] = {**GOOD_BOARD["resources"], "LUT": 150}
        board["budget"] = {"LUT": 1.0}
        field = "budget.LUT"
    else:
        board["hls"] = {"max_latency_us": 0.01}
        field = "hls.max_latency_us"
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(board))
    out = tmp_path / "cd"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"codesign": {"max_iters": 4, "epochs_per_iter": 1}, "quant": TINY["quant"]}))
    assert main(["codesign", "--from-run", str(run), "--config", str(cfg), "--board", str(b), "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "b.yaml" in err and field in err and "does not fit" in err
    rec = json.loads((out / "codesign.json").read_text())
    assert len(rec["iterations"]) == 1 and rec["infeasible"]["binding"] == [field]
    assert not (out / "iter1").exists()  # no retraining
