"""The web UI in process: rendering helpers, and handlers over a real ContractQA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

import app
from contractqa.service import ContractQA
from contractqa.settings import Settings
from contractqa.ui import contracts, render
from contractqa.ui.handlers import MSG_ANSWER_FAILED, UIHandlers
from ingest.pipeline import FileResult
from retrieval.chain import ABSTAIN, READING
from retrieval.models import Answer, Citation
from tests.conftest import CONTRACTS
from tests.helpers_docs import maintenance_docx
from tests.llm_replay import ReplayServer

CRAFT = "000_863f8398c9eb4693"
GRAHAM = "001_05fa10e0473d31c4"
LIABILITY_Q = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"


def _citation(n: int = 1, **kw: Any) -> Citation:
    data: dict[str, Any] = {
        "n": n,
        "document_id": "doc",
        "document_title": "Contrat <Test> & Cie",
        "section": "MSA",
        "article": "10.2",
        "heading": "Limitation de responsabilité",
        "pages": [3, 4],
        "excerpt": "10.2 Limitation.\nLa responsabilité est limitée à <b>100</b> euros. Fin.",
        "score": 0.9,
        "highlight": "La responsabilité est limitée à <b>100</b> euros.",
    }
    data.update(kw)
    return Citation(**data)


def _answer(**kw: Any) -> Answer:
    data: dict[str, Any] = {
        "question": "Quel plafond ?",
        "answer": "« La responsabilité est limitée. » [1]\n\nSources :\n[1] Contrat — MSA — 10.2",
        "abstained": False,
        "mode": "extractive",
        "citations": [_citation()],
    }
    data.update(kw)
    return Answer(**data)


def _final(outputs: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    assert outputs, "the handler yielded nothing"
    return outputs[-1]


# Pure rendering -------------------------------------------------------------------------------


def test_format_pages_and_labels() -> None:
    assert render.format_pages([]) == ""
    assert render.format_pages([3]) == "p. 3"
    assert render.format_pages([4, 3]) == "p. 3-4"
    assert render.format_pages([3, 5]) == "p. 3, 5"
    assert render.article_label("MSA", "10.2", "Plafond") == "MSA · Article 10.2 — Plafond"
    assert render.article_label(None, None, None) == "Passage sans numéro d'article"
    label = render.citation_label(_citation())
    assert "Article 10.2" in label and label.endswith("(p. 3-4)")


def test_sources_html_escapes_contract_text_and_marks_highlight() -> None:
    evil = _citation(
        excerpt='Clause <script>alert("x")</script> & <img src=x onerror=alert(1)>. Fin.',
        highlight="<img src=x onerror=alert(1)>.",
        heading="<i>Titre</i>",
    )
    answer = _answer(citations=[evil], routed=["doc"])
    html_out = render.sources_html(answer, {1: "Article entier <script>x</script>"}, {"doc": "<T>"})
    assert "<script>" not in html_out and "<img" not in html_out and "<i>" not in html_out
    assert "&lt;script&gt;" in html_out and "&amp;" in html_out
    assert '<mark class="cq-hl">&lt;img src=x onerror=alert(1)&gt;.</mark>' in html_out
    assert "Voir l'article complet" in html_out
    assert "Article entier &lt;script&gt;" in html_out
    assert "&lt;T&gt;" in html_out  # the routed note is escaped too


def test_highlight_tolerates_line_breaks() -> None:
    text = "Premier.\nLa responsabilité est\nlimitée à 100 euros. Suite."
    out = render.highlight_html(text, "La responsabilité est limitée à 100 euros.")
    assert '<mark class="cq-hl">La responsabilité est\nlimitée à 100 euros.</mark>' in out
    assert render.highlight_html("a < b", "absent") == "a &lt; b"


def test_long_excerpt_is_cut_around_its_highlight() -> None:
    short = "Court extrait."
    assert render.excerpt_window(short, "Court") == short
    text = "Début. " + "x " * 600 + "La phrase qui fonde la réponse. " + "y " * 600 + "Fin."
    window = render.excerpt_window(text, "La phrase qui fonde la réponse.")
    assert window.startswith("… ") and window.endswith(" …")
    assert "La phrase qui fonde la réponse." in window and len(window) < 700
    assert render.excerpt_window(text, "absente").endswith(" …")


def test_chat_markdown_escapes_html_and_keeps_markers() -> None:
    answer = _answer(answer="Voir <script>x</script> [1]\n\nSources :\n[1] Contrat — 10.2")
    md = render.answer_markdown(answer, {})
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "[1]" in md
    assert md.count("**Sources**") == 1 and "Sources :" not in md  # compact list only
    assert "MSA, art. 10.2" in md
    assert "sans texte généré" in md
    user = render.chat_messages([render.Exchange(question="<b>Q</b>", answer=answer)], {})
    assert user[0] == {"role": "user", "content": "&lt;b&gt;Q&lt;/b&gt;"}
    assert user[1]["role"] == "assistant"


def test_abstention_is_shown_as_such() -> None:
    answer = _answer(
        answer="Les contrats indexés ne contiennent pas de clause sur ce point.",
        abstained=True,
        citations=[],
    )
    md = render.answer_markdown(answer, {})
    assert md.startswith("**Aucune clause trouvée.**")
    html_out = render.sources_html(answer)
    assert "cq-abstain" in html_out and "Aucune clause trouvée" in html_out
    assert "Aucune clause trouvée." in render.answer_plaintext(answer)


def test_mode_notes_are_honest() -> None:
    assert "sans texte généré" in render.mode_note(_answer())
    llm = render.mode_note(_answer(mode="llm", model="mistral-small"))
    assert "mistral-small" in llm and "à vérifier" in llm
    fallback = render.mode_note(_answer(mode="llm-fallback", notice="Délai dépassé."))
    assert "n'a pas pu répondre" in fallback and "Délai dépassé." in fallback


def test_routed_note_names_the_contract() -> None:
    assert render.routed_note(_answer(), {}) == ""
    note = render.routed_note(_answer(routed=["doc"]), {"doc": "MSA Craft AI"})
    assert "MSA Craft AI" in note and "nommé" in note


def test_plaintext_and_markdown_export_carry_citations() -> None:
    answer = _answer()
    text = render.answer_plaintext(answer)
    assert text.startswith("Question : Quel plafond ?")
    assert "Sources :" in text and "[1]" in text and "Extraits cités" in text
    exchanges = [
        render.Exchange(question="Quel plafond ?", documents=["doc"], answer=answer),
        render.Exchange(question="Et la durée ?", error="Erreur interne."),
    ]
    md = render.conversation_markdown(exchanges, {"doc": "Contrat Test"})
    assert md.startswith("# Conversation ContractQA")
    assert "## Question 1" in md and "> Quel plafond ?" in md
    assert "*Contrats interrogés : Contrat Test*" in md
    assert "### Extraits cités" in md and "- **[1]**" in md
    assert "## Question 2" in md and "**Erreur :** Erreur interne." in md


def test_split_sources_block_only_cuts_a_real_list() -> None:
    assert render.split_sources_block("Texte [1]\n\nSources :\n[1] A\n[2] B") == "Texte [1]"
    kept = "Texte\n\nSources :\nun paragraphe qui n'est pas une liste"
    assert render.split_sources_block(kept) == kept


def test_ingest_report_hides_temp_paths() -> None:
    report = type("Report", (), {})()
    report.results = [
        FileResult(path="/tmp/gradio/abc/contrat.docx", document_id="contrat",
                   status="indexed", message="3 articles", articles=3, chunks=4),
        FileResult(path="/tmp/gradio/def/vide.txt", document_id="vide", status="error",
                   message="/tmp/gradio/def/vide.txt: le fichier est vide."),
    ]
    out = contracts.ingest_report_html(report)
    assert "3 article(s) trouvé(s)" in out and "cq-ok" in out
    assert "cq-err" in out and "le fichier est vide" in out
    assert "/tmp/gradio" not in out


# Handlers over a real service -----------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractQA]:
    data = tmp_path_factory.mktemp("ui-data")
    settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
    svc = ContractQA(settings)
    report = svc.ingest([CONTRACTS / f"{CRAFT}.txt", CONTRACTS / f"{GRAHAM}.txt"])
    assert report.ok, [r.message for r in report.results]
    yield svc


@pytest.fixture
def handlers(service: ContractQA) -> UIHandlers:
    return UIHandlers(service)


def test_respond_streams_then_cites_article_10_2(handlers: UIHandlers) -> None:
    outputs = list(handlers.respond(LIABILITY_Q, [], []))
    assert len(outputs) > 2, "the answer should stream in several updates"
    first_chat = outputs[0][0]
    assert first_chat[-1]["role"] == "assistant"
    chat, exchanges, box, sources, copy = _final(outputs)
    assert box == ""
    answer = exchanges[-1].answer
    assert answer is not None and not answer.abstained
    assert answer.routed == [CRAFT]
    final = chat[-1]["content"]
    assert "[1]" in final and "art. 10.2" in final
    assert "Question rapportée au contrat" in final
    assert 'class="cq-source"' in sources and "Article 10.2" in sources
    assert "<mark" in sources and "Voir l'article complet" in sources
    assert "Question : " + LIABILITY_Q in copy and "[1]" in copy
    # A follow-up keeps the history and adds one exchange.
    more = _final(list(handlers.respond("Et la responsabilité illimitée ?", [], exchanges)))
    assert len(more[1]) == 2 and len(more[0]) == 4


def test_selector_restricts_the_search(handlers: UIHandlers) -> None:
    outputs = list(handlers.respond("Quelle est la durée du traitement ?", [GRAHAM], []))
    answer = _final(outputs)[1][-1].answer
    assert answer is not None and answer.citations
    assert {c.document_id for c in answer.citations} == {GRAHAM}


def test_select_message_shows_that_answers_sources(handlers: UIHandlers) -> None:
    exchanges = _final(list(handlers.respond(LIABILITY_Q, [], [])))[1]
    evt = gr.SelectData(None, {"index": 1, "value": "x"})
    sources, copy = handlers.select_message(exchanges, evt)
    assert "Article 10.2" in sources and "[1]" in copy


def test_empty_question_and_failures_give_french_messages(
    handlers: UIHandlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.warns(UserWarning, match="Saisissez une question"):
        chat, exchanges, *_ = _final(list(handlers.respond("   ", [], [])))
    assert chat == [] and exchanges == []

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom: Traceback secret")

    monkeypatch.setattr(handlers.service, "stream", broken)
    with pytest.warns(UserWarning, match="erreur interne"):
        chat, exchanges, *_ = _final(list(handlers.respond(LIABILITY_Q, [], [])))
    assert exchanges[-1].error == MSG_ANSWER_FAILED
    assert "Traceback" not in chat[-1]["content"] and "boom" not in chat[-1]["content"]
    assert chat[-1]["content"].startswith("**Erreur.**")


def test_no_contract_indexed_warns(tmp_path: Path) -> None:
    empty = ContractQA(Settings(data_dir=tmp_path, _env_file=None))  # type: ignore[call-arg]
    with pytest.warns(UserWarning, match="Aucun contrat n'est indexé"):
        outputs = list(UIHandlers(empty).respond("Quel préavis ?", [], []))
    assert _final(outputs)[1] == []


def test_llm_mode_names_the_model_and_abstention_is_not_an_answer(service: ContractQA) -> None:
    llm_answer = ("La responsabilité cumulée du Prestataire est limitée au montant payé au cours "
                  "des douze mois précédents [1].")
    with ReplayServer([llm_answer]) as replay:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=service.settings.data_dir, llm_provider="openai",
            llm_base_url=replay.base_url, llm_model="replay-7b", llm_api_key=SecretStr("test"),
            llm_timeout_s=10.0,
        )
        llm = UIHandlers(ContractQA(settings, embedder=service.embedder))
        outputs = list(llm.respond(LIABILITY_Q, [], []))
        # While the model reads, before its first token, the chat says so.
        assert any(o[0][-1]["content"] == f"*{READING}*" for o in outputs)
        answer = _final(outputs)[1][-1].answer
        assert answer is not None and answer.mode == "llm", answer
        chat, sources = _final(outputs)[0], _final(outputs)[3]
        assert "replay-7b" in chat[-1]["content"] and "replay-7b" in sources
        assert "sans texte généré" not in chat[-1]["content"]

        replay.script(ABSTAIN)
        outputs = list(llm.respond(LIABILITY_Q, [], []))
        answer = _final(outputs)[1][-1].answer
        assert answer is not None and answer.abstained
        content = _final(outputs)[0][-1]["content"]
        assert content.startswith("*Question rapportée") or content.startswith("**Aucune")
        assert "**Aucune clause trouvée.**" in content
        assert "cq-abstain" in _final(outputs)[3]
        assert "Aucune clause trouvée." in _final(outputs)[4]


def test_export_writes_markdown(handlers: UIHandlers) -> None:
    assert handlers.export([]) is None
    exchanges = _final(list(handlers.respond(LIABILITY_Q, [], [])))[1]
    path = Path(str(handlers.export(exchanges)))
    text = path.read_text(encoding="utf-8")
    assert path.suffix == ".md" and LIABILITY_Q in text and "10.2" in text


def test_upload_outline_article_and_delete(handlers: UIHandlers, tmp_path: Path) -> None:
    docx = maintenance_docx(tmp_path / "zephyrin_maintenance.docx")
    empty = tmp_path / "vide.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.warns(UserWarning, match="n'ont pas pu être indexés"):
        report, selector, table, picker, files = handlers.upload([str(docx), str(empty)])
    assert "zephyrin_maintenance.docx" in report and "article(s) trouvé(s)" in report
    assert "vide.txt" in report and "cq-err" in report and str(tmp_path) not in report
    assert ("CONTRAT DE MAINTENANCE ZEPHYRIN", "zephyrin_maintenance") in selector.choices
    assert "zephyrin_maintenance" in table and picker.value == "zephyrin_maintenance"
    assert files is None

    # Searchable at once.
    question = "Quelle pénalité en cas de retard d'intervention sur les ascenseurs ?"
    answer = _final(list(handlers.respond(question, [], [])))[1][-1].answer
    assert answer is not None
    assert any(c.document_id == "zephyrin_maintenance" and c.article == "2"
               for c in answer.citations)

    outline_html, article_picker, article_view = handlers.show_outline("zephyrin_maintenance")
    assert "Pénalités de retard" in outline_html and article_view == ""
    choice = next(v for label, v in article_picker.choices if "Pénalités" in label)
    shown = handlers.show_article("zephyrin_maintenance", choice)
    assert "777 euros" in shown and "Article 2" in shown

    # Removing needs the browser's confirmation; then the contract is gone.
    untouched = handlers.delete("zephyrin_maintenance", False, [])
    assert all(isinstance(u, type(gr.skip())) for u in untouched)
    out = handlers.delete("zephyrin_maintenance", True, ["zephyrin_maintenance", CRAFT])
    assert out[0].value == [CRAFT]
    assert "zephyrin_maintenance" not in out[1]
    ids = {d.document_id for d in handlers.service.documents()}
    assert "zephyrin_maintenance" not in ids and CRAFT in ids


def test_upload_without_files_warns(handlers: UIHandlers) -> None:
    with pytest.warns(UserWarning, match="Choisissez d'abord"):
        handlers.upload([])


# App assembly ---------------------------------------------------------------------------------


def test_build_ui_and_create_app(service: ContractQA) -> None:
    blocks = app.build_ui(service)
    assert isinstance(blocks, gr.Blocks)
    fastapi_app = app.create_app(service.settings, service)
    with TestClient(fastapi_app) as client:
        health = client.get("/health")
        assert health.status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        config = client.get("/config").json()
        labels = {c.get("props", {}).get("label") for c in config["components"]}
        assert "Contrats interrogés" in labels
        assert client.get("/api/documents").status_code == 401  # the API keeps its own routes


def test_the_contracts_table_is_searched_and_shows_a_page(handlers: UIHandlers,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    everything = handlers.search_documents("")
    assert CRAFT in everything and GRAHAM in everything
    found = handlers.search_documents("craft")
    assert CRAFT in found and GRAHAM not in found
    nothing = handlers.search_documents("Zzyzx")
    assert "Aucun contrat ne correspond à « Zzyzx » parmi les 2 indexés" in nothing
    monkeypatch.setattr(contracts, "DOCUMENTS_SHOWN", 1)
    page = handlers.search_documents(None)
    assert "1 contrats affichés sur 2 : précisez la recherche" in page
    assert (CRAFT in page) != (GRAHAM in page)
