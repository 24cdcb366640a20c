"""The sweep scheduler and results store, with fast stand-in tasks run in this process.

The stand-ins have the workers' interface (a job dict in, a result dict out; training writes
summary.json into the job's folder as the trainer does) and compute a record from the point's
settings, so resume, failure isolation, run sharing and the Pareto marks are checked in
milliseconds. The real tasks run end to end in test_sweep_e2e.py (slow).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

import spikehls.sweep.runner as runner
from spikehls.errors import SpikehlsError
from spikehls.sweep import load_results, parse_sweep, run_sweep
from spikehls.sweep.executors import SerialExecutor
from spikehls.sweep.pareto import front_mask, fronts, objectives
from spikehls.sweep.store import ResultsStore, read_records
from spikehls.sweep.tasks import run_point_job

BASE = {"dataset": {"train_limit": 100, "test_limit": 40}, "train": {"epochs": 2, "time_steps": 2}}
AXES = {"sca.p": [0.3, 0.6], "quant.w_bits": [2, 4], "hls.parallelism": [4, 16]}


def _spec(**kw):
    data = {"base": BASE, "board": "pynq-z2", "axes": AXES, "finetune_epochs": 1}
    data.update(kw)
    return parse_sweep(data, "s.yaml")


class Tasks:
    """Stand-in workers that log their calls."""

    def __init__(self, crash_after=None, fail_points=(), fail_runs=()):
        self.trained: list[str] = []
        self.points: list[str] = []
        self.crash_after, self.fail_points, self.fail_runs = crash_after, set(fail_points), set(fail_runs)

    def train(self, job):
        if job["init_from"]:  # a warm start needs its dense run finished first
            assert (Path(job["init_from"]) / "summary.json").is_file()
        self.trained.append(job["key"])
        if job["config"]["sca"]["p"] in self.fail_runs and job["config"]["sca"]["enabled"]:
            return {"key": job["key"], "ok": False, "error": "diverged", "seconds": 0.1, "reused": False}
        d = Path(job["dir"])
        d.mkdir(parents=True)
        (d / "summary.json").write_text("{}")
        return {"key": job["key"], "ok": True, "error": None, "seconds": 0.1, "reused": False}

    def point(self, job):
        if self.crash_after is not None and len(self.points) >= self.crash_after:
            raise KeyboardInterrupt  # the sweep killed between two points
        self.points.append(job["id"])
        s = job["settings"]
        base = {"format": "x", "id": job["id"], "settings": s, "train_key": job["train_key"],
                "warm_start": job["warm_start"], "train_seconds": job["train_seconds"]}
        if job["id"] in self.fail_points:
            return {**base, "status": "failed", "error": "g++ failed"}
        w, p, par = s["quant.w_bits"], s["sca.p"], s["hls.parallelism"]
        lut = 1000 * w * (1 - p) + 10 * par
        return {**base, "status": "ok", "error": None, "quantized_accuracy": 0.5 + 0.1 * w - 0.2 * p,
                "LUT": lut, "FF": lut / 2, "BRAM18": 4.0 * w, "URAM": 0, "DSP": 0,
                "utilization": {"LUT": lut / 42560, "FF": 0.01, "BRAM18": 0.1, "URAM": 0.0, "DSP": 0.0},
                "latency_us_worst": 1000.0 / par, "latency_us_activity": 100.0 / par + p, "fits": True, "csim_exact": True,
                "seconds": {"export": 0.1}, "wall_seconds": 0.2}


def _run(tmp_path, tasks, monkeypatch, spec=None, **kw):
    monkeypatch.setattr(runner, "run_train_job", tasks.train)
    monkeypatch.setattr(runner, "run_point_job", tasks.point)
    return run_sweep(spec or _spec(), tmp_path / "out", progress=False, log=lambda _: None,
                     executor=SerialExecutor(), **kw)


def _csv(tmp_path):
    with open(tmp_path / "out" / "results.csv") as fh:
        return list(csv.DictReader(fh))


def test_all_points_each_run_trained_once(tmp_path, monkeypatch):
    t = Tasks()
    res = _run(tmp_path, t, monkeypatch)
    assert (res.done, res.failed, res.skipped, res.trained) == (8, 0, 0, 3)
    assert len(t.points) == 8 and len(set(t.points)) == 8
    assert [k.split("-")[0] for k in t.trained] == ["dense", "sca", "sca"]  # dense first, once
    rows = _csv(tmp_path)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    assert {r["quant.w_bits"] for r in rows} == {"2", "4"}
    recs = load_results(tmp_path / "out")
    assert all(r["train_key"].startswith("sca-") and r["warm_start"].startswith("dense-") for r in recs)
    for f in ("pareto.png", "axes.png", "pareto.json", "sweep.json"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    assert "Pareto front" in res.table


def test_crash_between_points_then_resume_skips_finished(tmp_path, monkeypatch):
    first = Tasks(crash_after=3)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, first, monkeypatch)
    recs = read_records(tmp_path / "out" / "results.jsonl")
    assert [r["id"] for r in recs] == first.points and len(recs) == 3
    assert len(_csv(tmp_path)) == 3  # the CSV already holds every finished point
    with open(tmp_path / "out" / "results.jsonl", "a") as fh:
        fh.write('{"id": "torn-by-the-kil')  # a line cut short by the kill
    second = Tasks()
    res = _run(tmp_path, second, monkeypatch)
    assert res.skipped == 3 and res.done == 5
    assert set(second.points).isdisjoint(first.points) and len(second.points) == 5
    trained_before = set(first.trained)
    assert set(second.trained).isdisjoint(trained_before)  # finished runs are found on disk, not retrained
    rows = _csv(tmp_path)
    assert len(rows) == 8 and len({r["id"] for r in rows}) == 8
    # a third run has nothing left to do
    third = Tasks()
    res = _run(tmp_path, third, monkeypatch)
    assert (res.done, res.skipped, third.points, third.trained) == (0, 8, [], [])


def test_failing_point_and_failing_run_do_not_stop_the_others(tmp_path, monkeypatch):
    spec = _spec()
    from spikehls.sweep import expand

    pts = expand(spec)
    bad = next(p for p in pts if p.settings["sca.p"] == 0.3)
    t = Tasks(fail_points={bad.id}, fail_runs={0.6})
    res = _run(tmp_path, t, monkeypatch, spec)
    assert res.done == 3 and res.failed == 5
    recs = {r["id"]: r for r in load_results(tmp_path / "out")}
    assert recs[bad.id]["status"] == "failed" and recs[bad.id]["error"] == "g++ failed"
    for p in pts:
        if p.settings["sca.p"] == 0.6:
            assert recs[p.id]["status"] == "failed"
            assert recs[p.id]["error"].startswith("training run sca-") and "diverged" in recs[p.id]["error"]
    assert sum(r["status"] == "ok" for r in recs.values()) == 3
    # failed points are kept on resume, rerun with --retry-failed
    again = Tasks()
    assert _run(tmp_path, again, monkeypatch).skipped == 8 and again.points == []
    retry = Tasks()
    res = _run(tmp_path, retry, monkeypatch, retry_failed=True)
    assert len(retry.points) == 5 and res.failed == 0
    assert all(r["status"] == "ok" for r in load_results(tmp_path / "out"))
    assert len(read_records(tmp_path / "out" / "results.jsonl")) == 13  # history kept, latest wins


def test_real_point_job_records_its_error(tmp_path):
    rec = run_point_job({"id": "abc", "settings": {"quant.w_bits": 4}, "dir": str(tmp_path / "p"),
                         "train_dir": str(tmp_path / "missing"), "train_key": "k", "config_yaml": "{}\n",
                         "quant": {"w_bits": 4}, "parallelism": None, "board": "pynq-z2"})
    assert rec["status"] == "failed" and "missing" in rec["error"] and "\n" not in rec["error"]
    assert "Traceback" in (tmp_path / "p" / "log.txt").read_text()


class InexactTasks(Tasks):
    """Stand-ins whose best point (most accurate, cheapest) has a C-simulation that is not exact."""

    def __init__(self, inexact_id, status="ok"):
        super().__init__()
        self.inexact_id, self.status = inexact_id, status

    def point(self, job):
        rec = super().point(job)
        if job["id"] == self.inexact_id:
            rec.update(csim_exact=False, spike_mismatches=95142, readout_mismatches=3, quantized_accuracy=0.99,
                       LUT=1.0, FF=1.0, BRAM18=0.0, latency_us_worst=0.1, latency_us_activity=0.1, status=self.status)
        return rec


@pytest.mark.parametrize("status", ["ok", "failed"])
def test_inexact_point_is_failed_and_on_no_front(tmp_path, monkeypatch, capsys, status):
    """Issue 11: a point whose C-simulation is not exact is a failed point (named so), never on a
    front, whatever status the worker gave it; results.csv and the printed table have an exact column."""
    from spikehls.sweep import expand

    spec = _spec()
    bad = expand(spec)[0]
    res = _run(tmp_path, InexactTasks(bad.id, status), monkeypatch, spec)
    assert res.failed == 1 and res.done == 7
    rec = {r["id"]: r for r in load_results(tmp_path / "out")}[bad.id]
    assert rec["status"] == "failed" and rec["error"].startswith("C-simulation not exact: 95142 spike mismatches")
    assert fronts(list(load_results(tmp_path / "out")))[bad.id] == []
    rows = {r["id"]: r for r in _csv(tmp_path)}
    assert rows[bad.id]["exact"] == "False" and rows[bad.id]["status"] == "failed" and rows[bad.id]["pareto"] == ""
    assert all(r["exact"] == "True" for i, r in rows.items() if i != bad.id)
    saved = json.loads((tmp_path / "out" / "pareto.json").read_text())
    assert all(bad.id not in ids for ids in saved["fronts"].values())
    head = res.table.splitlines()
    assert "exact" in head[2].split() and bad.id not in "\n".join(head[3:])
    assert "1 point(s) failed: C-simulation not exact" in res.table and bad.id in head[1]


def test_old_ok_records_that_were_not_exact_read_as_failed(tmp_path):
    from spikehls.sweep.store import normalise

    old = {"id": "x", "status": "ok", "csim_exact": False, "spike_mismatches": 5, "readout_mismatches": 0,
           "quantized_accuracy": 0.9, "LUT": 1}
    assert normalise(old)["status"] == "failed" and "C-simulation not exact: 5 spike mismatches" in normalise(old)["error"]
    (tmp_path / "results.jsonl").write_text(json.dumps(old) + "\n")
    assert read_records(tmp_path / "results.jsonl")[0]["status"] == "failed"
    # no exactness recorded: not compared either
    assert fronts([{"id": "y", "status": "ok", "quantized_accuracy": 0.9, "LUT": 1}]) == {"y": []}


def test_real_point_job_fails_an_inexact_csim(tmp_path, monkeypatch):
    import spikehls.sweep.tasks as tasks

    monkeypatch.setattr(tasks, "_point", lambda job, pdir: {"csim_exact": False, "spike_mismatches": 7,
                                                            "readout_mismatches": 1, "project": str(pdir / "hls"),
                                                            "fits": True, "quantized_accuracy": 0.9})
    rec = tasks.run_point_job({"id": "abc", "settings": {}, "dir": str(tmp_path / "p"), "train_dir": "t",
                               "train_key": "k"})
    assert rec["status"] == "failed" and rec["error"].startswith("C-simulation not exact: 7 spike mismatches")
    assert rec["spike_mismatches"] == 7  # the figures stay in the record


def test_folder_of_another_sweep_or_in_use_is_refused(tmp_path, monkeypatch):
    _run(tmp_path, Tasks(), monkeypatch)
    other = _spec(base={**BASE, "train": {"epochs": 3, "time_steps": 2}})
    with pytest.raises(SpikehlsError, match="holds a sweep of another base config"):
        _run(tmp_path, Tasks(), monkeypatch, other)
    # more values on an axis is the same sweep, grown: only the new points run
    grown = _spec(axes={**AXES, "quant.w_bits": [2, 4, 8]})
    t = Tasks()
    res = _run(tmp_path, t, monkeypatch, grown)
    assert res.skipped == 8 and len(t.points) == 4
    with ResultsStore(tmp_path / "out", grown):
        with pytest.raises(SpikehlsError, match="another sweep is writing into this folder"):
            _run(tmp_path, Tasks(), monkeypatch, grown)


# ---- Pareto -----------------------------------------------------------------------------------


def _brute(acc, cost):
    pts = list(zip(acc, cost))
    return [not any((a2 >= a and c2 <= c) and (a2, c2) != (a, c) for a2, c2 in pts) for a, c in pts]


def test_front_mask_by_hand_and_against_brute_force():
    assert front_mask([0.9, 0.8, 0.95, 0.7], [10, 5, 20, 6]) == [True, True, True, False]
    assert front_mask([0.9, 0.9], [10, 10]) == [True, True]  # exact ties both stay
    assert front_mask([0.9, 0.9], [10, 11]) == [True, False]  # same accuracy, costlier
    assert front_mask([0.8, 0.9], [10, 10]) == [False, True]
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        acc = [rng.choice([0.5, 0.6, 0.7, 0.8]) for _ in range(n)]
        cost = [rng.choice([1, 2, 3, 4]) for _ in range(n)]
        assert front_mask(acc, cost) == _brute(acc, cost)


def test_fronts_skip_failed_points_and_zero_resources():
    recs = [
        {"id": "a", "status": "ok", "csim_exact": True, "quantized_accuracy": 0.9, "LUT": 100, "DSP": 0, "latency_us_worst": 5.0, "latency_us_activity": 2.0},
        {"id": "b", "status": "ok", "csim_exact": True, "quantized_accuracy": 0.8, "LUT": 50, "DSP": 0, "latency_us_worst": 9.0, "latency_us_activity": 1.0},
        {"id": "c", "status": "ok", "csim_exact": True, "quantized_accuracy": 0.7, "LUT": 60, "DSP": 0, "latency_us_worst": 1.0, "latency_us_activity": 3.0},
        {"id": "d", "status": "failed", "error": "x"},
    ]
    obj = objectives(recs)
    assert obj == {"LUT": "LUT", "latency": "latency_us_activity"}  # DSP all zero: no front
    assert fronts(recs) == {"a": ["LUT", "latency"], "b": ["LUT", "latency"], "c": [], "d": []}
    recs[0]["latency_us_activity"] = None  # not every point has the activity figure: the worst case for all
    assert objectives(recs)["latency"] == "latency_us_worst"
    assert fronts(recs)["c"] == ["latency"]


def test_pareto_column_in_csv_matches_fronts(tmp_path, monkeypatch):
    _run(tmp_path, Tasks(), monkeypatch)
    recs = load_results(tmp_path / "out")
    marks = fronts(recs)
    rows = {r["id"]: r for r in _csv(tmp_path)}
    assert any(marks.values())
    for rid, m in marks.items():
        assert rows[rid]["pareto"] == ";".join(m)
    saved = json.loads((tmp_path / "out" / "pareto.json").read_text())
    assert set(saved["fronts"]["LUT"]) == {i for i, m in marks.items() if "LUT" in m}


def test_real_train_jobs_warm_start_sca_from_the_dense_run(tmp_path):
    """The worker's training task: the dense run once, then an SCA run fine-tuned from it comes back pruned."""
    from spikehls.sweep import expand
    from spikehls.sweep.plan import plan_point
    from spikehls.sweep.tasks import run_train_job

    spec = _spec(base={"dataset": {"train_limit": 96, "test_limit": 32}, "train": {"epochs": 1, "time_steps": 2}},
                 axes={"sca.p": [0.5]}, finetune_epochs=2)
    plan = plan_point(spec, expand(spec)[0])
    dense_dir, sca_dir = tmp_path / plan.dense.key, tmp_path / plan.train.key
    r = run_train_job({"key": plan.dense.key, "config": plan.dense.config, "dir": str(dense_dir), "init_from": None})
    assert r["ok"] and not r["reused"], r
    r = run_train_job({"key": plan.train.key, "config": plan.train.config, "dir": str(sca_dir), "init_from": str(dense_dir)})
    assert r["ok"], r
    dense = json.loads((dense_dir / "summary.json").read_text())
    sca = json.loads((sca_dir / "summary.json").read_text())
    assert dense["channels_kept"] == dense["channels_total"] and dense["epochs"] == 1
    assert sca["epochs"] == 2 and sca["best_epoch"] == 2  # the unpruned first epoch cannot be the result
    assert sca["channels_kept"] < sca["channels_total"]
    again = run_train_job({"key": plan.dense.key, "config": plan.dense.config, "dir": str(dense_dir), "init_from": None})
    assert again["ok"] and again["reused"]  # finished runs are not trained twice
    bad = run_train_job({"key": "x", "config": {**plan.dense.config, "train": {"epochs": 0}}, "dir": str(tmp_path / "x"),
                         "init_from": None})
    assert not bad["ok"] and "train.epochs" in bad["error"] and not (tmp_path / "x").exists()


def test_optuna_search_budget_and_resume(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    axes = {"sca.p": {"low": 0.1, "high": 0.7}, "quant.w_bits": [2, 3, 4, 8], "hls.parallelism": [4, 16]}
    t = Tasks()
    res = _run(tmp_path, t, monkeypatch, _spec(axes=axes, search="optuna", budget=5, seed=1))
    assert res.done == 5 and len(set(t.points)) == 5
    recs = load_results(tmp_path / "out")
    assert all(0.1 <= r["settings"]["sca.p"] <= 0.7 and r["settings"]["quant.w_bits"] in (2, 3, 4, 8) for r in recs)
    # a larger budget on the same folder: the 5 finished points are given back to the study, 3 new ones run
    t2 = Tasks()
    res = _run(tmp_path, t2, monkeypatch, _spec(axes=axes, search="optuna", budget=8, seed=1))
    assert res.skipped == 0 and res.done == 3 and len(t2.points) == 3
    assert set(t2.points).isdisjoint(t.points)
    assert len(load_results(tmp_path / "out")) == 8
