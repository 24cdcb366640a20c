"""The flow from Python: six functions, each one stage, each returning what a notebook wants.

    import spikehls

    summary = spikehls.train("runs/a", config={"train": {"epochs": 4}})   # dict (summary.json)
    exported = spikehls.export("runs/a")                                 # dict (export.json)
    model = spikehls.generate_hls("runs/a", "pynq-z2", "prj")            # hls4ml ModelGraph
    result = spikehls.csim("prj", samples="all")                          # dict (csim.json)
    report = spikehls.report("prj")                                       # dict (report.json)
    loop = spikehls.run_codesign("runs/cd", board="zcu104")               # dict (codesign.json)

Every function writes the same files as the command of the same name (so a later command, or a
later session, picks up where Python left off) and raises :class:`spikehls.SpikehlsError` (one
line naming the file or field) on bad input. ``config`` is a path to a YAML file, a mapping of
sections (validated like a file) or a :class:`spikehls.config.Config`; ``None`` is the default run
(scikit-learn's digits, nothing downloaded). Progress bars appear only on a terminal.

``generate_hls`` and ``run_codesign`` are the ``hls`` and ``codesign`` commands: ``spikehls.hls`` and
``spikehls.codesign`` are modules already (importing them would replace a function of that name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Union

ConfigLike = Union[None, str, Path, Mapping[str, Any], "Config"]  # noqa: F821


def load_config(config: ConfigLike = None):
    """A validated :class:`~spikehls.config.Config` from a path, a mapping, a Config or ``None`` (defaults)."""
    from spikehls.config import Config, config_from_dict
    from spikehls.config import load_config as _load

    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return config_from_dict(dict(config), "config mapping")
    return _load(config)


def train(out: str | Path, config: ConfigLike = None, *, resume: bool = False, progress: bool = True) -> dict:
    """Train an SNN with SCA pruning into ``out``; return the training summary (``out/summary.json``)."""
    from spikehls.fileio import check_out_dir
    from spikehls.training.trainer import train as _train

    cfg = load_config(config)
    if not resume:
        check_out_dir(out, "run")
    return _train(cfg, out, resume=resume, progress=progress)


def export(run: str | Path, *, progress: bool = True, log=print) -> dict:
    """Slim, fold BN, QAT, integer net, QONNX and test vectors of ``run``; return ``run/export.json``'s content."""
    from spikehls.quantize.export_run import export_run

    return export_run(run, progress=progress, log=log)


def generate_hls(run: str | Path, board: str | Path, out: str | Path, *, parallelism: Optional[int] = None,
        layer_parallelism: Optional[Mapping[str, int]] = None, force: bool = False, project_name: str = "myproject",
        namespace: Optional[str] = None, accelerator: bool = False):
    """Generate the hls4ml project of an exported ``run`` for ``board`` in ``out``; return the hls4ml ``ModelGraph``.

    The ModelGraph points at ``out``: ``compile()`` and ``predict()`` work as hls4ml users expect.
    """
    from spikehls.errors import SpikehlsError
    from spikehls.hls.project import generate_project

    run = Path(run)
    onnx_path = run / "model.qonnx.onnx"
    if not onnx_path.is_file():
        raise SpikehlsError(f"{onnx_path}: not found (run spikehls.export first)")
    tv = run / "testvectors.npz"
    return generate_project(onnx_path, board, out, testvectors=tv if tv.is_file() else None, parallelism=parallelism,
                            layer_overrides=layer_parallelism, replace=force, project_name=project_name,
                            namespace=namespace, accelerator=accelerator)


def csim(project: str | Path, *, samples: Optional[Union[int, str]] = None, junit: Optional[str | Path] = None,
         golden: Optional[str | Path] = None, save_golden: Optional[str | Path] = None) -> dict:
    """C-simulate ``project`` with g++ against the integer reference; return ``project/csim.json``'s content.

    ``result["exact"]`` is True when every spike and readout agrees; ``samples`` as ``spikehls csim --samples``.
    """
    from spikehls.hls.csim import csim as _csim

    return _csim(project, samples=samples, junit=junit, golden=golden, save_golden=save_golden)


def report(project: str | Path, *, board: Optional[str | Path] = None, plot: bool = False) -> dict:
    """Resources and latency of ``project`` against the board budget; return ``project/report.json``'s content.

    ``report["source"]`` says where the figures come from (the resource model's estimate, or parsed
    Vitis/Vivado reports where present).
    """
    from spikehls.hls.report_run import run_report

    return run_report(project, board, plot=plot)


def run_codesign(out: str | Path, config: ConfigLike = None, *, board: str | Path = "pynq-z2", progress: bool = True,
             parallelism: Optional[int] = None) -> dict:
    """The hardware feedback loop (train -> export -> HLS -> C-sim -> report -> caps -> ...) into ``out``.

    Returns ``out/codesign.json``'s content; the final project is ``out/hls`` when it fits.
    """
    from spikehls.boards import load_board
    from spikehls.codesign import codesign as _codesign

    return _codesign(load_config(config), load_board(board), out, progress=progress, parallelism=parallelism)
