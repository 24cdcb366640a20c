"""Datasets as uint8 arrays in memory, loaded from local files only (DESIGN.md section 9).

Every loader returns the same thing, an :class:`ImageSet` pair (train, test) of raw 8-bit data:
frames ``[N, C, H, W]`` or event/frame sequences ``[N, T, C, H, W]``. Keeping the pixels as
integers (not normalized floats) is deliberate: the encodings in :mod:`spikehls.training.encoding`
turn them into exactly the integers the reference and the HLS design consume, so the float model,
the NumPy reference and the C-simulation all start from the same bits.

Nothing is ever downloaded. A missing directory or file is a :class:`SpikehlsError` naming the
path and the files that were expected there; a malformed file names the file.

Formats:

* ``digits``: scikit-learn's bundled ``load_digits`` (values 0..16 scaled to 0..255), split
  stratified and deterministic in ``seed`` with ``test_fraction`` held out.
* ``mnist``: a directory of IDX files, gzip or raw, named ``train-images-idx3-ubyte`` or
  ``train-images.idx3-ubyte`` (optionally ``.gz``), likewise labels and ``t10k``. The IDX header
  (magic, element type, dims, big-endian) is parsed here with NumPy.
* ``cifar10`` / ``cifar100``: the python-pickle directories (``data_batch_1..5`` + ``test_batch``;
  ``train`` + ``test`` with fine labels). A parent folder holding ``cifar-10-batches-py`` or
  ``cifar-100-python`` is accepted too. Pickles are read with an unpickler that only admits NumPy
  arrays, so a dataset path cannot run code.
* ``numpy``: an ``.npz`` with ``x_train, y_train, x_test, y_test``; x is ``[N, C, H, W]`` frames
  (integers 0..255) or ``[N, T, C, H, W]`` sequences (non-negative integer counts, clipped to 255;
  only "> 0" matters to the events encoding). An optional ``num_classes`` entry overrides
  ``max(label) + 1``.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from spikehls.config import DatasetConfig
from spikehls.errors import SpikehlsError


@dataclass
class ImageSet:
    """One split of a dataset: raw uint8 images (or sequences) and int64 labels."""

    images: np.ndarray  # uint8 [N, C, H, W] or [N, T, C, H, W]
    labels: np.ndarray  # int64 [N]
    num_classes: int
    name: str

    def __post_init__(self) -> None:
        # own, contiguous, writable arrays: torch.from_numpy shares them without warnings or copies
        self.images = np.ascontiguousarray(self.images, dtype=np.uint8)
        self.labels = np.ascontiguousarray(self.labels, dtype=np.int64)
        if not self.images.flags.writeable:
            self.images = self.images.copy()
        if not self.labels.flags.writeable:
            self.labels = self.labels.copy()
        if self.images.ndim not in (4, 5):
            raise ValueError(f"{self.name}: images must be [N,C,H,W] or [N,T,C,H,W], got {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"{self.name}: {self.labels.shape[0]} labels for {self.images.shape[0]} images")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def is_sequence(self) -> bool:
        """True for ``[N, T, C, H, W]`` data (needs the "events" encoding)."""
        return self.images.ndim == 5

    @property
    def time_steps(self) -> Optional[int]:
        """T of sequence data, None for frames."""
        return int(self.images.shape[1]) if self.is_sequence else None

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one frame, before encoding."""
        c, h, w = self.images.shape[-3:]
        return (int(c), int(h), int(w))

    def head(self, n: Optional[int]) -> "ImageSet":
        """The first ``n`` samples (all of them when ``n`` is None or larger than the set)."""
        if n is None or n >= len(self):
            return self
        return ImageSet(self.images[:n].copy(), self.labels[:n].copy(), self.num_classes, self.name)


# ---- entry point ---------------------------------------------------------------------------------


def load_dataset(cfg: DatasetConfig, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Load (train, test) as described by ``cfg``; limits take the first N after any split."""
    if cfg.name == "digits":
        train, test = _load_digits(cfg.test_fraction, seed)
    else:
        path = Path(cfg.path).expanduser()  # config validation guarantees a path
        if cfg.name == "mnist":
            train, test = _load_mnist(path)
        elif cfg.name in ("cifar10", "cifar100"):
            train, test = _load_cifar(path, cfg.name)
        elif cfg.name == "numpy":
            train, test = _load_npz(path)
        else:  # the config schema makes this unreachable; keep the error honest anyway
            raise SpikehlsError(f"dataset.name: unknown dataset '{cfg.name}' (allowed: digits, mnist, cifar10, cifar100, numpy)")
    train, test = train.head(cfg.train_limit), test.head(cfg.test_limit)
    where = "dataset (digits)" if cfg.name == "digits" else f"dataset.path {cfg.path}"
    for split, ds in (("training", train), ("test", test)):
        if len(ds) == 0:
            raise SpikehlsError(f"{where}: the {split} split is empty (training and evaluation need samples in both)")
    return train, test


# ---- digits --------------------------------------------------------------------------------------


def _load_digits(test_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    # 0..16 -> 0..255 so all datasets share the 8-bit pixel contract; rint is exact here
    # (the one tie, 8 -> 127.5, rounds to 128)
    images = np.rint(d.images.astype(np.float64) * 255.0 / 16.0).astype(np.uint8)[:, None, :, :]
    labels = d.target.astype(np.int64)
    idx_tr, idx_te = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=labels
    )
    return (
        ImageSet(images[idx_tr], labels[idx_tr], 10, "digits/train"),
        ImageSet(images[idx_te], labels[idx_te], 10, "digits/test"),
    )


# ---- MNIST (IDX) ---------------------------------------------------------------------------------

# IDX element-type codes (third byte of the magic number) -> big-endian NumPy dtypes
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the file is gzip (by its magic bytes, not its name)."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise SpikehlsError(f"{path}: cannot read ({err})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Parse one IDX file (gzip or raw) into an array with the dims its header declares."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise SpikehlsError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise SpikehlsError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(dims))
    if len(data) - header != count * dtype.itemsize:
        raise SpikehlsError(
            f"{path}: IDX header declares {dims} ({count * dtype.itemsize} bytes) "
            f"but the file holds {len(data) - header} bytes of data"
        )
    return np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _mnist_file(root: Path, prefix: str, kind: str, idx: str) -> Path:
    names = [f"{prefix}-{kind}-{idx}-ubyte", f"{prefix}-{kind}.{idx}-ubyte"]
    for name in names:
        for cand in (root / name, root / f"{name}.gz"):
            if cand.is_file():
                return cand
    raise SpikehlsError(
        f"dataset.path {root}: no MNIST file {names[0]}[.gz] or {names[1]}[.gz] "
        f"(expected train-images, train-labels, t10k-images, t10k-labels IDX files)"
    )


def _load_mnist(root: Path) -> tuple[ImageSet, ImageSet]:
    if not root.is_dir():
        raise SpikehlsError(
            f"dataset.path {root}: MNIST directory not found (expected a folder with "
            f"train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
            f"t10k-labels-idx1-ubyte[.gz])"
        )
    out = []
    for prefix, split in (("train", "train"), ("t10k", "test")):
        ipath = _mnist_file(root, prefix, "images", "idx3")
        lpath = _mnist_file(root, prefix, "labels", "idx1")
        images, labels = read_idx(ipath), read_idx(lpath)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise SpikehlsError(f"{ipath}: expected uint8 images [N, H, W], got {images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise SpikehlsError(f"{lpath}: expected uint8 labels [N], got {labels.dtype} {labels.shape}")
        if labels.shape[0] != images.shape[0]:
            raise SpikehlsError(f"{lpath}: {labels.shape[0]} labels for {images.shape[0]} images in {ipath.name}")
        if labels.size and labels.max() > 9:
            raise SpikehlsError(f"{lpath}: label {int(labels.max())} out of range 0..9")
        out.append(ImageSet(images[:, None, :, :], labels, 10, f"mnist/{split}"))
    return out[0], out[1]


# ---- CIFAR (python pickles) ----------------------------------------------------------------------


class _ArrayUnpickler(pickle.Unpickler):
    """Admits only what CIFAR pickles contain (dicts, lists, bytes, NumPy arrays): no code runs."""

    _NUMPY = {"_reconstruct", "ndarray", "dtype", "_frombuffer", "scalar"}
    # python-3 pickles at protocol <= 2 spell bytes as _codecs.encode(str, "latin1")
    _OTHER = {("_codecs", "encode"), ("builtins", "bytearray")}

    def find_class(self, module: str, name: str):
        if (module, name) in self._OTHER:
            return super().find_class(module, name)
        if module.split(".")[0] == "numpy" and name in self._NUMPY:
            if module.startswith("numpy.core") and np.lib.NumpyVersion(np.__version__) >= "2.0.0":
                module = "numpy._core" + module[len("numpy.core"):]  # avoid the deprecated alias
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def _read_pickle(path: Path) -> dict[str, object]:
    try:
        with open(path, "rb") as fh:
            obj = _ArrayUnpickler(fh, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise SpikehlsError(f"{path}: not a readable CIFAR pickle ({err})") from None
    if not isinstance(obj, dict):
        raise SpikehlsError(f"{path}: not a CIFAR pickle (top level is {type(obj).__name__}, expected a dict)")
    # python-2 pickles have bytes keys, python-3 ones str keys
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _cifar_batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    d = _read_pickle(path)
    if "data" not in d or label_key not in d:
        raise SpikehlsError(f"{path}: CIFAR pickle lacks '{'data' if 'data' not in d else label_key}'")
    data = np.asarray(d["data"])
    labels = np.asarray(d[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise SpikehlsError(f"{path}: 'data' must be uint8 [N, 3072], got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise SpikehlsError(f"{path}: '{label_key}' must be {data.shape[0]} integers, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise SpikehlsError(f"{path}: '{label_key}' outside 0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _load_cifar(root: Path, name: str) -> tuple[ImageSet, ImageSet]:
    if name == "cifar10":
        train_files, test_file, sub = [f"data_batch_{i}" for i in range(1, 6)], "test_batch", "cifar-10-batches-py"
        label_key, num_classes = "labels", 10
    else:
        train_files, test_file, sub = ["train"], "test", "cifar-100-python"
        label_key, num_classes = "fine_labels", 100
    expected = ", ".join(train_files + [test_file])
    if not root.is_dir():
        raise SpikehlsError(f"dataset.path {root}: {name} directory not found (expected a folder with {expected})")
    if not (root / test_file).is_file() and (root / sub).is_dir():
        root = root / sub
    missing = [f for f in train_files + [test_file] if not (root / f).is_file()]
    if missing:
        raise SpikehlsError(f"dataset.path {root}: {name} files missing: {', '.join(missing)} (expected {expected})")
    parts = [_cifar_batch(root / f, label_key, num_classes) for f in train_files]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = _cifar_batch(root / test_file, label_key, num_classes)
    return ImageSet(x_tr, y_tr, num_classes, f"{name}/train"), ImageSet(x_te, y_te, num_classes, f"{name}/test")


# ---- NumPy .npz ----------------------------------------------------------------------------------


def _npz_images(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """Validate and convert x to uint8; frames must be 0..255, sequence counts are clipped at 255."""
    if x.ndim not in (4, 5):
        raise SpikehlsError(f"{path}: '{key}' must be [N, C, H, W] frames or [N, T, C, H, W] sequences, got shape {x.shape}")
    if x.dtype == np.bool_:
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all() or (x != np.floor(x)).any():
            raise SpikehlsError(f"{path}: '{key}' must hold integer values (8-bit pixels or event counts), got fractions")
    elif not np.issubdtype(x.dtype, np.integer):
        raise SpikehlsError(f"{path}: '{key}' has dtype {x.dtype}; expected integers")
    if x.size and x.min() < 0:
        raise SpikehlsError(f"{path}: '{key}' has negative values")
    if x.ndim == 4:
        if x.size and x.max() > 255:
            raise SpikehlsError(f"{path}: '{key}' frames must be 8-bit pixels 0..255 (max is {x.max()})")
        return x.astype(np.uint8)
    # sequences: only "value > 0" is used by the events encoding, so clipping keeps the meaning
    return np.minimum(x, 255).astype(np.uint8)


def _npz_labels(path: Path, key: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise SpikehlsError(f"{path}: '{key}' must be {n} integer labels, got {y.dtype} {y.shape}")
    if y.size and y.min() < 0:
        raise SpikehlsError(f"{path}: '{key}' has negative labels")
    return y.astype(np.int64)


def _load_npz(path: Path) -> tuple[ImageSet, ImageSet]:
    keys = ("x_train", "y_train", "x_test", "y_test")
    if not path.is_file():
        raise SpikehlsError(f"dataset.path {path}: .npz file not found (expected arrays {', '.join(keys)})")
    try:
        # our own handle: np.load leaks its file when the zip directory is corrupt
        with open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise SpikehlsError(f"{path}: holds a single .npy array; expected an .npz archive of {', '.join(keys)}")
            with z:
                missing = [k for k in keys if k not in z.files]
                if missing:
                    raise SpikehlsError(f"{path}: missing arrays {', '.join(missing)} (expected {', '.join(keys)})")
                arrays = {k: z[k] for k in keys}
                n_cls_given = z["num_classes"] if "num_classes" in z.files else None
    except SpikehlsError:
        raise
    except Exception as err:  # zipfile/pickle/format errors all mean "not a usable .npz"
        raise SpikehlsError(f"{path}: not a readable .npz file ({type(err).__name__}: {err})") from None
    x_tr = _npz_images(path, "x_train", arrays["x_train"])
    x_te = _npz_images(path, "x_test", arrays["x_test"])
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise SpikehlsError(f"{path}: x_train samples {x_tr.shape[1:]} and x_test samples {x_te.shape[1:]} differ in shape")
    y_tr = _npz_labels(path, "y_train", arrays["y_train"], x_tr.shape[0])
    y_te = _npz_labels(path, "y_test", arrays["y_test"], x_te.shape[0])
    n_seen = int(max(y_tr.max(initial=0), y_te.max(initial=0))) + 1
    if n_cls_given is not None:
        if n_cls_given.shape != () or not np.issubdtype(n_cls_given.dtype, np.integer):
            raise SpikehlsError(f"{path}: 'num_classes' must be one integer")
        num_classes = int(n_cls_given)
        if num_classes < n_seen:
            raise SpikehlsError(f"{path}: num_classes={num_classes} but labels go up to {n_seen - 1}")
    else:
        num_classes = n_seen
    if num_classes < 2:
        raise SpikehlsError(f"{path}: labels hold a single class; need at least 2")
    return ImageSet(x_tr, y_tr, num_classes, "numpy/train"), ImageSet(x_te, y_te, num_classes, "numpy/test")


# ---- iteration and augmentation ------------------------------------------------------------------


def batches(
    ds: ImageSet, batch_size: int, shuffle: bool, generator: Optional[torch.Generator] = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (uint8 images, int64 labels) minibatches; the last one may be smaller.

    The whole set is one tensor (shared with the NumPy arrays, no copy) and each batch is a single
    index operation, so an epoch costs no per-sample Python work. With ``shuffle`` the order is one
    ``torch.randperm`` drawn from ``generator``: the same generator state gives the same epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x = torch.from_numpy(ds.images)
    y = torch.from_numpy(ds.labels)
    n = x.shape[0]
    if shuffle:
        order = torch.randperm(n, generator=generator, device=_gen_device(generator))
        order = order.cpu()
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], y[idx]
    else:
        for i in range(0, n, batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]


def _gen_device(generator: Optional[torch.Generator]) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def augment(images: torch.Tensor, generator: Optional[torch.Generator] = None, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``) and horizontal flip, per sample, as one gather on the batch.

    Works on ``[N, C, H, W]`` and on sequences ``[N, T, C, H, W]`` (one crop/flip per sample,
    shared by all its time steps, so an event stream stays consistent). Integer dtypes survive
    unchanged, so the encodings still see 8-bit pixels. Randomness comes from ``generator``
    (drawn on its device, moved to the images' device).
    """
    if images.ndim not in (4, 5):
        raise ValueError(f"augment expects [N,C,H,W] or [N,T,C,H,W], got {tuple(images.shape)}")
    shape = images.shape
    x = images.reshape(shape[0], -1, shape[-2], shape[-1])  # [N, C*, H, W]
    n, c, h, w = x.shape
    dev = _gen_device(generator)
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator, device=dev).to(images.device)
    flip = torch.randint(0, 2, (n,), generator=generator, device=dev).to(images.device).bool()
    padded = torch.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype, device=x.device)
    padded[:, :, pad : pad + h, pad : pad + w] = x
    ar_h = torch.arange(h, device=x.device)
    ar_w = torch.arange(w, device=x.device)
    rows = offs[:, :1] + ar_h  # [N, H]
    cols = offs[:, 1:] + torch.where(flip[:, None], (w - 1) - ar_w, ar_w)  # [N, W], flipped per sample
    out = padded[
        torch.arange(n, device=x.device)[:, None, None, None],
        torch.arange(c, device=x.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    return out.reshape(shape)
