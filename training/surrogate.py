"""Surrogate spike functions: Heaviside forward, smooth derivative backward.

The forward pass is ``S = (x >= 0)`` with ``x = V - threshold``. It is ``>=`` (not ``>``) because
the integer contract (``spikehls.quantize.intnet``) spikes at ``V >= threshold``; the float model
must agree with it at the boundary or quantized export would flip spikes.

The backward pass replaces the Dirac delta by the derivative of a smooth step with sharpness
``alpha`` (all shapes are centred on the threshold):

* ``sigmoid``      ``alpha * sig(alpha x) * (1 - sig(alpha x))``   (SCA paper's code: alpha = 4)
* ``atan``         ``alpha / 2 / (1 + (pi/2 * alpha * x)^2)``       (SpikingJelly convention)
* ``fast_sigmoid`` ``1 / (1 + alpha |x|)^2``                        (snnTorch convention, slope = alpha)
* ``triangle``     ``alpha * max(0, 1 - alpha |x|)``                 (area 1, support |x| < 1/alpha)
"""

from __future__ import annotations

import math

import torch

SURROGATES = ("sigmoid", "atan", "fast_sigmoid", "triangle")


def surrogate_grad(x: torch.Tensor, kind: str, alpha: float) -> torch.Tensor:
    """d S / d x of the smooth stand-in for the Heaviside step (see module docstring)."""
    if kind == "sigmoid":
        sg = torch.sigmoid(alpha * x)
        return alpha * sg * (1.0 - sg)
    if kind == "atan":
        return (alpha / 2.0) / (1.0 + (math.pi / 2.0 * alpha * x) ** 2)
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + alpha * x.abs()) ** 2
    if kind == "triangle":
        return alpha * torch.clamp(1.0 - alpha * x.abs(), min=0.0)
    raise ValueError(f"unknown surrogate '{kind}' (allowed: {', '.join(SURROGATES)})")


class SpikeFunction(torch.autograd.Function):
    """Heaviside(x >= 0) with a surrogate gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kind: str, alpha: float) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        ctx.kind, ctx.alpha = kind, alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # noqa: D102
        (x,) = ctx.saved_tensors
        return grad_out * surrogate_grad(x, ctx.kind, ctx.alpha), None, None


def spike(x: torch.Tensor, kind: str = "sigmoid", alpha: float = 4.0) -> torch.Tensor:
    """Spikes ``x >= 0`` (x = V - threshold) with the named surrogate gradient."""
    if kind not in SURROGATES:
        raise ValueError(f"unknown surrogate '{kind}' (allowed: {', '.join(SURROGATES)})")
    return SpikeFunction.apply(x, kind, float(alpha))
