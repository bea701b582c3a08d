"""The extractive chain on the sample corpus: routing, lookup, comparison, abstention, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.documents import Document

from contractqa.service import ContractQA
from contractqa.settings import Settings
from retrieval.chain import ABSTAIN
from retrieval.models import Answer, Turn
from retrieval.retriever import ContractRetriever

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CRAFT = "000_863f8398c9eb4693"
NUMSPOT = "002_7a0edd1b49b950df"
KIMPLE = "004_f17bc88fae2ffff9"
CITATION_KEYS = {"n", "document_id", "document_title", "section", "article", "heading", "pages",
                 "excerpt", "score"}


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _source_text(service: ContractQA, document_id: str) -> str:
    record = next(r for r in service.documents() if r.document_id == document_id)
    path = next(p for folder in (ROOT / "data" / "contracts", ROOT / "data" / "extra-contracts")
                if (p := folder / record.source).exists())
    return _collapse(path.read_text(encoding="utf-8"))


def _corpus_text() -> str:
    texts = [p.read_text(encoding="utf-8") for folder in ("contracts", "extra-contracts")
             for p in sorted((ROOT / "data" / folder).glob("*.txt"))]
    return "\n".join(texts).lower()


def _in_article(article: str | None, wanted: str) -> bool:
    return article is not None and (article == wanted or article.startswith(wanted + "."))


# Routing restricts retrieval -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("question", "document"),
    [
        ("Quel est le plafond de responsabilité prévu dans les CGV NumSpot ?", NUMSPOT),
        ("Comment le contrat se renouvelle-t-il chez Kimple ?", KIMPLE),
        ("Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?", CRAFT),
    ],
)
def test_routing_restricts_citations(sample_service: ContractQA, question: str,
                                     document: str) -> None:
    answer = sample_service.ask(question)
    assert answer.routed == [document]
    assert answer.citations
    assert {c.document_id for c in answer.citations} == {document}


def test_section_routing_prefers_msa_section(sample_service: ContractQA) -> None:
    answer = sample_service.ask(
        "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?")
    assert answer.citations[0].section == "MSA"


def test_documents_filter_is_respected(sample_service: ContractQA) -> None:
    answer = sample_service.ask("Quel est le délai de préavis de résiliation ?",
                                documents=[KIMPLE])
    assert answer.citations
    assert {c.document_id for c in answer.citations} == {KIMPLE}


# Article lookup ------------------------------------------------------------------------------

def test_lookup_article_8_2_of_craft_msa(sample_service: ContractQA) -> None:
    answer = sample_service.ask("Que prévoit l'article 8.2 du MSA de Craft AI ?")
    assert not answer.abstained
    first = answer.citations[0]
    assert (first.document_id, first.section, first.article) == (CRAFT, "MSA", "8.2")
    assert "l'article 8.2 (MSA)" in answer.answer
    assert "[1]" in answer.answer
    assert all(c.document_id == CRAFT for c in answer.citations)


def test_lookup_article_7_returns_all_sub_articles(sample_service: ContractQA) -> None:
    answer = sample_service.ask("Montre-moi l'article 7 des CGV NumSpot")
    assert not answer.abstained
    assert all(c.document_id == NUMSPOT for c in answer.citations)
    lookup = [c for c in answer.citations if _in_article(c.article, "7")]
    articles = [c.article for c in lookup]
    assert "7.1" in articles
    assert "7.2" in articles
    # the article's chunks come first, in reading order
    assert answer.citations[: len(lookup)] == lookup
    assert articles == sorted(articles)
    # every chunk of article 7 is quoted in the answer
    for c in lookup:
        assert f"[{c.n}]" in answer.answer
    assert "l'article 7 " in answer.answer


def test_definition_question_cites_the_definition_first(sample_service: ContractQA) -> None:
    # The term is used in many clauses; the answer rests on the one that defines it.
    answer = sample_service.ask("Que désigne le terme « Modèles de Fondation » chez Craft AI ?")
    assert not answer.abstained
    first = answer.citations[0]
    assert (first.document_id, first.section, first.article) == (CRAFT, "MSA", "1")
    assert "Modèles de Fondation : désigne" in _collapse(first.excerpt)
    # The quoted sentence is the definition, not another entry that merely uses the term.
    quoted = answer.answer.split("Sources :")[0]
    assert "Modèles de Fondation : désigne tout modèle" in _collapse(quoted)
    assert "Craft GPT : désigne" not in quoted
    assert "» [1]" in quoted


# Comparison ----------------------------------------------------------------------------------

def test_comparison_cites_both_contracts_in_a_table(sample_service: ContractQA) -> None:
    answer = sample_service.ask(
        "Comparer les délais de préavis de résiliation entre NumSpot et Kimple")
    assert not answer.abstained
    assert {c.document_id for c in answer.citations} == {NUMSPOT, KIMPLE}
    lines = answer.answer.splitlines()
    assert "| Contrat | Ce que prévoit le contrat | Source |" in lines
    assert "|---|---|---|" in lines
    rows = [line for line in lines if line.startswith("| ") and "Contrat |" not in line]
    assert len(rows) == 2
    assert "NumSpot" in rows[0]
    assert "Cassiop" in rows[1] or "Kimple" in rows[1]


def test_each_contract_comparison_covers_the_corpus(sample_service: ContractQA) -> None:
    answer = sample_service.ask(
        "Quelle est la durée du préavis de résiliation dans chaque contrat ?")
    documents = {r.document_id for r in sample_service.documents()}
    assert {c.document_id for c in answer.citations} == documents
    rows = [line for line in answer.answer.splitlines()
            if line.startswith("| ") and "Contrat |" not in line]
    assert len(rows) == len(documents)


# Abstention ----------------------------------------------------------------------------------

def test_abstains_on_off_topic_question(sample_service: ContractQA) -> None:
    answer = sample_service.ask("Qui a gagné la coupe du monde de football ?")
    assert answer.abstained
    assert answer.answer.startswith(ABSTAIN)
    assert ABSTAIN == "Les contrats indexés ne contiennent pas de clause sur ce point."


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("Quelle est la recette de la tarte aux pommes ?", "tarte"),
    ],
)
def test_abstains_when_key_word_is_absent_from_corpus(sample_service: ContractQA,
                                                     question: str, absent: str) -> None:
    """The key word appears in no contract: the chain must not present an answer.

    Legal questions whose key concept is absent but whose other words are contract vocabulary
    (e.g. an escrow clause) are not refused yet: see the eval's abstention recall.
    """
    assert absent not in _corpus_text()
    answer = sample_service.ask(question)
    assert answer.abstained, answer.answer[:300]
    assert answer.answer.startswith(ABSTAIN)


# Follow-up -----------------------------------------------------------------------------------

def test_follow_up_uses_previous_question(sample_service: ContractQA) -> None:
    history = [Turn(question="Quel est le plafond de responsabilité chez Kimple ?",
                    documents=[KIMPLE])]
    answer = sample_service.ask("Et chez NumSpot ?", history=history)
    assert answer.routed == [NUMSPOT]
    assert not answer.abstained
    assert {c.document_id for c in answer.citations} == {NUMSPOT}
    assert _in_article(answer.citations[0].article, "10")
    assert "responsabilit" in answer.citations[0].excerpt.lower()
    # The quotes answer the carried topic (liability), not just any sentence naming NumSpot.
    quoted = answer.answer.split("Sources :")[0].lower()
    assert "responsabilit" in quoted or "montant" in quoted


def test_follow_up_without_name_keeps_previous_documents(sample_service: ContractQA) -> None:
    history = [Turn(question="Quel est le plafond de responsabilité chez NumSpot ?",
                    documents=[NUMSPOT])]
    answer = sample_service.ask("Et pour les données ?", history=history)
    assert answer.citations
    assert {c.document_id for c in answer.citations} == {NUMSPOT}


# JSON shape ----------------------------------------------------------------------------------

def _check_json(data: dict[str, object], service: ContractQA) -> None:
    assert {"id", "question", "answer", "abstained", "mode", "citations"} <= set(data)
    assert data["mode"] == "extractive"
    assert isinstance(data["abstained"], bool)
    citations = data["citations"]
    assert isinstance(citations, list) and citations
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    for c in citations:
        assert CITATION_KEYS <= set(c)
        assert "chunk_id" not in c
        assert isinstance(c["pages"], list)
        assert isinstance(c["score"], float)


def test_answer_to_json_shape(sample_service: ContractQA) -> None:
    question = "Quel est le plafond de responsabilité prévu dans les CGV NumSpot ?"
    answer = sample_service.ask(question)
    answer.id = "q-1"
    data = answer.to_json()
    json.dumps(data, ensure_ascii=False)  # serialisable as is
    _check_json(data, sample_service)
    assert data["id"] == "q-1"
    assert data["question"] == question
    assert data["answer"] == answer.answer
    source = _source_text(sample_service, NUMSPOT)
    for c in data["citations"]:
        assert c["document_id"] == NUMSPOT
        # the contract's own words
        assert _collapse(c["excerpt"]) in source, c["excerpt"][:200]
    # search results come in rank order
    scores = [c["score"] for c in data["citations"]]
    assert scores == sorted(scores, reverse=True)


def test_answer_quotes_are_verbatim(sample_service: ContractQA) -> None:
    answer = sample_service.ask(
        "Quel est le plafond de responsabilité prévu dans les CGV NumSpot ?")
    source = _source_text(sample_service, NUMSPOT)
    quotes = [line.split("« ", 1)[1].rsplit(" »", 1)[0] for line in answer.answer.splitlines()
              if line.startswith("- « ")]
    assert quotes
    for quote in quotes:
        assert _collapse(quote) in source


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "contractqa"
    return [str(script)] if script.exists() else [sys.executable, "-m", "contractqa.cli"]


def test_cli_batch_json(sample_service: ContractQA, tmp_path: Path) -> None:
    questions = [
        {"id": "a", "question": "Que prévoit l'article 8.2 du MSA de Craft AI ?"},
        {"id": 7, "question": "Quel est le plafond de responsabilité prévu dans les CGV NumSpot ?"},
        {"question": "Qui a gagné la coupe du monde de football ?"},
    ]
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in questions) + "\n\n",
                     encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTQA_")}
    env["CONTRACTQA_DATA_DIR"] = str(sample_service.settings.data_dir)
    env["CONTRACTQA_EMBEDDINGS"] = sample_service.settings.embeddings
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("ANONYMIZED_TELEMETRY", "False")
    proc = subprocess.run(
        [*_cli(), "ask", "--batch", str(batch), "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == len(questions)
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["a", "7", None]
    assert [r["question"] for r in rows] == [q["question"] for q in questions]
    _check_json(rows[0], sample_service)
    assert rows[0]["citations"][0]["article"] == "8.2"
    assert rows[1]["citations"][0]["document_id"] == NUMSPOT
    assert rows[2]["abstained"] is True


def test_cli_batch_rejects_invalid_line(sample_service: ContractQA, tmp_path: Path) -> None:
    batch = tmp_path / "bad.jsonl"
    batch.write_text('{"id": 1}\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTQA_")}
    env["CONTRACTQA_DATA_DIR"] = str(sample_service.settings.data_dir)
    env.setdefault("HF_HUB_OFFLINE", "1")
    proc = subprocess.run(
        [*_cli(), "ask", "--batch", str(batch), "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 1
    assert "bad.jsonl:1" in proc.stderr


# LangChain retriever -------------------------------------------------------------------------

def test_contract_retriever_returns_documents(sample_service: ContractQA) -> None:
    retriever = ContractRetriever(search=sample_service.chain.search, k=4)
    docs = retriever.invoke("plafond de responsabilité NumSpot")
    assert 0 < len(docs) <= 4
    for doc in docs:
        assert isinstance(doc, Document)
        assert doc.page_content
        assert {"chunk_id", "document_id", "document_title", "section", "article", "heading",
                "pages", "score"} <= set(doc.metadata)
        assert doc.id == doc.metadata["chunk_id"]
    assert any(d.metadata["article"] for d in docs)


def test_contract_retriever_document_filter(sample_service: ContractQA) -> None:
    retriever = ContractRetriever(search=sample_service.chain.search, k=3, documents=[KIMPLE])
    docs = retriever.invoke("résiliation du contrat")
    assert docs
    assert {d.metadata["document_id"] for d in docs} == {KIMPLE}
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


def test_answer_type(sample_service: ContractQA) -> None:
    assert isinstance(sample_service.ask("Quelle est la loi applicable chez Kimple ?"), Answer)


def test_lookup_and_search_on_a_contract_with_other_conventions(settings: Settings,
                                                                tmp_path: Path) -> None:
    """"Article premier", "Art. 3" and "TITRE II" headings: looked up and cited as articles."""
    from tests.helpers_docs import service_over
    from tests.test_structure import PRESTATION

    service = service_over(settings, tmp_path / "prestation_alpha.txt", PRESTATION)
    lookup = service.ask("Que prévoit l'article premier du contrat ?")
    assert lookup.citations[0].article == "1", lookup.answer
    assert "Voici le texte de l'article 1" in lookup.answer
    price = service.ask("Quel est le prix d'une journée d'intervention ?")
    assert not price.abstained
    assert price.citations[0].article == "3", [(c.article, c.heading) for c in price.citations]
    assert "1 200 euros" in price.answer


def test_an_answer_comes_in_parts_and_leaves_what_was_retrieved_unchanged(
        sample_service: ContractQA) -> None:
    """The answer's text before its sources and the sentences it quotes come apart (what the
    UI, the review and the eval read), and composing it marks copies of the citations."""
    from retrieval.compose import Composer

    chain = sample_service.chain
    question = "Quel est le plafond de responsabilité prévu dans les CGV NumSpot ?"
    answer = chain.answer(question)
    assert answer.quotes and "Sources :" not in answer.body
    assert answer.answer.startswith(answer.body) and "\n\nSources :\n[1]" in answer.answer
    by_n = {c.n: c for c in answer.citations}
    for quote in answer.quotes:
        assert f"« {quote.sentence} » [{quote.citation}]" in answer.body
        assert _collapse(quote.sentence) in _collapse(by_n[quote.citation].excerpt)
    assert any(c.highlight for c in answer.citations)
    assert set(answer.to_json()) >= {"body", "quotes"}
    retrieved = chain.retrieve(question)
    composed = Composer(chain.search.lexical().idf, chain.config.abstain_threshold).compose(
        question, retrieved, lambda units: [0.0] * len(units))
    assert any(c.highlight for c in composed.citations)
    assert not any(c.highlight for c in retrieved.citations)


TWO_PART_CONTRACT = """CONTRAT DE MAINTENANCE — SOCIÉTÉ ORVANE

Article 1 - Objet
Le présent contrat a pour objet la maintenance des installations de chauffage du Client par la
société Orvane.

Article 2 - Durée
Le présent contrat est conclu pour une durée d'un an, renouvelable par tacite reconduction à
chaque date anniversaire. Les parties peuvent mettre fin au contrat en le dénonçant par lettre
recommandée trente jours avant l'échéance.

Article 3 - Prix
Le prix annuel de la maintenance est de 1 800 euros hors taxes, payable par trimestre.

Article 4 - Loi applicable et juridiction
Le présent contrat est soumis au droit français. Tout litige relatif au contrat sera porté
devant le tribunal de commerce de Rennes, seul compétent.
"""


def test_a_question_asking_two_things_quotes_both_answers(settings: Settings,
                                                          tmp_path: Path) -> None:
    """The real chain and embedder on a contract written here: each part of "Quelle est la
    durée … et comment … y mettre fin" is answered by its own quoted sentence."""
    from tests.helpers_docs import service_over

    service = service_over(settings, tmp_path / "maintenance_orvane.txt", TWO_PART_CONTRACT)
    answer = service.ask("Quelle est la durée initiale du contrat de maintenance Orvane et "
                         "comment le client peut-il y mettre fin ?")
    assert answer.citations[0].article == "2", answer.answer
    assert "d'un an" in answer.answer and "trente jours avant l'échéance" in answer.answer
    law = service.ask("Quel droit régit le contrat Orvane et quel tribunal est compétent ?")
    assert "droit français" in law.answer and "tribunal de commerce de Rennes" in law.answer
