"""The sweep file: what to vary, around which run config, for which board.

A sweep file is YAML::

    base: ../configs/digits.yaml     # a run config path (relative to this file) or an inline mapping
    board: pynq-z2                   # bundled board name or board YAML path
    search: grid                     # grid | random | optuna
    budget: 12                       # random / optuna: number of points (grid: optional cap, error if smaller)
    seed: 0                          # random / optuna sampling seed
    reuse_dense: true                # share training between points (see spikehls.sweep.plan)
    finetune_epochs: 3               # SCA epochs after warm-starting from the dense checkpoint
    axes:
      sca.p: [0.3, 0.5, 0.7]         # a dotted run-config field -> grid values
      quant.w_bits: [2, 4, 8]
      hls.parallelism: [4, 16]       # not a Config field: weight additions per cycle, for the HLS stage
      optim.lr: {low: 1e-3, high: 1e-2, log: true}   # random / optuna only: a range

Everything is checked before any work starts: an unknown axis, an empty grid, a value the run
config refuses (alone or combined with the other axes, e.g. ``sca.p + sca.q >= 1``) is a
:class:`~spikehls.errors.SpikehlsError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spikehls.boards import Board, load_board
from spikehls.config import Config, config_from_dict, load_config
from spikehls.errors import SpikehlsError
from spikehls.fileio import read_yaml

#: axes that are not run-config fields but settings of a later stage
STAGE_AXES = {"hls.parallelism": "weight additions per cycle per layer (HLS stage)"}
#: run-config sections a sweep may not vary (they configure other commands)
FORBIDDEN_SECTIONS = {"codesign"}


class RangeAxis(BaseModel):
    """A continuous or integer range (random and optuna searches only)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    low: float
    high: float
    log: bool = False
    integer: bool = Field(False, alias="int")  # the sweep file says ``int: true``

    @model_validator(mode="after")
    def _order(self) -> "RangeAxis":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be < high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        if self.integer and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("an int range needs integer low and high")
        return self


class _SweepFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: Union[str, dict, None] = None
    board: str = "pynq-z2"
    search: Literal["grid", "random", "optuna"] = "grid"
    budget: Optional[int] = Field(None, ge=1)
    seed: int = 0
    reuse_dense: bool = True
    finetune_epochs: Optional[int] = Field(None, ge=1, description="default: half the base epochs, at least 2")
    axes: dict[str, Union[list, RangeAxis]]


class SweepSpec(BaseModel):
    """A validated sweep: the resolved base config, the board, the axes and the search."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    source: str
    base: Config
    board: Board
    board_ref: str  # what the file said (name or resolved path): workers reload it from here
    search: Literal["grid", "random", "optuna"]
    budget: Optional[int]
    seed: int
    reuse_dense: bool
    finetune_epochs: int
    axes: dict[str, Union[list, RangeAxis]]  # grid values already normalised by the config's validation

    def fingerprint(self) -> str:
        """What a results folder was made with, apart from the axes (which may grow on a rerun)."""
        data = {"base": self.base.model_dump(mode="json"), "board": self.board.model_dump(mode="json", exclude={"source"}),
                "reuse_dense": self.reuse_dense, "finetune_epochs": self.finetune_epochs}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _err(source: str, where: str, msg: str) -> SpikehlsError:
    return SpikehlsError(f"{source}: {where}: {msg}")


def check_axis_name(source: str, name: str) -> None:
    """Refuse anything that is not ``section.field`` of the run config (or a stage axis)."""
    if name in STAGE_AXES:
        return
    parts = name.split(".")
    sections = [s for s in Config.model_fields if s not in FORBIDDEN_SECTIONS]
    if len(parts) != 2 or parts[0] not in sections:
        raise _err(source, f"axes.{name}", "unknown axis (use section.field with section one of "
                   f"{', '.join(sections)}; or {', '.join(STAGE_AXES)})")
    section_model = Config.model_fields[parts[0]].annotation
    fields = list(section_model.model_fields)
    if parts[1] not in fields:
        raise _err(source, f"axes.{name}", f"unknown axis ({parts[0]} has: {', '.join(fields)})")


def apply_settings(base: Config, settings: dict[str, Any], source: str = "<sweep>") -> Config:
    """A copy of ``base`` with the run-config axes of ``settings`` set (validated); stage axes ignored."""
    data = base.model_dump(mode="json")
    for name, value in settings.items():
        if name in STAGE_AXES:
            continue
        sec, fld = name.split(".")
        data[sec][fld] = value
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())
        raise SpikehlsError(f"{source}: axes: {loc}: {e['msg']} (at {shown})") from None


def normalise_value(source: str, base: Config, name: str, value: Any) -> Any:
    """The value as the run config stores it (``1`` -> ``1.0`` for a float field), or a one-line error."""
    if name == "hls.parallelism":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
            raise _err(source, f"axes.{name}", f"{value!r} is not an integer in 1..4096")
        return value
    sec, fld = name.split(".")
    if name == "dataset.path" and isinstance(value, str):
        value = _absolute(value)
    section = getattr(base, sec).model_copy(deep=True)
    try:
        setattr(section, fld, value)  # validate_assignment: the field's own checks
    except ValidationError as err:
        raise _err(source, f"axes.{name}", f"{value!r}: {err.errors()[0]['msg']}") from None
    return getattr(section, fld)


def _absolute(path: str) -> str:
    """A dataset path as the run config means it (relative to the working directory), made absolute
    so that workers started elsewhere (Ray) read the same files."""
    return str(Path(path).expanduser().resolve())


def _resolve_base(source: str, here: Path, base: Union[str, dict, None]) -> Config:
    cfg = _load_base(source, here, base)
    if cfg.dataset.path:
        cfg.dataset.path = _absolute(cfg.dataset.path)
    return cfg


def _load_base(source: str, here: Path, base: Union[str, dict, None]) -> Config:
    if base is None:
        return load_config(None)
    if isinstance(base, dict):
        return config_from_dict(base, f"{source}: base")
    p = Path(base)
    if not p.is_absolute() and not p.is_file() and (here / p).is_file():
        p = here / p
    if not p.is_file():
        raise _err(source, "base", f"config file '{base}' not found (relative paths are taken from the sweep file's folder)")
    return load_config(p)


def _resolve_board(source: str, here: Path, board: str) -> tuple[Board, str]:
    p = Path(board)
    ref = board
    if not p.is_absolute() and not p.is_file() and (here / p).is_file():
        ref = str((here / p).resolve())
    elif p.is_file():
        ref = str(p.resolve())
    try:
        return load_board(ref), ref
    except SpikehlsError as err:
        raise _err(source, "board", str(err)) from None


def parse_sweep(data: Any, source: str = "<sweep>", here: Path = Path(".")) -> SweepSpec:
    """Validate a sweep mapping; relative ``base``/``board`` paths are taken from ``here``."""
    if not isinstance(data, dict):
        raise SpikehlsError(f"{source}: a sweep file must be a mapping (base, board, axes, search, ...)")
    try:
        raw = _SweepFile.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p in ("list[any]", "RangeAxis")))
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        raise _err(source, loc or "(top level)", msg) from None
    if not raw.axes:
        raise _err(source, "axes", "no axes given (map a dotted config field to a list of values)")
    base = _resolve_base(source, here, raw.base)
    board, board_ref = _resolve_board(source, here, raw.board)
    axes: dict[str, Union[list, RangeAxis]] = {}
    for name, vals in raw.axes.items():
        check_axis_name(source, name)
        if isinstance(vals, RangeAxis):
            if raw.search == "grid":
                raise _err(source, f"axes.{name}", "a range needs search: random or optuna (grid takes a list)")
            ends = [int(vals.low), int(vals.high)] if vals.integer else [vals.low, vals.high]
            for v in ends:
                normalise_value(source, base, name, v)
            axes[name] = vals
            continue
        if not vals:
            raise _err(source, f"axes.{name}", "empty grid (give at least one value)")
        normed = [normalise_value(source, base, name, v) for v in vals]
        dup = {json.dumps(v, sort_keys=True) for v in normed}
        if len(dup) != len(normed):
            raise _err(source, f"axes.{name}", f"repeated value in {vals}")
        axes[name] = normed
    if raw.search != "grid" and raw.budget is None:
        raise _err(source, "budget", f"search: {raw.search} needs a budget (number of points)")
    ft = raw.finetune_epochs if raw.finetune_epochs is not None else max(2, base.train.epochs // 2)
    return SweepSpec(source=source, base=base, board=board, board_ref=board_ref, search=raw.search, budget=raw.budget,
                     seed=raw.seed, reuse_dense=raw.reuse_dense, finetune_epochs=ft, axes=axes)


def load_sweep(path: str | Path) -> SweepSpec:
    """Load and validate a sweep YAML file (one-line errors naming the file and the field)."""
    p = Path(path)
    data = read_yaml(p, "sweep file")
    return parse_sweep(data, str(p), p.resolve().parent)
