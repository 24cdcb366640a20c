"""The model against yosys on a network in the shape of the VGG-16 design co-designed for the ZCU104.

That design's trained weights are not kept in the repository (a run of hours), but its shape is
recorded (``benchmarks/results/codesign_vgg16_zcu104_yosys_corrected.json``: channels per layer and
the parallelism the planner chose). This takes the proxy of ``benchmarks/codesign_record_estimate.py``
in that shape, as a trained net is (``trained_like``: 0-40 % zero 4-bit weights, nonzero biases),
writes its project at the recorded parallelism on the ZCU104 and synthesizes its ``--top`` largest
layers alone (``compare.layer_check``): a check of the model at VGG-16 scale on layers no fit saw. Resources only (weights random: accuracy is not
the claim). Writes ``benchmarks/results/layer_synth_vgg16_proxy.json``.

    python benchmarks/vgg16_proxy.py [--top 4] [--work DIR] [--out FILE]
    python benchmarks/vgg16_proxy.py --reestimate   # today's model on the recorded yosys figures

``--reestimate``: no synthesis; the same project is written again (the proxy and its inputs are
seeded) and today's model is set beside the yosys figures a previous run recorded in ``RESULTS``
(-> ``layer_synth_vgg16_proxy_reestimate.json``): how a refit moved the model at this scale.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RECORD = HERE / "results" / "codesign_vgg16_zcu104_yosys_corrected.json"
RESULTS = HERE / "results" / "layer_synth_vgg16_proxy.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--top", type=int, default=4)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--reestimate", action="store_true",
                    help="no synthesis: today's model beside the yosys figures recorded in the results file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent / "tests"))
    sys.path.insert(0, str(HERE))
    from _hls_nets import write_run

    from spikehls.fileio import write_json
    from spikehls.hls.project import generate_project
    from spikehls.hls.rtl.compare import layer_check
    from spikehls.quantize.random_net import random_inputs

    from codesign_record_estimate import proxy

    record = json.loads(RECORD.read_text())
    final = record["iterations"][record["final"]["iteration"]]
    net = proxy(final["channels_per_layer"], trained_like=True)
    par = {k: int(v) for k, v in record["final"]["parallelism"].items() if not k.endswith(".pool")}  # weighted layers
    rng = np.random.default_rng(1)
    work = Path(args.work or tempfile.mkdtemp(prefix="spikehls-vgg16proxy-"))
    run = write_run(net, work / "run", random_inputs(rng, net, 2))
    prj = work / "prj"
    generate_project(run / "model.qonnx.onnx", "zcu104", prj, testvectors=run / "testvectors.npz", layer_overrides=par)
    if args.reestimate:
        return _reestimate(prj, args.out if args.out != RESULTS else RESULTS.with_name("layer_synth_vgg16_proxy_reestimate.json"))
    res = layer_check(prj, args.top, log=lambda s: print(s.strip(), flush=True))
    out = {"benchmark": "vgg16_proxy", "command": "python benchmarks/vgg16_proxy.py" + (f" --top {args.top}" if args.top != 4 else ""),
           "shape_from": str(RECORD.relative_to(HERE.parent)), "note": "random weights in the recorded design's shape: resources only", **res}
    write_json(args.out, out)
    print(json.dumps(out["checked"]), json.dumps(out["design_LUT_scaled_by_the_checked_ratio"]))
    return 0


def _reestimate(prj: Path, out_path: Path) -> int:
    from spikehls.fileio import write_json
    from spikehls.hls.estimate import estimate
    from spikehls.hls.report_run import project_board, project_net, project_parallelism, read_meta

    meta = read_meta(prj)
    e = estimate(project_net(prj, meta), project_board(prj, meta, None), project_parallelism(meta))
    per = {le.name: le for le in e.per_layer}
    recorded = json.loads(RESULTS.read_text())
    layers = []
    for lyr in recorded["layers"]:
        le, y = per[lyr["layer"]], lyr["yosys_alone"]
        layers.append({"layer": lyr["layer"], "model_recorded": lyr["model"]["LUT"], "model_now": le.LUT, "yosys_alone": y["LUT"],
                       "error_now": round(le.LUT / y["LUT"] - 1, 4), "FF_model_now": le.FF, "FF_yosys": y["FF"],
                       "BRAM18_model_now": le.BRAM18, "BRAM18_yosys": y["BRAM18"]})
    m, y = sum(r["model_now"] for r in layers), sum(r["yosys_alone"] for r in layers)
    out = {"benchmark": "vgg16_proxy", "command": "python benchmarks/vgg16_proxy.py --reestimate", "source": "estimate beside yosys",
           "yosys_from": RESULTS.name, "layers": layers, "yosys_over_model": round(y / m, 4), "design_model_now": e.total,
           "design_LUT_scaled_by_the_checked_ratio": round(e.total["LUT"] * y / m)}
    write_json(out_path, out)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
