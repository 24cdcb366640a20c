"""The C-simulation integer types (hls/cpp/nnet_spiking_types.h): spk::fint against ap_int / ap_uint.

The kernels are compiled with ``spk::int_t<W>`` / ``spk::uint_t<W>``: ``ap_int<W>`` / ``ap_uint<W>``
under ``__SYNTHESIS__``, a native integer with ap's semantics in C-simulation. These tests compile a
checker (tests/cpp/fast_types_check.cpp) that runs every operator the type offers on random and edge
operands next to ap_int / ap_uint and demands the same width, signedness and bits; and they build
one project both ways (``-DSPK_CSIM_AP_TYPES``: ap types in C-simulation too) and demand the same
readout, counters and spikes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.hls import csim as csim_mod  # noqa: E402

CHECKER = Path(__file__).parent / "cpp" / "fast_types_check.cpp"
CPP = Path(csim_mod.__file__).resolve().parent / "cpp"
# every width class: 1-bit, the storage boundaries 8 / 16 / 32 / 64 and their neighbours
SOME_WIDTHS = "1,2,3,4,5,7,8,9,15,16,17,31,32,33,47,63,64"


def _ap_types() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


def _check(tmp_path: Path, widths: str | None, partners: bool, samples: int, seed: int) -> str:
    exe = tmp_path / "fast_types_check"
    cmd = ["g++", "-O0", "-std=c++11", "-w", f"-I{_ap_types()}", f"-I{CPP}", str(CHECKER), "-o", str(exe)]
    if widths:
        cmd.insert(1, f"-DSPK_WIDTHS={widths}")
    if partners:
        cmd.insert(1, "-DSPK_PARTNERS")
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    # ap prints warnings of its own (bit-size mismatches of &= etc.) to stderr: only stdout counts
    p = subprocess.run([str(exe), str(samples), str(seed)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:]
    assert p.stdout.startswith("ok "), p.stdout[-3000:]
    return p.stdout


def test_fast_types_agree_with_ap_int_on_random_operands(tmp_path):
    out = _check(tmp_path, SOME_WIDTHS, partners=True, samples=48, seed=1)
    assert int(out.split()[1]) > 500_000


@pytest.mark.slow
def test_fast_types_agree_with_ap_int_every_width_1_to_64(tmp_path):
    out = _check(tmp_path, None, partners=False, samples=96, seed=2)
    assert int(out.split()[1]) > 5_000_000


def test_synthesis_sees_ap_types_and_csim_sees_the_fast_ones():
    """Under __SYNTHESIS__ (and with SPK_CSIM_AP_TYPES) spk::int_t<W> is ap_int<W> itself."""
    src = r"""
#include <type_traits>
#include "nnet_spiking_types.h"
#if defined(__SYNTHESIS__) || defined(SPK_CSIM_AP_TYPES)
static_assert(std::is_same<spk::int_t<13>, ap_int<13> >::value, "int_t");
static_assert(std::is_same<spk::uint_t<1>, ap_uint<1> >::value, "uint_t");
#else
static_assert(std::is_same<spk::int_t<13>, spk::fint<13, true> >::value, "int_t");
static_assert(std::is_same<spk::uint_t<64>, spk::fint<64, false> >::value, "uint_t");
static_assert(std::is_same<spk::uint_t<65>, ap_uint<65> >::value, "wide: ap");
static_assert(sizeof(spk::int_t<14>) == 2 && sizeof(spk::uint_t<4>) == 1, "native storage");
#endif
int main() { return 0; }
"""
    for flags in ([], ["-DSPK_CSIM_AP_TYPES"]):
        subprocess.run(["g++", "-std=c++11", "-fsyntax-only", "-w", *flags, f"-I{_ap_types()}", f"-I{CPP}", "-x", "c++", "-"],
                       input=src, text=True, check=True, capture_output=True)
    # __SYNTHESIS__ cannot be compiled by g++ (ap's synthesis model); the alias is a textual fact
    text = (CPP / "nnet_spiking_types.h").read_text()
    head = text[text.index("#if defined(__SYNTHESIS__) || defined(SPK_CSIM_AP_TYPES)"):text.index("#else")]
    assert "typedef ap_int<W> type;" in head and "typedef ap_uint<W> type;" in head


@pytest.mark.slow
@pytest.mark.parametrize("par", [4, 16])  # 16 lanes: byte weights counted 8 at a time (spike_count_nonzero)
def test_csim_with_fast_types_equals_csim_with_ap_types(tmp_path, monkeypatch, par):
    """One project, compiled with the fast types and with ap_int / ap_uint: the same readout, spikes and
    event counters (synops included)."""
    from spikehls.cli import main
    from spikehls.quantize import reference as ref

    net = handmade_net(reset="subtract", leak_shift=1, encoding="rate")
    x = handmade_inputs(net, 16)
    run = write_run(net, tmp_path / "run", x)
    prj = tmp_path / "prj"
    assert main(["hls", "--run", str(run), "--board", "zcu104", "--out", str(prj), "--parallelism", str(par)]) == 0
    assert "spk::int_t<" in (prj / "firmware" / "defines.h").read_text()
    fast = csim_mod.simulate(prj, x, jobs=1)
    monkeypatch.setattr(csim_mod, "CXXFLAGS", csim_mod.CXXFLAGS + ["-DSPK_CSIM_AP_TYPES"])
    slow = csim_mod.simulate(prj, x, jobs=1)
    want = ref.run(net, x)
    np.testing.assert_array_equal(fast.readout, slow.readout)
    np.testing.assert_array_equal(fast.readout, want.readout)
    for k in fast.counters:
        np.testing.assert_array_equal(fast.counters[k], slow.counters[k])
    for k in fast.spikes:
        np.testing.assert_array_equal(fast.spikes[k], slow.spikes[k])
