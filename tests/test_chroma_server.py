"""Ingest and ask through a real `chroma run` server on the loopback interface."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings
from tests.servers import free_port, http_ok, running

ROOT = Path(__file__).resolve().parents[1]
CHROMA = ROOT / ".venv" / "bin" / "chroma"
KIMPLE = ROOT / "data" / "contracts" / "004_f17bc88fae2ffff9.txt"
CT_DPA = ROOT / "data" / "extra-contracts" / "cloudtemple_dpa.txt"

pytestmark = pytest.mark.integration


def answers(url: str) -> bool:
    return any(http_ok(url + path) for path in ("/api/v2/heartbeat", "/api/v1/heartbeat"))


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    assert CHROMA.exists(), f"{CHROMA} missing: chromadb's CLI is needed for this test"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(CHROMA), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
               "--port", str(port)]
    with running(command, tmp_path / "chroma.log", lambda: answers(url), what="chroma run",
                 timeout=60):
        yield url


def test_ingest_and_ask_through_chroma_server(
    chroma_server: str, tmp_path: Path, corpus_dir: Path, sample_service: ContractQA
) -> None:
    data = tmp_path / "data"
    # Reuse the session corpus's embedding cache (exact: keyed by model and text).
    shutil.copytree(corpus_dir / "cache", data / "cache")
    settings = Settings(data_dir=data, chroma_url=chroma_server,  # type: ignore[call-arg]
                        _env_file=None)
    service = ContractQA(settings)
    report = service.ingest([KIMPLE, CT_DPA])
    assert report.ok, [r.message for r in report.results]
    assert [r.status for r in report.results] == ["indexed", "indexed"]
    assert not (data / "chroma").exists(), "the server, not a local store, must be used"
    count = service.store.count_chunks()
    expected = {k: r.chunks for k, r in sample_service.store.records().items()
                if k in (KIMPLE.stem, CT_DPA.stem)}
    assert {k: r.chunks for k, r in service.store.records().items()} == expected
    assert count == sum(expected.values())

    report = service.ingest([KIMPLE, CT_DPA])
    assert [r.status for r in report.results] == ["unchanged", "unchanged"]
    assert service.store.count_chunks() == count

    # A second client of the same server sees the same documents.
    other = ContractQA(settings)
    assert [r.document_id for r in other.documents()] == sorted([KIMPLE.stem, CT_DPA.stem])

    answer = service.ask("Quelle est la loi applicable et la juridiction compétente ?",
                         documents=[CT_DPA.stem])
    assert not answer.abstained, answer.answer
    assert answer.citations
    assert all(c.document_id == CT_DPA.stem for c in answer.citations)
    assert any(c.article == "16" for c in answer.citations), [
        (c.article, c.heading) for c in answer.citations]


def test_two_services_on_one_chroma_server_see_each_others_changes(
    chroma_server: str, tmp_path: Path, corpus_dir: Path
) -> None:
    services = []
    for name in ("a", "b"):
        data = tmp_path / name
        shutil.copytree(corpus_dir / "cache", data / "cache")
        shutil.rmtree(data / "cache" / "lexical", ignore_errors=True)
        settings = Settings(data_dir=data, chroma_url=chroma_server,  # type: ignore[call-arg]
                            _env_file=None)
        services.append(ContractQA(settings))
    first, second = services
    assert first.ingest([KIMPLE, CT_DPA]).ok
    answer = second.ask("Quelle est la loi applicable ?", documents=[CT_DPA.stem])
    assert answer.citations and {c.document_id for c in answer.citations} == {CT_DPA.stem}
    assert first.delete(CT_DPA.stem)
    # The other server notices (record fingerprint) before answering: never quotes it again.
    assert [d.document_id for d in second.documents()] == [KIMPLE.stem]
    cited = {c.document_id for c in second.ask("Quelle est la loi applicable ?").citations}
    assert CT_DPA.stem not in cited


def test_the_scale_bench_runs_against_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    """`contractqa bench scale --chroma-url` (issue 19's 10,000 contracts through a Chroma
    server, at a size CI affords): each data dir its own collection on the server, nothing
    of the index in the data dirs, and a rerun measures the same sizes (files on the server
    are skipped by their hash)."""
    from bench.scale import ROUTED, UNROUTED, run

    said: list[str] = []
    result = run([12], tmp_path / "scale", said.append, chroma_server)
    assert result["chroma"] == f"server {chroma_server}"
    base, grown = result["rows"]
    assert (base["contracts"], grown["contracts"]) == (10, 12)
    for row in (base, grown):
        assert row["warm_questions_routed"] == row["routed_questions"] == ROUTED, row
        assert row["unrouted_p95_ms"] >= row["unrouted_p50_ms"] > 0, row
        assert row["new_contract_routed"] and not row["deleted_contract_still_cited"], row
        assert row["disk_chroma_mb"] is None  # the index is the server's
        assert row["ingest_peak_rss_mb"] > 0
        # A second app server on the same collection, with its own data dir: it answers
        # from what the first indexes, and the first stops citing what it deletes.
        second = row["second_server"]
        assert second["second_questions_routed"] == ROUTED, second
        assert second["first_adds_second_cites_at_next_question"], second
        assert second["second_deletes_first_stops_citing_at_next_question"], second
        # The plain LangChain + Chroma pipeline on the same contracts, same server.
        plain = row["plain"]
        assert plain["contracts"] == row["contracts"] and plain["passages"] > 0, plain
        assert plain["routed_questions"] == ROUTED and UNROUTED > 0
    assert not (tmp_path / "scale" / "grown" / "chroma").exists()
    assert "ratio_to_10" in grown
    again = run([12], tmp_path / "scale", said.append, chroma_server)
    assert [r["contracts"] for r in again["rows"]] == [10, 12]


def test_a_server_reads_only_the_records_another_changed(
    chroma_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores on one Chroma server, each with its own data dir: what one writes (adds,
    replaces, deletes, classes in a matter), the other reads back by id from the change log
    kept in Chroma, never every record again (3.1 s at 10,000 contracts); a write by a
    writer that keeps no log (a previous version) makes it read every record."""
    from tests.test_ingest import fast_service
    from tests.test_scale import contract, write_contracts

    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp_path / name, chroma_url=chroma_server,  # type: ignore[call-arg]
                        _env_file=None)

    first, second = fast_service(settings("a")), fast_service(settings("b"))
    paths = write_contracts(tmp_path / "in", ["Alpha", "Bravo", "Charlie", "Delta"])
    assert first.ingest(paths[:3]).ok
    assert [d.document_id for d in second.documents()] == [p.stem for p in paths[:3]]
    reads: list[dict[str, object]] = []
    kind = type(second.store.documents_collection)
    real_get = kind.get

    def counted(collection: object, *args: object, **kwargs: object) -> object:
        if getattr(collection, "name", "") == second.store.documents_collection.name:
            reads.append(kwargs)
        return real_get(collection, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kind, "get", counted)
    paths[1].write_text(contract("Bravo") + "\n7. Audit\nBravo peut auditer.\n", encoding="utf-8")
    assert first.ingest([paths[1], paths[3]]).ok
    assert first.delete("contrat_charlie")
    first.set_matters("contrat_alpha", ["dossier-a"])
    assert {d.document_id: d.matters for d in second.documents()} == {
        "contrat_alpha": ["dossier-a"], "contrat_bravo": [], "contrat_delta": []}
    assert second.store.records()["contrat_bravo"].content_hash == (
        first.store.records()["contrat_bravo"].content_hash)
    assert reads and all(r.get("ids") for r in reads), reads  # by id: never every record
    answer = second.ask("Quel est le délai de résiliation chez Delta ?")
    assert {c.document_id for c in answer.citations} == {"contrat_delta"}

    # A write without a log row (the previous version's writers): every record read again.
    first.store.meta_collection.upsert(ids=["version"], documents=["written-elsewhere"],
                                       embeddings=[[0.0]])  # type: ignore[arg-type]
    reads.clear()
    assert len(second.documents()) == 3
    assert any(not r.get("ids") for r in reads), reads
