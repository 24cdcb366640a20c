"""Optional: snnTorch's own NIR export (pip install 'spikehls[interop]'); skipped without snnTorch."""

from __future__ import annotations

import numpy as np
import pytest

snn = pytest.importorskip("snntorch")
nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")


def test_snntorch_conv_export_imports(tmp_path):
    from snntorch.export_nir import export_to_nir

    from spikehls.nir_io import import_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), snn.Leaky(beta=0.75, init_hidden=True, reset_mechanism="zero"),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 3),
        snn.Leaky(beta=0.75, init_hidden=True, output=True, reset_mechanism="zero"))
    try:
        g = export_to_nir(net, torch.zeros(1, 2, 8, 8))
        nir.write(str(tmp_path / "s.nir"), g)
    except Exception as err:  # snnTorch 1.0.0 + nir 1.0.8: Conv2d export fails in nir's shape inference
        pytest.xfail(f"snnTorch's convolutional NIR export is broken upstream (snnTorch #304, #367, #410): {err!r}")
    rep = import_nir(tmp_path / "s.nir", tmp_path / "run")
    assert rep["layers"][0]["leak_shift"] == 2  # beta 0.75: dt/tau = 0.25 = 2^-2, exact
    x = (np.random.default_rng(0).random((16, 4, 2, 8, 8)) < 0.3).astype(np.float32)
    assert x.shape[0] == 16
