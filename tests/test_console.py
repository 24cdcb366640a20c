"""Logs: progress bars only on a terminal, one line per epoch otherwise; the run summary's
channels as a table (issue 14 item 6)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from spikehls.config import config_from_dict  # noqa: E402
from spikehls.console import bars_on  # noqa: E402
from spikehls.summary import channel_table, format_summary  # noqa: E402
from spikehls.training.trainer import train  # noqa: E402

TINY = {
    "dataset": {"name": "digits", "train_limit": 120, "test_limit": 40},
    "model": {"preset": None, "arch": "vgg", "layers": [4, "M", 6, "M"]},
    "sca": {"p": 0.5, "q": 0.1},
    "optim": {"batch_size": 40},
    "train": {"epochs": 2, "time_steps": 2, "seed": 7},
}


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_on_a_terminal():
    assert bars_on(True, _Tty()) and not bars_on(False, _Tty())
    assert not bars_on(True, io.StringIO())  # a file or pipe
    assert not bars_on(True, object())  # no isatty at all


def test_training_into_a_log_has_epoch_lines_and_no_bar_frames(tmp_path, capsys):
    train(config_from_dict(json.loads(json.dumps(TINY))), tmp_path / "r", progress=True)
    cap = capsys.readouterr()  # pytest's captured streams are not terminals, like a redirected log
    assert "\r" not in cap.out and "\r" not in cap.err
    epochs = [ln for ln in cap.out.splitlines() if ln.startswith("epoch ")]
    assert len(epochs) == 2 and "1/2" in epochs[0] and "2/2" in epochs[1] and "test" in epochs[0]


def test_export_into_a_log_draws_no_bar(tmp_path, capsys):
    from spikehls.quantize.export_run import export_run

    train(config_from_dict(json.loads(json.dumps(TINY))), tmp_path / "r", progress=False)
    capsys.readouterr()
    export_run(tmp_path / "r", progress=True, log=print)  # QAT and the torch-vs-reference check
    cap = capsys.readouterr()
    assert "\r" not in cap.err and "\r" not in cap.out
    assert "QAT epoch 1" in cap.out
    # issue 14 item 9: the energy figure is labelled as the FP32 convention, never as the design's
    for name in ("summary.json", "export.json"):
        conv = json.loads((tmp_path / "r" / name).read_text())["energy_convention"]
        assert "FP32 convention" in conv and "not the energy of this integer design" in conv


def test_train_command_labels_the_energy_figure(tmp_path, capsys):
    import yaml

    from spikehls.cli import main

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(TINY))
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("SynOps"))
    assert "FP32-convention energy" in line and "not this integer design's energy" in line and "SynOps" in line


def test_summary_prints_channels_as_a_table(tmp_path):
    per = {"features.0.conv": 12, "features.3.conv": 11, "classifier.readout": 10}
    rows = channel_table(per)
    assert rows[0].split() == ["layer", "channels"]
    assert [r.split() for r in rows[1:]] == [["features.0.conv", "12"], ["features.3.conv", "11"], ["classifier.readout", "10"]]
    assert channel_table({"c": {"kept": 3, "total": 8}})[1].split() == ["c", "3/8"]
    rec = {"iteration": 0, "quantized_accuracy": 0.9, "float_accuracy": 0.9, "csim_accuracy": 0.9, "csim_samples": 4,
           "channels_kept": 33, "channels_total": 48, "channels_per_layer": per, "csim_exact": True,
           "spike_mismatches": 0, "readout_mismatches": 0, "resource_source": "estimate",
           "latency_cycles_worst": 10, "latency_us_worst": 0.1, "project": "p",
           "LUT": 1, "FF": 1, "BRAM18": 0, "URAM": 0, "DSP": 0}
    result = {"iterations": [rec], "final": {"iteration": 0, "project": "hls"}, "fits": True,
              "board": {"name": "b", "part": "p", "clock_mhz": 100,
                        "allowed": {k: 100 for k in ("LUT", "FF", "BRAM18", "URAM", "DSP")}}}
    text = format_summary(result, tmp_path)
    assert "{" not in text and "features.3.conv" in text
