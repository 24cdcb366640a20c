"""Every file spikehls writes, and every file it reads, goes through this module.

Writes are atomic: every artifact is written to a temporary path and renamed into place. An
interrupted run never leaves a half-written file (or project folder) that looks complete, and a
file already saved is only replaced once its successor is complete. Temporary names carry the
writer's pid (``.NAME.PID-XXXXXXXX.tmp``, ``.NAME.PID-XXXXXXXX.old``), so the next run can tell
the leftovers of a killed run from the work of a live one and removes them (:func:`clean_stale`).

Reads (:func:`read_text`, :func:`read_yaml`, :func:`read_json`, :func:`read_torch`,
:func:`read_npz`, :func:`read_onnx`, and :func:`reading` around any other decoding) turn every
missing file, decoding error or format error into one :class:`SpikehlsError` line naming the file
and what was expected.

Output folders are guarded: :func:`lock_dir` keeps two writers out of one folder (the second gets
one line naming the holder's pid, host and command), :func:`check_out_dir` refuses a folder the
tool did not make and an output that overlaps an input.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from spikehls.errors import SpikehlsError


def _tmp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}-"


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic swap (set, then restore at once)
    os.umask(mask)
    return mask


def follow_umask(path: str | os.PathLike, directory: bool = False) -> None:
    """Give ``path`` the mode an ordinary ``open``/``mkdir`` would: 0666 (0777 for a folder) less the umask.

    ``mkstemp``/``mkdtemp`` make 0600/0700 whatever the umask; artifacts are routinely handed to
    another account, a container or a build server, so they follow the umask like any other file.
    """
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    follow_umask(tmp_path)  # mkstemp makes 0600; writers that reopen the path keep this mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; swap it into place on success.

    An existing ``path`` is kept until the new one is complete, then replaced (callers check
    first that it is theirs to replace: :func:`check_out_dir`). Leftovers of killed writers of
    the same ``path`` are removed first (or, where a kill fell between the two renames of a
    swap, the previous folder is put back).
    """
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent, only=path.name)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path.name), suffix=".tmp", dir=path.parent))
    follow_umask(tmp, directory=True)  # mkdtemp makes 0700
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path.name), suffix=".old", dir=path.parent))
            os.replace(path, old)  # rename onto the empty placeholder
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ---- leftovers of killed runs -------------------------------------------------------------------
_LEFTOVER = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)-)?[A-Za-z0-9_]{8}(?:\.[^/]*)?\.(?P<kind>tmp|old)$")
_LEGACY_OLD = re.compile(r"^\.(?P<name>.+)\.old$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale(folder: str | os.PathLike, only: Optional[str] = None) -> list[str]:
    """Remove the temporary files and folders that killed writers left in ``folder``.

    A leftover's name carries its writer's pid: one whose writer still runs is kept. A name
    without a pid is from an older spikehls and always stale. A ``.old`` folder whose target is
    missing (a kill between the two renames of :func:`atomic_dir`) is renamed back into place.
    ``only``: just the leftovers of that entry name. Returns the names removed or restored.
    """
    folder = Path(folder)
    done: list[str] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return done
    for e in entries:
        m = _LEFTOVER.match(e.name)
        kind = m.group("kind") if m else None
        name = m.group("name") if m else None
        pid = int(m.group("pid")) if m and m.group("pid") else None
        if m is None:
            lm = _LEGACY_OLD.match(e.name)
            if lm is None or not e.is_dir():
                continue
            kind, name, pid = "old", lm.group("name"), None
        if only is not None and name != only:
            continue
        if pid is not None and _alive(pid):
            continue
        target = folder / name
        try:
            if kind == "old" and e.is_dir() and not target.exists():
                os.replace(e, target)  # the swap was cut between its renames: the previous folder is back
            elif e.is_dir() and not e.is_symlink():
                shutil.rmtree(e)
            else:
                e.unlink()
            done.append(e.name)
        except OSError:
            pass
    return done


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def append_jsonl(path: str | os.PathLike, obj: Any) -> None:
    """Append one JSON line (a single write of a whole line, flushed and fsynced)."""
    line = json.dumps(obj, default=_json_default) + "\n"
    with open(path, "a") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


# ---- reading ----------------------------------------------------------------------------------
def _first_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@contextlib.contextmanager
def reading(path: str | os.PathLike, expected: str) -> Iterator[None]:
    """Turn any failure while decoding ``path`` into one error line: the file, what was expected
    and what went wrong. A :class:`SpikehlsError` raised inside passes unchanged."""
    try:
        yield
    except SpikehlsError:
        raise
    except MemoryError:
        raise SpikehlsError(f"{path}: not a readable {expected} (too large or corrupt)") from None
    except Exception as err:  # noqa: BLE001 - every decoding/format failure of a user's file
        raise SpikehlsError(f"{path}: not a readable {expected} ({_first_line(err)[:200]})") from None


def _need_file(p: Path, expected: str) -> None:
    if not p.exists():
        raise SpikehlsError(f"{p}: {expected} not found")
    if not p.is_file():
        raise SpikehlsError(f"{p}: expected a {expected} file, found a folder")


def read_bytes(path: str | os.PathLike, expected: str = "file") -> bytes:
    p = Path(path)
    _need_file(p, expected)
    try:
        return p.read_bytes()
    except OSError as err:
        raise SpikehlsError(f"{p}: cannot read {expected} ({err.strerror or err})") from None


def read_text(path: str | os.PathLike, expected: str = "text file") -> str:
    """A UTF-8 text file; anything else is one error line."""
    data = read_bytes(path, expected)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpikehlsError(f"{path}: {expected} is not UTF-8 text (byte {err.start}: {data[err.start:err.start + 1]!r})") from None


def read_yaml(path: str | os.PathLike, what: str = "file") -> Any:
    """Parse a YAML file; a missing file, non-UTF-8 bytes or a syntax error is a one-line SpikehlsError naming it."""
    p = Path(path)
    return parse_yaml(read_text(p, what), str(p), what)


def parse_yaml(text: str, source: str, what: str = "file") -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SpikehlsError(f"{source}:{where} invalid YAML in {what} ({getattr(err, 'problem', None) or err})") from None
    except Exception as err:  # noqa: BLE001 - e.g. RecursionError on pathological nesting
        raise SpikehlsError(f"{source}: invalid YAML in {what} ({_first_line(err)[:200]})") from None


def read_json(path: str | os.PathLike, expected: str = "JSON file", kind: type | None = dict) -> Any:
    """Parse a JSON file; with ``kind`` the top level must be of that type (default: an object)."""
    p = Path(path)
    text = read_text(p, expected)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        where = f" line {err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
        raise SpikehlsError(f"{p}: invalid JSON{where and ' at' + where} ({getattr(err, 'msg', err)}; expected a {expected})") from None
    if kind is not None and not isinstance(data, kind):
        raise SpikehlsError(f"{p}: not a valid {expected} (top level is {type(data).__name__}, expected {kind.__name__})")
    return data


def read_torch(path: str | os.PathLike, expected: str = "PyTorch checkpoint", fmt: Optional[str] = None,
               keys: Iterable[str] = (), map_location: Any = "cpu") -> dict:
    """``torch.load`` a spikehls file: a dict, with ``format == fmt`` when given and ``keys`` present."""
    import torch

    p = Path(path)
    _need_file(p, expected)
    with reading(p, f"{expected} (truncated or corrupt?)"):
        obj = torch.load(p, map_location=map_location, weights_only=False)
    if not isinstance(obj, dict):
        raise SpikehlsError(f"{p}: not a spikehls {expected} (holds a {type(obj).__name__})")
    if fmt is not None and obj.get("format") != fmt:
        raise SpikehlsError(f"{p}: not a spikehls {expected} (format {obj.get('format')!r}, expected {fmt})")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise SpikehlsError(f"{p}: {expected} lacks {', '.join(missing)} (truncated or from another version?)")
    return obj


def read_npz(path: str | os.PathLike, expected: str = ".npz archive", keys: Iterable[str] = ()) -> dict:
    """Every array of an .npz file (read in full, so that a damaged member fails here)."""
    import numpy as np

    p = Path(path)
    _need_file(p, expected)
    with reading(p, expected):
        with np.load(p, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise SpikehlsError(f"{p}: not a readable {expected} (a single .npy array, not an .npz archive)")
            data = {k: z[k] for k in z.files}
    missing = [k for k in keys if k not in data]
    if missing:
        raise SpikehlsError(f"{p}: {expected} lacks {', '.join(missing)}")
    return data


def read_onnx(path: str | os.PathLike, expected: str = "ONNX file"):
    import onnx

    p = Path(path)
    _need_file(p, expected)
    with reading(p, expected):
        model = onnx.load(str(p))
    if not model.graph.node:
        raise SpikehlsError(f"{p}: not a readable {expected} (no graph: empty or damaged file)")
    return model


# ---- output folders: locks and guards ----------------------------------------------------------
_held: dict[str, list] = {}  # lock file -> [fd, count, pid]
COMMAND: Optional[str] = None  # the command line, named to a second writer (set by the CLI)


def _holder_text(lockfile: Path) -> str:
    try:
        info = json.loads(lockfile.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or not info.get("pid"):
        return "another spikehls process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"])) if info.get("since") else "?"
    return f"pid {info['pid']} on {info.get('host', '?')} ('{info.get('command', '?')}', since {since})"


@contextlib.contextmanager
def lock_dir(folder: str | os.PathLike, shared: bool = False) -> Iterator[None]:
    """Hold ``folder`` for writing (exclusive) or reading (``shared``) for the duration.

    The lock is an ``flock`` on ``.NAME.lock`` next to the folder (so it survives the folder being
    swapped by :func:`atomic_dir`, and the kernel drops it when its holder dies: no stale locks).
    A second writer, or a writer while someone reads, gets one error line naming the holder.
    Re-entrant within one process. An exclusive holder removes the leftovers of killed runs
    from the folder (:func:`clean_stale`).
    """
    import fcntl

    folder = Path(os.path.abspath(folder))
    lockfile = folder.parent / f".{folder.name}.lock"
    key = str(lockfile)
    held = _held.get(key)
    if held is not None and held[2] == os.getpid():
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SpikehlsError(f"{folder}: cannot create its parent folder ({err.strerror or err})") from None
    while True:
        try:
            fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            if shared:  # a read-only place: readers go on without a lock
                fd = None
                break
            raise SpikehlsError(f"{folder}: cannot lock ({err.strerror or err})") from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            doing = "reading" if shared else "writing"
            raise SpikehlsError(f"{folder}: in use by {_holder_text(lockfile)}; {doing} it now could mix or lose "
                                "files: wait for that process to finish or choose another folder") from None
        try:
            same = os.stat(lockfile).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the file was removed by a holder that finished: lock the new one
    if fd is not None and (not shared or os.fstat(fd).st_size == 0):
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                "command": (COMMAND or " ".join(sys.argv))[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
    _held[key] = [fd, 1, os.getpid()]
    try:
        if not shared and folder.is_dir():
            clean_stale(folder)
        yield
    finally:
        _held.pop(key, None)
        if fd is not None:
            try:
                if shared:  # the last reader out removes the file; others keep it
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                lockfile.unlink(missing_ok=True)
            except OSError:
                pass
            os.close(fd)


#: files a training run (``spikehls train``) and its export hold
RUN_FILES = frozenset({"config.yaml", "metrics.jsonl", "checkpoint.pt", "masks.json", "last.pt", "summary.json", "structure.png",
                       "quantized.pt", "intnet.npz", "model.qonnx.onnx", "testvectors.npz", "export.json"})
_FORMATS = {"hls": ("spikehls.json", "spikehls.hlsproject/"), "codesign": ("codesign.json", "spikehls.codesign/"),
            "sweep": ("sweep.json", "spikehls.sweep/")}
KIND_NAMES = {"run": "training run", "hls": "HLS project", "codesign": "co-design run", "sweep": "sweep"}


def visible_entries(folder: Path) -> list[str]:
    """What a folder holds, less hidden names (locks, temporary files)."""
    try:
        return sorted(e.name for e in Path(folder).iterdir() if not e.name.startswith("."))
    except OSError:
        return []


def folder_kind(folder: str | os.PathLike) -> Optional[str]:
    """'empty', 'hls', 'codesign', 'sweep' or 'run' for a folder spikehls made; None for anything else."""
    folder = Path(folder)
    entries = visible_entries(folder)
    if not entries:
        return "empty"
    for kind, (marker, fmt) in _FORMATS.items():
        f = folder / marker
        if f.is_file():
            try:
                if str(json.loads(f.read_text()).get("format", "")).startswith(fmt):
                    return kind
            except (OSError, ValueError, AttributeError):
                pass
    if all(e in RUN_FILES or folder_kind(folder / e) == "hls" for e in entries):
        return "run"  # a training run (perhaps killed early, perhaps exported), perhaps with its HLS project inside
    return None


def _overlaps(out: Path, inp: Path) -> bool:
    return out == inp or out in inp.parents


def check_out_dir(path: str | os.PathLike, kind: str, *, inputs: Iterable[Any] = (), replace: bool = False,
                  option: str = "--out") -> Path:
    """Check that ``path`` may receive an output of ``kind`` before any work starts; return it absolute.

    Refused: a file; a folder that is not empty and not a spikehls folder of ``kind``; for
    ``replace`` kinds (a folder swapped as a whole: the HLS project), an existing project unless
    ``replace`` (``--force``) and the current folder or one above it; and any output that is, or
    holds, one of ``inputs`` (an output replacing its own input).
    """
    p = Path(os.path.abspath(path))
    real = Path(os.path.realpath(p))
    what = KIND_NAMES.get(kind, kind)
    for inp in inputs:
        if inp is None:
            continue
        q = Path(os.path.realpath(inp))
        if _overlaps(real, q):
            raise SpikehlsError(f"{option} {path}: overlaps the input {inp} (an output must never overlap its inputs); "
                                "choose another folder (nothing was changed)")
    if p.exists() and not p.is_dir():
        raise SpikehlsError(f"{option} {path}: exists and is not a folder (nothing was changed)")
    if kind == "hls":
        cwd = Path(os.path.realpath(os.getcwd()))
        if _overlaps(real, cwd):
            raise SpikehlsError(f"{option} {path}: is the current folder (or holds it); a project is written as a "
                                "whole folder: name a folder of its own (nothing was changed)")
    if not p.exists():
        return p
    found = folder_kind(p)
    if found == "empty":
        return p
    if found != kind:
        shown = visible_entries(p)
        listing = ", ".join(shown[:4]) + (", ..." if len(shown) > 4 else "")
        raise SpikehlsError(f"{option} {path}: not empty and not a spikehls {what} (holds {listing}); spikehls never "
                            "writes into a folder it did not make: choose a new or empty folder (nothing was changed)")
    if kind == "hls" and not replace:
        raise SpikehlsError(f"{option} {path}: already holds a spikehls {what}; pass --force to replace it "
                            "(nothing was changed)")
    return p


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
