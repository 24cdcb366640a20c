"""``spikehls report``: resources and latency of a generated HLS project against its board."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="resources and latency of an HLS project vs the board budget",
        description=(
            "Write PRJ/report.json and print a per-layer table of LUT, FF, BRAM18, URAM, DSP and cycles "
            "against the board budget. Figures come from the Vitis/Vivado reports when synthesis was run "
            "(csynth, vivado_synth), else from the spikehls model (estimate); each says which. Cycles use "
            "the C-simulation's event counts (PRJ/csim.json) when present."
        ),
    )
    p.add_argument("--project", required=True, metavar="PRJ", help="project folder written by 'spikehls hls'")
    p.add_argument("--board", metavar="NAME|FILE", help="board to check against (default: the project's board)")
    p.add_argument("--plot", action="store_true", help="also write PRJ/report.png (per-layer resources)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.hls.report_run import format_table, run_report

    report = run_report(args.project, args.board, plot=args.plot)
    print(format_table(report))
    print(f"\nwrote {args.project}/report.json" + (f" and {report['plot']}" if report.get("plot") else ""))
    return 0
