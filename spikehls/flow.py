"""The flow's stages as plain functions over directories, and one whole pass through them.

Every stage reads files the previous one wrote (DESIGN.md section 2), so each can also be run
alone from the command line. :func:`pipeline` chains them for one configuration:

    run_dir/   train  -> checkpoint.pt, masks.json, metrics.jsonl, summary.json
               export -> quantized.pt, intnet.npz, model.qonnx.onnx, testvectors.npz, export.json
    prj_dir/   hls    -> the hls4ml project (firmware, build_prj.tcl, tb_data, spikehls.json)
               csim   -> csim.json (spike-exact check against the integer reference)
               report -> report.json (estimate, or parsed Vitis/Vivado reports where present)

and returns one flat record (:func:`point_record`) that the co-design loop and sweeps store.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from spikehls.boards import RESOURCE_KINDS, Board, load_board
from spikehls.config import Config

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def train_stage(cfg: Config, run_dir: Path, progress: bool = True, init_from: Optional[Path] = None,
                init_masks: Any = None) -> dict:
    from spikehls.training.trainer import train

    return train(cfg, run_dir, progress=progress, init_from=init_from, init_masks=init_masks)


def export_stage(run_dir: Path, progress: bool = True, log: Log = print) -> dict:
    from spikehls.fileio import lock_dir
    from spikehls.quantize.export_run import export_run

    with lock_dir(run_dir):
        return export_run(run_dir, progress=progress, log=log)


def hls_stage(run_dir: Path, board: Board, prj_dir: Path, parallelism: Optional[int] = None,
              layer_parallelism: Optional[Mapping[str, int]] = None) -> None:
    from spikehls.hls.project import generate_project

    generate_project(run_dir / "model.qonnx.onnx", board, prj_dir, testvectors=run_dir / "testvectors.npz",
                     parallelism=parallelism, layer_overrides=layer_parallelism)


def csim_stage(prj_dir: Path, samples: Optional[int] = None) -> dict:
    from spikehls.hls.csim import csim

    return csim(prj_dir, samples=samples)


def report_stage(prj_dir: Path, board: Board, plot: bool = False) -> dict:
    from spikehls.hls.report_run import run_report

    return run_report(prj_dir, board, plot=plot)


def pipeline(
    cfg: Config,
    board: Board | str | Path,
    run_dir: str | Path,
    prj_dir: str | Path,
    *,
    progress: bool = True,
    log: Log = print,
    init_from: Optional[Path] = None,
    init_masks: Any = None,
    parallelism: Optional[int] = None,
    layer_parallelism: Optional[Mapping[str, int]] = None,
    plot: bool = False,
    skip_train: bool = False,
    skip_export: bool = False,
) -> dict:
    """Train, export, generate HLS, C-simulate and report one configuration.

    ``skip_train`` / ``skip_export`` reuse what ``run_dir`` already holds (a new HLS project with
    other parallelism needs neither).
    """
    brd = board if isinstance(board, Board) else load_board(board)
    run_dir, prj_dir = Path(run_dir), Path(prj_dir)
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    if not skip_train:
        log(f"[train] {run_dir}")
        train_stage(cfg, run_dir, progress, init_from, init_masks)
    seconds["train"] = time.perf_counter() - t
    t = time.perf_counter()
    if not skip_export:
        log(f"[export] quantization-aware fine-tuning, integer network, QONNX -> {run_dir}")
        export_stage(run_dir, progress, log=log if progress else _quiet)
    seconds["export"] = time.perf_counter() - t
    t = time.perf_counter()
    log(f"[hls] {brd.name} ({brd.part}, {brd.clock_mhz:g} MHz) -> {prj_dir}")
    hls_stage(run_dir, brd, prj_dir, parallelism, layer_parallelism)
    seconds["hls"] = time.perf_counter() - t
    t = time.perf_counter()
    csim_res = csim_stage(prj_dir)
    seconds["csim"] = time.perf_counter() - t
    log(f"[csim] {csim_res['samples']} samples: {'EXACT' if csim_res.get('exact') else 'NOT EXACT (a failed design)'}: "
        f"spike mismatches {csim_res['spike_mismatches']}, readout mismatches {csim_res['readout_mismatches']}")
    t = time.perf_counter()
    report = report_stage(prj_dir, brd, plot=plot)
    seconds["report"] = time.perf_counter() - t
    rec = point_record(run_dir, prj_dir, report, csim_res, seconds)
    rec["parallelism"] = {lyr["source_name"]: lyr["parallelism"] for lyr in _read_json(prj_dir / "spikehls.json").get(
        "layers", []) if "parallelism" in lyr and "source_name" in lyr}
    return rec


def point_record(run_dir: Path, prj_dir: Path, report: Mapping[str, Any], csim_res: Mapping[str, Any],
                 seconds: Mapping[str, float]) -> dict:
    """One flat record of a finished configuration (what codesign.json and sweeps store)."""
    train_sum = _read_json(run_dir / "summary.json")
    export_sum = _read_json(run_dir / "export.json")
    lat = report["latency"]
    return {
        "run_dir": str(run_dir),
        "project": str(prj_dir),
        "float_accuracy": export_sum.get("float_accuracy"),
        "quantized_accuracy": export_sum.get("quantized_accuracy"),
        "csim_accuracy": csim_res.get("accuracy"),
        "csim_samples": csim_res.get("samples"),
        "csim_exact": bool(csim_res.get("exact")),
        "spike_mismatches": csim_res.get("spike_mismatches"),
        "readout_mismatches": csim_res.get("readout_mismatches"),
        "channels_total": export_sum.get("channels", {}).get("dense"),
        "channels_kept": export_sum.get("channels", {}).get("kept"),
        "channels_per_layer": export_sum.get("channels", {}).get("per_layer"),
        "parameters_kept": export_sum.get("parameters", {}).get("kept"),
        "synops_per_sample": export_sum.get("synops_per_sample"),
        "train_accuracy_float_best": train_sum.get("test_accuracy"),
        "resource_source": report["source"],
        **{k: report["total"][k] for k in RESOURCE_KINDS},
        "utilization": report["utilization"]["of_budget"],
        "latency_cycles_worst": lat["cycles"]["worst"],
        "latency_cycles_activity": lat["cycles"].get("activity"),
        "latency_us_worst": lat["us"]["worst"],
        "latency_us_activity": lat["us"].get("activity"),
        "latency_us_activity_max": lat["us"].get("activity_max"),  # the slowest test sample
        "latency_us_activity_p99": lat["us"].get("activity_p99"),
        "fits": bool(report["fits"]),
        "over_budget": report.get("over_budget", {}),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def _read_json(path: Path) -> dict:
    from spikehls.fileio import read_json

    return read_json(path) if path.is_file() else {}
