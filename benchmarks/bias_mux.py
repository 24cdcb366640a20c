"""What a nonzero bias costs a conv layer of the Verilog twin: one layer, two bias files, yosys.

The accumulators start at the bias (``b_init``) and the fire pass resets them to it (``b_fire``):
two inputs of every bank's write-data mux for each lane with a nonzero bias, constants yosys
folds away where a lane's biases are all 0. This measures the price ``twin_cost.items`` gives that
item (``bias_mux`` = F x acc_bits x bias lanes x 2): VGG-16 slice 7 of the calibration set (24
lanes, 18 fire lanes, 13-bit accumulators, zero biases), its conv0 synthesized alone as generated
and again with random 2-bit biases in its bias ROM (same widths, same Verilog).
``synth_xilinx -family xcup``. Writes ``benchmarks/results/bias_mux.json``.

    python benchmarks/bias_mux.py [--work DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bias_mux.json"


def _luts(stat: str, module: str) -> int:
    body = stat.split(f"=== {module} ===")[1].split("===")[0]
    return sum(int(n) for n in re.findall(r"^\s+(\d+)\s+LUT[1-6]\s*$", body, re.M))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent / "tests"))
    from calibrate import _write_project

    from spikehls.fileio import write_json
    from spikehls.hls.rtl.generate import generate_rtl, project_geometry
    from spikehls.hls.rtl.synth import _yosys
    from spikehls.hls.twin_cost import items

    work = Path(args.work or tempfile.mkdtemp(prefix="spikehls-bias-"))
    _, _, _, prj = _write_project(7, "vgglayer", 2, "zcu104", work / "vgg7")
    layout = generate_rtl(prj)
    _, geos, _ = project_geometry(prj)
    g = geos[0]
    mod = layout["layers"][0]["module"]
    rtl = prj / "rtl"
    bias = next(rtl.glob("l0_*_bias.mem"))
    words = bias.read_text().split()
    cmd, version = _yosys()
    rows = {}
    for case in ("as generated", "random 2-bit biases"):
        if case != "as generated":
            rng = np.random.default_rng(0)
            new = [format(sum(int(rng.integers(0, 4)) << (2 * j) for j in range(g.lanes)), f"0{len(words[0])}x") for _ in words]
            bias.write_text("\n".join(new) + "\n")
        t0 = time.perf_counter()
        files = " ".join((rtl / "files.f").read_text().split())
        subprocess.run([*cmd, "-q", "-p", f"read_verilog -sv -DSPIKEHLS_YOSYS {files}; synth_xilinx -family xcup -top {mod}; "
                        "tee -q -o bias_stat.txt stat"], cwd=rtl, check=True, capture_output=True)
        stat = (rtl / "bias_stat.txt").read_text()
        rows[case] = {"LUT_logic": _luts(stat, mod) + sum(_luts(stat, m) * int(n) for n, m in
                                                          re.findall(rf"^\s+(\d+)\s+({mod}_\w+)\s*$", stat.split(f"=== {mod} ===")[1].split("===")[0], re.M)),
                      "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{case}: {rows[case]['LUT_logic']:,} LUT (logic)", flush=True)
    # the item as the model counts it for this layer with every lane biased
    from dataclasses import replace

    item = items(replace(g, bias_lanes=g.lanes), 1, True, True)["LUT"]["bias_mux"]
    extra = rows["random 2-bit biases"]["LUT_logic"] - rows["as generated"]["LUT_logic"]
    res = {"benchmark": "bias_mux", "command": "python benchmarks/bias_mux.py", "source": "yosys", "yosys": version,
           "layer": {"name": g.name, "lanes": g.lanes, "fire_lanes": g.fire_lanes, "acc_bits": g.acc_bits, "bias_lanes_as_generated": g.bias_lanes},
           "cases": rows, "extra_LUT": extra, "bias_mux_item": item, "LUT_per_item": round(extra / item, 4) if item else None}
    write_json(args.out, res)
    print(f"bias: +{extra:,} LUT over {item:,.0f} item units = {res['LUT_per_item']} LUT each", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
