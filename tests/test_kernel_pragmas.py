"""The kernels' synthesis claims are checked in the generated source (issue 13, item 1): every array
of every kernel is bound as the Verilog twin builds it (the style of
spikehls.hls.twin_cost.layer_memories, the one memory rule; a literal BIND_STORAGE impl, or a
complete partition for registers) and the twin's ram_style / rom_style of the same array says
the same; every data-dependent loop has a LOOP_TRIPCOUNT from the config, and every DEPENDENCE
pragma carries its reason next to it. Projects are generated, not compiled (but for one
C-simulation of a block-RAM accumulator design, marked slow)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import block_ram_net, direct_dense_net, fill_board, handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.hls.memory import block_fill, has_uram, memory_style  # noqa: E402
from spikehls.hls.report_run import project_fill  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402
from spikehls.hls.twin_cost import layer_memories  # noqa: E402
from spikehls.hls.templates import TWIN_ARRAY  # noqa: E402

CPP = Path(__file__).resolve().parents[1] / "hls" / "cpp"
# what each style means in the kernels' text: the BIND_STORAGE impl, or a complete partition
IMPL = {"distributed": "lutram", "block": "bram", "ultra": "uram"}

# the arrays each kernel declares or takes, and the binder each goes through (the I/O spike
# arrays are the top function's)
ROMS = ["offsets", "groups", "weights", "bias"]
CONV_ARRAYS = {"acc": "bind_lanes", "v": "bind_word", **{a: "bind_ram" for a in ("ev_c", "ev_y", "ev_x", "ev_m", "ev_v", "n_ev_c")},
               **{a: "bind_rom" for a in ROMS + ["thr", "breaks", "trains", "skip_offsets", "skip_groups", "skip_weights"]}}
DENSE_ARRAYS = {"acc": "bind_lanes", "v": "bind_word", **{a: "bind_ram" for a in ("ev_w", "ev_m", "ev_v")},
                **{a: "bind_rom" for a in ROMS + ["thr", "breaks", "trains"]}}
READOUT_ARRAYS = {"acc": "bind_lanes", **{a: "bind_ram" for a in ("ev_w", "ev_m", "ev_v")}, **{a: "bind_rom" for a in ROMS}}
KERNELS = {"SpikingConv2D": ("spiking_conv2d_core", CONV_ARRAYS), "SpikingDense": ("spiking_dense_core", DENSE_ARRAYS),
           "SpikeReadout": ("spike_readout", READOUT_ARRAYS)}
# the twin's memories (hls/rtl/verilog.py) by their layer_memories name
TWIN_RAM = {"acc_mem_0": "acc", "v_mem": "membranes"}
TWIN_ROM = {"off_rom": "offsets", "tbl_rom": "table", "bias_rom": "bias", "soff_rom": "skip_offsets", "stbl_rom": "skip_table",
            "thr_rom": "thresholds", "brk_rom": "fire_tables", "trn_rom": "fire_tables"}
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


def _configs(parameters: str) -> dict[str, list[tuple[str, str]]]:
    """``{class name: [(layer name, struct text)]}`` of every spiking layer config in ``parameters.h``."""
    out: dict[str, list[tuple[str, str]]] = {}
    for m in re.finditer(r"struct config\d+ \{\n    // (\w+) '([^']*)'\n(.*?)\n\};", parameters, re.S):
        out.setdefault(m.group(1), []).append((m.group(2), m.group(3)))
    return out


def _binders(common: str) -> dict[tuple[str, str], str]:
    """``{(binder, style): what it does}`` from nnet_spiking_common.h: ``impl=<x>`` of its
    BIND_STORAGE, ``complete`` for a complete partition without one, ``refused`` for a static_assert."""
    out = {}
    for m in re.finditer(r"SPK_INLINE void (bind_\w+)\([^)]*mem_tag<mem_(\w+)>\) \{\n(.*?)\n\}", common, re.S):
        body = m.group(3)
        impl = re.findall(r"#pragma HLS BIND_STORAGE variable = a type = (\w+) impl = (\w+)", body)
        if "static_assert" in body:
            out[(m.group(1), m.group(2))] = "refused"
        elif impl:
            assert len(impl) == 1, body
            out[(m.group(1), m.group(2))] = f"{impl[0][0]} {impl[0][1]}"
        else:
            assert re.search(r"ARRAY_PARTITION variable = a complete dim = 0", body), body
            out[(m.group(1), m.group(2))] = "complete"
    return out


def _generate(tmp: Path, net, board: str, par: int, n: int = 3) -> Path:
    run = write_run(net, tmp / "run", handmade_inputs(net, n))
    generate_project(run / "model.qonnx.onnx", board, tmp / "prj", testvectors=run / "testvectors.npz", parallelism=par)
    return tmp / "prj"


# small designs (every array LUTRAM or registers) and large ones (block RAM accumulators, membranes
# and a dense layer's chunk table; on a URAM part the membranes in URAM)
PROJECTS = ["rate-P4", "rate-P1", "direct-P2", "direct-dense", "block-pynq-z2", "block-zcu104",
            # a board whose hls.block_ram_min_fill is 0: every registered-read array in block RAM
            "fill0-direct-P2", "fill0-rate-P4"]



@pytest.fixture(scope="module", params=PROJECTS)
def project(request, tmp_path_factory) -> Path:
    kind = request.param
    tmp = tmp_path_factory.mktemp(kind)
    if kind.startswith("block"):
        return _generate(tmp, block_ram_net(hw=(64, 64), dense=16), kind.split("-", 1)[1], 4, n=2)
    if kind == "direct-dense":
        return _generate(tmp, direct_dense_net(T=4), "pynq-z2", 4, n=5)
    if kind.startswith("fill0"):
        net = handmade_net(encoding="direct" if "direct" in kind else "rate")
        return _generate(tmp, net, fill_board(tmp, 0), int(kind.split("-P")[1]), n=5)
    net = handmade_net(encoding="direct" if kind.startswith("direct") else "rate")
    return _generate(tmp, net, "pynq-z2", int(kind.split("-P")[1]), n=5)


def _const(struct: str, name: str) -> str:
    m = re.search(r"\b" + name + r" = ([\w:]+)", struct)
    assert m, f"config lacks {name}"
    return m.group(1)


def _twin_styles(prj: Path) -> dict[str, dict[str, str]]:
    """``{layer: {layer_memories name: style}}`` as the Verilog twin writes them (ram_style /
    rom_style attributes of the generated modules; for a distributed ROM, what Vivado reads)."""
    from spikehls.hls.rtl.generate import generate_rtl

    layout = generate_rtl(prj, prj / "rtl_check")
    out: dict[str, dict[str, str]] = {}
    for lyr in layout["layers"]:
        text = (prj / "rtl_check" / f"{lyr['module']}.v").read_text()
        got = out.setdefault(lyr["name"], {})
        for m in re.finditer(r'\(\* ram_style = "(\w+)" \*\) reg \[[^]]*\] (\w+) \[', text):
            if m.group(2) in TWIN_RAM:
                got[TWIN_RAM[m.group(2)]] = m.group(1)
        for m in re.finditer(r'(?:`else\n)?\s*\(\* rom_style = "(\w+)" \*\)\n(?:`endif\n)?\s*reg \[[^]]*\] (\w+) \[', text):
            if m.group(2) in TWIN_ROM:
                got[TWIN_ROM[m.group(2)]] = m.group(1)
        # a deep logic ROM is a module of its own, <layer module>_<rom> (rtl.verilog.RomSet), its array ``m``
        for part in re.split(rf"^(?=module {lyr['module']}_\w+ \()", text, flags=re.M)[1:]:
            rom = re.match(rf"module {lyr['module']}_(\w+) \(", part).group(1)
            m = re.search(r'(?:`else\n)?\s*\(\* rom_style = "(\w+)" \*\)\n(?:`endif\n)?\s*reg \[[^]]*\] m \[', part)
            if m and rom in TWIN_ROM:
                got[TWIN_ROM[rom]] = m.group(1)
    return out


def test_every_array_is_bound_as_the_twin_builds_it(project):
    from spikehls.hls.csim import load_meta
    from spikehls.hls.rtl.generate import project_geometry

    src = (project / "firmware" / "nnet_utils" / "nnet_spiking.h").read_text()
    common = (project / "firmware" / "nnet_utils" / "nnet_spiking_common.h").read_text()
    binders = _binders(common)
    params = (project / "firmware" / "parameters.h").read_text()
    configs = _configs(params)
    assert configs, "no spiking layer config in parameters.h"
    meta = load_meta(project)
    source = {lyr["name"]: lyr["source_name"] for lyr in meta["layers"]}
    _, geos, _ = project_geometry(project)
    ultra = has_uram(meta["board"]["part"])
    with block_fill(project_fill(meta)):  # the threshold the project was bound with
        twin_mems = {g.name: layer_memories(g, 1, ultra) for g in geos}
    twin_attr = _twin_styles(project)
    seen = set()
    for cls, structs in configs.items():
        if cls not in KERNELS:
            continue
        kernel, arrays = KERNELS[cls]
        body = _body(src, kernel)
        for name, struct in structs:
            mems = twin_mems[source[name]]
            attrs = twin_attr[source[name]]
            # the twin's Verilog names a style for each of its RAMs and chunk tables
            assert {"acc", "table", "offsets", "bias"} <= set(attrs) and ("membranes" in attrs) == ("membranes" in mems), attrs
            has_skip = _const(struct, "has_skip") == "true" if cls == "SpikingConv2D" else False
            for arr, binder in arrays.items():
                m = re.search(rf"static const nnet::mem_style {arr}_mem = nnet::mem_(\w+); // (\w+): (.*)", struct)
                assert m, f"{cls}: config lacks the storage decision of {arr}"
                style, style_c, shape = m.groups()
                assert style == style_c, (cls, arr)
                twin = TWIN_ARRAY.get(arr[5:] if arr.startswith("skip_") and not has_skip else arr)
                if twin in mems:  # the twin's array: the twin's style, and the twin's Verilog says it
                    assert style == mems[twin].style, (name, arr, style, mems[twin])
                    if twin in attrs:
                        assert attrs[twin] == style, (name, arr, attrs[twin], style)
                    seen.add(style)
                else:  # the kernels' own (the scan lists) or never read here: the rule, read in the cycle
                    w, d = re.match(r"(\d+) b x (\d+)", shape).groups()
                    assert style == memory_style(int(w), int(d), rom=shape.endswith("ROM"), sync_read=False), (name, arr)
                # the kernel binds the array through the binder of its kind, with the config's tag ...
                calls = re.findall(rf"\b(bind_\w+)\({arr}, mem_tag<CONFIG_T::{arr}_mem>\(\)\);", body)
                assert calls == [binder], f"{kernel}: {arr} needs exactly one {binder}, has {calls}"
                # ... whose overload for that style says it literally
                does = binders[(binder, style)]
                if style == "registers":
                    assert does == "complete", (kernel, arr, does)
                else:
                    typ, impl = does.split()
                    assert impl == IMPL[style], (kernel, arr, does, style)
                    assert typ == ("rom_2p" if binder == "bind_rom" else "ram_2p"), (kernel, arr, typ)
            if cls == "SpikingConv2D":  # forwarding exactly where the accumulators read a cycle late
                fwd = mems["acc"].style in ("block", "ultra")
                assert _const(struct, "acc_forward") == ("true" if fwd else "false"), name
    # no kernel still binds an array by hand, or refuses a block RAM
    for header in ("nnet_spiking.h", "nnet_spiking_direct.h"):
        text = (project / "firmware" / "nnet_utils" / header).read_text()
        assert "BIND_STORAGE" not in text and "SPK_STORAGE_CHECK" not in text, header
    if "block" in project.parent.name:
        assert "block" in seen
        assert ("ultra" in seen) == ("zcu104" in str(project)), seen
    if "fill0" in project.parent.name:  # the board's threshold reached the kernels, the twin and its record
        assert meta["board"]["block_ram_min_fill"] == 0 and "block" in seen, seen


def test_binders_say_every_style_literally():
    common = (CPP / "nnet_spiking_common.h").read_text()
    b = _binders(common)
    for binder in ("bind_lanes", "bind_word"):
        assert [b[(binder, s)] for s in ("registers", "distributed", "block", "ultra")] == \
            ["complete", "ram_2p lutram", "ram_2p bram", "ram_2p uram"]
    assert [b[("bind_rom", s)] for s in ("registers", "distributed", "block", "ultra")] == \
        ["complete", "rom_2p lutram", "rom_2p bram", "refused"]  # a ROM in URAM has no contents
    assert [b[("bind_ram", s)] for s in ("registers", "distributed")] == ["complete", "ram_2p lutram"]
    assert "latency = 1" in common  # the read latency the forwarding window assumes


@pytest.mark.slow
def test_block_ram_accumulators_csim_exactly(tmp_path):
    """A conv whose accumulators and membranes are block RAM, events back to back with a kernel
    row per cycle (b2b_distance 3): neighbouring active inputs of one row hit one accumulator word
    3 iterations apart, inside the forwarding window. C-simulation lands every forwarded write
    only when it leaves the window, so an exact run proves the forwards, not the C memory."""
    from spikehls.hls.csim import csim

    prj = _generate(tmp_path, block_ram_net(hw=(32, 64)), "pynq-z2", 4, n=3)
    params = (prj / "firmware" / "parameters.h").read_text()
    conv = _configs(params)["SpikingConv2D"][0][1]
    assert _const(conv, "acc_mem") == "nnet::mem_block" and _const(conv, "v_mem") == "nnet::mem_block"
    assert _const(conv, "acc_forward") == "true" and _const(conv, "back_to_back") == "true"
    assert _const(conv, "b2b_distance") == "3" and _const(conv, "ev_distance") == "4"
    r = csim(prj)
    assert r["samples"] == 3 and r["exact"], r
    assert r["spike_mismatches"] == 0 and r["readout_mismatches"] == 0


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
        for _, struct in structs:
            if cls not in KERNELS:
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


def test_spike_tensors_are_bound_as_the_twins_buffers(project):
    """Every spike tensor between layers carries a BIND_STORAGE in the top function, with the impl
    of the style the twin's buffer memory has (twin_cost.spike_buffer_plan: block RAM behind a
    registered read for a deep buffer its consumer alone reads) and the readers the twin counts."""
    from spikehls.hls.estimate import output_readers
    from spikehls.hls.rtl.generate import generate_rtl, project_geometry

    layout = generate_rtl(project, project / "rtl_buf")
    _, geos, _ = project_geometry(project)
    readers = output_readers(geos)
    want = []
    for lyr, g in zip(layout["layers"], geos):
        if g.kind == "readout":
            continue
        text = (project / "rtl_buf" / f"{lyr['module']}.v").read_text()
        styles = set(re.findall(r'\(\* ram_style = "(\w+)" \*\) reg \[[^]]*\] mem \[', text))
        assert len(styles) == 1, (g.name, styles)
        style = styles.pop()
        if style != "registers":
            want.append((IMPL[style], readers[g.name]))
    top = next((project / "firmware").glob("myproject.cpp")).read_text()
    got = [(impl, int(n)) for impl, n in re.findall(
        r"#pragma HLS BIND_STORAGE variable=layer\d+_out type=ram_s2p impl=(\w+) // spikehls memory rule: \w+, (\d+) reader", top)]
    assert got == want and want, (got, want)
    if "block" in project.parent.name:  # the 64 x 64 conv's buffer: block RAM behind a registered read
        assert ("bram", 1) in got, got
