"""The calibration data files can be fitted on a fresh machine: ``benchmarks/calibrate.py regen``
writes each recorded network's project again from its seed, and what it writes is the network
that was measured (same layers, kinds and parallelism), so the fit reads the geometry yosys saw."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
DATA = sorted((BENCH / "results").glob("calibration_data*.json"))


def _calibrate():
    sys.path.insert(0, str(BENCH))
    import calibrate

    return calibrate


@pytest.mark.parametrize("path", DATA, ids=lambda p: p.name)
def test_regen_rebuilds_the_measured_networks(path, tmp_path):
    from spikehls.hls.rtl.generate import project_geometry

    cal = _calibrate()
    data = json.loads(path.read_text())
    by_family: dict = {}
    for n in data["networks"]:  # one network of each family in the file: the first and the last seed
        by_family.setdefault(n.get("family", "random"), []).append(n)
    picked = [n for ns in by_family.values() for n in {id(x): x for x in (ns[0], ns[-1])}.values()]
    for n in picked:
        n["project"] = str(tmp_path / f"{n.get('family', 'random')}{n['seed']}" / "prj")
    small = tmp_path / "data.json"
    small.write_text(json.dumps({"networks": picked}))
    assert cal.main(["regen", "--data", str(small)]) == 0
    for n in picked:
        _, geos, meta = project_geometry(Path(n["project"]))
        assert [(g.name, g.kind) for g in geos] == [(lyr["name"], lyr["kind"]) for lyr in n["layers"]]
        assert json.loads((Path(n["project"]) / "spikehls.json").read_text())["board"]["source"].removesuffix(".yaml") == n.get("board", "pynq-z2")


def test_regen_refuses_a_changed_generator(tmp_path, monkeypatch):
    cal = _calibrate()
    n = json.loads(DATA[0].read_text())["networks"][0]
    n = {**n, "parallelism": n["parallelism"] + 1, "project": str(tmp_path / "x" / "prj")}
    small = tmp_path / "data.json"
    small.write_text(json.dumps({"networks": [n]}))
    assert cal.main(["regen", "--data", str(small)]) == 1
