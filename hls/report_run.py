"""The ``report`` stage: resources and latency of a generated project against its board.

Reads ``PRJ/spikehls.json`` (written by :mod:`spikehls.hls.project`), the integer network it was
generated from (``PRJ/spikehls/clean.onnx``), the layers' parallelism, and, when present, the
C-simulation's event counts (``PRJ/csim.json``) and the reports of a real Vitis/Vivado run
(:mod:`spikehls.hls.reports`). Writes ``PRJ/report.json``, prints a table, optionally plots.

Which numbers win, and how that is said (DESIGN.md section 7: never mix silently):

* ``total`` comes from one source as a whole: ``vivado_synth`` (post-synthesis utilization) if
  ``PRJ/vivado_synth.rpt`` exists, else ``csynth`` (the HLS estimate of the top module) if the
  HLS project was synthesized, else ``estimate`` (our model). ``source`` names it.
* ``per_layer`` comes from the per-module ``csynth`` files when every layer was found in them,
  else from the model for every layer; ``sources.per_layer`` names it.
* ``latency`` is the csynth worst case when Vitis could bound it, else the model's (the
  event-driven loops have data-dependent trip counts, which Vitis reports as ``undef``);
  ``latency.source`` names it. The model's activity-based figure is always given when the
  C-simulation counted events: ``activity`` on the mean counts per sample, and from every
  sample's own counts (``PRJ/csim_events.npz``) ``activity_max`` (the slowest test image) and
  ``us.activity_p99``.
* The model's own figures are always kept under ``estimate`` for comparison.

``fits``: every resource within its budget fraction of the board, and, if the board sets
``hls.max_latency_us``, the latency within it -- the activity-based latency when events were
counted (what the design takes on real data), else the static worst case.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from spikehls.boards import RESOURCE_KINDS, Board, available_boards, load_board
from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_path, write_json
from spikehls.hls import reports
from spikehls.hls.estimate import Estimate, estimate, latency_per_sample
from spikehls.quantize.intnet import IntNet

REPORT_FILE = "report.json"
PLOT_FILE = "report.png"
META_FILE = "spikehls.json"
CSIM_FILE = "csim.json"


# ---- reading the project ------------------------------------------------------------------------


def read_meta(prj: Path) -> dict[str, Any]:
    f = prj / META_FILE
    if not prj.is_dir():
        raise SpikehlsError(f"{prj}: project folder not found")
    if not f.is_file():
        raise SpikehlsError(f"{f}: not found; is {prj} a project written by 'spikehls hls'?")
    from spikehls.fileio import read_json

    meta = read_json(f, "spikehls HLS project description")
    if not isinstance(meta.get("layers"), list):
        raise SpikehlsError(f"{f}: malformed project description: no 'layers' list")
    for i, lyr in enumerate(meta["layers"]):
        if not isinstance(lyr, dict) or "name" not in lyr or "index" not in lyr:
            raise SpikehlsError(f"{f}: layers[{i}] lacks 'name' or 'index'")
    return meta


def project_board(prj: Path, meta: dict[str, Any], board: Optional[str | Path | Board]) -> Board:
    """The board given on the command line, else the one the project was generated for; either
    way with the block RAM threshold the project was bound with (its BIND_STORAGE lines and its
    twin are fixed: pricing it under another would price another design)."""
    brd = _board_of(prj, meta, board)
    fill = project_fill(meta)
    return brd if fill == brd.hls.block_ram_min_fill else brd.with_block_ram_min_fill(fill)


def project_fill(meta: dict[str, Any]) -> Optional[float]:
    """The block RAM threshold a project was bound with (``hls.block_ram_min_fill`` of its board;
    None -- the default -- also for projects of earlier versions, which were bound at it)."""
    return (meta.get("board") or {}).get("block_ram_min_fill")


def _board_of(prj: Path, meta: dict[str, Any], board: Optional[str | Path | Board]) -> Board:
    if isinstance(board, Board):
        return board
    if board is not None:
        return load_board(board)
    b = meta.get("board") or {}
    src = str(b.get("source") or "")
    stem = src[:-5] if src.endswith(".yaml") else src
    if stem.lower() in available_boards() and not Path(src).is_file():
        return load_board(stem)
    if src and Path(src).is_file():
        return load_board(src)
    if src and not Path(src).is_absolute() and (prj / src).is_file():
        return load_board(prj / src)
    raise SpikehlsError(
        f"{prj / META_FILE}: its board '{b.get('name', '?')}' ({src or 'no source'}) cannot be found; pass --board NAME|FILE"
    )


def project_net(prj: Path, meta: dict[str, Any]) -> IntNet:
    """The integer network of the project, rebuilt from the clean ONNX graph it stores."""

    from spikehls.hls.transforms import intnet_from_clean

    f = prj / "spikehls" / "clean.onnx"
    from spikehls.fileio import read_onnx, reading

    if f.is_file():  # projects of earlier versions, and hand-made ones
        clean = read_onnx(f, "ONNX file")
    else:  # the project keeps one ONNX copy, the exported model: cleaned as the project was made from it
        from spikehls.hls.transforms import clean_graph

        from spikehls.hls.model_copy import load_model_copy, model_copy_path

        f = model_copy_path(prj)
        if not f.is_file():
            raise SpikehlsError(f"{f}: not found; regenerate the project with 'spikehls hls'")
        clean = clean_graph(load_model_copy(prj))
    encoding = "direct" if meta.get("input_kind") == "pixels" else "rate"
    with reading(f, "spikehls network graph (clean.onnx)"):
        net = intnet_from_clean(clean, encoding)
        net.validate()
    return net


def _num(x: Any) -> Optional[float]:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def read_sample_events(prj: Path, names: Mapping[str, str]) -> Optional[dict[str, dict[str, np.ndarray]]]:
    """Every sample's counts from ``PRJ/csim_events.npz`` (:func:`spikehls.hls.csim.csim` writes it):
    ``{layer: {"in_events": [N], "synops": [N]}}`` for the layers it holds, or None without the file."""
    from spikehls.hls.csim import EVENTS_FILE

    f = prj / EVENTS_FILE
    if not f.is_file():
        return None
    from spikehls.fileio import read_npz

    arrays = read_npz(f, "C-simulation event counts (.npz)")
    out = {}
    for name, hls_name in names.items():
        c = arrays.get(hls_name, arrays.get(name))
        if c is None:
            continue
        if c.ndim != 2 or c.shape[1] < 2 or len(c) == 0:
            raise SpikehlsError(f"{f}: layer '{hls_name}' must be an [N, 3] array of counters, got shape {c.shape}")
        out[name] = {"in_events": c[:, 0].astype(np.float64), "synops": c[:, 1].astype(np.float64)}
        if c.shape[1] > 2:  # output spikes: a later layer's skip walk reads them
            out[name]["out_spikes"] = c[:, 2].astype(np.float64)
    return out or None


def read_events(prj: Path, names: Mapping[str, str]) -> Optional[dict[str, dict[str, float]]]:
    """Per-layer event counts per sample from ``PRJ/csim.json``, or None when there is none.

    ``names`` maps each network layer to its name in the project (hls4ml's layer name). The file
    is what :func:`spikehls.hls.csim.csim` writes: ``{"layers": {hls_name: {"in_events_per_sample",
    "synops_per_sample", "out_spikes_per_sample", ...}}}``. Plain ``in_events`` / ``synops`` keys
    (per sample) and a list of ``{"name": ...}`` entries are read too.
    """
    f = prj / CSIM_FILE
    if not f.is_file():
        return None
    from spikehls.fileio import read_json

    data = read_json(f, "C-simulation result (csim.json)", kind=None)
    block = data.get("layers") if isinstance(data, dict) else None
    if block is None:
        return None
    if isinstance(block, list):
        block = {e.get("name"): e for e in block if isinstance(e, dict)}
    if not isinstance(block, dict):
        raise SpikehlsError(f"{f}: 'layers' must be a mapping or a list of layer entries")
    out: dict[str, dict[str, float]] = {}
    for name, hls_name in names.items():
        e = block.get(hls_name, block.get(name))
        if not isinstance(e, dict):
            continue
        row = {}
        for k in ("in_events", "synops", "out_spikes"):
            v = _num(e.get(f"{k}_per_sample", e.get(k)))
            if v is not None:
                row[k] = v
        if "in_events" in row:
            out[name] = row
    return out or None


def meta_layers_by_net_name(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Project layer entries keyed by the network's layer name (``source_name``, the QONNX node
    name, where hls4ml renamed the layer; else ``name``)."""
    return {lyr.get("source_name") or lyr["name"]: lyr for lyr in meta["layers"]}


def project_parallelism(meta: dict[str, Any]) -> dict[str, int]:
    return {n: int(lyr.get("parallelism") or 1) for n, lyr in meta_layers_by_net_name(meta).items()}


# ---- building the report ------------------------------------------------------------------------


def _utilization(total: Mapping[str, float], board: Board) -> dict[str, dict[str, Optional[float]]]:
    """Fractions of the board totals and of the allowed budget (None where the board has none)."""
    allowed = board.allowed()
    of_board: dict[str, Optional[float]] = {}
    of_budget: dict[str, Optional[float]] = {}
    for k in RESOURCE_KINDS:
        used = float(total[k])
        cap = float(getattr(board.resources, k))
        of_board[k] = used / cap if cap > 0 else (0.0 if used == 0 else None)
        of_budget[k] = used / allowed[k] if allowed[k] > 0 else (0.0 if used == 0 else None)
    return {"of_board": of_board, "of_budget": of_budget}


def latency_for_bound(latency: dict[str, Any], of: str = "mean") -> tuple[Optional[float], str]:
    """The latency a board's ``hls.max_latency_us`` is checked against, and its name in the report.

    ``of`` is the board's ``hls.max_latency_of``: ``mean``, the activity latency on the mean event
    counts; ``slowest``, the slowest test vector's (``activity_max``). Without counted events the
    static worst case stands in for either: it bounds every input.
    """
    key = "activity_max" if of == "slowest" else "activity"
    act = latency["us"].get(key)
    if act is not None:
        return act, key
    return latency["us"].get("worst"), "worst"


def fits_detail(report: Mapping[str, Any], board: Board) -> dict[str, Optional[bool]]:
    """Per resource: within its allowed count? ``latency``: within the bound (None: no bound)."""
    allowed = board.allowed()
    out: dict[str, Optional[bool]] = {k: float(report["total"][k]) <= allowed[k] + 1e-9 for k in RESOURCE_KINDS}
    bound = board.hls.max_latency_us
    if bound is None:
        out["latency"] = None
    else:
        us, _ = latency_for_bound(report["latency"], board.hls.max_latency_of)
        out["latency"] = us is not None and us <= bound
    return out


def over_budget(report: Mapping[str, Any], board: Board) -> dict[str, float]:
    """What is over budget, and by how much: ``{resource: used / allowed - 1}`` (> 0 only).

    A resource the board does not have at all (allowed 0) but the design uses reads ``inf``.
    When the board bounds the latency (``hls.max_latency_us``) and the design exceeds it, the
    key ``latency`` carries ``latency / bound - 1`` the same way. Empty dict = it fits. This is
    what the co-design loop turns into per-layer sparsity targets.
    """
    allowed = board.allowed()
    out: dict[str, float] = {}
    for k in RESOURCE_KINDS:
        used = float(report["total"][k])
        if allowed[k] <= 0:
            if used > 0:
                out[k] = math.inf
        elif used > allowed[k] + 1e-9:
            out[k] = used / allowed[k] - 1.0
    bound = board.hls.max_latency_us
    if bound is not None:
        us, _ = latency_for_bound(report["latency"], board.hls.max_latency_of)
        if us is not None and us > bound:
            out["latency"] = us / bound - 1.0
    return out


def layer_shares(report: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per layer, its share of each resource (and of ``cycles``) summed over the layers.

    Shares of one resource add up to 1 over the layers (0 everywhere if no layer uses it).
    ``cycles`` uses the activity-based cycles when every layer has them, else the worst case.
    """
    rows = report["per_layer"]
    use_act = rows and all(r.get("cycles_activity") is not None for r in rows)
    keys = list(RESOURCE_KINDS) + ["cycles"]

    def val(r: Mapping[str, Any], k: str) -> float:
        if k == "cycles":
            return float(r["cycles_activity"] if use_act else r["cycles_worst"] or 0)
        return float(r[k])

    sums = {k: sum(val(r, k) for r in rows) for k in keys}
    return {r["name"]: {k: (val(r, k) / sums[k] if sums[k] > 0 else 0.0) for k in keys} for r in rows}


def _layer_row(le, meta_layer: Mapping[str, Any]) -> dict[str, Any]:
    d = {
        "name": le.name,
        "kind": le.kind,
        "parallelism": le.parallelism,
        **le.resources(),
        "cycles_worst": le.cycles_worst,
        "cycles_activity": le.cycles_activity,
        "source": "estimate",
        # where the model puts this layer's cost (labelled: it stays the model's even when
        # csynth figures replace the numbers above)
        "estimate_detail": le.detail,
    }
    if "index" in meta_layer:
        d["hls_index"] = int(meta_layer["index"])
    return d


def build_report(
    prj: str | Path,
    board: Optional[str | Path | Board] = None,
    net: Optional[IntNet] = None,
) -> dict[str, Any]:
    """Assemble the report of project ``prj`` (see the module docstring); writes nothing."""
    prj = Path(prj)
    meta = read_meta(prj)
    brd = project_board(prj, meta, board)
    net = net if net is not None else project_net(prj, meta)
    names = [lyr.name for lyr in net.layers]
    meta_layers = meta_layers_by_net_name(meta)
    missing = [n for n in names if n not in meta_layers]
    if missing:
        raise SpikehlsError(f"{prj / META_FILE}: no entry for layer(s) {', '.join(missing)} of the network")
    events = read_events(prj, {n: meta_layers[n]["name"] for n in names})
    est: Estimate = estimate(net, brd, project_parallelism(meta), events)
    est_d = est.to_dict()

    per_layer = [_layer_row(le, meta_layers[le.name]) for le in est.per_layer]
    total: dict[str, int] = dict(est.total)
    source = "estimate"
    per_layer_source = "estimate"
    latency = {
        "cycles": {"worst": est.cycles_worst, "activity": est.cycles_activity},
        "us": {"worst": est.us_worst, "activity": est.us_activity},
        "interval_cycles": est.interval_worst,
        "clock_mhz": brd.clock_mhz,
        "source": "estimate",
    }
    per_sample = read_sample_events(prj, {n: meta_layers[n]["name"] for n in names})
    cyc = None
    if per_sample is not None and est.cycles_activity is not None:
        # the same model on every test sample's own counts: the slowest image, and the 99th percentile
        try:
            cyc = latency_per_sample(net, brd, project_parallelism(meta), per_sample)
        except SpikehlsError:  # a spiking layer without per-sample counts: the mean figure only
            cyc = None
    if cyc is not None:
        latency["cycles"]["activity_max"] = float(cyc.max())
        latency["us"]["activity_max"] = float(cyc.max()) / brd.clock_mhz
        latency["us"]["activity_p99"] = float(np.percentile(cyc, 99)) / brd.clock_mhz
        latency["samples"] = int(len(cyc))
    notes: list[str] = []
    synth_files: dict[str, Any] = {}

    top_name = meta.get("project_name") or reports.project_name(prj)
    cs = reports.read_csynth(prj, top_name)
    if cs is not None:
        synth_files["csynth"] = cs.folder
        total = dict(cs.top.resources)
        source = "csynth"
        keys = {n: [f"config{int(meta_layers[n]['index'])}"] for n in names}
        matched = reports.match_layer_modules(cs.modules, keys, cs.hierarchy)
        unmatched = [n for n in names if not matched[n]]
        if unmatched:
            notes.append(
                f"per-layer figures are the model estimate: no csynth module found for {', '.join(unmatched)}"
            )
        else:
            per_layer_source = "csynth"
            for row in per_layer:
                mods = matched[row["name"]]
                for k in RESOURCE_KINDS:
                    row[k] = sum(m.resources[k] for m in mods)
                lat = [m.latency_worst for m in mods]
                row["csynth_latency_worst"] = None if any(v is None for v in lat) else sum(lat)  # type: ignore[arg-type]
                row["modules"] = [m.module for m in mods]
                row["source"] = "csynth"
        if cs.top.latency_worst is not None:
            latency["cycles"]["worst"] = cs.top.latency_worst
            latency["cycles"]["best"] = cs.top.latency_best
            latency["us"]["worst"] = cs.top.latency_worst / brd.clock_mhz
            latency["interval_cycles"] = cs.top.interval_max
            latency["source"] = "csynth"
            latency["activity_source"] = "estimate"
        else:
            notes.append("csynth could not bound the latency (data-dependent event loops): latency is the model estimate")
    viv = reports.read_vivado_synth(prj)
    if viv is not None:
        synth_files["vivado_synth"] = str(prj / "vivado_synth.rpt")
        total = dict(viv)
        source = "vivado_synth"

    report: dict[str, Any] = {
        "format": "spikehls.report/1",
        "project": str(prj),
        "board": {"name": brd.name, "source": brd.source, "part": brd.part, "clock_mhz": brd.clock_mhz},
        "source": source,
        "sources": {"total": source, "per_layer": per_layer_source, "latency": latency["source"]},
        "total": {k: int(total[k]) for k in RESOURCE_KINDS},
        "latency": latency,
        "per_layer": per_layer,
        "events": events,
        "estimate": {"source": "estimate", "total": est_d["total"], "latency": est_d["latency"]},
        "synth_reports": synth_files,
        "budget": {k: float(getattr(brd.budget, k)) for k in RESOURCE_KINDS},
        "allowed": {k: float(v) for k, v in brd.allowed().items()},
        "max_latency_us": brd.hls.max_latency_us,
        "notes": notes,
    }
    return _judge(report, brd)


def _judge(report: dict[str, Any], brd: Board) -> dict[str, Any]:
    """Add utilization, fits, over_budget and layer shares to a report with total/latency/per_layer."""
    report["utilization"] = _utilization(report["total"], brd)
    detail = fits_detail(report, brd)
    report["fits_detail"] = detail
    report["fits"] = all(v is not False for v in detail.values())
    if brd.hls.max_latency_us is not None:
        report["latency"]["bound_checked"] = latency_for_bound(report["latency"], brd.hls.max_latency_of)[1]
    ob = over_budget(report, brd)
    report["over_budget"] = {k: (None if math.isinf(v) else v) for k, v in ob.items()}  # JSON has no inf
    report["layer_shares"] = layer_shares(report)
    return report


def estimate_report(
    net: IntNet,
    board: str | Path | Board,
    parallelism: int | Mapping[str, int] | None = None,
    events: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The same report, straight from an integer network and the model (no HLS project needed).

    For sweeps and for the co-design loop between two HLS generations: ``source`` is always
    ``estimate``; ``parallelism``/``events`` as in :func:`spikehls.hls.estimate.estimate`.
    """
    brd = board if isinstance(board, Board) else load_board(board)
    est = estimate(net, brd, parallelism, events)
    d = est.to_dict()
    report: dict[str, Any] = {
        "format": "spikehls.report/1",
        "project": None,
        "board": {"name": brd.name, "source": brd.source, "part": brd.part, "clock_mhz": brd.clock_mhz},
        "source": "estimate",
        "sources": {"total": "estimate", "per_layer": "estimate", "latency": "estimate"},
        "total": dict(est.total),
        "latency": {**d["latency"], "source": "estimate"},
        "per_layer": [_layer_row(le, {}) for le in est.per_layer],
        "events": dict(events) if events else None,
        "estimate": {"source": "estimate", "total": d["total"], "latency": d["latency"]},
        "synth_reports": {},
        "budget": {k: float(getattr(brd.budget, k)) for k in RESOURCE_KINDS},
        "allowed": {k: float(v) for k, v in brd.allowed().items()},
        "max_latency_us": brd.hls.max_latency_us,
        "notes": [],
    }
    return _judge(report, brd)


# ---- presenting it ----------------------------------------------------------------------------


def _fmt_int(x: Any) -> str:
    return "-" if x is None else f"{int(round(float(x))):,}"


def _fmt_pct(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def format_table(report: Mapping[str, Any]) -> str:
    """A readable table: every layer, the total, the allowed budget and the utilization."""
    b = report["board"]
    lines = [
        f"{report['project']}  on {b['name']} ({b['part']}, {b['clock_mhz']:g} MHz)",
        f"resources: {report['sources']['total']}   per layer: {report['sources']['per_layer']}"
        f"   latency: {report['sources']['latency']}",
        "",
    ]
    nw = max([14] + [len(str(r["name"])) + 2 for r in report["per_layer"]])  # layer names are never cut
    kw = max([13] + [len(str(r["kind"])) + 1 for r in report["per_layer"]])
    lw = nw + kw + 4  # the label column of the total rows
    head = f"{'layer':<{nw}}{'kind':<{kw}}{'P':>4}" + "".join(f"{k:>9}" for k in RESOURCE_KINDS) + f"{'cycles worst':>14}{'cycles act.':>13}"
    lines += [head, "-" * len(head)]
    for r in report["per_layer"]:
        lines.append(
            f"{r['name']:<{nw}}{r['kind']:<{kw}}{r['parallelism']:>4}"
            + "".join(f"{_fmt_int(r[k]):>9}" for k in RESOURCE_KINDS)
            + f"{_fmt_int(r['cycles_worst']):>14}{_fmt_int(r.get('cycles_activity')):>13}"
        )
    lines.append("-" * len(head))
    lines.append(f"{'total':<{lw}}" + "".join(f"{_fmt_int(report['total'][k]):>9}" for k in RESOURCE_KINDS))
    lines.append(f"{'allowed':<{lw}}" + "".join(f"{_fmt_int(report['allowed'][k]):>9}" for k in RESOURCE_KINDS))
    lines.append(
        f"{'used / allowed':<{lw}}" + "".join(f"{_fmt_pct(report['utilization']['of_budget'][k]):>9}" for k in RESOURCE_KINDS)
    )
    lines.append(
        f"{'used / board':<{lw}}" + "".join(f"{_fmt_pct(report['utilization']['of_board'][k]):>9}" for k in RESOURCE_KINDS)
    )
    lines += _memory_lines(report["per_layer"], nw)
    lat = report["latency"]
    act = lat["cycles"].get("activity")
    s = f"latency (1 sample): worst {_fmt_int(lat['cycles']['worst'])} cycles = {lat['us']['worst']:.1f} us"
    if act is not None:
        s += f"; on the C-simulation's activity {_fmt_int(act)} cycles = {lat['us']['activity']:.1f} us (mean)"
        if lat["us"].get("activity_max") is not None:
            s += f", {lat['us']['activity_max']:.1f} us for the slowest of {lat.get('samples', '?')} test samples"
    lines += ["", s]
    if report.get("max_latency_us") is not None:
        lines.append(f"latency bound {report['max_latency_us']:g} us (checked: {lat.get('bound_checked', 'worst')})")
    for n in report.get("notes", []):
        lines.append(f"note: {n}")
    if report["fits"]:
        lines.append("fits the board budget: yes")
    else:
        over = ", ".join(
            f"{k} +{100 * v:.0f}%" if v is not None else f"{k} (board has none)" for k, v in report["over_budget"].items()
        )
        lines.append(f"fits the board budget: NO ({over})")
    return "\n".join(lines)


def _memory_lines(rows, nw: int) -> list[str]:
    """Per layer, what it stores against what the memory rule's primitives allocate (the model's
    figures, spikehls.hls.memory: they say where the arrays live, whatever source the columns above have)."""
    rows = [r for r in rows if "bits_stored" in (r.get("estimate_detail") or {})]
    if not rows:
        return []
    head = f"{'memory (estimate)':<{nw}}{'stored kbit':>13}{'allocated':>11}{'ratio':>7}  where (array: style)"
    out = ["", head, "-" * len(head)]
    for r in rows:
        d = r["estimate_detail"]
        st, al = d["bits_stored"], d["bits_allocated"]
        where = ", ".join(f"{k}: {m['style']}" for k, m in d.get("memories", {}).items() if not m.get("rom"))
        out.append(f"{r['name']:<{nw}}{st / 1024:>13.1f}{al / 1024:>11.1f}{(al / st if st else 0):>7.2f}  {where}")
    return out


def plot_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """Bar chart of per-layer resources as a fraction of the allowed budget, plus cycles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["per_layer"]
    names = [r["name"] for r in rows]
    kinds = [k for k in RESOURCE_KINDS if report["allowed"][k] > 0]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.0, 1.1 * len(names) + 3), 7), sharex=True)
    width = 0.8 / max(1, len(kinds))
    for j, k in enumerate(kinds):
        vals = [100.0 * float(r[k]) / report["allowed"][k] for r in rows]
        ax1.bar([i + (j - (len(kinds) - 1) / 2) * width for i in range(len(rows))], vals, width, label=k)
    ax1.set_ylabel("used / allowed budget (%)")
    ax1.set_title(
        f"{report['board']['name']}: per-layer resources ({report['sources']['per_layer']}); "
        f"total {report['source']}, fits: {'yes' if report['fits'] else 'no'}"
    )
    ax1.legend(ncol=len(kinds), fontsize="small")
    worst = [float(r["cycles_worst"]) for r in rows]
    ax2.bar([i - 0.2 for i in range(len(rows))], worst, 0.4, label="worst case")
    if all(r.get("cycles_activity") is not None for r in rows):
        ax2.bar([i + 0.2 for i in range(len(rows))], [float(r["cycles_activity"]) for r in rows], 0.4, label="C-sim activity")
    mhz = float(report["board"].get("clock_mhz") or 0)
    ax2.set_ylabel("cycles per sample (log)" + (f"\n1 cycle = {1e3 / mhz:g} ns" if mhz else ""))
    ax2.set_yscale("log")
    ax2.set_xlabel("layer")
    ax2.set_title("latency per layer (cycles; worst case and on the C-simulation's activity)", fontsize="medium")
    ax2.legend(fontsize="small")
    ax2.set_xticks(range(len(rows)))
    ax2.set_xticklabels(names, rotation=30, ha="right")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def run_report(prj: str | Path, board: Optional[str | Path | Board] = None, plot: bool = False) -> dict[str, Any]:
    """Build the report, write ``PRJ/report.json`` (and ``PRJ/report.png``), return it."""
    prj = Path(prj)
    report = build_report(prj, board)
    if plot:
        report["plot"] = str(plot_report(report, prj / PLOT_FILE))
    write_json(prj / REPORT_FILE, report)
    return report
