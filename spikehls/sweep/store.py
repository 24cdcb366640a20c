"""The results folder of a sweep: records that survive a kill, and the resume that reads them.

``DIR/results.jsonl`` is the source of truth: one JSON line per finished point (ok or failed),
appended with a single fsynced write as soon as the point finishes. A line cut short by a kill
is ignored on reading; a later line for the same id (``--retry-failed``) supersedes an earlier one.
``DIR/results.csv`` is rewritten atomically from it after every point (so it always holds every
finished point, and never a half-written row), with the Pareto column filled in.

``DIR/sweep.json`` records what the folder was made with (base config, board, reuse settings:
:meth:`SweepSpec.fingerprint`; and the ``--verify`` source, key ``verify``); resuming into a folder
made from something else is refused, since the point ids hash only the axes, and resuming with
another ``--verify`` would put points measured by different sources in one table.
``DIR/.lock`` keeps two sweeps from writing one folder.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
from pathlib import Path
from typing import Any, Iterable, Optional

from spikehls.boards import RESOURCE_KINDS
from spikehls.errors import SpikehlsError
from spikehls.fileio import append_jsonl, write_json, write_text

from .spec import SweepSpec

FORMAT = "spikehls.sweep/1"
RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"
SWEEP_JSON = "sweep.json"

#: CSV columns after the id, status and the axes (in this order)
METRIC_COLUMNS = (
    ["exact", "quantized_accuracy", "float_accuracy", "csim_accuracy", "csim_samples", "csim_exact", "spike_mismatches",
     "readout_mismatches", "synops_per_sample", "channels_kept", "channels_total", "parameters_kept"]
    + list(RESOURCE_KINDS)
    + [f"util_{k}" for k in RESOURCE_KINDS]
    + ["latency_cycles_worst", "latency_cycles_activity", "latency_us_worst", "latency_us_activity", "latency_us_activity_max", "fits",
       "resource_source", "seconds_export", "seconds_hls", "seconds_csim", "seconds_report", "wall_seconds",
       "train_seconds", "train_key", "warm_start", "error"]
    + [f"yosys_{k}" for k in RESOURCE_KINDS] + ["fits_yosys", "seconds_yosys"]  # --verify yosys only
    + ["yosys_layers_scope", "yosys_layers_LUT_ratio", "yosys_layers_FF_ratio", "yosys_layers_share",  # --verify yosys-layers only
       "yosys_layers_memories_equal", "yosys_layers_scaled_LUT", "yosys_layers_scaled_FF", "fits_yosys_layers",
       "seconds_yosys_layers"]
    + ["pareto"]
)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a results.jsonl (a torn last line from a kill is skipped)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "id" in rec:
            out.append(normalise(rec))
    return out


def normalise(rec: dict[str, Any]) -> dict[str, Any]:
    """A record written as ``ok`` whose C-simulation was not exact (by a version that did not fail
    such points) is a failed point: read it as one, so that resume, fronts and tables agree."""
    if rec.get("csim_exact") is False and (rec.get("status") == "ok" or not rec.get("error")):
        from .tasks import not_exact_error

        rec = {**rec, "status": "failed", "error": not_exact_error(rec)}
    return rec


def latest(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """id -> the last record written for it (insertion order: first appearance)."""
    by_id: dict[str, dict[str, Any]] = {}
    for r in records:
        by_id.pop(r["id"], None)
        by_id[r["id"]] = r
    return by_id


def csv_row(rec: dict[str, Any], axes: list[str], pareto: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"id": rec["id"], "status": rec.get("status")}
    for a in axes:
        row[a] = rec.get("settings", {}).get(a, "")
    util = rec.get("utilization") or {}
    secs = rec.get("seconds") or {}
    for col in METRIC_COLUMNS:
        if col.startswith("util_"):
            v = util.get(col[5:])
        elif col.startswith("seconds_"):
            v = secs.get(col[8:])
        elif col == "pareto":
            v = pareto
        elif col == "exact":  # spike-exact C-simulation; empty where the point never got that far
            v = rec.get("csim_exact")
        else:
            v = rec.get(col)
        row[col] = "" if v is None else v
    return row


def record_verify(rec: dict[str, Any]) -> Optional[str]:
    """The ``--verify`` source whose fields a record carries (:data:`METRIC_COLUMNS`): ``yosys_layers_*`` /
    ``fits_yosys_layers`` -> ``"yosys-layers"``; ``yosys_<KIND>`` / ``fits_yosys`` -> ``"yosys"``; else None."""
    if "fits_yosys_layers" in rec or any(k.startswith("yosys_layers_") for k in rec):
        return "yosys-layers"
    if "fits_yosys" in rec or any(f"yosys_{k}" in rec for k in RESOURCE_KINDS):
        return "yosys"
    return None


def infer_verify(records: Iterable[dict[str, Any]]) -> tuple[bool, Optional[str]]:
    """``(known, verify)``: the ``--verify`` source a folder's points were made with, read from the points.

    For folders whose sweep.json predates its ``verify`` key. Only a point the sweep measures tells:
    ``ok`` (hence spike-exact) points carry the source's fields, or none without ``--verify``; a failed
    point carries none whatever the source (:func:`spikehls.sweep.tasks._point` measures exact designs
    only), so a folder with no ok point is unknown (``known`` False: any ``--verify`` may resume it, no
    figure of another source is in it). Points that already disagree (a folder resumed with another
    ``--verify`` before this check existed) are a one-line error: the folder mixes sources.
    """
    found = {record_verify(r) for r in records if r.get("status") == "ok"}
    if len(found) > 1:
        shown = ", ".join(sorted(_verify_shown(v) for v in found))
        raise SpikehlsError(f"its points were measured by different sources ({shown}): the folder mixes sources; "
                            "choose another --out")
    return (True, found.pop()) if found else (False, None)


def _verify_shown(verify: Optional[str]) -> str:
    return f"--verify {verify}" if verify else "no --verify"


class ResultsStore:
    """One sweep's results folder, locked for the lifetime of the object (``close()`` releases it).

    ``verify`` is the run's ``--verify`` source (None, ``"yosys"``, ``"yosys-layers"``): part of the
    folder's identity, like the base config (:meth:`check_reusable`)."""

    def __init__(self, out: Path, spec: SweepSpec, verify: Optional[str] = None):
        self.out = Path(out)
        self.spec = spec
        self.verify = verify
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.out / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise SpikehlsError(f"{self.out}: another sweep is writing into this folder (wait for it or choose another --out)") from None
        self._check_or_write_header()
        self._end_torn_line()
        self.records = latest(read_records(self.jsonl))

    def _end_torn_line(self) -> None:
        """A kill during a write can leave a last line without its newline: end it, or the next record
        would be glued onto it and lost."""
        if self.jsonl.is_file() and self.jsonl.stat().st_size:
            with open(self.jsonl, "rb+") as fh:
                fh.seek(-1, 2)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")

    @staticmethod
    def check_reusable(out: Path, spec: SweepSpec, verify: Optional[str] = None) -> None:
        """Refuse a folder made from another base config/board, or with another ``--verify`` source,
        before anything is started or written (nothing in the folder is changed by a refusal).

        The ``--verify`` source is not in :meth:`SweepSpec.fingerprint` (folders made before it was
        recorded must keep resuming): sweep.json's ``verify`` key holds it; a header without the key
        is from before, and the source is inferred from the recorded points (:func:`infer_verify`).
        """
        f = Path(out) / SWEEP_JSON
        if not f.is_file():
            if Path(out).exists() and not Path(out).is_dir():
                raise SpikehlsError(f"{out}: exists and is not a folder")
            return
        try:
            old = json.loads(f.read_text())
        except json.JSONDecodeError:
            raise SpikehlsError(f"{f}: unreadable (not JSON); choose another --out") from None
        if old.get("fingerprint") != spec.fingerprint():
            raise SpikehlsError(f"{out}: holds a sweep of another base config, board or reuse setting "
                                f"(from {old.get('source')}); choose another --out")
        if "verify" in old:
            known, had, how = True, old["verify"], ""
        else:
            try:
                known, had = infer_verify(latest(read_records(Path(out) / RESULTS_JSONL)).values())
            except SpikehlsError as err:
                raise SpikehlsError(f"{out}: {err}") from None
            how = " (inferred from its recorded points: its sweep.json predates the verify key)"
        if known and had != verify:
            fix = f"rerun with --verify {had}" if had else "rerun without --verify"
            raise SpikehlsError(f"{out}: its points were made with {_verify_shown(had)}{how}, this run asks for "
                                f"{_verify_shown(verify)} (one results table never mixes measurement sources); "
                                f"{fix}, or choose another --out")

    def _check_or_write_header(self) -> None:
        self.check_reusable(self.out, self.spec, self.verify)
        head = {"format": FORMAT, "fingerprint": self.spec.fingerprint(), "source": self.spec.source,
                "board": self.spec.board_ref, "search": self.spec.search, "budget": self.spec.budget,
                "seed": self.spec.seed, "reuse_dense": self.spec.reuse_dense,
                "finetune_epochs": self.spec.finetune_epochs, "verify": self.verify,
                "axes": {k: (v if isinstance(v, list) else v.model_dump()) for k, v in self.spec.axes.items()},
                "base": self.spec.base.model_dump(mode="json")}
        write_json(self.out / SWEEP_JSON, head)

    @property
    def jsonl(self) -> Path:
        return self.out / RESULTS_JSONL

    @property
    def csv(self) -> Path:
        return self.out / RESULTS_CSV

    def finished(self, retry_failed: bool = False) -> set[str]:
        """Ids a rerun skips: every recorded point (or only the successful ones with ``retry_failed``)."""
        return {i for i, r in self.records.items() if r.get("status") == "ok" or not retry_failed}

    def add(self, rec: dict[str, Any]) -> None:
        """Append one finished point (fsynced), then rewrite the CSV atomically (fronts so far marked)."""
        from .pareto import fronts

        append_jsonl(self.jsonl, rec)
        self.records.pop(rec["id"], None)
        self.records[rec["id"]] = rec
        self.write_csv(fronts(list(self.records.values())))

    def axes(self) -> list[str]:
        names = list(self.spec.axes)
        for r in self.records.values():
            names += [a for a in r.get("settings", {}) if a not in names]
        return names

    def write_csv(self, pareto: Optional[dict[str, list[str]]] = None) -> None:
        axes = self.axes()
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["id", "status", *axes, *METRIC_COLUMNS], lineterminator="\n")
        w.writeheader()
        for rid, rec in self.records.items():
            w.writerow(csv_row(rec, axes, ";".join((pareto or {}).get(rid, []))))
        write_text(self.csv, buf.getvalue())

    def close(self) -> None:
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()  # the file stays: unlinking it could let a waiting sweep lock a stale inode

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
