"""Resource-vs-accuracy sweeps (``spikehls sweep``): many points of the flow, one results table.

* :mod:`.spec`      the sweep file (base config, board, axes, search) and its validation
* :mod:`.points`    points, their stable ids, grid and random expansion
* :mod:`.search`    where points come from (static list, or an Optuna study)
* :mod:`.plan`      which training run each point uses (shared and warm-started runs)
* :mod:`.tasks`     the work a worker does (train a run; export + HLS + C-sim + report a point)
* :mod:`.executors` local process pool or Ray
* :mod:`.store`     results.jsonl / results.csv that survive a kill, and resume
* :mod:`.pareto`    Pareto fronts, table and plots
* :mod:`.runner`    the scheduler tying these together (:func:`run_sweep`)
"""

from .points import Point, expand, point_id
from .runner import SweepResult, analyse, load_results, run_sweep
from .spec import SweepSpec, load_sweep, parse_sweep

__all__ = ["Point", "SweepResult", "SweepSpec", "analyse", "expand", "load_results", "load_sweep", "parse_sweep",
           "point_id", "run_sweep"]
