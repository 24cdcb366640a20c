"""Tonic event data -> a spikehls ``numpy`` dataset (``[N, T, C, H, W]`` frames, docs/nir.md).

Tonic (``tonic`` 1.7) keeps event datasets as structured event arrays (fields ``x, y, t, p``) and
turns them into frames with ``ToFrame`` (``[T, P, H, W]``, P polarity channels). This module reads
them from local files only (nothing is downloaded, tonic itself is not needed) and writes the
``.npz`` that ``dataset.name: numpy`` with ``encoding.kind: events`` trains on.

Sources (:func:`convert`):

* a folder with one subfolder per class (sorted names are the labels 0..K-1; integer names are
  taken as the label) of per-sample files, optionally under ``train/`` and ``test/`` (``Train``,
  ``Test`` as in N-MNIST) which then are the split:

  - ``.npy`` structured arrays with fields ``x, y, t, p`` (what ``np.save`` writes for a Tonic
    sample: ``events, target = dataset[i]``);
  - ``.npy`` plain ``[n, 4]`` arrays with columns ``x, y, p, t`` (the layout of Tonic's
    DVS Gesture files);
  - ``.bin`` N-MNIST files (5 bytes per event: x, y, polarity bit + 23-bit timestamp), as
    ``tonic.datasets.NMNIST`` reads them;
* an ``.npz`` of ToFrame output: ``frames [N, T, P, H, W]`` and ``labels [N]`` (or
  ``x_train/y_train/x_test/y_test``).

Events are binned like ``ToFrame(sensor_size, n_time_bins=T)``: T equal time spans from the
sample's first to its last event; a frame entry counts the events of that pixel, polarity and
span. Polarity stays a channel (C = P; -1/1 polarities become channels 0/1).

Counts > 1: the events encoding fires one spike for every nonzero entry. ``counts``:
``binary`` (default) keeps the counts in the file (clipped to 255) and reports the fraction of
active entries above 1 (those become a single spike); ``split`` spreads counts over sub-steps
(each span becomes ``m`` steps, the j-th fires where the count exceeds j; ``m`` = the largest
count, at most 16, so T grows to ``T * m``); ``error`` refuses data with counts > 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from spikehls.errors import SpikehlsError

MAX_SPLIT = 16


def read_events(path: str | Path) -> np.ndarray:
    """One sample's events as a structured array with int64 fields x, y, t, p."""
    p = Path(path)
    try:
        if p.suffix == ".bin":
            raw = np.fromfile(p, dtype=np.uint8)
            if raw.size % 5:
                raise ValueError(f"{raw.size} bytes is not a multiple of 5")
            raw = raw.reshape(-1, 5).astype(np.int64)
            x, y, pol = raw[:, 0], raw[:, 1], raw[:, 2] >> 7
            t = ((raw[:, 2] & 127) << 16) | (raw[:, 3] << 8) | raw[:, 4]
        else:
            a = np.load(p, allow_pickle=False)
            if a.dtype.names:
                missing = {"x", "y", "t", "p"} - set(a.dtype.names)
                if missing:
                    raise ValueError(f"structured array lacks field(s) {sorted(missing)}")
                x, y, t, pol = (a[f].astype(np.int64) for f in ("x", "y", "t", "p"))
            elif a.ndim == 2 and a.shape[1] == 4:
                x, y, pol, t = (a[:, i].astype(np.int64) for i in range(4))
            else:
                raise ValueError(f"array of shape {a.shape} is neither x,y,t,p events nor [n, 4] x,y,p,t")
    except (OSError, ValueError) as err:
        raise SpikehlsError(f"{p}: not a Tonic event file ({err})") from None
    out = np.zeros(len(x), dtype=[("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
    out["x"], out["y"], out["t"], out["p"] = x, y, t, np.where(pol < 0, 0, pol)
    return out


def to_frames(ev: np.ndarray, sensor_size: Sequence[int], time_steps: int) -> np.ndarray:
    """Counts ``[T, P, H, W]`` (int64) of one sample, ToFrame(n_time_bins=T)-style equal time spans."""
    w, h, npol = (int(v) for v in sensor_size)
    out = np.zeros((time_steps, npol, h, w), np.int64)
    if len(ev) == 0:
        return out
    t = ev["t"] - ev["t"].min()
    span = int(t.max()) + 1
    b = np.minimum(t * time_steps // span, time_steps - 1)
    ok = (ev["x"] >= 0) & (ev["x"] < w) & (ev["y"] >= 0) & (ev["y"] < h) & (ev["p"] < npol)
    if not ok.all():
        raise SpikehlsError(f"events outside the sensor size {tuple(sensor_size)} (x, y, p)")
    np.add.at(out, (b, ev["p"], ev["y"], ev["x"]), 1)
    return out


def _samples(folder: Path) -> list[tuple[Path, int]]:
    classes = sorted(d for d in folder.iterdir() if d.is_dir())
    if not classes:
        raise SpikehlsError(f"{folder}: no class subfolders (expected {folder}/<class>/<sample>.npy|.bin)")
    numeric = all(d.name.isdigit() for d in classes)
    items = []
    for i, d in enumerate(sorted(classes, key=lambda d: int(d.name) if numeric else d.name)):
        label = int(d.name) if numeric else i
        for f in sorted(d.iterdir()):
            if f.suffix in (".npy", ".bin"):
                items.append((f, label))
    if not items:
        raise SpikehlsError(f"{folder}: no .npy or .bin event files in its class subfolders")
    return items


def _split_dirs(src: Path) -> Optional[tuple[Path, Path]]:
    for tr, te in (("train", "test"), ("Train", "Test")):
        if (src / tr).is_dir() and (src / te).is_dir():
            return src / tr, src / te
    return None


def _stack(items, sensor, T) -> tuple[np.ndarray, np.ndarray]:
    frames = [to_frames(read_events(f), sensor, T) for f, _ in items]
    return np.stack(frames), np.array([lab for _, lab in items], np.int64)


def _infer_sensor(files: list[Path]) -> tuple[int, int, int]:
    mx = [0, 0, 0]
    for f in files:
        ev = read_events(f)
        if len(ev):
            mx = [max(mx[0], int(ev["x"].max())), max(mx[1], int(ev["y"].max())), max(mx[2], int(ev["p"].max()))]
    return mx[0] + 1, mx[1] + 1, max(mx[2] + 1, 2)


def _holdout(labels: np.ndarray, fraction: float) -> np.ndarray:
    """Deterministic stratified test mask: every k-th sample of each class."""
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n = max(1, int(round(len(idx) * fraction))) if len(idx) > 1 else 0
        test[idx[np.linspace(0, len(idx) - 1, n).round().astype(int)] if n else []] = True
    return test


def convert(src: str | Path, out: str | Path, time_steps: int = 8, sensor_size: Optional[Sequence[int]] = None,
            counts: str = "binary", test_fraction: float = 0.2) -> dict:
    """Convert Tonic data at ``src`` into the spikehls numpy dataset ``out`` (.npz); returns a report."""
    from spikehls.fileio import atomic_path

    src, out = Path(src), Path(out)
    if counts not in ("binary", "split", "error"):
        raise SpikehlsError(f"counts must be binary, split or error (got {counts!r})")
    if time_steps < 1:
        raise SpikehlsError(f"--time-steps must be >= 1 (got {time_steps})")
    if not src.exists():
        raise SpikehlsError(f"{src}: Tonic data not found (nothing is downloaded: point at local files)")
    if out.suffix != ".npz":
        raise SpikehlsError(f"{out}: the output must be an .npz file")
    if src.is_dir():
        dirs = _split_dirs(src)
        if dirs:
            tr_items, te_items = _samples(dirs[0]), _samples(dirs[1])
        else:
            items = _samples(src)
            mask = _holdout(np.array([lab for _, lab in items]), test_fraction)
            tr_items = [it for it, m in zip(items, mask) if not m]
            te_items = [it for it, m in zip(items, mask) if m]
        sensor = tuple(sensor_size) if sensor_size else _infer_sensor([f for f, _ in tr_items + te_items])
        x_tr, y_tr = _stack(tr_items, sensor, time_steps)
        x_te, y_te = _stack(te_items, sensor, time_steps)
    else:
        try:
            z = np.load(src, allow_pickle=False)
            if "frames" in z:
                fr, lab = z["frames"], z["labels"]
                if fr.ndim != 5:
                    raise ValueError(f"frames must be [N, T, P, H, W], got {fr.shape}")
                mask = _holdout(lab, test_fraction)
                x_tr, y_tr, x_te, y_te = fr[~mask], lab[~mask], fr[mask], lab[mask]
            else:
                x_tr, y_tr, x_te, y_te = z["x_train"], z["y_train"], z["x_test"], z["y_test"]
        except (OSError, ValueError, KeyError) as err:
            raise SpikehlsError(f"{src}: not a ToFrame .npz (frames + labels, or x_train/y_train/x_test/y_test): "
                                f"{err}") from None
        if np.any(np.asarray(x_tr) < 0) or np.any(np.asarray(x_te) < 0):
            raise SpikehlsError(f"{src}: frames hold negative counts")
        time_steps = int(x_tr.shape[1])
    x_tr, x_te = np.asarray(x_tr, np.int64), np.asarray(x_te, np.int64)
    active = int((x_tr > 0).sum() + (x_te > 0).sum())
    above = int((x_tr > 1).sum() + (x_te > 1).sum())
    frac = above / max(active, 1)
    factor = 1
    clipped = 0
    if counts == "error" and above:
        raise SpikehlsError(f"{src}: {above} frame entries hold counts > 1 ({frac:.2%} of active ones); use "
                            "--counts binary (one spike each) or split (more time steps)")
    if counts == "split" and above:
        factor = int(min(MAX_SPLIT, max(x_tr.max(), x_te.max())))
        clipped = int((x_tr > factor).sum() + (x_te > factor).sum())

        def split(x):
            n, T = x.shape[:2]
            j = np.arange(factor).reshape(1, 1, factor, 1, 1, 1)
            return (x[:, :, None] > j).astype(np.uint8).reshape((n, T * factor) + x.shape[2:])

        x_tr, x_te = split(x_tr), split(x_te)
    x_tr, x_te = np.minimum(x_tr, 255).astype(np.uint8), np.minimum(x_te, 255).astype(np.uint8)
    k = int(max(y_tr.max(initial=0), y_te.max(initial=0)) + 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te, num_classes=np.array(k))
    return {"train": int(len(x_tr)), "test": int(len(x_te)), "time_steps": int(x_tr.shape[1]),
            "channels": int(x_tr.shape[2]), "height": int(x_tr.shape[3]), "width": int(x_tr.shape[4]),
            "num_classes": k, "counts": counts, "counts_above_one": frac, "split_factor": factor,
            "clipped_above_split": clipped}
