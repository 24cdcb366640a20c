"""``spikehls train``: train a spiking CNN with SCA channel pruning into a run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikehls.config import load_config, set_field
from spikehls.errors import SpikehlsError
from spikehls.fileio import check_out_dir

DESCRIPTION = """\
Train a spiking CNN (IF/LIF neurons, surrogate gradients, T time steps) while SCA pruning
removes whole channels by their spiking activity. Without --config the embedded default runs:
scikit-learn digits (no download), a small VGG-style SNN, SCA at p=0.5, a couple of minutes on CPU.

The run directory gets config.yaml, metrics.jsonl (one line per epoch), checkpoint.pt and
masks.json (best epoch), last.pt (for --resume) and summary.json.
"""

EPILOG = """\
examples:
  spikehls train                                  # default: digits, writes runs/train
  spikehls train --config my.yaml --out runs/a    # your config
  spikehls train --out runs/a --resume --epochs 30  # continue (or extend) run a
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a spiking CNN with SCA channel pruning",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", help="YAML config (default: the embedded digits config; "
                   "with --resume: the run's own config.yaml)")
    p.add_argument("--out", metavar="DIR", default="runs/train", help="run directory (default: runs/train)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--epochs", type=int, metavar="N", help="override train.epochs (with --resume: extend the run)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override train.device (auto: CUDA if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (per-epoch lines only)")
    p.add_argument("--init-from", metavar="RUN", help="start from the weights and masks of RUN (e.g. one made by "
                   "'spikehls import --nir'): SCA fine-tuning; the model section comes from RUN/config.yaml, the "
                   "other sections from --config (default: RUN's, with SCA switched on)")
    p.set_defaults(func=run)


def _print_epoch(r: dict) -> None:
    if r["test_acc"] is None:  # not an evaluation epoch (train.eval_every)
        return
    print(f"epoch {r['epoch']:>3}  loss {r['loss']:.4f}  train {r['train_acc']:.2%}  test {r['test_acc']:.2%}  "
          f"channels {r['channels_kept_total']}/{r['channels_total']}  SynOps/sample {r['synops_per_sample']:,.0f}  "
          f"{r['seconds']:.1f}s", flush=True)


def run(args: argparse.Namespace) -> int:
    from spikehls.training.trainer import train  # heavy import (torch) only when training

    out = Path(args.out)
    init_from = getattr(args, "init_from", None)
    if init_from is not None:
        if args.resume:
            raise SpikehlsError("--init-from starts a new run; it cannot be combined with --resume")
        src = load_config(Path(init_from) / "config.yaml")
        cfg = load_config(args.config) if args.config is not None else src.model_copy(deep=True)
        if args.config is None:
            cfg.sca.enabled = True
        cfg.model = src.model
    elif args.config is None and args.resume and (out / "config.yaml").is_file():
        cfg = load_config(out / "config.yaml")
    else:
        cfg = load_config(args.config)
    if args.epochs is not None:
        if args.epochs < 1:
            raise SpikehlsError(f"--epochs must be >= 1 (got {args.epochs})")
        set_field(cfg, "train.epochs", args.epochs, "--epochs")
    if args.device is not None:
        cfg.train.device = args.device
    if not args.resume:
        check_out_dir(out, "run", inputs=[args.config])  # before any work
    on_epoch = _print_epoch if args.no_progress else None
    s = train(cfg, out, resume=args.resume, progress=not args.no_progress, on_epoch=on_epoch, init_from=init_from)
    print(f"\nrun          {out}")
    print(f"test acc     {s['test_accuracy']:.2%} (best epoch {s['best_epoch']} of {s['epochs']}; final {s['final_test_accuracy']:.2%})")
    print(f"channels     {s['channels_kept']}/{s['channels_total']} kept "
          f"({1 - s['channels_kept'] / max(s['channels_total'], 1):.0%} pruned)")
    for layer, c in s["channels_per_layer"].items():
        print(f"  {layer:<28}{c['kept']:>5}/{c['total']}")
    from spikehls.training.synops import ENERGY_LABEL

    print(f"SynOps       {s['synops_per_sample']:,.0f} per sample (+ {s['macs_per_sample']:,.0f} MACs); "
          f"{ENERGY_LABEL}: ~{s['energy_pj_per_sample'] / 1e3:,.1f} nJ")
    print(f"time         {s['seconds']:.1f} s on {s['device']}")
    return 0
