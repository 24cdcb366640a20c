"""Plan an exported run for a board with the current cost model (source: estimate), no training.

    python benchmarks/plan_run.py RUN [--board zcu104] [--out FILE]

The planner (:func:`spikehls.planning.plan`) on the run's integer network with the channel
activity of its test vectors: whether it fits, the channels and parameters it keeps, the planned
design's totals and the resources that bind (pressure = used / (0.9 x allowed)). It isolates what a
change to the twin or the model does to the planner's answer on one fixed network: run it on two
commits (e.g. ``git worktree add``) with the same RUN.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path



def parameters(net) -> int:
    """Weights of the conv / dense layers and of their skip projections. No biases: an IntNet's
    are BN folded in, which the export's count (``slim.count_params``, the co-design records'
    ``parameters_kept``) leaves out; on ResNet-19 the two totals differ by 0.04 %."""
    n = 0
    for lyr in net.layers:
        if getattr(lyr, "weight", None) is not None:
            n += int(lyr.weight.size)
        skip = getattr(lyr, "skip", None)
        if skip is not None and getattr(skip, "weight", None) is not None:
            n += int(skip.weight.size)
    return n


def main(argv=None) -> int:
    from spikehls.boards import load_board
    from spikehls.fileio import write_json
    from spikehls.planning import channel_activity, plan, prune_intnet
    from spikehls.quantize import reference as ref
    from spikehls.quantize.intnet import IntNet
    from spikehls.quantize.testvectors import load_testvectors

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="an exported run (intnet.npz, testvectors.npz)")
    ap.add_argument("--board", default="zcu104")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: print only)")
    args = ap.parse_args(argv)
    for f in ("intnet.npz", "testvectors.npz"):
        if not (args.run / f).is_file():
            print(f"error: {args.run}: no {f} (run 'spikehls export --run {args.run}' first)", file=sys.stderr)
            return 2
    net = IntNet.load(args.run / "intnet.npz")
    x, _, _ = load_testvectors(args.run / "testvectors.npz")
    act = channel_activity(ref.run(net, x).spikes)
    board = load_board(args.board)
    t0, c0 = time.perf_counter(), time.process_time()
    p = plan(net, board, act, log=None, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    pruned = prune_intnet(net, p.keep)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent).stdout.strip()
    out = {
        "benchmark": "plan_run", "source": "estimate", "commit": commit,
        "command": "python benchmarks/plan_run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "run": str(args.run), "board": args.board, "fits": p.fits, "steps": p.steps,
        "seconds_wall": round(wall, 1), "seconds_cpu": round(cpu, 1),
        "channels_before": int(sum(p.channels_before.values())), "channels_kept": int(sum(len(v) for v in p.keep.values())),
        "parameters": parameters(net), "parameters_kept": parameters(pruned),
        "parameters_share": round(parameters(pruned) / parameters(net), 4),
        "total": {k: p.report["total"][k] for k in ("LUT", "FF", "BRAM18", "URAM", "DSP")},
        "pressure": {k: round(float(v), 3) for k, v in p.pressure.items()},
        # at 97 % or more of the planned budget (Plan.binding lists those over it: none once it fits)
        "binding": [k for k, v in p.pressure.items() if v >= 0.97],
    }
    print({k: out[k] for k in ("fits", "channels_kept", "parameters_share", "total", "pressure")})
    if args.out:
        write_json(args.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
