"""The kernels' synthesis claims are checked in the generated source (issue 13, item 1): every array
of every kernel is bound (BIND_STORAGE, with the impl of spikehls.hls.geometry.memory_style, and
its word-dimension partition), every data-dependent loop has a LOOP_TRIPCOUNT from the config,
and every DEPENDENCE pragma carries its reason next to it. Projects are generated, not compiled."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import direct_dense_net, handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.hls.geometry import memory_style  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402

CPP = Path(__file__).resolve().parents[1] / "hls" / "cpp"
IMPL = {"distributed": "lutram", "block": "bram"}

# the arrays each kernel declares or takes (the I/O spike arrays are the top function's)
CONV_ARRAYS = ["acc", "v", "ev_c", "ev_y", "ev_x", "ev_m", "ev_v", "n_ev_c", "offsets", "groups", "weights", "bias",
               "thr", "breaks", "trains", "skip_offsets", "skip_groups", "skip_weights"]
DENSE_ARRAYS = ["acc", "v", "ev_w", "ev_m", "ev_v", "offsets", "groups", "weights", "bias", "thr", "breaks", "trains"]
READOUT_ARRAYS = ["acc", "ev_w", "ev_m", "ev_v", "offsets", "groups", "weights", "bias"]
KERNELS = {"spiking_conv2d_core": CONV_ARRAYS, "spiking_dense_core": DENSE_ARRAYS, "spike_readout": READOUT_ARRAYS}
CONFIG_OF = {"SpikingConv2D": CONV_ARRAYS, "SpikingDense": DENSE_ARRAYS, "SpikeReadout": READOUT_ARRAYS}
# the data-dependent loops and the config trip counts they must name
TRIP_LOOPS = {"RowChunks": "row_trip", "EventsOneGroup": "ev_trip", "Events": "ev_trip", "EvFlat": "chan_trip"}


def _body(src: str, fn: str) -> str:
    """Text of the definition of function template ``fn`` (from its name to the matching brace)."""
    m = re.search(r"\n(?:SPK_INLINE |inline )?void " + fn + r"\(", src)
    assert m, fn
    i = src.index("{", m.end())
    depth = 0
    for j in range(i, len(src)):
        depth += {"{": 1, "}": -1}.get(src[j], 0)
        if depth == 0:
            return src[m.start():j + 1]
    raise AssertionError(fn)


def _configs(parameters: str) -> dict[str, str]:
    """``{class name: struct text}`` of every spiking layer config in ``parameters.h`` (first of each kind)."""
    out: dict[str, list[str]] = {}
    for m in re.finditer(r"struct config\d+ \{\n    // (\w+) '[^']*'\n(.*?)\n\};", parameters, re.S):
        out.setdefault(m.group(1), []).append(m.group(2))
    return out


@pytest.fixture(scope="module", params=["rate-P4", "rate-P1", "direct-P2", "direct-dense"])
def project(request, tmp_path_factory) -> Path:
    kind = request.param
    tmp = tmp_path_factory.mktemp(kind)
    if kind == "direct-dense":
        net = direct_dense_net(T=4)
        par = 4
    else:
        net = handmade_net(encoding="direct" if kind.startswith("direct") else "rate")
        par = int(kind.split("-P")[1])
    inputs = handmade_inputs(net, 5)
    run = write_run(net, tmp / "run", inputs)
    generate_project(run / "model.qonnx.onnx", "pynq-z2", tmp / "prj", testvectors=run / "testvectors.npz",
                     parallelism=par)
    return tmp / "prj"


def _const(struct: str, name: str) -> str:
    m = re.search(r"\b" + name + r" = ([\w:]+)", struct)
    assert m, f"config lacks {name}"
    return m.group(1)


def test_every_array_is_bound_by_the_rule(project):
    src = (project / "firmware" / "nnet_utils" / "nnet_spiking.h").read_text()
    params = (project / "firmware" / "parameters.h").read_text()
    configs = _configs(params)
    assert configs, "no spiking layer config in parameters.h"
    for cls, structs in configs.items():
        if cls not in CONFIG_OF:
            continue
        kernel = next(k for k, v in KERNELS.items() if v is CONFIG_OF[cls])
        body = _body(src, kernel)
        for struct in structs:
            for arr in CONFIG_OF[cls]:
                m = re.search(rf"static const nnet::mem_style {arr}_mem = nnet::mem_(\w+); static const unsigned "
                              rf"{arr}_part = (\d+); // (\w+): (\d+) b x (\d+)( ROM)?", struct)
                assert m, f"{cls}: config lacks the storage decision of {arr}"
                style, part, style_c, width, depth, rom = m.groups()
                # the config holds the rule's decision for the array's geometry
                # (the kernels read every array in the cycle of the add: the rule's asynchronous read)
                assert style == style_c == memory_style(int(width), int(depth), rom=bool(rom), sync_read=False), (cls, arr)
                assert int(part) == (int(depth) if style == "registers" else 1), (cls, arr)
                # the kernel binds the array with the impl the rule's decision means, and checks it
                binds = re.findall(rf"#pragma HLS BIND_STORAGE variable = {arr} type = (\w+) impl = (\w+)", body)
                assert len(binds) == 1, f"{kernel}: {arr} needs exactly one BIND_STORAGE, has {binds}"
                typ, impl = binds[0]
                assert typ.startswith("rom" if rom else "ram"), (kernel, arr, typ)
                if style != "registers":
                    assert impl == IMPL[style], (kernel, arr, impl, style)
                assert f"SPK_STORAGE_CHECK(CONFIG_T, {arr});" in body, (kernel, arr)
                if not rom:  # RAMs: their word dimension is partitioned by the rule's factor
                    assert re.search(rf"ARRAY_PARTITION variable = {arr} cyclic factor = CONFIG_T::{arr}_part dim = \d",
                                     body), (kernel, arr)


def test_data_dependent_loops_have_tripcounts(project):
    src = (project / "firmware" / "nnet_utils" / "nnet_spiking.h").read_text()
    params = (project / "firmware" / "parameters.h").read_text()
    for label, prefix in TRIP_LOOPS.items():
        hits = [m.start() for m in re.finditer(rf"\n\s*{label}:\n", src)]
        assert hits, label
        for at in hits:
            head = src[at:at + 1200]
            head = head[: head.index("{") + 400]
            assert re.search(rf"LOOP_TRIPCOUNT min = (0|CONFIG_T::{prefix}_min) max = CONFIG_T::{prefix}_max "
                             rf"avg = CONFIG_T::{prefix}_avg", head), f"{label} lacks its LOOP_TRIPCOUNT"
    # every config of a weighted layer defines the trip counts, measured on the test vectors (min <= avg <= max)
    for cls, structs in _configs(params).items():
        for struct in structs:
            if cls not in CONFIG_OF:
                continue
            assert "from the reference's activity on the test vectors" in struct, cls
            for prefix in ("ev_trip", "row_trip") + (("chan_trip",) if cls == "SpikingConv2D" else ()):
                lo, hi, avg = (int(_const(struct, f"{prefix}_{k}")) for k in ("min", "max", "avg"))
                assert 0 <= lo <= avg <= hi, (cls, prefix, lo, avg, hi)


def test_every_data_dependent_loop_bound_is_counted():
    """No loop runs to a run-time bound without a LOOP_TRIPCOUNT (the loops csynth would report as '?')."""
    src = (CPP / "nnet_spiking.h").read_text()
    static = {"R", "N_WORDS", "SEGS", "n"}  # compile-time constants (scan_words' n is CONFIG_T::n_in at every call)
    loops = re.findall(r"\n\s*(\w+):\n\s*for \([^;]*; \w+ <=? ([^;]+);", src)
    assert len(loops) > 20
    for label, bound in loops:
        names = [t for t in re.findall(r"[A-Za-z_][\w:]*", bound) if not t.startswith("CONFIG_T::")]
        if all(t in static for t in names):
            continue
        assert label in TRIP_LOOPS, f"loop {label} runs to '{bound}' (data-dependent) without a LOOP_TRIPCOUNT"


def test_every_dependence_pragma_is_justified():
    for header in sorted(CPP.glob("nnet_spiking*.h")):
        lines = header.read_text().splitlines()
        for i, line in enumerate(lines):
            if "#pragma HLS DEPENDENCE" not in line:
                continue
            # the comment block right above the pragma
            above, j = [], i - 1
            while j >= 0 and (lines[j].strip().startswith("//") or "#pragma HLS" in lines[j]):
                if lines[j].strip().startswith("//"):
                    above.insert(0, lines[j].strip().lstrip("/").strip())
                j -= 1
            why = " ".join(above)
            assert why, f"{header.name}:{i + 1}: DEPENDENCE without a justification comment"
            if "inter false" in line:
                assert "justified" in why and ("by construction" in why), f"{header.name}:{i + 1}: {why}"
            else:
                assert "distance" in line and "Distance bound" in why and "b2b_distance" in why, f"{header.name}:{i + 1}"


def test_back_to_back_distance_is_at_least_the_scatter_depth():
    from spikehls.hls.lanes import SCATTER_DEPTH, events_back_to_back

    for kh in range(1, 8):
        for kw in range(1, 8):
            for taps in {1, kw}:
                per_row = max(1, kw // taps)
                if events_back_to_back(kh, kw, taps):
                    assert (kh - 1) * per_row + 1 >= SCATTER_DEPTH
