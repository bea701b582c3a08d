"""The `contractqa bench` command, registered by entry point (group `contractqa.commands` in
pyproject.toml) like the eval's: the CLI never imports the benchmarks."""

from __future__ import annotations

import argparse
from typing import Any

from contractqa.settings import Settings


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.what == "scale":
        from bench.scale import main as scale

        return scale(args, settings)
    if args.what == "scale-cli":
        return _scale_cli(args)
    from bench.speed import main

    return main(args, settings)


def _scale_cli(args: argparse.Namespace) -> int:
    """Each size's operator session (bench/scale_cli.py), in its own folder of --scale-dir."""
    import json
    import sys
    from pathlib import Path

    from bench.scale_cli import run

    rows = [run(int(n), Path(args.scale_dir) / f"cli-{n}",
                lambda text: print(text, file=sys.stderr, flush=True))
            for n in args.sizes.split(",")]
    print(json.dumps(rows, ensure_ascii=False, indent=2))
    return 0 if all(r["all_ok"] for r in rows) else 1


def register(sub: Any) -> None:
    """Add the command to the CLI's subparsers."""
    p = sub.add_parser("bench", help="mesurer vitesse et mémoire")
    p.add_argument("what", nargs="?", default="all",
                   choices=["all", "ingest", "query", "review", "scale", "scale-cli"])
    p.add_argument("--sizes", default="1000,10000",
                   help="scale : tailles de la base, en contrats (défaut : 1000,10000)")
    p.add_argument("--scale-dir", default="/tmp/contractqa-scale",
                   help="scale : dossier des index générés (réutilisé d'une fois à l'autre)")
    p.add_argument("--chroma-url", default=None,
                   help="scale : l'index sur ce serveur Chroma (par exemple "
                        "http://127.0.0.1:8000, lancé par `chroma run`) au lieu d'un Chroma "
                        "embarqué ; une collection par dossier (scale-base, scale-grown)")
    p.add_argument("--no-plain", action="store_true",
                   help="scale : sans la chaîne LangChain + Chroma simple mesurée à côté")
    p.set_defaults(func=_bench)
