"""Which training run each point uses: the reuse plan.

Training is the expensive part of a point, and most axes do not touch it. With ``reuse_dense``:

* points that differ only in ``quant.*`` or ``hls.*`` share one trained run and only re-export
  (the quantization settings are given to the export stage as an override);
* the dense model (SCA off) is trained once per distinct training setup without the ``sca``
  section -- i.e. per (dataset, model, neuron, encoding, T, optimiser, epochs, seed) -- and every
  SCA point fine-tunes from its checkpoint for ``finetune_epochs`` epochs, with its own p/q;
* a point with SCA off *is* the dense run.

Without ``reuse_dense`` every point trains its own run from scratch with the base epochs: the
baseline the benchmark compares against.

Runs are keyed by a hash of the config that made them (plus the run they started from), so the
key is also the run's folder name under ``DIR/train/`` and a finished run is found again on resume.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

from spikehls.config import Config, QuantConfig

from .points import Point
from .spec import SweepSpec, apply_settings

KEY_LEN = 12


@dataclass(frozen=True)
class TrainJob:
    key: str
    kind: str  # "dense" | "sca" (warm-started) | "scratch"
    config: dict  # the run config (JSON form) to train with
    warm_from: Optional[str]  # key of the run whose checkpoint.pt it starts from


@dataclass(frozen=True)
class PointPlan:
    point: Point
    config: Config  # the point's full run config
    parallelism: Optional[int]
    train: TrainJob
    dense: Optional[TrainJob]  # the job train.warm_from names, if any


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:KEY_LEN]


def _training_dump(cfg: Config) -> dict:
    """The part of a config that decides the trained weights (quant: export only; codesign: other command)."""
    d = cfg.model_dump(mode="json", exclude={"quant", "codesign"})
    if not cfg.sca.enabled:
        d["sca"] = {"enabled": False}  # p, q, ... mean nothing without SCA
    return d


def _train_config(cfg: Config, base: Config) -> dict:
    """The config a shared run is trained with: quant from the base (the point's goes to the export)."""
    d = cfg.model_dump(mode="json")
    d["quant"] = base.quant.model_dump(mode="json")
    return d


def plan_point(spec: SweepSpec, point: Point) -> PointPlan:
    cfg = apply_settings(spec.base, point.settings, spec.source)
    par = point.settings.get("hls.parallelism")
    if not spec.reuse_dense:
        job = TrainJob(key=f"scratch-{point.id}", kind="scratch", config=_train_config(cfg, spec.base), warm_from=None)
        return PointPlan(point, cfg, par, job, None)
    dense_cfg = cfg.model_copy(deep=True)
    dense_cfg.sca = dense_cfg.sca.model_copy(update={"enabled": False})
    dense = TrainJob(key=f"dense-{_hash(_training_dump(dense_cfg))}", kind="dense",
                     config=_train_config(dense_cfg, spec.base), warm_from=None)
    if not cfg.sca.enabled:
        return PointPlan(point, cfg, par, dense, None)
    sca_cfg = cfg.model_copy(deep=True)
    sca_cfg.train = sca_cfg.train.model_copy(update={"epochs": spec.finetune_epochs})
    key = f"sca-{_hash({'cfg': _training_dump(sca_cfg), 'from': dense.key})}"
    job = TrainJob(key=key, kind="sca", config=_train_config(sca_cfg, spec.base), warm_from=dense.key)
    return PointPlan(point, cfg, par, job, dense)


def quant_override(plan: PointPlan) -> dict:
    """The point's quantization settings, given to the export stage over the trained run's."""
    return {k: v for k, v in plan.config.quant.model_dump(mode="json").items() if k in QuantConfig.model_fields}
