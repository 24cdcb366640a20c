"""C-simulation as a regression suite (issue 14 item 13): --samples all/N from the run's test split,
--junit FILE (one case per layer per batch), --golden/--save-golden (which samples and layers changed).
Fast tests check the report writers and the option checks; the compiles are marked slow."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.cli import main  # noqa: E402
from spikehls.errors import SpikehlsError  # noqa: E402
from spikehls.hls import regression  # noqa: E402


# ---- fast: report writers, golden files, options ------------------------------------------------
def _batches():
    ok = {"mismatches": 0, "first_sample": None}
    return [
        {"start": 0, "stop": 256, "seconds": 0.2, "layers": {"conv0": ok, "conv1": ok, "readout": ok}},
        {"start": 256, "stop": 300, "seconds": 0.1,
         "layers": {"conv0": ok, "conv1": {"mismatches": 7, "first_sample": 260}, "readout": {"mismatches": 1, "first_sample": 261}}},
    ]


def test_junit_has_one_case_per_layer_per_batch_and_names_the_broken_layer():
    text = regression.junit_xml("myproject", _batches(), None, 0.3)
    root = ET.fromstring(text)
    cases = list(root.iter("testcase"))
    assert root.get("tests") == "6" and root.get("failures") == "2" and len(cases) == 6
    failed = {c.get("name"): c.find("failure").get("message") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"conv1 spikes samples 256-299", "readout readout samples 256-299"}
    assert "7 spikes mismatch(es)" in failed["conv1 spikes samples 256-299"] and "sample 260" in failed["conv1 spikes samples 256-299"]
    assert {c.get("classname") for c in cases} == {"spikehls.csim.myproject.conv0", "spikehls.csim.myproject.conv1",
                                                   "spikehls.csim.myproject.readout"}


def test_golden_round_trip_reports_changed_samples_and_layers(tmp_path):
    rng = np.random.default_rng(0)
    spikes = {"conv0": rng.integers(0, 2, (5, 2, 3, 4, 4)), "fc0": rng.integers(0, 2, (5, 2, 6))}
    readout = rng.integers(-9, 9, (5, 3))
    names = list(spikes)
    sha = regression.inputs_digest([np.zeros((5, 2), np.int64)])
    regression.save_golden(tmp_path / "g.npz", names, regression.golden_digests(spikes), readout, sha)
    gold = regression.load_golden(tmp_path / "g.npz")
    same = regression.compare_golden(tmp_path / "g.npz", gold, names, regression.golden_digests(spikes), readout, sha)
    assert same["equal"] and same["changed"] == {}
    spikes["fc0"][3, 1, 2] ^= 1  # one spike of sample 3 flips
    readout2 = readout.copy()
    readout2[4, 0] += 1
    diff = regression.compare_golden(tmp_path / "g.npz", gold, names, regression.golden_digests(spikes), readout2, sha)
    assert not diff["equal"] and diff["changed"] == {"fc0": [3], "readout": [4]} and diff["changed_samples"] == [3, 4]
    with pytest.raises(SpikehlsError, match="recorded on other inputs"):
        regression.compare_golden(tmp_path / "g.npz", gold, names, regression.golden_digests(spikes), readout, "0" * 64)
    with pytest.raises(SpikehlsError, match="layers: recorded"):
        regression.compare_golden(tmp_path / "g.npz", gold, ["conv0", "x"], regression.golden_digests(spikes), readout, sha)
    xml = regression.junit_xml("p", [], {**diff, "layers_checked": names + ["readout"]}, 0.0)
    failed = [c.get("name") for c in ET.fromstring(xml).iter("testcase") if c.find("failure") is not None]
    assert failed == ["fc0 equal to golden g.npz", "readout equal to golden g.npz"]


def test_bad_samples_option_and_bad_golden_file_are_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["csim", "--project", str(tmp_path), "--samples", "0"])
    assert e.value.code == 2 and "expected 'all' or an integer >= 1" in capsys.readouterr().err
    (tmp_path / "g.npz").write_bytes(b"not a zip")
    with pytest.raises(SpikehlsError, match=str(tmp_path / "g.npz")):
        regression.load_golden(tmp_path / "g.npz")


def test_samples_beyond_the_test_vectors_need_the_run(tmp_path, capsys):
    from spikehls.hls.project import generate_project

    net = handmade_net()
    run = write_run(net, tmp_path / "run", handmade_inputs(net, 3))
    prj = tmp_path / "prj"
    generate_project(run / "model.qonnx.onnx", "pynq-z2", prj, testvectors=run / "testvectors.npz")
    assert main(["csim", "--project", str(prj), "--samples", "all"]) == 2  # a hand-made run has no config.yaml
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "config.yaml" in err[0] and "--run" in err[0]


# ---- slow: real compiles ------------------------------------------------------------------------
@pytest.mark.slow
def test_changed_weight_is_a_golden_failure_naming_the_layer(tmp_path, capsys):
    from spikehls.hls.project import generate_project

    net = handmade_net()
    x = handmade_inputs(net, 6)
    run_a = write_run(net, tmp_path / "a", x)
    generate_project(run_a / "model.qonnx.onnx", "pynq-z2", tmp_path / "pa", testvectors=run_a / "testvectors.npz")
    gold, junit = tmp_path / "golden.npz", tmp_path / "junit.xml"
    assert main(["csim", "--project", str(tmp_path / "pa"), "--save-golden", str(gold)]) == 0
    assert main(["csim", "--project", str(tmp_path / "pa"), "--golden", str(gold)]) == 0
    assert "golden: equal" in capsys.readouterr().out
    # the next revision of the design: one weight of fc0 changed (the reference changes with it)
    net.layers[3].weight[0, np.nonzero(net.layers[3].weight[0])[0][0]] += 1
    run_b = write_run(net, tmp_path / "b", x)
    generate_project(run_b / "model.qonnx.onnx", "pynq-z2", tmp_path / "pb", testvectors=run_b / "testvectors.npz")
    rc = main(["csim", "--project", str(tmp_path / "pb"), "--golden", str(gold), "--junit", str(junit)])
    out = capsys.readouterr().out
    r = json.loads((tmp_path / "pb" / "csim.json").read_text())
    assert rc == 1 and r["exact"]  # spike-exact against its own reference, but changed against the golden run
    assert "conv0" not in r["golden"]["changed"] and "conv1" not in r["golden"]["changed"]
    assert "fc0" in r["golden"]["changed"] and "golden CHANGED: fc0" in out
    failed = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None]
    assert failed and failed[0] == "fc0 equal to golden golden.npz"


@pytest.mark.slow
def test_samples_all_of_a_trained_digits_run_with_junit(tmp_path, capsys):
    from spikehls.quantize.export_run import export_run
    from spikehls.training.trainer import train
    from spikehls.config import config_from_dict

    cfg = {"dataset": {"name": "digits", "train_limit": 160, "test_limit": 300},
           "model": {"preset": None, "arch": "vgg", "layers": [4, "M", 6, "M"]}, "optim": {"batch_size": 40},
           "train": {"epochs": 1, "time_steps": 2, "seed": 7}, "quant": {"qat_epochs": 0, "test_vectors": 16},
           "encoding": {"kind": "rate"}}
    run = tmp_path / "run"
    train(config_from_dict(cfg), run, progress=False)
    export_run(run, progress=False, log=lambda m: None)
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(tmp_path / "prj")]) == 0
    junit = tmp_path / "j.xml"
    assert main(["csim", "--project", str(tmp_path / "prj"), "--samples", "all", "--junit", str(junit)]) == 0
    r = json.loads((tmp_path / "prj" / "csim.json").read_text())
    assert r["samples"] == 300 and r["exact"] and "test split" in r["source"]
    root = ET.parse(junit).getroot()
    n_layers = len(r["layers"])  # spiking layers + readout (all listed)
    assert root.get("failures") == "0" and int(root.get("tests")) == 2 * n_layers  # 300 samples = 2 batches of 256
    # the first 16 samples of the split are the exported test vectors, encoded alike: same readout
    assert main(["csim", "--project", str(tmp_path / "prj"), "--samples", "16", "--save-golden", str(tmp_path / "g16.npz")]) == 0
    assert main(["csim", "--project", str(tmp_path / "prj"), "--samples", "17"]) == 0  # from the split
    assert "test split" in json.loads((tmp_path / "prj" / "csim.json").read_text())["source"]
