"""SCA as its authors run it: masking modes, regrowth, and activity-based structure vs uniform pruning.

Two parts (both MNIST, T = 4, direct encoding, Adam lr 0.003 batch 128 cosine, seed 0, CPU, one
thread per run, runs side by side on ``--jobs`` processes):

* ``compare``: the ``mnist`` preset (conv16 -> pool -> conv32 -> pool -> readout) on the first 10k
  training images for 5 epochs, evaluated on the 10k test images: dense; SCA ``masking: step`` and
  ``masking: epoch`` at p = 0.5, 0.7, 0.9 (q = 0.2 as the authors' README example at p = 0.7, also at
  0.5; 0.05 at p = 0.9 since p + q < 1); and a uniform-pruning baseline per p: the same number of
  channels as SCA keeps, spread over the layers in proportion to their width, chosen at random before
  training and fixed (SCA's claim is that activity-based structure beats it).
* ``full``: SCA in the default mode at p = 0.7, q = 0.2 on all 60k images for 8 epochs (``--full-epochs``;
  4, 6 and 8 have a dense figure) with the 32,M,64,M network of ``benchmarks/train_mnist.py``, against that
  benchmark's dense figure at the same epochs (99.05 / 99.07 / 99.08 %; same network, data, optimizer).

Per run: accuracy of the best epoch (the masked network), accuracy after slimming (the pruned
channels physically removed from the float network and the result evaluated: must equal the first),
channels and parameters kept (%), SynOps per sample, and the churn of the mask updates (pruned,
revived). Writes ``benchmarks/results/sca_fidelity.json`` after every run, and the structure plots of
the p = 0.7 runs next to it.

    python benchmarks/sca_fidelity.py --part all --jobs 2      # ~1-1.5 h on 2 idle cores
    python benchmarks/sca_fidelity.py --part compare --epochs 1 --train-limit 1000   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "mnist"
RESULTS = HERE / "results" / "sca_fidelity.json"
#: dense figures of benchmarks/train_mnist.py (32,M,64,M, 60k images, same optimizer) by epochs:
#: train_mnist_full.json (4), train_mnist_full_6ep.json (6), train_mnist_full_8ep.json (8)
DENSE_FULL = {4: 0.9905, 6: 0.9907, 8: 0.9908}
Q_OF_P = {0.5: 0.2, 0.7: 0.2, 0.9: 0.05}


def _base(args, part: str) -> dict:
    full = part == "full"
    return {
        "dataset": {"name": "mnist", "path": args.data, "train_limit": None if full else args.train_limit,
                    "test_limit": args.test_limit},
        "model": {"preset": None, "arch": "vgg", "layers": [32, "M", 64, "M"] if full else [16, "M", 32, "M"]},
        "encoding": {"kind": "direct"},
        "optim": {"name": "adam", "lr": 0.003, "batch_size": 128, "schedule": "cosine"},
        "train": {"epochs": args.full_epochs if full else args.epochs, "time_steps": 4, "seed": 0, "device": "cpu",
                  "num_threads": 1},
    }


def _jobs(args) -> list[dict]:
    jobs = []
    if args.part in ("compare", "all"):
        jobs.append({"name": "dense", "part": "compare", "sca": {"enabled": False}})
        for p in args.p:
            q = Q_OF_P.get(p, min(0.2, (1 - p) / 2))
            for mode in ("step", "epoch"):
                jobs.append({"name": f"sca_{mode}_p{p}", "part": "compare",
                             "sca": {"enabled": True, "p": p, "q": q, "masking": mode}})
            jobs.append({"name": f"uniform_p{p}", "part": "compare", "sca": {"enabled": False}, "uniform": (p, q)})
    if args.part in ("full", "all"):
        jobs.insert(0, {"name": f"sca_{args.full_mode}_p0.7_full", "part": "full",
                        "sca": {"enabled": True, "p": 0.7, "q": 0.2, "masking": args.full_mode}})
    return jobs


def _uniform_masks(cfg, p: float, q: float, seed: int = 0):
    """As many channels as SCA keeps (floor((1-p-q)M) + floor(qM)), each layer in proportion to its width."""
    import math

    from spikehls.training.encoding import encoded_channels
    from spikehls.training.masks import GroupMask, Masks
    from spikehls.training.models import build_model

    model = build_model(cfg, encoded_channels(cfg.encoding.kind, 1), (28, 28), 10)
    groups = model.prunable_groups()
    sizes = np.array([g.size for g in groups])
    m = int(sizes.sum())
    k_total = int(math.floor((1 - p - q) * m + 1e-9)) + int(math.floor(q * m + 1e-9))
    k = np.maximum(1, np.floor(sizes * k_total / m).astype(int))
    order = np.argsort(-(sizes * k_total / m - k))  # largest remainders first
    i = 0
    while k.sum() < k_total:
        k[order[i % len(k)]] += 1
        i += 1
    rng = np.random.default_rng(seed)
    out = {}
    for g, kg in zip(groups, k):
        keep = np.zeros(g.size, dtype=bool)
        keep[rng.permutation(g.size)[:kg]] = True
        out[g.name] = GroupMask(g.member_names, keep)
    return Masks(out)


def run_job(job: dict, args_dict: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from spikehls.config import config_from_dict
    from spikehls.training.structure_plot import structure_series
    from spikehls.training.trainer import train

    args = argparse.Namespace(**args_dict)
    cfg = config_from_dict({**_base(args, job["part"]), "sca": job["sca"]}, source=f"sca_fidelity:{job['name']}")
    init_masks = _uniform_masks(cfg, *job["uniform"]) if "uniform" in job else None
    work = Path(tempfile.mkdtemp(prefix=f"sca_fidelity_{job['name']}_", dir=args.work))
    t0 = time.perf_counter()
    s = train(cfg, work / "run", progress=False, init_masks=init_masks)
    wall = time.perf_counter() - t0
    from spikehls.quantize.export_run import slimmed_accuracy

    slim_acc, p_kept_counts, p_dense_counts = slimmed_accuracy(work / "run")
    params = {"kept": p_kept_counts, "dense": p_dense_counts}
    records = [json.loads(ln) for ln in (work / "run" / "metrics.jsonl").read_text().splitlines()]
    st = structure_series(records)
    plot = None
    if "p0.7" in job["name"] and (work / "run" / "structure.png").is_file():
        plot = Path(args.out).resolve().parent / f"sca_structure_{job['name']}.png"  # beside the results file
        shutil.copy(work / "run" / "structure.png", plot)
    shutil.rmtree(work, ignore_errors=True)
    p_kept, p_dense = params["kept"]["parameters"], params["dense"]["parameters"]
    return {
        "name": job["name"], "part": job["part"], "sca": job["sca"], "uniform": job.get("uniform"),
        "test_accuracy": s["test_accuracy"], "slimmed_accuracy": slim_acc,
        "slimmed_equals_best": abs(slim_acc - s["test_accuracy"]) < 1e-12,
        "best_epoch": s["best_epoch"], "channels_kept": s["channels_kept"], "channels_total": s["channels_total"],
        "channels_kept_pct": 100.0 * s["channels_kept"] / s["channels_total"],
        "params": params, "params_kept_pct": 100.0 * p_kept / p_dense,
        "channels_per_layer": s["channels_per_layer"], "synops_per_sample": s["synops_per_sample"],
        "churn": {"pruned": st["pruned"], "revived": st["revived"], "update_epochs": st["update_epochs"],
                  "total": int(sum(st["pruned"]) + sum(st["revived"])), "revived_total": int(sum(st["revived"])),
                  "after_first_update": int(sum(st["pruned"][1:]) + sum(st["revived"][1:]))},
        "epochs": [{k: r.get(k) for k in ("epoch", "loss", "train_acc", "test_acc", "channels_kept_total",
                                          "synops_per_sample", "seconds")} for r in records],
        "wall_seconds": wall, "structure_plot": plot.name if plot else None,  # beside the results file
    }


def _run_star(a: tuple) -> dict:
    return run_job(*a)


def _summary(runs: dict) -> dict:
    out: dict = {}
    dense = runs.get("dense", {}).get("slimmed_accuracy")
    for p in sorted({r["sca"].get("p") for r in runs.values() if r["sca"].get("p") is not None}):
        row = {}
        for mode in ("step", "epoch"):
            r = runs.get(f"sca_{mode}_p{p}")
            if r:
                row[mode] = {"accuracy": r["slimmed_accuracy"], "channels_kept_pct": r["channels_kept_pct"],
                             "churn_after_first_update": r["churn"]["after_first_update"],
                             "gap_to_dense_points": 100 * (dense - r["slimmed_accuracy"]) if dense is not None else None}
        u = runs.get(f"uniform_p{p}")
        if u:
            row["uniform"] = {"accuracy": u["slimmed_accuracy"], "channels_kept_pct": u["channels_kept_pct"]}
        out[f"p{p}"] = row
    full = [r for r in runs.values() if r["part"] == "full"]
    if full:
        r = full[0]
        dense_ref = DENSE_FULL.get(len(r["epochs"]))
        gap = 100 * (dense_ref - r["slimmed_accuracy"]) if dense_ref is not None else None
        out["full"] = {"name": r["name"], "epochs": len(r["epochs"]), "accuracy": r["slimmed_accuracy"],
                       "dense_reference": dense_ref, "gap_points": gap,
                       "within_0.5_points": gap is not None and gap <= 0.5}
    return out


def markdown_table(results: dict) -> str:
    """The README table: one row per run, accuracy after slimming, what was kept, churn."""
    rows = ["| run | masking | p / q | accuracy after slimming | channels kept | parameters kept | SynOps / sample | "
            "churn after the 1st update (revived) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in sorted(results.get("runs", {}).items(), key=lambda kv: (kv[1]["part"], kv[0])):
        sca = r["sca"]
        mode = sca.get("masking", "-") if sca.get("enabled") else ("uniform, fixed" if r.get("uniform") else "dense")
        pq = f"{sca['p']} / {sca['q']}" if sca.get("enabled") else (f"{r['uniform'][0]} / {r['uniform'][1]}" if r.get("uniform") else "-")
        churn = f"{r['churn']['after_first_update']} ({sum(r['churn']['revived'])})" if sca.get("enabled") else "-"
        rows.append(f"| {name} | {mode} | {pq} | {100 * r['slimmed_accuracy']:.2f} % | {r['channels_kept']}/{r['channels_total']} "
                    f"({r['channels_kept_pct']:.1f} %) | {r['params_kept_pct']:.1f} % | {r['synops_per_sample']:,.0f} | {churn} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["compare", "full", "all"], default="all")
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="MNIST IDX directory (nothing is downloaded)")
    ap.add_argument("--p", type=float, nargs="+", default=[0.5, 0.7, 0.9])
    ap.add_argument("--epochs", type=int, default=5, help="epochs of the compare part")
    ap.add_argument("--train-limit", type=int, default=10000, help="training images of the compare part")
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--full-epochs", type=int, default=8)
    ap.add_argument("--full-mode", choices=["epoch", "step"], default="epoch", help="masking of the full run")
    ap.add_argument("--only", nargs="+", help="run only these job names (results merged into --out)")
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side (one thread each)")
    ap.add_argument("--work", default=None, help="scratch folder for the runs (default: the system temp)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--table", action="store_true", help="only print the markdown table of --out and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.out).read_text())))
        return 0
    if not Path(args.data).is_dir():
        print(f"error: --data {args.data}: not a directory (MNIST IDX files expected)", file=sys.stderr)
        return 2
    jobs = [j for j in _jobs(args) if not args.only or j["name"] in args.only]
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    results.setdefault("runs", {})
    from spikehls.fileio import write_json

    results["setup"] = {"command": "python benchmarks/sca_fidelity.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                        "jobs": args.jobs, "threads_per_run": 1, "cpu_count": mp.cpu_count()}
    ctx = mp.get_context("spawn")
    with ctx.Pool(max(1, args.jobs)) as pool:
        # results land in completion order (the long full run must not hold back the short ones)
        for r in pool.imap_unordered(_run_star, [(j, vars(args)) for j in jobs]):
            results["runs"][r["name"]] = r
            results["summary"] = _summary(results["runs"])
            write_json(out, results)
            print(f"{r['name']}: slimmed {r['slimmed_accuracy']:.2%} (best {r['test_accuracy']:.2%}), channels "
                  f"{r['channels_kept']}/{r['channels_total']}, churn {r['churn']['total']} "
                  f"(revived {r['churn']['revived_total']}), {r['wall_seconds']:.0f} s", flush=True)
    print(json.dumps(results.get("summary", {}), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
