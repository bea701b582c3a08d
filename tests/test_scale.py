"""Issue 19 on real components (Chroma on disk, the store, the lexical index): reads by page,
by document or by id; adding, replacing or deleting a contract touches that contract alone;
a data dir of the previous version opens and answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import ingest.pipeline
from contractqa.service import ContractQA
from contractqa.settings import Settings
from ingest.lexical import LexicalIndex
from ingest.store import StoreError
from tests.test_ingest import fast_service

HEADINGS = ("Objet", "Durée", "Prix et paiement", "Responsabilité", "Confidentialité",
            "Résiliation", "Garantie", "Données personnelles", "Sous-traitance", "Assurance",
            "Force majeure", "Loi applicable")


def contract(name: str, articles: int = 6) -> str:
    """A small contract of its own: the client's name and figures differ from one to another."""
    seed = sum(map(ord, name))
    lines = [f"CONTRAT DE PRESTATION DE SERVICES {name.upper()}", ""]
    for i in range(1, articles + 1):
        heading = HEADINGS[(i - 1) % len(HEADINGS)]
        lines += [f"{i}. {heading}",
                  f"La société {name} SAS et le Client conviennent, au titre de l'article {i} "
                  f"({heading.lower()}), d'un délai de {(seed + i) % 90 + 1} jours et d'un "
                  f"montant de {(seed * i) % 9000 + 100} euros hors taxes.", ""]
    return "\n".join(lines)


def write_contracts(folder: Path, names: list[str], articles: int = 6) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"contrat_{name.lower()}.txt"
        path.write_text(contract(name, articles), encoding="utf-8")
        paths.append(path)
    return paths


class Calls:
    """Every get() and query() made on the store's collections, with their arguments."""

    def __init__(self, service: ContractQA, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[tuple[str, str, dict[str, Any]]] = []
        kind = type(service.store.chunks_collection)
        for method in ("get", "query"):
            real = getattr(kind, method)
            monkeypatch.setattr(kind, method, self._wrap(method, real))

    def _wrap(self, method: str, real: Any) -> Any:
        def called(collection: Any, *args: Any, **kwargs: Any) -> Any:
            self.made.append((collection.name.rsplit("-", 1)[-1], method, kwargs))
            return real(collection, *args, **kwargs)

        return called

    def of(self, suffix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(method, kwargs) for name, method, kwargs in self.made if name == suffix]


def test_collections_larger_than_a_page_are_read_whole(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = fast_service(settings)
    paths = write_contracts(tmp_path / "in", [f"Client{i}" for i in range(6)])
    paths += write_contracts(tmp_path / "in", ["Grandcompte"], articles=12)
    assert service.ingest(paths).ok
    store = service.store
    big = "contrat_grandcompte"
    stored = sorted(store.chunks_collection.get(where={"document_id": big}, include=[])["ids"])
    assert len(stored) >= 12
    monkeypatch.setattr("ingest.store._PAGE", 5)
    calls = Calls(service, monkeypatch)
    store.invalidate()
    assert sorted(store.records()) == sorted(p.stem for p in paths)  # 7 records, 2 pages
    assert sorted(c.chunk_id for c in store.document_chunks(big)) == stored
    assert sorted(store.chunks_by_id(reversed(stored))) == stored
    for _method, kwargs in calls.of("chunks") + calls.of("documents"):
        assert kwargs.get("limit") == 5 or len(kwargs.get("ids") or []) <= 5, kwargs


def test_adding_a_contract_reads_no_other_contract(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = fast_service(settings)
    paths = write_contracts(tmp_path / "in", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"])
    assert service.ingest(paths[:-1]).ok
    assert service.ask("Quel est le délai de résiliation chez Alpha ?").citations
    calls = Calls(service, monkeypatch)
    assert service.ingest([paths[-1]]).ok
    service.chain.search.lexical()  # the lexical index and the router take the new contract
    assert "contrat_echo" in service.chain.router.vocabulary
    reads = calls.of("chunks")
    assert reads and all(kwargs.get("where") == {"document_id": "contrat_echo"}
                         for _method, kwargs in reads), reads
    assert calls.of("documents") == []  # the records were patched, not read again
    answer = service.ask("Quel est le montant de la garantie chez Echo ?")
    assert {c.document_id for c in answer.citations} == {"contrat_echo"}


def test_deleting_or_replacing_updates_the_lexical_index_alone(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = fast_service(settings)
    paths = write_contracts(tmp_path / "in", ["Alpha", "Bravo", "Charlie"])
    assert service.ingest(paths).ok
    service.chain.search.lexical()
    writes: list[tuple[list[str], list[str]]] = []
    real = LexicalIndex._write

    def counted(index: LexicalIndex, add: list[str], gone: list[str], *args: Any) -> Any:
        writes.append((list(add), list(gone)))
        return real(index, add, gone, *args)

    monkeypatch.setattr(LexicalIndex, "_write", counted)
    old = service.store.records()["contrat_bravo"].version
    assert service.delete("contrat_bravo")
    lexical = service.chain.search.lexical()
    assert writes == [([], [old])]
    kept = {p.stem for p in service.chain.search.vocabulary_cache.folder.glob("*.json")}
    assert kept == {r.version for r in service.store.records().values()}
    assert not any(c.startswith("contrat_bravo:") for c, _s in lexical.search("délai", 100))
    previous = service.store.records()["contrat_alpha"].version
    paths[0].write_text(contract("Alpha") + "\n13. Audit\nLe Client peut auditer Alpha.\n",
                        encoding="utf-8")
    assert service.ingest([paths[0]]).ok
    service.chain.search.lexical()
    new = service.store.records()["contrat_alpha"].version
    assert writes[1] == ([new], [previous])
    assert {c.split(":")[0] for c, _s in service.chain.search.lexical().search("auditer", 10)
            } == {"contrat_alpha"}


def test_a_data_dir_of_the_previous_version_opens_and_answers(
    settings: Settings, tmp_path: Path
) -> None:
    service = fast_service(settings)
    assert service.ingest(write_contracts(tmp_path / "in", ["Alpha", "Bravo"])).ok
    assert service.ask("Quel est le délai de résiliation chez Bravo ?").citations
    # What the previous version left: no version stamp nor pending markers in Chroma, the
    # lexical index as one JSON file, no vocabularies.
    for suffix in ("meta", "pending"):
        service.store.client.delete_collection(f"{service.store.name}-{suffix}")
    cache = settings.cache_dir
    shutil.rmtree(cache / "lexical")
    shutil.rmtree(cache / "vocabulary")
    (cache / "lexical.json").write_text(json.dumps({"fingerprint": "x", "ids": []}),
                                        encoding="utf-8")
    del service
    reopened = fast_service(settings)
    assert [d.document_id for d in reopened.documents()] == ["contrat_alpha", "contrat_bravo"]
    answer = reopened.ask("Quel est le délai de résiliation chez Bravo ?")
    assert answer.citations and answer.citations[0].document_id == "contrat_bravo"
    assert reopened.ingest(write_contracts(tmp_path / "in", ["Charlie"])).ok
    assert len(reopened.documents()) == 3


def test_an_interrupted_folder_ingest_resumes(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder ingest stopped in the middle of its third file, then run again: the first two
    are skipped by their hash without being read, the third's half-written passages are
    removed, and the index is the one a run without interruption gives."""
    folder = tmp_path / "in"
    write_contracts(folder, ["Alpha", "Bravo", "Charlie", "Delta"])
    service = fast_service(settings)
    store_type = type(service.store)
    real_write = store_type.write_documents

    def stopped(store: Any, writes: list[Any]) -> None:
        (write,) = writes  # WRITE_ROWS = 1: each file is written alone
        record, chunks, vectors = write.record, write.chunks, write.vectors
        if record.document_id == "contrat_charlie":  # the passages written, never committed
            store._mark_pending(record.document_id)
            store.chunks_collection.upsert(ids=[c.chunk_id for c in chunks],
                                           embeddings=[v.tolist() for v in vectors],
                                           documents=[c.text for c in chunks],
                                           metadatas=[store._metadata(c, record.content_hash)
                                                      for c in chunks])
            raise KeyboardInterrupt
        real_write(store, writes)

    with monkeypatch.context() as patch:
        patch.setattr(ingest.pipeline, "WRITE_ROWS", 1)
        patch.setattr(store_type, "write_documents", stopped)
        with pytest.raises(KeyboardInterrupt):
            service.ingest([folder])
    assert sorted(service.store.records()) == ["contrat_alpha", "contrat_bravo"]

    loaded: list[str] = []
    real_parse = ingest.pipeline.parse_file

    def parse(path: Path, max_mb: float = 20.0) -> Any:
        loaded.append(path.stem)
        return real_parse(path, max_mb)

    monkeypatch.setattr(ingest.pipeline, "parse_file", parse)
    events: list[str] = []
    report = fast_service(settings).ingest([folder], progress=lambda e: events.append(e.label))
    assert [r.status for r in report.results] == ["unchanged", "unchanged", "indexed", "indexed"]
    assert loaded == ["contrat_charlie", "contrat_delta"]
    assert any("fichier 4 sur 4" in label for label in events)

    clean = fast_service(Settings(data_dir=tmp_path / "clean", _env_file=None))  # type: ignore[call-arg]
    assert clean.ingest([folder]).ok
    store = fast_service(settings).store
    assert sorted(store.chunks_collection.get(include=[])["ids"]) == sorted(
        clean.store.chunks_collection.get(include=[])["ids"])
    assert {k: r.chunks for k, r in store.records().items()} == {
        k: r.chunks for k, r in clean.store.records().items()}
    assert store.pending_collection.count() == 0


def test_a_store_failure_reaches_the_user_in_french(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    from chromadb.errors import InternalError

    from contractqa import cli

    service = fast_service(settings)
    assert service.ingest(write_contracts(tmp_path / "in", ["Alpha"])).ok
    kind = type(service.store.chunks_collection)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise InternalError("too many SQL variables")

    monkeypatch.setattr(kind, "get", broken)
    service.store.invalidate()
    with pytest.raises(StoreError) as failure:
        service.documents()
    message = str(failure.value)
    assert str(settings.chroma_dir) in message and "contractqa ingest" in message
    monkeypatch.setenv("CONTRACTQA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr(cli, "entry_points", lambda **kwargs: [])  # no eval plugin needed
    assert cli.main(["documents"]) == 1
    err = capsys.readouterr().err
    assert str(settings.chroma_dir) in err and "Traceback" not in err


def test_a_second_server_catches_up_without_reindexing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two services on one data dir: the second sees the first's writes by the version stamp
    and takes the lexical index as the first left it (no passage read, no index write)."""
    first, second = fast_service(settings), fast_service(settings)
    paths = write_contracts(tmp_path / "in", ["Alpha", "Bravo"])
    assert second.documents() == []
    assert first.ingest(paths).ok
    writes: list[object] = []
    monkeypatch.setattr(LexicalIndex, "_write", lambda *args: writes.append(args))
    monkeypatch.setattr(second.store, "document_chunks", lambda document_id: pytest.fail(
        f"{document_id} read again"))
    answer = second.ask("Quel est le délai de résiliation chez Bravo ?")
    assert {c.document_id for c in answer.citations} == {"contrat_bravo"}
    assert writes == []
    monkeypatch.undo()
    assert first.delete("contrat_bravo")
    assert [d.document_id for d in second.documents()] == ["contrat_alpha"]
    cited = {c.document_id for c in second.ask("Quel est le délai chez Bravo ?").citations}
    assert "contrat_bravo" not in cited


def test_a_defined_term_of_stopwords_is_still_found(settings: Settings, tmp_path: Path) -> None:
    """"Contrat" is a stopword of the lexical index: its definition is still found."""
    service = fast_service(settings)
    path = tmp_path / "in" / "contrat_zeta.txt"
    path.parent.mkdir()
    path.write_text(contract("Zeta").replace(
        "1. Objet\n", "1. Objet\nContrat : désigne le présent accord et ses annexes.\n"),
        encoding="utf-8")
    assert service.ingest([path]).ok
    found = service.chain.search.containing("Contrat")
    assert any("désigne le présent accord" in c.text for c in found)
    answer = service.ask("Que signifie « Contrat » ?")
    assert "désigne le présent accord" in answer.answer


def _router_state(router: Any) -> dict[str, Any]:
    return {"names": [(v, sorted(d)) for _p, v, d in router.names],
            "distinctive": [(v, sorted(d)) for _p, v, d in router.distinctive],
            "titles": [(v, sorted(d)) for _p, v, d in router.titles],
            "cased": sorted(v for _p, v, _d in router.distinctive if router.cased(v)),
            "vocabulary": {d: sorted(router.vocabulary.get(d)) for d in router.records}}


def test_the_router_follows_one_contract_at_a_time(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a contract reads its vocabulary alone, and it becomes routable; deleting one
    stops it being routable; the router then equals one built from scratch."""
    from retrieval.routing import Router, routing_vocabulary

    service = fast_service(settings)
    names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]
    paths = write_contracts(tmp_path / "in", names)
    assert service.ingest(paths[:-1]).ok
    question = "Quel est le délai de résiliation chez Foxtrot ?"
    assert service.chain.router.route(question).documents == []
    read: list[str] = []
    search = service.chain.search
    real = type(search).vocabulary

    def counted(self: Any, record: Any) -> Any:
        read.append(record.document_id)
        return real(self, record)

    monkeypatch.setattr(type(search), "vocabulary", counted)
    assert service.ingest([paths[-1]]).ok
    assert service.chain.router.route(question).documents == ["contrat_foxtrot"]
    assert read == ["contrat_foxtrot"]
    assert service.delete("contrat_bravo")
    router = service.chain.router
    assert router.route("Quel est le délai de résiliation chez Bravo ?").documents == []
    assert "contrat_bravo" not in router.vocabulary
    assert read == ["contrat_foxtrot"]
    records = service.store.documents()
    scratch = Router(records, routing_vocabulary(search.vocabularies(), records))
    assert _router_state(router) == _router_state(scratch)


def test_a_fresh_process_routes_without_reading_any_vocabulary(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's postings are on disk: a process opening a data dir whose postings are up
    to date reads no contract's vocabulary, and keeps in memory at most `cache_postings`
    document ids of them."""
    names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]
    assert fast_service(settings).ingest(write_contracts(tmp_path / "in", names)).ok
    first = fast_service(settings)
    assert first.chain.router.route("Le délai chez Bravo ?").documents == ["contrat_bravo"]
    fresh = fast_service(settings.model_copy(update={"cache_postings": 1000}))
    search = type(fresh.chain.search)
    monkeypatch.setattr(search, "vocabulary", lambda self, record: pytest.fail(
        f"the vocabulary of {record.document_id} read"))
    answer = fresh.ask("Quel est le délai de résiliation chez Charlie ?")
    assert {c.document_id for c in answer.citations} == {"contrat_charlie"}
    fresh.ask("Quel est le montant de la garantie ?")  # no name: its words' lists are read
    postings = fresh.chain.routers.postings
    assert postings.cached == 1000 and 0 < postings.kept <= 1000
    assert sorted(postings.documents) == sorted(f"contrat_{n.lower()}" for n in names)


def test_the_time_left_of_an_ingest_is_told_once_it_can_be() -> None:
    from ingest.progress import Eta

    now = [100.0]
    eta = Eta(clock=lambda: now[0])
    now[0] += 5
    assert eta.label(0.5) == ""  # too early to tell
    now[0] += 25  # 30 s for 2 % of the folder
    assert eta.label(0.02) == ""
    now[0] += 30  # 60 s for 10 %: 540 s left
    assert eta.left(0.10) == pytest.approx(540)
    assert eta.label(0.10) == "reste environ 9 min"
    assert eta.label(0.99) == "reste moins d'une minute"
    now[0] += 3540  # an hour for 30 %: 8,400 s left
    assert eta.label(0.30) == "reste environ 2 h 20"


def test_consecutive_files_are_written_together(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's small contracts go to Chroma in a few calls, not a few per contract (each
    call costs about 15 rows); an interruption in the middle of a batch commits none of its
    contracts, and the folder ingested again gives the index an uninterrupted run gives. The
    progress reported never goes back though files are written after the next are read."""
    folder = tmp_path / "in"
    names = [f"Client{i}" for i in range(8)]
    write_contracts(folder, names)
    service = fast_service(settings)
    upserts: list[int] = []
    kind = type(service.store.chunks_collection)
    real_upsert = kind.upsert

    def counted(collection: Any, *args: Any, **kwargs: Any) -> Any:
        if collection.name == service.store.chunks_collection.name:
            upserts.append(len(kwargs["ids"]))
        return real_upsert(collection, *args, **kwargs)

    monkeypatch.setattr(kind, "upsert", counted)
    fractions: list[float] = []
    report = service.ingest([folder], progress=lambda e: fractions.append(e.fraction))
    assert report.ok and [r.status for r in report.results] == ["indexed"] * 8
    assert sum(upserts) == sum(r.chunks for r in report.results) and len(upserts) < 8, upserts
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(r.seconds > 0 for r in report.results)

    # Interrupted while writing the batch: none of it committed, nothing visible.
    again = tmp_path / "again"
    write_contracts(again, names)
    other = fast_service(Settings(data_dir=tmp_path / "other", _env_file=None))  # type: ignore[call-arg]
    store_type = type(other.store)

    def cut(store: Any, writes: list[Any]) -> None:
        first = writes[0]
        store._mark_pending(*[w.record.document_id for w in writes])
        store.chunks_collection.upsert(
            ids=[c.chunk_id for c in first.chunks], embeddings=[v.tolist() for v in first.vectors],
            documents=[c.text for c in first.chunks],
            metadatas=[store._metadata(c, first.record.content_hash) for c in first.chunks])
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(store_type, "write_documents", cut)
        with pytest.raises(KeyboardInterrupt):
            other.ingest([again])
    other.store.invalidate()
    assert other.store.records() == {} and other.store.chunks() == []
    resumed = fast_service(Settings(data_dir=tmp_path / "other", _env_file=None))  # type: ignore[call-arg]
    assert [r.status for r in resumed.ingest([again]).results] == ["indexed"] * 8
    assert sorted(resumed.store.chunks_collection.get(include=[])["ids"]) == sorted(
        service.store.chunks_collection.get(include=[])["ids"])
    assert resumed.store.pending_collection.count() == 0



def test_a_search_within_one_contract_is_scored_on_its_vectors(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search restricted to a few contracts computes the cosines itself, on the contracts'
    vectors read once per version (no filtered Chroma query, whose cost grows with the
    collection): the same passages and cosines as that query, and a new version's vectors
    after a change."""
    service = fast_service(settings)
    paths = write_contracts(tmp_path / "in", ["Alpha", "Bravo", "Charlie"], articles=12)
    assert service.ingest(paths).ok
    store = service.store
    records = store.records()
    vector = service.embedder.embed_query("délai de résiliation chez Bravo")
    scope = ["contrat_bravo", "contrat_charlie"]
    hashes = {d: records[d].content_hash for d in scope}
    calls = Calls(service, monkeypatch)
    exact = store.dense_search(vector, 6, scope)
    assert calls.of("chunks") and not [m for m, _k in calls.of("chunks") if m == "query"]
    queried, _dropped = store._query(vector, 6, {"doc_hash": {"$in": list(hashes.values())}},
                                     hashes)
    assert [c.chunk_id for c, _s in exact] == [c.chunk_id for c, _s in queried]
    assert [s for _c, s in exact] == pytest.approx([s for _c, s in queried], abs=1e-5)
    reads = len(calls.of("chunks"))
    store.dense_search(vector, 6, scope)  # vectors and passages are kept: no read at all
    assert len(calls.of("chunks")) == reads
    paths[1].write_text(contract("Bravo", 12) + "\n13. Audit\nBravo peut auditer.\n",
                        encoding="utf-8")
    assert service.ingest([paths[1]]).ok
    found = store.dense_search(service.embedder.embed_query("Bravo peut auditer"), 30, scope)
    assert any("auditer" in c.text for c, _s in found)
    assert {c.document_id for c, _s in found} == set(scope)


def test_a_comparison_of_every_contract_is_bounded_and_says_so(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """"… dans tous les contrats" in a base of thousands compares at most Comparison.LIMIT
    contracts, the closest to the question, and its answer says how many of how many."""
    from retrieval.planner import Comparison

    service = fast_service(settings)
    assert service.ingest(write_contracts(tmp_path / "in", [f"Client{i}" for i in range(6)])).ok
    question = "Quel est le délai de résiliation dans tous les contrats ?"

    def rows(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("| ")
                and "Contrat |" not in line]

    every = service.ask(question)
    assert len(rows(every.answer)) == 6 and "sur les" not in every.answer
    monkeypatch.setattr(Comparison, "LIMIT", 3)
    bounded = service.ask(question)
    assert len(rows(bounded.answer)) == 3
    assert len({c.document_id for c in bounded.citations}) == 3
    assert "Comparaison des 3 contrats les plus proches de la question, sur les 6 indexés" in (
        bounded.answer)
