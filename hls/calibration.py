"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = None  # the command that produced these numbers
YOSYS = None  # the yosys version they were fitted against
LUT: dict[str, float] = {}
FF: dict[str, float] = {}
LUTRAM: dict[str, float] = {}
TOP = {"LUT": 80.0, "FF": 50.0, "LUTRAM": 0.0, "LUTRAM_per_input_bit": 1.0 / 64}
