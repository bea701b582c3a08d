"""The `contractqa bench` command, registered by entry point (group `contractqa.commands` in
pyproject.toml) like the eval's: the CLI never imports the benchmarks."""

from __future__ import annotations

import argparse
from typing import Any

from contractqa.settings import Settings


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from bench.speed import main

    return main(args, settings)


def register(sub: Any) -> None:
    """Add the command to the CLI's subparsers."""
    p = sub.add_parser("bench", help="mesurer vitesse et mémoire")
    p.add_argument("what", nargs="?", default="all",
                   choices=["all", "ingest", "query", "review"])
    p.set_defaults(func=_bench)
