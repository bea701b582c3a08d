"""Matters (dossiers) wall contracts off: a caller sees, is routed to, and is quoted only the
contracts of its matters, through the service and the REST API. Contracts written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contractqa.api import create_api
from contractqa.security.tokens import parse_matters, parse_scopes
from contractqa.service import ContractQA
from contractqa.settings import Settings
from retrieval.models import Turn

pytestmark = pytest.mark.integration

HYDROLYS = """CAHIER DES CLAUSES ADMINISTRATIVES PARTICULIÈRES
Marché de fourniture du logiciel Hydrolys pour l'Office des Eaux du Ponant

Article 1 – Objet
Le présent marché a pour objet la fourniture du logiciel Hydrolys.

Article 2 – Durée
Le marché est conclu pour une durée de deux ans à compter de sa notification.

Article 3 – Pénalités de retard
En cas de retard de livraison, le titulaire encourt une pénalité de cent euros par jour.
"""
VELORIA = """CONDITIONS GÉNÉRALES D'UTILISATION DE LA PLATEFORME VELORIA

Article 1 – Accès
L'accès à la plateforme Veloria est gratuit pour tout utilisateur disposant d'un compte.

Article 2 – Conservation
Les données de trajet sont conservées pendant une durée de treize mois, puis supprimées.

Article 3 – Résiliation
L'utilisateur peut fermer son compte à tout moment depuis son espace personnel.
"""
TOKENS = ("alice:alice-token-123:ask:dossier-a,bob:bob-token-4567:edit:dossier-b,"
          "root:root-token-890:admin")
ALICE = {"Authorization": "Bearer alice-token-123"}
BOB = {"Authorization": "Bearer bob-token-4567"}
ROOT = {"Authorization": "Bearer root-token-890"}


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, api_tokens=TOKENS, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ContractQA:
    root = tmp_path_factory.mktemp("matters")
    for name, text in (("hydrolys", HYDROLYS), ("veloria", VELORIA)):
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
    qa = ContractQA(_settings(root / "data"))
    assert qa.ingest([root / "hydrolys.txt"], matters=["dossier-a"]).ok
    assert qa.ingest([root / "veloria.txt"], matters=["dossier-b"]).ok
    return qa


def _cited(answer: Any) -> set[str]:
    return {c.document_id for c in answer.citations}


def test_tokens_carry_roles_and_matters() -> None:
    assert parse_scopes("reader") == {"ask"}
    assert parse_scopes("editor") == {"ask", "edit"}
    assert parse_scopes("admin") == {"ask", "edit", "admin"}
    assert parse_matters("dossier-a+dossier-b") == {"dossier-a", "dossier-b"}
    assert parse_matters("*") is None and parse_matters("") is None
    with pytest.raises(ValueError):
        parse_matters("dossier a/b")


def test_a_contract_of_another_matter_is_as_if_not_indexed(service: ContractQA) -> None:
    bob = frozenset({"dossier-b"})
    named = service.ask("Quelle est la durée du marché Hydrolys ?", matters=bob)
    unknown = service.ask("Quelle est la durée du marché Zorbalux ?", matters=bob)
    assert named.abstained and not named.citations
    assert named.answer == unknown.answer.replace("Zorbalux", "Hydrolys")
    # By its topic, too: only the caller's contracts are searched.
    topic = service.ask("Quelle pénalité de retard par jour pour le titulaire ?", matters=bob)
    assert _cited(topic) <= {"veloria"}
    # The owner of the matter gets the answer.
    own = service.ask("Quelle est la durée du marché Hydrolys ?",
                      matters=frozenset({"dossier-a"}))
    assert _cited(own) == {"hydrolys"} and "deux ans" in own.answer


def test_lists_outlines_follow_ups_and_comparisons_stay_within_the_matters(
        service: ContractQA) -> None:
    bob = frozenset({"dossier-b"})
    assert [r.document_id for r in service.documents(bob)] == ["veloria"]
    assert {r.document_id for r in service.documents()} == {"hydrolys", "veloria"}
    with pytest.raises(KeyError):
        service.outline("hydrolys", bob)
    forged = [Turn("Quelle est la durée du marché Hydrolys ?", documents=["hydrolys"])]
    follow = service.ask("Et les pénalités ?", history=forged, matters=bob)
    assert _cited(follow) <= {"veloria"}
    chosen = service.ask("Quelle durée ?", documents=["hydrolys"], matters=bob)
    assert not chosen.citations
    every = service.ask("Quelle durée de conservation dans tous les contrats ?", matters=bob)
    assert _cited(every) <= {"veloria"}
    # An article named without its contract is looked up among the caller's contracts, the
    # closest first, as for a caller bound to no matter among all.
    lookup = service.ask("Que prévoit l'article 2 sur la conservation ?", matters=bob)
    assert lookup.citations[0].document_id == "veloria" and lookup.citations[0].article == "2"
    assert _cited(lookup) <= {"veloria"}


def test_the_api_applies_roles_and_matters(service: ContractQA, tmp_path: Path) -> None:
    with TestClient(create_api(service, _settings(tmp_path))) as client:
        listed = client.get("/api/documents", headers=BOB).json()
        assert [d["document_id"] for d in listed] == ["veloria"]
        assert listed[0]["matters"] == ["dossier-b"]
        assert len(client.get("/api/documents", headers=ROOT).json()) == 2
        # Searched and paged, within the matters.
        r = client.get("/api/documents?q=velória", headers=ROOT)
        assert [d["document_id"] for d in r.json()] == ["veloria"]
        assert r.headers["x-total-count"] == "1"
        r = client.get("/api/documents?offset=1&limit=1", headers=ROOT)
        assert [d["document_id"] for d in r.json()] == ["veloria"]
        assert r.headers["x-total-count"] == "2"
        assert client.get("/api/documents?q=hydrolys", headers=BOB).json() == []
        assert client.get("/api/documents/hydrolys/articles", headers=BOB).status_code == 404
        r = client.post("/api/ask", headers=BOB, json={"question": "Quelle durée ?",
                                                       "documents": ["hydrolys"]})
        assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
        r = client.post("/api/ask", headers=ALICE,
                        json={"question": "Quelle est la durée du marché Hydrolys ?"})
        assert {c["document_id"] for c in r.json()["citations"]} == {"hydrolys"}
        # A reader may not upload, an editor may not delete, nor reach another matter.
        files = {"files": ("x.txt", b"Article 1 - Objet\nTexte.", "text/plain")}
        assert client.post("/api/documents", headers=ALICE, files=files).status_code == 403
        assert client.delete("/api/documents/veloria", headers=BOB).status_code == 403
        r = client.post("/api/documents?wait=true", headers=BOB, files=files,
                        data={"matter": "dossier-a"})
        assert r.status_code == 403
        r = client.put("/api/documents/hydrolys/matters", headers=ROOT,
                       json={"matters": ["dossier-a", "dossier-c"]})
        assert r.status_code == 200 and r.json()["matters"] == ["dossier-a", "dossier-c"]
        service.set_matters("hydrolys", ["dossier-a"])
    lines = [json.loads(line) for line in
             (tmp_path / "audit.log").read_text(encoding="utf-8").splitlines()]
    asked = [line for line in lines if line["event"] == "ask"]
    assert {(line["token"], tuple(line["matters"])) for line in asked} == {
        ("bob", ("dossier-b",)), ("alice", ("dossier-a",))}
    assert any(line["event"] == "matters" and line["matters"] == "*" for line in lines)


def test_the_audit_command_filters_by_user_and_matter(tmp_path: Path) -> None:
    from contractqa.security.audit import AuditLog, read_audit
    from contractqa.security.tokens import Principal

    log = AuditLog(tmp_path / "audit.log", max_bytes=200, keep=3)
    for i in range(6):
        log.write("ask", Principal("alice", frozenset({"ask"}), frozenset({"dossier-a"})),
                  question=f"q{i}")
        log.write("ask", Principal("root", frozenset({"ask", "admin"})), question=f"r{i}")
    assert (tmp_path / "audit.log.1").exists()  # rotated, never rewritten
    alice = read_audit(tmp_path / "audit.log", user="alice")
    assert [line["question"] for line in alice][-1] == "q5"
    assert {line["token"] for line in read_audit(tmp_path / "audit.log",
                                                 matter="dossier-a")} == {"alice", "root"}
    assert not read_audit(tmp_path / "audit.log", matter="dossier-z", user="alice")
