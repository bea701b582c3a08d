"""Ingestion into a real Chroma store: determinism, updates, bad input, CLI and interruption."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings
from contractqa.wiring import open_store
from ingest.chunking import Chunker
from ingest.embeddings import EmbeddingModel, Matrix
from ingest.pipeline import parse_file
from ingest.store import ChunkStore
from tests.helpers_docs import blank_pdf, encrypted_pdf, require_font, text_to_pdf

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "data" / "contracts"
EXTRA = ROOT / "data" / "extra-contracts"
CORPUS = sorted(CONTRACTS.glob("*.txt")) + sorted(EXTRA.glob("*.txt"))
CLI = ROOT / ".venv" / "bin" / "contractqa"

SMALL = """CONDITIONS GÉNÉRALES DE SERVICE TESTIA

1. Objet
Les présentes conditions définissent les règles d'accès au service Testia fourni par la
société Testia SAS au Client.

2. Durée
Le contrat est conclu pour une durée de douze mois à compter de sa signature. Il est
renouvelé tacitement par périodes successives d'un an.

3. Prix et paiement
Le prix est fixé au bon de commande. Les factures sont payables à trente jours.

4. Responsabilité
La responsabilité de Testia est limitée au montant payé par le Client au cours des douze
derniers mois.

5. Résiliation
Chaque partie peut résilier le contrat par lettre recommandée avec un préavis de trois mois.
"""


class HashEmbedder(EmbeddingModel):
    """A fast, deterministic embedder for tests that only exercise the store."""

    name = "hash-test"

    def __init__(self) -> None:
        self.calls = 0

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        self.calls += 1
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
            rows.append(np.random.default_rng(seed).standard_normal(32))
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(texts), 32)
        return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def fast_service(settings: Settings) -> ContractQA:
    return ContractQA(settings, embedder=HashEmbedder())


def expected_chunk_ids(path: Path) -> list[str]:
    parsed, _profile, content_hash = parse_file(path)
    return [c.chunk_id for c in Chunker().chunks(parsed, content_hash)]


def stored_ids(store: ChunkStore, document_id: str) -> list[str]:
    """Every chunk of the document in Chroma, committed or not."""
    got = store.chunks_collection.get(where={"document_id": document_id}, include=[])
    return sorted(got["ids"])


def assert_consistent(store: ChunkStore) -> None:
    """Every visible chunk belongs to a committed record, and counts match the records."""
    store.invalidate()
    records = store.records()
    per_doc = Counter(c.document_id for c in store.chunks())
    assert set(per_doc) == set(records)
    for document_id, record in records.items():
        assert per_doc[document_id] == record.chunks, document_id


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTQA_")}
    env.update(CONTRACTQA_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               ANONYMIZED_TELEMETRY="False", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_cli(args: list[str], data_dir: Path, cwd: Path, timeout: float = 180,
            **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], cwd=cwd, env=cli_env(data_dir, **extra),
                          capture_output=True, text=True, timeout=timeout, check=False)


# Determinism and re-ingestion ------------------------------------------------------------

def test_corpus_ingested_with_deterministic_ids(sample_service: ContractQA) -> None:
    store = sample_service.store
    records = store.records()
    assert sorted(records) == sorted(p.stem for p in CORPUS)
    for path in CORPUS:
        ids = expected_chunk_ids(path)
        assert sorted(c.chunk_id for c in store.chunks() if c.document_id == path.stem) == \
            sorted(ids)
        assert records[path.stem].chunks == len(ids)
        assert stored_ids(store, path.stem) == sorted(ids)
    assert store.count_chunks() == sum(r.chunks for r in records.values())
    assert_consistent(store)


def test_store_reads_the_collection_page_by_page(
    sample_service: ContractQA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No get() asks for more than a page of rows (SQLite fails past 32,766 variables)."""
    store = sample_service.store
    whole = sorted(c.chunk_id for c in store.chunks())
    limits: list[int | None] = []
    collection_type = type(store.chunks_collection)
    real_get = collection_type.get

    def paged_get(self: object, *args: object, **kwargs: object) -> object:
        limits.append(kwargs.get("limit"))  # type: ignore[arg-type]
        return real_get(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("ingest.store._PAGE", 7)
    monkeypatch.setattr(collection_type, "get", paged_get)
    store.invalidate()
    assert sorted(c.chunk_id for c in store.chunks()) == whole
    assert len(limits) > len(whole) // 7 and set(limits) == {7}
    store.invalidate()


def test_same_ids_in_a_second_data_dir(sample_service: ContractQA, settings: Settings) -> None:
    service = fast_service(settings)
    paths = [EXTRA / "cloudtemple_dpa.txt", CONTRACTS / "004_f17bc88fae2ffff9.txt"]
    report = service.ingest(paths)
    assert report.ok
    for path in paths:
        mine = stored_ids(service.store, path.stem)
        assert mine == stored_ids(sample_service.store, path.stem)


def test_reingest_reports_unchanged(sample_service: ContractQA) -> None:
    store = sample_service.store
    before = store.count_chunks()
    ids = sorted(c.chunk_id for c in store.chunks())
    for _ in range(2):
        report = sample_service.ingest([CONTRACTS, EXTRA])
        assert report.ok
        assert [r.status for r in report.results] == ["unchanged"] * len(CORPUS)
        assert all(r.message == "déjà indexé, inchangé" for r in report.results)
        assert store.count_chunks() == before
    assert sorted(c.chunk_id for c in store.chunks()) == ids


def test_changed_document_replaces_its_chunks(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "contrat_testia.txt"
    path.write_text(SMALL, encoding="utf-8")
    other = folder / "dpa.txt"
    shutil.copy(EXTRA / "cloudtemple_dpa.txt", other)
    service = fast_service(settings)
    assert service.ingest([folder]).ok
    old_ids = stored_ids(service.store, "contrat_testia")
    other_ids = stored_ids(service.store, "dpa")
    assert old_ids == sorted(expected_chunk_ids(path))

    changed = SMALL.replace("trente jours", "quarante-cinq jours") + (
        "\n6. Droit applicable\nLe contrat est soumis au droit français.\n"
    )
    path.write_text(changed, encoding="utf-8")
    results = {r.document_id: r for r in service.ingest([folder]).results}
    assert results["contrat_testia"].status == "replaced"
    assert results["dpa"].status == "unchanged"

    new_ids = stored_ids(service.store, "contrat_testia")
    assert new_ids == sorted(expected_chunk_ids(path))
    assert not set(new_ids) & set(old_ids), "a chunk of the old version is left"
    assert len(new_ids) == service.store.records()["contrat_testia"].chunks == len(old_ids) + 1
    texts = " ".join(c.text for c in service.store.chunks() if c.document_id == "contrat_testia")
    assert "quarante-cinq jours" in texts and "trente jours" not in texts
    assert stored_ids(service.store, "dpa") == other_ids
    assert service.store.count_chunks() == len(new_ids) + len(other_ids)
    assert_consistent(service.store)


def test_interrupted_write_is_invisible_then_collected(settings: Settings, tmp_path: Path) -> None:
    """Chunks written without their commit record are not visible and are removed later."""
    path = tmp_path / "contrat_testia.txt"
    path.write_text(SMALL, encoding="utf-8")
    service = fast_service(settings)
    parsed, _profile, content_hash = parse_file(path)
    chunks = Chunker().chunks(parsed, content_hash)
    vectors = service.embedder.embed_batch([c.indexed_text for c in chunks])
    service.store._mark_pending(parsed.document_id)  # steps 0 and 1 of write_document only
    service.store.chunks_collection.upsert(
        ids=[c.chunk_id for c in chunks],
        embeddings=[v.tolist() for v in vectors],
        documents=[c.text for c in chunks],
        metadatas=[ChunkStore._metadata(c, content_hash) for c in chunks],
    )
    service.store.invalidate()
    assert service.store.chunks() == []
    assert service.store.records() == {}
    assert service.store.collect_garbage() == len(chunks)
    assert service.store.count_chunks() == 0
    assert service.ingest([path]).ok
    assert_consistent(service.store)


# Bad input -------------------------------------------------------------------------------

def _write_small_pdf(path: Path) -> None:
    require_font()
    text_to_pdf(SMALL.split("\n"), path)


def _empty(folder: Path) -> Path:
    path = folder / "vide.txt"
    path.write_bytes(b"")
    return path


def _garbage_pdf(folder: Path) -> Path:
    path = folder / "garbage.pdf"
    path.write_bytes(random.Random(7).randbytes(6000))
    return path


def _garbage_docx(folder: Path) -> Path:
    path = folder / "garbage.docx"
    path.write_bytes(random.Random(8).randbytes(6000))
    return path


def _truncated_pdf(folder: Path) -> Path:
    full = folder / "full.tmp"
    _write_small_pdf(full)
    path = folder / "tronque.pdf"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    return path


def _encrypted_pdf(folder: Path) -> Path:
    plain = folder / "plain.tmp"
    _write_small_pdf(plain)
    path = folder / "protege.pdf"
    encrypted_pdf(plain, path)
    plain.unlink()
    return path


def _scanned_pdf(folder: Path) -> Path:
    path = folder / "scan.pdf"
    blank_pdf(path, pages=2)
    return path


def _xlsx(folder: Path) -> Path:
    path = folder / "tarifs.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    return path


def _binary_txt(folder: Path) -> Path:
    path = folder / "binaire.txt"
    path.write_bytes(b"\x00\x01\x02" * 500)
    return path


BAD: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "empty": (_empty, ("vide",)),
    "garbage-pdf": (_garbage_pdf, ("illisible ou corrompu",)),
    "garbage-docx": (_garbage_docx, ("DOCX illisible ou corrompu",)),
    "truncated-pdf": (_truncated_pdf, ("illisible ou corrompu",)),
    "encrypted-pdf": (_encrypted_pdf, ("mot de passe",)),
    "scanned-pdf": (_scanned_pdf, ("OCR",)),
    "xlsx": (_xlsx, (".xlsx", "non pris en charge")),
    "binary-txt": (_binary_txt, ("binaire",)),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_has_clear_message_and_others_still_ingested(
    case: str, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = folder / "contrat_testia.txt"
    good.write_text(SMALL, encoding="utf-8")
    build, words = BAD[case]
    bad = build(folder)
    service = fast_service(settings)
    report = service.ingest([folder])
    assert not report.ok
    results = {Path(r.path).name: r for r in report.results}
    assert results[good.name].status == "indexed"
    failed = results[bad.name]
    assert failed.status == "error"
    assert bad.name in failed.message
    for word in words:
        assert word in failed.message, failed.message
    assert set(service.store.records()) == {"contrat_testia"}
    assert_consistent(service.store)


def test_too_large_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_file_mb=0.01,  # type: ignore[call-arg]
                        _env_file=None)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "contrat_testia.txt").write_text(SMALL, encoding="utf-8")
    shutil.copy(CONTRACTS / "004_f17bc88fae2ffff9.txt", folder / "gros.txt")
    report = fast_service(settings).ingest([folder])
    results = {Path(r.path).name: r for r in report.results}
    assert results["contrat_testia.txt"].status == "indexed"
    assert results["gros.txt"].status == "error"
    message = results["gros.txt"].message
    assert "gros.txt" in message and "trop volumineux" in message
    assert "CONTRACTQA_MAX_FILE_MB" in message


def test_same_contract_twice_names_the_first(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_contrat.txt").write_text(SMALL, encoding="utf-8")
    (folder / "b_copie.txt").write_text(SMALL, encoding="utf-8")
    service = fast_service(settings)
    report = service.ingest([folder])
    results = {Path(r.path).name: r for r in report.results}
    assert results["a_contrat.txt"].status == "indexed"
    assert results["b_copie.txt"].status == "error"
    message = results["b_copie.txt"].message
    assert "b_copie.txt" in message and "« a_contrat »" in message
    assert list(service.store.records()) == ["a_contrat"]


def test_missing_file_is_an_error(settings: Settings, tmp_path: Path) -> None:
    report = fast_service(settings).ingest([tmp_path / "absent.txt"])
    assert not report.ok
    assert "absent.txt" in report.results[0].message
    assert "introuvable" in report.results[0].message


# The CLI ---------------------------------------------------------------------------------

@pytest.mark.integration
def test_cli_documents_and_articles_json(
    sample_service: ContractQA, corpus_dir: Path, tmp_path: Path
) -> None:
    done = run_cli(["documents", "--json"], corpus_dir, tmp_path)
    assert done.returncode == 0, done.stderr
    documents = json.loads(done.stdout)
    assert sorted(d["document_id"] for d in documents) == sorted(p.stem for p in CORPUS)
    by_id = {d["document_id"]: d for d in documents}
    craft = by_id["000_863f8398c9eb4693"]
    assert craft["sections"][:3] == ["MSA", "CCMF", "CGUA"]
    assert craft["chunks"] == sample_service.store.records()[craft["document_id"]].chunks
    assert "outline" not in craft

    done = run_cli(["articles", "000_863f8398c9eb4693", "--json"], corpus_dir, tmp_path)
    assert done.returncode == 0, done.stderr
    outline = json.loads(done.stdout)
    assert all(set(row) == {"section", "article", "heading", "pages", "chars"} for row in outline)
    row = next(r for r in outline if r["section"] == "MSA" and r["article"] == "10.2")
    assert row["heading"] == "Limitation de responsabilité"
    assert row["pages"] == [1] and row["chars"] > 100

    done = run_cli(["articles", "inconnu", "--json"], corpus_dir, tmp_path)
    assert done.returncode == 1
    assert "inconnu" in done.stderr


@pytest.mark.integration
def test_cli_ingest_folder_with_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_contrat.txt").write_text(SMALL, encoding="utf-8")
    (folder / "b_copie.txt").write_text(SMALL, encoding="utf-8")
    shutil.copy(CONTRACTS / "004_f17bc88fae2ffff9.txt", folder / "gros.txt")
    bad = {build(folder).name: words for build, words in BAD.values()}
    bad["b_copie.txt"] = ("a_contrat",)
    bad["gros.txt"] = ("trop volumineux",)
    # A size limit above every other file, below "gros.txt".
    limit = max(p.stat().st_size for p in folder.iterdir() if p.name != "gros.txt") * 1.5
    assert (folder / "gros.txt").stat().st_size > limit
    data = tmp_path / "data"
    done = run_cli(["ingest", str(folder)], data, tmp_path,
                   CONTRACTQA_MAX_FILE_MB=f"{limit / 1048576:.4f}")
    assert done.returncode != 0
    errors = [ln for ln in done.stdout.splitlines() if ln.startswith("ERR")]
    assert len(errors) == len(bad), done.stdout
    for name, words in bad.items():
        line = next((ln for ln in errors if name in ln), None)
        assert line is not None, (name, done.stdout)
        assert all(word in line for word in words), line
    assert any(ln.startswith("OK  a_contrat:") for ln in done.stdout.splitlines()), done.stdout

    listed = run_cli(["documents", "--json"], data, tmp_path)
    assert [d["document_id"] for d in json.loads(listed.stdout)] == ["a_contrat"]


# Interruption ----------------------------------------------------------------------------

@pytest.mark.integration
def test_kill_during_ingest_leaves_a_consistent_store(
    sample_service: ContractQA, corpus_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # Reuse the session corpus's embedding cache: the runs below then cost parsing and
    # Chroma writes, not embedding (the cache is keyed by model and text, so it is exact).
    shutil.copytree(corpus_dir / "cache", data / "cache")
    # Progress lines go to stderr at each step of each file; files are written by batches
    # (ingest.pipeline.WRITE_ROWS passages), each file's "terminé" once its batch is
    # committed: when the third file's shows, the first three are committed, and the next
    # batch is being read or embedded.
    proc = subprocess.Popen(
        [str(CLI), "ingest", str(CONTRACTS), str(EXTRA)], cwd=tmp_path, env=cli_env(data),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 240
        for line in proc.stderr:
            seen.append(line)
            if CORPUS[2].name in line and "terminé" in line:
                break
            assert time.monotonic() < deadline, seen
        else:
            pytest.fail(f"ingest ended before the third file: {seen}")
        assert proc.poll() is None, "ingest finished too early to be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    settings = Settings(data_dir=data, _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings)
    records = store.records()
    assert {CORPUS[0].stem, CORPUS[1].stem, CORPUS[2].stem} <= set(records)
    assert len(records) < len(CORPUS)
    assert_consistent(store)
    del store

    done = run_cli(["ingest", str(CONTRACTS), str(EXTRA)], data, tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    store = open_store(settings)
    expected = sample_service.store.records()
    assert {k: r.chunks for k, r in store.records().items()} == {
        k: r.chunks for k, r in expected.items()}
    assert store.count_chunks() == sample_service.store.count_chunks()
    assert sorted(c.chunk_id for c in store.chunks()) == sorted(
        c.chunk_id for c in sample_service.store.chunks())
    assert_consistent(store)


def test_python_is_the_venv() -> None:
    assert CLI.exists(), f"{CLI} missing: install the project in .venv"
    assert sys.version_info >= (3, 11)


def test_a_paragraph_longer_than_a_passage_may_be_is_cut_between_sentences(
        tmp_path: Path) -> None:
    """A PDF page often has no blank line: one 'paragraph' of 120 lines. Its passages stay
    under the longest a lawyer is shown, cut after a line that ends a sentence, every word
    kept; a paragraph under that length is left whole."""
    from ingest.chunking import MAX_PASSAGE_CHARS

    sentence = ("Le prestataire met en œuvre les mesures de sécurité prévues à l'annexe et en "
                "informe le client dans les meilleurs délais.")
    body = "\n".join(f"{sentence[:60]}\n{sentence[60:]}" for _ in range(60))
    short = " ".join([sentence] * 20)
    path = tmp_path / "long.txt"
    path.write_text(f"Article 1 - Sécurité\n{body}\n\nArticle 2 - Durée\n{short}\n",
                    encoding="utf-8")
    parsed, _profile, content_hash = parse_file(path)
    chunks = Chunker().chunks(parsed, content_hash)
    first = [c for c in chunks if c.article == "1"]
    assert len(first) == 2 and all(len(c.text) <= MAX_PASSAGE_CHARS for c in first)
    assert all(c.text.rstrip().endswith(".") for c in first)
    assert " ".join(c.text for c in first).split() == f"Article 1 - Sécurité {body}".split()
    assert len([c for c in chunks if c.article == "2"]) == 1
