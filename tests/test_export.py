"""``spikehls export``: the whole stage on a tiny trained run, its artifacts, and its user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from spikehls.cli import main
from spikehls.config import config_from_dict
from spikehls.quantize import reference as ref
from spikehls.quantize.export_run import ARTIFACTS, synops
from spikehls.quantize.intnet import IntNet
from spikehls.quantize.qat import load_quantized
from spikehls.quantize.testvectors import load_testvectors
from spikehls.training.trainer import train

SMALL = {"dataset": {"train_limit": 300, "test_limit": 120}, "train": {"epochs": 2, "time_steps": 3},
         "sca": {"p": 0.5, "q": 0.05}, "quant": {"qat_epochs": 1, "test_vectors": 20}}


def _train(path: Path, **over) -> Path:
    d = json.loads(json.dumps(SMALL))
    for k, v in over.items():
        d.setdefault(k, {}).update(v)
    torch.manual_seed(0)
    train(config_from_dict(d), path, progress=False)
    return path


@pytest.fixture(scope="module")
def vgg_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("vgg") / "run")


def _listing(d: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in d.iterdir()}


def test_export_writes_consistent_artifacts(vgg_run, capsys):
    assert main(["export", "--run", str(vgg_run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "quantized" in out and "mismatches 0" in out
    for name in ARTIFACTS:
        assert (vgg_run / name).is_file(), name
    assert not [p for p in vgg_run.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    s = json.loads((vgg_run / "export.json").read_text())
    assert s["reference_mismatches"] == 0 and s["qonnx_mismatches"] == 0
    assert s["reference_checked_samples"] == 120 and s["test_vectors"] == 20
    assert 0 <= s["quantized_accuracy"] <= 1 and 0 <= s["float_accuracy"] <= 1
    assert s["parameters"]["kept"] < s["parameters"]["dense"]
    assert s["channels"]["kept"] < s["channels"]["dense"]
    assert set(s["bits"]["weights"]) == {"features.0.conv", "features.1.conv", "features.2.conv", "readout"}
    assert s["synops_per_sample"] > 0 and s["macs_per_sample"] > 0  # direct encoding: first layer is a MAC layer
    assert s["energy_pj_per_sample"] == pytest.approx(0.9 * s["synops_per_sample"] + 4.6 * s["macs_per_sample"])
    assert "0.9 pJ" in s["energy_convention"] and "4.6 pJ" in s["energy_convention"]

    net = IntNet.load(vgg_run / "intnet.npz")
    x, y, tv = load_testvectors(vgg_run / "testvectors.npz")
    assert x.shape == (20, 3) + tuple(net.input_shape) and y.shape == (20,)
    r = ref.run(net, x)
    np.testing.assert_array_equal(r.readout, tv.readout)
    for k in r.spikes:
        np.testing.assert_array_equal(r.spikes[k], tv.spikes[k])
    # the saved quantized torch model reproduces the test vectors
    q = load_quantized(vgg_run / "quantized.pt")
    with torch.no_grad():
        _, outs = q(torch.from_numpy(x).float() * q.in_scale, record=True)
    np.testing.assert_array_equal(q.readout_int().numpy(), tv.readout)
    for k in tv.spikes:
        np.testing.assert_array_equal(outs[k].numpy().astype(np.uint8), tv.spikes[k])
    # QONNX survives qonnx's cleanup transforms and still matches
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    from spikehls.quantize.qonnx_export import load_qonnx, run_qonnx

    m = cleanup_model(load_qonnx(vgg_run / "model.qonnx.onnx")).transform(ConvertToChannelsLastAndClean())
    readout, spikes = run_qonnx(m, x[:4])
    np.testing.assert_array_equal(readout, tv.readout[:4])


def test_export_config_override_and_failed_override_keeps_previous(vgg_run, tmp_path, capsys):
    if not (vgg_run / "export.json").is_file():
        assert main(["export", "--run", str(vgg_run), "--no-progress"]) == 0
    before = _listing(vgg_run)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"quant": {"w_bits": 9}}))
    assert main(["export", "--run", str(vgg_run), "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "quant.w_bits" in err[0]
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(yaml.safe_dump({"quant": {"layer_w_bits": {"features.9.conv": 3}}}))
    assert main(["export", "--run", str(vgg_run), "--config", str(unknown)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "features.9.conv" in err[0]
    assert _listing(vgg_run) == before  # nothing touched

    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"quant": {"w_bits": 6, "layer_w_bits": {"readout": 8}, "qat_epochs": 0,
                                              "per_channel": False, "test_vectors": 5}}))
    assert main(["export", "--run", str(vgg_run), "--config", str(good), "--no-progress"]) == 0
    s = json.loads((vgg_run / "export.json").read_text())
    assert s["bits"]["weights"]["features.0.conv"] == 6 and s["bits"]["weights"]["readout"] == 8
    assert s["test_vectors"] == 5 and s["reference_mismatches"] == 0 and s["qat"]["epochs"] == 0
    net = IntNet.load(vgg_run / "intnet.npz")
    assert all(np.all(lyr.w_scale == lyr.w_scale[0]) for lyr in net.layers if hasattr(lyr, "w_scale"))


def test_export_run_without_checkpoint_is_a_one_line_error(tmp_path, capsys):
    d = tmp_path / "empty"
    d.mkdir()
    assert main(["export", "--run", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "checkpoint" in err[0]
    assert list(d.iterdir()) == []
    assert main(["export", "--run", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_export_preresnet(tmp_path):
    """Pre-activation ResNets export through the residual stream (tests/test_preresnet.py has the details)."""
    run = _train(tmp_path / "pre", model={"preset": "preresnet_small"}, train={"epochs": 1},
                 dataset={"train_limit": 64, "test_limit": 32}, quant={"test_vectors": 8})
    assert main(["export", "--run", str(run), "--no-progress"]) == 0
    s = json.loads((run / "export.json").read_text())
    assert s["reference_mismatches"] == 0
    assert any(getattr(lyr, "residual", None) for lyr in IntNet.load(run / "intnet.npz").layers)


@pytest.mark.parametrize("enc", ["rate", "bitplane"])
def test_export_resnet_spike_encodings(tmp_path, enc):
    run = _train(tmp_path / enc, model={"preset": "resnet_small"}, encoding={"kind": enc},
                 neuron={"kind": "lif", "reset": "subtract"}, train={"epochs": 1},
                 dataset={"train_limit": 128, "test_limit": 48}, quant={"test_vectors": 6})
    from spikehls.quantize.export_run import export_run

    s = export_run(run, progress=False, log=lambda m: None)
    assert s["reference_mismatches"] == 0 and s["qonnx_mismatches"] == 0
    assert s["macs_per_sample"] == 0 and s["synops_per_sample"] > 0  # spike input: accumulate-only
    net = IntNet.load(run / "intnet.npz")
    assert any(getattr(lyr, "skip", None) is not None for lyr in net.layers)


def test_synops_counts_fanout_exactly():
    from spikehls.quantize.intnet import Neuron, Readout, SpikingConv2d

    conv = SpikingConv2d("c", np.ones((2, 1, 3, 3), np.int64), np.zeros(2, np.int64), Neuron(np.ones(2, np.int64)),
                         padding=1)
    net = IntNet((1, 3, 3), 1, "rate", [conv, Readout("r", np.ones((2, 18), np.int64), np.zeros(2, np.int64))])
    x = np.zeros((1, 1, 1, 3, 3), np.int64)
    x[0, 0, 0, 0, 0] = 1  # a corner spike feeds 4 output positions x 2 channels
    x[0, 0, 0, 1, 1] = 1  # the centre feeds 9 x 2
    r = ref.run(net, x)
    ops = synops(net, x, r)
    assert ops["synops"]["c"] == 2 * (4 + 9)
    assert ops["synops"]["r"] == int(r.spikes["c"].sum()) * 2


def test_export_of_a_killed_run_warns_and_records_it_and_unpruned_kept_fraction_is_1(tmp_path, capsys):
    """Issue 11: a training run killed mid-way (no summary.json) exports with a warning and
    ``training.complete: false`` in export.json; an unpruned net keeps exactly 100 % of its
    parameters (was 1.005: dense counted before BN folding, kept after)."""
    run = _train(tmp_path / "run", sca={"enabled": False}, train={"epochs": 1}, quant={"qat_epochs": 0})
    assert main(["export", "--run", str(run), "--no-progress"]) == 0
    s = json.loads((run / "export.json").read_text())
    assert s["training"]["complete"] is True and "warning" not in s["training"]
    assert s["parameters"]["kept"] == s["parameters"]["dense"] and s["parameters"]["kept_fraction"] == 1.0
    assert s["channels"]["kept_fraction"] == 1.0
    assert "warning" not in capsys.readouterr().err
    (run / "summary.json").unlink()  # what a kill before the end of training leaves
    assert main(["export", "--run", str(run), "--no-progress"]) == 0
    err = capsys.readouterr().err
    warn = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warn) == 1 and "summary.json" in warn[0] and "did not finish" in warn[0] and str(run) in warn[0]
    s = json.loads((run / "export.json").read_text())
    t = s["training"]
    assert t["complete"] is False and t["epochs_done"] == 1 and t["epochs_configured"] == 1 and "summary.json" in t["warning"]


def test_pruned_kept_fraction_at_most_1(vgg_run):
    if not (vgg_run / "export.json").is_file():
        assert main(["export", "--run", str(vgg_run), "--no-progress"]) == 0
    s = json.loads((vgg_run / "export.json").read_text())
    assert 0 < s["parameters"]["kept_fraction"] <= 1 and 0 < s["channels"]["kept_fraction"] <= 1
    assert s["parameters"]["kept_fraction"] == s["parameters"]["kept"] / s["parameters"]["dense"]
    assert s["training"]["complete"] is True
