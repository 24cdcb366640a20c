"""The run configuration documented: a description for every field, the JSON schema, the defaults,
and the field reference in ``docs/config.md`` (rendered here; ``tests/test_config_docs.py`` keeps the
file in sync and fails on a field without a description).

Descriptions written with ``Field(description=...)`` in :mod:`spikehls.config` are used as they
are; :data:`DESCRIPTIONS` holds the others (one place per field: a field may not have both).
Regenerate the reference with ``python -m spikehls.config_docs > docs/config.md``.
"""

from __future__ import annotations

import json
from typing import Any


DESCRIPTIONS: dict[str, str] = {
    "dataset.name": "digits (scikit-learn's 8x8 digits, embedded: nothing downloads), mnist (IDX files), "
                    "cifar10/cifar100 (python-pickle folders) or numpy (arrays in a .npz)",
    "dataset.path": "the dataset's local directory or file; required for everything but digits",
    "dataset.augment": "random crop and horizontal flip of training images (CIFAR)",
    "encoding.kind": "direct: the frame repeated T times (the first layer multiplies: reported as MAC); "
                     "rate: Bernoulli spikes with probability pixel/256; bitplane: the 8 bit planes as 8 binary "
                     "channels; events: the dataset already holds [N, T, C, H, W] sequences",
    "encoding.seed": "seed of the rate encoder (test vectors and C-simulation see the same spikes)",
    "neuron.kind": "if (integrate-and-fire) or lif (leaky, leak 2^-leak_shift)",
    "neuron.threshold": "firing threshold of the float model (becomes an integer threshold per channel at export)",
    "neuron.reset": "zero: V = 0 after a spike; subtract: V -= threshold",
    "neuron.surrogate": "surrogate gradient of the spike function in training",
    "neuron.detach_reset": "keep the reset out of the autograd graph (as the SCA authors' code does)",
    "model.arch": "vgg (convs and max pools), resnet, preresnet (pre-activation; exports through the residual stream) or graph (layer by layer)",
    "model.preset": "a named layer list (digits, mnist, vgg11, ...); null to give the layers yourself",
    "model.layers": "VGG: conv widths in order, \"M\" for a 2x2 max pool on spikes; overrides the preset",
    "model.stem": "ResNet: width of the stem convolution",
    "model.stages": "ResNet: (width, blocks, stride) per stage",
    "model.kernel_size": "conv kernel size (square)",
    "model.graph": "arch graph (preset null): one entry per layer; see spikehls/training/graph_model.py and docs/nir.md",
    "sca.enabled": "SCA channel pruning on (off: a dense network)",
    "optim.name": "optimizer: sgd (with momentum), adam or adamw",
    "optim.lr": "learning rate",
    "optim.momentum": "SGD momentum (sgd only)",
    "optim.weight_decay": "L2 weight decay",
    "optim.schedule": "learning-rate schedule: step (x gamma every step_size epochs), cosine over all epochs, or none",
    "optim.step_size": "epochs between learning-rate steps (schedule step)",
    "optim.gamma": "learning-rate factor per step (schedule step)",
    "optim.batch_size": "training minibatch size",
    "train.epochs": "training epochs",
    "train.time_steps": "T: time steps per sample (latency and events scale with it)",
    "train.seed": "seed of initialisation, shuffling and augmentation (a run is reproducible on one machine)",
    "train.device": "auto (CUDA where available), cpu or cuda; on Ray, cuda (or auto on a GPU cluster) asks for a GPU",
    "train.num_threads": "torch intra-op threads; null = torch's default (1: no oversubscription on shared machines)",
    "train.eval_every": "evaluate on the test set every N epochs (the last epoch always)",
    "quant.w_bits": "weight width (signed, power-of-two scale) for every layer",
    "quant.layer_w_bits": "layer -> weight width, overriding w_bits",
    "quant.per_channel": "one power-of-two weight scale per output channel (false: per layer)",
    "quant.qat_epochs": "quantization-aware fine-tuning epochs after slimming (0: none)",
    "quant.qat_lr": "learning rate of the quantization-aware fine-tuning",
    "quant.qat_during_sca": "train with quantized weights during SCA as well (after slimming is the default: better here)",
}

BOARD_DESCRIPTIONS: dict[str, str] = {
    "name": "the board's name, as reports and summaries print it",
    "family": "device family (7series, zynquplus, ...): informational",
    "clock_mhz": "target clock of the design in MHz (hls4ml's clock period is 1000 / clock_mhz ns)",
    "resources.LUT": "LUTs of the part (vendor data sheet)",
    "resources.FF": "flip-flops of the part",
    "resources.BRAM18": "18-kbit block RAMs of the part (a 36-kbit BRAM counts 2)",
    "resources.URAM": "UltraRAM blocks of the part (0 where the part has none)",
    "resources.DSP": "DSP slices of the part",
    "budget.LUT": "fraction of the part's LUTs the design may use",
    "budget.FF": "fraction of the part's flip-flops the design may use",
    "budget.BRAM18": "fraction of the part's BRAM18 the design may use",
    "budget.URAM": "fraction of the part's URAM the design may use",
    "budget.DSP": "fraction of the part's DSPs the design may use",
    "hls.backend": "hls4ml backend: Vitis (Vitis HLS 2020.2 and later) or Vivado (Vivado HLS)",
    "hls.io_type": "hls4ml io type (io_parallel: the layers' spike tensors are memories)",
    "hls.layer_parallelism": "layer -> parallelism, overriding hls.parallelism for that layer",
    "source": "filled in by the loader: the file the board was read from (not written by users)",
}


def board_fields() -> dict[str, Any]:
    """``field`` / ``section.field`` -> FieldInfo of the board schema."""
    from spikehls.boards import Board

    out: dict[str, Any] = {}
    for name, fi in Board.model_fields.items():
        sub = getattr(fi.annotation, "model_fields", None)
        if sub:
            out.update({f"{name}.{n}": f for n, f in sub.items()})
        else:
            out[name] = fi
    return out


def board_description(key: str) -> str:
    fi = board_fields()[key]
    return fi.description or BOARD_DESCRIPTIONS.get(key, "")


def board_schema() -> dict:
    """The JSON schema of a board file, every property with its description."""
    from spikehls.boards import Board

    schema = Board.model_json_schema()
    for name, prop in schema["properties"].items():
        if name in board_fields():
            prop["description"] = board_description(name)
    for name, fi in Board.model_fields.items():
        cls = getattr(fi.annotation, "model_fields", None) and fi.annotation
        if cls:
            for n, prop in schema["$defs"][cls.__name__]["properties"].items():
                prop["description"] = board_description(f"{name}.{n}")
    schema["title"] = "spikehls board file"
    return schema


SECTION_DOCS = {
    "dataset": "Where the data comes from. Nothing is ever downloaded.",
    "encoding": "How 8-bit pixels become the network's input over T time steps.",
    "neuron": "The spiking neuron of every layer.",
    "model": "The architecture. A preset fills in the layer list; explicit fields override it.",
    "sca": "Spiking-activity-based channel pruning (Li et al., ICML 2024); DESIGN.md section 4.",
    "optim": "The optimizer of the training stage.",
    "train": "The training loop.",
    "quant": "Quantization-aware fine-tuning and the integer contract (DESIGN.md section 3).",
    "codesign": "The hardware feedback loop (spikehls codesign / spikehls run).",
}


def _sections():
    from spikehls.config import Config

    return {sec: f.annotation for sec, f in Config.model_fields.items()}


def fields() -> dict[str, Any]:
    """``section.field`` -> pydantic FieldInfo, for every field of the config."""
    return {f"{sec}.{name}": fi for sec, cls in _sections().items() for name, fi in cls.model_fields.items()}


def description(key: str) -> str:
    fi = fields()[key]
    return fi.description or DESCRIPTIONS.get(key, "")


def config_schema() -> dict:
    """The JSON schema of the config (pydantic's), every property with its description."""
    from spikehls.config import Config

    schema = Config.model_json_schema()
    for sec, cls in _sections().items():
        d = schema["$defs"][cls.__name__]
        d["description"] = SECTION_DOCS.get(sec, d.get("description", ""))
        for name, prop in d["properties"].items():
            prop["description"] = description(f"{sec}.{name}")
    schema["title"] = "spikehls run configuration"
    schema["description"] = ("One YAML file for every stage; unknown keys are errors. "
                             "Defaults: spikehls config --defaults.")
    return schema


def defaults_yaml() -> str:
    from spikehls.config import Config

    return Config().to_yaml()


def _type_text(prop: dict) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" if v is not None else "null" for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_type_text(p) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list of {_type_text(prop.get('items', {}))}" if prop.get("items") else "list"
    if prop.get("type") == "object":
        return "mapping"
    if "const" in prop:
        return f"`{prop['const']}`"
    return str(prop.get("type", "any")).replace("null", "null")


def _range_text(prop: dict) -> str:
    parts = []
    for p in [prop, *prop.get("anyOf", [])]:
        for key, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
            if key in p:
                parts.append(f"{sym} {p[key]}")
    return ", ".join(parts)


def render_markdown() -> str:
    """``docs/config.md``: one table per section, every field with type, default, range and description."""
    from spikehls.config import Config

    schema = config_schema()
    defaults = Config().model_dump(mode="json")
    lines = ["# Configuration reference", "",
             "<!-- generated by `python -m spikehls.config_docs > docs/config.md`; tests/test_config_docs.py "
             "keeps it in sync -->", "",
             "A run is described by one YAML file (`spikehls train --config FILE`); every field has a default, an",
             "unknown key or a bad value is one `error:` line naming the file and field (exit code 2).",
             "`spikehls config --defaults` prints the full defaults, `spikehls config --schema` the JSON schema.", ""]
    for sec, cls in _sections().items():
        d = schema["$defs"][cls.__name__]
        lines += [f"## `{sec}`", "", d["description"], "", "| field | type | default | range | description |",
                  "| --- | --- | --- | --- | --- |"]
        for name, prop in d["properties"].items():
            default = json.dumps(defaults[sec][name])
            desc = prop["description"].replace("|", "\\|")
            lines.append(f"| `{sec}.{name}` | {_type_text(prop)} | `{default}` | {_range_text(prop)} | {desc} |")
        lines.append("")
    lines += ["## Board files", "",
              "One YAML per board (`board_configs/`, or your own file wherever `--board` is accepted); "
              "`spikehls config --board-schema` prints the JSON schema, `spikehls boards` the bundled ones.", "",
              "| field | type | range | description |", "| --- | --- | --- | --- |"]
    bs = board_schema()
    from spikehls.boards import Board

    for name, fi in Board.model_fields.items():
        cls = getattr(fi.annotation, "model_fields", None) and fi.annotation
        props = ({f"{name}.{n}": p for n, p in bs["$defs"][cls.__name__]["properties"].items()} if cls
                 else {name: bs["properties"][name]})
        for key, prop in props.items():
            desc = prop["description"].replace("|", "\\|")
            lines.append(f"| `{key}` | {_type_text(prop)} | {_range_text(prop)} | {desc} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
