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
    p.add_argument("--source", choices=["estimate", "yosys"], default="estimate",
                   help="judge the board fit on the model's estimate (default) or on the yosys figures of "
                        "'spikehls synth' (PRJ/synth.json); both are shown side by side when present")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.hls.report_run import format_table, run_report

    from pathlib import Path

    from spikehls.errors import SpikehlsError
    from spikehls.fileio import write_json
    from spikehls.hls.report_run import project_board, read_meta
    from spikehls.hls.rtl.compare import fits_on, format_side_by_side, measured_section

    prj = Path(args.project)
    if args.source == "yosys" and not (prj / "synth.json").is_file():
        raise SpikehlsError(f"--source yosys: {prj / 'synth.json'} not found (run 'spikehls rtl' and 'spikehls synth' first)")
    report = run_report(args.project, args.board, plot=args.plot)
    measured = measured_section(prj, report)
    if measured:
        report["measured"] = measured
        if args.source == "yosys":
            brd = project_board(prj, read_meta(prj), args.board)
            detail = fits_on(measured, brd)
            report["fits_yosys"] = all(v is not False for v in detail.values())
            report["fits_yosys_detail"] = detail
        write_json(prj / "report.json", report)
    print(format_table(report))
    if measured:
        print("")
        print(format_side_by_side(measured))
    if args.source == "yosys":
        over = [k for k, v in report["fits_yosys_detail"].items() if v is False]
        print(f"fits the board budget on the yosys figures: {'yes' if report['fits_yosys'] else 'NO (' + ', '.join(over) + ')'}")
    bad = exactness_problems(prj)
    for line in bad:
        print(f"NOT EXACT: {line}: every figure above describes a design that computes something else than the "
              "integer reference (a failed design, not a data point)")
    print(f"\nwrote {args.project}/report.json" + (f" and {report['plot']}" if report.get("plot") else ""))
    return 1 if bad else 0


def exactness_problems(prj) -> list[str]:
    """One line per simulation of ``prj`` (C-simulation, Verilator) that was not spike-exact.

    The report itself only prices the design; a design whose simulation disagreed with the
    reference must not read as a result, so the command says so and exits 1."""
    from spikehls.fileio import read_json

    out = []
    for fname, what in (("csim.json", "C-simulation"), ("rtlsim.json", "Verilator simulation")):
        f = prj / fname
        if f.is_file():
            r = read_json(f, f"{what} result ({fname})", kind=None)
            if isinstance(r, dict) and r.get("exact") is False:
                out.append(f"{f}: {what} has {r.get('spike_mismatches', '?')} spike and "
                           f"{r.get('readout_mismatches', '?')} readout mismatches")
    return out
