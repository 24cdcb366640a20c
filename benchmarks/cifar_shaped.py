"""CIFAR-shaped data from MNIST, for the VGG-16 / ResNet-19 presets without CIFAR-10 on the machine.

The SCA paper's networks take 3x32x32 frames; no CIFAR-10 is shipped here and nothing downloads.
This writes a ``dataset.name: numpy`` file (see training/datasets.py) of real MNIST digits, padded
from 28x28 to 32x32 and tinted into three channels by a random factor per image and channel, so the
networks learn something and their channels fire as a trained net's do. Accuracy on it says nothing
about CIFAR-10; the shapes, the event counts and the hardware are the paper networks'.

    python benchmarks/cifar_shaped.py [--mnist ../shared/data/mnist] [--train 2000] [--test 500] [--out runs/cifarshape_mnist.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def cifar_shaped(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[N, 1, 28, 28] uint8 -> [N, 3, 32, 32] uint8: padded by 2, each channel scaled by U(0.5, 1)."""
    x = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    tint = rng.uniform(0.5, 1.0, size=(len(x), 3, 1, 1))
    return (x.astype(np.float32) * tint).round().astype(np.uint8)


def main(argv=None) -> int:
    from spikehls.config import DatasetConfig
    from spikehls.fileio import atomic_path
    from spikehls.training.datasets import load_dataset

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist", default="../shared/data/mnist", help="MNIST IDX folder")
    ap.add_argument("--train", type=int, default=2000, help="training images (a random subset)")
    ap.add_argument("--test", type=int, default=500, help="test images (a random subset)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/cifarshape_mnist.npz"))
    args = ap.parse_args(argv)
    tr, te = load_dataset(DatasetConfig(name="mnist", path=args.mnist))
    rng = np.random.default_rng(args.seed)
    parts = {}
    for split, ims, n in (("train", tr, args.train), ("test", te, args.test)):
        idx = rng.permutation(len(ims.images))[:n]
        parts[f"x_{split}"] = cifar_shaped(ims.images[idx], rng)
        parts[f"y_{split}"] = ims.labels[idx]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **parts)
    print(f"wrote {args.out}: train {parts['x_train'].shape}, test {parts['x_test'].shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
