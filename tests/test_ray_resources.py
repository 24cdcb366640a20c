"""Ray tasks ask for the resources their point trains on (issue 14 item 11): num_gpus where
train.device is cuda (or auto on a cluster with GPUs). A fake ray module stands in for a cluster."""

from __future__ import annotations

import sys
import types

import pytest

from spikehls.errors import SpikehlsError
from spikehls.sweep.executors import RayExecutor, ray_resources


def _train(device):
    return {"key": "k", "config": {"train": {"device": device}}, "dir": "d"}


def test_resources_follow_the_device():
    assert ray_resources(_train("cuda"), 0) == {"num_cpus": 1, "num_gpus": 1}
    assert ray_resources(_train("cpu"), 4) == {"num_cpus": 1, "num_gpus": 0}
    assert ray_resources(_train("auto"), 4) == {"num_cpus": 1, "num_gpus": 1}  # auto picks CUDA where there is one
    assert ray_resources(_train("auto"), 0) == {"num_cpus": 1, "num_gpus": 0}
    assert ray_resources({"key": "k", "config": {}}, 2) == {"num_cpus": 1, "num_gpus": 1}  # default device: auto
    point = {"id": "p", "config_yaml": "train:\n  device: cuda\n"}  # export/HLS/C-sim: CPU only
    assert ray_resources(point, 4) == {"num_cpus": 1, "num_gpus": 0}


class _FakeRemote:
    def __init__(self, fn, calls):
        self.fn, self.calls, self.opts = fn, calls, {}

    def options(self, **kw):
        new = _FakeRemote(self.fn, self.calls)
        new.opts = kw
        return new

    def remote(self, job):
        self.calls.append((self.opts, job))
        return object()


def _fake_ray(gpus: float, calls: list):
    ray = types.ModuleType("ray")
    ray.init = lambda **kw: None
    ray.cluster_resources = lambda: {"CPU": 8.0, **({"GPU": gpus} if gpus else {})}
    ray.remote = lambda **kw: (lambda fn: _FakeRemote(fn, calls))
    ray.shutdown = lambda: None
    return ray


def test_ray_executor_passes_num_gpus(monkeypatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "ray", _fake_ray(2, calls))
    ex = RayExecutor("auto")
    ex.submit(len, _train("cuda"))
    ex.submit(len, _train("cpu"))
    ex.submit(len, {"id": "p", "config_yaml": ""})
    assert [c[0] for c in calls] == [{"num_cpus": 1, "num_gpus": 1}, {"num_cpus": 1, "num_gpus": 0},
                                     {"num_cpus": 1, "num_gpus": 0}]


def test_cuda_on_a_cluster_without_gpus_is_an_error(monkeypatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "ray", _fake_ray(0, calls))
    ex = RayExecutor("auto")
    with pytest.raises(SpikehlsError, match="train.device: cuda .* no GPU"):
        ex.submit(len, _train("cuda"))
    ex.submit(len, _train("auto"))  # auto on a CPU cluster trains on the CPU
    assert calls == [({"num_cpus": 1, "num_gpus": 0}, _train("auto"))]
