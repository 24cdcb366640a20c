"""The co-design loop end to end on digits, with board budgets the unpruned design exceeds."""

from __future__ import annotations

import json

import pytest

from spikehls.cli import main
from spikehls.codesign import codesign
from spikehls.config import config_from_dict

FAST = {
    "dataset": {"train_limit": 600},
    "train": {"epochs": 3},
    "quant": {"qat_epochs": 1, "test_vectors": 24},
    "codesign": {"epochs_per_iter": 1, "max_iters": 4},
}


def _board(tmp_path, lut: int, bram: int):
    p = tmp_path / "tight.yaml"
    p.write_text(
        "name: tight\npart: xc7z020clg400-1\nclock_mhz: 100\n"
        f"resources: {{LUT: {lut}, FF: 106400, BRAM18: {bram}, URAM: 0, DSP: 220}}\n"
        "budget: {LUT: 1.0, BRAM18: 1.0}\n"
    )
    return p


@pytest.mark.slow
def test_codesign_reaches_a_fitting_exact_design(tmp_path):
    cfg = config_from_dict(FAST)
    # first a generous board: it fits at once, and tells us the unpruned design's size
    roomy = codesign(cfg, "pynq-z2", tmp_path / "roomy", progress=False, log=lambda s: None)
    assert roomy["fits"] and len(roomy["iterations"]) == 1
    first = roomy["iterations"][0]
    assert first["csim_exact"]
    # now a board on which that design is over budget in LUT and in BRAM
    board = _board(tmp_path, lut=int(first["LUT"] * 0.75), bram=max(1, int(first["BRAM18"] * 0.6)))
    out = tmp_path / "cd"
    res = codesign(cfg, board, out, progress=False, log=lambda s: None)
    its = res["iterations"]
    assert not its[0]["fits"]
    assert res["fits"], json.dumps(its, indent=1, default=str)[:3000]
    final = next(r for r in its if r["iteration"] == res["final"]["iteration"])
    assert final["csim_exact"] and final["spike_mismatches"] == 0
    assert final["LUT"] <= int(first["LUT"] * 0.75) and final["BRAM18"] <= max(1, int(first["BRAM18"] * 0.6))
    saved = json.loads((out / "codesign.json").read_text())
    assert saved["fits"] and len(saved["iterations"]) == len(its)
    assert "plan" in saved["iterations"][0]
    assert (out / "codesign.png").stat().st_size > 1000
    assert json.loads((out / "hls" / "csim.json").read_text())["exact"]
    assert (out / "hls" / "build_prj.tcl").is_file()


def test_codesign_refuses_to_overwrite_a_previous_run(tmp_path, capsys):
    out = tmp_path / "cd"
    (out / "iter0").mkdir(parents=True)
    (out / "iter0" / "keep.txt").write_text("precious")
    rc = main(["codesign", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error:") and "already holds a co-design run" in err and "\n" not in err
    assert (out / "iter0" / "keep.txt").read_text() == "precious"


def test_run_with_an_unknown_board_fails_before_any_work(tmp_path, capsys):
    rc = main(["run", "--board", "nope", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown board 'nope'" in err and "pynq-z2" in err
    assert not (tmp_path / "r").exists()


def test_codesign_rejects_a_bad_config(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("codesign: {strategy: greedy}\n")
    rc = main(["codesign", "--config", str(cfg), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "codesign.strategy" in err and "cost_per_activity" in err
