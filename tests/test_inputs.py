"""Odd input: blank questions, binary junk named .txt, rejected uploads, folder docs, NFD."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contractqa.api import create_api
from contractqa.service import ContractQA, EmptyQuestion
from ingest.loaders import load
from ingest.models import IngestError
from ingest.pipeline import expand
from tests.helpers_docs import text_to_docx, text_to_pdf
from tests.test_api import ADMIN, ASK, assert_error, make_settings
from tests.test_ingest import SMALL, run_cli


def junk_without_nul(size: int = 8000, seed: int = 16) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(1, 256) for _ in range(size))


def printable_junk(size: int = 8000, seed: int = 17) -> bytes:
    """Random bytes that decode as cp1252 without error: no control bytes, no NUL."""
    rng = random.Random(seed)
    allowed = [b for b in range(0x20, 0x100) if b not in (0x7F, 0x81, 0x8D, 0x8F, 0x90, 0x9D)]
    return bytes(rng.choice(allowed) for _ in range(size))


@pytest.mark.parametrize("content", [junk_without_nul(), printable_junk(),
                                     b"\x89PNG\r\n\x1a\n" + printable_junk(500)],
                         ids=["random", "printable", "png"])
def test_binary_named_txt_is_refused(tmp_path: Path, content: bytes) -> None:
    assert b"\x00" not in content
    path = tmp_path / "contrat.txt"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=r"binaire|texte lisible"):
        load(path)


def test_content_must_match_the_extension(tmp_path: Path) -> None:
    lines = SMALL.splitlines()
    pdf, docx = tmp_path / "a.pdf", tmp_path / "a.docx"
    text_to_pdf(lines, pdf)
    text_to_docx(lines, docx)
    assert "Testia" in load(pdf).text and "Testia" in load(docx).text
    (tmp_path / "b.md").write_text("# Contrat\n\n## Article 1\nTexte é à ç.\n", encoding="utf-8")
    assert "Article 1" in load(tmp_path / "b.md").text
    (tmp_path / "c.txt").write_bytes(SMALL.encode("cp1252"))
    assert "GÉNÉRALES" in load(tmp_path / "c.txt").text
    swapped = tmp_path / "faux.pdf"
    swapped.write_bytes(docx.read_bytes())
    with pytest.raises(IngestError, match="ce n'est pas un fichier PDF"):
        load(swapped)
    renamed = tmp_path / "faux.docx"
    renamed.write_bytes(pdf.read_bytes())
    with pytest.raises(IngestError, match="ce n'est pas un fichier DOCX"):
        load(renamed)


def test_folder_docs_skipped_only_by_exact_name(tmp_path: Path) -> None:
    for name in ("README.md", "SOURCES.md", "LICENSE", "licence_logiciel.txt",
                 "sources_contrat.txt", "Licence.txt", "readme_contrat.md"):
        (tmp_path / name).write_text(SMALL, encoding="utf-8")
    assert [p.name for p in expand([tmp_path])] == [
        "Licence.txt", "licence_logiciel.txt", "readme_contrat.md", "sources_contrat.txt"]


def test_decomposed_accents_are_composed_at_load(tmp_path: Path) -> None:
    path = tmp_path / "mac.txt"
    path.write_text(unicodedata.normalize("NFD", SMALL), encoding="utf-8")
    document = load(path)
    assert document.text.startswith("CONDITIONS GÉNÉRALES DE SERVICE")
    assert document.text == unicodedata.normalize("NFC", document.text)
    assert all(document.text[ln.start: ln.start + len(ln.text)] == ln.text
               for ln in document.lines)


def test_blank_question_is_refused_by_the_service(tmp_path: Path) -> None:
    service = ContractQA(make_settings(tmp_path / "data"))
    for question in ("", "   ", "\n\t "):
        with pytest.raises(EmptyQuestion, match="question est vide"):
            service.ask(question)


def test_api_blank_question_and_rejected_uploads(tmp_path: Path) -> None:
    service = ContractQA(make_settings(tmp_path / "data"))
    uploads = tmp_path / "data" / "uploads"
    with TestClient(create_api(service, make_settings(tmp_path / "data"))) as client:
        for question in ("   ", "\n\t"):
            error = assert_error(client.post("/api/ask", headers=ASK,
                                             json={"question": question}), 422)
            assert "La question est vide" in error["message"], error
            assert "Value error" not in error["message"]
        good = client.post("/api/documents?wait=true", headers=ADMIN,
                           files=[("files", ("contrat.txt", SMALL.encode(), "text/plain"))])
        assert good.json()["ok"], good.text
        bad = client.post("/api/documents?wait=true", headers=ADMIN, files=[
            ("files", ("contrat.txt", junk_without_nul(), "text/plain")),
            ("files", ("autre.txt", printable_junk(), "text/plain"))])
        results = {r["filename"]: r for r in bad.json()["results"]}
        assert {r["status"] for r in results.values()} == {"error"}, results
        assert "Traceback" not in bad.text and "Error" not in bad.text
    # The refused files are gone; the earlier good upload of the same name is back.
    assert sorted(p.name for p in uploads.iterdir()) == ["contrat.txt"]
    assert (uploads / "contrat.txt").read_text(encoding="utf-8") == SMALL
    assert [d.document_id for d in service.documents()] == ["contrat"]


@pytest.mark.integration
def test_cli_blank_question_exits_2_without_traceback(tmp_path: Path) -> None:
    done = run_cli(["ask", "   "], tmp_path / "data", tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "La question est vide" in done.stderr and "Traceback" not in done.stderr
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": 1, "question": "  "}\n', encoding="utf-8")
    done = run_cli(["ask", "--batch", str(batch)], tmp_path / "data", tmp_path)
    assert done.returncode == 1 and "non vide" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_api_validation_errors_are_french(tmp_path: Path) -> None:
    service = ContractQA(make_settings(tmp_path / "data"))
    with TestClient(create_api(service, make_settings(tmp_path / "data"))) as client:
        for body, words in (({}, "champ obligatoire"), ({"question": "x" * 3000}, "trop long"),
                            ({"question": 3}, "texte attendu")):
            error = assert_error(client.post("/api/ask", headers=ASK, json=body), 422)
            assert words in error["message"], error
            assert not any(w in error["message"] for w in ("Field", "should", "Error")), error


@pytest.mark.integration
def test_cli_bad_setting_is_french_without_class_names(tmp_path: Path) -> None:
    done = run_cli(["documents"], tmp_path / "data", tmp_path, CONTRACTQA_TOP_K="beaucoup")
    assert done.returncode == 2
    assert "CONTRACTQA_TOP_K" in done.stderr and "beaucoup" in done.stderr, done.stderr
    assert "ValidationError" not in done.stderr and "validation error" not in done.stderr


def test_a_wrong_setting_stops_the_cli_naming_it_in_french(tmp_path: Path) -> None:
    """Bounds and token formats are checked at startup; a token is never printed."""
    from tests.test_ingest import run_cli

    done = run_cli(["documents"], tmp_path / "data", tmp_path, CONTRACTQA_TOP_K="0",
                   CONTRACTQA_API_TOKENS="bob:secretsecret:root")
    assert done.returncode == 2
    assert "CONTRACTQA_TOP_K = '0' : doit être supérieure ou égale à 1" in done.stderr
    assert "CONTRACTQA_API_TOKENS : entrée n°1 : scopes inconnus" in done.stderr
    assert "secretsecret" not in done.stderr and "Traceback" not in done.stderr
