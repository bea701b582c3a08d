"""Document identity: two different files never share an id silently (real store, embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contractqa.api import create_api
from contractqa.service import ContractQA
from tests.test_api import ADMIN, ASK, make_settings
from tests.test_ingest import SMALL, run_cli

OTHER = SMALL.replace("Testia", "Zorblat").replace("douze mois", "trente-six mois")
CHANGED = SMALL.replace("trente jours", "quarante-cinq jours")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_same_name_from_two_folders_gets_two_ids(tmp_path: Path) -> None:
    service = ContractQA(make_settings(tmp_path / "data"))
    first = write(tmp_path / "a" / "contrat.txt", SMALL)
    second = write(tmp_path / "b" / "contrat.txt", OTHER)
    (one,) = service.ingest([first]).results
    assert (one.status, one.document_id, one.note) == ("indexed", "contrat", "nouveau document")
    (two,) = service.ingest([second]).results
    assert two.status == "indexed" and two.document_id.startswith("contrat-"), two
    assert "désigne déjà un autre fichier" in two.note and str(first.resolve()) in two.note
    assert sorted(d.document_id for d in service.documents()) == ["contrat", two.document_id]

    # Each question is answered from its own contract.
    answer = service.ask("Quelle est la durée du contrat ?", documents=[two.document_id])
    assert "trente-six mois" in " ".join(c.excerpt for c in answer.citations)
    answer = service.ask("Quelle est la durée du contrat ?", documents=["contrat"])
    assert "douze mois" in " ".join(c.excerpt for c in answer.citations)

    # Re-ingesting either file finds its own id again; a change replaces its own version only.
    assert [r.status for r in service.ingest([second, first]).results] == ["unchanged"] * 2
    write(second, OTHER.replace("trente jours", "soixante jours"))
    (again,) = service.ingest([second]).results
    assert (again.status, again.document_id) == ("replaced", two.document_id)
    assert again.note.startswith("remplacé")
    assert service.store.records()["contrat"].content_hash == one_hash(service, "contrat")


def one_hash(service: ContractQA, document_id: str) -> str:
    return service.store.records()[document_id].content_hash


@pytest.mark.integration
def test_cli_says_new_or_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = write(tmp_path / "a" / "contrat.txt", SMALL)
    second = write(tmp_path / "b" / "contrat.txt", OTHER)
    done = run_cli(["ingest", str(first), str(second)], data, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("OK  contrat: nouveau document"), lines
    assert lines[1].startswith("OK  contrat-") and "désigne déjà" in lines[1], lines
    write(first, CHANGED)
    done = run_cli(["ingest", str(first)], data, tmp_path)
    assert done.stdout.startswith("OK  contrat: remplacé"), done.stdout


def test_upload_of_the_same_name_replaces_its_own_version(tmp_path: Path) -> None:
    service = ContractQA(make_settings(tmp_path / "data"))
    outside = write(tmp_path / "ailleurs" / "contrat.txt", OTHER)
    assert service.ingest([outside]).ok
    with TestClient(create_api(service, make_settings(tmp_path / "data"))) as client:
        first = client.post("/api/documents?wait=true", headers=ADMIN,
                            files=[("files", ("contrat.txt", SMALL.encode(), "text/plain"))])
        (result,) = first.json()["results"]
        assert result["status"] == "indexed" and result["document_id"].startswith("contrat-")
        assert "désigne déjà" in result["note"]
        second = client.post("/api/documents?wait=true", headers=ADMIN,
                             files=[("files", ("contrat.txt", CHANGED.encode(), "text/plain"))])
        (replaced,) = second.json()["results"]
        assert replaced["status"] == "replaced", replaced
        assert replaced["document_id"] == result["document_id"]
        assert replaced["note"].startswith("remplacé")
        listed = client.get("/api/documents", headers=ASK).json()
        assert sorted(d["document_id"] for d in listed) == sorted(["contrat",
                                                                  result["document_id"]])
        r = client.post("/api/ask", headers=ASK, json={
            "question": "Quel est le délai de paiement ?", "documents": [result["document_id"]]})
        assert "quarante-cinq jours" in " ".join(c["excerpt"] for c in r.json()["citations"])
        assert client.delete(f"/api/documents/{result['document_id']}",
                             headers=ADMIN).status_code == 200
    assert not (tmp_path / "data" / "uploads" / "contrat.txt").exists()
    assert outside.exists()
