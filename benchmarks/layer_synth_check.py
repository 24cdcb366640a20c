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
from pathlib import Path


def main(argv=None) -> int:
    from spikehls.fileio import write_json
    from spikehls.hls.rtl.compare import layer_check

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", type=Path)
    ap.add_argument("--top", type=int, default=3, help="how many of the largest layers (by the model's LUT)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    res = layer_check(args.project, args.top, log=lambda s: print(s.strip(), flush=True))
    out = {"benchmark": "layer_synth_check",
           "command": "python benchmarks/layer_synth_check.py " + " ".join(sys.argv[1:] if argv is None else argv), **res}
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
