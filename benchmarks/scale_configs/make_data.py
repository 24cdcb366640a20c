"""The generated CIFAR-shaped data set of the scale benchmark (benchmarks/scale.py, README "Scaling to VGG-16").

    python benchmarks/scale_configs/make_data.py [OUT.npz]   # default /tmp/scale/cifar_gen.npz

64 training and 32 test images, 3x32x32 uint8, 10 classes: random 8x8 blocks upsampled to 32x32,
a class-dependent offset and noise (seed 0). Untrained nets on it: exactness and speed, not accuracy.
The format is ``dataset.name: numpy`` (training/datasets.py).
"""

import sys
from pathlib import Path

import numpy as np


def make(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 10, n)
    base = rng.integers(0, 256, (n, 3, 8, 8)).astype(np.float32)
    x = np.repeat(np.repeat(base, 4, axis=2), 4, axis=3)
    x = np.clip(x * 0.7 + y[:, None, None, None] * 8 + rng.normal(0, 20, x.shape), 0, 255).astype(np.uint8)
    return x, y


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/scale/cifar_gen.npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x_tr, y_tr = make(64, rng)
    x_te, y_te = make(32, rng)
    np.savez(out, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te, num_classes=10)
    print(f"wrote {out}")
