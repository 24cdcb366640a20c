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


@pytest.mark.slow
def test_codesign_from_a_run_takes_quant_settings_only_when_asked(tmp_path):
    """``from_run``: the run's training config, the given codesign section, and the given quant
    section (bits, QAT epochs: export settings) only with ``quant_from_cfg`` (CLI: --config given)."""
    cfg = config_from_dict({**FAST, "codesign": {"max_iters": 1}})
    codesign(cfg, "pynq-z2", tmp_path / "first", progress=False, log=lambda s: None)
    run = tmp_path / "first" / "iter0"
    other = config_from_dict({**FAST, "quant": {"w_bits": 6, "qat_epochs": 2, "test_vectors": 24}, "codesign": {"max_iters": 1}})
    for flag, bits, epochs in ((False, 4, 1), (True, 6, 2)):
        out = tmp_path / f"from-{flag}"
        res = codesign(other, "pynq-z2", out, progress=False, log=lambda s: None, from_run=run, quant_from_cfg=flag)
        assert res["iterations"][0]["csim_exact"]
        exp = json.loads((out / "iter0" / "export.json").read_text())
        assert set(exp["bits"]["weights"].values()) == {bits} and exp["qat"]["epochs"] == epochs
    from spikehls.config import load_config

    assert load_config(run / "config.yaml").quant.w_bits == 4  # the source run is untouched
    assert load_config(tmp_path / "from-True" / "iter0" / "config.yaml").quant.w_bits == 6  # the copy says what was used
