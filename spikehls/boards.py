"""The one board loader: bundled board YAML files by name, or a user's own YAML by path.

A board file holds the part, the clock, the resource totals, the fraction of each resource a
design may use, and hls4ml defaults. Anything wrong names the file and the field.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from .errors import SpikehlsError
from .fileio import parse_yaml, read_text

RESOURCE_KINDS = ("LUT", "FF", "BRAM18", "URAM", "DSP")


class _Strict(BaseModel):
    # strict: `LUT: true` is not 1 and `clock_mhz: "100"` is not 100; no inf/NaN
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


Fraction = Union[StrictFloat, StrictInt]
NonEmpty = Annotated[StrictStr, Field(min_length=1, pattern=r"\S")]


class Resources(_Strict):
    LUT: int = Field(ge=0)
    FF: int = Field(ge=0)
    BRAM18: int = Field(ge=0)
    URAM: int = Field(0, ge=0)
    DSP: int = Field(ge=0)


class Budget(_Strict):
    """Fraction of each resource the design may use (the rest is left for the shell, DMA, ...).

    0 forbids the resource (a DSP-free design: ``DSP: 0``). LUT, FF and BRAM18 cannot be 0: no
    layer is built without them."""

    LUT: Fraction = Field(0.8, gt=0, le=1)
    FF: Fraction = Field(0.8, gt=0, le=1)
    BRAM18: Fraction = Field(0.8, gt=0, le=1)
    URAM: Fraction = Field(0.8, ge=0, le=1)
    DSP: Fraction = Field(0.8, ge=0, le=1)


class HLSDefaults(_Strict):
    backend: Literal["Vitis", "Vivado"] = "Vitis"
    io_type: Literal["io_parallel"] = "io_parallel"
    parallelism: int = Field(8, ge=1, le=4096, description="weight additions per cycle per layer")
    layer_parallelism: dict[str, int] = Field(default_factory=dict)
    max_latency_us: Optional[Fraction] = Field(None, gt=0, description="optional latency bound for codesign")
    max_latency_of: Literal["mean", "slowest"] = Field(
        "mean",
        description="what hls.max_latency_us bounds: mean (the latency on the test vectors' mean event counts) or "
                    "slowest (the slowest test vector's: a bound every image keeps)")
    # the memory rule's threshold (unset: spikehls.hls.memory.MIN_FILL, 0.5): an array read through
    # a register goes to block / ultra RAM when it fills at least this share of the primitives it
    # needs; lower it on a LUT-bound design whose block RAM is idle
    block_ram_min_fill: Optional[Fraction] = Field(
        None, ge=0, le=1,
        description="least share of its BRAM18s / URAMs an array read through a register must fill to be placed there "
                    "(unset: 0.5; 0: every such array)")


class Board(_Strict):
    name: NonEmpty
    part: NonEmpty = Field(description="the FPGA part hls4ml and Vitis target, e.g. xc7z020clg400-1")
    family: NonEmpty = "unknown"
    clock_mhz: Fraction = Field(gt=0, le=1000)
    resources: Resources
    budget: Budget = Field(default_factory=Budget)
    hls: HLSDefaults = Field(default_factory=HLSDefaults)
    source: StrictStr = ""  # file it was loaded from (filled in by the loader)

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def with_block_ram_min_fill(self, fill: Optional[float]) -> "Board":
        """This board with the memory rule's block RAM threshold ``fill`` (None: the default)."""
        return self.model_copy(update={"hls": self.hls.model_copy(update={"block_ram_min_fill": fill})})

    def allowed(self) -> dict[str, float]:
        """Resource counts the design may use: total x budget fraction."""
        return {k: getattr(self.resources, k) * getattr(self.budget, k) for k in RESOURCE_KINDS}


def _bundled() -> dict[str, resources.abc.Traversable]:
    root = resources.files("spikehls.board_configs")
    return {p.name[:-5]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def available_boards() -> list[str]:
    return sorted(_bundled())


def load_board(name_or_path: str | Path) -> Board:
    """Load a bundled board by name (``pynq-z2``) or any board YAML by path."""
    key = str(name_or_path)
    bundled = _bundled()
    if key.lower() in bundled:
        text, source = bundled[key.lower()].read_text(), f"{key.lower()}.yaml"
    else:
        p = Path(key)
        if not p.is_file():
            raise SpikehlsError(
                f"unknown board '{key}': not a bundled board ({', '.join(available_boards())}) nor a YAML file"
            )
        text, source = read_text(p, "board file"), str(p)
    data = parse_yaml(text, source, "board file")
    if not isinstance(data, dict):
        raise SpikehlsError(f"{source}: a board file must be a mapping (name, part, clock_mhz, resources, ...)")
    try:
        board = Board.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        if e["type"] == "missing":
            msg = "required field missing"
        elif e["type"] in ("string_too_short", "string_pattern_mismatch"):
            msg = "must not be empty"
        loc = loc.replace(".constrained-str", "").replace(".int", "").replace(".float", "")
        raise SpikehlsError(f"{source}: {loc}: {msg}") from None
    board.source = source
    return board
