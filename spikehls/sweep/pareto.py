"""Pareto analysis of a sweep: accuracy against each resource and against latency.

A point is on the front for a cost (LUT, FF, BRAM18, URAM, DSP, latency) when no other point
is at least as accurate and at most as costly, and strictly better in one of the two. Only points
that finished (status ok) with a spike-exact C-simulation take part (:func:`good`): a design whose
C-simulation differs from the integer reference is a failed point, never on a front. Accuracy is the quantized model's on the whole test set
(``quantized_accuracy``: the integer semantics the hardware computes, which the C-simulation
checks spike for spike on the test vectors). Latency is the activity-based figure (what the
event-driven design takes on real data, counted in C-simulation) when every point has it, else
the static worst case; :func:`objectives` says which.

Resources that are zero for every point (URAM on 7-series, DSP for accumulate-only designs) have
no front of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from spikehls.boards import RESOURCE_KINDS
from spikehls.fileio import atomic_path

ACCURACY = "quantized_accuracy"


def good(rec: dict[str, Any]) -> bool:
    """A point that may be compared: finished, and its C-simulation spike-exact (said so, not assumed)."""
    return rec.get("status") == "ok" and rec.get("csim_exact") is True


def front_mask(acc: Sequence[float], cost: Sequence[float]) -> list[bool]:
    """Non-dominated points when maximising ``acc`` and minimising ``cost`` (exact ties all stay)."""
    n = len(acc)
    out = []
    for i in range(n):
        dominated = any(
            acc[j] >= acc[i] and cost[j] <= cost[i] and (acc[j] > acc[i] or cost[j] < cost[i]) for j in range(n) if j != i
        )
        out.append(not dominated)
    return out


def objectives(records: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Front name -> record field of the cost: the non-zero resources and the latency."""
    ok = [r for r in records if good(r)]
    obj = {k: k for k in RESOURCE_KINDS if any((r.get(k) or 0) > 0 for r in ok)}
    activity = bool(ok) and all(r.get("latency_us_activity") is not None for r in ok)
    obj["latency"] = "latency_us_activity" if activity else "latency_us_worst"
    return obj


def fronts(records: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Point id -> names of the fronts it is on (good points only; empty list if none)."""
    ok = [r for r in records if good(r) and r.get(ACCURACY) is not None]
    marks: dict[str, list[str]] = {r["id"]: [] for r in records}
    for name, field in objectives(ok).items():
        rs = [r for r in ok if r.get(field) is not None]
        for r, on in zip(rs, front_mask([r[ACCURACY] for r in rs], [r[field] for r in rs])):
            if on:
                marks[r["id"]].append(name)
    return marks


def _fmt(v: Any, kind: str = "") -> str:
    if v is None or v == "":
        return "-"
    if kind == "acc":
        return f"{v:.2%}"
    if isinstance(v, float) and kind == "lat":
        return f"{v:,.1f}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def format_front_table(records: Sequence[dict[str, Any]], axes: Sequence[str], marks: dict[str, list[str]]) -> str:
    """The points on any front, most accurate first, with their settings, costs and fronts."""
    obj = objectives(records)
    lat_field = obj["latency"]
    res = [k for k in obj if k != "latency"]
    on = [r for r in records if marks.get(r["id"])]
    on.sort(key=lambda r: (-(r.get(ACCURACY) or 0), r.get("LUT") or 0))
    head = ["id", *axes, "accuracy", *res, "latency_us", "exact", "fits", "fronts"]
    rows = [[r["id"], *(_fmt(r["settings"].get(a)) for a in axes), _fmt(r.get(ACCURACY), "acc"),
             *(_fmt(r.get(k)) for k in res), _fmt(r.get(lat_field), "lat"), "yes" if r.get("csim_exact") is True else "NO",
             "yes" if r.get("fits") else "no", ",".join(marks[r["id"]])] for r in on]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    lines = [f"Pareto front ({ACCURACY} vs {', '.join(res + [lat_field])}): {len(on)} of "
             f"{sum(good(r) for r in records)} points"]
    inexact = [r["id"] for r in records if r.get("csim_exact") is False]
    if inexact:
        lines.append(f"{len(inexact)} point(s) failed: C-simulation not exact (excluded from the fronts): "
                     + ", ".join(inexact[:10]) + (" ..." if len(inexact) > 10 else ""))
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def _save(fig, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def cost_label(field: str, source: str = "") -> str:
    """Axis label with its unit: ``LUT (count, estimate)``, ``latency (us, mean on C-sim activity)``."""
    src = f", {source}" if source else ""
    if field == "latency_us_activity":
        return "latency per sample (\u00b5s, mean on the C-sim's activity)"
    if field == "latency_us_worst":
        return "latency per sample (\u00b5s, worst case)"
    if field in RESOURCE_KINDS:
        return f"{field} (count{src})"
    return field


def _source(records: Sequence[dict[str, Any]]) -> str:
    srcs = {str(r.get("resource_source")) for r in records if r.get("resource_source")}
    return srcs.pop() if len(srcs) == 1 else ("mixed sources" if srcs else "")


def plot_pareto(records: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Optional[Path]:
    """One panel per cost: every good point, the front drawn as a staircase (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in records if good(r) and r.get(ACCURACY) is not None]
    if not ok:
        return None
    obj = objectives(ok)
    fig, axs = plt.subplots(1, len(obj), figsize=(3.6 * len(obj), 3.4), squeeze=False)
    for ax, (name, field) in zip(axs[0], obj.items()):
        rs = [r for r in ok if r.get(field) is not None]
        xs, ys = [r[field] for r in rs], [100.0 * r[ACCURACY] for r in rs]
        mask = front_mask(ys, xs)
        ax.scatter(xs, ys, s=16, c="0.6", label="points")
        fx = sorted((x, y) for x, y, m in zip(xs, ys, mask) if m)
        if fx:
            ax.step([p[0] for p in fx], [p[1] for p in fx], where="post", color="C3", lw=1.2)
            ax.scatter([p[0] for p in fx], [p[1] for p in fx], s=24, c="C3", label="Pareto front")
        ax.set_xlabel(cost_label(field, _source(ok)))
        ax.set_ylabel("accuracy, quantized (%)")
        ax.set_title(f"accuracy vs {name}", fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or "accuracy vs cost")
    fig.tight_layout()
    out = _save(fig, Path(path))
    plt.close(fig)
    return out


def plot_axes(records: Sequence[dict[str, Any]], axes: Sequence[str], path: str | Path) -> Optional[Path]:
    """One row per axis: accuracy, budget use (worst resource) and latency against the axis's values.

    Every point is drawn at its axis value (other axes vary within a column), with the mean per
    value as a line, so the effect of one axis is seen across the rest of the sweep.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in records if good(r)]
    if not ok or not axes:
        return None
    lat_field = objectives(ok)["latency"]

    def worst_util(r: dict[str, Any]) -> Optional[float]:
        u = [v for v in (r.get("utilization") or {}).values() if v is not None]
        return max(u) if u else None

    def pct(v: Optional[float]) -> Optional[float]:
        return None if v is None else 100.0 * v

    panels = [("accuracy, quantized (%)", lambda r: pct(r.get(ACCURACY))),
              (f"worst resource / budget (%{', ' + _source(ok) if _source(ok) else ''})", lambda r: pct(worst_util(r))),
              (cost_label(lat_field), lambda r: r.get(lat_field))]
    fig, axs = plt.subplots(len(axes), 3, figsize=(11, 2.8 * len(axes)), squeeze=False)
    for row, axis in zip(axs, axes):
        values = sorted({_key(r["settings"].get(axis)) for r in ok}, key=_sort_key)
        pos = {v: i for i, v in enumerate(values)}
        for ax, (ylabel, get) in zip(row, panels):
            xs, ys = [], []
            for r in ok:
                y = get(r)
                if y is not None:
                    xs.append(pos[_key(r["settings"].get(axis))])
                    ys.append(y)
            ax.scatter(xs, ys, s=14, c="C0", alpha=0.7, label="points")
            means = [(i, sum(y for x, y in zip(xs, ys) if x == i) / max(1, sum(x == i for x in xs)))
                     for i in range(len(values)) if i in xs]
            if means:
                ax.plot([m[0] for m in means], [m[1] for m in means], "-", color="C1", lw=1.2, label="mean per value")
            if ylabel.startswith("worst"):
                ax.axhline(100.0, color="k", lw=0.8, ls=":", label="budget (100 %)")
            ax.legend(fontsize=7)
            ax.set_xticks(range(len(values)))
            ax.set_xticklabels([str(v) for v in values])
            ax.set_xlabel(axis)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    out = _save(fig, Path(path))
    plt.close(fig)
    return out


def _key(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


def _sort_key(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))
