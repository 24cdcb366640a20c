"""``spikehls csim``: compile a generated project with g++ and check it against the reference."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "csim",
        help="C-simulate a generated project and compare every spike with the integer reference",
        description=(
            "Compile the project's firmware with g++, run the test vectors, compare every layer's spikes "
            "and the readout with the integer reference, and write PRJ/csim.json. Exit status 1 if anything differs."
        ),
    )
    p.add_argument("--project", required=True, type=Path, help="project directory written by 'spikehls hls'")
    p.add_argument("--samples", type=_samples, default=None, metavar="N|all",
                   help="the first N samples of the run's test split, or all of it (default: the exported test vectors; "
                        "beyond them the samples are encoded from the run's test split by the same encoder)")
    p.add_argument("--run", type=Path, default=None,
                   help="the training run that made the project (default: where its QONNX came from); for --samples")
    p.add_argument("--junit", type=Path, default=None, metavar="FILE",
                   help="write a JUnit XML report: one test case per layer per batch of 256 samples")
    p.add_argument("--golden", type=Path, default=None, metavar="FILE",
                   help="compare every sample's spikes and readout with golden outputs recorded by --save-golden "
                        "(exit 1 naming the samples and layers that changed)")
    p.add_argument("--save-golden", type=Path, default=None, metavar="FILE",
                   help="record this design's outputs (per-sample, per-layer spike digests and readout) as golden")
    p.add_argument("--plot", action="store_true",
                   help="write PRJ/csim_raster.png: every spiking layer's raster and firing rates of one test sample")
    p.add_argument("--plot-sample", type=int, default=0, metavar="I", help="the test vector to plot (default 0)")
    p.add_argument("--vcd", type=Path, default=None, metavar="FILE",
                   help="write the spike trains of that sample as a VCD (one bus per layer) for a waveform viewer")
    p.set_defaults(func=run)


def _samples(text: str):
    if text == "all":
        return "all"
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected 'all' or an integer >= 1, got '{text}'")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from spikehls.hls.csim import csim

    r = csim(args.project, samples=args.samples, run=args.run, junit=args.junit, golden=args.golden,
             save_golden=args.save_golden)
    print(
        f"csim {args.project}: {r['samples']} samples ({r['source']}) in {r['seconds']:.2f} s "
        f"({r['samples_per_second']} samples/s, compile {r['compile_seconds']:.1f} s)"
    )
    for name, lyr in r["layers"].items():
        mm = lyr.get("spike_mismatches")
        mm_text = "" if mm is None else f"   spike mismatches {mm}"
        print(
            f"  {name:<20}in events {lyr['in_events_per_sample']:>10.1f}   adds {lyr['synops_per_sample']:>11.1f}"
            f"   out spikes {lyr['out_spikes_per_sample']:>10.1f}{mm_text}"
        )
    verdict = "EXACT" if r["exact"] else "MISMATCH"
    print(
        f"{verdict}: spike mismatches {r['spike_mismatches']}, readout mismatches {r['readout_mismatches']}, "
        f"accuracy {r['accuracy']:.4f}  -> {args.project / 'csim.json'}"
    )
    g = r.get("golden")
    if g is not None:
        if g["equal"]:
            print(f"golden: equal to {g['file']} on all {g['samples']} samples")
        else:
            for name, idx in g["changed"].items():
                shown = ", ".join(map(str, idx[:10])) + (" ..." if len(idx) > 10 else "")
                print(f"golden CHANGED: {name}: {len(idx)} sample(s) differ from {g['file']}: {shown}")
    if r.get("golden_saved"):
        print(f"golden outputs of {r['samples']} samples -> {r['golden_saved']}")
    if args.junit is not None:
        print(f"JUnit report -> {args.junit}")
    if args.plot or args.vcd is not None:
        from spikehls.hls.spike_plot import PLOT_FILE, plot_raster, sample_spikes, write_vcd

        spikes, info = sample_spikes(args.project, args.plot_sample)
        if args.plot:
            print(f"spike raster of test sample {args.plot_sample} -> {plot_raster(spikes, info, args.project / PLOT_FILE)}")
        if args.vcd is not None:
            print(f"spike trains of test sample {args.plot_sample} (VCD) -> {write_vcd(spikes, info, args.vcd)}")
    return 0 if r["exact"] and (g is None or g["equal"]) else 1
