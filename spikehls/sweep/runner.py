"""Running a sweep: the scheduler that turns points into training and point tasks.

:func:`run_sweep` checks everything first (the sweep file was validated when loaded; here the
points are expanded and checked, Ray is connected, the results folder is checked and locked),
then keeps every worker busy:

* a point needs its training run (:mod:`spikehls.sweep.plan`); a warm-started SCA run needs its
  dense run. Each run is trained once, by one worker, whatever number of points share it; runs
  already in ``DIR/train/`` (a resumed sweep) are not trained again;
* a point whose run is trained goes to a worker: export, HLS, C-sim, report;
* every finished point is written to the results at once (:class:`ResultsStore`); a point whose
  training failed is recorded as failed with that error, and the others go on.

Longest chains first: dense runs are submitted before SCA runs, and runs before points.
Afterwards :func:`analyse` marks the Pareto fronts in ``results.csv``, writes
``pareto.json``/``pareto.png``/``axes.png`` and returns the front as a table.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from spikehls.console import bars_on
from spikehls.errors import SpikehlsError
from spikehls.fileio import write_json

from . import pareto
from .executors import make_executor
from .plan import PointPlan, TrainJob, plan_point, quant_override
from .points import Point
from .search import make_source
from .spec import SweepSpec
from .store import ResultsStore, normalise
from .tasks import RECORD_FORMAT, run_point_job, run_train_job

Log = Callable[[str], None]
_PRIORITY = {"dense": 0, "scratch": 1, "sca": 1}


@dataclass
class _Run:
    job: TrainJob
    state: str = "waiting"  # waiting | ready | running | done | failed
    error: Optional[str] = None
    seconds: Optional[float] = None
    points: list[PointPlan] = field(default_factory=list)


@dataclass
class SweepResult:
    out: Path
    total: int
    done: int
    failed: int
    skipped: int
    trained: int
    seconds: float
    table: str


def run_sweep(spec: SweepSpec, out: str | Path, *, workers: Optional[int] = None, ray_address: Optional[str] = None,
              progress: bool = True, retry_failed: bool = False, log: Log = print, executor=None,
              verify: Optional[str] = None) -> SweepResult:
    """Run (or resume) the sweep ``spec`` into ``out``; returns counts and the Pareto table.

    ``executor`` overrides the one ``workers``/``ray_address`` choose (e.g. ``SerialExecutor()``).
    ``verify="yosys"``: every point's Verilog twin is also synthesized and its yosys totals recorded
    beside the estimate (the fronts stay on the estimate, one source per figure).
    ``verify="yosys-layers"``: for designs too large to synthesize whole, the largest layers of every
    exact point alone, and the model's LUT / FF scaled by their measured ratio, recorded as that
    indication in ``yosys_layers_*`` fields (:func:`spikehls.sweep.tasks.yosys_layers_record`).
    ``verify`` is part of the folder's identity: resuming a folder made with another one is refused
    (:meth:`ResultsStore.check_reusable`), so that one table never mixes measurement sources.
    """
    from spikehls.verify_sources import VERIFY_SOURCES

    if verify not in VERIFY_SOURCES:
        from spikehls.errors import SpikehlsError

        raise SpikehlsError(f"--verify: unknown source '{verify}' (allowed: {', '.join(v for v in VERIFY_SOURCES if v)})")
    from spikehls.fileio import check_out_dir

    out = Path(out).resolve()
    check_out_dir(out, "sweep", inputs=[spec.source] if spec.source and Path(spec.source).exists() else [])  # never a foreign folder
    ResultsStore.check_reusable(out, spec, verify)  # before Ray or any folder is touched
    executor = executor or make_executor(workers, ray_address)  # an unreachable Ray address fails here
    try:
        with ResultsStore(out, spec, verify) as store:
            source = make_source(spec, store.records)
            return _Scheduler(spec, out, store, source, executor, progress, retry_failed, log, verify).run()
    except BaseException:
        executor.shutdown(cancel=True)
        raise
    finally:
        executor.shutdown()


class _Scheduler:
    def __init__(self, spec: SweepSpec, out: Path, store: ResultsStore, source, executor, progress: bool,
                 retry_failed: bool, log: Log, verify: Optional[str] = None):
        self.spec, self.out, self.store, self.source, self.ex = spec, out, store, source, executor
        self.verify = verify
        self.progress, self.log = progress, log
        self.skip = store.finished(retry_failed)
        self.runs: dict[str, _Run] = {}
        self.ready_points: list[PointPlan] = []
        self.inflight: dict[Any, tuple[str, Any]] = {}  # handle -> ("train", key) | ("point", plan)
        self.done = self.failed = self.skipped = self.trained = 0
        self.seen: set[str] = set()
        self.bar = None
        self._last_postfix = ""
        self.train_fn, self.point_fn = run_train_job, run_point_job  # module-level functions: picklable for workers

    # ---- bookkeeping ------------------------------------------------------------------------
    def _remove_stale_tmp(self) -> None:
        """Training folders a killed sweep left half-written (we hold the folder's lock: nobody else uses them)."""
        for tmp in (self.out / "train").glob(".*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)

    def _train_dir(self, key: str) -> Path:
        return self.out / "train" / key

    def _add_run(self, job: TrainJob) -> _Run:
        run = self.runs.get(job.key)
        if run is None:
            run = self.runs[job.key] = _Run(job)
            summary = self._train_dir(job.key) / "summary.json"
            if summary.is_file():  # trained by an earlier, interrupted, sweep
                run.state = "done"
                run.seconds = round(float(json.loads(summary.read_text()).get("seconds") or 0.0), 2)
        return run

    def _add_point(self, plan: PointPlan) -> None:
        if plan.dense is not None:
            self._add_run(plan.dense)
        run = self._add_run(plan.train)
        if run.state == "done":
            self.ready_points.append(plan)
        elif run.state == "failed":
            self._record_failure(plan, f"training run {run.job.key} failed: {run.error}")
        else:
            run.points.append(plan)

    def _pull_points(self) -> None:
        """Take points from the source: all of a static sweep; for Optuna, enough to keep workers busy."""
        while not self.source.exhausted():
            want = self.ex.capacity - len(self.inflight) - len(self.ready_points) - self._points_waiting()
            if self.spec.search != "optuna":
                want = 1 << 30
            if want <= 0:
                return
            batch = self.source.ask(want)
            if not batch:
                return
            for p in batch:
                if p.id in self.seen:
                    continue
                self.seen.add(p.id)
                if p.id in self.skip:
                    self.skipped += 1
                    self.source.tell(p, self.store.records[p.id])
                    continue
                self._add_point(plan_point(self.spec, p))

    def _points_waiting(self) -> int:
        return sum(len(r.points) for r in self.runs.values())

    def _next_run(self) -> Optional[_Run]:
        """The next run to train: wanted by a waiting point (directly, or as a warm start), dependency done."""
        wanted = [r for r in self.runs.values() if r.state == "waiting" and r.points]
        deps = [self.runs[r.job.warm_from] for r in wanted if r.job.warm_from]
        candidates: dict[str, _Run] = {}
        for r in deps + wanted:
            if r.state != "waiting" or r.job.key in candidates:
                continue
            dep = self.runs.get(r.job.warm_from) if r.job.warm_from else None
            if dep is not None and dep.state == "failed":
                self._fail_run(r, f"its dense run {dep.job.key} failed: {dep.error}")
            elif dep is None or dep.state == "done":
                candidates[r.job.key] = r
        return min(candidates.values(), key=lambda r: _PRIORITY[r.job.kind], default=None)

    def _fail_run(self, run: _Run, error: str) -> None:
        run.state, run.error = "failed", error
        for plan in run.points:
            self._record_failure(plan, f"training run {run.job.key} failed: {error}")
        run.points = []

    def _record_failure(self, plan: PointPlan, error: str) -> None:
        rec = {"format": RECORD_FORMAT, "id": plan.point.id, "settings": plan.point.settings,
               "train_key": plan.train.key, "warm_start": plan.train.warm_from, "status": "failed", "error": error}
        self._finish(plan.point, rec)

    def _finish(self, point: Point, rec: dict[str, Any]) -> None:
        rec = normalise(rec)  # a non-exact C-simulation is a failed point, whoever returned it
        self.store.add(rec)
        self.source.tell(point, rec)
        if rec["status"] == "ok":
            self.done += 1
        else:
            self.failed += 1
            self._say(f"point {point.id} ({point.label()}) failed: {rec['error']}")
        if self.bar is not None:
            self.bar.update(1)

    # ---- submitting -------------------------------------------------------------------------
    def _submit_train(self, run: _Run) -> None:
        job = {"key": run.job.key, "config": run.job.config, "dir": str(self._train_dir(run.job.key)),
               "init_from": str(self._train_dir(run.job.warm_from)) if run.job.warm_from else None}
        run.state = "running"
        self.inflight[self.ex.submit(self.train_fn, job)] = ("train", run.job.key)

    def _submit_point(self, plan: PointPlan) -> None:
        run = self.runs[plan.train.key]
        job = {"id": plan.point.id, "settings": plan.point.settings, "dir": str(self.out / "points" / plan.point.id),
               "train_dir": str(self._train_dir(plan.train.key)), "train_key": plan.train.key,
               "warm_start": plan.train.warm_from, "train_seconds": run.seconds,
               "config_yaml": plan.config.to_yaml(), "quant": quant_override(plan),
               "parallelism": plan.parallelism, "board": self.spec.board_ref, "verify": self.verify}
        self.inflight[self.ex.submit(self.point_fn, job)] = ("point", plan)

    def _fill(self) -> None:
        while len(self.inflight) < self.ex.capacity:
            run = self._next_run()
            if run is not None:
                self._submit_train(run)
            elif self.ready_points:
                self._submit_point(self.ready_points.pop(0))
            else:
                return

    # ---- results ----------------------------------------------------------------------------
    def _on_result(self, handle: Any, result: Any) -> None:
        kind, what = self.inflight.pop(handle)
        if kind == "train":
            run = self.runs[what]
            if isinstance(result, BaseException):
                result = {"ok": False, "error": f"worker died: {type(result).__name__}: {result}"}
            if result["ok"]:
                run.state, run.seconds = "done", result.get("seconds")
                self.trained += 0 if result.get("reused") else 1
                self.ready_points += run.points
                run.points = []
            else:
                self._say(f"training run {run.job.key} failed: {result['error']}")
                self._fail_run(run, result["error"])
        else:
            plan: PointPlan = what
            if isinstance(result, BaseException):
                self._record_failure(plan, f"worker died: {type(result).__name__}: {' '.join(str(result).split())}"[:500])
            else:
                self._finish(plan.point, result)

    def _say(self, msg: str) -> None:
        """A message that does not tear the progress bar."""
        if self.bar is not None and not self.bar.disable and self.log is print:
            self.bar.write(msg)
        else:
            self.log(msg)

    def _postfix(self) -> None:
        if self.bar is not None:
            running = sum(1 for k, _ in self.inflight.values() if k == "point")
            training = sum(1 for k, _ in self.inflight.values() if k == "train")
            text = f"done {self.done + self.skipped} running {running} training {training} failed {self.failed}"
            if text != self._last_postfix:
                self.bar.set_postfix_str(text)
                self._last_postfix = text

    def run(self) -> SweepResult:
        from tqdm import tqdm

        t0 = time.perf_counter()
        self._remove_stale_tmp()
        self._pull_points()
        total = getattr(self.source, "total", None)
        if self.skipped:
            self.log(f"resuming: {self.skipped} finished point(s) in {self.out / 'results.jsonl'} are skipped")
        self.bar = tqdm(total=total, initial=self.skipped, desc=f"sweep ({self.ex.name}, {self.ex.capacity} workers)",
                        unit="pt", disable=not bars_on(self.progress), dynamic_ncols=True)
        try:
            while True:
                self._pull_points()
                self._fill()
                self._postfix()
                if not self.inflight:
                    if self._points_waiting():  # cannot happen: every waiting run has a runnable chain
                        raise RuntimeError("sweep scheduler: points wait on runs that cannot start")
                    break  # nothing running and nothing to start: the source has no more points
                for handle, result in self.ex.wait(timeout=1.0):
                    self._on_result(handle, result)
        finally:
            self.bar.close()
        table = analyse(self.spec, self.out, self.store, self.log)
        return SweepResult(self.out, total or 0, self.done, self.failed, self.skipped, self.trained,
                           round(time.perf_counter() - t0, 1), table)


def analyse(spec: SweepSpec, out: Path, store: ResultsStore, log: Log = print) -> str:
    """Mark the fronts in results.csv, write pareto.json, pareto.png and axes.png; return the front table."""
    records = list(store.records.values())
    marks = pareto.fronts(records)
    store.write_csv(marks)
    axes = store.axes()
    obj = pareto.objectives(records)
    write_json(out / "pareto.json", {"accuracy": pareto.ACCURACY, "costs": obj,
                                     "fronts": {name: [i for i, m in marks.items() if name in m] for name in obj}})
    plots = (("pareto.png", lambda p: pareto.plot_pareto(records, p, f"{spec.board.name}: accuracy vs cost")),
             ("axes.png", lambda p: pareto.plot_axes(records, axes, p)))
    for name, plot in plots:
        try:
            plot(out / name)
        except Exception as err:  # noqa: BLE001 - a plot must never lose the results
            log(f"(no {name}: {err})")
    return pareto.format_front_table(records, axes, marks)


def load_results(out: str | Path) -> list[dict[str, Any]]:
    """The latest record of every point in a sweep folder (for notebooks and benchmarks)."""
    from .store import RESULTS_JSONL, latest, read_records

    p = Path(out) / RESULTS_JSONL
    if not p.is_file():
        raise SpikehlsError(f"{out}: no {RESULTS_JSONL} (not a sweep folder)")
    return list(latest(read_records(p)).values())
