"""API security: bearer tokens with scopes, a per-token rate limit and the audit log.

Tokens come from `CONTRACTQA_API_TOKENS` (comma-separated `name:token[:scopes]`, scopes joined
with `+`, default `ask`) and/or from `CONTRACTQA_API_TOKENS_FILE` (lines `name:sha256hex:scopes`,
`#` comments), which stores only hashes. Print the hash of a token with
`python -m contractqa.security TOKEN`. Only sha256 digests are kept in memory and they are
compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contractqa.settings import Settings

log = logging.getLogger("contractqa.api")

SCOPES = ("ask", "admin")
_IMPLIED = {"admin": {"ask", "admin"}, "ask": {"ask"}}
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_NAME = re.compile(r"^[\w.@-]{1,64}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")

NO_TOKENS_MESSAGE = (
    "Aucun jeton d'API n'est configuré : l'API refuse toutes les requêtes. "
    "Définissez CONTRACTQA_API_TOKENS='nom:jeton' (scope ask) ou 'nom:jeton:admin' "
    "(ask + admin), plusieurs séparés par des virgules, ou CONTRACTQA_API_TOKENS_FILE "
    "(lignes nom:sha256:scopes, hash via `python -m contractqa.security JETON`)."
)


def hash_token(token: str) -> str:
    """The hex sha256 of a token, as stored in CONTRACTQA_API_TOKENS_FILE."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and its scopes."""

    name: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def parse_scopes(text: str) -> frozenset[str]:
    """`ask`, `admin`, `ask+admin` (or `,`/space separated): admin implies ask."""
    names = [s for s in re.split(r"[+,\s|]+", text.strip().lower()) if s]
    unknown = [s for s in names if s not in SCOPES]
    if unknown or not names:
        raise ValueError(f"scopes inconnus {unknown or text!r} (attendus : {', '.join(SCOPES)})")
    return frozenset().union(*(_IMPLIED[s] for s in names))


class TokenStore:
    """Known tokens as (name, sha256 digest, scopes); verification in constant time."""

    def __init__(self, entries: list[tuple[str, bytes, frozenset[str]]]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenStore:
        entries: list[tuple[str, bytes, frozenset[str]]] = []
        raw = settings.api_tokens.get_secret_value() if settings.api_tokens else ""
        for i, item in enumerate(p.strip() for p in raw.split(",")):
            if not item:
                continue
            parts = item.split(":")
            try:
                if len(parts) not in (2, 3) or not _NAME.match(parts[0]) or len(parts[1]) < 8:
                    raise ValueError("format attendu nom:jeton[:scopes], jeton ≥ 8 caractères")
                scopes = parse_scopes(parts[2]) if len(parts) == 3 else frozenset({"ask"})
            except ValueError as exc:  # never log the token itself
                log.error("CONTRACTQA_API_TOKENS, entrée n°%d ignorée : %s", i + 1, exc)
                continue
            entries.append((parts[0], hashlib.sha256(parts[1].encode()).digest(), scopes))
        if settings.api_tokens_file:
            entries.extend(_read_token_file(settings.api_tokens_file))
        names = [e[0] for e in entries]
        if len(set(names)) != len(names):
            log.warning("Noms de jetons en double : le quota de requêtes est partagé par nom.")
        return cls(entries)

    def verify(self, token: str) -> Principal | None:
        """The principal of a token, or None; every entry is compared (no early exit)."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: Principal | None = None
        for name, expected, scopes in self._entries:
            if hmac.compare_digest(digest, expected) and found is None:
                found = Principal(name, scopes)
        return found


def _read_token_file(path: Path) -> list[tuple[str, bytes, frozenset[str]]]:
    entries: list[tuple[str, bytes, frozenset[str]]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        log.error("CONTRACTQA_API_TOKENS_FILE illisible (%s) : %s", path, exc)
        return entries
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        try:
            if len(parts) != 3 or not _NAME.match(parts[0]) or not _HEX64.match(parts[1]):
                raise ValueError("format attendu nom:sha256hex:scopes")
            entries.append((parts[0], bytes.fromhex(parts[1]), parse_scopes(parts[2])))
        except ValueError as exc:
            log.error("%s ligne %d ignorée : %s", path, number, exc)
    return entries


class RateLimiter:
    """Sliding-window limit of `limit` requests per `window` seconds per key, in memory."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int:
        """Record one request; return 0 if allowed, else the seconds to wait (Retry-After)."""
        if self.limit <= 0:
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return 0


class AuditLog:
    """JSON lines of who did what and when (questions, never the answers' text)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, event: str, principal: Principal | None, **fields: Any) -> None:
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "token": principal.name if principal else None,
            **fields,
        }
        line = json.dumps(record, ensure_ascii=False, default=str)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        except OSError:
            log.exception("Écriture du journal d'audit impossible (%s)", self.path)


def valid_origins(settings: Settings) -> list[str]:
    """CONTRACTQA_ALLOWED_ORIGINS without malformed entries (and never "*")."""
    origins = settings.origins()
    bad = [o for o in origins if not _ORIGIN.match(o)]
    if bad:
        log.error("CONTRACTQA_ALLOWED_ORIGINS : origines ignorées (attendu https://hôte[:port])"
                  " : %s", ", ".join(map(repr, bad)))
    return [o for o in origins if o not in bad]


# ASGI middleware --------------------------------------------------------------------------
def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The one error shape of the API: {"error": {"code", "message", ...}}."""
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


class ApiError(Exception):
    """Raised by routes; rendered by `error_response`."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class SecurityHeaders:
    """Outermost: CSP frame-ancestors and nosniff on every response; a JSON 500 on a crash."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        csp = " ".join(["frame-ancestors 'self'", *origins])
        self.headers = [
            (b"content-security-policy", csp.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if started:
                raise
            log.exception("Erreur interne sur %s %s", scope.get("method"), scope.get("path"))
            response = error_response(500, "internal_error", "Erreur interne du serveur.")
            await response(scope, receive, send_wrapper)


class JsonCors(CORSMiddleware):
    """Starlette's CORS, with a JSON body when a preflight is refused."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        keep = {k: v for k, v in response.headers.items() if k.lower().startswith(("vary", "acc"))}
        message = "Requête cross-origin refusée : " + bytes(response.body).decode()
        return error_response(response.status_code, "cors_refused", message, keep)


class ApiGate:
    """For /api/*: bearer authentication, per-token rate limit and request body limits."""

    def __init__(self, app: ASGIApp, settings: Settings, tokens: TokenStore) -> None:
        self.app, self.tokens = app, tokens
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.json_limit = settings.api_max_body_kb * 1024
        self.upload_limit = int(settings.max_upload_mb * 1024 * 1024) + 64 * 1024
        self.upload_mb = settings.max_upload_mb
        self._warned = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/api" or path.startswith("/api/")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refused = self._check(scope, headers)
        if refused is not None:
            await refused(scope, receive, send)
            return
        upload = scope["method"] == "POST" and path.rstrip("/") == "/api/documents"
        limit = self.upload_limit if upload else self.json_limit
        what = f"{self.upload_mb:g} Mo par envoi" if upload else f"{limit // 1024} Ko"
        too_large = f"Corps de requête trop volumineux (maximum {what})."
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await error_response(413, "payload_too_large", too_large)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)

    def _check(self, scope: Scope, headers: Headers) -> JSONResponse | None:
        client = (scope.get("client") or ("?", 0))[0]
        bearer = {"WWW-Authenticate": 'Bearer realm="contractqa"'}
        if not len(self.tokens):
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.error(NO_TOKENS_MESSAGE)
            return error_response(401, "no_tokens_configured", NO_TOKENS_MESSAGE, bearer)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            message = "Jeton manquant : envoyez l'en-tête « Authorization: Bearer <jeton> »."
            return error_response(401, "missing_token", message, bearer)
        principal = self.tokens.verify(token.strip())
        if principal is None:
            log.warning("Jeton invalide depuis %s pour %s", client, scope.get("path"))
            return error_response(401, "invalid_token", "Jeton d'API invalide.", bearer)
        wait = self.limiter.hit(principal.name)
        if wait:
            log.warning("Quota dépassé pour le jeton %s", principal.name)
            message = f"Trop de requêtes pour ce jeton : réessayez dans {wait} s."
            return error_response(429, "rate_limited", message, {"Retry-After": str(wait)})
        scope.setdefault("state", {})["principal"] = principal
        return None


if __name__ == "__main__":  # python -m contractqa.security TOKEN
    if len(sys.argv) != 2:
        sys.exit("usage: python -m contractqa.security JETON  (affiche son sha256)")
    print(hash_token(sys.argv[1]))
