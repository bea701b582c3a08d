"""Users, roles and matters in the chat, over real HTTP against the app (`create_app`: the
API with Gradio mounted) served on 127.0.0.1, on a real index: two readers on two matters,
each asking about the other's contract; a reader forging upload and delete events to Gradio's
queue; the proxy header from trusted and other addresses; the audit lines; and `contractqa
serve` refusing a public address without users."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contractqa.security.audit import read_audit
from contractqa.service import ContractQA
from contractqa.settings import Settings
from contractqa.ui.app import create_app
from tests.conftest import ROOT
from tests.servers import serving
from tests.test_matters import HYDROLYS, VELORIA

pytestmark = pytest.mark.integration

USERS = ("alice:alice-token-123:reader:dossier-a,bob:bob-token-4567:reader:dossier-b,"
         "root:root-token-890:admin,carol:-:reader:dossier-a")
# What only Hydrolys (dossier-a) says: none of it may reach Bob (dossier-b).
HYDROLYS_WORDS = ("hydrolys", "deux ans", "cent euros", "office des eaux", "ponant")


def _settings(data_dir: Path, **values: object) -> Settings:
    return Settings(data_dir=data_dir, api_tokens=USERS, _env_file=None,  # type: ignore[call-arg]
                    **values)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ContractQA:
    root = tmp_path_factory.mktemp("chat-matters")
    for name, text in (("hydrolys", HYDROLYS), ("veloria", VELORIA)):
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
    qa = ContractQA(_settings(root / "data"))
    assert qa.ingest([root / "hydrolys.txt"], matters=["dossier-a"]).ok
    assert qa.ingest([root / "veloria.txt"], matters=["dossier-b"]).ok
    return qa


class Chat:
    """One browser session of the chat, spoken as raw HTTP: Gradio's queue, by function."""

    def __init__(self, base: str, app: Any, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(base_url=base, timeout=120, headers=headers or {})
        mount = next(r for r in app.routes if type(r).__name__ == "Mount")
        self.fns = {fn.name: i for i, fn in mount.app.get_blocks().fns.items()}
        self.session = uuid.uuid4().hex[:12]

    def login(self, name: str, token: str) -> httpx.Response:
        return self.http.post("/login", data={"name": name, "token": token, "next": "/"})

    def call(self, name: str, *data: Any) -> dict[str, Any]:
        """Run one event like the page does; Gradio's final message (`success`, `output`)."""
        joined = self.http.post("/gradio_api/queue/join", json={
            "data": list(data), "fn_index": self.fns[name], "session_hash": self.session})
        if joined.status_code != 200:
            return {"success": False, "status": joined.status_code, "output": joined.json()}
        url = f"/gradio_api/queue/data?session_hash={self.session}"
        with self.http.stream("GET", url) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    return dict(message)
        raise AssertionError(f"no result for {name}")

    def ask(self, question: str) -> str:
        """The answer, its sources and its copied text (question and answer), lower-cased."""
        done = self.call("respond", question, [], None)
        assert done["success"], done
        chat, _state, _box, sources, copied = done["output"]["data"]
        return json.dumps([chat[-1], sources, copied], ensure_ascii=False).lower()

    def new_conversation(self) -> Chat:
        self.session = uuid.uuid4().hex[:12]
        return self


@pytest.fixture(scope="module")
def served(service: ContractQA, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, Any]]:
    app = create_app(_settings(service.settings.data_dir), service)
    with serving(app) as base:
        yield base, app


def _audit(service: ContractQA, **filters: Any) -> list[dict[str, Any]]:
    return read_audit(service.settings.data_dir / "audit.log", **filters)


def test_the_chat_needs_a_login_with_a_name_and_its_token(served: tuple[str, Any]) -> None:
    base, app = served
    chat = Chat(base, app)
    page = chat.http.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
    assert chat.http.get("/gradio_api/info").status_code == 401
    assert chat.call("respond", "Quelle durée ?", [], None)["status"] == 401
    assert "Connectez-vous" in chat.http.get("/login").text
    for name, token in (("alice", "bob-token-4567"), ("alice", "wrong-token-1"),
                        ("carol", "-")):
        refused = chat.login(name, token)
        assert refused.status_code == 401 and "Identifiant ou jeton incorrect" in refused.text
    done = chat.login("alice", "alice-token-123")
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert chat.http.get("/", headers={"Accept": "text/html"}).status_code == 200
    chat.http.cookies.set("contractqa_session", "eyJ1Ijoicm9vdCJ9.forged")
    assert chat.http.get("/gradio_api/info").status_code == 401
    chat.http.get("/logout")
    assert chat.http.get("/gradio_api/info").status_code == 401


def test_two_readers_never_see_the_other_matters_contract(
        served: tuple[str, Any], service: ContractQA) -> None:
    base, app = served
    bob, alice = Chat(base, app), Chat(base, app)
    assert bob.login("bob", "bob-token-4567").status_code == 303
    assert alice.login("alice", "alice-token-123").status_code == 303
    # By name: the answer a contract that does not exist gets.
    unknown = bob.ask("Quelle est la durée du marché Zorbalux ?")
    named = bob.new_conversation().ask("Quelle est la durée du marché Hydrolys ?")
    assert named == unknown.replace("zorbalux", "hydrolys")
    # A follow-up of that question, a question by topic, a comparison of every contract:
    # Veloria at most.
    for question in ("Et les pénalités de retard par jour ?",
                     "Quelle pénalité de retard par jour pour le titulaire ?",
                     "Comparez la durée dans tous les contrats."):
        text = bob.ask(question)
        assert not [w for w in HYDROLYS_WORDS if w in text], (question, text[:2000])
    # The owner of the matter gets the answer (and, symmetrically, never Veloria's).
    own = alice.ask("Quelle est la durée du marché Hydrolys ?")
    assert "deux ans" in own
    assert "treize mois" not in alice.ask("Combien de temps les données de trajet sont-elles "
                                          "conservées selon Veloria ?")
    # The document list, an outline, a review: as if Hydrolys were not indexed.
    listed = json.dumps(bob.call("refresh", [])["output"]["data"], ensure_ascii=False).lower()
    assert "veloria" in listed and "hydrolys" not in listed
    outline = json.dumps(bob.call("show_outline", "hydrolys"), ensure_ascii=False).lower()
    assert "durée" not in outline and "pénalités de retard" not in outline
    loaded = json.dumps(bob.call("load", [], None)["output"], ensure_ascii=False).lower()
    assert "veloria" in loaded and "hydrolys" not in loaded
    review = bob.call("run", [], "", "Quelle est la durée ?")
    assert review["success"]
    cells = json.dumps(review["output"]["data"][2:4], ensure_ascii=False).lower()
    assert "veloria" in cells and not [w for w in HYDROLYS_WORDS if w in cells]
    # Every question is in the audit log: who, matters, cited articles, never the answer.
    lines = [r for r in _audit(service, user="bob") if r["event"] == "ask_stream"]
    assert len(lines) >= 5 and all(r["origin"] == "chat" for r in lines)
    assert all(r["matters"] == ["dossier-b"] for r in lines)
    assert not [c for r in lines for c in r["cited"] if c.startswith("hydrolys")]
    asked = next(r for r in lines if r["question"] == "Quelle est la durée du marché Hydrolys ?")
    assert asked["status"] == 200 and asked["abstained"] and "answer" not in asked
    alices = [r for r in _audit(service, user="alice") if r["event"] == "ask_stream"]
    assert any(c.startswith("hydrolys#") for r in alices for c in r["cited"])


def test_the_widget_stream_stays_within_the_matters(served: tuple[str, Any],
                                                   service: ContractQA) -> None:
    """The widget's request (POST /api/ask/stream from an intranet page, with the conversation
    so far): by name, by topic and as a follow-up, nothing of Hydrolys reaches Bob."""
    base, _app = served
    widget = {"Authorization": "Bearer bob-token-4567", "Origin": "https://intranet.example"}
    first = "Quelle est la durée du marché Hydrolys ?"
    asked = [(first, []),
             ("Quelle pénalité de retard par jour pour le titulaire ?", []),
             ("Et les pénalités de retard ?", [{"question": first, "answer": "Deux ans."}])]
    with httpx.Client(base_url=base, timeout=120, headers=widget) as http:
        for question, history in asked:
            reply = http.post("/api/ask/stream", json={"question": question,
                                                       "history": history})
            assert reply.status_code == 200
            answer = reply.text.split("event: answer", 1)[1].lower()
            cited = answer.split('"citations"', 1)[1]
            assert "hydrolys" not in cited and not [
                w for w in HYDROLYS_WORDS[1:] if w in answer], (question, answer[:1500])
    lines = [r for r in _audit(service, user="bob") if r.get("origin") == widget["Origin"]]
    assert len(lines) == 3 and not [c for r in lines for c in r["cited"] if "hydrolys" in c]


def test_a_reader_forging_upload_or_delete_events_is_refused(
        served: tuple[str, Any], service: ContractQA, tmp_path: Path) -> None:
    base, app = served
    reader, admin = Chat(base, app), Chat(base, app)
    assert reader.login("alice", "alice-token-123").status_code == 303
    assert admin.login("root", "root-token-890").status_code == 303
    before = sorted(d.document_id for d in service.documents())
    contract = tmp_path / "forged.txt"
    contract.write_text(VELORIA.replace("VELORIA", "FORGERIA"), encoding="utf-8")
    # Gradio's own file upload is closed to a reader; an admin's file, sent by the reader to
    # the ingest event, is refused by the server.
    with contract.open("rb") as fh:
        sent = reader.http.post("/gradio_api/upload", files={"files": fh})
    assert sent.status_code == 403
    with contract.open("rb") as fh:
        uploaded = admin.http.post("/gradio_api/upload", files={"files": fh})
    assert uploaded.status_code == 200, uploaded.text
    file = {"path": uploaded.json()[0], "orig_name": "forged.txt",
            "meta": {"_type": "gradio.FileData"}}
    reader.call("session")
    forged = reader.call("upload", [file], "dossier-a")
    assert not forged["success"] and "Votre rôle (lecteur)" in forged["output"]["error"]
    # The reader's page lists Hydrolys (its matter): the delete event names it, and is refused.
    reader.call("refresh", [])
    deleted = reader.call("delete", "hydrolys", True, [])
    assert not deleted["success"] and "retirer des contrats" in deleted["output"]["error"]
    moved = reader.call("set_matters", "hydrolys", ["dossier-b"])
    assert not moved["success"] and "Votre rôle (lecteur)" in moved["output"]["error"]
    assert sorted(d.document_id for d in service.documents()) == before
    assert service.documents(frozenset({"dossier-b"}))[0].document_id == "veloria"
    # The admin may: the contract goes to the matters chosen (and back).
    admin.call("session")
    admin.call("refresh", [])
    done = admin.call("set_matters", "hydrolys", ["dossier-a", "dossier-c"])
    assert done["success"], done
    assert service.matters_of(next(d for d in service.documents()
                                   if d.document_id == "hydrolys")) == ["dossier-a", "dossier-c"]
    service.set_matters("hydrolys", ["dossier-a"])
    assert any(r["event"] == "matters" and r["origin"] == "chat"
               for r in _audit(service, user="root"))
    denied = [r for r in _audit(service, user="alice") if r["event"] == "denied"]
    assert {r["scope"] for r in denied} >= {"edit", "admin"}
    assert all(r["origin"] == "chat" for r in denied)


def test_the_proxy_header_counts_only_from_a_trusted_address(service: ContractQA) -> None:
    data = service.settings.data_dir
    trusted = create_app(_settings(data, trusted_proxies="127.0.0.1"), service)
    with serving(trusted) as base:
        carol = Chat(base, trusted, headers={"Remote-User": "carol"})
        assert carol.http.get("/", headers={"Accept": "text/html"}).status_code == 200
        assert "deux ans" in carol.ask("Quelle est la durée du marché Hydrolys ?")
        mallory = Chat(base, trusted, headers={"Remote-User": "mallory"})
        assert mallory.http.get("/gradio_api/info").status_code == 401
        # Behind a TLS proxy, the session cookie is Secure.
        https = Chat(base, trusted, headers={"X-Forwarded-Proto": "https"})
        cookie = https.login("alice", "alice-token-123").headers["set-cookie"].lower()
        assert "secure" in [p.strip() for p in cookie.split(";")[1:]], cookie
    assert any(r["event"] == "ask_stream" for r in _audit(service, user="carol"))
    elsewhere = create_app(_settings(data, trusted_proxies="192.0.2.10"), service)
    with serving(elsewhere) as base:
        # From 127.0.0.1, naming the trusted proxy in X-Forwarded-For changes nothing.
        root = Chat(base, elsewhere, headers={"Remote-User": "root",
                                              "X-Forwarded-For": "192.0.2.10"})
        page = root.http.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert root.call("delete", "hydrolys", True, [])["status"] == 401
        spoofed = Chat(base, elsewhere, headers={"X-Forwarded-Proto": "https"})
        cookie = spoofed.login("alice", "alice-token-123").headers["set-cookie"].lower()
        assert "secure" not in [p.strip() for p in cookie.split(";")[1:]], cookie
    assert "hydrolys" in {d.document_id for d in service.documents()}


def test_serve_refuses_a_public_address_without_users(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CONTRACTQA_") or k == "CONTRACTQA_EMBEDDINGS"}
    env.update({"CONTRACTQA_DATA_DIR": str(tmp_path / "data"), "CONTRACTQA_HOST": "0.0.0.0",
                "PYTHONPATH": str(ROOT)})
    run = subprocess.run([sys.executable, "-m", "contractqa.cli", "serve"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Démarrage refusé" in run.stderr and "CONTRACTQA_API_TOKENS" in run.stderr
    assert "CONTRACTQA_TRUSTED_PROXIES" in run.stderr
    assert "ContractQA : http" not in run.stdout  # never got to binding the address
    assert not (tmp_path / "data" / "chroma").exists()  # nor to opening the index
