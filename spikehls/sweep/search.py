"""Where the points come from, as the scheduler asks for them.

A grid or random sweep knows all its points up front (:class:`StaticSource`). An Optuna search
(:class:`OptunaSource`, optional dependency ``pip install optuna``) proposes the next points
from the results so far: multi-objective (maximise the quantized accuracy, minimise the worst
resource's share of the board budget) with the seeded NSGA-II sampler; on resume the finished
points are given back to the study first, so they count against the budget and guide it.
"""

from __future__ import annotations

from typing import Any, Optional

from spikehls.errors import SpikehlsError

from .points import Point, expand
from .spec import RangeAxis, SweepSpec, apply_settings


class StaticSource:
    def __init__(self, points: list[Point]):
        self.points = list(points)
        self._next = 0

    @property
    def total(self) -> int:
        return len(self.points)

    def ask(self, n: int) -> list[Point]:
        out = self.points[self._next:self._next + n]
        self._next += len(out)
        return out

    def tell(self, point: Point, record: dict[str, Any]) -> None:
        pass

    def exhausted(self) -> bool:
        return self._next >= len(self.points)


def _worst_util(record: dict[str, Any]) -> Optional[float]:
    u = [v for v in (record.get("utilization") or {}).values() if v is not None]
    return max(u) if u else None


class OptunaSource:
    """Ask/tell over an Optuna study; ``budget`` points in all (finished ones included)."""

    def __init__(self, spec: SweepSpec, finished: dict[str, dict[str, Any]]):
        try:
            import optuna
        except ImportError:
            raise SpikehlsError(f"{spec.source}: search: optuna needs Optuna (pip install optuna)") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.spec = spec
        self.total = int(spec.budget or 1)
        self.dists = {name: self._dist(ax) for name, ax in spec.axes.items()}
        sampler = optuna.samplers.NSGAIISampler(seed=spec.seed)
        self.study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        self._trials: dict[str, Any] = {}  # point id -> open trial
        self._known: set[str] = set()  # points the study already holds (finished before, or asked)
        self.asked = 0
        for rec in finished.values():
            if set(rec.get("settings", {})) == set(self.dists) and self.asked < self.total:
                self._add_finished(rec)

    def _dist(self, ax):
        d = self._optuna.distributions
        if isinstance(ax, RangeAxis):
            if ax.integer:
                return d.IntDistribution(int(ax.low), int(ax.high), log=ax.log)
            return d.FloatDistribution(ax.low, ax.high, log=ax.log)
        return d.CategoricalDistribution(ax)

    def _values(self, rec: dict[str, Any]) -> Optional[list[float]]:
        acc, util = rec.get("quantized_accuracy"), _worst_util(rec)
        if rec.get("status") != "ok" or acc is None or util is None:
            return None
        return [float(acc), float(util)]

    def _add_finished(self, rec: dict[str, Any]) -> None:
        ts = self._optuna.trial
        vals = self._values(rec)
        try:
            trial = ts.create_trial(params=dict(rec["settings"]), distributions=self.dists, values=vals,
                                    state=ts.TrialState.COMPLETE if vals else ts.TrialState.FAIL)
        except ValueError:
            return  # a value outside the current axes: not part of this search any more
        self.study.add_trial(trial)
        self._known.add(rec["id"])
        self.asked += 1

    def ask(self, n: int) -> list[Point]:
        out: list[Point] = []
        tries = 0
        while len(out) < n and self.asked < self.total and tries < 50 * max(n, 1):
            tries += 1
            trial = self.study.ask(self.dists)
            p = Point({name: trial.params[name] for name in self.spec.axes})
            if p.id in self._known:
                self.study.tell(trial, state=self._optuna.trial.TrialState.PRUNED)  # a repeat: draw again
                continue
            try:
                apply_settings(self.spec.base, p.settings, self.spec.source)
            except SpikehlsError:  # a combination the run config refuses (e.g. sca.p + sca.q >= 1)
                self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
                continue
            self._trials[p.id] = trial
            self._known.add(p.id)
            self.asked += 1
            out.append(p)
        return out

    def tell(self, point: Point, record: dict[str, Any]) -> None:
        trial = self._trials.pop(point.id, None)
        if trial is None:
            return
        vals = self._values(record)
        if vals is None:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, vals)

    def exhausted(self) -> bool:
        return self.asked >= self.total


def make_source(spec: SweepSpec, finished: dict[str, dict[str, Any]]):
    if spec.search == "optuna":
        return OptunaSource(spec, finished)
    return StaticSource(expand(spec))
