"""The closing summary printed by ``spikehls run`` and ``spikehls codesign``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from spikehls.boards import RESOURCE_KINDS


def channel_table(per_layer: Mapping[str, Any] | None, indent: str = "      ") -> list[str]:
    """Channels kept per layer as table rows (values: a count, or ``{"kept": k, "total": n}``)."""
    if not per_layer:
        return []
    width = max(len("layer"), *(len(str(k)) for k in per_layer))
    rows = [f"{indent}{'layer':<{width}}  channels"]
    for name, c in per_layer.items():
        text = f"{c['kept']}/{c['total']}" if isinstance(c, Mapping) else f"{c}"
        rows.append(f"{indent}{name:<{width}}  {text:>8}")
    return rows


def format_summary(result: Mapping[str, Any], out: Path) -> str:
    its = result["iterations"]
    fin = next(r for r in its if r["iteration"] == result["final"]["iteration"])
    b = result["board"]
    failed = result.get("error")  # e.g. "C-simulation not exact: ...": no result, whatever the resources say
    verdict = "co-design FAILED on" if failed else ("design fits" if result["fits"] else "design does NOT fit")
    lines = [
        "",
        f"spikehls: {verdict} {b['name']} ({b['part']}, "
        f"{b['clock_mhz']:g} MHz) after {len(its)} iteration(s), {result.get('seconds', 0):.0f} s",
        *([f"  FAILED      {failed}"] if failed else []),
        f"  accuracy    {fin['quantized_accuracy']:.2%} quantized on the test set "
        f"(float {fin['float_accuracy']:.2%}); C-sim {fin['csim_accuracy']:.2%} on {fin['csim_samples']} test vectors",
        f"  channels    {fin['channels_kept']}/{fin['channels_total']} kept",
        *channel_table(fin.get("channels_per_layer")),
        f"  C-sim       {'spike-exact' if fin['csim_exact'] else 'MISMATCH'}: spike mismatches "
        f"{fin['spike_mismatches']}, readout mismatches {fin['readout_mismatches']}",
        f"  resources   ({fin['resource_source']})",
    ]
    for k in RESOURCE_KINDS:
        used, allowed = fin[k], b["allowed"][k]
        pct = f"{used / allowed:6.1%}" if allowed else ("  -   " if not used else "  over")
        lines.append(f"      {k:<7}{used:>10,.0f} of {allowed:>10,.0f} allowed  {pct}")
    act = fin.get("latency_us_activity")
    lines.append(
        f"  latency     {fin['latency_cycles_worst']:,} cycles = {fin['latency_us_worst']:,.1f} us worst case"
        + (f"; {act:,.1f} us on the C-sim's activity" if act is not None else "")
        + (f" (mean; slowest test sample {fin['latency_us_activity_max']:,.1f} us)" if fin.get("latency_us_activity_max") is not None else "")
    )
    if failed:
        lines.append(f"  project     none offered; {result['final'].get('inspect') or fin['project']} is kept for "
                     "inspection only (do not synthesize it)")
    else:
        from spikehls.hls.project import build_commands

        lines.append(f"  project     {out / 'hls'}   (build it there with the command for your Vitis version:)")
        lines += [f"      {cmd:<44}# {ver}" for ver, cmd in build_commands(b.get("backend", "Vitis"))]
    lines.append(f"  details     {out / 'codesign.json'}, {out / 'codesign.png'}")
    return "\n".join(lines)


def print_summary(result: Mapping[str, Any], out: Path) -> None:
    print(format_summary(result, Path(out)))
