"""Weight files of our layers, written and checked with exact integers.

hls4ml writes every weight array through ``'{:.0f}'.format(value)`` (``WeightVariable.__next__``),
which turns a NumPy or Python integer into a float64 first: any value wider than 53 bits loses
its low bits (a direct-encoded layer's spike-train codes are ``ap_uint<T>``, T up to 64; the
all-ones train of T = 56 came out as 2^56, i.e. 0 in 56 bits). :func:`write_weight_files` replaces
it for the layers of this extension (:mod:`spikehls.hls.extension` routes them here): the same
files and layout as hls4ml's ``print_array_to_cpp`` (``firmware/weights/NAME.h``, and ``NAME.txt``
that the C-simulation reads), with every value printed from Python ``int`` as exact decimal
digits, checked against its declared type, and never passed through a float.

C-simulation reads the ``.txt`` files, synthesis compiles the ``.h`` initializers: the two must
hold the same numbers. Where every value is a plain literal the ``.h`` initializer is
``{ #include "NAME.txt" }``: the weights are written once and both read the same file. :func:`verify_weights` parses both, exactly, and raises naming the first
file and entry where they differ (the C-simulation calls it before it may say ``EXACT``); where
the header includes its ``.txt`` it checks that file is a plain list of integers of the declared
length (counted, not parsed: both sides read the same bytes).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Optional

import numpy as np
from hls4ml.model.types import IntegerPrecisionType

from spikehls.errors import SpikehlsError

INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


def exact_ints(var) -> list[int]:
    """The values of a weight variable as Python ints, in C order; refuses anything not integral."""
    data = np.asarray(var.data)
    name = getattr(var, "name", "?")
    if data.dtype.kind in "iu":
        return data.reshape(-1).tolist()  # Python ints, exactly (uint64 included)
    if data.dtype.kind == "b":
        return data.reshape(-1).astype(np.int64).tolist()
    if data.dtype.kind == "O":
        out = []
        for v in data.reshape(-1).tolist():
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                out.append(int(v))
            else:
                raise SpikehlsError(f"weight {name}: value {v!r} is not an integer")
        return out
    if data.dtype.kind == "f":
        flat = data.reshape(-1).astype(np.float64)
        bad = ~np.isfinite(flat) | (flat != np.round(flat)) | (np.abs(flat) > 2.0**53)
        if bad.any():
            v = flat[np.flatnonzero(bad)[0]]
            raise SpikehlsError(f"weight {name}: value {v!r} is held as a float and is not an exact integer "
                                "(integers must never pass through floats)")
        return [int(v) for v in flat.tolist()]
    raise SpikehlsError(f"weight {name}: unsupported data type {data.dtype}")


def type_range(prec: IntegerPrecisionType) -> tuple[int, int]:
    w = int(prec.width)
    return (-(2 ** (w - 1)), 2 ** (w - 1) - 1) if prec.signed else (0, 2**w - 1)


def c_literal(v: int) -> str:
    """A C++ integer literal of exactly ``v`` (suffix where ``long`` cannot hold it)."""
    if -INT64_MAX <= v <= INT64_MAX:
        return str(v)
    if INT64_MAX < v <= UINT64_MAX:
        return f"{v}ULL"
    raise SpikehlsError(f"value {v} does not fit a 64-bit C++ literal")


def _decimal_list(values: list[int], v_min: int, v_max: int) -> str:
    """``", ".join(str(v) for v in values)``; for a narrow range (weights, groups, offsets: all of a
    VGG-16's 15 million entries) through a table of the range's decimal strings, indexed by NumPy."""
    if values and v_max - v_min < 1 << 20 and -INT64_MAX <= v_min and v_max <= INT64_MAX:
        table = np.array([str(v) for v in range(v_min, v_max + 1)], dtype=object)
        return ", ".join(table[np.asarray(values, dtype=np.int64) - v_min].tolist())
    return ", ".join(map(str, values))


def write_weight_files(var, odir: str | Path, namespace: Optional[str] = None, write_txt_file: bool = True) -> None:
    """hls4ml's ``print_array_to_cpp`` for an integer weight variable, exact (see the module docstring)."""
    prec = var.type.precision
    if not isinstance(prec, IntegerPrecisionType):
        raise SpikehlsError(f"weight {var.name}: type {prec} is not an integer type")
    values = exact_ints(var)
    lo, hi = type_range(prec)
    v_min, v_max = min(values, default=0), max(values, default=0)
    if v_min < lo or v_max > hi:  # the first offending entry, named
        i, v = next((i, v) for i, v in enumerate(values) if not lo <= v <= hi)
        raise SpikehlsError(f"weight {var.name}: entry {i} = {v} does not fit its type {prec} ([{lo}, {hi}])")
    wdir = Path(odir) / "firmware" / "weights"
    txt = _decimal_list(values, v_min, v_max)
    # written once: where every value is a plain C literal, the synthesis initializer includes
    # the very file C-simulation loads (a large network's weights are tens of megabytes)
    shared = write_txt_file and -INT64_MAX <= v_min and v_max <= INT64_MAX
    lits = f"\n#include \"{var.name}.txt\"\n" if shared else ", ".join(c_literal(v) for v in values)
    lines = [f"//Numpy array shape {list(var.shape)}", f"//Min {v_min}", f"//Max {v_max}",
             f"//Number of zeros {values.count(0)}", "//Values: exact integers (spikehls.hls.weights)", "",
             f"#ifndef {var.name.upper()}_H_", f"#define {var.name.upper()}_H_", ""]
    if namespace is not None:
        lines += [f"namespace {namespace} {{", ""]
    if write_txt_file:
        lines += ["#ifndef __SYNTHESIS__", var.definition_cpp() + ";", "#else"]
    lines += [var.definition_cpp() + " = {" + lits + "};", ""]
    if write_txt_file:
        lines.append("#endif")
    if namespace is not None:
        lines += ["}", ""]
    lines += ["", "#endif", ""]
    (wdir / f"{var.name}.h").write_text("\n".join(lines))
    if write_txt_file:
        (wdir / f"{var.name}.txt").write_text(txt)


# ---- checking what C-simulation reads against what synthesis compiles ---------------------------

_INIT = re.compile(r"(?:\[\s*(\d+)\s*\])?\s*=\s*\{(.*?)\}\s*;", re.S)
_SUFFIX = re.compile(r"(?:[uU](?:ll|LL|l|L)?|(?:ll|LL|l|L)[uU]?)$")


def _number(token: str, path: Path, i: int) -> Decimal:
    t = token.strip()
    if t.startswith("(") and t.endswith(")"):
        t = t[1:-1].strip()
    t = _SUFFIX.sub("", t) if re.fullmatch(r"[-+]?\d+[uUlL]+", t) else t
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise SpikehlsError(f"{path}: entry {i} ({token.strip()!r}) is not a number") from None
    if not d.is_finite():
        raise SpikehlsError(f"{path}: entry {i} ({token.strip()!r}) is not a finite number")
    return d


def _values(text: str, path: Path) -> list:
    """The numbers of a comma-separated list, exactly: plain integers as ``int`` (fast: a large
    network has millions), anything else (suffixes, decimals) as :class:`~decimal.Decimal`."""
    tokens = text.split(",")
    if tokens and not tokens[-1].strip():
        tokens = tokens[:-1]
    out: list = []
    for i, t in enumerate(tokens):
        try:
            out.append(int(t))
        except ValueError:
            out.append(_number(t, path, i))
    return out


_INCLUDE = re.compile(r'^\s*#include\s+"([^"/\\]+)"\s*$')


def included_file(init: str, path: Path) -> Optional[Path]:
    """The file an initializer ``{ #include "NAME.txt" }`` takes its values from (None: inline values)."""
    m = _INCLUDE.match(init.strip())
    return None if m is None else Path(path).parent / m.group(1)


def header_values(path: Path) -> Optional[list[Decimal]]:
    """The initializer of a weight header (the synthesis branch), exactly; None if it has none.
    An initializer that includes a file (its ``.txt``) is read from that file, as the compiler does."""
    text = Path(path).read_text(errors="replace")
    m = _INIT.search(text)
    if m is None:
        return None
    inc = included_file(m.group(2), Path(path))
    body = m.group(2) if inc is None else inc.read_text(errors="replace").strip()
    vals = _values(body, Path(path) if inc is None else inc)
    if m.group(1) is not None and int(m.group(1)) != len(vals):
        where = f"{path}: its initializer holds" if inc is None else f"{inc}: included by {Path(path).name}, holds"
        raise SpikehlsError(f"{where} {len(vals)} entries, {Path(path).name} declares {m.group(1)}")
    return vals


_PLAIN = bytes(range(256)).translate(None, b"0123456789-+, \t\r\n")  # every byte but these


def _check_plain_list(txt: Path, declared: Optional[str], h: Path) -> None:
    """``txt`` holds only decimal integers separated by commas, as many as ``h`` declares."""
    data = txt.read_bytes()
    if data.translate(None, b"0123456789-+, \t\r\n"):
        bad = next(i for i, c in enumerate(data) if c in _PLAIN)
        raise SpikehlsError(f"{txt}: byte {bad} ({chr(data[bad])!r}) is not part of a list of decimal integers "
                            f"(included by {h.name}; regenerate the project)")
    body = data.strip().rstrip(b",")
    count = body.count(b",") + 1 if body.strip() else 0
    if declared is not None and int(declared) != count:
        raise SpikehlsError(f"{txt}: included by {h.name}, holds {count} entries, {h.name} declares {declared}")


def verify_weights(project: str | Path) -> int:
    """Every ``firmware/weights/NAME.txt`` (what C-simulation loads) equals the initializer of
    ``NAME.h`` (what synthesis compiles), entry for entry, compared exactly. Returns the number of
    files checked; raises a one-line :class:`SpikehlsError` naming the file that differs."""
    wdir = Path(project) / "firmware" / "weights"
    if not wdir.is_dir():
        return 0
    n = 0
    for h in sorted(wdir.glob("*.h")):
        text = h.read_text(errors="replace")
        needs_txt = "#ifndef __SYNTHESIS__" in text
        txt = h.with_suffix(".txt")
        if not txt.is_file():
            if needs_txt:
                raise SpikehlsError(f"{txt}: missing (C-simulation loads {h.name}'s weights from it)")
            continue
        m = _INIT.search(text)
        if m is None:
            raise SpikehlsError(f"{h}: no initializer (synthesis would have no weights for {txt.name})")
        inc = included_file(m.group(2), h)
        if inc is not None and inc.resolve() != txt.resolve():
            raise SpikehlsError(f"{h}: its initializer includes {inc.name}, not {txt.name} (what C-simulation loads)")
        if inc is not None:
            # synthesis compiles the very file C-simulation loads: the same integers by construction;
            # what is left to check is that it is a plain list of integers of the declared length
            # (counted, not parsed: a VGG-16 has 15 million entries; the C-simulation loader
            # nnet::spike_load_weights refuses a malformed entry or a wrong count at start-up)
            _check_plain_list(txt, m.group(1), h)
            n += 1
            continue
        hv = header_values(h)
        tv = _values(txt.read_text(errors="replace").strip(), txt)
        if len(tv) != len(hv):
            raise SpikehlsError(f"{txt}: {len(tv)} entries, but {h.name} (what synthesis compiles) has {len(hv)}: "
                                "C-simulation would not check the synthesized weights")
        for i, (a, b) in enumerate(zip(tv, hv)):
            if a != b:
                raise SpikehlsError(f"{h}: entry {i} is {b} but {txt.name} (what C-simulation loads) has {a}: "
                                    "C-simulation would not check the synthesized weights (regenerate the project)")
        n += 1
    for txt in sorted(wdir.glob("*.txt")):
        if not txt.with_suffix(".h").is_file():
            raise SpikehlsError(f"{txt}: no {txt.stem}.h next to it (synthesis would not use these weights)")
    return n
