"""The run configuration: one YAML file, validated, with a default for every field.

``load_config(None)`` is the embedded default (scikit-learn digits, a small VGG-style SNN, SCA
on). Every stage reads its section from the same file, so a run directory's ``config.yaml`` is
the whole description of how it was made. Unknown keys are errors (a typo must not be ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import SpikehlsError
from .fileio import read_yaml


class _Strict(BaseModel):
    # no inf/NaN anywhere: `optim.lr: .inf` is a typo, not a setting (it trained to NaN, then export crashed)
    # strict types: `epochs: true` is not 1 and `lr: "0.1"` is not 0.1 (YAML has real numbers and booleans)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, strict=True)


class DatasetConfig(_Strict):
    """Where the data comes from. Nothing is ever downloaded."""

    name: Literal["digits", "mnist", "cifar10", "cifar100", "numpy"] = "digits"
    path: Optional[str] = None  # required for everything but digits
    train_limit: Optional[int] = Field(None, ge=1, description="use only the first N training samples")
    test_limit: Optional[int] = Field(None, ge=1, description="use only the first N test samples")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="digits only: held-out fraction")
    augment: bool = False  # random crop + flip for CIFAR

    @model_validator(mode="after")
    def _path_needed(self) -> "DatasetConfig":
        if self.name != "digits" and not self.path:
            raise ValueError(f"dataset '{self.name}' needs dataset.path (a local directory or file)")
        return self


class EncodingConfig(_Strict):
    """How 8-bit pixels become the network's input over T time steps.

    direct: the frame repeated T times (first layer multiplies: reported as MAC);
    rate: Bernoulli spikes with probability pixel/256 from a seeded generator;
    bitplane: the 8 bit planes of each pixel as 8 binary channels, repeated T times;
    events: the dataset already holds ``[N, T, C, H, W]`` sequences (event frames or counts);
    every value > 0 is a spike. Required for sequence data, refused for single frames.
    """

    kind: Literal["direct", "rate", "bitplane", "events"] = "direct"
    seed: int = 0


class NeuronConfig(_Strict):
    kind: Literal["if", "lif"] = "if"
    threshold: float = Field(1.0, gt=0)
    leak_shift: int = Field(2, ge=1, le=15, description="LIF leak 2^-k: V -= V >> k")
    reset: Literal["zero", "subtract"] = "zero"
    surrogate: Literal["sigmoid", "atan", "fast_sigmoid", "triangle"] = "sigmoid"
    alpha: float = Field(4.0, gt=0, description="surrogate sharpness")
    detach_reset: bool = True


class ModelConfig(_Strict):
    """Architecture. A preset fills in the layer list; explicit fields override it."""

    arch: Literal["vgg", "resnet", "preresnet", "graph"] = "vgg"
    preset: Optional[Literal["digits", "mnist", "vgg11", "vgg16", "resnet19", "resnet_small", "preresnet_small"]] = "digits"
    # VGG: list of conv widths, "M" for a 2x2 max pool (on spikes)
    layers: Optional[list[Union[int, Literal["M"]]]] = None
    # ResNet: stem width and (width, blocks, stride) per stage
    stem: Optional[int] = None
    stages: Optional[list[tuple[int, int, int]]] = None
    kernel_size: int = Field(3, ge=1, le=7)
    # arch "graph" (set preset: null): one entry per layer, see spikehls/training/graph_model.py and docs/nir.md
    graph: Optional[list[dict[str, Any]]] = None
    hidden: list[int] = Field(default_factory=list, description="spiking dense layers before the readout")

    @field_validator("stages", mode="before")
    @classmethod
    def _stages_tuples(cls, v):  # YAML and JSON have lists, the strict schema wants tuples
        if isinstance(v, list):
            return [tuple(x) if isinstance(x, list) else x for x in v]
        return v

    @field_validator("layers")
    @classmethod
    def _layers_nonempty(cls, v):
        if v is not None and not any(isinstance(x, int) for x in v):
            raise ValueError("model.layers needs at least one conv width")
        if v is not None and any(isinstance(x, int) and x < 1 for x in v):
            raise ValueError("model.layers widths must be >= 1")
        return v


class SCAConfig(_Strict):
    """Spiking-activity-based channel pruning (Li et al., ICML 2024), see DESIGN.md section 4."""

    enabled: bool = True
    p: float = Field(0.5, ge=0, lt=1, description="target channel sparsity (fraction pruned)")
    q: float = Field(0.05, ge=0, lt=1, description="regrowth fraction")
    l1: float = Field(3e-5, ge=0, description="L1 term on 3x3 conv weights")
    score_norm: Literal["none", "layer"] = Field(
        "none",
        description="none: the plain SCA rule (scores ranked as they are); layer: each score divided by its "
        "layer's mean before the global ranking, so a layer with large membranes (the direct-encoded first "
        "layer) does not starve the others",
    )
    masking: Literal["epoch", "step"] = Field(
        "step",
        description="step (default: measured better, docs/sca.md): masks re-applied after every optimizer step "
        "(pruned channels stay exactly zero, so the masks settle after the first update); epoch: the authors' "
        "rule, pruned filters, gamma and beta zeroed once at each mask update and "
        "left to the optimizer until the next (pruned channels regain activity and a gamma gradient and can "
        "be regrown). Evaluation and the best epoch use the masked network in both",
    )
    start_epoch: int = Field(0, ge=0, description="first epoch after which masks are updated")
    # per-layer targets/caps set by the hardware feedback loop; empty = plain global SCA rule
    layer_targets: dict[str, float] = Field(default_factory=dict, description="layer -> min fraction pruned")
    layer_caps: dict[str, int] = Field(default_factory=dict, description="layer -> max channels kept")

    @model_validator(mode="after")
    def _pq(self) -> "SCAConfig":
        if self.p + self.q >= 1:
            raise ValueError(f"sca.p + sca.q must be < 1 (got {self.p} + {self.q})")
        for k, v in self.layer_targets.items():
            if not 0 <= v < 1:
                raise ValueError(f"sca.layer_targets.{k} must be in [0, 1) (got {v})")
        for k, v in self.layer_caps.items():
            if v < 1:
                raise ValueError(f"sca.layer_caps.{k} must be >= 1 (got {v})")
        return self


class OptimConfig(_Strict):
    name: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = Field(2e-3, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["step", "cosine", "none"] = "cosine"
    step_size: int = Field(100, ge=1)
    gamma: float = Field(0.1, gt=0, le=1)
    batch_size: int = Field(64, ge=1)


class TrainConfig(_Strict):
    epochs: int = Field(12, ge=1)
    time_steps: int = Field(4, ge=1, le=64)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # torch intra-op threads; null = torch default. 1 by default: on a busy shared 2-core machine 2 digits
    # epochs took 8.5 s with 1 thread and 47 s with 2 (oversubscription); raise it for large models.
    num_threads: Optional[int] = Field(1, ge=1)
    eval_every: int = Field(1, ge=1)
    distill_from: Optional[str] = Field(
        None,
        description="a trained run (its folder or checkpoint.pt) whose model teaches this one: the loss mixes "
        "cross-entropy with the KL divergence to the teacher's softened outputs (knowledge distillation); "
        "null: no teacher",
    )
    distill_weight: float = Field(0.5, gt=0, le=1, description="share of the distillation term in the loss "
                                  "(1 - weight stays on the labels)")
    distill_temperature: float = Field(4.0, gt=0, description="softmax temperature of teacher and student in the "
                                       "distillation term (its gradient is scaled by temperature^2)")

    @field_validator("distill_from")
    @classmethod
    def _teacher(cls, v):
        if v is not None and not str(v).strip():
            raise ValueError("train.distill_from must name a trained run (or be null)")
        return v


class QuantConfig(_Strict):
    """Quantization-aware fine-tuning and the integer contract (DESIGN.md section 3)."""

    w_bits: int = Field(4, ge=2, le=8)
    layer_w_bits: dict[str, int] = Field(default_factory=dict)
    per_channel: bool = True
    v_bits: int = Field(16, ge=4, le=32, description="membrane width, saturating")
    # the QONNX export carries biases as float32, exact to 24 bits: the one range, checked by export too
    bias_bits: int = Field(16, ge=2, le=24, description="bias width (float32 in QONNX holds 24 bits exactly)")
    qat_epochs: int = Field(3, ge=0)
    qat_lr: float = Field(5e-4, gt=0)
    qat_during_sca: bool = False
    test_vectors: int = Field(64, ge=1, description="test samples saved to testvectors.npz")

    @field_validator("layer_w_bits")
    @classmethod
    def _bits(cls, v):
        for k, b in v.items():
            if not 2 <= b <= 8:
                raise ValueError(f"quant.layer_w_bits.{k} must be in 2..8 (got {b})")
        return v


class CodesignConfig(_Strict):
    """The hardware feedback loop (``spikehls codesign`` / ``spikehls run``)."""

    max_iters: int = Field(4, ge=1, le=20, description="train -> HLS -> report rounds at most")
    epochs_per_iter: int = Field(4, ge=1, description="training epochs after each new set of per-layer caps")
    margin: float = Field(0.9, gt=0, le=1, description="plan caps to use at most this fraction of the budget")
    min_keep: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="the planner never cuts a layer below this fraction of its full width (at least 1 channel); "
        "0: it may go down to one channel. SCA's own pruning is not bound by it",
    )
    distill: bool = Field(
        False,
        description="each iteration after the first fine-tunes under the first iteration's network as its "
        "teacher (train.distill_weight, train.distill_temperature), unless train.distill_from names another",
    )
    strategy: Literal["cost_per_activity", "uniform"] = Field(
        "cost_per_activity",
        description="cost_per_activity: channels that cost most per unit of activity go first; "
        "uniform: the same sparsity in every layer (baseline)",
    )


class Config(_Strict):
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    encoding: EncodingConfig = Field(default_factory=EncodingConfig)
    neuron: NeuronConfig = Field(default_factory=NeuronConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    sca: SCAConfig = Field(default_factory=SCAConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    quant: QuantConfig = Field(default_factory=QuantConfig)
    codesign: CodesignConfig = Field(default_factory=CodesignConfig)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _format_validation_error(source: str, err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
    msg = e["msg"]
    if e["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{source}: {loc}: {msg}"


def config_from_dict(data: dict[str, Any], source: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpikehlsError(f"{source}: the top level must be a mapping of sections")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise SpikehlsError(_format_validation_error(source, err)) from None


def set_field(cfg: Config, dotted: str, value: Any, option: str) -> None:
    """Set ``cfg.<dotted>`` from a command-line ``option``, validated against the schema's range."""
    *parents, name = dotted.split(".")
    obj = cfg
    for part in parents:
        obj = getattr(obj, part)
    try:
        setattr(obj, name, value)
    except ValidationError as err:
        e = err.errors()[0]
        raise SpikehlsError(f"{option} {value}: {e['msg']} ({dotted} in the config schema)") from None


def field_range(model: type[BaseModel], name: str) -> tuple[Optional[float], Optional[float]]:
    """(lowest, highest) allowed value of an integer field of the schema (None where open)."""
    lo = hi = None
    for m in model.model_fields[name].metadata:
        lo = getattr(m, "ge", lo) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", hi) if getattr(m, "le", None) is not None else hi
    return lo, hi


def load_config(path: str | Path | None) -> Config:
    """Load and validate a YAML config; ``None`` gives the embedded default."""
    if path is None:
        return Config()
    p = Path(path)
    data = read_yaml(p, "config file")
    return config_from_dict(data or {}, str(p))
