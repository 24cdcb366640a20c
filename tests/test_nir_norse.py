"""Optional: a Norse network exported to NIR by Norse (pip install 'spikehls[interop]'); skipped without Norse.

Norse 1.1.0 (the newest release) needs three things from the user to write a convolutional graph that
nir 1.0.8 can save; the test does them the way a Norse user would (docs/nir.md, "Other frameworks"):

- ``to_nir`` writes ``tau = dt / tau_mem_inv`` (norse/norse#411; fixed by #413, not released): the
  exporter is called with ``dt=1.0``, which makes it write ``tau = 1 / tau_mem_inv``, NIR's ``tau`` in
  seconds. The network itself still runs at its own ``dt`` (1 ms).
- ``torch.nn.Flatten`` and ``AvgPool2d`` have no mapping (norse/norse#418; added by #438, not
  released): Norse's own module map is extended with them, as #438 does.
- the Conv2d node has ``input_shape=None`` and the traced Input carries the batch dimension, so
  ``nir.write`` fails (h5py: "One of data, shape or dtype must be specified"): the graph is traced with
  nirtorch's ``ignore_dims=[0]`` and typed with ``nir``'s own ``NIRGraph.infer_types()``. This needs
  neuron parameters shaped like the layer (Norse's default scalars give the LIF node an empty type,
  which ``infer_types`` rejects).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

norse_torch = pytest.importorskip("norse.torch")
nir = pytest.importorskip("nir")
nirtorch = pytest.importorskip("nirtorch")
torch = pytest.importorskip("torch")

from spikehls.cli import main  # noqa: E402
from spikehls.quantize import reference as ref  # noqa: E402
from spikehls.quantize.intnet import IntNet  # noqa: E402

DT = 1e-3  # Norse's default integration step; the LIF cells run at it
C, H, W, F, K = 2, 8, 8, 4, 3


def _norse_net(seed: int = 0):
    torch.manual_seed(seed)
    sh = (F, H, W)
    # tau_mem_inv = 250 /s: dt / tau = 0.25 = 2^-2, so the leak maps exactly (shift 2)
    p = norse_torch.LIFBoxParameters(tau_mem_inv=torch.full(sh, 250.0), v_th=torch.full(sh, 0.5),
                                     v_leak=torch.zeros(sh), v_reset=torch.zeros(sh))
    conv = torch.nn.Conv2d(C, F, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(4.0)  # enough drive that the LIF layer spikes on 30 % input activity
    return norse_torch.SequentialState(conv, norse_torch.LIFBoxCell(p, dt=DT), torch.nn.AvgPool2d(2),
                                       torch.nn.Flatten(), torch.nn.Linear(F * (H // 2) * (W // 2), K))


def _norse_map(module):
    from torch.nn.modules.utils import _pair

    from norse.torch.utils.export_nir import _extract_norse_module

    node = _extract_norse_module(module, dt=1.0)  # norse#411: tau = 1 / tau_mem_inv
    if node is None and isinstance(module, torch.nn.Flatten):  # norse#418 / #438
        node = nir.Flatten(input_type=None, start_dim=module.start_dim - 1, end_dim=module.end_dim)
    if node is None and isinstance(module, torch.nn.AvgPool2d):
        node = nir.AvgPool2d(kernel_size=np.array(_pair(module.kernel_size)), stride=np.array(_pair(module.stride)),
                             padding=np.array(_pair(module.padding)))
    return node


def _export(net, path):
    g = nirtorch.extract_nir_graph(net, _norse_map, torch.zeros(1, C, H, W), model_name="norse", ignore_dims=[0])
    g.infer_types()
    nir.write(str(path), g)
    return path


def _norse_readout(net, x: np.ndarray) -> np.ndarray:
    """Norse's own simulation: one SequentialState step per time step, the Linear outputs summed over T."""
    state, total = None, 0.0
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = net(torch.from_numpy(x[:, t]).float(), state)
            total = total + out
    return total.numpy().astype(np.float64)


def _float_out(run, x: np.ndarray) -> np.ndarray:
    from spikehls.training.trainer import load_run

    _, model, _, _ = load_run(run)
    with torch.no_grad():
        return model(torch.from_numpy(x).float().transpose(0, 1)).numpy() * x.shape[1]  # sum over T


def _spikes(n=64, T=4, seed=1):
    return (np.random.default_rng(seed).random((n, T, C, H, W)) < 0.3).astype(np.float32)


@pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph is being deprecated")
def test_norse_conv_export_imports_and_matches_norse(tmp_path, capsys):
    """Norse conv -> LIFBox -> avg pool -> flatten -> linear, exported by Norse, imported by ``spikehls import``.

    (a) Float model vs Norse's simulation, same spikes. The equations are the same (forward Euler,
    ``v += dt/tau (v_leak - v + i)``, fire on ``v > v_th``, zero reset; the leak 2^-2 is exact; Norse's
    run equals ``spikehls.nir_io.simulate`` of the exported graph to 1e-7). The one deliberate change is
    the threshold, moved up onto the integer grid (by less than one accumulator unit): with Norse's
    ``v_th`` set to that grid threshold the readouts agree to float32 rounding (1e-5: conv and
    pooling sum in a different order). With Norse's own threshold, a membrane within that unit
    (0.002 here) of 0.5 spikes in Norse only; each such spike moves a readout by |w| / 4. Required
    there: argmax agreement >= 90 % and mean |difference| <= 2 % of the largest readout (measured:
    1 %); the max difference can reach ~6 % when two flips land in one sample.
    (b) Exactness from the quantized network on: torch integer model = NumPy reference = QONNX.
    """
    net = _norse_net()
    g = _export(net, tmp_path / "norse.nir")
    read = nir.read(str(g))
    assert {type(n).__name__ for n in read.nodes.values()} >= {"Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine"}
    np.testing.assert_allclose(read.nodes["1"].tau, 4e-3)  # seconds: dt / tau = 0.25

    run = tmp_path / "run"
    assert main(["import", "--nir", str(g), "--out", str(run)]) == 0
    rep = json.loads((run / "import.json").read_text())
    assert rep["layers"][0]["leak_shift"] == 2 and rep["layers"][0]["leak_kernel_error"] < 1e-6  # float32 tau

    x = _spikes()
    want = _norse_readout(net, x)
    got = _float_out(run, x)
    assert np.abs(want).max() > 0.1  # the net is not silent
    agree = (got.argmax(1) == want.argmax(1)).mean()
    assert agree >= 0.9, agree
    assert np.abs(got - want).mean() <= 0.02 * np.abs(want).max(), np.abs(got - want).mean()

    # the grid threshold the import chose, given back to Norse: the same network
    theta = torch.load(run / "checkpoint.pt", weights_only=False)["model"]["features.0.neuron.threshold"]
    assert rep["layers"][0]["threshold_shift_max"] < 0.01
    on_grid = _norse_net()
    on_grid[1].p = on_grid[1].p._replace(v_th=theta.float().reshape(F, 1, 1).expand(F, H, W).clone())
    np.testing.assert_allclose(got, _norse_readout(on_grid, x), rtol=0, atol=1e-5)

    capsys.readouterr()
    assert main(["export", "--run", str(run), "--no-progress"]) == 0
    exp = json.loads((run / "export.json").read_text())
    assert exp["reference_mismatches"] == 0 and exp["qonnx_mismatches"] == 0  # on the exported test vectors
    r = ref.run(IntNet.load(run / "intnet.npz"), x.astype(np.int64))  # the integer network on Norse's input
    agree_int = (r.readout.argmax(1) == want.argmax(1)).mean()
    assert agree_int >= 0.8, agree_int  # 8-bit weights: close to Norse, not equal (exactness starts here)
