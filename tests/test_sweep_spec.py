"""Sweep files: validation (one-line errors before any work), point expansion, ids, the reuse plan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from spikehls.cli import main
from spikehls.errors import SpikehlsError
from spikehls.sweep import expand, load_sweep, parse_sweep, point_id
from spikehls.sweep.plan import plan_point, quant_override

BASE = {"dataset": {"train_limit": 100, "test_limit": 40}, "train": {"epochs": 2, "time_steps": 2}}


def _spec(**kw):
    data = {"base": BASE, "board": "pynq-z2", "axes": {"sca.p": [0.3, 0.5]}}
    data.update(kw)
    return parse_sweep(data, "s.yaml")


def _err(**kw) -> str:
    with pytest.raises(SpikehlsError) as ei:
        expand(_spec(**kw))
    msg = str(ei.value)
    assert "\n" not in msg
    return msg


# ---- expansion and ids ------------------------------------------------------------------------


def test_grid_is_the_product_in_file_order():
    spec = _spec(axes={"sca.p": [0.3, 0.5, 0.7], "quant.w_bits": [2, 4], "hls.parallelism": [4, 16]})
    pts = expand(spec)
    assert len(pts) == 12
    assert pts[0].settings == {"sca.p": 0.3, "quant.w_bits": 2, "hls.parallelism": 4}
    assert pts[1].settings == {"sca.p": 0.3, "quant.w_bits": 2, "hls.parallelism": 16}
    assert pts[-1].settings == {"sca.p": 0.7, "quant.w_bits": 4, "hls.parallelism": 16}
    assert len({p.id for p in pts}) == 12


def test_ids_hash_settings_only():
    a = expand(_spec(axes={"sca.p": [0.3], "quant.w_bits": [4]}))[0]
    b = expand(_spec(axes={"quant.w_bits": [4], "sca.p": [0.3]}))[0]
    assert a.id == b.id == point_id({"quant.w_bits": 4, "sca.p": 0.3})
    # values as the config stores them: 0 for a float field is 0.0
    c = expand(_spec(axes={"sca.p": [0]}))[0]
    assert c.settings == {"sca.p": 0.0} and c.id == point_id({"sca.p": 0.0})
    assert point_id({"sca.p": 0.3}) != point_id({"sca.p": 0.5})


def test_random_draws_distinct_grid_points_reproducibly():
    axes = {"sca.p": [0.1, 0.3, 0.5, 0.7], "quant.w_bits": [2, 3, 4, 8], "train.time_steps": [2, 4]}
    a = expand(_spec(axes=axes, search="random", budget=7, seed=3))
    b = expand(_spec(axes=axes, search="random", budget=7, seed=3))
    c = expand(_spec(axes=axes, search="random", budget=7, seed=4))
    assert [p.id for p in a] == [p.id for p in b]
    assert len({p.id for p in a}) == 7
    assert {p.id for p in a} != {p.id for p in c}
    grid = {p.id for p in expand(_spec(axes=axes))}
    assert {p.id for p in a} <= grid
    assert len(expand(_spec(axes=axes, search="random", budget=100))) == 32  # never more than the grid


def test_random_ranges():
    pts = expand(_spec(axes={"optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}, "train.time_steps": {"low": 2, "high": 6, "int": True}},
                       search="random", budget=20, seed=0))
    assert len(pts) == 20
    for p in pts:
        assert 1e-3 <= p.settings["optim.lr"] <= 1e-1
        assert isinstance(p.settings["train.time_steps"], int) and 2 <= p.settings["train.time_steps"] <= 6


# ---- validation -------------------------------------------------------------------------------


def test_unknown_axis():
    assert "axes.sca.pp: unknown axis (sca has: enabled, p, q" in _err(axes={"sca.pp": [0.3]})
    assert "axes.hardware.lut: unknown axis" in _err(axes={"hardware.lut": [1]})
    assert "axes.p: unknown axis" in _err(axes={"p": [1]})
    assert "axes.codesign.margin: unknown axis" in _err(axes={"codesign.margin": [0.5]})


def test_empty_grid_and_no_axes():
    assert _err(axes={"sca.p": []}) == "s.yaml: axes.sca.p: empty grid (give at least one value)"
    assert "s.yaml: axes: no axes given" in _err(axes={})


def test_bad_values_alone_and_combined():
    assert "axes.quant.w_bits: 1:" in _err(axes={"quant.w_bits": [4, 1]})
    assert "axes.encoding.kind: 'poisson':" in _err(axes={"encoding.kind": ["rate", "poisson"]})
    assert "axes.hls.parallelism: 0 is not an integer in 1..4096" in _err(axes={"hls.parallelism": [0]})
    assert "repeated value" in _err(axes={"quant.w_bits": [4, 4]})
    # each value valid, the combination not (sca.p + sca.q must be < 1)
    msg = _err(axes={"sca.p": [0.5, 0.96]})
    assert "sca" in msg and "0.96" in msg


def test_file_level_errors(tmp_path):
    assert "s.yaml: search: Input should be 'grid', 'random' or 'optuna'" in _err(search="bayes")
    assert "s.yaml: budget: search: random needs a budget" in _err(search="random")
    assert "s.yaml: budget: the grid has 2 points but budget is 1" in _err(budget=1)
    assert "s.yaml: workers: unknown field" in _err(workers=3)
    assert "axes.sca.p: a range needs search: random or optuna" in _err(axes={"sca.p": {"low": 0.1, "high": 0.5}})
    assert "s.yaml: board: unknown board 'nosuch'" in _err(board="nosuch")
    assert "s.yaml: base: config file 'nope.yaml' not found" in _err(base="nope.yaml")
    assert "s.yaml: base: train.epochs: Input should be greater than or equal to 1" in _err(base={"train": {"epochs": 0}})
    f = tmp_path / "bad.yaml"
    f.write_text("axes: [1, 2\n")
    with pytest.raises(SpikehlsError, match="invalid YAML"):
        load_sweep(f)


def test_relative_base_and_board_paths(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "run.yaml").write_text(yaml.safe_dump({"train": {"epochs": 3}}))
    (tmp_path / "sw.yaml").write_text(yaml.safe_dump({"base": "cfg/run.yaml", "board": "zcu104", "axes": {"quant.v_bits": [8, 16]}}))
    spec = load_sweep(tmp_path / "sw.yaml")
    assert spec.base.train.epochs == 3 and spec.board.part.startswith("xczu7ev")
    assert spec.finetune_epochs == 2  # default: half the base epochs, at least 2


def _cli_err(tmp_path, capsys, data, *extra) -> str:
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    rc = main(["sweep", "--config", str(f), "--out", str(out), "--quiet", *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()  # failed before any work
    return err


def test_cli_fails_before_any_work(tmp_path, capsys):
    good = {"base": BASE, "axes": {"quant.w_bits": [2, 4]}}
    assert "axes.quant.wbits: unknown axis" in _cli_err(tmp_path, capsys, {**good, "axes": {"quant.wbits": [2]}})
    assert "axes.quant.w_bits: empty grid" in _cli_err(tmp_path, capsys, {**good, "axes": {"quant.w_bits": []}})
    assert "--workers must be >= 1" in _cli_err(tmp_path, capsys, good, "--workers", "0")


def test_cli_bad_ray_address_fails_before_any_work(tmp_path, capsys):
    pytest.importorskip("ray")  # an extra (pip install ray): without it the error is "--ray-address needs Ray"
    good = {"base": BASE, "axes": {"quant.w_bits": [2, 4]}}
    # nothing listens on port 1 of localhost: refused at once
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in _cli_err(tmp_path, capsys, good, "--ray-address", "127.0.0.1:1")
    assert "is not HOST:PORT or 'auto'" in _cli_err(tmp_path, capsys, good, "--ray-address", "somewhere")


def test_cli_without_ray_installed(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    err = _cli_err(tmp_path, capsys, {"base": BASE, "axes": {"quant.w_bits": [2]}}, "--ray-address", "auto")
    assert "--ray-address needs Ray: pip install ray" in err


def test_example_sweeps_are_valid():
    root = Path(__file__).resolve().parents[1] / "examples" / "sweeps"
    digits = load_sweep(root / "digits.yaml")
    assert len(expand(digits)) >= 12 and digits.base.dataset.name == "digits"
    mnist = load_sweep(root / "mnist.yaml")
    assert mnist.base.dataset.name == "mnist" and len(expand(mnist)) >= 4


# ---- reuse plan -------------------------------------------------------------------------------


def test_plan_shares_training_where_only_quant_and_hls_change():
    spec = _spec(axes={"sca.p": [0.3, 0.6], "train.time_steps": [2, 4], "quant.w_bits": [2, 4], "hls.parallelism": [4, 16]},
                 finetune_epochs=1)
    plans = [plan_point(spec, p) for p in expand(spec)]
    assert len(plans) == 16
    assert len({pl.train.key for pl in plans}) == 4  # one SCA run per (p, T)
    assert len({pl.dense.key for pl in plans}) == 2  # one dense run per T
    for pl in plans:
        assert pl.train.kind == "sca" and pl.train.warm_from == pl.dense.key
        assert pl.train.config["train"]["epochs"] == 1 and pl.dense.config["train"]["epochs"] == 2
        assert pl.dense.config["sca"]["enabled"] is False and pl.train.config["sca"]["p"] == pl.point.settings["sca.p"]
        assert pl.train.config["train"]["time_steps"] == pl.point.settings["train.time_steps"]
        assert quant_override(pl)["w_bits"] == pl.point.settings["quant.w_bits"]
        assert pl.train.config["quant"] == spec.base.quant.model_dump(mode="json")  # export gets the point's
        assert pl.parallelism == pl.point.settings["hls.parallelism"]
    same_train = [pl for pl in plans if pl.point.settings["sca.p"] == 0.3 and pl.point.settings["train.time_steps"] == 2]
    assert len(same_train) == 4 and len({pl.train.key for pl in same_train}) == 1


def test_plan_dense_point_is_the_dense_run_and_scratch_trains_each():
    spec = _spec(axes={"sca.enabled": [False, True]})
    dense, sca = (plan_point(spec, p) for p in expand(spec))
    assert dense.train.kind == "dense" and dense.dense is None and sca.train.warm_from == dense.train.key
    spec = _spec(axes={"quant.w_bits": [2, 4]}, reuse_dense=False)
    plans = [plan_point(spec, p) for p in expand(spec)]
    assert [pl.train.kind for pl in plans] == ["scratch", "scratch"]
    assert len({pl.train.key for pl in plans}) == 2
    assert all(pl.train.config["train"]["epochs"] == 2 and pl.train.warm_from is None for pl in plans)


def test_cli_ray_auto_without_a_cluster(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    err = _cli_err(tmp_path, capsys, {"base": BASE, "axes": {"quant.w_bits": [2]}}, "--ray-address", "auto")
    assert "--ray-address auto: cannot connect to a Ray cluster" in err
