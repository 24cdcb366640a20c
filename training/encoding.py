"""Input encodings: 8-bit pixels (or event sequences) -> the network input over T time steps.

The meaning of the input is fixed by :mod:`spikehls.quantize.intnet`: the integer network sees
either 8-bit pixels 0..255 (direct encoding, scale ``2**-8``) or spikes 0/1 (every other
encoding, scale 1). This module computes those integers once, in one function
(:func:`_encode_ints`), and derives both views from it:

* :func:`encode`: float32 ``[T, N, C', H, W]`` for the PyTorch model, equal to ``ints * input_scale``
  (exact: every value is a multiple of 2**-8 below 1, or 0/1);
* :func:`encode_int`: int64 ``[N, T, C', H, W]`` for the NumPy reference, QONNX and HLS test vectors.

So ``encode(x) / input_scale`` transposed to ``[N, T, ...]`` equals ``encode_int(x)`` bit for bit.

Kinds:

* ``direct``: the frame repeated T times; the first layer multiplies (reported as MAC).
* ``rate``: Bernoulli spikes with p = pixel / 256. How the randomness is drawn (the contract that
  makes :func:`encode` and :func:`encode_int` agree): one call
  ``torch.randint(0, 256, (T, N, C, H, W), generator=g, dtype=torch.int16)`` on the generator's
  device (or the images' device when ``g`` is None), and ``spike = r < pixel``. It is an integer
  comparison, so p is exactly pixel/256 and nothing depends on float rounding. ``encode_int(...,
  seed)`` uses ``torch.Generator().manual_seed(seed)`` (CPU), so it equals ``encode`` called with a
  fresh CPU generator seeded the same way on the same batch. The draw covers the whole batch in
  that order, so a different batch composition gives different spikes.
* ``bitplane``: 8 binary planes per channel, MSB first: output channel ``c * 8 + b`` holds bit
  ``7 - b`` of input channel ``c``; repeated T times. ``sum_b plane_b * 2**(7-b)`` is the pixel.
* ``events``: the data already is ``[N, T, C, H, W]`` (event frames or counts); every value > 0
  is a spike. Its T must equal the configured time steps.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from spikehls.errors import SpikehlsError

KINDS = ("direct", "rate", "bitplane", "events")
_BIT_SHIFTS = (7, 6, 5, 4, 3, 2, 1, 0)  # MSB first


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise SpikehlsError(f"encoding.kind: unknown encoding '{kind}' (allowed: {', '.join(KINDS)})")


def input_scale(kind: str) -> float:
    """Float value of one integer input unit: 2**-8 for direct pixels, 1 for spikes."""
    _check_kind(kind)
    return 2.0**-8 if kind == "direct" else 1.0


def input_bits(kind: str) -> int:
    """Width of one integer input value: 8 for direct pixels, 1 for spikes."""
    _check_kind(kind)
    return 8 if kind == "direct" else 1


def encoded_channels(kind: str, channels: int) -> int:
    """Channels the first layer sees: bitplane turns each channel into 8."""
    _check_kind(kind)
    return 8 * channels if kind == "bitplane" else channels


def encoded_shape(kind: str, frame_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """(C', H, W) of one encoded time step, i.e. ``IntNet.input_shape``."""
    c, h, w = frame_shape
    return (encoded_channels(kind, c), h, w)


def check_encoding(is_sequence: bool, sequence_steps: Optional[int], kind: str, time_steps: int) -> None:
    """Fail early (before any training) when the data and the encoding do not fit together.

    ``is_sequence``/``sequence_steps`` describe the dataset (``ImageSet.is_sequence`` and
    ``ImageSet.time_steps``); ``time_steps`` is ``train.time_steps``.
    """
    _check_kind(kind)
    if time_steps < 1:
        raise SpikehlsError(f"train.time_steps must be >= 1 (got {time_steps})")
    if is_sequence:
        if kind != "events":
            raise SpikehlsError(
                f"encoding.kind: the dataset holds [N, T, C, H, W] sequences, which need 'events' (got '{kind}')"
            )
        if sequence_steps != time_steps:
            raise SpikehlsError(
                f"train.time_steps: the dataset sequences have T={sequence_steps} but train.time_steps is {time_steps}; "
                f"they must be equal"
            )
    elif kind == "events":
        raise SpikehlsError(
            "encoding.kind: 'events' needs [N, T, C, H, W] sequence data; this dataset holds single frames "
            "(use direct, rate or bitplane)"
        )


def _encode_ints(images: torch.Tensor, kind: str, T: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """The single definition of every encoding: uint8 ``[T, N, C', H, W]`` integer input."""
    if images.dtype != torch.uint8:
        raise TypeError(f"encode expects uint8 images, got {images.dtype}")
    if images.ndim not in (4, 5):
        raise ValueError(f"encode expects [N,C,H,W] or [N,T,C,H,W], got {tuple(images.shape)}")
    is_seq = images.ndim == 5
    check_encoding(is_seq, int(images.shape[1]) if is_seq else None, kind, T)
    if kind == "events":
        return (images > 0).to(torch.uint8).transpose(0, 1).contiguous()
    n, c, h, w = images.shape
    if kind == "direct":
        frame = images
    elif kind == "bitplane":
        shifts = torch.tensor(_BIT_SHIFTS, dtype=torch.uint8, device=images.device).view(1, 1, 8, 1, 1)
        frame = ((images[:, :, None] >> shifts) & 1).reshape(n, 8 * c, h, w)
    else:  # rate: see the module docstring for the exact draw
        dev = generator.device if generator is not None else images.device
        r = torch.randint(0, 256, (T, n, c, h, w), generator=generator, device=dev, dtype=torch.int16)
        return (r.to(images.device) < images.to(torch.int16)).to(torch.uint8)
    return frame.unsqueeze(0).expand(T, *frame.shape).contiguous()


def encode(
    images: torch.Tensor, kind: str, T: int, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Float32 network input ``[T, N, C', H, W]`` (on the images' device) for uint8 ``images``.

    ``images`` is ``[N, C, H, W]`` frames or ``[N, T, C, H, W]`` sequences (kind "events").
    Only "rate" uses ``generator``.
    """
    ints = _encode_ints(images, kind, T, generator)
    out = ints.to(torch.float32)
    if kind == "direct":
        out.mul_(input_scale(kind))  # pixel * 2**-8: exact in float32
    return out


def encode_int(images: np.ndarray, kind: str, T: int, seed: int = 0) -> np.ndarray:
    """Int64 input ``[N, T, C', H, W]`` as the integer reference and the HLS design consume it.

    Pixels 0..255 for direct, 0/1 otherwise. For "rate" the randomness is that of
    ``encode(torch.from_numpy(images), "rate", T, torch.Generator().manual_seed(seed))``.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"encode_int expects uint8 images, got {images.dtype}")
    gen = torch.Generator().manual_seed(int(seed)) if kind == "rate" else None
    arr = np.ascontiguousarray(images)
    if not arr.flags.writeable:  # torch.from_numpy warns on read-only memory
        arr = arr.copy()
    ints = _encode_ints(torch.from_numpy(arr), kind, T, gen)
    return ints.transpose(0, 1).to(torch.int64).numpy()
