"""spikehls: spiking CNNs from PyTorch training (SCA pruning) to accumulate-only hls4ml projects.

Stages live in sibling packages: :mod:`spikehls.training`, :mod:`spikehls.quantize`,
:mod:`spikehls.hls`, with board files in :mod:`spikehls.board_configs`.
"""

__version__ = "0.1.0"
