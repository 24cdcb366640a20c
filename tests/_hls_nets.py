"""Builders shared by the tests/test_hls_*.py files: small IntNets exported as a run directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikehls.quantize import reference as ref
from spikehls.quantize.intnet import IntNet, MaxPool2d, Neuron, Readout, Skip, SpikingConv2d, SpikingDense
from spikehls.quantize.qonnx_export import export_qonnx
from spikehls.quantize.random_net import random_inputs
from spikehls.quantize.testvectors import save_testvectors


def fill_board(tmp: Path, fill: float | None, base: str = "pynq-z2") -> str:
    """A user's board file: ``base`` with the memory rule's block RAM threshold ``fill``."""
    import json

    from spikehls.boards import load_board

    path = tmp / f"{base}-fill{fill}.yaml"
    path.write_text(json.dumps(load_board(base).with_block_ram_min_fill(fill).model_dump(exclude={"source"})))  # JSON is YAML
    return str(path)


def write_run(net: IntNet, run_dir: Path, inputs: np.ndarray, labels: np.ndarray | None = None) -> Path:
    """Export ``net`` like 'spikehls export' does: RUN/model.qonnx.onnx + RUN/testvectors.npz."""
    run_dir.mkdir(parents=True, exist_ok=True)
    export_qonnx(net, run_dir / "model.qonnx.onnx")
    r = ref.run(net, inputs)
    labels = r.prediction.copy() if labels is None else labels
    save_testvectors(run_dir / "testvectors.npz", inputs, labels, r)
    return run_dir


def handmade_net(reset: str = "subtract", leak_shift: int = 1, encoding: str = "rate") -> IntNet:
    """conv(+identity skip) -> pool -> conv(1x1 skip) -> dense -> readout, with zero weights and a pruned channel.

    Output channel 1 of conv0 is pruned (all its weights zero) and half of the other weights are
    zero, so the nonzero tables must leave them out.
    """
    rng = np.random.default_rng(7)
    c_in = 2
    w0 = rng.integers(-3, 8, size=(4, c_in, 3, 3))
    w0[rng.random(w0.shape) < 0.5] = 0
    w0[1] = 0  # pruned channel
    conv0 = SpikingConv2d(
        "conv0", w0, np.array([1, 0, -1, 2]), Neuron(np.array([6, 3, 5, 7]), leak_shift, reset, 10),
        stride=1, padding=1, w_bits=4, w_scale=np.full(4, 2.0**-3), in_scale=1.0 if encoding != "direct" else 2.0**-8,
    )
    pool = MaxPool2d("pool0", kernel=2, stride=2)
    w1 = rng.integers(-2, 6, size=(3, 4, 3, 3))
    w1[rng.random(w1.shape) < 0.4] = 0
    conv1 = SpikingConv2d(
        "conv1", w1, np.array([0, 1, 0]), Neuron(np.array([25, 30, 20]), leak_shift, reset, 8),
        stride=1, padding=1, w_bits=4, w_scale=np.full(3, 2.0**-2),
        skip=Skip("pool0", weight=np.array([[1, 0, 2, 0], [0, 0, 0, 0], [3, -1, 0, 1]]), stride=1, w_bits=3),
    )
    wd = rng.integers(-3, 8, size=(5, 3 * 4 * 4))
    wd[rng.random(wd.shape) < 0.5] = 0
    dense = SpikingDense("fc0", wd, np.zeros(5, np.int64), Neuron(np.array([40, 60, 50, 45, 70]), leak_shift, reset, 9),
                         w_bits=4, w_scale=np.full(5, 2.0**-3))
    wr = rng.integers(-7, 8, size=(3, 5))
    wr[0, 0] = 0
    readout = Readout("readout", wr, np.array([1, -2, 0]), w_bits=4, w_scale=np.full(3, 2.0**-3))
    net = IntNet((c_in, 8, 8), 4, encoding, [conv0, pool, conv1, dense, readout])  # type: ignore[arg-type]
    net.validate()
    return net


def handmade_inputs(net: IntNet, n: int, seed: int = 3) -> np.ndarray:
    return random_inputs(np.random.default_rng(seed), net, n)


def direct_dense_net(T: int, reset: str = "zero") -> IntNet:
    """Direct-encoded dense first layer (a spike-train table where T allows), then dense, readout."""
    rng = np.random.default_rng(5)
    w0 = rng.integers(-7, 8, size=(6, 2 * 4 * 4))
    w0[rng.random(w0.shape) < 0.3] = 0
    fc0 = SpikingDense("fc0", w0, rng.integers(-200, 200, size=6), Neuron(rng.integers(200, 900, size=6), 1, reset, 12),
                       w_bits=4, w_scale=np.full(6, 2.0**-3), in_scale=2.0**-8)
    w1 = rng.integers(-3, 8, size=(5, 6))
    fc1 = SpikingDense("fc1", w1, np.zeros(5, np.int64), Neuron(np.array([4, 6, 5, 3, 7]), 0, reset, 8),
                       w_bits=4, w_scale=np.full(5, 2.0**-3))
    ro = Readout("readout", rng.integers(-7, 8, size=(3, 5)), np.array([1, -2, 0]), w_bits=4, w_scale=np.full(3, 2.0**-3))
    net = IntNet((2, 4, 4), T, "direct", [fc0, fc1, ro])  # type: ignore[arg-type]
    net.validate()
    return net


def block_ram_net(hw: tuple[int, int] = (32, 64), T: int = 2, dense: int = 0, seed: int = 1) -> IntNet:
    """conv 3x3 (2 -> 4 channels, pad 1) [-> dense] -> readout on a large plane, so that at
    parallelism 4 the memory rule puts the conv's accumulators (4 banks of 4-lane words, 512 deep
    at 32 x 64) and membranes in block RAM (with a URAM part and 64 x 64, the membranes in URAM),
    while its events run back to back with a kernel row per cycle (b2b_distance 3: the
    accumulators' forwarding window). ``dense`` units: a dense layer whose chunk table (one chunk
    per nonzero input row and channel group) fills block RAM."""
    rng = np.random.default_rng(seed)
    co, cin = 4, 2
    w0 = rng.integers(-7, 8, size=(co, cin, 3, 3))
    w0[rng.random(w0.shape) < 0.3] = 0
    conv0 = SpikingConv2d("conv0", w0, rng.integers(-2, 3, size=co), Neuron(rng.integers(8, 20, size=co), 1, "subtract", 12),
                          stride=1, padding=1, w_bits=4, w_scale=np.full(co, 2.0**-3))
    layers: list = [conv0]
    n = co * hw[0] * hw[1]
    if dense:
        wd = rng.integers(-3, 4, size=(dense, n))
        wd[rng.random(wd.shape) < 0.5] = 0
        layers.append(SpikingDense("fc0", wd, np.zeros(dense, np.int64), Neuron(rng.integers(20, 60, size=dense), 0, "zero", 10),
                                   w_bits=3, w_scale=np.full(dense, 2.0**-2)))
        n = dense
    layers.append(Readout("readout", rng.integers(-7, 8, size=(3, n)), np.array([1, -2, 0]), w_bits=4, w_scale=np.full(3, 2.0**-3)))
    net = IntNet((cin, *hw), T, "rate", layers)
    net.validate()
    return net
