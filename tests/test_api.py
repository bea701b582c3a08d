"""REST API over a real ContractQA in a temp data dir: every endpoint, auth, limits, CORS."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from contractqa.api import create_api
from contractqa.security import RateLimiter, TokenStore, parse_scopes
from contractqa.service import ContractQA
from contractqa.settings import Settings
from retrieval.chain import READING, AnswerEvent
from tests.helpers_docs import HOSTILE_CONTRACT

ROOT = Path(__file__).resolve().parents[1]
CRAFT = ROOT / "data" / "contracts" / "000_863f8398c9eb4693.txt"
GOOD_ORIGIN = "http://intranet.example"
ASK = {"Authorization": "Bearer ask-token-123"}
ADMIN = {"Authorization": "Bearer admin-token-456"}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "api_tokens": "alice:ask-token-123,boss:admin-token-456:admin",
        "allowed_origins": GOOD_ORIGIN,
        "max_upload_mb": 0.25,
        "api_max_body_kb": 16,
        "rate_limit_per_minute": 1000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ContractQA:
    data = tmp_path_factory.mktemp("api-data")
    svc = ContractQA(make_settings(data))
    assert not svc.ready()
    report = svc.ingest([CRAFT])
    assert report.ok, report.results
    return svc


@pytest.fixture(scope="module")
def api_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-files")


@pytest.fixture
def client(service: ContractQA, api_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_api(service, make_settings(api_dir))) as c:
        yield c


def audit_lines(api_dir: Path) -> list[dict[str, Any]]:
    path = api_dir / "audit.log"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"code", "message"} and error["message"]
    if code:
        assert error["code"] == code
    return error


def wait_for_job(client: Any, url: str, timeout: float = 600) -> dict[str, Any]:
    """Poll an upload job (TestClient or httpx.Client) until it is finished; its last state."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(url, headers=ADMIN)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["status"] in ("terminé", "échec"):
            return job
        assert time.monotonic() < deadline, f"job not finished in {timeout:.0f} s: {job}"
        time.sleep(0.2)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        name = next(ln[6:].strip() for ln in lines if ln.startswith("event:"))
        data = "\n".join(ln[5:].lstrip() for ln in lines if ln.startswith("data:"))
        events.append((name, json.loads(data)))
    return events


# Health, docs, widget ----------------------------------------------------------------------
def test_health_is_503_until_something_is_indexed(tmp_path: Path, service: ContractQA) -> None:
    empty = ContractQA(make_settings(tmp_path / "empty"), embedder=service.embedder)
    with TestClient(create_api(empty, make_settings(tmp_path))) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
    with TestClient(create_api(service, make_settings(tmp_path))) as c:
        assert c.get("/health").json() == {"status": "ok"}


def test_openapi_docs_and_widget(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/ask/stream", "/api/documents", "/api/jobs/{job_id}",
            "/health"} <= set(paths)
    r = client.get("/widget.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert "attachShadow" in r.text and "createTextNode" in r.text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in r.text
    assert client.get("/widget/demo.html").status_code == 200


# Questions ----------------------------------------------------------------------------------
def test_ask_cites_the_article(client: TestClient, api_dir: Path) -> None:
    question = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"
    r = client.post("/api/ask", json={"question": question}, headers=ASK)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "question", "answer", "body", "quotes", "abstained", "mode",
                         "model", "routed", "notice", "confidence", "unsupported", "reattributed",
                         "prompt_tokens", "judge", "verification", "citations"}
    assert body["quotes"] and body["answer"].startswith(body["body"])
    assert body["judge"] is None and body["verification"] is None  # extractive mode
    assert 0.0 <= body["confidence"] <= 1.0  # what abstention was decided on
    assert not body["abstained"] and body["mode"] == "extractive"
    assert "10.2" in [c["article"] for c in body["citations"]]
    assert set(body["citations"][0]) == {"n", "document_id", "document_title", "section",
                                         "article", "heading", "pages", "excerpt", "score",
                                         "highlight"}
    last = audit_lines(api_dir)[-1]
    assert last["event"] == "ask" and last["token"] == "alice" and last["status"] == 200
    assert last["question"] == question and "000_863f8398c9eb4693#10.2" in last["cited"]
    assert body["answer"] not in json.dumps(last, ensure_ascii=False)  # no answer text


def test_ask_with_documents_and_history(client: TestClient) -> None:
    payload = {"question": "Et la durée du contrat ?", "documents": ["000_863f8398c9eb4693"],
               "history": [{"question": "Qui est le prestataire ?", "answer": "Craft AI."}]}
    r = client.post("/api/ask", json=payload, headers=ASK)
    assert r.status_code == 200, r.text
    assert all(c["document_id"] == "000_863f8398c9eb4693" for c in r.json()["citations"])
    r = client.post("/api/ask", json={"question": "x ?", "documents": ["nope"]}, headers=ASK)
    assert_error(r, 404, "document_not_found")


def test_ask_stream_sends_deltas_then_the_answer(client: TestClient) -> None:
    question = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"
    r = client.post("/api/ask/stream", json={"question": question}, headers=ASK)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"delta"}
    answer = events[-1][1]
    assert "".join(d["text"] for _, d in events[:-1]).strip() == answer["answer"].strip()
    assert "10.2" in [c["article"] for c in answer["citations"]]


def test_ask_stream_sends_the_models_status_first(client: TestClient, service: ContractQA,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    question = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"
    final = service.ask(question)

    def llm_stream(*_: Any, **__: Any) -> Iterator[AnswerEvent]:
        yield AnswerEvent("status", READING)
        yield AnswerEvent("delta", "Le plafond [1].")
        yield AnswerEvent("answer", answer=final)

    monkeypatch.setattr(service, "stream", llm_stream)
    r = client.post("/api/ask/stream", json={"question": question}, headers=ASK)
    events = parse_sse(r.text)
    assert [k for k, _ in events] == ["status", "delta", "answer"]
    assert events[0][1] == {"text": READING}


def test_validation_errors_are_json(client: TestClient) -> None:
    assert_error(client.post("/api/ask", json={}, headers=ASK), 422, "invalid_request")
    assert_error(client.post("/api/ask", json={"question": ""}, headers=ASK), 422)
    assert_error(client.post("/api/ask", content=b"{not json", headers=ASK), 422)
    r = client.post("/api/ask", json={"question": "q" * 2001}, headers=ASK)
    assert_error(r, 422)
    assert_error(client.get("/api/nowhere", headers=ASK), 404, "not_found")
    r = client.get("/api/ask", headers=ASK)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    assert_error(client.put("/api/documents", headers=ADMIN), 405)


# Documents ----------------------------------------------------------------------------------
def test_documents_and_articles(client: TestClient) -> None:
    docs = client.get("/api/documents", headers=ASK).json()
    assert [d["document_id"] for d in docs] == ["000_863f8398c9eb4693"]
    assert "CRAFT AI" in docs[0]["title"] and docs[0]["filename"].endswith(".txt")
    outline = client.get("/api/documents/000_863f8398c9eb4693/articles", headers=ASK).json()
    assert {"section", "article", "heading", "pages", "chars"} == set(outline[0])
    assert any(a["article"] == "10.2" and a["section"] == "MSA" for a in outline)
    assert_error(client.get("/api/documents/nope/articles", headers=ASK), 404)


def test_upload_ask_and_delete_a_hostile_contract(client: TestClient, api_dir: Path) -> None:
    files = [("files", ("piege.txt", HOSTILE_CONTRACT.encode(), "text/plain")),
             ("files", ("notes.exe", b"MZ", "application/octet-stream"))]
    assert_error(client.post("/api/documents", files=files, headers=ASK), 403, "forbidden")
    r = client.post("/api/documents", files=files, headers=ADMIN)
    assert r.status_code == 202, r.text  # indexed in the background: the job to follow
    assert r.headers["location"] == r.json()["url"] == f"/api/jobs/{r.json()['job_id']}"
    assert [f["filename"] for f in r.json()["files"]] == ["piege.txt"]
    assert_error(client.get(r.json()["url"], headers=ASK), 403)
    job = wait_for_job(client, r.json()["url"])
    assert job["status"] == "échec" and not job["ok"], job  # notes.exe was refused
    assert "« notes.exe » : Format non pris en charge" in job["message"], job
    assert job["files"] == [{"filename": "piege.txt", "stage": "terminé",
                             "passages_done": job["results"][0]["chunks"],
                             "passages_total": job["results"][0]["chunks"]}]
    results = {x["filename"]: x for x in job["results"]}
    assert results["piege.txt"]["status"] == "indexed" and results["piege.txt"]["articles"] >= 2
    assert results["notes.exe"]["status"] == "error"
    assert job["job_id"] in [j["job_id"] for j in client.get("/api/jobs", headers=ADMIN).json()]
    assert "aucune après un redémarrage" in assert_error(
        client.get("/api/jobs/inconnue", headers=ADMIN), 404, "job_not_found")["message"]
    assert (api_dir / "uploads" / "piege.txt").read_text("utf-8") == HOSTILE_CONTRACT

    payload = {"question": "Quelle pénalité en cas de retard de livraison ?",
               "documents": ["piege"]}
    r = client.post("/api/ask", json=payload, headers=ASK)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    excerpts = " ".join(c["excerpt"] for c in r.json()["citations"])
    assert "<img src=x onerror=alert(1)>" in excerpts  # plain text, not escaped or stripped
    assert "<script>alert(1)</script>" in excerpts
    assert '"excerpt"' in r.text and "<img src=x onerror=alert(1)>" in r.text

    assert_error(client.delete("/api/documents/piege", headers=ASK), 403)
    r = client.delete("/api/documents/piege", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"document_id": "piege", "deleted": True}
    assert not (api_dir / "uploads" / "piege.txt").exists()
    assert_error(client.delete("/api/documents/piege", headers=ADMIN), 404)
    events = [(e["event"], e["token"]) for e in audit_lines(api_dir)]
    assert ("upload_queued", "boss") in events and ("upload", "boss") in events
    assert ("delete", "boss") in events
    assert ("denied", "alice") in events


# Authentication and scopes ------------------------------------------------------------------
def test_missing_or_wrong_token_is_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope-nope-nope"},
                    {"Authorization": "Basic YWxpY2U6eA=="}, {"Authorization": "Bearer "}):
        r = client.post("/api/ask", json={"question": "Préavis ?"}, headers=headers)
        assert_error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_error(client.get("/api/documents", headers=headers), 401)
    assert_error(client.get("/api/nowhere"), 401)  # unauthenticated callers learn nothing
    assert client.get("/health").status_code == 200


def test_no_token_configured_refuses_everything(
    service: ContractQA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="contractqa.api"):
        app = create_api(service, make_settings(tmp_path, api_tokens=None))
    assert "CONTRACTQA_API_TOKENS" in caplog.text
    with TestClient(app) as c:
        r = c.post("/api/ask", json={"question": "Préavis ?"}, headers=ASK)
        assert "CONTRACTQA_API_TOKENS" in assert_error(r, 401, "no_tokens_configured")["message"]
        assert c.get("/health").status_code == 200


def test_token_file_stores_hashes(service: ContractQA, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"file-token-789").hexdigest()
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"# comment\ncarol:{digest}:admin\nbroken line\n", "utf-8")
    settings = make_settings(tmp_path, api_tokens=None, api_tokens_file=tokens)
    store = TokenStore.from_settings(settings)
    assert len(store) == 1
    who = store.verify("file-token-789")
    assert who is not None and who.name == "carol" and who.has("ask") and who.has("admin")
    assert store.verify("file-token-78") is None
    with TestClient(create_api(service, settings)) as c:
        headers = {"Authorization": "Bearer file-token-789"}
        assert c.get("/api/documents", headers=headers).status_code == 200


def test_scope_syntax() -> None:
    assert parse_scopes("ask") == {"ask"}
    assert parse_scopes("admin") == parse_scopes("ask+admin") == {"ask", "edit", "admin"}
    assert parse_scopes("edit") == parse_scopes("editor") == {"ask", "edit"}
    with pytest.raises(ValueError, match="scopes"):
        parse_scopes("root")
    store = TokenStore.from_settings(make_settings(
        Path("/nonexistent"), api_tokens="a:aaaaaaaa, b:bbbbbbbb:admin"))
    assert len(store) == 2
    who = store.verify("aaaaaaaa")
    assert who is not None and not who.has("admin")
    # A malformed entry stops the start, naming the entry, never showing a token.
    for bad in ("a:aaaaaaaa,c:short", "a:aaaaaaaa,d:dddddddd:root"):
        with pytest.raises(ValidationError, match="entrée n°2") as error:
            make_settings(Path("/nonexistent"), api_tokens=bad)
        assert "dddddddd" not in str(error.value.errors()[0]["msg"])


# Limits ---------------------------------------------------------------------------------------
def test_rate_limit_per_token(service: ContractQA, tmp_path: Path) -> None:
    with TestClient(create_api(service, make_settings(tmp_path, rate_limit_per_minute=3))) as c:
        for _ in range(3):
            assert c.get("/api/documents", headers=ASK).status_code == 200
        r = c.get("/api/documents", headers=ASK)
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert c.get("/api/documents", headers=ADMIN).status_code == 200  # other token
    limiter = RateLimiter(2, window=1)
    assert limiter.hit("k") == 0 and limiter.hit("k") == 0
    assert limiter.hit("k") == 1 and limiter.hit("other") == 0
    time.sleep(1.1)  # a moving window: the first two hits have left it
    assert limiter.hit("k") == 0
    assert RateLimiter(0).hit("k") == 0  # 0 turns the limit off


def test_body_and_upload_size_limits(client: TestClient) -> None:
    big = {"question": "Préavis ?", "padding": "x" * 20_000}
    assert_error(client.post("/api/ask", json=big, headers=ASK), 413, "payload_too_large")
    huge = [("files", ("gros.txt", b"a" * 400_000, "text/plain"))]
    assert_error(client.post("/api/documents", files=huge, headers=ADMIN), 413)

    boundary = "cqa-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="gros.txt"\r\nContent-Type: text/plain\r\n\r\n').encode()

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield head
        for _ in range(10):
            yield b"a" * 65_536
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/api/documents", content=chunked(), headers={
        **ADMIN, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_error(r, 413, "payload_too_large")


def test_timeout_is_504(
    service: ContractQA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        raise AssertionError("too late")

    def slow_stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
        time.sleep(1.5)
        yield from ()

    monkeypatch.setattr(service, "ask", slow)
    monkeypatch.setattr(service, "stream", slow_stream)
    with TestClient(create_api(service, make_settings(tmp_path, api_timeout_s=0.3))) as c:
        t0 = time.perf_counter()
        assert_error(c.post("/api/ask", json={"question": "Préavis ?"}, headers=ASK), 504)
        assert time.perf_counter() - t0 < 1.2
        r = c.post("/api/ask/stream", json={"question": "Préavis ?"}, headers=ASK)
        assert_error(r, 504, "timeout")
    assert [e["status"] for e in audit_lines(tmp_path)] == [504, 504]


def test_internal_errors_are_json(
    client: TestClient, service: ContractQA, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service, "ask", boom)
    r = client.post("/api/ask", json={"question": "Préavis ?"}, headers=ASK)
    assert "secret" not in assert_error(r, 500, "internal_error")["message"]
    assert "frame-ancestors" in r.headers["content-security-policy"]


# CORS and framing -----------------------------------------------------------------------------
def test_cors_only_for_allowed_origins(client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    r = client.options("/api/ask", headers={"Origin": GOOD_ORIGIN, **preflight})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == GOOD_ORIGIN
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = client.options("/api/ask", headers={"Origin": "http://evil.example", **preflight})
    assert_error(r, 400, "cors_refused")
    assert "access-control-allow-origin" not in r.headers

    r = client.get("/api/documents", headers={"Origin": GOOD_ORIGIN, **ASK})
    assert r.headers["access-control-allow-origin"] == GOOD_ORIGIN
    r = client.get("/api/documents", headers={"Origin": "http://evil.example", **ASK})
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/api/documents", headers={"Origin": GOOD_ORIGIN})  # errors are readable
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == GOOD_ORIGIN


def test_wildcard_or_malformed_origins_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="origines invalides"):
        make_settings(tmp_path, allowed_origins="*, http://a.example; script-src *")
    settings = make_settings(tmp_path, allowed_origins="https://a.example/, http://b.example:8080")
    assert settings.origins() == ["https://a.example", "http://b.example:8080"]


def test_frame_ancestors_on_every_response(client: TestClient) -> None:
    for r in (client.get("/health"), client.get("/widget.js"), client.get("/docs"),
              client.get("/api/documents", headers=ASK), client.get("/api/documents"),
              client.get("/api/nowhere", headers=ASK)):
        assert r.headers["content-security-policy"] == f"frame-ancestors 'self' {GOOD_ORIGIN}"
        assert r.headers["x-content-type-options"] == "nosniff"
