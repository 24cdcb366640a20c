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
    from spikehls.config import load_config

    # codesign.distill: every fine-tuning after the first is taught by the first iteration's network.
    # A latency bound at the unpruned design's keeps the lanes, so the LUT budget takes channels
    from pathlib import Path

    slow = tmp_path / "tight-fast.yaml"
    slow.write_text(board.read_text().replace("budget:", f"hls: {{max_latency_us: {first['latency_us_activity'] * 1.02}}}\nbudget:"))
    taught = config_from_dict({**FAST, "codesign": {**FAST["codesign"], "distill": True}})
    out_t = tmp_path / "taught"
    res_t = codesign(taught, slow, out_t, progress=False, log=lambda s: None, from_run=out / "iter0")
    runs = {r["run_dir"] for r in res_t["iterations"] if r["iteration"] > 0 and r["retrained"]}
    assert runs, [(r["iteration"], r["retrained"], r["fits"]) for r in res_t["iterations"]]
    for d in runs:
        assert load_config(Path(d) / "config.yaml").train.distill_from == str(out_t / "iter0")
    assert load_config(out_t / "iter0" / "config.yaml").train.distill_from is None
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


def _fake_record(run_dir, prj_dir, exact: bool, fits: bool) -> dict:
    from spikehls.boards import RESOURCE_KINDS

    return {"run_dir": str(run_dir), "project": str(prj_dir), "float_accuracy": 0.9, "quantized_accuracy": 0.89,
            "csim_accuracy": 0.5, "csim_samples": 24, "csim_exact": exact, "spike_mismatches": 0 if exact else 95142,
            "readout_mismatches": 0 if exact else 17, "channels_total": 24, "channels_kept": 24,
            "channels_per_layer": {"conv0": 8}, "resource_source": "estimate", **{k: 10.0 for k in RESOURCE_KINDS},
            "utilization": {k: 0.1 for k in RESOURCE_KINDS}, "latency_cycles_worst": 100, "latency_us_worst": 1.0,
            "latency_us_activity": 0.5, "fits": fits, "parallelism": {"conv0": 4}}


@pytest.mark.parametrize("fits", [False, True])
def test_codesign_with_inexact_csim_is_a_failed_result(tmp_path, monkeypatch, capsys, fits):
    """Issue 11: a design whose C-simulation is not exact is a failed result, named so ("C-simulation
    not exact: N spike mismatches"), never "does NOT fit" with the project offered: no DIR/hls,
    codesign.json says failed, the CLI exits 1 and its summary points at the project for inspection only."""
    import spikehls.codesign as cdmod

    calls = []

    def fake_pipeline(cfg, brd, run_dir, prj_dir, **kw):
        calls.append(prj_dir)
        prj_dir.mkdir(parents=True)
        (prj_dir / "spikehls.json").write_text("{}")
        return _fake_record(run_dir, prj_dir, exact=False, fits=fits)

    monkeypatch.setattr(cdmod, "pipeline", fake_pipeline)
    out = tmp_path / "cd"
    rc = main(["codesign", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 1 and len(calls) == 1  # stops at once: planning more channels away cannot fix a wrong design
    saved = json.loads((out / "codesign.json").read_text())
    assert saved["status"] == "failed" and not saved["fits"]
    assert saved["error"].startswith("C-simulation not exact: 95142 spike mismatches, 17 readout mismatches")
    assert saved["final"]["project"] is None and not (out / "hls").exists()
    assert "co-design FAILED" in text and "C-simulation not exact: 95142 spike mismatches" in text
    assert "does NOT fit" not in text and "design fits" not in text and "vitis_hls" not in text
    assert "inspection only" in text


def test_summary_of_a_fitting_exact_design_offers_the_project(tmp_path):
    from spikehls.summary import format_summary

    rec = {**_fake_record(tmp_path / "r", tmp_path / "p", exact=True, fits=True), "iteration": 0}
    result = {"iterations": [rec], "final": {"iteration": 0, "project": str(tmp_path / "hls")}, "fits": True,
              "board": {"name": "b", "part": "p", "clock_mhz": 100, "allowed": {k: 100 for k in rec["utilization"]}}}
    text = format_summary(result, tmp_path)
    assert "design fits" in text and "vitis_hls" in text and "FAILED" not in text


def test_cli_distill_sets_codesign_distill(tmp_path, monkeypatch):
    """--distill is codesign.distill (off without it), passed to the loop before any work."""
    import spikehls.codesign as cdmod
    import spikehls.summary as summod

    seen = []
    monkeypatch.setattr(cdmod, "codesign", lambda cfg, *a, **kw: seen.append(cfg.codesign.distill) or {"fits": True})
    monkeypatch.setattr(summod, "print_summary", lambda result, out: None)
    assert main(["codesign", "--out", str(tmp_path / "a"), "--quiet", "--distill"]) == 0
    assert main(["codesign", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert seen == [True, False]
