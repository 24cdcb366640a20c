"""Where tasks run: a local process pool, or Ray tasks on an existing cluster.

Both give the scheduler the same three calls -- ``submit(fn, job)``, ``wait(timeout)`` returning
finished ``(handle, result)`` pairs, ``shutdown()`` -- and the same worker functions
(:mod:`spikehls.sweep.tasks`) run in both, one task per core, so a point gives the same result
whichever runs it.

Ray is optional (``pip install ray``, the ``ray`` extra). With Ray every worker writes into the
sweep folder itself: on a multi-node cluster that folder must be on a filesystem every node
mounts at the same path.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
from typing import Any, Callable, Optional

from spikehls.errors import SpikehlsError

from .tasks import init_worker


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    """Every task in this process, one after the other (debugging, and tests of the scheduler)."""

    name = "serial"
    capacity = 1

    def __init__(self) -> None:
        self._queue: list[tuple[object, Callable[[dict], dict], dict]] = []

    def submit(self, fn: Callable[[dict], dict], job: dict) -> Any:
        handle = object()
        self._queue.append((handle, fn, job))
        return handle

    def wait(self, timeout: float) -> list[tuple[Any, Any]]:
        if not self._queue:
            return []
        handle, fn, job = self._queue.pop(0)
        return [(handle, fn(job))]

    def shutdown(self, cancel: bool = False) -> None:
        self._queue.clear()


class LocalExecutor:
    """``workers`` processes (spawned: no torch or OpenMP state inherited), one task each at a time."""

    name = "local"

    def __init__(self, workers: int):
        if workers < 1:
            raise SpikehlsError(f"--workers must be >= 1 (got {workers})")
        self.capacity = workers
        self._pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=init_worker)
        self._futures: set[cf.Future] = set()

    def submit(self, fn: Callable[[dict], dict], job: dict) -> Any:
        fut = self._pool.submit(fn, job)
        self._futures.add(fut)
        return fut

    def wait(self, timeout: float) -> list[tuple[Any, Any]]:
        """Finished tasks as (handle, result); a task whose process died gives the exception as result."""
        if not self._futures:
            return []
        done, _ = cf.wait(self._futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        for fut in done:
            self._futures.discard(fut)
            try:
                out.append((fut, fut.result()))
            except Exception as err:  # noqa: BLE001 - e.g. BrokenProcessPool: the worker process died
                out.append((fut, err))
        if any(isinstance(r, cf.process.BrokenProcessPool) for _, r in out):
            self._restart()
        return out

    def _restart(self) -> None:
        """A dead worker breaks the whole pool: start a fresh one for the remaining tasks."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = cf.ProcessPoolExecutor(self.capacity, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=init_worker)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            # interrupted: stop the running tasks too (each is redone on resume); otherwise the
            # interpreter would wait for them at exit. ProcessPoolExecutor has no public call for it.
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.terminate()
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """A host:port that does not accept connections fails here, in seconds, not in Ray's long retry loop."""
    addr = address.split("://", 1)[-1]
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise SpikehlsError(f"--ray-address: '{address}' is not HOST:PORT or 'auto'")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise SpikehlsError(f"--ray-address: cannot reach a Ray cluster at {address} ({err.strerror or err})") from None


def job_device(job: dict) -> str:
    """``train.device`` of a task's config (a train job's ``config`` dict; a point job trains nothing: cpu)."""
    cfg = job.get("config")
    if not isinstance(cfg, dict):
        return "cpu"  # point jobs: export, HLS, C-simulation run on the CPU
    train = cfg.get("train") or {}
    return str(train.get("device", "auto")) if isinstance(train, dict) else "auto"


def ray_resources(job: dict, cluster_gpus: float) -> dict:
    """Ray resources of one task: one CPU, and one GPU where it trains on CUDA.

    ``train.device: cuda`` asks for a GPU (Ray hides GPUs from tasks that did not ask: without
    ``num_gpus`` a CUDA run would fail, and an ``auto`` run would train on the CPU); ``auto`` asks
    for one when the cluster has GPUs, as ``auto`` picks CUDA on a machine that has one.
    """
    device = job_device(job)
    if device == "cuda" or (device == "auto" and cluster_gpus > 0 and isinstance(job.get("config"), dict)):
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": 1, "num_gpus": 0}


class RayExecutor:
    """The same tasks as Ray tasks (one CPU each, and a GPU for CUDA training: :func:`ray_resources`)
    on an existing cluster."""

    name = "ray"

    def __init__(self, address: str, workers: Optional[int] = None):
        try:
            import ray
        except ImportError:
            raise SpikehlsError("--ray-address needs Ray: pip install ray (or the 'ray' extra: pip install spikehls[ray])") from None
        if address != "auto" and not address.startswith("ray://"):
            _check_reachable(address)
        try:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise SpikehlsError(f"--ray-address {address}: cannot connect to a Ray cluster ({' '.join(str(err).split())[:200]})") from None
        self._ray = ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.gpus = float(ray.cluster_resources().get("GPU", 0))
        self.capacity = workers or max(1, cpus)
        self._remote: dict[Callable, Any] = {}
        self._refs: dict[Any, Any] = {}

    def submit(self, fn: Callable[[dict], dict], job: dict) -> Any:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(num_cpus=1, max_retries=0)(fn)
        res = ray_resources(job, self.gpus)
        if res["num_gpus"] and not self.gpus:
            raise SpikehlsError(f"train.device: cuda requested for {job.get('key', 'a training job')} but the Ray "
                                "cluster has no GPU (use auto or cpu)")
        ref = self._remote[fn].options(**res).remote(job)
        self._refs[ref] = ref
        return ref

    def wait(self, timeout: float) -> list[tuple[Any, Any]]:
        if not self._refs:
            return []
        ready, _ = self._ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        out = []
        for ref in ready:
            del self._refs[ref]
            try:
                out.append((ref, self._ray.get(ref)))
            except Exception as err:  # noqa: BLE001 - a worker that died (RayTaskError, WorkerCrashedError)
                out.append((ref, err))
        return out

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            for ref in list(self._refs):
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
        self._ray.shutdown()


def make_executor(workers: Optional[int], ray_address: Optional[str]):
    """The executor the command line asked for (Ray connected here: an unreachable address fails first)."""
    if ray_address:
        return RayExecutor(ray_address, workers)
    return LocalExecutor(workers or default_workers())
