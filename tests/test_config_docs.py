"""Every config field documented; the schema and defaults commands; docs/config.md in sync (issue 14 item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from spikehls.cli import main
from spikehls.config import Config, config_from_dict
from spikehls.config_docs import (BOARD_DESCRIPTIONS, DESCRIPTIONS, board_fields, board_schema, config_schema, fields,
                                  render_markdown)

ROOT = Path(__file__).resolve().parents[1]


def test_every_field_has_one_description():
    all_fields = fields()
    assert len(all_fields) >= 58
    missing = [k for k, fi in all_fields.items() if not (fi.description or DESCRIPTIONS.get(k))]
    assert not missing, missing
    both = [k for k in DESCRIPTIONS if k in all_fields and all_fields[k].description]
    stale = [k for k in DESCRIPTIONS if k not in all_fields]
    assert not both and not stale, (both, stale)


def test_every_board_field_has_one_description(capsys):
    bf = board_fields()
    missing = [k for k, fi in bf.items() if not (fi.description or BOARD_DESCRIPTIONS.get(k))]
    both = [k for k in BOARD_DESCRIPTIONS if k in bf and bf[k].description]
    stale = [k for k in BOARD_DESCRIPTIONS if k not in bf]
    assert not missing and not both and not stale, (missing, both, stale)
    assert main(["config", "--board-schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(board_schema()))


def test_schema_command_prints_a_schema_with_every_description(capsys):
    assert main(["config", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(config_schema()))
    for d in schema["$defs"].values():
        assert d["description"]
        for name, prop in d["properties"].items():
            assert prop["description"], name


def test_defaults_command_is_the_whole_default_config(capsys):
    assert main(["config", "--defaults"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert config_from_dict(data) == Config() and set(data) == set(Config.model_fields)


def test_check_command(tmp_path, capsys):
    good = tmp_path / "c.yaml"
    good.write_text("train:\n  epochs: 2\n")
    assert main(["config", "--check", str(good)]) == 0
    bad = tmp_path / "b.yaml"
    bad.write_text("train:\n  epoch: 2\n")
    assert main(["config", "--check", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "train.epoch" in err[0]


def test_docs_config_md_is_in_sync():
    assert (ROOT / "docs" / "config.md").read_text() == render_markdown(), (
        "docs/config.md is out of date: python -m spikehls.config_docs > docs/config.md")
    text = (ROOT / "docs" / "config.md").read_text()
    for key in [*fields(), *board_fields()]:
        assert f"| `{key}` |" in text
