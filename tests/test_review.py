"""The review table: cells, checklists, cache, exports, the tab's handlers and the CLI.

Unit tests build answers by hand; the integration tests run the review over the sample
contracts with the real Chroma store and embedder (`sample_service`, indexed once).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from openpyxl import load_workbook

from contractqa.review import (
    ABSENT,
    Cell,
    CellSource,
    Clues,
    Review,
    ReviewDocument,
    ReviewQuestion,
    ReviewRunner,
    ReviewTooLarge,
    checked_summary,
    custom_questions,
    is_heading,
    llm_summarizer,
    make_cell,
    outline_headings,
    quoted_sentences,
    short_label,
    summarise_cell,
)
from contractqa.review_export import cell_text, to_csv, to_markdown, to_xlsx
from contractqa.review_storage import CellCache, ChecklistError, ChecklistStore, ReviewStore
from contractqa.service import ContractQA, UnknownDocuments
from contractqa.ui.review import SHOW_ABSENT, GridLayout, ReviewHandlers, grid_rows
from retrieval.models import Answer, Citation
from tests.conftest import CONTRACTS, ROOT

CRAFT = "000_863f8398c9eb4693"
GRAHAM = "001_05fa10e0473d31c4"
KIMPLE = "004_f17bc88fae2ffff9"
SAMPLE_IDS = sorted(p.stem for p in CONTRACTS.glob("*.txt"))
INSURANCE = ReviewQuestion("assurance", "Assurance", "Quelles assurances les parties "
                           "doivent-elles souscrire ?", ("assurance", "assureur"))
CAP = ReviewQuestion("plafond", "Plafond", "Quel est le plafond de la responsabilité ?",
                     ("responsabilit+limit", "responsabilit+plafon"))


def _citation(n: int, excerpt: str, **kw: Any) -> Citation:
    data: dict[str, Any] = {"n": n, "document_id": "doc", "document_title": "Contrat A",
                            "section": None, "article": f"{n}", "heading": "Divers",
                            "pages": [2], "excerpt": excerpt, "score": 0.5}
    data.update(kw)
    return Citation(**data)


def _answer(quotes: list[tuple[int, str]], citations: list[Citation], abstained: bool = False,
            ) -> Answer:
    lines = ["D'après les contrats indexés (citations exactes, sans reformulation) :", ""]
    lines += [f"- « {s} » [{n}]" for n, s in quotes]
    text = "\n".join(lines) + "\n\nSources :\n" + "\n".join(f"[{c.n}] x" for c in citations)
    return Answer("q", text, abstained, "extractive", citations, confidence=0.42)


# Cells ----------------------------------------------------------------------------------------


def test_quoted_sentences_in_answer_order() -> None:
    answer = _answer([(2, "Deuxième phrase citée ici."), (1, "Première phrase, [crochets].")],
                     [_citation(1, "a"), _citation(2, "b")])
    assert quoted_sentences(answer) == [(2, "Deuxième phrase citée ici."),
                                        (1, "Première phrase, [crochets].")]


def test_heading_alone_is_no_quote() -> None:
    c = _citation(1, "", article="10.2", heading="Limitation de responsabilité")
    assert is_heading("10.2 Limitation de responsabilité.", c)
    assert is_heading("Article 10.2 : Limitation de responsabilité", c)
    assert not is_heading("La responsabilité est limitée à 100 euros.", c)


def test_clues_alternatives_and_conjunctions() -> None:
    clues = Clues.of(["assurance", "responsabilit+limit"])
    assert clues is not None
    assert clues.held_by("Le Prestataire souscrit une Assurance.")
    assert clues.held_by("Sa RESPONSABILITÉ est limitée au prix payé.")
    assert not clues.held_by("La responsabilité du client est entière.")
    assert not clues.held_by("Il doit s'assurer du bon fonctionnement.")  # not "assurance"
    assert Clues.of([]) is None


def test_cell_quotes_the_sentence_holding_a_clue() -> None:
    first = _citation(1, "Le Client paie les factures à trente jours. Le Prestataire souscrit "
                         "une assurance responsabilité civile auprès d'une compagnie notoire.")
    answer = _answer([(1, "Le Client paie les factures à trente jours.")], [first])
    cell = make_cell(answer, "doc", INSURANCE)
    assert cell.status == "found"
    assert cell.quote.startswith("Le Prestataire souscrit une assurance")
    assert cell.source is not None and cell.source.article == "1"
    assert cell.confidence == 0.42


def test_cell_prefers_a_quote_holding_the_value_asked() -> None:
    c = _citation(1, "x", heading="Limitation de responsabilité")
    answer = _answer([(1, "La responsabilité du Prestataire est limitée dans les cas suivants."),
                      (1, "Elle ne peut excéder 50 000 euros par an.")], [c])
    assert make_cell(answer, "doc", CAP).quote == "Elle ne peut excéder 50 000 euros par an."


def test_cell_absent_when_no_passage_is_on_the_topic() -> None:
    answer = _answer([(1, "Le Client paie les factures à trente jours.")],
                     [_citation(1, "Le Client paie les factures à trente jours.")])
    cell = make_cell(answer, "doc", INSURANCE)
    assert cell.status == "absent" and cell.text == ABSENT
    assert "Assurance" in cell.note and cell.source is None


def test_cell_absent_when_the_answer_abstains() -> None:
    answer = _answer([], [_citation(1, "Une assurance est prévue.")], abstained=True)
    assert make_cell(answer, "doc", INSURANCE).status == "absent"


def test_heading_of_a_parent_article_puts_a_clause_on_topic() -> None:
    outline = [{"section": None, "article": "16", "heading": "Confidentialité"},
               {"section": None, "article": "16.3", "heading": None}]
    c = _citation(1, "16.3 Elle s'applique pendant la durée du Contrat et cinq (5) ans après.",
                  article="16.3", heading=None)
    answer = _answer([(1, "16.3 Elle s'applique pendant la durée du Contrat et cinq (5) ans "
                          "après.")], [c])
    question = ReviewQuestion("c", "Confidentialité", "Combien de temps dure la "
                              "confidentialité ?", ("confidenti",))
    assert make_cell(answer, "doc", question).status == "absent"
    cell = make_cell(answer, "doc", question, outline_headings(outline))
    assert cell.status == "found" and "cinq (5) ans" in cell.quote


def test_cell_never_quotes_another_contract() -> None:
    other = _citation(1, "Une assurance est souscrite.", document_id="autre")
    answer = _answer([(1, "Une assurance est souscrite.")], [other])
    assert make_cell(answer, "doc", INSURANCE).status == "absent"


def test_summary_figures_must_be_in_the_quote() -> None:
    quote = "La responsabilité est limitée à douze (12) mois de redevances, soit 10 000 €."
    assert checked_summary("Plafond : 12 mois de redevances (10 000 €).\nSuite", quote) == (
        "Plafond : 12 mois de redevances (10 000 €).", "")
    kept, note = checked_summary("Plafond : 24 mois de redevances.", quote)
    assert kept is None and "24" in note
    assert checked_summary("Plafond de douze mois.", quote)[0] == "Plafond de douze mois."


def test_summary_failure_keeps_the_quote() -> None:
    cell = Cell("doc", "q", "found", quote="Une assurance est souscrite.")

    def broken(_question: str, _quote: str) -> str:
        raise TimeoutError("modèle injoignable")

    summarise_cell(cell, INSURANCE, broken)
    assert cell.summary is None and "citation" in cell.summary_note


def test_custom_questions_and_labels() -> None:
    questions = custom_questions(["  Quel est le délai de paiement ?", "", "quel est le délai "
                                  "de paiement ?", "Qui supporte les frais de l'audit annuel "
                                  "réalisé par un tiers indépendant ?"])
    assert [q.id for q in questions] == ["perso-1", "perso-2"]
    assert questions[0].label == "Quel est le délai de paiement"
    assert short_label("x " * 40).endswith("…") and len(short_label("x " * 40)) <= 41


# Storage --------------------------------------------------------------------------------------


def test_builtin_checklists_are_french_and_complete(tmp_path: Path) -> None:
    store = ChecklistStore(tmp_path)
    found = {c.id: c for c in store.builtin()}
    assert set(found) == {"due-diligence", "dpa-rgpd", "saas"}
    assert len(found["due-diligence"].questions) == 15
    for checklist in found.values():
        ids = [q.id for q in checklist.questions]
        assert len(ids) == len(set(ids))
        assert all(q.question.endswith("?") and q.clues for q in checklist.questions)
        assert all(Clues.of(q.clues) is not None for q in checklist.questions)


def test_user_checklist_saved_and_reused(tmp_path: Path) -> None:
    store = ChecklistStore(tmp_path / "checklists")
    saved = store.save("Audit baux commerciaux", ["Quel est le loyer ?", "Qui paie la taxe "
                                                  "foncière ?", "Quel est le loyer ?"])
    assert saved.id == "audit-baux-commerciaux" and not saved.builtin
    assert [q.question for q in store.get(saved.id).questions] == [
        "Quel est le loyer ?", "Qui paie la taxe foncière ?"]
    assert [p.name for p in (tmp_path / "checklists").iterdir()] == [
        "audit-baux-commerciaux.json"]  # written atomically: no temporary file left
    with pytest.raises(ChecklistError, match="liste fournie"):
        store.save("Due diligence", ["Quel est le loyer ?"])
    with pytest.raises(ChecklistError, match="vide"):
        store.save("Vide", ["  "])
    with pytest.raises(ChecklistError, match="inconnue"):
        store.get("absente")


def test_cell_cache_keys_and_threads(tmp_path: Path) -> None:
    cache = CellCache(tmp_path / "cells.sqlite")
    key = cache.key("doc", "hash1", "11", "s", INSURANCE, "extractive")
    assert key == cache.key("doc", "hash1", "11", "s", ReviewQuestion(
        "autre-id", "x", "  quelles ASSURANCES les parties doivent-elles souscrire ? ",
        INSURANCE.clues), "extractive")  # the question's wording counts, not its id or case
    others = {cache.key("doc", "hash2", "11", "s", INSURANCE, "extractive"),
              cache.key("doc", "hash1", "12", "s", INSURANCE, "extractive"),
              cache.key("doc", "hash1", "11", "s", INSURANCE, "llm:qwen")}
    assert key not in others and len(others) == 3

    def write(n: int) -> None:
        for i in range(20):
            cache.put(f"k{n}-{i}", Cell("doc", "q", "found", quote=f"phrase {n} {i}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 80
    got = cache.get("k3-19")
    assert got is not None and got.quote == "phrase 3 19" and not got.cached
    assert cache.get("absent") is None


def _review() -> Review:
    source = CellSource("a", "Contrat A | bis", "MSA", "10.2", "Limitation", [3, 4],
                        "10.2 Limitation.\nLa responsabilité est limitée à 100 euros.")
    cells = [Cell("a", "plafond", "found", quote="La responsabilité est limitée à 100 euros.",
                  source=source, confidence=0.5, summary="Plafond : 100 euros."),
             Cell("a", "assurance", "absent", note="Rien sur l'assurance."),
             Cell("b", "plafond", "absent"),
             Cell("b", "assurance", "found", quote="Une assurance est souscrite.",
                  source=CellSource("b", "Contrat B", None, "7", "Assurance", [], "Une "
                                    "assurance est souscrite."))]
    return Review("0123456789ab", "Due diligence", [ReviewDocument("a", "Contrat A | bis"),
                                                    ReviewDocument("b", "Contrat B")],
                  [CAP, INSURANCE], cells, checklist="due-diligence")


def test_review_store_round_trip(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path)
    review = _review()
    store.save(review)
    loaded = store.load(review.id)
    assert loaded is not None and loaded.to_json() == review.to_json()
    assert store.load("../../etc") is None and store.load("ffffffffffff") is None


# Exports --------------------------------------------------------------------------------------


def test_xlsx_export(tmp_path: Path) -> None:
    path = tmp_path / "revue.xlsx"
    path.write_bytes(to_xlsx(_review()))
    book = load_workbook(path)
    assert book.sheetnames == ["Revue", "Sources", "Questions"]
    grid = book["Revue"]
    assert [c.value for c in grid[1]] == ["Contrat", "Plafond", "Assurance"]
    assert grid["A2"].value == "Contrat A | bis"
    assert grid["B2"].value == ("Plafond : 100 euros.\n« La responsabilité est limitée à 100 "
                                "euros. »\n— MSA · Article 10.2 — Limitation (p. 3-4)")
    assert grid["C2"].value == ABSENT and grid["B3"].value == ABSENT
    assert grid["B2"].hyperlink.location == "'Sources'!A2"
    sources = book["Sources"]
    assert sources.max_row == 5
    row = [c.value for c in sources[2]]
    assert row[:5] == ["Contrat A | bis", "a", "Plafond",
                       "La responsabilité est limitée à 100 euros.", "10.2"]
    assert row[-1].startswith("10.2 Limitation.")
    assert book["Questions"]["B2"].value == CAP.question


def test_csv_export() -> None:
    data = to_csv(_review())
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM a French Excel needs for UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Contrat", "Plafond", "Assurance"]
    assert rows[1][1].startswith("Plafond : 100 euros.\n« La responsabilité")
    assert rows[2] == ["Contrat B", ABSENT, cell_text(_review().cell("b", "assurance"))]


def test_markdown_export() -> None:
    text = to_markdown(_review())
    assert text.startswith("# Due diligence\n")
    assert "| Contrat A \\| bis | MSA · Article 10.2 — Limitation (p. 3-4) | Non prévu par le " \
           "contrat |" in text
    assert "> « La responsabilité est limitée à 100 euros. »" in text
    assert "*Non prévu par le contrat.* Rien sur l'assurance." in text


# The review over the sample contracts (real Chroma and embedder) ------------------------------


@pytest.fixture(scope="module")
def due_diligence(sample_service: ContractQA) -> Review:
    questions = list(sample_service.checklists.get("due-diligence").questions)
    return sample_service.review(questions, SAMPLE_IDS, title="Due diligence",
                                 checklist="due-diligence", refresh=True)


@pytest.mark.integration
def test_review_over_sample_contracts(due_diligence: Review) -> None:
    review = due_diligence
    assert [d.document_id for d in review.documents] == SAMPLE_IDS
    assert len(review.cells) == len(SAMPLE_IDS) * 15
    assert {(c.document_id, c.question_id) for c in review.cells} == {
        (d, q.id) for d in SAMPLE_IDS for q in review.questions}
    for cell in review.cells:
        if cell.status == "found":  # each cell cites its own contract only
            assert cell.source is not None and cell.source.document_id == cell.document_id
            assert cell.quote and " ".join(cell.quote.split()) in " ".join(
                cell.source.excerpt.split())
    cap = review.cell(CRAFT, "plafond")
    assert cap is not None and cap.source is not None
    assert (cap.source.section, cap.source.article) == ("MSA", "10.2")
    # Kimple's conditions say nothing of insurance (gold heldout-026), nor Craft AI's MSA of
    # soliciting staff (gold h2cr-006).
    assert review.cell(KIMPLE, "assurance").text == ABSENT  # type: ignore[union-attr]
    assert review.cell(CRAFT, "non-sollicitation").text == ABSENT  # type: ignore[union-attr]


@pytest.mark.integration
def test_second_review_is_served_from_the_cache(sample_service: ContractQA,
                                                due_diligence: Review) -> None:
    questions = due_diligence.questions[:5]
    again = sample_service.review(questions, SAMPLE_IDS[:2])
    assert again.cached_cells == len(again.cells) == 10
    for cell in again.cells:
        first = due_diligence.cell(cell.document_id, cell.question_id)
        assert first is not None and (cell.status, cell.quote) == (first.status, first.quote)
    assert sample_service.saved_review(again.id) is not None
    fresh = sample_service.review(questions[:1], SAMPLE_IDS[:1], refresh=True)
    assert fresh.cached_cells == 0


@pytest.mark.integration
def test_review_errors_name_the_fix(sample_service: ContractQA) -> None:
    with pytest.raises(UnknownDocuments, match="contractqa documents"):
        sample_service.review([CAP], ["inconnu"])
    with pytest.raises(ReviewTooLarge, match="Aucune question"):
        sample_service.review([], SAMPLE_IDS)


@pytest.mark.integration
def test_llm_summary_is_checked_against_its_quote(sample_service: ContractQA) -> None:
    model = FakeListChatModel(responses=[
        "Plafond : les sommes payées sur douze (12) mois.",
        "Plafond : 36 mois de redevances.",
    ])
    runner = ReviewRunner(sample_service, cache=None, summarizer=llm_summarizer(model))
    record = next(r for r in sample_service.documents() if r.document_id == CRAFT)
    kept = runner.cell(record, CAP, "llm:fake", runner.headings(CRAFT))
    dropped = runner.cell(record, CAP, "llm:fake", runner.headings(CRAFT))
    assert kept.summary == "Plafond : les sommes payées sur douze (12) mois."
    assert dropped.status == "found" and dropped.summary is None
    assert "36" in dropped.summary_note


# The tab's handlers, in process ---------------------------------------------------------------


@pytest.mark.integration
def test_review_tab_handlers(sample_service: ContractQA, tmp_path: Path) -> None:
    h = ReviewHandlers(sample_service)
    docs, checklist = h.load(None, None)
    assert checklist.value == "due-diligence" and len(docs.choices) >= len(SAMPLE_IDS)
    out = h.run([CRAFT, KIMPLE], "due-diligence", "Quel est le délai de paiement des factures ?",
                progress=None)
    review, layout, status = out[0], out[1], out[2]
    assert isinstance(review, Review) and len(review.questions) == 16
    assert "2 contrat(s) × 16 question(s)" in status
    assert layout.documents == [CRAFT, KIMPLE] and layout.questions[-1] == "perso-1"
    assert all(Path(b.value["path"]).is_file() for b in out[6:9])

    col = layout.questions.index("plafond") + 1
    shown = h.select(review, layout, gr.SelectData(None, {"index": [0, col], "value": ""}))
    assert 'mark class="cq-hl"' in shown and "Article 10.2" in shown

    headers, rows, only_absent = grid_rows(review, ["assurance"], SHOW_ABSENT)
    assert headers == ["Contrat", "Assurance"] and [r[1] for r in rows] == [ABSENT] * len(rows)
    assert KIMPLE in only_absent.documents
    outside = gr.SelectData(None, {"index": [3, 3], "value": ""})
    assert h.select(review, GridLayout(), outside).startswith('<div class="cq-empty">')

    with pytest.raises(gr.Error):
        h.run([CRAFT], "", "", progress=None)  # no question at all


# The CLI ---------------------------------------------------------------------------------------


def _cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTQA_")}
    env.update(CONTRACTQA_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               ANONYMIZED_TELEMETRY="False")
    return env


@pytest.mark.integration
def test_cli_review_json_and_exports(sample_service: ContractQA, corpus_dir: Path,
                                     tmp_path: Path) -> None:
    xlsx, csv_path, md = tmp_path / "revue.xlsx", tmp_path / "revue.csv", tmp_path / "revue.md"
    done = subprocess.run(
        [sys.executable, "-m", "contractqa.cli", "review", "--checklist", "due-diligence",
         "--documents", GRAHAM, KIMPLE, "--question", "Quel est le délai de paiement ?",
         "--xlsx", str(xlsx), "--csv", str(csv_path), "--md", str(md), "--json"],
        cwd=ROOT, env=_cli_env(corpus_dir), capture_output=True, text=True, timeout=300,
        check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert [d["document_id"] for d in data["documents"]] == [GRAHAM, KIMPLE]
    assert len(data["cells"]) == 2 * 16 and data["files"] == [str(xlsx), str(csv_path), str(md)]
    assert load_workbook(xlsx)["Revue"].max_row == 3
    assert md.read_text(encoding="utf-8").startswith("# Due diligence")

    done = subprocess.run(
        [sys.executable, "-m", "contractqa.cli", "review", "--checklist", "inconnue"],
        cwd=ROOT, env=_cli_env(corpus_dir), capture_output=True, text=True, timeout=300,
        check=False)
    assert done.returncode == 1 and "due-diligence" in done.stderr
