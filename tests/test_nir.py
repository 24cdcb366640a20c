"""NIR import/export (spikehls/nir_io.py, docs/nir.md): graphs written with nir's own API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from spikehls.cli import main  # noqa: E402
from spikehls.nir_io import choose_leak, export_int_nir, import_nir, map_graph, simulate  # noqa: E402
from spikehls.quantize import reference as ref  # noqa: E402
from spikehls.quantize.intnet import IntNet  # noqa: E402

DT = 1e-3
C, H, W = 2, 8, 8


def _graph(nodes: list[tuple[str, object]], out_shape) -> nir.NIRGraph:
    d = dict(nodes)
    d["out"] = nir.Output(output_type={"output": np.array(out_shape)})
    order = [n for n, _ in nodes] + ["out"]
    return nir.NIRGraph(nodes=d, edges=list(zip(order[:-1], order[1:])), type_check=False)


def _lif(shape, k=2, thr=1.0, **kw):
    tau = DT * 2**k
    p = dict(tau=np.full(shape, tau), r=np.full(shape, tau / DT), v_leak=np.zeros(shape), v_threshold=np.full(shape, thr))
    p.update(kw)
    return nir.LIF(**p)


def small_cnn(pool: str = "sum", neuron: str = "lif", head: str = "affine", seed: int = 0, extra=()) -> nir.NIRGraph:
    """conv -> LIF -> sum pool -> flatten -> affine (-> LIF): the judged small spiking CNN."""
    rng = np.random.default_rng(seed)
    nodes = [("input", nir.Input(input_type={"input": np.array([C, H, W])})),
             ("conv", nir.Conv2d(input_shape=(H, W), weight=rng.normal(0, 0.6, (4, C, 3, 3)), stride=1, padding=1,
                                 dilation=1, groups=1, bias=rng.normal(0, 0.05, 4)))]
    sh = (4, H, W)
    if neuron == "lif":
        nodes.append(("lif", _lif(sh)))
    elif neuron == "if":
        nodes.append(("lif", nir.IF(r=np.full(sh, 1 / DT), v_threshold=np.full(sh, 1.0))))
    else:  # cubalif with tau_syn = dt
        nodes.append(("lif", nir.CubaLIF(tau_syn=np.full(sh, DT), tau_mem=np.full(sh, 4 * DT), r=np.full(sh, 4.0),
                                         v_leak=np.zeros(sh), v_threshold=np.full(sh, 1.0), w_in=np.full(sh, 1.0))))
    nodes += list(extra)
    cls = nir.SumPool2d if pool == "sum" else nir.AvgPool2d
    nodes.append(("pool", cls(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))))
    nodes.append(("flat", nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0)))
    w = rng.normal(0, 0.4, (3, 64))
    nodes.append(("fc", nir.Affine(weight=w, bias=np.zeros(3)) if head != "linear" else nir.Linear(weight=w)))
    if head == "spiking":
        nodes.append(("out_lif", _lif((3,), thr=0.5)))
    return _graph(nodes, [3])


def _spikes(n=64, T=4, seed=1, shape=(C, H, W)):
    return (np.random.default_rng(seed).random((n, T) + shape) < 0.3).astype(np.uint8)


def _float_out(run: Path, x: np.ndarray) -> np.ndarray:
    import torch

    from spikehls.training.trainer import load_run

    _, model, _, _ = load_run(run)
    with torch.no_grad():
        return model(torch.from_numpy(x).float().transpose(0, 1)).numpy() * x.shape[1]  # sum over T


def _write(g, path: Path) -> Path:
    nir.write(str(path), g)
    return path


# ---- the mapping, node by node -------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(pool="avg"), dict(neuron="if"), dict(neuron="cuba"), dict(head="linear"),
                                dict(head="spiking")])
def test_import_matches_nir_simulation(tmp_path, kw):
    """The imported float model computes the NIR graph's Euler simulation (readout summed over T).

    Tolerance: thresholds move onto the integer grid (up by less than one accumulator unit, 8-bit
    weights: < 1/127 of the largest weight), so a membrane within that distance of the threshold can
    spike differently; argmax agreement >= 90 % and every readout within 5 % of its range.
    """
    g = small_cnn(**kw)
    run = tmp_path / "run"
    rep = import_nir(_write(g, tmp_path / "g.nir"), run)
    x = _spikes()
    want = simulate(g, x.astype(np.float64), DT)
    if kw.get("head") == "spiking":
        want_sum = want.sum(1)
    else:
        want_sum = want.sum(1)
    got = _float_out(run, x)
    agree = (got.argmax(1) == want_sum.argmax(1)).mean()
    assert agree >= 0.9, agree
    assert np.abs(got - want_sum).max() <= 0.05 * (np.abs(want_sum).max() + 1e-9) or agree == 1.0
    assert all(r["threshold_shift_max"] < 0.05 for r in rep["layers"] if "threshold_shift_max" in r)
    assert json.loads((run / "masks.json").read_text())  # all-kept masks
    assert (run / "config.yaml").is_file() and (run / "checkpoint.pt").is_file() and (run / "summary.json").is_file()


def test_scale_is_folded_and_or_pool(tmp_path):
    sh = (4, H, W)
    g = small_cnn(extra=[])
    # Scale after the conv, and sum pool + Threshold = OR pool
    nodes = dict(g.nodes)
    order = ["input", "conv", "scale", "lif", "pool", "or", "flat", "fc", "out"]
    nodes["scale"] = nir.Scale(scale=np.array([1.0, 2.0, 0.5, 1.5]).reshape(4, 1, 1) * np.ones(sh))
    nodes["or"] = nir.Threshold(threshold=np.full((4, 4, 4), 0.5))
    g2 = nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])), type_check=False)
    run = tmp_path / "run"
    import_nir(_write(g2, tmp_path / "g.nir"), run)
    cfg = (run / "config.yaml").read_text()
    assert "pool:\n    - 2\n    - 2" in cfg  # OR pooling on the conv
    x = _spikes()
    want = simulate(g2, x.astype(np.float64), DT).sum(1)
    assert (_float_out(run, x).argmax(1) == want.argmax(1)).mean() >= 0.9


def test_sum_pool_folds_into_next_conv_exactly():
    rng = np.random.default_rng(3)
    sh = (4, H, W)
    nodes = [("input", nir.Input(input_type={"input": np.array([C, H, W])})),
             ("c0", nir.Conv2d(input_shape=(H, W), weight=rng.integers(-3, 4, (4, C, 3, 3)).astype(float), stride=1,
                               padding=1, dilation=1, groups=1, bias=np.zeros(4))),
             ("n0", nir.IF(r=np.full(sh, 1 / DT), v_threshold=np.full(sh, 1.5))),
             ("pool", nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))),
             ("c1", nir.Conv2d(input_shape=(4, 4), weight=rng.integers(-3, 4, (3, 4, 3, 3)).astype(float), stride=1,
                               padding=1, dilation=1, groups=1, bias=np.zeros(3))),
             ("n1", nir.IF(r=np.full((3, 4, 4), 1 / DT), v_threshold=np.full((3, 4, 4), 2.5))),
             ("flat", nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=0)),
             ("fc", nir.Affine(weight=rng.integers(-3, 4, (3, 48)).astype(float), bias=np.zeros(3)))]
    m = map_graph(_graph(nodes, [3]))
    c1 = m["layers"][1]
    assert c1.weight.shape[2:] == (6, 6) and c1.stride == 2 and c1.padding == 2
    assert "pool" in c1.nodes


def test_integer_if_graph_is_spike_exact_through_the_contract(tmp_path):
    """Integer weights, IF, half-integer thresholds: NIR's v > t and the contract's V >= theta agree on every spike."""
    rng = np.random.default_rng(5)
    sh = (4, H, W)
    nodes = [("input", nir.Input(input_type={"input": np.array([C, H, W])})),
             ("conv", nir.Conv2d(input_shape=(H, W), weight=rng.integers(-7, 8, (4, C, 3, 3)).astype(float), stride=1,
                                 padding=1, dilation=1, groups=1, bias=rng.integers(-2, 3, 4).astype(float))),
             ("n", nir.IF(r=np.full(sh, 1 / DT), v_threshold=np.broadcast_to(np.array([3.0, 4.0, 2.0, 5.0])[:, None, None], sh).copy())),
             ("pool", nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))),
             ("flat", nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0)),
             ("fc", nir.Affine(weight=rng.integers(-7, 8, (3, 64)).astype(float), bias=np.zeros(3)))]
    g = _graph(nodes, [3])
    run = tmp_path / "run"
    rep = import_nir(_write(g, tmp_path / "g.nir"), run)
    assert all(r["weights_on_grid"] for r in rep["layers"])
    assert main(["export", "--run", str(run), "--no-progress"]) == 0
    net = IntNet.load(run / "intnet.npz")
    x = _spikes(n=40).astype(np.int64)
    r = ref.run(net, x)
    want = simulate(g, x.astype(np.float64), DT)
    np.testing.assert_array_equal(r.readout, want.sum(1).round().astype(np.int64) * 1)  # integers, scale 1


# ---- refusals: one line, exit 2, naming node and parameter -----------------------------------------
def _refused(tmp_path, g, capsys, *words):
    p = _write(g, tmp_path / "bad.nir")
    assert main(["import", "--nir", str(p), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ")
    for w in words:
        assert w in err, err
    assert not (tmp_path / "r").exists()


def test_unsupported_nodes_are_one_line_errors(tmp_path, capsys):
    sh = (4, H, W)
    _refused(tmp_path, small_cnn(extra=[("li", nir.LI(tau=np.full(sh, 1e-2), r=np.ones(sh), v_leak=np.zeros(sh)))]),
             capsys, "node li", "LI")
    _refused(tmp_path, small_cnn(extra=[("d", nir.Delay(delay=np.ones(sh)))]), capsys, "node d", "Delay")


@pytest.mark.parametrize("change,words", [
    (dict(v_reset=np.full((4, H, W), 0.2)), ["node lif", "v_reset"]),
    (dict(tau=np.full((4, H, W), 1.6e-3), r=np.full((4, H, W), 1.6)), ["node lif", "tau"]),
    (dict(v_threshold=np.arange(4 * H * W, dtype=float).reshape(4, H, W) + 1), ["node lif", "v_threshold"]),
])
def test_unmappable_parameters(tmp_path, capsys, change, words):
    g = small_cnn()
    g.nodes["lif"] = _lif((4, H, W), **change)
    _refused(tmp_path, g, capsys, *words)


def test_cubalif_with_synaptic_time_constant_is_refused(tmp_path, capsys):
    g = small_cnn(neuron="cuba")
    sh = (4, H, W)
    g.nodes["lif"] = nir.CubaLIF(tau_syn=np.full(sh, 5e-3), tau_mem=np.full(sh, 4e-3), r=np.full(sh, 4.0),
                                 v_leak=np.zeros(sh), v_threshold=np.ones(sh))
    _refused(tmp_path, g, capsys, "node lif", "tau_syn")


def test_branching_graph_and_bare_threshold_are_refused(tmp_path, capsys):
    g = small_cnn()
    g.edges.append(("conv", "pool"))
    _refused(tmp_path, g, capsys, "node conv", "sequential")
    g = small_cnn(extra=[("th", nir.Threshold(threshold=np.ones((4, H, W))))])
    _refused(tmp_path, g, capsys, "node th", "Threshold")


def test_leak_choice_and_bound():
    k, err, rel = choose_leak(np.array([0.25]), 8)
    assert (k, err, rel) == (2, 0.0, 0.0)
    k, err, _ = choose_leak(np.array([0.1]), 4)  # snnTorch beta = 0.9
    assert k == 3 and 0 < err < 0.1


# ---- export and the round trip -------------------------------------------------------------------
def _same_intnet(a: IntNet, b: IntNet, x: np.ndarray) -> None:
    for la, lb in zip(a.layers, b.layers):
        assert type(la) is type(lb)
        if hasattr(la, "weight"):
            np.testing.assert_array_equal(la.weight, lb.weight)
            np.testing.assert_array_equal(la.bias, lb.bias)
        if hasattr(la, "neuron"):
            np.testing.assert_array_equal(la.neuron.threshold, lb.neuron.threshold)
            assert la.neuron.leak_shift == lb.neuron.leak_shift
    ra, rb = ref.run(a, x), ref.run(b, x)
    np.testing.assert_array_equal(ra.readout, rb.readout)
    for (ka, sa), (kb, sb) in zip(ra.spikes.items(), rb.spikes.items()):
        np.testing.assert_array_equal(sa, sb)


def test_round_trip_spikehls_nir_spikehls(tmp_path, capsys):
    """A trained digits run (OR pools, LIF) -> export --nir -> import -> export: the same integer network."""
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"epochs": 1, "time_steps": 3}, "neuron": {"kind": "lif", "leak_shift": 2},
                                   "encoding": {"kind": "rate"}, "model": {"layers": [4, "M", 6, "M"]},
                                   "dataset": {"train_limit": 200, "test_limit": 64},
                                   "quant": {"qat_epochs": 0, "test_vectors": 16}}))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(run), "--no-progress"]) == 0
    assert main(["export", "--run", str(run), "--no-progress", "--nir"]) == 0
    assert (run / "model.nir").is_file() and (run / "model.int.nir").is_file()
    back = tmp_path / "back"
    assert main(["import", "--nir", str(run / "model.int.nir"), "--out", str(back), "--config", str(cfg)]) == 0
    assert main(["export", "--run", str(back), "--no-progress"]) == 0
    x = np.load(run / "testvectors.npz")["x"] if "x" in np.load(run / "testvectors.npz") else None
    a, b = IntNet.load(run / "intnet.npz"), IntNet.load(back / "intnet.npz")
    if x is None:
        x = (np.random.default_rng(0).random((32, 3) + tuple(a.input_shape)) < 0.4).astype(np.int64)
    _same_intnet(a, b, x)
    # the float graph imports too (thresholds move onto the grid: same network up to that rounding)
    assert main(["import", "--nir", str(run / "model.nir"), "--out", str(tmp_path / "f"), "--config", str(cfg)]) == 0


def test_round_trip_of_an_imported_graph(tmp_path):
    g = small_cnn(neuron="lif")
    run = tmp_path / "run"
    import_nir(_write(g, tmp_path / "g.nir"), run)
    assert main(["export", "--run", str(run), "--no-progress", "--nir"]) == 0
    back = tmp_path / "back"
    import_nir(run / "model.int.nir", back)
    assert main(["export", "--run", str(back), "--no-progress"]) == 0
    _same_intnet(IntNet.load(run / "intnet.npz"), IntNet.load(back / "intnet.npz"), _spikes(n=32).astype(np.int64))


def test_quantized_nir_of_an_if_net_is_exact_in_nir_semantics(tmp_path):
    """For IF nets the quantized NIR graph, simulated with NIR's own rules (v > t), is the integer network."""
    g = small_cnn(neuron="if")
    run = tmp_path / "run"
    import_nir(_write(g, tmp_path / "g.nir"), run)
    assert main(["export", "--run", str(run), "--no-progress"]) == 0
    net = IntNet.load(run / "intnet.npz")
    p = export_int_nir(net, tmp_path / "q.nir", DT)
    x = _spikes(n=32).astype(np.int64)
    want = ref.run(net, x)
    got = simulate(nir.read(str(p)), x.astype(np.float64), DT).sum(1)
    np.testing.assert_array_equal(np.rint(got / net.layers[-1].w_scale[0]).astype(np.int64), want.readout)


def test_export_nir_refuses_subtract_reset(tmp_path, capsys):
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"epochs": 1, "time_steps": 2}, "neuron": {"reset": "subtract"},
                                   "model": {"layers": [4, "M"]}, "dataset": {"train_limit": 100, "test_limit": 32}}))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["export", "--run", str(run), "--no-progress", "--nir"]) == 2
    err = capsys.readouterr().err
    assert "subtract" in err and "NIR" in err and not (run / "export.json").exists()


# ---- the judged path: import -> QONNX -> HLS -> C-simulation ---------------------------------------
@pytest.mark.slow
def test_imported_cnn_csim_spike_exact(tmp_path, capsys):
    g = small_cnn(neuron="lif")
    run = tmp_path / "run"
    assert main(["import", "--nir", str(_write(g, tmp_path / "g.nir")), "--out", str(run)]) == 0
    assert main(["export", "--run", str(run), "--no-progress"]) == 0
    assert json.loads((run / "export.json").read_text())["qonnx_mismatches"] == 0
    prj = tmp_path / "prj"
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(prj)]) == 0
    assert main(["csim", "--project", str(prj)]) == 0
    r = json.loads((prj / "csim.json").read_text())
    assert r["spike_mismatches"] == 0 and r["readout_mismatches"] == 0
