"""Fast tests of the exact weight files (hls/weights.py): integers never pass through floats on
the way to a weight file, and C-simulation refuses a project whose .txt weights (what it loads)
differ from the .h initializers (what synthesis compiles). The g++ runs are in test_hls_csim.py."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import direct_dense_net, write_run  # noqa: E402

from spikehls.cli import main  # noqa: E402
from spikehls.errors import SpikehlsError  # noqa: E402
from spikehls.hls.csim import build_driver, csim  # noqa: E402
from spikehls.hls.project import generate_project  # noqa: E402
from spikehls.hls.weights import header_values, verify_weights, write_weight_files  # noqa: E402
from spikehls.quantize import reference as ref  # noqa: E402
from spikehls.quantize.intnet import IntNet  # noqa: E402
from spikehls.quantize.random_net import random_inputs  # noqa: E402


def _project(tmp_path: Path, T: int) -> tuple[IntNet, np.ndarray, Path]:
    net = direct_dense_net(T)
    x = random_inputs(np.random.default_rng(1), net, 8)
    run = write_run(net, tmp_path / "run", x)
    prj = tmp_path / "prj"
    generate_project(run / "model.qonnx.onnx", "pynq-z2", prj, testvectors=run / "testvectors.npz", parallelism=4)
    return net, x, prj


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.replace("ULL", "").split(",") if t.strip()]


def _trains_file(prj: Path) -> Path:
    params = (prj / "firmware" / "parameters.h").read_text()
    assert re.findall(r"fire_once = (true|false);", params)[0] == "true"
    (trn,) = sorted((prj / "firmware" / "weights").glob("trn*.txt"))
    return trn


@pytest.mark.parametrize("T", [56, 62])
def test_wide_spike_trains_are_written_exactly(tmp_path, T):
    """T >= 54: the trains are T-bit codes; .txt and .h hold exactly the table's integers (through
    float64 most lost their low bits and the all-ones train of T = 56 became 2^56, i.e. 0)."""
    net, x, prj = _project(tmp_path, T)
    trn = _trains_file(prj)
    txt = _ints(trn.read_text())
    hdr = [int(v) for v in header_values(trn.with_suffix(".h"))]
    assert txt == hdr
    assert max(txt) < 2**T and (2**T - 1) in txt  # the all-ones train, exact
    assert any(int(float(v)) != v for v in txt)  # values a float64 cannot hold: the case that broke
    # the files, read back as the kernel reads them, give the reference's spikes of every sample
    fc0 = net.layers[0]
    brk = np.array(_ints(next((prj / "firmware" / "weights").glob("brk*.txt")).read_text()), dtype=np.int64)
    co = fc0.weight.shape[0]
    breaks, trains = brk.reshape(co, -1), np.array(txt, dtype=object).reshape(co, -1)
    current = fc0.bias[None, :] + x[:, 0].reshape(len(x), -1).astype(np.int64) @ fc0.weight.T
    want = ref.run(net, x).spikes["fc0"]  # [N, T, C]
    for n in range(len(x)):
        for c in range(co):
            code = trains[c, int((current[n, c] >= breaks[c]).sum())]
            assert [(code >> t) & 1 for t in range(T)] == want[n, :, c].tolist()
    assert want.any() and not want.all()
    assert verify_weights(prj) > 0


def test_negated_weight_header_is_refused_before_csim(tmp_path, capsys):
    """Synthesis compiles the .h initializers, C-simulation loads the .txt: negating a header's values
    must stop csim with a one-line error naming the file (never EXACT), before any compile."""
    _, _, prj = _project(tmp_path, 4)
    wfile = next(p for p in sorted((prj / "firmware" / "weights").glob("w*.h")) if any(header_values(p)))
    text = wfile.read_text()
    head, body = text.rsplit("= {", 1)
    _, tail = body.split("}", 1)
    wfile.write_text(head + "= {" + ", ".join(str(-int(v)) for v in header_values(wfile)) + "}" + tail)
    with pytest.raises(SpikehlsError, match=re.escape(str(wfile))):
        verify_weights(prj)
    with pytest.raises(SpikehlsError, match="C-simulation would not check the synthesized weights"):
        build_driver(prj)
    with pytest.raises(SpikehlsError):
        csim(prj)
    assert main(["csim", "--project", str(prj)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and wfile.name in err[0] and "EXACT" not in err[0]
    assert not (prj / "csim.json").exists()


def test_txt_changed_or_missing_is_refused(tmp_path):
    _, _, prj = _project(tmp_path, 4)
    wdir = prj / "firmware" / "weights"
    b = next(p for p in sorted(wdir.glob("b*.txt")))
    vals = _ints(b.read_text())
    b.write_text(", ".join(str(v) for v in vals[:-1]))  # one entry short
    with pytest.raises(SpikehlsError, match=re.escape(str(b))):
        verify_weights(prj)
    # a header that holds its values inline (not an include of the .txt) and a .txt off by one
    h = b.with_suffix(".h")
    head, body = h.read_text().rsplit("= {", 1)
    h.write_text(head + "= {" + ", ".join(str(v) for v in vals) + "}" + body.split("}", 1)[1])
    b.write_text(", ".join(str(v + (i == 0)) for i, v in enumerate(vals)))  # off by one in entry 0
    with pytest.raises(SpikehlsError, match=r"entry 0"):
        verify_weights(prj)
    b.unlink()
    with pytest.raises(SpikehlsError, match="missing"):
        verify_weights(prj)


def test_included_txt_is_counted_and_a_non_integer_byte_refused(tmp_path):
    """A header that includes its .txt: verify_weights counts the entries (not parses them) and
    refuses a byte that cannot be part of a list of decimal integers, naming the file."""
    _, _, prj = _project(tmp_path, 4)
    wdir = prj / "firmware" / "weights"
    w = next(p for p in sorted(wdir.glob("w*.txt")) if f'#include "{p.name}"' in p.with_suffix(".h").read_text())
    good = w.read_text()
    assert verify_weights(prj) > 0
    w.write_text(good.replace(",", ", 0.5", 1))  # one entry too many, and not an integer
    with pytest.raises(SpikehlsError, match=re.escape(str(w)) + r".*'\.'"):
        verify_weights(prj)
    w.write_text(good + ", 3")
    with pytest.raises(SpikehlsError, match="declares"):
        verify_weights(prj)
    w.write_text(good)
    assert verify_weights(prj) > 0


class _Var:
    """What write_weight_files reads of an hls4ml WeightVariable."""

    def __init__(self, data, width, signed, name="trn9"):
        from hls4ml.model.types import IntegerPrecisionType

        self.name, self.data, self.shape = name, data, list(np.shape(data))
        self.type = type("T", (), {"precision": IntegerPrecisionType(width=width, signed=signed)})()

    def definition_cpp(self):
        return f"{self.name}_t {self.name}[{int(np.prod(self.shape))}]"


def test_weights_are_written_once_and_an_include_of_another_file_is_refused(tmp_path):
    """Plain-literal weights: the synthesis initializer includes the .txt C-simulation loads."""
    _, _, prj = _project(tmp_path, 4)
    wdir = prj / "firmware" / "weights"
    w = next(p for p in sorted(wdir.glob("w*.h")))
    assert f'#include "{w.stem}.txt"' in w.read_text() and "," not in w.read_text().split("= {", 1)[1].split("}")[0]
    assert [int(v) for v in header_values(w)] == _ints(w.with_suffix(".txt").read_text())
    other = next(p for p in sorted(wdir.glob("*.txt")) if p.stem != w.stem)
    w.write_text(w.read_text().replace(f'"{w.stem}.txt"', f'"{other.name}"'))
    with pytest.raises(SpikehlsError, match=re.escape(w.name)):
        verify_weights(prj)


def test_writer_64_bit_values_and_refusals(tmp_path):
    (tmp_path / "firmware" / "weights").mkdir(parents=True)
    vals = np.array([0, 2**53 + 1, 2**63 - 1, 2**64 - 1], dtype=np.uint64)
    write_weight_files(_Var(vals, 64, False), tmp_path)
    h = tmp_path / "firmware" / "weights" / "trn9.h"
    assert _ints((tmp_path / "firmware" / "weights" / "trn9.txt").read_text()) == [int(v) for v in vals]
    assert [int(v) for v in header_values(h)] == [int(v) for v in vals]
    assert "18446744073709551615ULL" in h.read_text()  # a literal C++ can hold
    assert verify_weights(tmp_path) == 1
    with pytest.raises(SpikehlsError, match="does not fit"):
        write_weight_files(_Var(np.array([4]), 2, True, "w9"), tmp_path)
    with pytest.raises(SpikehlsError, match="not an exact integer"):
        write_weight_files(_Var(np.array([0.5]), 8, True, "w9"), tmp_path)
    with pytest.raises(SpikehlsError, match="not an exact integer"):
        write_weight_files(_Var(np.array([2.0**60]), 62, True, "w9"), tmp_path)
