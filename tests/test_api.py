"""The documented Python API (issue 14 item 10): spikehls exports one function per stage; the example
script runs the whole flow (slow: it trains, exports and compiles)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import spikehls

ROOT = Path(__file__).resolve().parents[1]


def test_api_is_exported_and_documented():
    for name in ("train", "export", "generate_hls", "csim", "report", "run_codesign", "load_config"):
        fn = getattr(spikehls, name)
        assert callable(fn) and fn.__doc__ and fn.__module__ == "spikehls.api", name
        assert name in spikehls.__all__
    import importlib

    importlib.import_module("spikehls.codesign")  # the modules of these names do not shadow the functions
    importlib.import_module("spikehls.hls.project")

    assert callable(spikehls.run_codesign) and callable(spikehls.generate_hls)


def test_load_config_takes_a_mapping_a_path_or_nothing(tmp_path):
    assert spikehls.load_config(None) == spikehls.load_config({})
    assert spikehls.load_config({"train": {"epochs": 3}}).train.epochs == 3
    (tmp_path / "c.yaml").write_text("train:\n  epochs: 5\n")
    assert spikehls.load_config(tmp_path / "c.yaml").train.epochs == 5
    with pytest.raises(spikehls.SpikehlsError, match="train.epoch"):
        spikehls.load_config({"train": {"epoch": 3}})


def test_generate_hls_without_export_is_one_error(tmp_path):
    with pytest.raises(spikehls.SpikehlsError, match="model.qonnx.onnx: not found"):
        spikehls.generate_hls(tmp_path, "pynq-z2", tmp_path / "prj")


@pytest.mark.slow
def test_example_script_runs_the_whole_flow(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "api_flow.py"), str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "C-simulation: spike-exact" in text and "hls4ml project:" in text and "resources (estimate)" in text
    assert (tmp_path / "o" / "prj" / "csim.json").is_file() and (tmp_path / "o" / "prj" / "report.json").is_file()
