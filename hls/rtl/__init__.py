"""The Verilog twin of a spikehls design: generation (:mod:`.generate`), Verilator simulation
(:mod:`.sim`) and yosys synthesis (:mod:`.synth`). See ``docs/rtl.md``."""
