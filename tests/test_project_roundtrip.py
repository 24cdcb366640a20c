"""A generated project as a new user meets it: build commands by Vitis version, build_opt.tcl
defaults (csim + csynth + export; co-simulation and Vivado synthesis one switch each), file
modes that follow the umask, and hls4ml's own API reopening it (link_existing_project, .fml).
The compile-and-predict round trips are marked slow."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _hls_nets import handmade_inputs, handmade_net, write_run  # noqa: E402

from spikehls.cli import main  # noqa: E402
from spikehls.fileio import atomic_dir, current_umask, write_json  # noqa: E402
from spikehls.hls.project import BUILD_OPT_TCL, build_commands, generate_project  # noqa: E402
from spikehls.quantize import reference as ref  # noqa: E402


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A project written under umask 022 (the common default), with its net and inputs."""
    net = handmade_net(reset="subtract", encoding="rate")
    x = handmade_inputs(net, 5)
    base = tmp_path_factory.mktemp("rt")
    run = write_run(net, base / "run", x)
    old = os.umask(0o022)
    try:
        model = generate_project(run / "model.qonnx.onnx", "pynq-z2", base / "prj", testvectors=run / "testvectors.npz")
    finally:
        os.umask(old)
    return net, x, base / "prj", model


# ---- item 3: build commands and build_opt.tcl ------------------------------------------------------
def _tcl_opts(prj: Path, env: dict[str, str]) -> dict[str, int]:
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh not installed")
    script = f'source {{{prj / "build_opt.tcl"}}}\nforeach k [lsort [array names opt]] {{ puts "$k $opt($k)" }}\n'
    out = subprocess.run(["tclsh"], input=script, capture_output=True, text=True, check=True,
                         env={k: v for k, v in {**os.environ, **env}.items() if v is not None})
    return {k: int(v) for k, v in (line.split() for line in out.stdout.splitlines())}


def test_build_opt_defaults_and_one_switch_each(made):
    _, _, prj, _ = made
    assert (prj / "build_opt.tcl").read_text() == BUILD_OPT_TCL
    base = {"SPIKEHLS_COSIM": None, "SPIKEHLS_VSYNTH": None}
    want = {"reset": 0, "csim": 1, "synth": 1, "cosim": 0, "validation": 0, "export": 1, "vsynth": 0, "fifo_opt": 0}
    os.environ.pop("SPIKEHLS_COSIM", None), os.environ.pop("SPIKEHLS_VSYNTH", None)
    assert _tcl_opts(prj, base) == want
    assert _tcl_opts(prj, {"SPIKEHLS_COSIM": "1"}) == {**want, "cosim": 1, "validation": 1}
    assert _tcl_opts(prj, {"SPIKEHLS_VSYNTH": "1"}) == {**want, "vsynth": 1}
    assert _tcl_opts(prj, {"SPIKEHLS_COSIM": "0", "SPIKEHLS_VSYNTH": "0"}) == want


def test_build_commands_by_version(made):
    _, _, prj, _ = made
    cmds = dict(build_commands("Vitis"))
    assert cmds["Vitis 2024.2 and later"] == "vitis-run --mode hls --tcl build_prj.tcl"  # hls4ml 1.3's build()
    assert cmds["Vitis HLS 2020.2 - 2024.1"] == "vitis_hls -f build_prj.tcl"
    readme = (prj / "README.md").read_text()
    assert "vitis-run --mode hls --tcl build_prj.tcl" in readme and "vitis_hls -f build_prj.tcl" in readme
    assert "SPIKEHLS_COSIM=1" in readme and "SPIKEHLS_VSYNTH=1" in readme and "xc7z020clg400-1" in readme
    top = (Path(__file__).parents[1] / "README.md").read_text()
    assert "vitis-run --mode hls --tcl build_prj.tcl" in top and "SPIKEHLS_COSIM=1" in top


def test_hls_command_prints_both_build_commands(tmp_path, capsys):
    net = handmade_net(reset="zero", encoding="rate")
    run = write_run(net, tmp_path / "run", handmade_inputs(net, 2))
    assert main(["hls", "--run", str(run), "--board", "zcu104", "--out", str(tmp_path / "prj")]) == 0
    out = capsys.readouterr().out
    assert "vitis-run --mode hls --tcl build_prj.tcl" in out and "# Vitis 2024.2 and later" in out
    assert "vitis_hls -f build_prj.tcl" in out and "# Vitis HLS 2020.2 - 2024.1" in out


def test_codesign_summary_prints_both_build_commands(tmp_path):
    from spikehls.summary import format_summary

    rec = {"iteration": 0, "quantized_accuracy": 0.9, "float_accuracy": 0.9, "csim_accuracy": 0.9, "csim_samples": 4,
           "channels_kept": 1, "channels_total": 2, "channels_per_layer": {}, "csim_exact": True,
           "spike_mismatches": 0, "readout_mismatches": 0, "resource_source": "estimate",
           "latency_cycles_worst": 10, "latency_us_worst": 0.1, "project": str(tmp_path / "p"),
           "LUT": 1, "FF": 1, "BRAM18": 0, "URAM": 0, "DSP": 0}
    result = {"iterations": [rec], "final": {"iteration": 0, "project": str(tmp_path / "hls")}, "fits": True,
              "board": {"name": "b", "part": "p", "clock_mhz": 100, "backend": "Vitis",
                        "allowed": {k: 100 for k in ("LUT", "FF", "BRAM18", "URAM", "DSP")}}}
    text = format_summary(result, tmp_path)
    assert "vitis-run --mode hls --tcl build_prj.tcl" in text and "vitis_hls -f build_prj.tcl" in text


# ---- item 4: hls4ml_config.yml points at the project, and safe_load reads it --------------------
def test_hls4ml_config_points_at_the_project_not_a_temporary_folder(made):
    _, _, prj, model = made
    text = (prj / "hls4ml_config.yml").read_text()
    cfg = yaml.safe_load(text)  # what link_existing_project does: no python objects
    assert ".tmp" not in text and "!!python" not in text
    assert Path(cfg["OutputDir"]) == prj.resolve()
    for key in ("InputData", "OutputPredictions"):
        assert Path(cfg[key]).is_file() and prj.resolve() in Path(cfg[key]).parents
    assert model.config.get_output_dir() == cfg["OutputDir"]
    assert cfg["ProjectName"] == "myproject" and cfg["Part"] == "xc7z020clg400-1"
    assert cfg["InputShapes"] and cfg["OutputShapes"]


def test_link_existing_project_opens_without_compiling(made):
    import hls4ml

    _, _, prj, _ = made
    linked = hls4ml.converters.link_existing_project(str(prj))
    assert linked.config.get_output_dir() == str(prj.resolve())
    assert [v.name for v in linked.get_input_variables()] == ["spikes_in"]


# ---- item 5: files and folders follow the umask -------------------------------------------------
def _modes(root: Path):
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            yield p, stat.S_IMODE(p.stat().st_mode)


def test_project_is_readable_by_others_under_umask_022(made):
    _, _, prj, _ = made
    for p, mode in _modes(prj):
        assert mode & 0o044 == 0o044, (p, oct(mode))  # group and others can read
        if p.is_dir():
            assert mode & 0o011 == 0o011, (p, oct(mode))  # and enter
    assert stat.S_IMODE((prj / "spikehls.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(prj.stat().st_mode) == 0o755


@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_atomic_writers_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == dir_mode


# ---- item 4, slow: compile and predict through hls4ml's own API ---------------------------------
@pytest.mark.slow
def test_link_existing_project_compiles_and_predicts_the_reference(made):
    import hls4ml

    net, x, prj, _ = made
    linked = hls4ml.converters.link_existing_project(str(prj))
    linked.compile()
    y = linked.predict(x.reshape(len(x), -1).astype(np.float32))  # spikes 0/1 (rate encoding)
    np.testing.assert_array_equal(np.asarray(y).reshape(len(x), -1), ref.run(net, x).readout)


@pytest.mark.slow
def test_fml_round_trip_with_test_vectors(made, tmp_path):
    import hls4ml

    from spikehls.hls.extension import register
    from spikehls.hls.project import save_model

    net, x, prj, model = made
    fml = save_model(model, tmp_path / "model.fml")
    register()  # our layer classes must be known to deserialize
    (tmp_path / "tb").mkdir()
    back = hls4ml.converters.load_saved_model(fml, output_dir=tmp_path / "tb")
    tb = np.load(back.config.config["InputData"])
    np.testing.assert_array_equal(tb, np.load(prj / "spikehls" / "tb_input_features.npy"))
    back.config.config["OutputDir"] = str(tmp_path / "prj2")
    back.compile()
    y = back.predict(x.reshape(len(x), -1).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(y).reshape(len(x), -1), ref.run(net, x).readout)
