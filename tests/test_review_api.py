"""The review endpoints of the REST API over the ingested sample contracts (TestClient)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from contractqa.api import create_api
from contractqa.review import ABSENT
from contractqa.service import ContractQA
from contractqa.settings import Settings

pytestmark = pytest.mark.integration

ASK = {"Authorization": "Bearer ask-token-123"}
CRAFT = "000_863f8398c9eb4693"
KIMPLE = "004_f17bc88fae2ffff9"


@pytest.fixture
def client(sample_service: ContractQA, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, api_tokens="alice:ask-token-123",  # type: ignore[call-arg]
                        rate_limit_per_minute=1000, _env_file=None)
    with TestClient(create_api(sample_service, settings)) as c:
        yield c


def events_of(text: str) -> list[tuple[str, Any]]:
    found = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        name = next(ln[6:].strip() for ln in lines if ln.startswith("event:"))
        data = "\n".join(ln[5:].lstrip() for ln in lines if ln.startswith("data:"))
        found.append((name, json.loads(data)))
    return found


def test_checklists_listed_and_saved(client: TestClient) -> None:
    r = client.get("/api/checklists", headers=ASK)
    assert r.status_code == 200
    assert {"due-diligence", "dpa-rgpd", "saas"} <= {c["id"] for c in r.json()}
    r = client.post("/api/checklists", headers=ASK,
                    json={"title": "Ma liste API", "questions": ["Quel est le préavis ?"]})
    assert r.status_code == 200 and r.json()["id"] == "ma-liste-api"
    assert "ma-liste-api" in {c["id"] for c in client.get("/api/checklists", headers=ASK).json()}
    r = client.post("/api/checklists", headers=ASK, json={"title": "SaaS", "questions": ["x ?"]})
    assert r.status_code == 422 and "liste fournie" in r.json()["error"]["message"]


def test_review_streams_progress_then_the_table(client: TestClient) -> None:
    body = {"checklist": "due-diligence", "documents": [CRAFT, KIMPLE],
            "questions": ["Quel est le délai de paiement des factures ?"]}
    r = client.post("/api/reviews", json=body, headers=ASK)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = events_of(r.text)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "review"
    assert events[0][1]["total"] == 32
    progress = [data for name, data in events if name == "progress"]
    assert [p["done"] for p in progress] == list(range(1, 33))
    review = events[-1][1]
    assert len(review["cells"]) == 32 and review["questions"][-1]["id"] == "perso-1"
    for cell in review["cells"]:
        assert cell["source"] is None or cell["source"]["document_id"] == cell["document_id"]
    assert next(c for c in review["cells"] if c["document_id"] == KIMPLE
                and c["question_id"] == "assurance")["text"] == ABSENT

    got = client.get(f"/api/reviews/{review['id']}", headers=ASK)
    assert got.status_code == 200 and got.json()["cells"] == review["cells"]

    xlsx = client.get(review["exports"]["xlsx"], headers=ASK)
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book["Revue"].max_row == 3 and book["Revue"].max_column == 17
    text = client.get(review["exports"]["csv"], headers=ASK).content.decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text), delimiter=";"))[:2] == ["Contrat", "Durée"]
    md = client.get(review["exports"]["md"], headers=ASK)
    assert md.headers["content-type"].startswith("text/markdown")


def test_review_errors(client: TestClient) -> None:
    r = client.post("/api/reviews", json={"checklist": "due-diligence"})
    assert r.status_code == 401
    r = client.post("/api/reviews", json={"checklist": "inconnue"}, headers=ASK)
    assert r.status_code == 404 and r.json()["error"]["code"] == "checklist_not_found"
    r = client.post("/api/reviews", json={"checklist": "saas", "documents": ["x"]}, headers=ASK)
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
    r = client.post("/api/reviews", json={}, headers=ASK)
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_questions"
    r = client.get("/api/reviews/000000000000", headers=ASK)
    assert r.status_code == 404 and "POST /api/reviews" in r.json()["error"]["message"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/reviews", "/api/reviews/{review_id}", "/api/checklists"} <= set(paths)
