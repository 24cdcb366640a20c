"""spikehls: spiking CNNs from PyTorch training (SCA pruning) to accumulate-only hls4ml projects.

Stages live in sibling packages: :mod:`spikehls.training`, :mod:`spikehls.quantize`,
:mod:`spikehls.hls`, with board files in :mod:`spikehls.board_configs`.

From Python, the whole flow is six functions (:mod:`spikehls.api`)::

    import spikehls
    spikehls.train("runs/a")                          # SNN + SCA pruning -> summary dict
    spikehls.export("runs/a")                         # integer net, QONNX, test vectors -> export dict
    model = spikehls.generate_hls("runs/a", "pynq-z2", "prj")   # the hls4ml ModelGraph
    spikehls.csim("prj")["exact"]                     # g++ C-simulation, spike for spike
    spikehls.report("prj")["source"]                  # resources/latency vs the board ("estimate" here)
    spikehls.run_codesign("runs/cd", board="zcu104")  # the feedback loop until it fits
"""

__version__ = "0.1.0"

# The flow from Python (see spikehls.api and examples/api_flow.py): one function per stage.
from .api import csim, export, generate_hls, load_config, report, run_codesign, train  # noqa: E402
from .errors import SpikehlsError  # noqa: E402

__all__ = ["train", "export", "generate_hls", "csim", "report", "run_codesign", "load_config", "SpikehlsError",
           "__version__"]
