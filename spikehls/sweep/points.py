"""Sweep points: their settings, stable ids, and the grid / random expansions.

A point is a mapping ``axis -> value``. Its id is a hash of exactly those settings (canonical
JSON, values as the run config stores them), so the same point gets the same id in every run of
the sweep, whatever the order of the axes or the search that proposed it: that is what lets a
killed sweep skip what it already finished. (What the sweep is made *around* -- base config,
board -- is checked separately with :meth:`SweepSpec.fingerprint`.)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass
from typing import Any, Union

from spikehls.errors import SpikehlsError

from .spec import RangeAxis, SweepSpec, apply_settings

ID_LEN = 12


def point_id(settings: dict[str, Any]) -> str:
    """Stable id of a point: a hash of its settings (order of axes irrelevant)."""
    canon = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:ID_LEN]


@dataclass(frozen=True)
class Point:
    settings: dict[str, Any]

    @property
    def id(self) -> str:  # noqa: A003
        return point_id(self.settings)

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.settings.items())


def grid_size(axes: dict[str, Union[list, RangeAxis]]) -> int:
    return math.prod(len(v) for v in axes.values() if isinstance(v, list))


def grid_points(spec: SweepSpec) -> list[Point]:
    """Every combination of the axes' values, in the order the file lists them."""
    names = list(spec.axes)
    return [Point(dict(zip(names, combo))) for combo in itertools.product(*(spec.axes[n] for n in names))]


def _sample(rng: random.Random, axis: Union[list, RangeAxis]) -> Any:
    if isinstance(axis, list):
        return axis[rng.randrange(len(axis))]
    lo, hi = axis.low, axis.high
    if axis.integer:
        if axis.log:
            return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
        return rng.randint(int(lo), int(hi))
    v = math.exp(rng.uniform(math.log(lo), math.log(hi))) if axis.log else rng.uniform(lo, hi)
    return float(f"{v:.6g}")  # readable ids and CSV; 6 significant digits are plenty for a sweep


def random_points(spec: SweepSpec) -> list[Point]:
    """``budget`` distinct points drawn with ``seed``: from the grid without replacement when every
    axis is a list (all of it when the grid is smaller than the budget), else sampled."""
    rng = random.Random(spec.seed)
    budget = spec.budget or 1
    if all(isinstance(v, list) for v in spec.axes.values()):
        grid = grid_points(spec)
        if budget >= len(grid):
            return grid
        return [grid[i] for i in sorted(rng.sample(range(len(grid)), budget))]
    out: dict[str, Point] = {}
    tries = 0
    while len(out) < budget and tries < budget * 100:
        tries += 1
        p = Point({n: _sample(rng, a) for n, a in spec.axes.items()})
        out.setdefault(p.id, p)
    return list(out.values())


def expand(spec: SweepSpec) -> list[Point]:
    """The static point list of a grid or random sweep, each checked against the run config.

    Optuna proposes points as results come in (see :mod:`spikehls.sweep.search`); it has none here.
    """
    if spec.search == "grid":
        pts = grid_points(spec)
        if spec.budget is not None and spec.budget < len(pts):
            raise SpikehlsError(f"{spec.source}: budget: the grid has {len(pts)} points but budget is {spec.budget} "
                                "(raise it, drop it, or use search: random)")
    elif spec.search == "random":
        pts = random_points(spec)
    else:
        return []
    for p in pts:
        apply_settings(spec.base, p.settings, spec.source)  # combined checks (e.g. sca.p + sca.q < 1)
    return pts
