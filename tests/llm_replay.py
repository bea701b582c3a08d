"""A tiny OpenAI-compatible chat server for tests: replays scripted answers on 127.0.0.1.

    with ReplayServer(["Réponse [1].", Failure(500)]) as server:
        settings = Settings(llm_provider="openai", llm_base_url=server.base_url, ...)

Each POST /v1/chat/completions consumes the next scripted reply (the last one repeats). A
string is answered as a chat completion, as JSON or, when the request asks `"stream": true`,
as server-sent events (`data: {chunk}` lines then `data: [DONE]`). A `Failure` answers its
HTTP status; a `Judged` reply adds token logprobs when the request asks for them. Every
request body is recorded in `server.requests`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Failure:
    """A scripted HTTP error."""

    status: int = 500
    message: str = "internal error"


@dataclass(frozen=True)
class Judged:
    """A scripted one-token reply with its alternatives' logprobs (token -> logprob), answered
    as OpenAI's `logprobs.content` when the request asks `"logprobs": true`."""

    token: str
    alternatives: tuple[tuple[str, float], ...]

    def logprobs(self) -> dict[str, Any]:
        top = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in
               self.alternatives]
        chosen = dict(self.alternatives).get(self.token, 0.0)
        return {"content": [{"token": self.token, "logprob": chosen,
                             "bytes": list(self.token.encode()), "top_logprobs": top}]}


Reply = str | Failure | Judged


def _pieces(text: str) -> list[str]:
    """Split an answer into streamed deltas (words with their trailing spaces)."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "replay", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"unknown path {self.path}"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._json(400, {"error": {"message": "invalid JSON"}})
            return
        reply = self.server.replay.take(body, dict(self.headers))
        if isinstance(reply, Failure):
            self._json(reply.status, {"error": {"message": reply.message, "type": "server_error"}})
            return
        model = str(body.get("model", "replay"))
        text = reply.token if isinstance(reply, Judged) else reply
        if body.get("stream"):
            self._stream(text, model)
            return
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}
        if isinstance(reply, Judged) and body.get("logprobs"):
            choice["logprobs"] = reply.logprobs()
        self._json(200, {
            "id": "chatcmpl-replay", "object": "chat.completion", "created": 0,
            "model": model, "choices": [choice],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    def _json(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, text: str, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def chunk(delta: dict[str, str], finish: str | None) -> None:
            data = {"id": "chatcmpl-replay", "object": "chat.completion.chunk", "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()

        for i, piece in enumerate(_pieces(text)):
            chunk({"role": "assistant", "content": piece} if i == 0 else {"content": piece}, None)
        chunk({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replay: ReplayServer


class ReplayServer:
    """Replays scripted chat answers; start with `with` (or start()/stop())."""

    def __init__(self, replies: list[Reply] | None = None) -> None:
        self.replies: list[Reply] = list(replies or ["Réponse [1]."])
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # lower-cased names
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # Script ------------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Replace the remaining replies."""
        with self._lock:
            self.replies = list(replies)

    def take(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in headers.items()})
            if len(self.replies) > 1:
                return self.replies.pop(0)
            return self.replies[0] if self.replies else Failure(500, "no scripted reply")

    # Lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ReplayServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.replay = self
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Inspection --------------------------------------------------------------------------
    def messages(self, index: int = -1) -> list[dict[str, Any]]:
        """The chat messages of a recorded request (the last one by default)."""
        return list(self.requests[index].get("messages", []))


def message_text(message: dict[str, Any]) -> str:
    """The text of an OpenAI chat message (content may be a string or a list of parts)."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")
