"""What a ROM built as logic costs in yosys, by content and by how its address arrives.

Two facts the Verilog twin and the cost model rest on (``hls/rtl/verilog.py: RomSet``,
``hls/geometry.py: offsets_deviation_bits``, ``hls/twin_cost.py: rom_luts``):

* a ROM of random content costs about a LUT6 per 64 words and bit and a third more for the
  MUXF7 / MUXF8 / LUT mux tree -- when abc sees it alone (its address a module input). Inline,
  behind the logic that computes its address (here a 2:1 select of two registered addresses, as
  the twin's chunk walk does), abc maps the two together and loses that structure;
* the offsets ROM holds prefix sums of the chunks per row: the identity where every row has one
  chunk (free), a near-regular walk elsewhere, whose cost follows the bits it deviates from a ramp.

One module per case, ``synth_xilinx -family xcup``, ``stat``; the model's price beside it. Writes
``benchmarks/results/rom_logic.json``.

    python benchmarks/rom_logic.py [--out FILE] [--family xcup|xc7]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "rom_logic.json"
# (content, width, depth, address): random words, a random walk of 0-2 chunks per row (offsets),
# the identity (one chunk per row); "module": the ROM alone, "select": inline behind a 2:1 select
CASES = [("random", 12, 1024, "module"), ("random", 12, 4096, "module"), ("random", 41, 1024, "module"),
         ("random", 41, 3200, "module"), ("random", 41, 3200, "select"), ("random", 12, 1024, "select"),
         ("walk", 13, 1024, "module"), ("walk", 13, 4096, "module"), ("identity", 13, 4096, "module"),
         ("identity", 13, 4096, "select")]


def _content(kind: str, width: int, depth: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind == "random":
        return rng.integers(0, 2 ** width, depth, dtype=np.uint64)
    if kind == "walk":
        return np.concatenate([[0], np.cumsum(rng.integers(0, 3, depth - 1))]).astype(np.uint64)
    return np.arange(depth, dtype=np.uint64)


def _verilog(name: str, width: int, depth: int, how: str) -> str:
    aw = max(1, (depth - 1).bit_length())
    rom = (f'    (* rom_style = "logic" *) reg [{width - 1}:0] m [0:{depth - 1}];\n'
           f'    initial $readmemh("{name}.mem", m);\n')
    if how == "module":
        return (f"module {name}(input clk, input [{aw - 1}:0] a, output [{width - 1}:0] q);\n{rom}"
                f"    reg [{aw - 1}:0] ar; always @(posedge clk) ar <= a;\n    assign q = m[ar];\nendmodule\n")
    return (f"module {name}(input clk, input s, input [{aw - 1}:0] a, input [{aw - 1}:0] b, output [{width - 1}:0] q);\n{rom}"
            f"    reg sr; reg [{aw - 1}:0] ar, br; always @(posedge clk) begin sr <= s; ar <= a; br <= b; end\n"
            f"    wire [{aw - 1}:0] x = sr ? ar : br;\n    assign q = m[x];\nendmodule\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--family", default="xcup", choices=("xcup", "xc7"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    from spikehls.hls.geometry import offsets_deviation_bits
    from spikehls.hls.rtl.synth import _yosys
    from spikehls.hls.twin_cost import rom_luts

    cmd, version = _yosys()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for kind, width, depth, how in CASES:
            name = f"r_{kind}_{width}_{depth}_{how}"
            vals = _content(kind, width, depth)
            (d / f"{name}.mem").write_text("\n".join(f"{int(v):x}" for v in vals) + "\n")
            (d / f"{name}.v").write_text(_verilog(name, width, depth, how))
            t0 = time.perf_counter()
            out = subprocess.run([*cmd, "-q", "-p", f"read_verilog {name}.v; synth_xilinx -family {args.family} -top {name}; tee -q -o {name}.txt stat"],
                                 cwd=d, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{name}: yosys failed: {out.stderr.strip()[:200]}", file=sys.stderr)
                return 1
            stat = (d / f"{name}.txt").read_text()
            lut = sum(int(n) for n, _ in re.findall(r"^\s+(\d+)\s+(LUT[1-6])\s*$", stat, re.M))
            muxf = sum(int(n) for n, _ in re.findall(r"^\s+(\d+)\s+(MUXF[78])\s*$", stat, re.M))
            per_row = np.diff(vals.astype(np.int64)) if kind != "random" else None
            bits = offsets_deviation_bits(per_row) if per_row is not None else width
            rows.append({"content": kind, "width": width, "depth": depth, "address": how, "yosys_LUT": lut, "yosys_MUXF": muxf,
                         "model_bits": bits, "model_LUT": rom_luts(bits, depth), "seconds": round(time.perf_counter() - t0, 1)})
            print(f"{name:32s} yosys {lut:6d} LUT ({muxf} MUXF7/8)   model {rom_luts(bits, depth):8.0f} ({bits} bits)", flush=True)
    res = {"benchmark": "rom_logic", "command": "python benchmarks/rom_logic.py" + (f" --family {args.family}" if args.family != "xcup" else ""),
           "source": "yosys", "yosys": version, "family": args.family, "cases": rows}
    from spikehls.fileio import write_json

    write_json(args.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
