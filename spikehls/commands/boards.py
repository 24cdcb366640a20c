"""``spikehls boards``: list the bundled board configs (or show one)."""

from __future__ import annotations

import argparse

from ..boards import RESOURCE_KINDS, available_boards, load_board


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "boards",
        help="list the bundled board configs",
        description="List the bundled board configs, or show one board (a name or a YAML path) in full.",
    )
    p.add_argument("board", nargs="?", help="board name or YAML file to show in full")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.board:
        b = load_board(args.board)
        print(f"{b.name}  ({b.source})")
        print(f"  part       {b.part}   clock {b.clock_mhz:g} MHz   backend {b.hls.backend} {b.hls.io_type}")
        print("  resource   total      budget   allowed")
        for k in RESOURCE_KINDS:
            tot, frac = getattr(b.resources, k), getattr(b.budget, k)
            print(f"  {k:<9}{tot:>9,}   {frac:>5.0%}   {int(tot * frac):>9,}")
        print(f"  parallelism (adds/cycle/layer) {b.hls.parallelism}")
        return 0
    print(f"{'name':<14}{'board':<16}{'part':<24}{'MHz':>5}{'LUT':>11}{'FF':>11}{'BRAM18':>8}{'URAM':>6}{'DSP':>7}")
    for key in available_boards():
        b = load_board(key)
        r = b.resources
        print(
            f"{key:<14}{b.name:<16}{b.part:<24}{b.clock_mhz:>5g}{r.LUT:>11,}{r.FF:>11,}{r.BRAM18:>8,}{r.URAM:>6,}{r.DSP:>7,}"
        )
    print("\nPass a name or your own YAML file wherever --board is accepted; 'spikehls boards NAME' shows one.")
    return 0
