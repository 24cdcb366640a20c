"""``spikehls config``: the run configuration's JSON schema, its full defaults, or a config file checked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="print the config's JSON schema (--schema) or full defaults (--defaults), or check a config file",
        description=("The run configuration: --schema prints its JSON schema (every field with type, range, default "
                     "and description), --defaults the complete default config as YAML, --check FILE validates a "
                     "file. The field reference is docs/config.md."),
    )
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--schema", action="store_true", help="JSON schema of the config")
    g.add_argument("--board-schema", action="store_true", help="JSON schema of a board file")
    g.add_argument("--defaults", action="store_true", help="every field with its default, as YAML")
    g.add_argument("--check", type=Path, metavar="FILE", help="validate FILE (one error line naming the field, exit 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spikehls.config_docs import board_schema, config_schema, defaults_yaml

    if args.schema:
        print(json.dumps(config_schema(), indent=2))
    elif args.board_schema:
        print(json.dumps(board_schema(), indent=2))
    elif args.defaults:
        print(defaults_yaml(), end="")
    else:
        from spikehls.config import load_config

        load_config(args.check)
        print(f"{args.check}: valid")
    return 0
