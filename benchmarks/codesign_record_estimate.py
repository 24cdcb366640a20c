"""Re-price a co-design record's final design with the current cost model (source: estimate).

The slimmed networks of the ZCU104 records (``benchmarks/results/codesign_*_zcu104.json``) were not
kept, so this builds a proxy of the same shape: the record's channels per conv and its lanes, a
VGG-16 plan (pools after convs 1, 3, 6, 9, 12), dense random 4-bit weights (seed 0), 3x32x32 input,
T = 4. It shows whether a model change moves a recorded design over its budget; the proxy is not
the trained network (its weight tables differ), so the figure is an indication, not the design's.

    python benchmarks/codesign_record_estimate.py [--record FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
POOLS = {1, 3, 6, 9, 12}


def proxy(channels: dict[str, int], seed: int = 0, trained_like: bool = False):
    """The proxy IntNet. ``trained_like``: as a slimmed, BN-folded net is -- 0-40 % zero weights per
    layer and a nonzero bias per channel (-64..63) -- rather than dense weights and zero biases
    (a nonzero bias costs the twin's bank write muxes: benchmarks/bias_mux.py)."""
    from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, SpikingConv2d

    rng = np.random.default_rng(seed)
    layers, c = [], 3
    for i in range(13):
        co = channels[f"features.{i}.conv"]
        w = rng.integers(-8, 8, size=(co, c, 3, 3))
        bias = np.zeros(co, np.int64)
        if trained_like:
            w[rng.random(w.shape) < rng.uniform(0.0, 0.4)] = 0
            w[np.abs(w).reshape(co, -1).sum(1) == 0, 0, 1, 1] = 1  # no empty channel
            bias = rng.integers(-64, 64, size=co)
        layers.append(SpikingConv2d(f"features.{i}.conv", w, bias, Neuron(np.full(co, 8)), padding=1, w_bits=4,
                                    in_scale=2.0**-8 if i == 0 else 1.0))  # 8-bit pixels in (direct): as exported
        if i in POOLS:
            layers.append(MaxPool2d(f"features.{i}.pool"))
        c = co
    layers.append(Readout("readout", rng.integers(-8, 8, size=(10, c)), np.zeros(10, np.int64), w_bits=4))
    return IntNet((3, 32, 32), 4, "direct", layers)


def main(argv=None) -> int:
    from spikehls.boards import load_board
    from spikehls.fileio import write_json
    from spikehls.hls.estimate import estimate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--record", type=Path, default=HERE / "results" / "codesign_vgg16_zcu104_before_refit.json")
    ap.add_argument("--board", default="zcu104")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "codesign_vgg16_zcu104_reestimate.json")
    ap.add_argument("--trained-like", action="store_true",
                    help="the proxy as a slimmed, BN-folded net is (zero weights, nonzero biases; see proxy())")
    args = ap.parse_args(argv)
    rec = json.loads(args.record.read_text())
    final = rec["iterations"][-1]
    board = load_board(args.board)
    e = estimate(proxy(final["channels_per_layer"], trained_like=args.trained_like), board, final["parallelism"])
    allowed = board.allowed()
    out = {
        "benchmark": "codesign_record_estimate", "source": "estimate",
        "command": "python benchmarks/codesign_record_estimate.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "record": args.record.name, "trained_like": args.trained_like, "recorded": {k: final[k] for k in ("LUT", "FF", "BRAM18", "URAM", "DSP")},
        "proxy_now": e.total,
        "of_budget_now": {k: round(e.total[k] / allowed[k], 3) for k in e.total if allowed.get(k)},
        "per_layer_LUT_now": {le.name: le.LUT for le in e.per_layer},
    }
    write_json(args.out, out)
    print(json.dumps({k: out[k] for k in ("recorded", "proxy_now", "of_budget_now")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
