"""Dataset loaders on tiny files written here in the real on-disk formats (IDX, CIFAR pickles, npz)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from spikehls.config import DatasetConfig
from spikehls.errors import SpikehlsError
from spikehls.training.datasets import ImageSet, augment, batches, load_dataset, read_idx

REAL_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"

# ---- writers for the real formats ----------------------------------------------------------------

_IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C}


def write_idx(path: Path, arr: np.ndarray, gz: bool) -> Path:
    """An IDX file exactly as LeCun's: 0,0,type,ndim, big-endian u32 dims, big-endian data."""
    arr = np.asarray(arr)
    header = bytes([0, 0, _IDX_CODES[arr.dtype], arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def make_mnist(root: Path, gz: bool, dotted: bool, rng: np.random.Generator, h: int = 5, w: int = 4):
    root.mkdir(parents=True, exist_ok=True)
    sets = {}
    for prefix, n in (("train", 7), ("t10k", 3)):
        x = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        sep = "." if dotted else "-"
        write_idx(root / f"{prefix}-images{sep}idx3-ubyte", x, gz)
        write_idx(root / f"{prefix}-labels{sep}idx1-ubyte", y, gz)
        sets[prefix] = (x, y)
    return sets


def write_cifar_pickle(path: Path, d: dict, py2_style: bool) -> None:
    """py2_style: bytes keys at protocol 2, like the files from the CIFAR site; else str keys, protocol 5."""
    if py2_style:
        d = {k.encode(): v for k, v in d.items()}
        # the real files were written by numpy 1.x, whose arrays pickle as numpy.core.multiarray
        data = pickle.dumps(d, protocol=2).replace(b"cnumpy._core.", b"cnumpy.core.")
        assert b"cnumpy.core.multiarray\n_reconstruct" in data or not any(
            isinstance(v, np.ndarray) for v in d.values()
        )
        path.write_bytes(data)
    else:
        path.write_bytes(pickle.dumps(d, protocol=5))


def make_cifar10(root: Path, rng: np.random.Generator, per_batch: int = 3, py2_style: bool = True):
    root.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for i in range(1, 6):
        x = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, per_batch)]
        write_cifar_pickle(root / f"data_batch_{i}", {"batch_label": f"batch {i}", "labels": y, "data": x, "filenames": []}, py2_style)
        xs.append(x)
        ys += y
    xt = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    yt = [int(v) for v in rng.integers(0, 10, 4)]
    write_cifar_pickle(root / "test_batch", {"labels": yt, "data": xt}, py2_style)
    write_cifar_pickle(root / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]}, py2_style)
    return np.concatenate(xs), np.array(ys), xt, np.array(yt)


def make_cifar100(root: Path, rng: np.random.Generator, py2_style: bool = False):
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for name, n in (("train", 6), ("test", 2)):
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = [int(v) for v in rng.integers(0, 100, n)]
        coarse = [v // 5 for v in fine]
        write_cifar_pickle(root / name, {"data": x, "fine_labels": fine, "coarse_labels": coarse}, py2_style)
        out += [x, np.array(fine)]
    write_cifar_pickle(root / "meta", {"fine_label_names": [str(i) for i in range(100)]}, py2_style)
    return out


def cfg(name: str, path=None, **kw) -> DatasetConfig:
    return DatasetConfig(name=name, path=None if path is None else str(path), **kw)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# ---- digits ---------------------------------------------------------------------------------------


def test_digits_shapes_labels_and_scaling():
    from sklearn.datasets import load_digits

    train, test = load_dataset(cfg("digits"))
    assert train.images.dtype == np.uint8 and test.images.dtype == np.uint8
    assert train.images.shape[1:] == (1, 8, 8) and train.frame_shape == (1, 8, 8)
    assert not train.is_sequence and train.time_steps is None
    assert train.labels.dtype == np.int64 and train.num_classes == 10
    assert len(train) + len(test) == 1797
    assert len(test) == 360  # ceil(0.2 * 1797): scikit-learn's rounding of test_size
    # 0..16 -> round(v * 255 / 16): exactly these 17 levels appear, 16 -> 255 and 8 -> 128
    levels = {0, 16, 32, 48, 64, 80, 96, 112, 128, 143, 159, 175, 191, 207, 223, 239, 255}
    assert set(np.unique(np.concatenate([train.images.ravel(), test.images.ravel()]))) <= levels
    raw = load_digits()
    # every loaded image is one of sklearn's images, scaled
    scaled = np.rint(raw.images * 255 / 16).astype(np.uint8)
    lookup = {scaled[i].tobytes(): raw.target[i] for i in range(len(raw.target))}
    for img, lab in zip(test.images[:50], test.labels[:50]):
        assert lookup[img[0].tobytes()] == lab


def test_digits_stratified_and_deterministic():
    a_tr, a_te = load_dataset(cfg("digits"), seed=3)
    b_tr, b_te = load_dataset(cfg("digits"), seed=3)
    assert np.array_equal(a_tr.images, b_tr.images) and np.array_equal(a_te.labels, b_te.labels)
    c_tr, _ = load_dataset(cfg("digits"), seed=4)
    assert not np.array_equal(a_tr.labels, c_tr.labels)
    counts = np.bincount(a_te.labels, minlength=10)
    total = np.bincount(np.concatenate([a_tr.labels, a_te.labels]), minlength=10)
    assert np.all(np.abs(counts - total * 0.2) <= 1)  # stratified: every class held out in proportion
    _, te30 = load_dataset(cfg("digits", test_fraction=0.3), seed=3)
    assert len(te30) == int(np.ceil(0.3 * 1797))


def test_limits_take_first_n_after_split():
    full_tr, full_te = load_dataset(cfg("digits"), seed=1)
    tr, te = load_dataset(cfg("digits", train_limit=10, test_limit=5), seed=1)
    assert len(tr) == 10 and len(te) == 5
    assert np.array_equal(tr.images, full_tr.images[:10]) and np.array_equal(te.labels, full_te.labels[:5])
    big_tr, _ = load_dataset(cfg("digits", train_limit=100000), seed=1)
    assert len(big_tr) == len(full_tr)


# ---- MNIST ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dotted", [True, False])
def test_mnist_idx_gzip_raw_and_both_namings(tmp_path, rng, gz, dotted):
    sets = make_mnist(tmp_path / "m", gz, dotted, rng)
    train, test = load_dataset(cfg("mnist", tmp_path / "m"))
    assert train.images.shape == (7, 1, 5, 4) and test.images.shape == (3, 1, 5, 4)
    assert np.array_equal(train.images[:, 0], sets["train"][0]) and np.array_equal(test.images[:, 0], sets["t10k"][0])
    assert np.array_equal(train.labels, sets["train"][1]) and train.labels.dtype == np.int64
    assert train.num_classes == 10 and train.name == "mnist/train"


def test_mnist_limits(tmp_path, rng):
    sets = make_mnist(tmp_path, True, False, rng)
    train, test = load_dataset(cfg("mnist", tmp_path, train_limit=2, test_limit=1))
    assert np.array_equal(train.images[:, 0], sets["train"][0][:2]) and len(test) == 1


def test_read_idx_wider_types_big_endian(tmp_path):
    arr = np.array([[1, -2, 300], [-30000, 7, 0]], dtype=np.int16)
    p = write_idx(tmp_path / "x-idx2", arr, gz=False)
    out = read_idx(p)
    assert out.dtype == np.int16 and np.array_equal(out, arr)


def test_mnist_missing_dir_and_files(tmp_path, rng):
    with pytest.raises(SpikehlsError, match=r"nope.*MNIST directory not found.*train-images-idx3-ubyte"):
        load_dataset(cfg("mnist", tmp_path / "nope"))
    make_mnist(tmp_path / "m", True, False, rng)
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(SpikehlsError, match=r"t10k-labels-idx1-ubyte\[\.gz\] or t10k-labels\.idx1-ubyte"):
        load_dataset(cfg("mnist", tmp_path / "m"))


@pytest.mark.parametrize(
    "corrupt, pattern",
    [
        (lambda p: p.write_bytes(b"\x08\x03junk"), "bad magic"),
        (lambda p: p.write_bytes(p.read_bytes()[:-5]), "declares"),
        (lambda p: p.write_bytes(b"\x1f\x8b" + b"garbage" * 5), "cannot read"),
        (lambda p: p.write_bytes(b"\x00\x00\x08\x03\x00"), "truncated IDX header"),
    ],
)
def test_mnist_malformed_file_is_named(tmp_path, rng, corrupt, pattern):
    make_mnist(tmp_path, False, False, rng)
    target = tmp_path / "train-images-idx3-ubyte"
    corrupt(target)
    with pytest.raises(SpikehlsError, match=pattern) as ei:
        load_dataset(cfg("mnist", tmp_path))
    assert "train-images-idx3-ubyte" in str(ei.value)


def test_mnist_inconsistent_contents(tmp_path, rng):
    make_mnist(tmp_path, False, False, rng)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(6, np.uint8), gz=False)
    with pytest.raises(SpikehlsError, match=r"train-labels-idx1-ubyte: 6 labels for 7 images"):
        load_dataset(cfg("mnist", tmp_path))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(7, 12, np.uint8), gz=False)
    with pytest.raises(SpikehlsError, match=r"label 12 out of range"):
        load_dataset(cfg("mnist", tmp_path))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(7, np.uint8), gz=False)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros(7, np.uint8), gz=False)
    with pytest.raises(SpikehlsError, match=r"train-images-idx3-ubyte: expected uint8 images \[N, H, W\]"):
        load_dataset(cfg("mnist", tmp_path))


# ---- CIFAR ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("py2_style", [True, False])
def test_cifar10_pickle_directory(tmp_path, rng, py2_style):
    x, y, xt, yt = make_cifar10(tmp_path, rng, py2_style=py2_style)
    train, test = load_dataset(cfg("cifar10", tmp_path))
    assert train.images.shape == (15, 3, 32, 32) and test.images.shape == (4, 3, 32, 32)
    assert train.num_classes == 10 and np.array_equal(train.labels, y) and np.array_equal(test.labels, yt)
    # row layout: 1024 red, 1024 green, 1024 blue, each row-major 32x32
    assert np.array_equal(train.images[4, 1], x[4, 1024:2048].reshape(32, 32))
    assert np.array_equal(test.images[3, 2, 5], xt[3, 2048 + 5 * 32 : 2048 + 6 * 32])


def test_cifar100_fine_labels_and_parent_folder(tmp_path, rng):
    x, fine, xt, fine_t = make_cifar100(tmp_path / "cifar-100-python", rng)
    train, test = load_dataset(cfg("cifar100", tmp_path, train_limit=4))
    assert train.num_classes == 100 and test.images.shape == (2, 3, 32, 32)
    assert np.array_equal(train.labels, fine[:4]) and np.array_equal(test.labels, fine_t)
    assert np.array_equal(train.images.reshape(4, -1), x[:4])


def test_cifar_missing_path_and_files(tmp_path, rng):
    with pytest.raises(SpikehlsError, match=r"cifar10 directory not found .*data_batch_1.*test_batch"):
        load_dataset(cfg("cifar10", tmp_path / "nope"))
    make_cifar10(tmp_path, rng)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(SpikehlsError, match=r"cifar10 files missing: data_batch_3"):
        load_dataset(cfg("cifar10", tmp_path))
    with pytest.raises(SpikehlsError, match=r"cifar100 files missing: train, test"):
        load_dataset(cfg("cifar100", tmp_path))


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_cifar_pickle_cannot_run_code(tmp_path, rng, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_cifar10(tmp_path, rng)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({"data": _Evil(), "labels": []}))
    with pytest.raises(SpikehlsError, match=r"test_batch: not a readable CIFAR pickle.*forbidden global"):
        load_dataset(cfg("cifar10", tmp_path))
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "content, pattern",
    [
        (pickle.dumps([1, 2, 3]), "top level is list"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}), "lacks 'labels'"),
        (pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}), r"uint8 \[N, 3072\]"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}), r"outside 0..9"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), r"must be 2 integers"),
        (b"not a pickle at all", "not a readable CIFAR pickle"),
    ],
)
def test_cifar_malformed_file_is_named(tmp_path, rng, content, pattern):
    make_cifar10(tmp_path, rng)
    (tmp_path / "data_batch_2").write_bytes(content)
    with pytest.raises(SpikehlsError, match=pattern) as ei:
        load_dataset(cfg("cifar10", tmp_path))
    assert "data_batch_2" in str(ei.value)


# ---- numpy .npz -----------------------------------------------------------------------------------


def test_npz_frames(tmp_path, rng):
    x = rng.integers(0, 256, (6, 2, 5, 5), dtype=np.uint8)
    xt = rng.integers(0, 256, (3, 2, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array([0, 1, 2, 0, 1, 2]), x_test=xt, y_test=np.array([2, 1, 0]))
    train, test = load_dataset(cfg("numpy", tmp_path / "d.npz", test_limit=2))
    assert np.array_equal(train.images, x) and train.num_classes == 3 and not train.is_sequence
    assert np.array_equal(test.images, xt[:2]) and test.frame_shape == (2, 5, 5)


def test_npz_sequences_counts_bool_and_floats(tmp_path, rng):
    counts = rng.integers(0, 600, (4, 3, 2, 4, 4)).astype(np.int32)  # [N, T, C, H, W] event counts
    spikes = rng.random((2, 3, 2, 4, 4)) < 0.3
    np.savez(tmp_path / "e.npz", x_train=counts, y_train=np.array([0, 1, 0, 1]), x_test=spikes,
             y_test=np.array([1, 0]), num_classes=np.int64(5))
    train, test = load_dataset(cfg("numpy", tmp_path / "e.npz"))
    assert train.is_sequence and train.time_steps == 3 and train.frame_shape == (2, 4, 4)
    assert train.images.dtype == np.uint8 and np.array_equal(train.images, np.minimum(counts, 255))
    assert np.array_equal(train.images > 0, counts > 0)  # clipping keeps every event
    assert np.array_equal(test.images, spikes.astype(np.uint8)) and train.num_classes == 5
    np.savez(tmp_path / "f.npz", x_train=spikes.astype(np.float32), y_train=np.array([0, 1]),
             x_test=spikes.astype(np.float32), y_test=np.array([1, 0]))
    tr, _ = load_dataset(cfg("numpy", tmp_path / "f.npz"))
    assert np.array_equal(tr.images, spikes.astype(np.uint8))


def _npz(tmp_path, **over):
    arrays = dict(x_train=np.zeros((2, 1, 3, 3), np.uint8), y_train=np.array([0, 1]),
                  x_test=np.zeros((1, 1, 3, 3), np.uint8), y_test=np.array([1]))
    arrays.update(over)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize(
    "over, pattern",
    [
        (dict(y_test=None), r"missing arrays y_test"),
        (dict(x_train=np.zeros((2, 9), np.uint8)), r"'x_train' must be \[N, C, H, W\] frames or \[N, T, C, H, W\]"),
        (dict(x_train=np.full((2, 1, 3, 3), 256, np.int32)), r"'x_train' frames must be 8-bit pixels 0..255"),
        (dict(x_test=np.full((1, 1, 3, 3), -1, np.int16)), r"'x_test' has negative values"),
        (dict(x_train=np.full((2, 1, 3, 3), 0.5, np.float32)), r"'x_train' must hold integer values"),
        (dict(x_train=np.zeros((2, 1, 3, 3), np.complex64)), r"dtype complex64"),
        (dict(y_train=np.array([0, 1, 1])), r"'y_train' must be 2 integer labels"),
        (dict(y_train=np.array([0.0, 1.0])), r"'y_train' must be 2 integer labels"),
        (dict(y_test=np.array([-1])), r"'y_test' has negative labels"),
        (dict(x_test=np.zeros((1, 1, 4, 4), np.uint8)), r"x_train samples \(1, 3, 3\) and x_test samples \(1, 4, 4\)"),
        (dict(num_classes=np.int64(1)), r"num_classes=1 but labels go up to 1"),
        (dict(num_classes=np.array([3, 4])), r"'num_classes' must be one integer"),
        (dict(y_train=np.array([0, 0]), y_test=np.array([0])), r"single class"),
    ],
)
def test_npz_errors_name_file_and_array(tmp_path, over, pattern):
    p = _npz(tmp_path, **over)
    with pytest.raises(SpikehlsError, match=pattern) as ei:
        load_dataset(cfg("numpy", p))
    assert str(p) in str(ei.value)


def test_npz_missing_and_unreadable(tmp_path):
    with pytest.raises(SpikehlsError, match=r"nope\.npz: \.npz file not found \(expected arrays x_train, y_train"):
        load_dataset(cfg("numpy", tmp_path / "nope.npz"))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SpikehlsError, match=r"junk\.npz: not a readable \.npz"):
        load_dataset(cfg("numpy", tmp_path / "junk.npz"))
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(SpikehlsError, match=r"single\.npy: holds a single \.npy array; expected an \.npz"):
        load_dataset(cfg("numpy", tmp_path / "single.npy"))
    obj = tmp_path / "obj.npz"
    np.savez(obj, x_train=np.array([{"a": 1}], dtype=object), y_train=np.array([0]),
             x_test=np.zeros((1, 1, 1, 1), np.uint8), y_test=np.array([0]))
    with pytest.raises(SpikehlsError, match=r"obj\.npz: not a readable \.npz"):  # object arrays need pickle: refused
        load_dataset(cfg("numpy", obj))


# ---- batches and augment --------------------------------------------------------------------------


def _toy(n: int = 10) -> ImageSet:
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 1, 2, 2)
    return ImageSet(images, np.arange(n) % 3, 3, "toy")


def test_batches_order_sizes_and_determinism():
    ds = _toy(10)
    plain = list(batches(ds, 4, shuffle=False))
    assert [len(b[1]) for b in plain] == [4, 4, 2]
    assert plain[0][0].dtype == torch.uint8 and plain[0][1].dtype == torch.int64
    assert torch.equal(torch.cat([b[0] for b in plain]), torch.from_numpy(ds.images))
    shuf1 = list(batches(ds, 3, shuffle=True, generator=torch.Generator().manual_seed(7)))
    shuf2 = list(batches(ds, 3, shuffle=True, generator=torch.Generator().manual_seed(7)))
    labels = torch.cat([b[1] for b in shuf1])
    images = torch.cat([b[0] for b in shuf1])
    # a permutation: every sample once, images and labels still paired
    first_pixel = images[:, 0, 0, 0].long() // 4
    assert sorted(first_pixel.tolist()) == list(range(10))
    assert torch.equal(labels, first_pixel % 3)
    assert not torch.equal(first_pixel, torch.arange(10))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(shuf1, shuf2))
    with pytest.raises(ValueError):
        next(batches(ds, 0, shuffle=False))


def test_imageset_checks_and_head():
    ds = _toy(5)
    assert ds.head(None) is ds and len(ds.head(2)) == 2
    with pytest.raises(ValueError, match="labels"):
        ImageSet(np.zeros((3, 1, 2, 2), np.uint8), np.zeros(2), 2, "bad")
    with pytest.raises(ValueError, match=r"\[N,C,H,W\]"):
        ImageSet(np.zeros((3, 2, 2), np.uint8), np.zeros(3), 2, "bad")


def _all_crops(img: torch.Tensor, pad: int) -> list[torch.Tensor]:
    c, h, w = img.shape[-3:]
    p = torch.nn.functional.pad(img.reshape(-1, h, w).float(), (pad, pad, pad, pad)).to(img.dtype)
    outs = []
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = p[:, dy : dy + h, dx : dx + w].reshape(img.shape)
            outs += [crop, crop.flip(-1)]
    return outs


def test_augment_is_a_random_crop_and_flip_of_each_sample():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (16, 3, 6, 5), generator=g, dtype=torch.uint8)
    out = augment(x, torch.Generator().manual_seed(1), pad=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    for i in range(len(x)):
        assert any(torch.equal(out[i], c) for c in _all_crops(x[i], 2))
    again = augment(x, torch.Generator().manual_seed(1), pad=2)
    assert torch.equal(out, again)
    assert not torch.equal(out, x)
    flips = augment(x, torch.Generator().manual_seed(2), pad=0)
    n_flipped = sum(torch.equal(flips[i], x[i].flip(-1)) for i in range(len(x)))
    assert all(torch.equal(flips[i], x[i]) or torch.equal(flips[i], x[i].flip(-1)) for i in range(len(x)))
    assert 0 < n_flipped < len(x)


def test_augment_sequences_share_one_crop_over_time():
    x = torch.randint(1, 256, (4, 3, 2, 6, 6), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    out = augment(x, torch.Generator().manual_seed(4))
    for i in range(4):
        assert any(torch.equal(out[i], c) for c in _all_crops(x[i], 4))  # one crop for the whole [T, C, H, W]


# ---- the real MNIST copy --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"{REAL_MNIST} not present")
def test_real_mnist_copy():
    train, test = load_dataset(cfg("mnist", REAL_MNIST))
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first labels
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.array_equal(np.bincount(train.labels), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert train.images.max() == 255 and train.images.min() == 0
