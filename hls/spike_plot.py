"""Spikes of one test sample as the C-simulation computed them: a raster and firing rates per layer
(``spikehls csim --plot``), and a VCD of the spike trains for a waveform viewer (``--vcd FILE``).

The spikes are read back from the compiled firmware (the same capture the spike-exact check uses),
not from the reference, so the picture is what the HLS design does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from spikehls.errors import SpikehlsError

PLOT_FILE = "csim_raster.png"


def sample_spikes(project: str | Path, sample: int = 0, inputs: Optional[np.ndarray] = None) -> tuple[dict, dict]:
    """(layer -> uint8 [T, ...] spikes of one sample, info) from the project's test vectors (or ``inputs``)."""
    from spikehls.hls.csim import load_meta, simulate
    from spikehls.quantize.testvectors import load_testvectors

    project = Path(project)
    meta = load_meta(project)
    label = None
    if inputs is None:
        if not meta.get("testvectors"):
            raise SpikehlsError(f"{project}: no test vectors to plot a sample of")
        x, labels, _ = load_testvectors(project / meta["testvectors"])
        if not 0 <= sample < len(x):
            raise SpikehlsError(f"--plot-sample {sample}: the project has test vectors 0..{len(x) - 1}")
        inputs, label = x[sample:sample + 1], int(labels[sample])
    sim = simulate(project, inputs, capture=True, jobs=1)
    spikes = {k: v[0] for k, v in sim.spikes.items()}
    info = {"sample": sample, "label": label, "prediction": int(np.argmax(sim.readout[0])),
            "readout": sim.readout[0].tolist(), "time_steps": int(meta["time_steps"]),
            "clock_mhz": meta.get("board", {}).get("clock_mhz")}
    return spikes, info


def plot_raster(spikes: dict[str, np.ndarray], info: dict, path: str | Path, title: str = "") -> Path:
    """One row per spiking layer: the raster (time step x neuron) and each channel's firing rate in %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikehls.fileio import atomic_path

    names = list(spikes)
    if not names:
        raise SpikehlsError("the project has no spiking layer to plot")
    fig, axs = plt.subplots(len(names), 2, figsize=(12, 1.9 * len(names) + 1.2), squeeze=False,
                            gridspec_kw={"width_ratios": [3, 1]})
    t_steps = info["time_steps"]
    for row, name in enumerate(names):
        s = np.asarray(spikes[name])  # [T, C, ...] or [T, N]
        flat = s.reshape(t_steps, -1)
        ax = axs[row][0]
        tt, nn = np.nonzero(flat)
        ax.scatter(nn, tt, s=4, marker="|", color="k", linewidths=0.8, label="spike")
        ax.set_xlim(-0.5, flat.shape[1] - 0.5)
        ax.set_ylim(t_steps - 0.5, -0.5)
        ax.set_yticks(range(t_steps))
        ax.set_ylabel("time step")
        ax.set_title(f"{name}: {int(flat.sum()):,} spikes over {t_steps} steps, {flat.shape[1]:,} neurons "
                     f"({100.0 * flat.mean():.1f} % firing)", fontsize="small", loc="left")
        ax.set_xlabel("neuron (channel-major index)" if row == len(names) - 1 else "")
        ch = s.shape[1] if s.ndim > 2 else flat.shape[1]
        rate = 100.0 * s.reshape(t_steps, ch, -1).mean(axis=(0, 2)) if s.ndim > 2 else 100.0 * flat.mean(axis=0)
        axr = axs[row][1]
        axr.bar(range(len(rate)), rate, color="tab:blue", label="firing rate")
        axr.set_ylabel("firing rate (%)")
        axr.set_xlabel("channel" if s.ndim > 2 else "neuron")
        axr.set_ylim(0, max(5.0, float(rate.max()) * 1.15 if len(rate) else 5.0))
    axs[0][0].legend(loc="upper right", fontsize="x-small")
    axs[0][1].legend(loc="upper right", fontsize="x-small")
    lab = "" if info.get("label") is None else f", label {info['label']}"
    fig.suptitle(title or f"C-simulation spikes of test sample {info['sample']}{lab}, predicted {info['prediction']} "
                          "(HLS firmware, g++)", fontsize="medium")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def write_vcd(spikes: dict[str, np.ndarray], info: dict, path: str | Path) -> Path:
    """A VCD: one bus per spiking layer (bit i = neuron i, channel-major), one value per time step.

    Time steps are 1 us apart in the file (``$timescale 1us``): a step of the design is many
    clock cycles (event-driven); the VCD shows *which* neurons fire at each step, not when within it.
    """
    from spikehls.fileio import write_text

    ids = {}
    lines = ["$date spikehls csim $end", "$version spikehls $end",
             "$comment spike trains of test sample %s; one time unit = one SNN time step $end" % info["sample"],
             "$timescale 1us $end", "$scope module spikehls $end"]
    for i, name in enumerate(spikes):
        ident = "".join(chr(33 + (i // 94 ** k) % 94) for k in range(2))
        ids[name] = ident
        width = int(np.asarray(spikes[name]).reshape(info["time_steps"], -1).shape[1])
        safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
        lines.append(f"$var wire {width} {ident} {safe} [{width - 1}:0] $end")
    lines += ["$upscope $end", "$enddefinitions $end"]
    for t in range(info["time_steps"]):
        lines.append(f"#{t}")
        for name, ident in ids.items():
            bits = np.asarray(spikes[name]).reshape(info["time_steps"], -1)[t]
            lines.append("b" + "".join("1" if b else "0" for b in bits[::-1]) + f" {ident}")  # MSB first
    lines.append(f"#{info['time_steps']}")
    write_text(path, "\n".join(lines) + "\n")
    return Path(path)
