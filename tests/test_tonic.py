"""Tonic event data (training/tonic.py): files in Tonic's formats written here, converted, trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from spikehls.cli import main
from spikehls.errors import SpikehlsError
from spikehls.training.tonic import convert, read_events, to_frames

DTYPE = [("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")]


def _events(rng, n, w, h, label):
    """Events whose position depends on the class (learnable), polarity 0/1, microsecond timestamps."""
    x = np.clip(rng.normal(2 + 3 * label, 1.0, n), 0, w - 1).astype(np.int64)
    y = rng.integers(0, h, n)
    t = np.sort(rng.integers(0, 100_000, n))
    p = rng.integers(0, 2, n)
    ev = np.zeros(n, DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev


def _nmnist_bin(path: Path, ev) -> None:
    raw = np.zeros((len(ev), 5), np.uint8)
    raw[:, 0], raw[:, 1] = ev["x"], ev["y"]
    raw[:, 2] = (ev["p"] << 7) | ((ev["t"] >> 16) & 127)
    raw[:, 3], raw[:, 4] = (ev["t"] >> 8) & 255, ev["t"] & 255
    raw.tofile(path)


def write_dataset(root: Path, fmt: str, classes=3, per_class=12, w=12, h=12, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    splits = ("Train", "Test") if fmt == "bin" else ("",)
    for sp in splits:
        for c in range(classes):
            d = root / sp / str(c)
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                ev = _events(rng, 300, w, h, c)
                if fmt == "bin":  # N-MNIST
                    _nmnist_bin(d / f"{i:05d}.bin", ev)
                elif fmt == "npy":  # structured events, as np.save(tonic_sample)
                    np.save(d / f"{i}.npy", ev)
                else:  # DVS Gesture: [n, 4] x, y, p, t
                    np.save(d / f"{i}.npy", np.stack([ev["x"], ev["y"], ev["p"], ev["t"]], 1))
    return root


@pytest.mark.parametrize("fmt", ["bin", "npy", "gesture"])
def test_formats_read_alike(tmp_path, fmt):
    root = write_dataset(tmp_path / fmt, fmt)
    rep = convert(root, tmp_path / "d.npz", time_steps=4, sensor_size=(12, 12, 2))
    z = np.load(tmp_path / "d.npz")
    assert z["x_train"].shape[1:] == (4, 2, 12, 12)  # [N, T, P, H, W]: polarity kept as channels
    assert rep["num_classes"] == 3 and rep["channels"] == 2
    assert z["x_train"].dtype == np.uint8 and z["x_train"].max() > 1  # counts kept, not binarised
    assert 0 < rep["counts_above_one"] < 1
    if fmt == "bin":
        assert rep["train"] == 36 and rep["test"] == 36  # Train/Test folders are the split


def test_bin_decoding_and_binning(tmp_path):
    rng = np.random.default_rng(1)
    ev = _events(rng, 50, 34, 34, 1)
    _nmnist_bin(tmp_path / "a.bin", ev)
    back = read_events(tmp_path / "a.bin")
    for f in "xytp":
        np.testing.assert_array_equal(back[f], ev[f])
    fr = to_frames(back, (34, 34, 2), 5)
    assert fr.shape == (5, 2, 34, 34) and fr.sum() == 50


def test_counts_policies(tmp_path):
    root = write_dataset(tmp_path / "s", "npy", per_class=4)
    with pytest.raises(SpikehlsError, match="counts > 1"):
        convert(root, tmp_path / "e.npz", time_steps=2, sensor_size=(12, 12, 2), counts="error")
    rep = convert(root, tmp_path / "s.npz", time_steps=2, sensor_size=(12, 12, 2), counts="split")
    z = np.load(tmp_path / "s.npz")
    assert rep["split_factor"] > 1 and z["x_train"].shape[1] == 2 * rep["split_factor"] and z["x_train"].max() == 1
    # lossless up to the split factor: the spikes per pixel sum back to the counts
    b = convert(root, tmp_path / "b.npz", time_steps=2, sensor_size=(12, 12, 2))
    zb = np.load(tmp_path / "b.npz")
    if rep["clipped_above_split"] == 0:
        assert z["x_train"].sum() == zb["x_train"].astype(np.int64).sum()
    assert b["counts"] == "binary"


def test_toframe_npz_and_missing(tmp_path):
    fr = np.random.default_rng(0).integers(0, 3, (20, 4, 2, 6, 6))
    np.savez(tmp_path / "frames.npz", frames=fr, labels=np.arange(20) % 2)
    rep = convert(tmp_path / "frames.npz", tmp_path / "o.npz")
    assert rep["time_steps"] == 4 and rep["train"] + rep["test"] == 20
    with pytest.raises(SpikehlsError, match="not found"):
        convert(tmp_path / "nope", tmp_path / "o2.npz")


def _cfg(tmp_path, data: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "dataset": {"name": "numpy", "path": str(data)}, "encoding": {"kind": "events"},
        "model": {"layers": [4, "M"]}, "train": {"epochs": 2, "time_steps": 4},
        "quant": {"qat_epochs": 0, "test_vectors": 8}, "codesign": {"max_iters": 1, "epochs_per_iter": 1}}))
    return cfg


def test_cli_import_tonic_then_train(tmp_path, capsys):
    root = write_dataset(tmp_path / "nm", "bin")
    data = tmp_path / "nm.npz"
    assert main(["import", "--tonic", str(root), "--out", str(data), "--sensor", "12", "12", "2", "--time-steps", "4"]) == 0
    assert "counts > 1" in capsys.readouterr().out
    assert main(["train", "--config", str(_cfg(tmp_path, data)), "--out", str(tmp_path / "run"), "--no-progress"]) == 0


@pytest.mark.slow
def test_run_config_trains_on_tonic_data(tmp_path):
    root = write_dataset(tmp_path / "g", "gesture")
    data = tmp_path / "g.npz"
    convert(root, data, time_steps=4, sensor_size=(12, 12, 2))
    rc = main(["run", "--config", str(_cfg(tmp_path, data)), "--out", str(tmp_path / "cd"), "--quiet"])
    assert rc in (0, 1)  # 1: does not fit the board (a result, not an error)
    assert (tmp_path / "cd").is_dir()
