"""Where every array of the generated design lives, and what the chosen primitives hold.

One rule (:func:`memory_plan`) serves the Verilog twin (its ``ram_style`` / ``rom_style``
attributes), the HLS kernels (``BIND_STORAGE ... impl=``) and the cost model (BRAM18 / URAM
counts, LUTRAM), so the three build and price the same memories. It picks by width and depth:

* ``registers``: a RAM of at most two words (a register per word);
* ``distributed`` (LUTRAM, or logic for yosys ROMs): everything a consumer must read in the cycle
  it presents the address (``sync_read=False``: a spike buffer with a skip reader, the readout's
  stream, the ROMs that steer the FSM), and every array too small to fill half a block RAM;
* ``block`` (RAMB18 / RAMB36, counted in BRAM18): arrays read through a registered port that fill
  at least :data:`MIN_FILL` of the BRAM18s they need;
* ``ultra`` (URAM288, UltraScale+ parts only): the same, filling at least :data:`MIN_FILL` of the
  URAMs (preferred over block RAM: a ZCU104 holds 28 Mbit of URAM against 11 Mbit of BRAM).
The fill is the design's: a board's ``hls.block_ram_min_fill`` (default :data:`MIN_FILL`) lowers
it where LUTs bind and block RAM idles (0: every array read through a register goes to block /
ultra RAM), applied to one design at a time by :func:`block_fill`.

Packing is the caller's: an engine hands the rule one wide word for lanes read and written
together at one address (the ``L`` channel lanes of one accumulator position, the ``F`` fire
lanes of one membrane word), not one narrow bank per lane.

The primitive counts follow what yosys 0.70 ``synth_xilinx`` maps a memory to, by its own cost
function (``memory_libmap``, with the library files' primitives and costs): block RAM
(:func:`bram18_count`: RAMB18 36 x 512 .. 1 x 16k, RAMB36 72 x 512 .. 1 x 32k = two BRAM18,
cascaded RAMB36; the address blocks of a narrow word packed side by side), distributed RAM
(:func:`lutram_map`: RAM32M, RAM64M, RAM64X1D, RAM128X1D on 7-series, RAM32M16, RAM64M8 and the
dual- to octal-port modes up to RAM256X1D on UltraScale, a copy per read port), measured in
``benchmarks/results/memory_primitives.json`` and on the calibration twins; URAM288 is 72 x 4k
(9-bit byte lanes: down to 9 x 32k), cascaded in depth.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Optional

BRAM18_BITS = 18 * 1024
URAM_BITS = 72 * 4096
URAM_SHAPE = (72, 4096)
# a URAM288 word is 8 byte lanes of 9 bits with their own write enables: yosys folds narrow deep
# memories into the lanes (16k x 1 is one URAM)
URAM_SHAPES = ((72, 4096), (36, 8192), (18, 16384), (9, 32768))
MIN_FILL = 0.5  # a block / ultra RAM must be at least this full, else the array is distributed
# the design's own threshold (a board's ``hls.block_ram_min_fill``) while one design is generated,
# priced or planned (:func:`block_fill`); None: MIN_FILL
_DESIGN_FILL: ContextVar[Optional[float]] = ContextVar("block_ram_min_fill", default=None)
STYLES = ("registers", "distributed", "block", "ultra")



def xilinx_family(part: str | None) -> str | None:
    """yosys ``synth_xilinx -family`` of a Xilinx part name (``xc7``, ``xcup``, ``xcu``), or None
    for a part no rule knows. One rule for the synthesis script (rtl.synth.family_of) and the
    model's choice of distributed-RAM cells (:func:`is_ultrascale`)."""
    import re

    p = (part or "").lower()
    if p.startswith(("xc7", "xa7", "xq7")):
        return "xc7"
    if p.startswith(("xczu", "xck26", "xck24", "xcu", "xcau", "xazu")):
        return "xcup"
    m = re.match(r"xc(vu|ku)(\d+)(p?)", p)
    if m:
        return "xcup" if m.group(3) else "xcu"
    return None


def is_ultrascale(part: str | None) -> bool:
    """Whether a Xilinx part is UltraScale or UltraScale+ (yosys ``synth_xilinx -family xcu/xcup``),
    whose distributed RAMs are the 8-LUT RAM32M16 / RAM64M8 / RAM256X1D (``lutrams_xcu.txt``)
    instead of 7-series' 4-LUT RAM32M / RAM64M / RAM128X1D: the same array costs other LUTs."""
    return xilinx_family(part) in ("xcu", "xcup")


def has_uram(part: str | None) -> bool:
    """Whether a Xilinx part has URAM288 (UltraScale+: Zynq MPSoC ``xczu*``, Kria ``xck26``, ...).

    Virtex / Kintex UltraScale+ carry a ``p`` after the family digits (``xcvu9p``, ``xcku5p``);
    the plain UltraScale ``xcku040`` has none."""
    p = (part or "").lower()
    if p.startswith(("xczu", "xck26", "xck24")):
        return True
    if p.startswith(("xcvu", "xcku")):
        digits = p[4:].lstrip("0123456789")
        return digits.startswith("p")
    return False


def _tiles(width: int, depth: int, shape: tuple[int, int]) -> int:
    return math.ceil(width / shape[0]) * math.ceil(depth / shape[1])


# yosys 0.70's block RAMs for 7-series / UltraScale (share/xilinx/brams_xc4v.txt, HAS_SIZE_36,
# HAS_CASCADE): (address bits, data widths, cost, BRAM18 each, ports); true dual port (two
# read-write ports) and simple dual port (one write, one read) in RAMB18 (HALF), RAMB36 (FULL)
# and two cascaded RAMB36
_BLOCK_RAMS = ((14, (1, 2, 4, 9, 18), 129, 1, "TDP"), (15, (1, 2, 4, 9, 18, 36), 257, 2, "TDP"),
               (16, (1, 2, 4, 9), 513, 4, "TDP"),
               (14, (1, 2, 4, 9, 18, 36), 129, 1, "SDP"), (15, (1, 2, 4, 9, 18, 36, 72), 257, 2, "SDP"))


@lru_cache(maxsize=65536)  # pure in its ints; the planner asks the same shapes again and again
def bram18_count(width: int, depth: int, read_ports: int = 1, rom: bool = False) -> int:
    """BRAM18 (RAMB36 = 2) of a ``depth x width`` block RAM (one write port, one registered read)
    or block ROM (``read_ports`` registered reads) as yosys 0.70 ``memory_libmap`` maps it: of
    every configuration (a primitive and its port width ``u`` at ``2^abits / u`` words) the one of
    least ``cost x primitives`` (+ half a point per read-mux and write-demux bit), where the
    ``ceil(depth / words)`` address blocks of the word -- padded to the 9-bit write byte for a
    RAM -- are laid side by side across the primitives, ``ceil(blocks x padded width / u)`` of
    them, times the copies the read ports need (a true-dual-port primitive serves two reads of a
    ROM, a simple-dual-port one). So 19 x 2448 is 5 address blocks of 27 bits in two 72 x 512
    RAMB36 (4 BRAM18), not five 36 x 512 RAMB18. Equal to yosys on every measured shape
    (``benchmarks/results/memory_primitives.json``)."""
    if width <= 0 or depth <= 0:
        return 0
    w, d, r = int(width), int(depth), max(1, int(read_ports))
    best = None
    for abits, widths, cost, b18, kind in _BLOCK_RAMS:
        ports = 2 if kind == "TDP" else 1
        copies = math.ceil(r / ports) if rom else 1  # a RAM: one port writes, one reads
        for i, u in enumerate(widths):
            byte = 1 if rom else min(9, u)  # a ROM has no write enables to align to
            blocks = math.ceil(d / (1 << (abits - i)))
            prims = math.ceil(blocks * math.ceil(w / byte) * byte / u)
            score = cost * prims * copies + 0.5 * (blocks - 1) * w * r + (0.5 * blocks if blocks > 1 and not rom else 0.0)
            if best is None or score < best[0]:
                best = (score, prims * copies * b18)
    return best[1]


@lru_cache(maxsize=65536)
def uram_count(width: int, depth: int) -> int:
    """URAM288 of a ``depth x width`` ultra RAM (72 x 4k each, narrow words folded into its byte
    lanes, cascaded in depth)."""
    if width <= 0 or depth <= 0:
        return 0
    return min(_tiles(width, depth, s) for s in URAM_SHAPES)


# yosys 0.70's distributed RAMs for 7-series (share/xilinx/lutrams_xc5v.txt): (kind, address bits,
# data bits, read ports per copy, cost, widthscale); every one of them is 4 LUTs (RAM32M, RAM64M,
# 2 x RAM64X1D, RAM128X1D)
_LUTRAMS = (("SDP", 5, 6, 1, 8, 7), ("SDP", 6, 3, 1, 8, 7), ("DP", 5, 4, 1, 8, 8), ("DP", 6, 2, 1, 8, 8),
            ("DP", 7, 1, 1, 8, 8), ("QP", 5, 2, 3, 7, 7), ("QP", 6, 1, 3, 7, 7))
LUTRAM_CELL_LUTS = 4
# ... and for UltraScale / UltraScale+ (share/xilinx/lutrams_xcu.txt): every one 8 LUTs (RAM32M16,
# RAM64M8, RAM32X1D... RAM256X1D in a whole SLICEM), cost 16 with a full widthscale; single-port
# and wide-read / wide-write RAMs cannot serve a separate write and read address
_LUTRAMS_XCU = (("SDP", 5, 14, 1, 16, 16), ("SDP", 6, 7, 1, 16, 16), ("DP", 5, 8, 1, 16, 16), ("DP", 6, 4, 1, 16, 16),
                ("DP", 7, 2, 1, 16, 16), ("DP", 8, 1, 1, 16, 16), ("QP", 5, 4, 3, 16, 16), ("QP", 6, 2, 3, 16, 16),
                ("OP", 5, 2, 7, 16, 16), ("OP", 6, 1, 7, 16, 16))
LUTRAM_CELL_LUTS_XCU = 8


def lutram_cell_luts(ultrascale: bool = False) -> int:
    """LUTs one distributed-RAM cell of :func:`lutram_map` occupies."""
    return LUTRAM_CELL_LUTS_XCU if ultrascale else LUTRAM_CELL_LUTS


@lru_cache(maxsize=65536)
def lutram_map(width: int, depth: int, read_ports: int = 1, ultrascale: bool = False) -> tuple[int, int, int]:
    """``(cells, mux bits, bits per cell)`` of a ``depth x width`` distributed RAM with one write port and
    ``read_ports`` asynchronous reads as yosys 0.70 maps it (``memory_libmap``'s cost: per
    configuration ``(cost - widthscale) * cells + widthscale * blocks * width / bits * copies``, plus
    half a point per read-mux and write-demux bit): the cheapest of RAM32M / RAM64M (simple dual
    port), RAM64X1D / RAM128X1D (dual port) and RAM32M / RAM64M with three read ports, one copy of
    the whole per read port the primitive lacks. Mux bits: the ``blocks - 1`` words x width x
    ports the read side selects from (logic LUTs, not LUTRAM). Checked cell for cell on the
    calibration twins. ``ultrascale``: the UltraScale library instead (8-LUT cells:
    :func:`lutram_cell_luts`; RAM32M16 / RAM64M8 and the octal-port modes)."""
    if depth <= 2 or width <= 0:
        return 0, 0, 0
    w, d, r = int(width), int(depth), max(1, int(read_ports))
    best = None
    for _, abits, bits, ports, cost, ws in (_LUTRAMS_XCU if ultrascale else _LUTRAMS):
        blocks = math.ceil(d / (1 << abits))
        cells = blocks * math.ceil(w / bits)
        copies = math.ceil(r / ports)
        score = (cost - ws) * cells * copies + ws * blocks * w / bits * copies
        score += 0.5 * (blocks - 1) * w * r + (0.5 * blocks if blocks > 1 else 0.0)
        if best is None or score < best[0] - 1e-9:
            best = (score, cells * copies, (blocks - 1) * w * r, (1 << abits) * bits)
    return best[1], best[2], best[3]


def lutram_units(width: int, depth: int, ultrascale: bool = False) -> tuple[int, int]:
    """``(cells, bits per cell)`` of a distributed RAM with one read port (:func:`lutram_map`):
    RAM32M / RAM64M (192 bits), RAM64X1D pairs / RAM128X1D (128), 4 LUTs each; on UltraScale
    RAM32M16 / RAM64M8 (448 bits) and the dual-port modes (256), 8 LUTs each."""
    cells, _, per = lutram_map(width, depth, 1, ultrascale)
    return cells, per


@dataclass(frozen=True)
class MemoryPlan:
    """One array (``banks`` identical memories of ``depth x width``) and where it lives."""

    style: str  # registers | distributed | block | ultra
    width: int
    depth: int
    banks: int = 1
    rom: bool = False
    read_ports: int = 1  # of a block ROM read by several slots at once (true dual port pairs)
    ultrascale: bool = False  # distributed RAM cells of the UltraScale library (bits_allocated)
    # bits of a word a block ROM really holds: yosys removes a column that is the same in every word
    # before it maps the memory (-1: every bit; TableGeometry.varying_bits for the chunk tables)
    kept_width: int = -1

    @property
    def word_bits(self) -> int:
        """The bits of a word the primitives hold (:attr:`kept_width` where set)."""
        return self.width if self.kept_width < 0 else self.kept_width

    @property
    def bits_stored(self) -> int:
        """What the design holds in the array."""
        return self.banks * self.word_bits * self.depth

    @property
    def bram18(self) -> int:
        return self.banks * bram18_count(self.word_bits, self.depth, self.read_ports, self.rom) if self.style == "block" else 0

    @property
    def uram(self) -> int:
        return self.banks * uram_count(self.width, self.depth) if self.style == "ultra" else 0

    @property
    def bits_allocated(self) -> int:
        """What the chosen primitives provide: BRAM18 x 18 kbit, URAM x 288 kbit, a RAM32M/RAM64M
        192 bits, a register its bit; a ROM built as logic is counted as the bits it holds."""
        if self.style == "block":
            return self.bram18 * BRAM18_BITS
        if self.style == "ultra":
            return self.uram * URAM_BITS
        if self.style == "registers" or self.rom:
            return self.bits_stored
        cells, per = lutram_units(self.width, self.depth, self.ultrascale)
        return self.banks * cells * per


def min_fill() -> float:
    """The fill a block / ultra RAM must reach in the design being built now (:func:`block_fill`),
    else :data:`MIN_FILL`."""
    v = _DESIGN_FILL.get()
    return MIN_FILL if v is None else v


@contextmanager
def block_fill(fill: Optional[float]) -> Iterator[None]:
    """Build, price or plan one design under its board's ``hls.block_ram_min_fill`` (None: the
    default :data:`MIN_FILL`).

    Why a context, not an argument: the threshold must reach every place the rule is asked (the
    twin's ``ram_style`` attributes, the kernels' ``BIND_STORAGE`` lines, the cost model, the
    planner's incremental prices) and be the same in all of them for one design; its entry points
    (``generate_project``, ``generate_rtl``, ``estimate``, the planner's costs) set it from the
    board, or from the project's record of it, so nothing below them can ask with another."""
    if fill is not None and not 0.0 <= float(fill) <= 1.0:
        raise ValueError(f"block RAM fill {fill} outside [0, 1]")
    token = _DESIGN_FILL.set(None if fill is None else float(fill))
    try:
        yield
    finally:
        _DESIGN_FILL.reset(token)


def registered_read(style: str) -> bool:
    """Block and ultra RAM deliver a word through the primitive's output register, a cycle after
    its address (the twin's read-modify-write forwarding, its registered spike-buffer reads and the
    kernels' forwarding all follow from this); registers and distributed RAM read in the cycle."""
    return style in ("block", "ultra")


def memory_style(width: int, depth: int, *, rom: bool, sync_read: bool = True, ultra: bool = False,
                 read_ports: int = 1) -> str:
    """The style of :func:`memory_plan` (one rule for the twin, the kernels and the cost model)."""
    return memory_plan(width, depth, rom=rom, sync_read=sync_read, ultra=ultra, read_ports=read_ports).style


def memory_plan(width: int, depth: int, *, rom: bool, banks: int = 1, sync_read: bool = True,
                ultra: bool = False, read_ports: int = 1) -> MemoryPlan:
    """Where a ``depth x width`` array lives (see the module docstring).

    ``sync_read``: the reader takes its data one cycle after the address (the twin's
    read-modify-write pipeline and its registered weight-table read do; a word-wide scan or a
    stream beat does not). ``ultra``: the part has URAM288 (:func:`has_uram`); a ROM never goes
    there: URAM288 has no initial contents (UG573: it powers up zero), so a ROM in URAM would need
    a load port. ``read_ports``: simultaneous reads of a ROM (block: true-dual-port pairs)."""
    return _plan(max(1, int(width)), max(1, int(depth)), bool(rom), max(1, int(banks)), bool(sync_read),
                 bool(ultra), max(1, int(read_ports)), min_fill())


@lru_cache(maxsize=65536)  # pure in its arguments (MIN_FILL among them): the planner's hot path
def _plan(width: int, depth: int, rom: bool, banks: int, sync_read: bool, ultra: bool, ports: int,
          min_fill: float) -> MemoryPlan:
    if (depth <= 2 and not rom) or (rom and depth == 1):  # a one-word ROM is a constant (yosys keeps no memory)
        style = "registers"
    elif not sync_read:
        style = "distributed"
    else:
        bits = width * depth * (math.ceil(ports / 2) if ports > 1 else 1)  # what the copies hold
        if ultra and not rom and bits >= min_fill * URAM_BITS * uram_count(width, depth):
            style = "ultra"
        elif bits >= min_fill * BRAM18_BITS * bram18_count(width, depth, ports, rom):
            style = "block"
        else:
            style = "distributed"
    return MemoryPlan(style=style, width=width, depth=depth, banks=banks, rom=rom, read_ports=ports if rom else 1)
