"""The residual stream in hardware: HLS kernels (C-simulation), the cost model and the Verilog twin.

Random pre-activation residual nets (``quantize/random_net.py: random_preresnet_intnet``: identity
and projection shortcuts, signs in {-1, 0, +1}, all encodings) must be spike-exact in the
C-simulation and in Verilator; a layer whose residual fields are trivial builds the firmware of the
plain layer, byte for byte. Compiles and Verilator builds are slow, except one small C-simulation.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import write_run  # noqa: E402

from spikehls.boards import load_board  # noqa: E402
from spikehls.hls.csim import csim, simulate  # noqa: E402
from spikehls.hls.estimate import estimate  # noqa: E402
from spikehls.hls.geometry import net_geometry  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402
from spikehls.hls.transforms import clean_graph, intnet_from_clean  # noqa: E402
from spikehls.quantize import reference as ref  # noqa: E402
from spikehls.quantize.intnet import SpikingConv2d  # noqa: E402
from spikehls.quantize.qonnx_export import build_qonnx, intnets_equal  # noqa: E402
from spikehls.quantize.random_net import random_inputs, random_intnet, random_preresnet_intnet  # noqa: E402

HAVE_VERILATOR = shutil.which("verilator") is not None
KERNELS = Path(__file__).resolve().parents[1] / "hls" / "cpp"


def _net(seed: int):
    rng = np.random.default_rng(seed)
    net = random_preresnet_intnet(rng)
    return net, random_inputs(rng, net, 8)


def _project(tmp_path: Path, net, x, par: int, board: str = "pynq-z2") -> Path:
    run = write_run(net, tmp_path / "run", x)
    generate_project(run / "model.qonnx.onnx", board, tmp_path / "prj", testvectors=run / "testvectors.npz", parallelism=par)
    return tmp_path / "prj"


def _streams(net, x) -> dict[str, np.ndarray]:
    """Every stream layer's z over the batch, from the reference's layer kernels."""
    outs, streams, cur = {"input": x}, {}, x
    for lyr in net.layers[:-1]:
        if isinstance(lyr, SpikingConv2d):
            skip_x = outs[lyr.skip.source] if lyr.skip is not None else None
            res_z = streams.get(lyr.residual) if lyr.residual is not None else None
            cur, streams[lyr.name] = ref.spiking_conv2d(cur, lyr, skip_x, res_z, return_stream=True)
        else:
            cur = ref.spike_maxpool2d(cur, lyr)
        outs[lyr.name] = cur
    return streams


# ---- fast: geometry, clean graph, cost model, generated source ----------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_stream_widths_hold_every_stream_and_current(seed):
    """acc_lo/acc_hi bound z (the residual source's range included), cur_lo/cur_hi bound bias + sign*z."""
    net, _ = _net(seed)
    x = random_inputs(np.random.default_rng(seed + 100), net, 32)
    z = _streams(net, x)
    geos = {g.name: g for g in net_geometry(net, {})}
    streamed = 0
    for lyr in net.layers:
        g = geos[lyr.name]
        if not isinstance(lyr, SpikingConv2d) or not g.z_current:
            continue
        streamed += 1
        zz = z[lyr.name]
        assert g.acc_lo <= zz.min() and zz.max() <= g.acc_hi
        assert -(2 ** (g.acc_bits - 1)) <= g.acc_lo and g.acc_hi < 2 ** (g.acc_bits - 1)
        cur = lyr.bias.reshape(1, 1, -1, 1, 1) + lyr.signs.reshape(1, 1, -1, 1, 1) * zz
        assert g.cur_lo <= cur.min() and cur.max() <= g.cur_hi < 2 ** (g.cur_bits - 1)
        if lyr.residual is not None:
            src = geos[lyr.residual]
            assert g.acc_lo <= src.acc_lo and src.acc_hi <= g.acc_hi  # the reader's z holds the source's
            assert src.writes_stream and src.z_banks % src.fire_lanes == 0 and src.z_banks % g.fire_lanes == 0
            assert g.residual_banks == src.z_banks
        assert not g.fire_once  # a stream layer fires per step: it writes its stream at every step
    assert streamed >= 1


def test_trivial_fields_are_the_plain_layer():
    """residual None and current_sign all +1 (explicitly) is the plain conv: same geometry."""
    net = random_intnet(np.random.default_rng(9))
    plain = net_geometry(net, {})
    for lyr in net.layers:
        if isinstance(lyr, SpikingConv2d):
            lyr.current_sign = np.ones(lyr.weight.shape[0], np.int64)
    assert net_geometry(net, {}) == plain
    assert not any(g.z_current for g in plain)


@pytest.mark.parametrize("seed", [2, 3, 6, 14])
def test_clean_graph_keeps_residual_and_signs(seed):
    net, _ = _net(seed)
    back = intnet_from_clean(clean_graph(build_qonnx(net)), net.encoding)
    back.validate()
    assert intnets_equal(back, net)


def test_clean_graph_refuses_a_residual_that_is_not_a_stream():
    from spikehls.errors import SpikehlsError

    net, _ = _net(2)
    model = build_qonnx(net)
    reader = next(n for n in model.graph.node if any(a.name == "has_residual" and a.i for a in n.attribute))
    spikes_of_stem = next(n for n in model.graph.node if n.name == "stem").output[0]
    reader.input[-1] = spikes_of_stem
    with pytest.raises(SpikehlsError, match="residual input .* is not the stream output of an earlier conv"):
        clean_graph(model)


def test_cost_model_prices_the_stream():
    net, _ = _net(14)
    est = estimate(net, load_board("pynq-z2"), 4)
    geos = {g.name: g for g in net_geometry(net, {n.name: 4 for n in net.layers})}
    for le in est.per_layer:
        g = geos[le.name]
        br = le.detail.get("breakdown", {})
        assert ("LUT.stream_current" in br) == g.z_current
        assert ("LUTRAM.stream" in br) == g.writes_stream
        if g.writes_stream:
            assert br["LUTRAM.stream"] > 0
    # a residual reader's init pass is channel-major: C x W cycles, not G x W
    reader = next(g for g in geos.values() if g.residual_source is not None)
    plain = dataclasses.replace(reader, residual_source=None)
    from spikehls.hls import twin_cost

    lyr = next(x for x in net.layers if x.name == reader.name)
    assert twin_cost.cycles(reader, lyr.weight)[0] - twin_cost.cycles(plain, lyr.weight)[0] == (
        reader.channels * reader.plane_words - reader.acc_depth)


def test_sign_is_a_select_never_a_multiply():
    src = re.sub(r"//[^\n]*", "", (KERNELS / "nnet_spiking.h").read_text())
    body = re.search(r"neuron_current\([^{]*\{(.*?)\n\}", src, re.S).group(1)
    assert "*" not in body and "bz + zz" in body and "bz - zz" in body


def test_project_lanes_and_stream_buffers(tmp_path):
    """The generated project: stream layers call the stream kernels with the geometry's z_banks;
    the stream buffer is partitioned by z_banks; the other layers are unchanged."""
    net, x = _net(6)
    prj = _project(tmp_path, net, x, 4)
    params = (prj / "firmware" / "parameters.h").read_text()
    top = (prj / "firmware" / "myproject.cpp").read_text()
    geos = {g.name: g for g in net_geometry(net, {lyr.name: 4 for lyr in net.layers})}
    meta = json.loads((prj / "spikehls.json").read_text())
    for lyr in meta["layers"]:
        g = geos[lyr["source_name"]]
        body = re.search(rf"struct config{lyr['index']} \{{(.*?)\n\}};", params, re.S).group(1)
        assert ("z_current = true" in body) == g.z_current
        if g.z_current:
            assert f"z_banks = {g.z_banks};" in body and f"spk::int_t<{g.cur_bits}> cur_t" in body
            call = "_stream_conv2d_write<" if g.writes_stream else "_stream_conv2d<"
            assert re.search(rf"nnet::(spiking|direct){call}[^\n]*// {lyr['name']}", top)
        if g.writes_stream:
            zvar = f"layer{lyr['index']}_z"
            assert re.search(rf"{zvar}\[{net.time_steps * g.n_out}\]", top)
            if g.z_banks > 1:
                assert f"variable={zvar} cyclic factor={g.z_banks}" in top


def test_explicit_trivial_signs_build_identical_firmware(tmp_path):
    """current_sign all +1 and no residual: the firmware of the plain net, byte for byte."""
    rng = np.random.default_rng(14)
    net = random_intnet(rng)
    x = random_inputs(rng, net, 4)
    a = _project(tmp_path / "a", net, x, 4)
    for lyr in net.layers:
        if isinstance(lyr, SpikingConv2d):
            lyr.current_sign = np.ones(lyr.weight.shape[0], np.int64)
    b = _project(tmp_path / "b", net, x, 4)
    for f in sorted((a / "firmware").rglob("*")):
        if f.is_file() and "nnet_utils" not in f.parts and "ap_types" not in f.parts:
            assert f.read_bytes() == (b / f.relative_to(a)).read_bytes(), f.relative_to(a)


def test_small_preresnet_csim_exact(tmp_path):
    """One small stream net compiled and C-simulated (the fast check): spike-exact on every layer."""
    net, x = _net(2)
    prj = _project(tmp_path, net, x, 3)
    r = csim(prj)
    assert r["samples"] == 8 and r["exact"] and r["spike_mismatches"] == 0 and r["readout_mismatches"] == 0


# ---- slow: C-simulation and Verilator on many random stream nets --------------------------------
# seeds of random_preresnet_intnet: identity chains (3 blocks), projections with stride 2, mixed
# skip + residual, direct encoding (a pixel stem writing the stream), T = 1, max pools
CSIM_CASES = [(3, 1), (4, 8), (6, 4), (7, 16), (8, 2), (10, 5), (11, 3), (12, 6), (14, 4), (15, 12)]
RTL_CASES = [(2, 3), (3, 1), (8, 6), (14, 4)]


@pytest.mark.slow
@pytest.mark.parametrize("seed,par", CSIM_CASES)
def test_random_preresnet_csim_equals_reference(seed, par, tmp_path):
    net, x = _net(seed)
    prj = _project(tmp_path, net, x, par)
    r = csim(prj)
    assert r["exact"] and r["spike_mismatches"] == 0 and r["readout_mismatches"] == 0
    sim = simulate(prj, x)  # and against a fresh reference, layer by layer
    want = ref.run(net, x)
    np.testing.assert_array_equal(sim.readout, want.readout)
    for lyr in net.layers[:-1]:
        np.testing.assert_array_equal(sim.spikes[lyr.name], want.spikes[lyr.name])


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_VERILATOR, reason="Verilator not installed")
@pytest.mark.parametrize("seed,par", RTL_CASES)
def test_random_preresnet_rtl_equals_reference_and_the_cycle_model(seed, par, tmp_path):
    from spikehls.hls.report_run import project_net, read_events
    from spikehls.hls.rtl.generate import generate_rtl
    from spikehls.hls.rtl.sim import rtlsim

    net, x = _net(seed)
    prj = _project(tmp_path, net, x, par)
    c = csim(prj)
    layout = generate_rtl(prj)
    assert {s["name"] for s in layout.get("streams", [])} == net.stream_sources()
    r = rtlsim(prj)
    assert r["exact"] and r["spike_mismatches"] == 0 and r["readout_mismatches"] == 0, r["first_mismatch"]
    # the twin's schedule (hls/twin_cost.py) on the C-simulation's counts (what 'spikehls report'
    # reads): within 1 % of Verilator -- the channel-major init of a residual reader included
    assert c["exact"]
    meta = json.loads((prj / "spikehls.json").read_text())
    events = read_events(prj, {lyr["source_name"]: lyr["name"] for lyr in meta["layers"]})
    est = estimate(project_net(prj, meta), load_board("pynq-z2"), par, events)
    assert abs(float(est.cycles_activity) - r["cycles"]["mean"]) <= 0.01 * r["cycles"]["mean"]
