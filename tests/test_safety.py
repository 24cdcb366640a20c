"""Nothing lost (issue 11, items 4-6): output folders the tool did not make are never written or
replaced, an output never overlaps its input, two writers of one folder are refused (naming the
holder), concurrent C-simulations of one project build apart, leftovers of killed runs are
cleaned, and an interrupted co-design run resumes in place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spikehls.cli import main
from spikehls.errors import SpikehlsError
from spikehls.fileio import atomic_dir, check_out_dir, clean_stale, lock_dir

TINY = {
    "dataset": {"train_limit": 64, "test_limit": 16},
    "model": {"layers": [4, "M"]},
    "train": {"epochs": 1},
    "quant": {"qat_epochs": 0, "test_vectors": 8},
}


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_cfg(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY))
    return p


@pytest.fixture(scope="module")
def run(tiny_cfg, tmp_path_factory) -> Path:
    """A trained and exported tiny digits run (seconds)."""
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--config", str(tiny_cfg), "--out", str(out), "--no-progress"]) == 0
    assert main(["export", "--run", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def project(run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prj") / "prj"
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(out)]) == 0
    return out


# ---- item 4: never delete a folder the tool did not make; never overlap an input ---------------
def test_hls_refuses_a_foreign_folder_even_with_force(run, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    for extra in ([], ["--force"]):
        assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(mine), *extra]) == 2
        assert "not empty and not a spikehls HLS project" in _err(capsys)
    assert _snapshot(mine) == {"thesis.tex": b"years of work"}


def test_hls_onto_the_run_folder_or_above_it_is_refused(run, capsys, monkeypatch):
    before = _snapshot(run)
    for out in (run, run.parent):
        assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(out), "--force"]) == 2
        assert "overlaps the input" in _err(capsys)
    monkeypatch.chdir(run)
    assert main(["hls", "--run", ".", "--board", "pynq-z2", "--out", ".", "--force"]) == 2
    _err(capsys)
    assert _snapshot(run) == before  # checkpoint, test vectors, ONNX: all there


def test_hls_onto_the_current_folder_is_refused(run, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", "."]) == 2
    assert "current folder" in _err(capsys)
    assert list(empty.iterdir()) == []


def test_hls_replaces_its_own_project_only_with_force(run, project, tmp_path, capsys):
    import shutil

    prj = tmp_path / "prj"
    shutil.copytree(project, prj)
    (prj / "my_notes.txt").write_text("keep")
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(prj)]) == 2
    assert "--force" in _err(capsys) and (prj / "my_notes.txt").is_file()
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(prj), "--force"]) == 0
    assert (prj / "spikehls.json").is_file() and not (prj / "my_notes.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".prj")]  # no temp, old or lock leftovers


@pytest.mark.parametrize("command", ["train", "codesign", "run", "sweep"])
def test_commands_refuse_a_foreign_out(command, tiny_cfg, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.csv").write_text("1,2,3")
    args = {"train": ["train", "--config", str(tiny_cfg)], "codesign": ["codesign", "--config", str(tiny_cfg)],
            "run": ["run"], "sweep": ["sweep", "--config", str(tiny_cfg)]}[command]
    if command == "sweep":
        sw = tmp_path / "sw.yaml"
        sw.write_text(yaml.safe_dump({"base": TINY, "axes": {"quant.w_bits": [2]}}))
        args = ["sweep", "--config", str(sw)]
    assert main([*args, "--out", str(mine)]) == 2
    assert "not empty and not a spikehls" in _err(capsys)
    assert _snapshot(mine) == {"data.csv": b"1,2,3"}


def test_train_into_the_config_folder_is_refused(tiny_cfg, capsys, monkeypatch):
    monkeypatch.chdir(tiny_cfg.parent)
    assert main(["train", "--config", "tiny.yaml", "--out", "."]) == 2
    assert "overlaps the input" in _err(capsys)
    assert sorted(p.name for p in tiny_cfg.parent.iterdir()) == ["tiny.yaml"]


def test_out_that_is_a_file_is_refused(run, tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    assert main(["hls", "--run", str(run), "--board", "pynq-z2", "--out", str(f), "--force"]) == 2
    assert "not a folder" in _err(capsys) and f.read_text() == "x"


def test_check_out_dir_kinds(tmp_path):
    assert check_out_dir(tmp_path / "new", "hls") == tmp_path / "new"
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / "config.yaml").write_text("{}")  # a training run killed before its first epoch
    check_out_dir(tmp_path / "killed", "run")
    with pytest.raises(SpikehlsError, match="not a spikehls HLS project"):
        check_out_dir(tmp_path / "killed", "hls", replace=True)


# ---- item 5: one writer per folder; concurrent readers apart ------------------------------------
def test_second_writer_is_refused_naming_the_holder(tmp_path):
    code = ("import sys, time; from spikehls.fileio import lock_dir\n"
            "with lock_dir(sys.argv[1]):\n    print('locked', flush=True); time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SpikehlsError) as exc:
            with lock_dir(tmp_path / "out"):
                pass
        msg = str(exc.value)
        assert f"pid {holder.pid}" in msg and "in use by" in msg and "\n" not in msg
        with pytest.raises(SpikehlsError, match=f"pid {holder.pid}"):
            with lock_dir(tmp_path / "out", shared=True):  # nor read while it is written
                pass
    finally:
        holder.kill()
        holder.wait()
    with lock_dir(tmp_path / "out"):  # a dead holder's lock is gone with it
        with lock_dir(tmp_path / "out"):  # re-entrant in one process
            pass
    assert not list(tmp_path.glob(".*.lock"))


def test_readers_share_a_lock_and_keep_writers_out(tmp_path):
    with lock_dir(tmp_path / "p", shared=True):
        code = ("import sys; from spikehls.fileio import lock_dir\n"
                "with lock_dir(sys.argv[1], shared=True): pass\n"
                "try:\n    with lock_dir(sys.argv[1]): pass\nexcept Exception as e: print('refused', e)\n")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p")], capture_output=True, text=True).stdout
        assert out.startswith("refused") and "in use by" in out


def test_two_trainers_on_one_out(tiny_cfg, tmp_path):
    out = tmp_path / "t"
    cmd = [sys.executable, "-m", "spikehls", "train", "--config", str(tiny_cfg), "--out", str(out), "--no-progress"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".t.lock"
    for _ in range(300):  # until the first one holds the folder
        if lock.is_file() and lock.stat().st_size:
            break
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True)
    first_out, _ = first.communicate(timeout=300)
    assert first.returncode == 0
    assert second.returncode == 2 and second.stderr.startswith("error: ") and second.stderr.count("\n") == 1
    assert f"pid {first.pid}" in second.stderr
    metrics = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in metrics] == [1]  # one run, not two mixed


def test_concurrent_csims_of_one_project(project):
    """Two C-simulations of one project at once both build and pass (private build folders)."""
    for f in (project / "spikehls").glob("spikehls_csim*"):
        f.unlink()
    cmd = [sys.executable, "-m", "spikehls", "csim", "--project", str(project)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "EXACT" in out
    assert not [p for p in (project / "spikehls").iterdir() if p.name.startswith(".build")]


# ---- item 6: leftovers of killed runs; co-design resumes ------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftovers_of_killed_writers_are_cleaned(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    (tmp_path / f".prj.{dead}-abcdefgh.tmp").mkdir()
    (tmp_path / f".prj.{live}-abcdefgh.tmp").mkdir()  # a live writer's: kept
    (tmp_path / ".prj.qwertyui.tmp").mkdir()  # an older spikehls's (no pid): stale
    (tmp_path / f".checkpoint.pt.{dead}-zxcvbnm1.tmp").write_text("half")
    (tmp_path / "user.tmp").write_text("not ours")
    with atomic_dir(tmp_path / "prj") as tmp:
        (tmp / "a").write_text("1")
    assert (tmp_path / "prj" / "a").read_text() == "1"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert f".prj.{live}-abcdefgh.tmp" in left and "user.tmp" in left
    assert f".prj.{dead}-abcdefgh.tmp" not in left and ".prj.qwertyui.tmp" not in left
    clean_stale(tmp_path)
    assert f".checkpoint.pt.{dead}-zxcvbnm1.tmp" not in {p.name for p in tmp_path.iterdir()}


def test_a_swap_cut_between_its_renames_is_undone(tmp_path):
    """Killed after the old folder was moved aside and before the new one moved in: the old one returns."""
    dead = _dead_pid()
    old = tmp_path / f".prj.{dead}-abcdefgh.old"
    old.mkdir()
    (old / "spikehls.json").write_text("{}")
    clean_stale(tmp_path)
    assert (tmp_path / "prj" / "spikehls.json").is_file() and not old.exists()


def test_codesign_resumes_an_interrupted_run(run, tmp_path, monkeypatch, capsys):
    """Killed after iteration 0: the rerun reuses it, does iteration 1 only, and cleans the leftovers."""
    import spikehls.codesign as cd
    from spikehls.config import config_from_dict

    board = tmp_path / "b.yaml"
    board.write_text("name: b\npart: xc7z020clg400-1\nclock_mhz: 100\n"
                     "resources: {LUT: 53200, FF: 106400, BRAM18: 280, URAM: 0, DSP: 220}\nhls: {max_latency_us: 20}\n")
    cfg = config_from_dict({**TINY, "codesign": {"max_iters": 2, "epochs_per_iter": 1}})
    # a latency bound iteration 0 misses (parallelism 1) but a larger parallelism meets: 2 iterations
    real = cd.pipeline
    calls = []

    def killed_after_first(*a, **k):
        calls.append(a[2])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(cd, "pipeline", killed_after_first)
    out = tmp_path / "cd"
    with pytest.raises(KeyboardInterrupt):
        cd.codesign(cfg, board, out, progress=False, log=lambda s: None, parallelism=1, from_run=run)
    rec = json.loads((out / "codesign.json").read_text())
    assert len(rec["iterations"]) == 1 and rec["final"] is None
    (out / "iter1").mkdir()  # what the kill left
    (out / "iter1" / "metrics.jsonl").write_text('{"epoch": 1}\n')
    (out / f".hls.{_dead_pid()}-abcdefgh.tmp").mkdir()
    calls.clear()
    monkeypatch.setattr(cd, "pipeline", lambda *a, **k: (calls.append(a[2]), real(*a, **k))[1])
    res = cd.codesign(cfg, board, out, progress=False, log=lambda s: None, parallelism=1, from_run=run)
    assert len(calls) == 1  # iteration 0 reused
    assert [r["iteration"] for r in res["iterations"]] == [0, 1]
    assert res["iterations"][0]["LUT"] == rec["iterations"][0]["LUT"]
    assert res["final"] is not None and (out / "hls" / "spikehls.json").is_file()
    assert not [p for p in out.iterdir() if p.name.endswith((".tmp", ".old"))]
    # finished: a rerun is refused, changing nothing; another setup on an unfinished run too
    assert main(["codesign", "--from-run", str(run), "--board", str(board), "--out", str(out), "--quiet"]) == 2
    assert "already holds a finished co-design run" in _err(capsys)
