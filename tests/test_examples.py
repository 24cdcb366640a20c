"""The example files shipped in examples/ stay valid as the schema evolves."""

from pathlib import Path

import pytest

from spikehls.config import load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_example_run_configs_validate(path):
    cfg = load_config(path)
    assert cfg.train.epochs >= 1


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "boards").glob("*.yaml")), ids=lambda p: p.name)
def test_example_board_files_validate(path):
    from spikehls.boards import load_board

    b = load_board(path)
    assert b.resources.LUT > 0 and b.clock_mhz > 0


def test_bundled_boards_are_valid_and_listed():
    from spikehls.boards import available_boards, load_board

    names = available_boards()
    assert {"pynq-z2", "arty-a7-100t", "zcu104", "kv260", "alveo-u250"} <= set(names)
    for n in names:
        b = load_board(n)
        assert b.resources.LUT > 0 and b.clock_mhz > 0 and b.part
