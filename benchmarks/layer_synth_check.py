"""Check a design too large to synthesize whole: its largest layers, each synthesized alone by yosys, beside the model.

A 150k-LUT twin is hours of yosys on two cores; one layer module is minutes (``spikehls synth
--layer``, within ~10 % of the same layer in its design, see ``hls/rtl/synth.py``). This takes the
``--top`` layers the model prices highest, synthesizes each alone and writes model and yosys side by
side with their ratio, and the design's model total scaled by the measured ratio of the checked
layers (an indication, labelled so: the unchecked layers are assumed off by the same factor).

    python benchmarks/layer_synth_check.py PRJ [--top 3] [--out benchmarks/results/FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    from spikehls.fileio import write_json
    from spikehls.hls.estimate import estimate
    from spikehls.hls.report_run import project_board, project_net, project_parallelism, read_meta
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.hls.rtl.synth import synth_layers

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", type=Path)
    ap.add_argument("--top", type=int, default=3, help="how many of the largest layers (by the model's LUT)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    prj = args.project
    meta = read_meta(prj)
    board = project_board(prj, meta, None)
    e = estimate(project_net(prj, meta), board, project_parallelism(meta))
    if not (prj / "rtl" / "rtl.json").is_file():
        generate_rtl(prj)
    picked = sorted(e.per_layer, key=lambda le: -le.LUT)[: args.top]
    rows, t0 = [], time.perf_counter()
    for le in picked:
        r = synth_layers(prj, [le.name])
        y = r["per_layer"][le.name]
        rows.append({"layer": le.name, "kind": le.kind, "parallelism": le.parallelism,
                     "model": {"LUT": le.LUT, "FF": le.FF, "BRAM18": le.BRAM18, "URAM": le.URAM, "LUTRAM": le.detail["LUTRAM"]},
                     "yosys_alone": {k: y[k] for k in ("LUT", "LUT_logic", "LUTRAM", "FF", "BRAM18", "URAM", "DSP")},
                     "seconds": r["seconds"]})
        print(f"{le.name}: model {le.LUT:,} LUT, yosys alone {y['LUT']:,} ({(le.LUT - y['LUT']) / y['LUT']:+.1%}); "
              f"BRAM18 {le.BRAM18}/{y['BRAM18']}, URAM {le.URAM}/{y['URAM']}, {r['seconds']:.0f} s", flush=True)
    m = sum(r["model"]["LUT"] for r in rows)
    y = sum(r["yosys_alone"]["LUT"] for r in rows)
    allowed = board.allowed()
    out = {
        "benchmark": "layer_synth_check",
        "command": "python benchmarks/layer_synth_check.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "project": str(prj), "board": board.name, "yosys": r["yosys"],
        "layers": rows,
        "checked": {"model_LUT": m, "yosys_LUT": y, "yosys_over_model": round(y / m, 4),
                    "share_of_model_total": round(m / e.total["LUT"], 4)},
        "design_model": e.total,
        "design_LUT_scaled_by_the_checked_ratio": {
            "source": "estimate x (yosys / estimate of the checked layers): an indication, not a measurement",
            "LUT": round(e.total["LUT"] * y / m), "of_allowed": round(e.total["LUT"] * y / m / allowed["LUT"], 4)},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json(args.out, out)
    print(json.dumps(out["checked"]), json.dumps(out["design_LUT_scaled_by_the_checked_ratio"]))
    return 0


if __name__ == "__main__":
    from spikehls.errors import SpikehlsError

    try:
        raise SystemExit(main())
    except SpikehlsError as exc:  # a wrong project, a missing yosys: one line, nothing written
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)
