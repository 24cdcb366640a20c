"""Whole sweeps with the real tasks (train, export, HLS, g++ C-sim, report): slow.

* a sweep killed mid-way (SIGKILL to its whole process group) resumes and skips what finished;
  a point that fails (an unknown layer in quant.layer_w_bits) is recorded and the others finish;
* the same points through a local Ray instance give the same results as the local runner.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spikehls.sweep import load_results, load_sweep, run_sweep
from spikehls.sweep.store import read_records

pytestmark = pytest.mark.slow

BASE = {"dataset": {"name": "digits", "train_limit": 240, "test_limit": 60},
        "train": {"epochs": 2, "time_steps": 2, "seed": 1},
        "quant": {"qat_epochs": 1, "test_vectors": 8}}
#: what must agree between two runs of the same point (everything but times and paths)
SAME = ["status", "quantized_accuracy", "float_accuracy", "csim_accuracy", "csim_exact", "spike_mismatches",
        "synops_per_sample", "channels_kept", "parameters_kept", "LUT", "FF", "BRAM18", "DSP",
        "latency_cycles_worst", "latency_cycles_activity", "fits", "train_key", "warm_start"]


def _write(tmp_path: Path, axes: dict, **kw) -> Path:
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump({"base": BASE, "board": "pynq-z2", "finetune_epochs": 2, "axes": axes, **kw}, sort_keys=False))
    return f


def _cmd(cfg: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "spikehls", "sweep", "--config", str(cfg), "--out", str(out), "--quiet", *extra]


def test_killed_sweep_resumes_and_failing_point_is_isolated(tmp_path):
    cfg = _write(tmp_path, {"quant.w_bits": [3, 4], "quant.layer_w_bits": [{}, {"nosuch": 4}]})
    out = tmp_path / "out"
    proc = subprocess.Popen(_cmd(cfg, out, "--workers", "1"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 400
        while time.time() < deadline and proc.poll() is None:
            recs = read_records(out / "results.jsonl")
            if any(r["status"] == "ok" for r in recs):
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the whole sweep: parent and workers, mid-way
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = {r["id"]: r for r in read_records(out / "results.jsonl")}
    assert 1 <= len(before) < 4
    runs = sorted(p.name for p in (out / "train").iterdir() if p.is_dir() and not p.name.startswith("."))
    stamps = {r: (out / "train" / r / "summary.json").stat().st_mtime_ns for r in runs}

    res = subprocess.run(_cmd(cfg, out, "--workers", "2"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 1, res.stderr[-2000:]  # some points failed (on purpose)
    assert f"{len(before)} skipped" in res.stdout
    recs = read_records(out / "results.jsonl")
    assert len(recs) == 4 and len({r["id"] for r in recs}) == 4  # nothing finished was run again
    for rid, r in before.items():
        assert next(x for x in recs if x["id"] == rid) == r
    for r in recs:
        if r["settings"]["quant.layer_w_bits"]:
            assert r["status"] == "failed" and "layer_w_bits" in r["error"] and "nosuch" in r["error"]
        else:
            assert r["status"] == "ok" and r["csim_exact"] and r["fits"]
            assert r["warm_start"].startswith("dense-") and r["train_key"].startswith("sca-")
    for r, ns in stamps.items():  # trained runs were reused, not trained again
        assert (out / "train" / r / "summary.json").stat().st_mtime_ns == ns
    assert len([p for p in (out / "train").iterdir() if p.is_dir() and not p.name.startswith(".")]) == 2
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 5 and lines[0].startswith("id,status,quant.w_bits,quant.layer_w_bits,")
    assert (out / "pareto.png").stat().st_size and (out / "axes.png").stat().st_size
    assert "Pareto front" in res.stdout


# Ports Ray binds by default (GCS, client server, dashboard, dashboard agent) and the range its
# workers take: a random free port that lands on one of them makes `ray start` refuse to run
# (CI once drew 52365, the dashboard agent's default).
_RAY_DEFAULT_PORTS = {6379, 8265, 10001, 52365}
_RAY_WORKER_PORTS = range(10002, 20000)


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports, none of them one Ray would take for itself."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if port not in _RAY_DEFAULT_PORTS and port not in _RAY_WORKER_PORTS:
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def test_ray_gives_the_same_results_as_the_local_runner(tmp_path):
    pytest.importorskip("ray")
    ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    cfg = _write(tmp_path, {"quant.w_bits": [3, 4]}, seed=0)
    spec = load_sweep(cfg)
    local = run_sweep(spec, tmp_path / "local", workers=2, progress=False, log=lambda _: None)
    assert local.done == 2
    port, agent_http, agent_grpc = _free_ports(3)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    start = subprocess.run([ray_bin, "start", "--head", "--num-cpus", "2", "--port", str(port),
                            "--dashboard-agent-listen-port", str(agent_http),
                            "--dashboard-agent-grpc-port", str(agent_grpc),
                            "--include-dashboard", "false", "--disable-usage-stats"],
                           capture_output=True, text=True, env=env, timeout=180)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        res = run_sweep(spec, tmp_path / "ray", ray_address=f"127.0.0.1:{port}", progress=False, log=lambda _: None)
    finally:
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=120, env=env)
    a = {r["id"]: r for r in load_results(tmp_path / "local")}
    b = {r["id"]: r for r in load_results(tmp_path / "ray")}
    assert res.done == 2 and res.failed == 0, [r.get("error") for r in b.values()]
    assert a.keys() == b.keys()
    for rid in a:
        assert {k: a[rid].get(k) for k in SAME} == {k: b[rid].get(k) for k in SAME}
