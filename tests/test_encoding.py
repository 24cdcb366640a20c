"""Input encodings: exact values, rate statistics, and encode == encode_int * input_scale bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikehls.config import EncodingConfig
from spikehls.errors import SpikehlsError
from spikehls.quantize.intnet import IntNet, Readout
from spikehls.training.datasets import ImageSet
from spikehls.training.encoding import (
    KINDS,
    check_encoding,
    encode,
    encode_int,
    encoded_channels,
    encoded_shape,
    input_bits,
    input_scale,
)


def _frames(n: int = 5, c: int = 2, h: int = 3, w: int = 4, seed: int = 0) -> torch.Tensor:
    x = torch.randint(0, 256, (n, c, h, w), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    x[0, 0, 0, :2] = torch.tensor([0, 255], dtype=torch.uint8)  # both extremes always present
    return x


def test_kinds_match_config_and_intnet():
    assert set(KINDS) == set(EncodingConfig.model_fields["kind"].annotation.__args__)
    for kind in KINDS:
        net = IntNet((1, 1, 1), 1, kind, [Readout("out", np.zeros((2, 1)), np.zeros(2))])
        assert input_scale(kind) == net.input_scale and input_bits(kind) == net.input_bits


def test_channels_and_scales():
    assert encoded_channels("bitplane", 3) == 24
    assert [encoded_channels(k, 3) for k in ("direct", "rate", "events")] == [3, 3, 3]
    assert encoded_shape("bitplane", (1, 28, 28)) == (8, 28, 28)
    assert input_scale("direct") == 2.0**-8 and input_scale("rate") == 1.0 and input_scale("bitplane") == 1.0
    with pytest.raises(SpikehlsError, match=r"unknown encoding 'poisson' \(allowed: direct, rate, bitplane, events\)"):
        input_scale("poisson")
    with pytest.raises(SpikehlsError, match="unknown encoding"):
        encode(_frames(), "poisson", 2)


def test_direct_is_exact_and_repeated():
    x = _frames()
    out = encode(x, "direct", 3)
    assert out.shape == (3, 5, 2, 3, 4) and out.dtype == torch.float32
    for t in range(3):
        assert torch.equal(out[t], x.double().div(256).float())  # pixel * 2**-8, no rounding
    assert torch.equal((out * 256).to(torch.uint8)[1], x)
    ints = encode_int(x.numpy(), "direct", 3)
    assert ints.dtype == np.int64 and ints.shape == (5, 3, 2, 3, 4)
    assert np.array_equal(ints[:, 2], x.numpy().astype(np.int64))


def test_bitplane_reconstructs_pixels_msb_first():
    x = _frames(c=3)
    out = encode(x, "bitplane", 2)
    assert out.shape == (2, 5, 24, 3, 4)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    planes = out[0].reshape(5, 3, 8, 3, 4).to(torch.int64)  # channel c*8+b
    weights = torch.tensor([2 ** (7 - b) for b in range(8)]).view(1, 1, 8, 1, 1)
    assert torch.equal((planes * weights).sum(2), x.to(torch.int64))
    # b = 0 is the most significant bit: it is set exactly for pixels >= 128
    assert torch.equal(out[1, :, 0::8].bool(), x >= 128)
    assert torch.equal(out[0], out[1])


def test_rate_mean_matches_probability():
    levels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    T = 4000
    out = encode(levels, "rate", T, torch.Generator().manual_seed(0))
    assert out.shape == (T, 1, 1, 16, 16) and set(out.unique().tolist()) <= {0.0, 1.0}
    p = levels.double() / 256
    mean = out.double().mean(0)
    sigma = (p * (1 - p) / T).sqrt()
    assert ((mean - p).abs() <= 5 * sigma + 1e-12).all()  # 5 sigma over 256 pixels: a real bug fails this
    assert out[:, 0, 0, 0, 0].sum() == 0  # pixel 0 never spikes
    assert abs(out.double().mean().item() - p.mean().item()) < 0.002  # overall rate 127.5/256


def test_rate_deterministic_in_generator_and_seed():
    x = _frames(n=8)
    a = encode(x, "rate", 4, torch.Generator().manual_seed(11))
    b = encode(x, "rate", 4, torch.Generator().manual_seed(11))
    c = encode(x, "rate", 4, torch.Generator().manual_seed(12))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # fresh spikes every time step
    ints = encode_int(x.numpy(), "rate", 4, seed=11)
    assert np.array_equal(ints, a.transpose(0, 1).numpy().astype(np.int64))
    assert np.array_equal(ints, encode_int(x.numpy(), "rate", 4, seed=11))
    assert not np.array_equal(ints, encode_int(x.numpy(), "rate", 4, seed=12))


@pytest.mark.parametrize("kind", ["direct", "rate", "bitplane"])
def test_encode_equals_encode_int_times_scale(kind):
    x = _frames(n=6, c=3, h=5, w=5, seed=3)
    seed = 5
    gen = torch.Generator().manual_seed(seed)
    fl = encode(x, kind, 4, gen).numpy()
    ints = encode_int(x.numpy(), kind, 4, seed=seed)
    assert ints.dtype == np.int64 and ints.shape == (6, 4, encoded_channels(kind, 3), 5, 5)
    assert np.array_equal(fl.transpose(1, 0, 2, 3, 4) / np.float32(input_scale(kind)), ints)
    assert np.array_equal(ints * input_scale(kind), fl.transpose(1, 0, 2, 3, 4).astype(np.float64))
    hi = 255 if kind == "direct" else 1
    assert ints.min() >= 0 and ints.max() <= hi


def test_events_sequences():
    g = torch.Generator().manual_seed(9)
    counts = torch.randint(0, 4, (3, 5, 2, 4, 4), generator=g, dtype=torch.uint8)  # [N, T, C, H, W]
    out = encode(counts, "events", 5)
    assert out.shape == (5, 3, 2, 4, 4) and out.dtype == torch.float32
    assert torch.equal(out, (counts > 0).float().transpose(0, 1))
    ints = encode_int(counts.numpy(), "events", 5)
    assert np.array_equal(ints, (counts.numpy() > 0).astype(np.int64))
    assert np.array_equal(ints, out.transpose(0, 1).numpy())


def test_encoding_and_data_must_fit():
    seq = torch.zeros((2, 3, 1, 4, 4), dtype=torch.uint8)
    with pytest.raises(SpikehlsError, match=r"sequences have T=3 but train.time_steps is 4"):
        encode(seq, "events", 4)
    with pytest.raises(SpikehlsError, match=r"need 'events' \(got 'direct'\)"):
        encode(seq, "direct", 3)
    with pytest.raises(SpikehlsError, match=r"'events' needs \[N, T, C, H, W\] sequence data"):
        encode(_frames(), "events", 3)
    with pytest.raises(SpikehlsError, match=r"'events' needs"):
        encode_int(_frames().numpy(), "events", 3)
    with pytest.raises(SpikehlsError, match=r"time_steps must be >= 1"):
        encode(_frames(), "direct", 0)
    with pytest.raises(TypeError, match="uint8"):
        encode(_frames().float(), "direct", 2)
    with pytest.raises(TypeError, match="uint8"):
        encode_int(np.zeros((1, 1, 2, 2), np.int64), "direct", 2)
    # the early check the trainer runs, from an ImageSet
    ds = ImageSet(seq.numpy(), np.zeros(2), 2, "seq")
    check_encoding(ds.is_sequence, ds.time_steps, "events", 3)
    with pytest.raises(SpikehlsError, match="T=3"):
        check_encoding(ds.is_sequence, ds.time_steps, "events", 2)


def test_rate_follows_the_documented_draw():
    """The module docstring's contract, so anyone can regenerate the spikes: r < pixel, r ~ U{0..255}."""
    x = _frames(n=4, c=2, seed=8)
    r = torch.randint(0, 256, (3, 4, 2, 3, 4), generator=torch.Generator().manual_seed(21), dtype=torch.int16)
    expected = (r < x.to(torch.int16)).float()
    assert torch.equal(encode(x, "rate", 3, torch.Generator().manual_seed(21)), expected)
    # pixel 255 spikes unless r == 255: p = 255/256 exactly, never certain
    full = torch.full((1, 1, 64, 64), 255, dtype=torch.uint8)
    assert 0 < (encode(full, "rate", 8, torch.Generator().manual_seed(0)) == 0).sum() < 8 * 64 * 64 * 0.02


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_images_with_cpu_generator_match_cpu():
    """Training on a GPU with a CPU generator gives the very spikes encode_int (CPU) gives."""
    from spikehls.training.datasets import augment

    x = _frames(n=4, seed=2)
    for kind in ("direct", "rate", "bitplane"):
        gpu = encode(x.cuda(), kind, 3, torch.Generator().manual_seed(1))
        assert gpu.is_cuda and torch.equal(gpu.cpu(), encode(x, kind, 3, torch.Generator().manual_seed(1)))
    aug = augment(x.cuda(), torch.Generator().manual_seed(3))
    assert torch.equal(aug.cpu(), augment(x, torch.Generator().manual_seed(3)))
