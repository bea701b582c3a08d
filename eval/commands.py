"""The `contractqa eval` command, registered by entry point (group `contractqa.commands` in
pyproject.toml) as simonw/llm registers plugin commands: the CLI never imports the eval, and an
install without it simply lacks the command."""

from __future__ import annotations

import argparse
from typing import Any

from contractqa.settings import Settings


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.runner import main

    return main(args, settings)


def register(sub: Any) -> None:
    """Add the commands to the CLI's subparsers."""
    p = sub.add_parser("eval", help="évaluer sur le jeu de questions de référence")
    p.add_argument("--dataset", action="append")
    p.add_argument("--report")
    p.add_argument("--baselines", action="store_true")
    p.add_argument("--limit", type=int)
    p.add_argument("--calibrate", action="store_true",
                   help="courbe refus/abstention par seuil et seuil recommandé (en mode "
                        "LLM : sur la probabilité « oui » du juge)")
    p.add_argument("--max-false-refusals", type=float,
                   help="refus à tort admis pour le seuil recommandé (défaut : 0,05 ; 0,1 en "
                        "mode LLM)")
    p.add_argument("--progress",
                   help="fichier JSONL où chaque question notée est ajoutée aussitôt (une "
                        "longue évaluation interrompue reste exploitable)")
    p.add_argument("--matter", action="append",
                   help="poser les questions comme un utilisateur limité à ce dossier "
                        "(répétable) : les chiffres doivent être ceux de tous les contrats "
                        "quand tous sont dans ce dossier")
    p.add_argument("--outlines", action="store_true",
                   help="qualité du découpage contre les plans relevés à la main (pool)")
    p.add_argument("--review", action="store_true",
                   help="exactitude par cellule du tableau de revue (eval/review_map.toml)")
    p.set_defaults(func=_eval)
