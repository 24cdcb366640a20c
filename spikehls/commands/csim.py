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
    p.add_argument("--samples", type=int, default=None, help="simulate only the first N test vectors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.hls.csim import csim

    r = csim(args.project, samples=args.samples)
    print(
        f"csim {args.project}: {r['samples']} samples in {r['seconds']:.2f} s "
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
    return 0 if r["exact"] else 1
