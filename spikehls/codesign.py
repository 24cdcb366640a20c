"""The hardware feedback loop: train with SCA -> HLS -> C-sim -> report -> caps -> train more.

``codesign(cfg, board, DIR)`` runs :func:`spikehls.flow.pipeline` once with the plain SCA rule
(the baseline, and the answer when the design already fits). While the report says the design
does not fit the board's budget (or its latency bound), it plans per-layer channel caps on the
integer network with the resource model (:mod:`spikehls.planning`), continues training from the
last checkpoint with those caps given to SCA (the planned channels removed at once, SCA then
prunes and regrows within the caps), and goes round again, up to ``codesign.max_iters`` times.
With ``codesign.distill`` each of those fine-tunings also learns from the first iteration's
network (knowledge distillation, :func:`spikehls.training.trainer.distill_loss`): the cut network
is taught by the wider one it was cut from, not by the labels alone.

Layout of DIR::

    DIR/iter0/ ...      one training run + export per iteration (iterK/hls/ is its project)
    DIR/hls/            the final HLS project (a copy of the last fitting iteration's)
    DIR/codesign.json   every iteration: caps, channels, accuracy, resources, latency, fits, plan
    DIR/codesign.png    the trajectory
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from spikehls.boards import RESOURCE_KINDS, Board, load_board
from spikehls.config import Config
from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_dir, atomic_path, lock_dir, read_json, write_json, write_text
from spikehls.flow import pipeline
from spikehls.verify_sources import VERIFY_LAYERS, VERIFY_SOURCES

FORMAT = "spikehls.codesign/1"
TRAIN_FILES = ("config.yaml", "checkpoint.pt", "masks.json", "metrics.jsonl", "summary.json", "last.pt")


def _min_channels(run_dir: Path, min_keep: float) -> dict[str, int]:
    """The planner's floor per group (keyed by the group's first conv in ``net``): ``min_keep`` of
    the group's full width (the model's, from the run's masks.json), at least one channel."""
    from spikehls.training.masks import Masks

    if min_keep <= 0:
        return {}
    floor = {}
    for gm in Masks.load(run_dir / "masks.json").groups.values():
        full = max(1, math.ceil(min_keep * len(gm.keep)))
        for m in gm.members:
            floor[m] = full
    return floor


def codesign(
    cfg: Config,
    board: Board | str | Path,
    out_dir: str | Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    parallelism: Optional[int] = None,
    from_run: Optional[str | Path] = None,
    quant_from_cfg: bool = False,
    verify: Optional[str] = None,
) -> dict[str, Any]:
    """Run the feedback loop into ``out_dir``; returns (and writes) the codesign.json content.

    ``from_run``: start from an existing training run (its checkpoint and config) instead of
    training iteration 0; the run directory itself is not modified (it is copied). The run's
    config is used with ``cfg``'s codesign section, and with its quant section too when
    ``quant_from_cfg`` (as ``spikehls export --config`` does: bits and QAT epochs are export
    settings, not part of the trained run).

    Rerun with the same setup on a folder left by an interrupted run, it resumes: the iterations
    recorded in ``codesign.json`` are reused, the one cut short is redone from its start.

    ``verify="yosys"``: a design the model says fits is synthesized (its Verilog twin, with
    yosys); if the yosys figures are over the budget, the budget the model plans against is
    scaled by the measured / estimated ratio of each resource over it and the loop goes on.
    Both figures are recorded per iteration. ``verify="yosys-layers"``: for designs too large to
    synthesize whole (hours of yosys), the :data:`VERIFY_LAYERS` largest layers by the model are
    synthesized each alone, and the model's LUT and FF totals scaled by their measured ratio (an
    indication, recorded as such) are judged the same way.
    """
    if verify not in VERIFY_SOURCES:
        raise SpikehlsError(f"--verify: unknown source '{verify}' (allowed: {', '.join(v for v in VERIFY_SOURCES if v)})")
    brd = board if isinstance(board, Board) else load_board(board)
    out = Path(out_dir)
    if from_run is not None:
        from spikehls.config import load_config

        src = Path(from_run)
        if not (src / "checkpoint.pt").is_file() or not (src / "config.yaml").is_file():
            raise SpikehlsError(f"{src}: not a training run (needs checkpoint.pt and config.yaml)")
        given = cfg
        cfg = load_config(src / "config.yaml")
        cfg.codesign = given.codesign
        if quant_from_cfg:
            cfg.quant = given.quant
    with lock_dir(out):  # a second co-design on the same folder is refused, naming this one
        return _codesign(cfg, brd, out, progress, log, parallelism, from_run, quant_from_cfg, verify)


def _setup(cfg: Config, brd: Board, parallelism: Optional[int], from_run) -> dict:
    """What a co-design folder was made with: a rerun with the same setup resumes it."""
    return {"config": cfg.model_dump(mode="json"), "board": brd.model_dump(mode="json", exclude={"source"}),
            "parallelism": parallelism, "from_run": str(Path(from_run).resolve()) if from_run is not None else None}


def check_codesign_dir(out: str | Path, from_run=None) -> Path:
    """``out`` may take a co-design run: new, empty, or an interrupted co-design run (resumed)."""
    from spikehls.fileio import check_out_dir

    out = Path(out)
    if out.is_dir() and not (out / "codesign.json").exists() and any(out.glob("iter[0-9]*")):
        raise SpikehlsError(f"{out}: already holds a co-design run that cannot be resumed (no codesign.json); "
                            "choose another --out (nothing was changed)")
    return check_out_dir(out, "codesign", inputs=[from_run])


def _previous(out: Path, setup: dict) -> list[dict]:
    """The finished iterations of an interrupted co-design run in ``out`` (none for a new folder)."""
    from spikehls.fileio import folder_kind, read_json

    cj = out / "codesign.json"
    check_codesign_dir(out, setup["from_run"])
    if folder_kind(out) == "empty" or not out.exists():
        return []
    data = read_json(cj, "co-design record (codesign.json)")
    if data.get("final"):
        raise SpikehlsError(f"{out}: already holds a finished co-design run ({cj}); choose another --out "
                            "(nothing was changed)")
    if data.get("setup") != setup:
        old = data.get("setup") or {}
        what = [k for k in ("config", "board", "parallelism", "from_run") if old.get(k) != setup[k]]
        raise SpikehlsError(f"{out}: holds an unfinished co-design run of another {', '.join(what) or 'setup'}; "
                            "rerun it with the same config, board and options to resume it, or choose another --out "
                            "(nothing was changed)")
    its = data.get("iterations")
    if not isinstance(its, list):
        raise SpikehlsError(f"{cj}: iterations: expected a list (damaged record: choose another --out)")
    return its


def _codesign(cfg: Config, brd: Board, out: Path, progress: bool, log: Callable[[str], None],
              parallelism: Optional[int], from_run, quant_from_cfg: bool, verify: Optional[str] = None) -> dict[str, Any]:
    from spikehls.planning import channel_activity, latency_scale, plan
    from spikehls.quantize.intnet import IntNet
    from spikehls.quantize.testvectors import load_testvectors
    from spikehls.training.masks import GroupMask, Masks

    setup = _setup(cfg, brd, parallelism, from_run)
    previous = _previous(out, setup)  # refuses a foreign, finished or different folder
    if previous:
        log(f"== resuming the co-design run in {out}: {len(previous)} iteration(s) already done")
    out.mkdir(parents=True, exist_ok=True)
    if from_run is not None and not previous:
        with atomic_dir(out / "iter0") as tmp:
            for name in TRAIN_FILES:
                if (Path(from_run) / name).is_file():
                    shutil.copy2(Path(from_run) / name, tmp / name)
            if quant_from_cfg:  # the export reads the run's config: it must hold the quant settings used
                write_text(tmp / "config.yaml", cfg.to_yaml())
    cd = cfg.codesign
    t_start = time.perf_counter()
    result: dict[str, Any] = {
        "format": FORMAT,
        "board": {"name": brd.name, "source": brd.source, "part": brd.part, "clock_mhz": brd.clock_mhz,
                  "backend": brd.hls.backend, "allowed": brd.allowed(), "max_latency_us": brd.hls.max_latency_us},
        "strategy": cd.strategy,
        "margin": cd.margin,
        "iterations": [],
        "fits": False,
        "final": None,
        "setup": setup,
    }
    if not previous:
        _write(out, result)  # before any iteration: marks the folder as a co-design run that can be resumed
    caps: dict[str, int] = dict(cfg.sca.layer_caps)
    board_target = brd  # what the design must fit; the model plans against plan_board
    plan_board = brd
    layer_par: Optional[dict[str, int]] = None
    init_from: Optional[Path] = None
    init_masks: Optional[Masks] = None
    run_dir: Optional[Path] = None
    retrain = True
    first_run: Optional[Path] = None  # iteration 0's training run: the teacher under codesign.distill
    for k in range(cd.max_iters):
        reuse_training = k == 0 and from_run is not None
        it_dir = out / f"iter{k}"
        cfg_k = cfg.model_copy(deep=True)
        if k > 0:
            cfg_k.sca.layer_caps = dict(caps)
            cfg_k.train.epochs = cd.epochs_per_iter
            if cd.distill and cfg_k.train.distill_from is None:
                cfg_k.train.distill_from = str(first_run)  # the widest, most accurate network teaches the cut one
        what = ("plain SCA" + (f" (trained run {from_run})" if from_run else "")) if k == 0 else (f"caps {caps}" if retrain else "same network") + (
            f", parallelism {layer_par}" if layer_par else "")
        log(f"== co-design iteration {k + 1}/{cd.max_iters}: {what}")
        if retrain:
            run_dir = it_dir
        if k < len(previous) and (it_dir / "hls" / "report.json").is_file():
            rec = previous[k]  # finished before the interruption: its folders are complete
            log("   (done before the interruption: reused)")
        else:
            previous = previous[:k]
            _drop_partial(it_dir, keep_training=reuse_training)
            rec = pipeline(cfg_k, plan_board, run_dir, it_dir / "hls", progress=progress, log=log, init_from=init_from,
                           init_masks=init_masks, parallelism=parallelism if layer_par is None else None,
                           layer_parallelism=layer_par, skip_train=not retrain or reuse_training,
                           skip_export=not retrain)
        if k == 0:
            first_run = run_dir
        rec["iteration"] = k
        rec["caps"] = dict(caps) if k > 0 else {}
        rec["retrained"] = retrain
        result["iterations"].append(rec)
        _log_iteration(rec, brd, log)
        done = rec["fits"] and rec["csim_exact"]
        if done and verify == "yosys":
            done, plan_board = verify_yosys(rec, it_dir / "hls", board_target, plan_board, log)
        elif done and verify == "yosys-layers":
            done, plan_board = verify_yosys_layers(rec, it_dir / "hls", board_target, plan_board, log)
        if not rec["csim_exact"]:  # a wrong design is a failed result, not one that merely does not fit
            result["error"] = not_exact_message(rec)
            log(f"   {result['error']}: co-design FAILED (the project is kept for inspection, not offered)")
            break
        if not done and k + 1 < cd.max_iters:
            net = IntNet.load(run_dir / "intnet.npz")
            _, _, ref = load_testvectors(run_dir / "testvectors.npz")
            report = read_json(it_dir / "hls" / "report.json", "report")
            pl = plan(net, plan_board, channel_activity(ref.spikes), rec["parallelism"] or parallelism, cd.margin,
                      cd.strategy, report.get("events"), log=log, progress=progress,
                      min_channels=_min_channels(run_dir, cd.min_keep), latency_scale=latency_scale(report, plan_board))
            rec["plan"] = pl.summary()
            log(f"   plan ({pl.strategy}): parallelism {pl.parallelism}, caps {pl.caps}; predicted fit {pl.fits}")
            if not pl.fits:
                # even the smallest design the model can plan is over budget: retraining cannot help
                result["infeasible"] = _infeasible(pl, brd, cd.margin)
                log(f"   {result['infeasible']['message']}: stopping")
                _write(out, result)
                break
            if not pl.steps:
                log("   the plan changes nothing: stopping")
                _write(out, result)
                break
            layer_par = dict(pl.parallelism)
            retrain = pl.removes_channels
            if retrain:
                caps = {**caps, **pl.caps}
                masks = Masks.load(run_dir / "masks.json")
                groups = {}
                for name, gm in masks.groups.items():
                    member = next((m for m in gm.members if m in pl.keep), None)
                    keep = gm.keep.copy()
                    if member is not None:
                        orig = np.nonzero(gm.keep)[0]
                        keep = np.zeros_like(gm.keep)
                        keep[orig[pl.keep[member]]] = True
                    groups[name] = GroupMask(list(gm.members), keep)
                init_masks = Masks(groups)
                init_from = run_dir / "checkpoint.pt"
        _write(out, result)
        if done:
            break

    if result.get("error"):
        return _failed(out, result, t_start, log)
    fitting = [r for r in result["iterations"] if r["fits"] and r["csim_exact"]]
    final = fitting[-1] if fitting else result["iterations"][-1]
    result["fits"] = bool(fitting)
    result["final"] = {"iteration": final["iteration"], "project": str(out / "hls"), "run_dir": final["run_dir"],
                       "parallelism": final.get("parallelism")}
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    with atomic_dir(out / "hls") as tmp:
        shutil.copytree(out / f"iter{final['iteration']}" / "hls", tmp, dirs_exist_ok=True)
    _write(out, result)
    try:
        plot_trajectory(result, out / "codesign.png")
    except Exception as err:  # a plot must never lose the results
        log(f"   (no plot: {err})")
    if result.get("infeasible"):
        raise SpikehlsError(result["infeasible"]["message"] + f"; co-design stopped after iteration {final['iteration']} "
                            f"(record: {out / 'codesign.json'})")
    return result


def _correct_budget(plan_board: Board, over: list[str], ratios: dict) -> Board:
    """The board to plan against next: each resource over budget has its budget fraction divided by
    its measured / estimated ratio, so the model (the fast inner loop) aims at what yosys measures."""
    budget = plan_board.budget.model_copy()
    for k in over:
        r = ratios.get(k)
        if r and r > 0:
            setattr(budget, k, max(1e-6, min(1.0, getattr(budget, k) / r)))
    return plan_board.model_copy(update={"budget": budget})


def verify_yosys_layers(rec: dict, prj: Path, target: Board, plan_board: Board, log: Callable[[str], None],
                        top: int = VERIFY_LAYERS) -> tuple[bool, Board]:
    """Like :func:`verify_yosys` on the ``top`` largest layers alone (:func:`spikehls.hls.rtl.compare.layer_check`).

    The design's LUT and FF are judged by the model's totals times the measured / estimated ratio of
    the checked layers -- an indication, recorded under ``yosys_layers`` with its scope, never as a
    yosys total; BRAM18 / URAM / DSP are the model's (exact: the layers' memories are compared too)."""
    from spikehls.boards import RESOURCE_KINDS
    from spikehls.hls.rtl.compare import layers_over

    chk, ratios, scaled, over = layers_over(prj, target, top, {k: rec.get(k) for k in RESOURCE_KINDS}, log=log)
    c, allowed = chk["checked"], target.allowed()
    rec["yosys_layers"] = {**chk, "ratio_to_estimate": ratios,
                           "design_scaled": {"source": "estimate x (yosys / estimate of the checked layers): an indication",
                                             **scaled},
                           "fits": not over}
    log(f"   yosys on the {len(chk['layers'])} largest layers alone: x{c['yosys_over_model']} LUT, x{c['FF_yosys_over_model']} FF "
        f"the model ({c['share_of_model_total']:.0%} of its LUT); design scaled: LUT {scaled['LUT']:,} of {allowed['LUT']:,.0f} allowed"
        f"{'' if c['memories_equal'] else '; BRAM18 / URAM differ from the model on a checked layer'}: "
        f"{'fits' if not over else 'over budget in ' + ', '.join(over)}")
    if not over:
        return True, plan_board
    nxt = _correct_budget(plan_board, over, ratios)
    rec["yosys_layers"]["planned_budget"] = {k: getattr(nxt.budget, k) for k in RESOURCE_KINDS}
    log(f"   the model plans against the budget corrected by the measured ratio: {rec['yosys_layers']['planned_budget']}")
    rec["fits"] = False
    return False, nxt


def verify_yosys(rec: dict, prj: Path, target: Board, plan_board: Board, log: Callable[[str], None]) -> tuple[bool, Board]:
    """Synthesize the twin of ``prj`` with yosys and judge it against ``target``'s budget.

    Returns (fits on yosys, the board to plan against next): where yosys is over the budget, each
    such resource's budget fraction is divided by its measured / estimated ratio, so the model
    (which stays the fast inner loop) aims at what yosys will measure."""
    from spikehls.boards import RESOURCE_KINDS
    from spikehls.hls.rtl.compare import synth_over

    s, measured, over = synth_over(prj, target)
    est = {k: rec.get(k) for k in RESOURCE_KINDS}
    ratios = {k: (measured[k] / est[k]) if est[k] else None for k in RESOURCE_KINDS}
    rec["yosys"] = {"source": "yosys", "version": s["yosys"], "total": measured, "ratio_to_estimate": ratios,
                    "fits": not over, "seconds": s["seconds"]}
    log(f"   yosys: LUT {measured['LUT']:,} (estimate {est['LUT']:,}), FF {measured['FF']:,}, BRAM18 {measured['BRAM18']}, "
        f"DSP {measured['DSP']}: {'fits' if not over else 'over budget in ' + ', '.join(over)}")
    if not over:
        return True, plan_board
    nxt = _correct_budget(plan_board, list(over), ratios)
    rec["yosys"]["planned_budget"] = {k: getattr(nxt.budget, k) for k in RESOURCE_KINDS}
    log(f"   the model plans against the budget corrected by the measured ratio: {rec['yosys']['planned_budget']}")
    rec["fits"] = False
    return False, nxt


def _drop_partial(it_dir: Path, keep_training: bool) -> None:
    """Remove what an interrupted iteration left in ``it_dir`` (a folder this loop made), so that it
    is redone from the start; with ``keep_training`` (the copied --from-run run) only its project."""
    from spikehls.fileio import folder_kind

    if not it_dir.exists():
        return
    if keep_training:
        if (it_dir / "hls").exists():
            shutil.rmtree(it_dir / "hls")
        return
    if folder_kind(it_dir) not in ("empty", "run"):
        raise SpikehlsError(f"{it_dir}: holds files the co-design loop did not write; move them away to resume")
    shutil.rmtree(it_dir)


def _infeasible(pl, brd: Board, margin: float) -> dict:
    """Which resources or bounds even the smallest planned design exceeds, as one message naming the
    board file and field."""
    from spikehls.planning import _latency_us

    allowed = brd.allowed()
    over = []
    for k in pl.binding:
        if k == "latency":
            used, lim = _latency_us(pl.report) * pl.latency_scale, brd.hls.max_latency_us * margin
            over.append({"field": "hls.max_latency_us", "used": used, "allowed": lim,
                         "text": f"hls.max_latency_us: needs {used:,.4g} us, the bound is {brd.hls.max_latency_us:g} us"
                                 f" (x margin {margin:g} = {lim:.4g} us)"})
        else:
            used, lim = float(pl.report["total"][k]), allowed[k] * margin
            over.append({"field": f"budget.{k}", "used": used, "allowed": lim,
                         "text": f"budget.{k}: needs {used:,.0f} {k}, {lim:,.0f} allowed "
                                 f"({getattr(brd.resources, k):,} x budget {getattr(brd.budget, k):g} x margin {margin:g})"})
    chans = ", ".join(f"{k} {v}" for k, v in pl.caps.items())
    msg = (f"{brd.source or brd.name}: {'; '.join(o['text'] for o in over)}: even the smallest design the model can plan "
           f"(channels kept: {chans or 'none prunable'}; parallelism {pl.parallelism}) does not fit this board")
    return {"binding": [o["field"] for o in over], "over": over, "message": msg}


def not_exact_message(rec: dict) -> str:
    """The failure of an iteration whose C-simulation differs from the integer reference."""
    return (f"C-simulation not exact: {rec.get('spike_mismatches')} spike mismatches, "
            f"{rec.get('readout_mismatches')} readout mismatches (iteration {rec.get('iteration')}, "
            f"project {rec.get('project')})")


def _failed(out: Path, result: dict, t_start: float, log: Callable[[str], None]) -> dict:
    """A failed co-design (C-simulation not exact): recorded as failed, no DIR/hls project offered."""
    last = result["iterations"][-1]
    result["fits"] = False
    result["status"] = "failed"
    result["final"] = {"iteration": last["iteration"], "project": None, "run_dir": last["run_dir"],
                       "parallelism": last.get("parallelism"), "inspect": last["project"]}
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    _write(out, result)
    try:
        plot_trajectory(result, out / "codesign.png")
    except Exception as err:  # a plot must never lose the results
        log(f"   (no plot: {err})")
    return result


def _log_iteration(rec: dict, brd: Board, log: Callable[[str], None]) -> None:
    util = rec["utilization"]
    worst = max(util, key=lambda r: util[r] or 0.0)
    log(f"   accuracy {rec['csim_accuracy']:.2%} (C-sim, {rec['csim_samples']} samples; quantized "
        f"{rec['quantized_accuracy']:.2%}), channels {rec['channels_kept']}/{rec['channels_total']}, "
        f"LUT {rec['LUT']:,.0f}, BRAM18 {rec['BRAM18']:,.0f}, DSP {rec['DSP']:,.0f}, "
        f"max use {worst} {util[worst]:.0%} of budget, fits: {'yes' if rec['fits'] else 'no'}")
    bound = brd.hls.max_latency_us
    if bound is not None:  # the latency the report checked against the bound (report_run.latency_for_bound)
        from spikehls.hls.report_run import latency_for_bound

        us = {"activity": rec.get("latency_us_activity"), "activity_max": rec.get("latency_us_activity_max"),
              "worst": rec.get("latency_us_worst")}
        lat, key = latency_for_bound({"us": us}, brd.hls.max_latency_of)
        if lat is not None:
            log(f"   latency {lat:,.1f} us{' (the slowest test vector)' if key == 'activity_max' else ''} against the bound "
                f"{bound:g} us (hls.max_latency_us): {'within' if lat <= bound else 'OVER'}")


def _write(out: Path, result: dict) -> None:
    write_json(out / "codesign.json", result)


def plot_trajectory(result: dict, path: Path) -> Path:
    """Accuracy (%) and budget use (% of allowed, with the budget and planning-margin lines) per iteration (PNG).

    Bars, not lines, for the budget: a one-iteration run (the design fitted at once) reads as well as a long one.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = result["iterations"]
    x = [r["iteration"] for r in its]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, style, label in (("float_accuracy", "^:", "float (test set)"), ("quantized_accuracy", "o-", "quantized (test set)"),
                              ("csim_accuracy", "s--", "C-simulation (test vectors)")):
        ys = [100.0 * r[key] if r.get(key) is not None else None for r in its]
        if any(y is not None for y in ys):
            ax[0].plot(x, ys, style, label=label)
            for xi, yi in zip(x, ys):
                if yi is not None and key == "quantized_accuracy":
                    ax[0].annotate(f"{yi:.1f} %", (xi, yi), textcoords="offset points", xytext=(0, 6), ha="center",
                                   fontsize="x-small")
    ax[0].set_xlabel("iteration")
    ax[0].set_ylabel("accuracy (%)")
    ax[0].set_title("accuracy per iteration", fontsize="medium")
    ax[0].legend(fontsize="small")
    kinds = [k for k in RESOURCE_KINDS if any(r["utilization"].get(k) for r in its)]
    width = 0.8 / max(1, len(kinds))
    for j, res in enumerate(kinds):
        ys = [100.0 * (r["utilization"].get(res) or 0.0) for r in its]
        ax[1].bar([xi + (j - (len(kinds) - 1) / 2) * width for xi in x], ys, width, label=res)
    ax[1].axhline(100.0, color="k", lw=1.2, ls="-", label="budget (100 % of allowed)")
    margin = result.get("margin")
    if margin:
        ax[1].axhline(100.0 * margin, color="tab:gray", lw=1, ls=":", label=f"planning margin ({100 * margin:.0f} %)")
    ax[1].set_xlabel("iteration")
    ax[1].set_ylabel("used / allowed (%)")
    src = its[-1].get("resource_source", "estimate") if its else "estimate"
    ax[1].set_title(f"budget use per iteration (source: {src})", fontsize="medium")
    ax[1].legend(fontsize="x-small", ncol=2)
    for a in ax:
        a.set_xticks(x)
        a.set_xlim(min(x) - 0.6, max(x) + 0.6) if x else None
    fig.suptitle(f"co-design on {result['board']['name']} ({result['strategy']}): {len(its)} iteration(s), "
                 f"{'fits' if result.get('fits') else 'does not fit'}")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
