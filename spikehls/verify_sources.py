"""The ``--verify`` sources of ``spikehls codesign`` and ``spikehls sweep``: one list for both.

A module of its own, importing nothing, so that the command line can offer the choices without
loading the co-design loop (numpy and the flow) on every ``spikehls`` call.
"""

VERIFY_SOURCES = (None, "yosys", "yosys-layers")
VERIFY_LAYERS = 3  # layers --verify yosys-layers synthesizes (the largest by the model)
