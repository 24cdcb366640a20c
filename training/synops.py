"""SynOps, MACs, firing rates and an energy estimate, measured on real forward passes.

Convention (DESIGN.md section 4):

* SynOps per sample = sum over layers and time steps of (input spikes x fan-out). A spike at
  input position (h, w) of a conv feeds every output position whose window covers it, counted
  exactly at the borders (``conv_fanout_map``), times the conv's *kept* output channels (filters
  not entirely zero). A spike into a dense layer or the readout feeds its (kept) outputs. An
  identity residual shortcut adds each spike once (fan-out 1).
* The first layer under direct encoding sees pixels, not spikes: it is a multiply-accumulate layer
  and its operations are counted separately as MACs (every input element x its fan-out, zeros
  included, since a MAC array does not skip them).
* Energy estimate (45 nm, Horowitz ISSCC 2014, the usual SNN-literature convention): 0.9 pJ per
  accumulate (SynOp) and 4.6 pJ per multiply-accumulate (FP32 figures). It is an estimate for
  comparing models, not a hardware measurement.
* Firing rate of a spiking layer = spikes / (neurons x T x samples), over all neurons of the layer
  (masked channels included: they are silent, which is the point of pruning).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch import nn

from spikehls.hls.geometry import conv_out_size
from spikehls.training.models import BasicBlock
from spikehls.training.neurons import SpikingNeuron

PJ_PER_AC = 0.9
PJ_PER_MAC = 4.6


def _axis_fanout(n: int, k: int, stride: int, pad: int) -> np.ndarray:
    n_out = conv_out_size(n, k, stride, pad)
    cnt = np.zeros(n, dtype=np.int64)
    for o in range(n_out):
        lo = o * stride - pad
        for j in range(max(lo, 0), min(lo + k, n)):
            cnt[j] += 1
    return cnt


def conv_fanout_map(h: int, w: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                    padding: int | tuple[int, int] = 0) -> np.ndarray:
    """``[h, w]`` int array: output positions each input position feeds (per output channel)."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return np.outer(_axis_fanout(h, kh, sh, ph), _axis_fanout(w, kw, sw, pw))


# How every energy figure is labelled: a convention for comparing models, not this design's energy.
ENERGY_CONVENTION = ("SNN-literature FP32 convention (45 nm, Horowitz ISSCC 2014: 0.9 pJ/AC, 4.6 pJ/MAC); "
                     "not the energy of this integer design")
ENERGY_LABEL = "FP32-convention energy (0.9 pJ/AC, 4.6 pJ/MAC, 45 nm; not this integer design's energy)"


def energy_pj(synops: float, macs: float) -> float:
    """Energy estimate in pJ (0.9 pJ/AC, 4.6 pJ/MAC; see module docstring)."""
    return PJ_PER_AC * synops + PJ_PER_MAC * macs


class ActivityMonitor:
    """Context manager counting SynOps/MACs per layer and firing rates during forward passes.

    ``direct_input``: the model's ``input_layer`` sees pixels (direct encoding) and is counted
    as MACs; otherwise its input is spikes and counted as SynOps like every other layer.
    """

    def __init__(self, model: nn.Module, direct_input: bool):
        self.model = model
        self.direct_input = direct_input
        self.input_layer: str = getattr(model, "input_layer", "")
        self.ops: dict[str, float] = defaultdict(float)
        self.macs: dict[str, float] = defaultdict(float)
        self.samples = 0
        self._handles: list = []
        self._kept: dict[str, int] = {}
        self._fan: dict[tuple, torch.Tensor] = {}
        self._neurons: list[tuple[str, SpikingNeuron]] = []
        self._prev_record: list[bool] = []

    # ---- hooks ---------------------------------------------------------------------------
    def _kept_out(self, name: str, weight: torch.Tensor) -> int:
        if name not in self._kept:
            self._kept[name] = int(weight.detach().flatten(1).ne(0).any(dim=1).sum())
        return self._kept[name]

    def _fanout(self, conv: nn.Conv2d, h: int, w: int, device) -> torch.Tensor:
        key = (id(conv), h, w)
        if key not in self._fan:
            f = conv_fanout_map(h, w, conv.kernel_size, conv.stride, conv.padding)
            self._fan[key] = torch.as_tensor(f, dtype=torch.float64, device=device)
        return self._fan[key]

    def _conv_hook(self, name: str):
        def hook(mod: nn.Conv2d, inputs, _out):
            x = inputs[0].detach()
            fan = self._fanout(mod, x.shape[-2], x.shape[-1], x.device)
            kept = self._kept_out(name, mod.weight)
            if self.direct_input and name == self.input_layer:
                per_pos = float(x.shape[0] * x.shape[1])
                self.macs[name] += per_pos * float(fan.sum()) * kept
            else:
                counts = x.ne(0).sum(dim=(0, 1)).double()
                self.ops[name] += float((counts * fan).sum()) * kept
        return hook

    def _linear_hook(self, name: str):
        def hook(mod: nn.Linear, inputs, _out):
            x = inputs[0].detach()
            self.ops[name] += float(x.ne(0).sum()) * self._kept_out(name, mod.weight)
        return hook

    def _skip_hook(self, name: str):
        def hook(_mod, inputs, _out):
            self.ops[name + ".skip"] += float(inputs[0].detach().ne(0).sum())
        return hook

    def _count_samples(self, _mod, inputs):
        self.samples += int(inputs[0].shape[1])

    def __enter__(self) -> "ActivityMonitor":
        for name, mod in self.model.named_modules():
            if isinstance(mod, nn.Conv2d):
                self._handles.append(mod.register_forward_hook(self._conv_hook(name)))
            elif isinstance(mod, nn.Linear):
                self._handles.append(mod.register_forward_hook(self._linear_hook(name)))
            elif isinstance(mod, BasicBlock) and mod.shortcut is None:  # identity spike shortcut
                self._handles.append(mod.register_forward_hook(self._skip_hook(name)))
        self._handles.append(self.model.register_forward_pre_hook(self._count_samples))
        self._neurons = [(n, m) for n, m in self.model.named_modules() if isinstance(m, SpikingNeuron)]
        self._prev_record = [m.record for _, m in self._neurons]
        for _, m in self._neurons:
            m.reset_record()
            m.record = True
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        for (_, m), prev in zip(self._neurons, self._prev_record):
            m.record = prev

    # ---- results -------------------------------------------------------------------------
    def firing_rates(self) -> dict[str, float]:
        out = {}
        for name, m in self._neurons:
            if m.spike_count is not None and m.positions:
                out[name] = float(m.spike_count.sum()) / (m.positions * m.spike_count.numel())
        return out

    def result(self) -> dict:
        """Per-sample numbers: synops, macs, energy (pJ), per-layer ops and firing rates."""
        n = max(self.samples, 1)
        syn = sum(self.ops.values()) / n
        mac = sum(self.macs.values()) / n
        return {
            "synops_per_sample": syn,
            "macs_per_sample": mac,
            "energy_pj_per_sample": energy_pj(syn, mac),
            "synops_per_layer": {k: v / n for k, v in self.ops.items()},
            "macs_per_layer": {k: v / n for k, v in self.macs.items()},
            "firing_rate": self.firing_rates(),
        }


def measure(model: nn.Module, x: torch.Tensor, direct_input: bool) -> dict:
    """One forward pass of ``x`` ([T, N, C, H, W]) in eval mode under a monitor -> result()."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad(), ActivityMonitor(model, direct_input) as mon:
            model(x)
        return mon.result()
    finally:
        model.train(was)
