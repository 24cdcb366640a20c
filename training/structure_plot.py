"""``DIR/structure.png``: how SCA reshapes the network over training (the paper's structural analysis).

Left: channels kept per prunable layer after every epoch (the masks the next epoch trains under, as
``metrics.jsonl`` records them). Right: the churn of every mask update: channels newly pruned and
channels revived (pruned at the previous update, kept at this one). With ``sca.masking: step`` the
churn drops to zero after the first update (the masks settle); with ``epoch`` it stays non-zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from spikehls.fileio import atomic_path


def _records(metrics: Path) -> list[dict]:
    out = []
    for line in metrics.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut short by a kill: skip it
            continue
    return out


def structure_series(records: list[dict]) -> dict:
    """``{"epochs", "kept": {group: [...]}, "pruned": [...], "revived": [...], "update_epochs": [...]}``.

    Kept counts come from the mask update of each epoch when there is one (the structure going
    into the next epoch), else from the epoch's masks.
    """
    epochs, kept, pruned, revived, upd = [], {}, [], [], []
    for r in records:
        e = int(r["epoch"])
        u = r.get("mask_update") or {}
        per = u.get("kept_per_layer") or r.get("channels_kept") or {}
        epochs.append(e)
        for name, k in per.items():
            kept.setdefault(name, []).append(int(k))
        if u:
            upd.append(e)
            pruned.append(int(u.get("pruned", 0)))
            revived.append(int(u.get("revived", 0)))
    return {"epochs": epochs, "kept": kept, "update_epochs": upd, "pruned": pruned, "revived": revived}


def plot_structure(metrics: str | Path, path: str | Path, title: str = "") -> Optional[Path]:
    """Write the structure plot for a run's ``metrics.jsonl`` (None when it holds no epoch)."""
    metrics, path = Path(metrics), Path(path)
    if not metrics.is_file():
        return None
    s = structure_series(_records(metrics))
    if not s["epochs"]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, ys in s["kept"].items():
        if len(ys) == len(s["epochs"]):
            ax[0].plot(s["epochs"], ys, "o-", ms=3, label=name)
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("channels kept (count)")
    ax[0].set_title("kept channels per layer (after each epoch's mask update)", fontsize="medium")
    ax[0].legend(fontsize="x-small")
    if s["update_epochs"]:
        x = s["update_epochs"]
        ax[1].bar([e - 0.2 for e in x], s["pruned"], 0.4, label="pruned (kept before, dropped now)")
        ax[1].bar([e + 0.2 for e in x], s["revived"], 0.4, label="revived (dropped before, kept now)")
        ax[1].legend(fontsize="x-small")
    else:
        ax[1].text(0.5, 0.5, "no mask update", ha="center", va="center", transform=ax[1].transAxes)
    ax[1].set_xlabel("epoch of the mask update")
    ax[1].set_ylabel("channels (count)")
    ax[1].set_title("churn per mask update", fontsize="medium")
    for a in ax:
        a.set_xticks(s["epochs"])
    fig.suptitle(title or f"SCA structure over training ({metrics.parent.name})")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
