"""The two kinds of work a sweep hands to a worker (a local process or a Ray task).

Both take and return plain dicts (picklable, and the same for both runners) and never raise:
a failure comes back as ``{"ok": False, "error": "<one line>"}`` for a training run, or as a
point record with ``status: "failed"``, so one bad point cannot stop the others.

* :func:`run_train_job` trains one shared run into ``DIR/train/KEY`` (atomically: the folder
  appears only when training finished, so a killed run is simply trained again on resume).
* :func:`run_point_job` exports a trained run with the point's quantization settings, generates
  the HLS project, C-simulates it and reports, into ``DIR/points/ID/`` (``run/`` and ``hls/``),
  and returns the flat record of :func:`spikehls.flow.point_record` plus the point's settings;
  a point whose C-simulation is not spike-exact comes back ``failed`` ("C-simulation not exact:
  N spike mismatches, ..."), its figures kept for the record but never compared. With
  ``--verify`` an exact point is also measured with yosys (:func:`yosys_record`, the whole twin;
  :func:`yosys_layers_record`, its largest layers alone), in fields of their own.

Workers run one task at a time on one core: torch is limited to one thread, and everything the
stages print goes to the task's ``log.txt`` instead of the progress bar.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

RECORD_FORMAT = "spikehls.sweep.point/1"


def init_worker() -> None:
    """One core per worker: no intra-op thread pools fighting over the same cores."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send fd 1 and 2 (Python and C level) to ``path`` for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def one_line(err: BaseException) -> str:
    msg = " ".join(str(err).split()) or "(no message)"
    name = type(err).__name__
    text = msg if name == "SpikehlsError" else f"{name}: {msg}"
    return text[:500]


def not_exact_error(rec: dict[str, Any]) -> str:
    """The error of a point whose C-simulation is not spike-exact."""
    return (f"C-simulation not exact: {rec.get('spike_mismatches')} spike mismatches, "
            f"{rec.get('readout_mismatches')} readout mismatches (project {rec.get('project')})")


def run_train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train ``job['config']`` into ``job['dir']``, warm-started from ``job['init_from']`` if given."""
    init_worker()
    from spikehls.config import config_from_dict
    from spikehls.fileio import atomic_dir

    out = Path(job["dir"])
    t0 = time.perf_counter()
    if (out / "summary.json").is_file():
        return {"key": job["key"], "ok": True, "error": None, "seconds": _train_seconds(out), "reused": True}
    log = out.parent / f"{out.name}.log"
    try:
        cfg = config_from_dict(job["config"], f"train job {job['key']}")
        with _output_to(log), atomic_dir(out) as tmp:
            if job.get("init_from"):
                from spikehls.flow import train_stage

                train_stage(cfg, tmp, progress=False, init_from=Path(job["init_from"]) / "checkpoint.pt")
            else:
                from spikehls.training.trainer import train

                train(cfg, tmp, progress=False)
        return {"key": job["key"], "ok": True, "error": None, "seconds": _train_seconds(out), "reused": False,
                "wall_seconds": round(time.perf_counter() - t0, 2)}
    except Exception as err:  # noqa: BLE001 - reported, never raised: other points go on
        with open(log, "a") as fh:
            traceback.print_exc(file=fh)
        return {"key": job["key"], "ok": False, "error": one_line(err), "seconds": round(time.perf_counter() - t0, 2),
                "reused": False}


def _train_seconds(run_dir: Path) -> float:
    """The trainer's own time for the run (epochs only), the same whether it was trained now or before."""
    import json

    return round(float(json.loads((run_dir / "summary.json").read_text()).get("seconds") or 0.0), 2)


def run_point_job(job: dict[str, Any]) -> dict[str, Any]:
    """Export, HLS, C-sim and report one point; return its record (status ok or failed)."""
    init_worker()
    t0 = time.perf_counter()
    pdir = Path(job["dir"])
    base = {"format": RECORD_FORMAT, "id": job["id"], "settings": job["settings"], "train_key": job["train_key"],
            "warm_start": job.get("warm_start"), "train_seconds": job.get("train_seconds")}
    if pdir.exists():
        shutil.rmtree(pdir)  # a point that was interrupted: its record was never written, start it over
    pdir.mkdir(parents=True)
    try:
        with _output_to(pdir / "log.txt"):
            rec = _point(job, pdir)
        wall = round(time.perf_counter() - t0, 2)
        if not rec.get("csim_exact"):  # a design that differs from the reference is a failed point, never a result
            return {**base, **rec, "status": "failed", "error": not_exact_error(rec), "wall_seconds": wall}
        return {**base, "status": "ok", "error": None, **rec, "wall_seconds": wall}
    except Exception as err:  # noqa: BLE001 - recorded, never raised: other points go on
        with open(pdir / "log.txt", "a") as fh:
            traceback.print_exc(file=fh)
        return {**base, "status": "failed", "error": one_line(err), "wall_seconds": round(time.perf_counter() - t0, 2)}


def _point(job: dict[str, Any], pdir: Path) -> dict[str, Any]:
    from spikehls.boards import load_board
    from spikehls.fileio import write_text
    from spikehls.flow import csim_stage, hls_stage, point_record, report_stage
    from spikehls.quantize.export_run import export_run

    train_dir = Path(job["train_dir"])
    run_dir, prj_dir = pdir / "run", pdir / "hls"
    write_text(pdir / "config.yaml", job["config_yaml"])  # the point's whole run config
    board = load_board(job["board"])
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    export_run(train_dir, out_dir=run_dir, quant_override=job["quant"], progress=False, log=print)
    shutil.copy2(train_dir / "summary.json", run_dir / "summary.json")  # point_record reads the training summary
    seconds["export"] = time.perf_counter() - t
    t = time.perf_counter()
    hls_stage(run_dir, board, prj_dir, job.get("parallelism"))
    seconds["hls"] = time.perf_counter() - t
    t = time.perf_counter()
    csim_res = csim_stage(prj_dir)
    seconds["csim"] = time.perf_counter() - t
    t = time.perf_counter()
    report = report_stage(prj_dir, board)
    seconds["report"] = time.perf_counter() - t
    rec = point_record(run_dir, prj_dir, report, csim_res, seconds)
    verify = job.get("verify")
    if verify and rec.get("csim_exact"):  # a non-exact design is failed: nothing to measure
        t = time.perf_counter()
        rec.update(yosys_record(prj_dir, board) if verify == "yosys" else yosys_layers_record(prj_dir, board))
        # point_record copied the stage times already: this one goes into the record itself
        rec["seconds"][verify.replace("-", "_")] = round(time.perf_counter() - t, 2)
    return rec


def yosys_record(prj_dir: Path, board) -> dict[str, Any]:
    """Synthesize the project's Verilog twin; its totals as ``yosys_<KIND>`` plus ``fits_yosys``.

    Kept in their own fields (source: yosys) next to the estimate's, never mixed into them."""
    from spikehls.hls.rtl.compare import synth_over

    s, tot, over = synth_over(prj_dir, board)
    return {**{f"yosys_{k}": v for k, v in tot.items()}, "fits_yosys": not over, "yosys_version": s["yosys"]}


def yosys_layers_record(prj_dir: Path, board) -> dict[str, Any]:
    """``--verify yosys-layers``: the :data:`~spikehls.verify_sources.VERIFY_LAYERS` largest (as codesign) layers by the
    model, each synthesized alone (:func:`spikehls.hls.rtl.compare.layer_check`), for designs too
    large to synthesize whole.

    Recorded in ``yosys_layers_*`` fields of their own, never in the estimate's or the whole-design
    ``yosys_*`` ones: the measured / model ratio of LUT and FF on the checked layers, the share of
    the model's LUT they hold, whether their BRAM18 / URAM equal the model's, and the model's design
    totals scaled by the ratios (``yosys_layers_scaled_LUT`` / ``_FF``) -- an indication that assumes
    the unchecked layers are off by the same factor, not a measurement. ``fits_yosys_layers`` judges
    the scaled LUT / FF and the model's BRAM18 / URAM / DSP against the board's allowed budget (where a
    ratio cannot be formed, the model has no FF on the checked layers, that resource is the model's)."""
    from spikehls.hls.rtl.compare import layers_over
    from spikehls.verify_sources import VERIFY_LAYERS

    chk, ratios, judged, over = layers_over(prj_dir, board, VERIFY_LAYERS, log=print)
    c = chk["checked"]
    # the scaled figures only where a ratio scaled them (else the judgement is the model's own)
    scaled = {k: judged[k] if ratios[k] else None for k in ("LUT", "FF")}
    names = [r["layer"] for r in chk["layers"]]
    return {
        "yosys_layers_scope": f"{len(names)} largest layers by the model, each synthesized alone: {', '.join(names)}",
        "yosys_layers_LUT_ratio": ratios["LUT"], "yosys_layers_FF_ratio": ratios["FF"],
        "yosys_layers_scaled_LUT": scaled["LUT"], "yosys_layers_scaled_FF": scaled["FF"],
        "yosys_layers_share": c["share_of_model_total"], "yosys_layers_memories_equal": c["memories_equal"],
        "fits_yosys_layers": not over, "yosys_layers_over": over,
        "yosys_layers_source": "scaled: the model's design total x (yosys / model on the checked layers), an indication",
        "yosys_layers_detail": chk["layers"], "yosys_version": chk["yosys"],
    }
