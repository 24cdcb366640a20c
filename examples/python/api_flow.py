"""The whole spikehls flow from Python, on scikit-learn's digits (nothing downloads; about a minute on 2 cores).

    python examples/python/api_flow.py [OUT]      # OUT: a new or empty folder (default: a temporary one)

Train a small spiking CNN with SCA pruning, export the integer network, generate the hls4ml project
for a PYNQ-Z2, C-simulate it against the integer reference and read the resource report. Each call
writes the files its command would (OUT/run, OUT/prj) and returns what a notebook wants.
"""

import sys
import tempfile
from pathlib import Path

import spikehls

CONFIG = {  # a short run: small, fast; drop these overrides for the default digits run
    "dataset": {"name": "digits", "train_limit": 400, "test_limit": 120},
    "model": {"preset": None, "arch": "vgg", "layers": [8, "M", 8, "M"]},
    "train": {"epochs": 2, "time_steps": 2},
    "quant": {"qat_epochs": 1, "test_vectors": 32},
}


def main(out: Path) -> int:
    summary = spikehls.train(out / "run", CONFIG, progress=False)
    print(f"trained: {summary['test_accuracy']:.2%} test accuracy, {summary['channels_kept']}/{summary['channels_total']} channels")
    exported = spikehls.export(out / "run", progress=False, log=lambda msg: None)
    print(f"exported: quantized {exported['quantized_accuracy']:.2%}, torch vs reference mismatches "
          f"{exported['reference_mismatches']}")
    model = spikehls.generate_hls(out / "run", "pynq-z2", out / "prj")  # an hls4ml ModelGraph
    print(f"hls4ml project: {model.config.get_output_dir()} ({len(list(model.get_layers()))} layers, "
          f"part {model.config.get_config_value('Part')})")
    result = spikehls.csim(out / "prj")
    print(f"C-simulation: {'spike-exact' if result['exact'] else 'MISMATCH'} on {result['samples']} samples")
    report = spikehls.report(out / "prj")
    lut = report["total"]["LUT"]
    print(f"resources ({report['source']}): {lut:,.0f} LUT; fits: {report.get('fits')}")
    return 0 if result["exact"] else 1


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(Path(sys.argv[1])))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(Path(tmp)))
