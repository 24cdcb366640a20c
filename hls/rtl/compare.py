"""The model's estimate next to what yosys and Verilator measured on the RTL twin, never mixed.

:func:`measured_section` reads ``PRJ/synth.json`` (source ``yosys``) and ``PRJ/rtlsim.json``
(source ``verilator``) and pairs every figure with the estimate of the same layer and its ratio
(measured / estimate). The estimate stays the estimate; a board fit can be judged on the yosys
figures instead (``spikehls report --source yosys``), and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from spikehls.boards import RESOURCE_KINDS, Board
from spikehls.fileio import read_json

SYNTH_FILE = "synth.json"
RTLSIM_FILE = "rtlsim.json"


def _ratio(measured: Optional[float], model: Optional[float]) -> Optional[float]:
    if measured is None or not model:
        return None
    return round(float(measured) / float(model), 3)


def measured_section(prj: Path, report: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """``{"yosys": ..., "verilator": ...}`` beside the report's estimate, or None without either file."""
    prj = Path(prj)
    out: dict[str, Any] = {}
    rows = {r["name"]: r for r in report["per_layer"]}
    est_total = report.get("estimate", {}).get("total", report["total"])
    if (prj / SYNTH_FILE).is_file():
        syn = read_json(prj / SYNTH_FILE, "synthesis result written by 'spikehls synth'")
        per = {}
        for name, y in syn.get("per_layer", {}).items():
            e = rows.get(name, {})
            per[name] = {k: {"yosys": y.get(k), "estimate": e.get(k), "ratio": _ratio(y.get(k), e.get(k))} for k in RESOURCE_KINDS}
            per[name]["LUTRAM"] = {"yosys": y.get("LUTRAM")}
        tot = syn["total"]
        out["yosys"] = {
            "source": "yosys", "version": syn.get("yosys"), "family": syn.get("family"),
            "total": {k: {"yosys": tot.get(k), "estimate": est_total.get(k), "ratio": _ratio(tot.get(k), est_total.get(k))}
                      for k in RESOURCE_KINDS},
            "LUTRAM": tot.get("LUTRAM"), "control_LUT": syn.get("top", {}).get("LUT"),
            "per_layer": per,
        }
    if (prj / RTLSIM_FILE).is_file():
        sim = read_json(prj / RTLSIM_FILE, "RTL simulation result written by 'spikehls rtlsim'")
        lat = report["latency"]
        per = {}
        for name, c in sim.get("cycles", {}).get("per_layer", {}).items():
            e = rows.get(name, {})
            per[name] = {"verilator": c.get("mean"), "estimate": e.get("cycles_activity"), "ratio": _ratio(c.get("mean"), e.get("cycles_activity"))}
        out["verilator"] = {
            "source": "verilator", "exact": sim.get("exact"), "samples": sim.get("samples"),
            "cycles_mean": {"verilator": sim["cycles"]["mean"], "estimate": lat["cycles"].get("activity"),
                            "ratio": _ratio(sim["cycles"]["mean"], lat["cycles"].get("activity"))},
            "us": {"mean": sim["latency_us"]["mean"], "p99": sim["latency_us"]["p99"], "max": sim["latency_us"]["max"]},
            "interval_cycles": sim.get("interval_cycles"),
            "per_layer": per,
        }
    return out or None


def synth_over(prj: Path, board: Board) -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    """Generate and synthesize the twin of ``prj``: (synth result, yosys totals, the totals over
    ``board``'s allowed budget). The one measure-and-judge step of ``codesign --verify yosys`` and
    ``sweep --verify yosys``."""
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.hls.rtl.synth import synth

    generate_rtl(prj)
    s = synth(prj)
    allowed = board.allowed()
    totals = {k: int(s["total"][k]) for k in RESOURCE_KINDS}
    return s, totals, {k: v for k, v in totals.items() if v > allowed[k]}


def layers_over(prj: Path, board: Board, top: int, totals: Optional[Mapping[str, Any]] = None,
                log=None) -> tuple[dict[str, Any], dict[str, Optional[float]], dict[str, Any], list[str]]:
    """Synthesize the ``top`` largest layers of ``prj`` alone (:func:`layer_check`) and judge the
    design by them: (the check, the measured / model ratio per resource -- LUT and FF, None for the
    rest --, the design's ``totals`` (default: the check's model totals) with LUT and FF scaled by
    their ratio where one was formed, the resources of those over ``board``'s allowed budget). The
    one measure-and-judge step of ``codesign --verify yosys-layers`` and ``sweep --verify
    yosys-layers``; the scaled figures are an indication (the unchecked layers assumed off by the
    same factor), never a yosys total."""
    chk = layer_check(prj, top, log=log)
    c = chk["checked"]
    ratios: dict[str, Optional[float]] = {k: None for k in RESOURCE_KINDS}
    ratios["LUT"], ratios["FF"] = c["yosys_over_model"], c["FF_yosys_over_model"]
    est = dict(chk["design_model"] if totals is None else totals)
    judged = {k: round(est[k] * ratios[k]) if ratios[k] and est.get(k) is not None else est.get(k) for k in RESOURCE_KINDS}
    allowed = board.allowed()
    return chk, ratios, judged, [k for k in RESOURCE_KINDS if judged[k] is not None and judged[k] > allowed[k]]


def fits_on(measured: Mapping[str, Any], board: Board) -> dict[str, Optional[bool]]:
    """Whether the yosys totals fit the board's allowed budget, resource by resource."""
    allowed = board.allowed()
    tot = measured["yosys"]["total"]
    return {k: (tot[k]["yosys"] <= allowed[k]) if tot[k]["yosys"] is not None else None for k in RESOURCE_KINDS}


def format_side_by_side(measured: Mapping[str, Any]) -> str:
    """Per layer and in total: estimate | yosys | ratio for LUT, FF, BRAM18, DSP; cycles estimate | verilator."""
    lines = []
    y = measured.get("yosys")
    v = measured.get("verilator")
    if y:
        lines.append(f"measured on the RTL twin: {y['version'].split(' (')[0]} synth_xilinx -family {y['family']} "
                     "(source: yosys; an upper bracket of Vivado's LUT count)")
        head = f"{'layer':<16}" + "".join(f"{k + ' est':>11}{k + ' yosys':>13}{'ratio':>7}" for k in ("LUT", "FF", "BRAM18", "DSP"))
        lines += [head, "-" * len(head)]
        for name, r in y["per_layer"].items():
            lines.append(f"{name[:15]:<16}" + "".join(
                f"{_i(r[k]['estimate']):>11}{_i(r[k]['yosys']):>13}{_r(r[k]['ratio']):>7}" for k in ("LUT", "FF", "BRAM18", "DSP")))
        t = y["total"]
        lines.append("-" * len(head))
        lines.append(f"{'total':<16}" + "".join(
            f"{_i(t[k]['estimate']):>11}{_i(t[k]['yosys']):>13}{_r(t[k]['ratio']):>7}" for k in ("LUT", "FF", "BRAM18", "DSP")))
        lines.append(f"(yosys total includes {_i(y['control_LUT'])} LUT of top-level control and the input buffer; "
                     f"{_i(y['LUTRAM'])} LUT are LUTRAM)")
    if v:
        if lines:
            lines.append("")
        lines.append(f"cycles per sample (mean over {v['samples']} test vectors): estimate {_i(v['cycles_mean']['estimate'])}, "
                     f"verilator {_i(v['cycles_mean']['verilator'])} (ratio {_r(v['cycles_mean']['ratio'])}); "
                     f"RTL {v['us']['mean']:.1f} us mean / {v['us']['p99']:.1f} p99 / {v['us']['max']:.1f} max, "
                     f"{'spike-exact' if v['exact'] else 'NOT EXACT'} (source: verilator)")
        for name, r in v["per_layer"].items():
            lines.append(f"  {name[:20]:<22}cycles estimate {_i(r['estimate']):>10}   verilator {_i(r['verilator']):>10}   ratio {_r(r['ratio'])}")
    return "\n".join(lines)


def _i(x: Any) -> str:
    return "-" if x is None else f"{int(round(float(x))):,}"


def _r(x: Any) -> str:
    return "-" if x is None else f"{float(x):.2f}"


def layer_check(prj: Path, top: int = 3, log=None) -> dict[str, Any]:
    """Synthesize the ``top`` layers the model prices highest, each module alone (``spikehls synth
    --layer``), and put model and yosys side by side.

    For designs too large to synthesize whole (a 150k-LUT twin is hours of yosys on two cores, one
    layer minutes). Returns the checked layers (source ``yosys``, scope: each layer alone, within
    ~10 % of the same layer in its design), their summed ratio and the design's model total scaled by
    it -- labelled an indication: the unchecked layers are assumed off by the same factor."""
    import time

    from spikehls.hls.estimate import estimate
    from spikehls.hls.report_run import project_board, project_net, project_parallelism, read_meta
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.hls.rtl.synth import synth_layers

    prj = Path(prj)
    meta = read_meta(prj)
    board = project_board(prj, meta, None)
    e = estimate(project_net(prj, meta), board, project_parallelism(meta))
    generate_rtl(prj)
    picked = sorted(e.per_layer, key=lambda le: -le.LUT)[:max(1, int(top))]
    rows, t0, version = [], time.perf_counter(), ""
    for le in picked:
        r = synth_layers(prj, [le.name])
        y, version = r["per_layer"][le.name], r["yosys"]
        rows.append({"layer": le.name, "kind": le.kind, "parallelism": le.parallelism,
                     "model": {"LUT": le.LUT, "FF": le.FF, "BRAM18": le.BRAM18, "URAM": le.URAM, "LUTRAM": le.detail["LUTRAM"]},
                     "yosys_alone": {k: y[k] for k in ("LUT", "LUT_logic", "LUTRAM", "FF", "BRAM18", "URAM", "DSP")},
                     "seconds": r["seconds"]})
        if log:
            log(f"   {le.name}: model {le.LUT:,} LUT, yosys alone {y['LUT']:,} ({(le.LUT - y['LUT']) / max(y['LUT'], 1):+.1%}); "
                f"BRAM18 {le.BRAM18}/{y['BRAM18']}, URAM {le.URAM}/{y['URAM']}, {r['seconds']:.0f} s")
    m = sum(r["model"]["LUT"] for r in rows)
    y = sum(r["yosys_alone"]["LUT"] for r in rows)
    mf = sum(r["model"]["FF"] for r in rows)
    yf = sum(r["yosys_alone"]["FF"] for r in rows)
    allowed = board.allowed()
    ratio = y / m if m else 1.0
    return {
        "source": "yosys", "scope": f"the {len(rows)} largest layers by the model, each module synthesized alone",
        "project": str(prj), "board": board.name, "yosys": version, "layers": rows,
        "checked": {"model_LUT": m, "yosys_LUT": y, "yosys_over_model": round(ratio, 4),
                    "model_FF": mf, "yosys_FF": yf, "FF_yosys_over_model": round(yf / mf, 4) if mf else None,
                    "share_of_model_total": round(m / e.total["LUT"], 4) if e.total["LUT"] else None,
                    "memories_equal": all(r["model"][k] == r["yosys_alone"][k] for r in rows for k in ("BRAM18", "URAM"))},
        "design_model": e.total,
        "design_LUT_scaled_by_the_checked_ratio": {
            "source": "estimate x (yosys / estimate of the checked layers): an indication, not a measurement",
            "LUT": round(e.total["LUT"] * ratio), "of_allowed": round(e.total["LUT"] * ratio / allowed["LUT"], 4)},
        "seconds": round(time.perf_counter() - t0, 1),
    }
