"""Plots people can read (issue 14 item 7): axis labels with units, legends, titles; codesign.png for a
one-iteration run; the report table never cuts layer names; csim --plot raster and --vcd (slow)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import handmade_inputs, handmade_net, write_run  # noqa: E402


@pytest.fixture
def figures(monkeypatch):
    """Every figure a plot function closes, kept for inspection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kept = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    for f in kept:
        real_close(f)


def _labelled(fig):
    for ax in fig.axes:
        shared = ax.get_shared_x_axes().get_siblings(ax)  # a shared x axis is labelled once, at the bottom
        assert any(a.get_xlabel() for a in shared) or not ax.has_data(), ax
        assert ax.get_ylabel(), ax
        if ax.lines or ax.containers or ax.collections:
            assert ax.get_legend() is not None or any(a.get_legend() for a in fig.axes), ax


def test_codesign_plot_of_one_iteration(tmp_path, figures):
    from spikehls.codesign import plot_trajectory

    rec = {"iteration": 0, "float_accuracy": 0.95, "quantized_accuracy": 0.944, "csim_accuracy": 0.953,
           "resource_source": "estimate", "utilization": {"LUT": 0.42, "FF": 0.12, "BRAM18": 0.8, "URAM": 0, "DSP": 0}}
    plot_trajectory({"iterations": [rec], "board": {"name": "PYNQ-Z2"}, "strategy": "uniform", "margin": 0.9,
                     "fits": True}, tmp_path / "cd.png")
    assert (tmp_path / "cd.png").stat().st_size > 1000
    fig = figures[-1]
    acc, use = fig.axes[:2]
    assert acc.get_ylabel() == "accuracy (%)" and 90 < max(max(l.get_ydata()) for l in acc.lines) <= 100
    assert use.get_ylabel() == "used / allowed (%)" and len(use.patches) == 3  # one bar per used resource
    labels = [t.get_text() for t in use.get_legend().get_texts()]
    assert any("budget" in t for t in labels) and any("margin" in t for t in labels) and "LUT" in labels
    _labelled(fig)


def test_report_table_keeps_long_layer_names_and_plot_has_units(tmp_path, figures):
    from spikehls.hls.project import generate_project
    from spikehls.hls.report_run import format_table, plot_report, run_report

    net = handmade_net()
    run = write_run(net, tmp_path / "run", handmade_inputs(net, 3))
    generate_project(run / "model.qonnx.onnx", "pynq-z2", tmp_path / "prj", testvectors=run / "testvectors.npz")
    rep = run_report(tmp_path / "prj")
    rep["per_layer"][0]["name"] = "features.12.conv_with_a_long_name"
    text = format_table(rep)
    assert "features.12.conv_with_a_long_name " in text
    widths = {len(ln) for ln in text.splitlines()[3:3 + len(rep["per_layer"]) + 2]}
    assert len(widths) == 1  # the columns stay aligned
    plot_report(rep, tmp_path / "r.png")
    fig = figures[-1]
    assert "%" in fig.axes[0].get_ylabel() and "cycles" in fig.axes[1].get_ylabel() and fig.axes[1].get_xlabel() == "layer"
    _labelled(fig)


def test_sweep_plots_have_units(tmp_path, figures):
    from spikehls.sweep.pareto import plot_axes, plot_pareto

    recs = [{"id": f"p{i}", "status": "ok", "csim_exact": True, "accuracy_quantized": 0.9 + 0.01 * i, "LUT": 1000 * (i + 1),
             "FF": 500, "latency_us_worst": 10.0 * (i + 1), "utilization": {"LUT": 0.2 * (i + 1)},
             "resource_source": "estimate", "settings": {"sca.p": 0.1 * i}} for i in range(3)]
    from spikehls.sweep import pareto

    recs = [{**r, pareto.ACCURACY: r["accuracy_quantized"]} for r in recs]
    assert plot_pareto(recs, tmp_path / "p.png") is not None
    fig = figures[-1]
    xl = [ax.get_xlabel() for ax in fig.axes]
    assert "LUT (count, estimate)" in xl and any("\u00b5s" in x for x in xl)
    assert all(ax.get_ylabel() == "accuracy, quantized (%)" for ax in fig.axes)
    _labelled(fig)
    assert plot_axes(recs, ["sca.p"], tmp_path / "a.png") is not None
    fig = figures[-1]
    assert any("%" in ax.get_ylabel() for ax in fig.axes) and any("\u00b5s" in ax.get_ylabel() for ax in fig.axes)
    _labelled(fig)


@pytest.mark.slow
def test_csim_plot_raster_and_vcd(tmp_path, capsys, figures):
    from spikehls.cli import main
    from spikehls.hls.project import generate_project
    from spikehls.quantize import reference as ref

    net = handmade_net()
    x = handmade_inputs(net, 4)
    run = write_run(net, tmp_path / "run", x)
    prj = tmp_path / "prj"
    generate_project(run / "model.qonnx.onnx", "pynq-z2", prj, testvectors=run / "testvectors.npz")
    vcd = tmp_path / "s.vcd"
    assert main(["csim", "--project", str(prj), "--plot", "--plot-sample", "2", "--vcd", str(vcd)]) == 0
    assert (prj / "csim_raster.png").stat().st_size > 1000
    fig = figures[-1]
    assert "test sample 2" in fig._suptitle.get_text()
    assert all(ax.get_ylabel() in ("time step", "firing rate (%)") for ax in fig.axes)
    # the VCD holds every spiking layer's spikes of sample 2, step by step, equal to the reference
    want = ref.run(net, x[2:3])
    lines = vcd.read_text().splitlines()
    vars_ = [ln.split() for ln in lines if ln.startswith("$var")]
    names = {v[4]: v[3] for v in vars_}  # layer -> id
    assert set(names) == {"conv0", "pool0", "conv1", "fc0"}
    t = net.time_steps
    for layer, ident in names.items():
        vals = [ln.split()[0][1:] for ln in lines if ln.endswith(" " + ident) and ln.startswith("b")]
        assert len(vals) == t
        got = np.array([[int(c) for c in v[::-1]] for v in vals])
        np.testing.assert_array_equal(got, want.spikes[layer][0].reshape(t, -1))
