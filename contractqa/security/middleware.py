"""ASGI middleware: security headers, CORS with JSON refusals, and the /api gate (bearer
authentication, per-token rate limit, request body limits); the allowed origins."""

from __future__ import annotations

import logging
import re
import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contractqa.security.errors import error_response
from contractqa.security.limits import RateLimiter
from contractqa.security.tokens import NO_TOKENS_MESSAGE, TokenStore
from contractqa.settings import Settings

log = logging.getLogger("contractqa.api")

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def valid_origins(settings: Settings) -> list[str]:
    """CONTRACTQA_ALLOWED_ORIGINS without malformed entries (and never "*")."""
    origins = settings.origins()
    bad = [o for o in origins if not _ORIGIN.match(o)]
    if bad:
        log.error("CONTRACTQA_ALLOWED_ORIGINS : origines ignorées (attendu https://hôte[:port])"
                  " : %s", ", ".join(map(repr, bad)))
    return [o for o in origins if o not in bad]


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
