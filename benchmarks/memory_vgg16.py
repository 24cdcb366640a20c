"""Bits stored against bits allocated, and BRAM18 / URAM, of a VGG-16-shaped spiking net on ZCU104 (estimate).

The paper's VGG-16 (3x32x32, T = 4, 13 convs 64-64-M-128-128-M-256x3-M-512x3-M-512x3-M, readout
10) with random 4-bit weights at the SCA paper's 9.31 % of the parameters kept (channels are not
slimmed here: the shape is the full network's, so this is an upper bound of its memories). The
memory rule (hls/memory.py) places every array; the figures are the cost model's (source:
estimate), not synthesis. Writes benchmarks/results/memory_vgg16.json.

    python benchmarks/memory_vgg16.py [--parallelism P] [--keep F]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16(keep: float = 0.0931, seed: int = 0):
    from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, SpikingConv2d

    rng = np.random.default_rng(seed)
    layers, c = [], 3
    for i, v in enumerate(PLAN):
        if v == "M":
            layers.append(MaxPool2d(f"pool{i}"))
            continue
        w = rng.integers(-7, 8, size=(v, c, 3, 3))
        w[rng.random(w.shape) >= keep] = 0
        layers.append(SpikingConv2d(f"conv{i}", w, np.zeros(v, np.int64), Neuron(np.full(v, 8)), padding=1, w_bits=4))
        c = v
    wr = rng.integers(-7, 8, size=(10, c))
    layers.append(Readout("readout", wr, np.zeros(10, np.int64), w_bits=4))
    return IntNet((3, 32, 32), 4, "direct", layers)


def main(argv=None) -> int:
    from spikehls.boards import load_board
    from spikehls.hls.estimate import estimate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parallelism", type=int, default=16)
    ap.add_argument("--keep", type=float, default=0.0931, help="fraction of the weights kept (random, unstructured)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "memory_vgg16.json")
    args = ap.parse_args(argv)
    board = load_board("zcu104")
    e = estimate(vgg16(args.keep), board, args.parallelism)
    rows = []
    for le in e.per_layer:
        d = le.detail
        rows.append({"layer": le.name, "bits_stored": d["bits_stored"], "bits_allocated": d["bits_allocated"],
                     "ratio": round(d["bits_allocated"] / d["bits_stored"], 3), "BRAM18": le.BRAM18, "URAM": le.URAM,
                     "LUTRAM": d["LUTRAM"], "where": {k: m["style"] for k, m in d["memories"].items() if not m["rom"]}})
        print(f"{le.name:10} stored {d['bits_stored'] / 1024:9.1f} kbit  allocated {d['bits_allocated'] / 1024:9.1f}"
              f"  x{rows[-1]['ratio']:.2f}  BRAM18 {le.BRAM18:4}  URAM {le.URAM:3}  LUTRAM {d['LUTRAM']:6}  {rows[-1]['where']}")
    tot = {k: e.total[k] for k in ("LUT", "BRAM18", "URAM")}
    res = board.resources
    out = {"benchmark": "memory_vgg16", "command": f"python benchmarks/memory_vgg16.py --parallelism {args.parallelism} --keep {args.keep}",
           "keep": args.keep,
           "source": "estimate", "board": "zcu104", "parallelism": args.parallelism, "total": tot,
           "of_board": {"LUT": round(tot["LUT"] / res.LUT, 3), "BRAM18": round(tot["BRAM18"] / res.BRAM18, 3),
                        "URAM": round(tot["URAM"] / res.URAM, 3)},
           "bits_stored": sum(r["bits_stored"] for r in rows), "bits_allocated": sum(r["bits_allocated"] for r in rows),
           "LUTRAM": sum(r["LUTRAM"] for r in rows), "per_layer": rows}
    print(f"total {tot}  of the board {out['of_board']}  allocated / stored x{out['bits_allocated'] / out['bits_stored']:.2f}")
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
