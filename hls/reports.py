"""Read the reports of a real Vitis/Vivado HLS run, when a user has run synthesis.

We have no vendor tools here; users with a licence run ``vitis_hls -f build_prj.tcl`` on the
project we generate, and then these figures replace the model estimate (DESIGN.md section 7).
Two kinds of report are read, and every figure keeps the name of the report it came from:

* ``csynth`` -- the HLS estimate, ``<prj>/<name>_prj/<solution>/syn/report/*_csynth.xml``.
  The top file ``<top>_csynth.xml`` is what hls4ml's ``parse_vivado_report`` reads (latency
  best/worst, interval, BRAM_18K, DSP, FF, LUT, URAM). The same folder holds one
  ``<module>_csynth.xml`` per synthesized module in the same schema; they give the per-layer
  figures that hls4ml does not read. We parse the XML ourselves (not through hls4ml) so that a
  missing element gets an error naming the file instead of an ``AttributeError``, and so that the
  Vivado tag ``DSP48E`` and the Vitis tag ``DSP`` read the same.
* ``vivado_synth`` -- Vivado post-synthesis utilization (``<prj>/vivado_synth.rpt``, the
  ``report_utilization`` text that hls4ml's ``vivado_synth.tcl`` writes). Post-synthesis numbers
  are much lower than HLS estimates (hls4ml's SNN example: 2,265 LUT estimated vs 574 after
  synthesis), so the two are never summed or mixed: a caller takes one whole set or the other.

Latencies: event-driven loops have data-dependent trip counts, for which Vitis writes ``undef``
(or ``?``) instead of a number; those read as ``None`` ("not known"), never as 0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from spikehls.boards import RESOURCE_KINDS
from spikehls.errors import SpikehlsError

# XML tag in <AreaEstimates><Resources> -> our resource name. Vivado HLS wrote DSP48E, Vitis DSP.
_CSYNTH_TAGS = {"LUT": "LUT", "FF": "FF", "BRAM_18K": "BRAM18", "URAM": "URAM", "DSP": "DSP", "DSP48E": "DSP"}
_REQUIRED_AREA = ("BRAM_18K", "FF", "LUT")  # present in every csynth.xml version; DSP/URAM vary
_UNKNOWN = {"undef", "?", "-", ""}


@dataclass
class ModuleSynth:
    """One ``*_csynth.xml``: the HLS estimate of one module (the top or one sub-module)."""

    module: str  # module name (file name without ``_csynth.xml``)
    file: str
    resources: dict[str, int]  # LUT FF BRAM18 URAM DSP
    latency_best: Optional[int] = None  # cycles; None where Vitis could not bound it
    latency_worst: Optional[int] = None
    latency_avg: Optional[int] = None
    interval_min: Optional[int] = None
    interval_max: Optional[int] = None
    target_clock_ns: Optional[float] = None
    estimated_clock_ns: Optional[float] = None
    available: dict[str, int] = field(default_factory=dict)
    version: str = ""
    part: str = ""
    top: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CsynthReport:
    """All csynth XML files of one solution: the top module and every sub-module."""

    folder: str
    top: ModuleSynth
    modules: dict[str, ModuleSynth]  # sub-modules by name (top excluded)
    hierarchy: dict[str, set[str]] = field(default_factory=dict)  # module -> ancestors (may be empty)
    source: str = "csynth"


def _int_or_none(text: Optional[str], path: Path, tag: str) -> Optional[int]:
    if text is None:
        return None
    t = text.strip()
    if t.lower() in _UNKNOWN:
        return None
    try:
        return int(t)
    except ValueError:
        raise SpikehlsError(f"{path}: <{tag}> is '{t}', expected an integer") from None


def _float_or_none(text: Optional[str]) -> Optional[float]:
    if text is None:
        return None
    try:
        return float(text.strip().split()[0])
    except (ValueError, IndexError):
        return None


def parse_csynth_xml(path: str | Path) -> ModuleSynth:
    """Parse one Vitis/Vivado HLS ``*_csynth.xml`` (top or per-module; same schema).

    Reads ``PerformanceEstimates/SummaryOfOverallLatency`` (Best/Average/Worst-caseLatency,
    Interval-min/max) and ``AreaEstimates/Resources`` (BRAM_18K, DSP or DSP48E, FF, LUT, URAM).
    A missing or malformed file raises :class:`SpikehlsError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise SpikehlsError(f"{path}: csynth report not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise SpikehlsError(f"{path}: malformed csynth XML ({err})") from None
    if root.tag != "profile":
        raise SpikehlsError(f"{path}: not a csynth report (root element <{root.tag}>, expected <profile>)")
    res_node = root.find("./AreaEstimates/Resources")
    if res_node is None:
        raise SpikehlsError(f"{path}: malformed csynth report: no <AreaEstimates><Resources>")
    found = {child.tag: child.text for child in res_node}
    missing = [t for t in _REQUIRED_AREA if t not in found]
    if missing:
        raise SpikehlsError(f"{path}: malformed csynth report: <Resources> lacks {', '.join(missing)}")
    resources = {k: 0 for k in RESOURCE_KINDS}
    for tag, text in found.items():
        if tag in _CSYNTH_TAGS:
            v = _int_or_none(text, path, tag)
            resources[_CSYNTH_TAGS[tag]] = v or 0
    available = {}
    avail_node = root.find("./AreaEstimates/AvailableResources")
    if avail_node is not None:
        for child in avail_node:
            if child.tag in _CSYNTH_TAGS:
                v = _int_or_none(child.text, path, child.tag)
                if v is not None:
                    available[_CSYNTH_TAGS[child.tag]] = v
    lat = root.find("./PerformanceEstimates/SummaryOfOverallLatency")
    if lat is None:
        raise SpikehlsError(f"{path}: malformed csynth report: no <PerformanceEstimates><SummaryOfOverallLatency>")

    def lat_field(tag: str) -> Optional[int]:
        return _int_or_none(lat.findtext(tag), path, tag)

    name = path.name[: -len("_csynth.xml")] if path.name.endswith("_csynth.xml") else path.stem
    return ModuleSynth(
        module=name,
        file=str(path),
        resources=resources,
        latency_best=lat_field("Best-caseLatency"),
        latency_worst=lat_field("Worst-caseLatency"),
        latency_avg=lat_field("Average-caseLatency"),
        interval_min=lat_field("Interval-min"),
        interval_max=lat_field("Interval-max"),
        target_clock_ns=_float_or_none(root.findtext("./UserAssignments/TargetClockPeriod")),
        estimated_clock_ns=_float_or_none(
            root.findtext("./PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
        ),
        available=available,
        version=(root.findtext("./ReportVersion/Version") or "").strip(),
        part=(root.findtext("./UserAssignments/Part") or "").strip(),
        top=(root.findtext("./UserAssignments/TopModelName") or "").strip(),
    )


# ---- locating the reports of a project ----------------------------------------------------------


def project_name(prj: Path) -> Optional[str]:
    """The hls4ml project (top function) name, from ``project.tcl`` as hls4ml reads it."""
    tcl = prj / "project.tcl"
    if not tcl.is_file():
        return None
    for line in tcl.read_text(errors="replace").splitlines():
        m = re.match(r'\s*set\s+project_name\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', line)
        if m:
            return m.group(1)
    return None


def _solutions(sln_dir: Path) -> list[str]:
    """Solution names in ``hls.app`` / ``vivado_hls.app`` order (hls4ml's rule), else by folder."""
    for app in ("hls.app", "vivado_hls.app"):
        f = sln_dir / app
        if f.is_file():
            try:
                text = re.sub(r' xmlns(:\w+)?="[^"]+"', "", f.read_text(errors="replace"))
                text = re.sub(r"<(/?)\w+:", r"<\1", text)  # drop the AutoPilot: prefix
                root = ET.fromstring(text)
            except ET.ParseError as err:
                raise SpikehlsError(f"{f}: malformed HLS project file ({err})") from None
            names = [s.get("name") for s in root.iter("solution") if s.get("name")]
            return [n for n in names if (sln_dir / n).is_dir()]
    return sorted(p.name for p in sln_dir.iterdir() if (p / "syn" / "report").is_dir())


def find_csynth_folder(prj: str | Path, top: Optional[str] = None) -> Optional[tuple[Path, str]]:
    """``(syn/report folder, top name)`` of the first solution, or None when synthesis never ran.

    The project layout is hls4ml's: ``<prj>/<top>_prj/<solution>/syn/report/<top>_csynth.xml``.
    """
    prj = Path(prj)
    top = top or project_name(prj)
    candidates = [prj / f"{top}_prj"] if top else sorted(prj.glob("*_prj"))
    for sln_dir in candidates:
        if not sln_dir.is_dir():
            continue
        name = top or sln_dir.name[: -len("_prj")]
        for sol in _solutions(sln_dir):
            folder = sln_dir / sol / "syn" / "report"
            if (folder / f"{name}_csynth.xml").is_file() or (folder / "csynth.xml").is_file():
                return folder, name
    # other layouts (e.g. the unified Vitis flow's <work_dir>/hls/syn/report): any syn/report
    # folder a few levels down holding the top report
    if top:
        for depth in ("*/syn/report", "*/*/syn/report", "*/*/*/syn/report"):
            for folder in sorted(prj.glob(depth)):
                if (folder / f"{top}_csynth.xml").is_file() or (folder / "csynth.xml").is_file():
                    return folder, top
    return None


def read_csynth(prj: str | Path, top: Optional[str] = None) -> Optional[CsynthReport]:
    """Parse the top and every per-module csynth XML of a project; None if synthesis never ran.

    A present but malformed file is an error (naming it), never skipped: a silently dropped
    module would make a layer look free.
    """
    found = find_csynth_folder(prj, top)
    if found is None:
        return None
    folder, name = found
    top_file = folder / f"{name}_csynth.xml"
    if not top_file.is_file():
        top_file = folder / "csynth.xml"
    top_rep = parse_csynth_xml(top_file)
    top_rep.module = name
    modules = {}
    for f in sorted(folder.glob("*_csynth.xml")):
        if f == top_file or f.name == f"{name}_csynth.xml":
            continue
        m = parse_csynth_xml(f)
        modules[m.module] = m
    hierarchy = parse_hierarchy(top_file)
    if not hierarchy and (folder / "csynth.xml").is_file() and top_file.name != "csynth.xml":
        hierarchy = parse_hierarchy(folder / "csynth.xml")
    return CsynthReport(folder=str(folder), top=top_rep, modules=modules, hierarchy=hierarchy)


# ---- mapping modules to layers ------------------------------------------------------------------


def parse_hierarchy(path: str | Path) -> dict[str, set[str]]:
    """Module -> set of its ancestor modules, from ``<RTLDesignHierarchy>`` of a top csynth XML.

    Vitis (2020.2 on) writes the instance tree into the top report; Vivado HLS did not, and then
    this returns ``{}``. A module instantiated in several places collects all its ancestors.
    """
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return {}
    top = root.find("./RTLDesignHierarchy/TopModule")
    if top is None:
        return {}
    anc: dict[str, set[str]] = {}

    def walk(node: ET.Element, above: tuple[str, ...]) -> None:
        name = (node.findtext("ModuleName") or "").strip()
        if name:
            anc.setdefault(name, set()).update(above)
            above = above + (name,)
        lst = node.find("InstancesList")
        if lst is not None:
            for inst in lst.findall("Instance"):
                walk(inst, above)

    walk(top, ())
    return anc


def match_layer_modules(
    modules: dict[str, ModuleSynth], keys: dict[str, list[str]], hierarchy: Optional[dict[str, set[str]]] = None
) -> dict[str, list[ModuleSynth]]:
    """Assign synthesized modules to layers.

    ``keys[layer]`` lists identifiers the layer's module name contains: the config struct name
    (``config3``: our templates name the struct ``config<hls4ml index>`` and Vitis mangles the
    template arguments into the module name, e.g. ``spiking_conv2d_ap_uint_1_ap_uint_1_config3_s``)
    or the layer name. A key matches as a whole ``_``-separated token (``config3`` does not match
    ``config31``). Sub-modules of a layer (``spiking_conv2d_core_..._config3_s``, the
    ``..._Pipeline_...`` loops Vitis outlines) match too but are already counted in their parent:
    with the instance tree (``hierarchy``) every match that has a matching ancestor is dropped,
    so the layer gets its outermost module(s); without one, the largest match (which includes
    its children) is taken alone.
    """
    out: dict[str, list[ModuleSynth]] = {}
    for layer, toks in keys.items():
        pats = [re.compile(rf"(^|_){re.escape(t)}(_|$)") for t in toks if t]
        hits = [n for n in modules if any(p.search(n) for p in pats)]
        if hierarchy:
            kept = [n for n in hits if not (hierarchy.get(n, set()) & set(hits))]
        elif hits:
            kept = [max(hits, key=lambda n: (sum(modules[n].resources.values()), -len(n)))]
        else:
            kept = []
        out[layer] = [modules[n] for n in sorted(kept)]
    return out


# ---- Vivado post-synthesis utilization ----------------------------------------------------------

# first column label (stripped of '*' and spaces) -> our resource; 7-series says "Slice",
# UltraScale "CLB"; section numbers differ between the two, so we go by label, not section.
_VIVADO_ROWS = {
    "Slice LUTs": "LUT",
    "CLB LUTs": "LUT",
    "Slice Registers": "FF",
    "CLB Registers": "FF",
    "RAMB36/FIFO": "RAMB36",
    "RAMB18": "RAMB18",
    "Block RAM Tile": "BRAM_TILE",
    "URAM": "URAM",
    "DSPs": "DSP",
}


def parse_vivado_utilization(path: str | Path) -> dict[str, int]:
    """Parse Vivado ``report_utilization`` text (``vivado_synth.rpt``) into LUT FF BRAM18 URAM DSP.

    BRAM18 counts RAMB18 halves: ``RAMB18 + 2 x RAMB36`` (a ``Block RAM Tile`` is one RAMB36 =
    two RAMB18, and can read ``0.5``). A report without LUT or register rows is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise SpikehlsError(f"{path}: Vivado utilization report not found")
    rows: dict[str, float] = {}
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        label = cells[0].rstrip("*").strip()
        key = _VIVADO_ROWS.get(label)
        if key is None or key in rows:
            continue
        try:
            rows[key] = float(cells[1])
        except ValueError:
            raise SpikehlsError(f"{path}: row '{label}' has used count '{cells[1]}', expected a number") from None
    missing = [k for k in ("LUT", "FF") if k not in rows]
    if missing:
        raise SpikehlsError(f"{path}: malformed utilization report: no {' or '.join(missing)} row")
    if "RAMB18" in rows or "RAMB36" in rows:
        bram18 = rows.get("RAMB18", 0.0) + 2 * rows.get("RAMB36", 0.0)
    else:
        bram18 = 2 * rows.get("BRAM_TILE", 0.0)
    return {
        "LUT": int(rows["LUT"]),
        "FF": int(rows["FF"]),
        "BRAM18": int(round(bram18)),
        "URAM": int(rows.get("URAM", 0)),
        "DSP": int(rows.get("DSP", 0)),
    }


def read_vivado_synth(prj: str | Path) -> Optional[dict[str, int]]:
    """Post-synthesis totals from ``<prj>/vivado_synth.rpt``; None when the file is absent."""
    f = Path(prj) / "vivado_synth.rpt"
    return parse_vivado_utilization(f) if f.exists() else None
