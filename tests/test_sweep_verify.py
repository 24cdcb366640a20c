"""``spikehls sweep --verify yosys``: the model stays the inner loop, yosys figures recorded beside it (issue 13 item 3)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import spikehls.sweep.runner as runner
import spikehls.sweep.tasks as tasks
from spikehls.boards import load_board
from spikehls.errors import SpikehlsError
from spikehls.sweep import parse_sweep, run_sweep
from spikehls.sweep.executors import SerialExecutor

BASE = {"dataset": {"train_limit": 100, "test_limit": 40}, "train": {"epochs": 2, "time_steps": 2}}


def _spec():
    return parse_sweep({"base": BASE, "board": "pynq-z2", "axes": {"hls.parallelism": [4, 16]}, "finetune_epochs": 1},
                       "s.yaml")


def test_verify_passes_through_to_every_point_and_lands_in_the_csv(tmp_path, monkeypatch):
    seen = []

    def train(job):
        d = Path(job["dir"])
        d.mkdir(parents=True)
        (d / "summary.json").write_text("{}")
        return {"key": job["key"], "ok": True, "error": None, "seconds": 0.1, "reused": False}

    def point(job):
        seen.append(job["verify"])
        par = job["settings"]["hls.parallelism"]
        rec = {"format": "x", "id": job["id"], "settings": job["settings"], "train_key": job["train_key"],
               "status": "ok", "error": None, "quantized_accuracy": 0.9, "LUT": 1000 * par, "FF": 10, "BRAM18": 0,
               "URAM": 0, "DSP": 0, "csim_exact": True, "fits": True, "resource_source": "estimate"}
        if job["verify"] == "yosys":  # what tasks._point adds (yosys_record), with the source in the name
            rec.update({"yosys_LUT": 1300 * par, "yosys_FF": 12, "yosys_BRAM18": 0, "yosys_URAM": 0, "yosys_DSP": 0,
                        "fits_yosys": par < 16})
        return rec

    monkeypatch.setattr(runner, "run_train_job", train)
    monkeypatch.setattr(runner, "run_point_job", point)
    run_sweep(_spec(), tmp_path / "out", progress=False, log=lambda _: None, executor=SerialExecutor(), verify="yosys")
    assert seen == ["yosys", "yosys"]
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    by_par = {r["hls.parallelism"]: r for r in rows}
    assert by_par["4"]["LUT"] == "4000" and by_par["4"]["yosys_LUT"] == "5200"  # both sources, side by side
    assert by_par["16"]["fits_yosys"] == "False" and by_par["4"]["fits_yosys"] == "True"


def test_verify_unknown_source_is_refused(tmp_path):
    with pytest.raises(SpikehlsError, match="--verify: unknown source 'vivado'"):
        run_sweep(_spec(), tmp_path / "out", progress=False, executor=SerialExecutor(), verify="vivado")
    assert not (tmp_path / "out").exists()


def test_yosys_record_judges_the_fit_on_yosys_alone(tmp_path, monkeypatch):
    brd = load_board("pynq-z2")
    allowed = brd.allowed()
    fake = {"LUT": int(allowed["LUT"]) + 1, "FF": 10, "BRAM18": 0, "URAM": 0, "DSP": 0}
    monkeypatch.setattr("spikehls.hls.rtl.generate.generate_rtl", lambda prj: None)
    monkeypatch.setattr("spikehls.hls.rtl.synth.synth", lambda prj: {"total": fake, "yosys": "Yosys 0.70", "seconds": 1.0})
    rec = tasks.yosys_record(tmp_path, brd)
    assert rec["yosys_LUT"] == fake["LUT"] and rec["fits_yosys"] is False and rec["yosys_version"] == "Yosys 0.70"
    fake["LUT"] = 10
    assert tasks.yosys_record(tmp_path, brd)["fits_yosys"] is True


def test_cli_verify_choice_is_checked():
    p = subprocess.run([sys.executable, "-m", "spikehls", "sweep", "--config", "x.yaml", "--out", "o", "--verify", "vivado"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "invalid choice: 'vivado'" in p.stderr
