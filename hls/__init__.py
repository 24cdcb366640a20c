"""spikehls.hls: the QONNX model as an hls4ml project with spike-driven, accumulate-only layers.

* :mod:`~spikehls.hls.transforms`: QONNX -> clean graph (Quant-ed weights folded into integer attributes).
* :mod:`~spikehls.hls.extension`: ``register()``, the one (idempotent) hls4ml registration point;
  :mod:`~spikehls.hls.handlers`, :mod:`~spikehls.hls.layers`, :mod:`~spikehls.hls.templates` and
  ``cpp/nnet_spiking*.h`` are what it registers.
* :mod:`~spikehls.hls.geometry`: every layer as built (lanes, banks, tables, bit widths; the
  parallelism precedence), computed once and read by the layers, the RTL and the cost model;
  :mod:`~spikehls.hls.lanes` holds its lane rules.
* :mod:`~spikehls.hls.project`: ``generate_project(onnx, board, out_dir, ...)``.
* :mod:`~spikehls.hls.csim`: ``csim(project)``: g++ C-simulation checked spike for spike.
* :mod:`~spikehls.hls.estimate`, :mod:`~spikehls.hls.reports`, :mod:`~spikehls.hls.report_run`:
  resource / latency estimates and vendor report parsing (the report stage).
"""
