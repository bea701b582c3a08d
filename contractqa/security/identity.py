"""Who uses the chat: the same principals as the API (contractqa/security/tokens.py).

Three ways, in this order:
- local: the app listens on a loopback address, no user is declared and no proxy trusted: the
  person at this computer is the administrator of every matter, as before there were users
  (`make run`);
- a single sign-on reverse proxy: its user header (`CONTRACTQA_PROXY_USER_HEADER`, default
  `Remote-User`) names the user, honoured only when the TCP peer is one of
  `CONTRACTQA_TRUSTED_PROXIES`; a name that is not declared is refused, never guessed;
- a login: the user's name and token, checked as the API checks a bearer token, kept in a
  signed session cookie (HttpOnly, SameSite=Strict) bound to the token: a token changed or
  removed ends its sessions.

`ChatGate` sends every other request to /login; `login_router` serves the form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from contractqa.security.audit import AuditLog
from contractqa.security.errors import error_response
from contractqa.security.limits import RateLimiter
from contractqa.security.tokens import SCOPES, Entry, Principal, TokenStore
from contractqa.settings import Settings

log = logging.getLogger("contractqa.app")

LOCAL = Principal("local", frozenset(SCOPES), None)
COOKIE = "contractqa_session"
# Paths the chat's gate lets through: the API (its own bearer gate), the probe, the widget's
# files, the login itself and the API's documentation.
OPEN_PATHS = ("/api", "/health", "/widget.js", "/widget/", "/login", "/logout", "/docs",
              "/openapi.json")
ROLE_NAMES = {"admin": "administrateur", "edit": "éditeur", "ask": "lecteur"}


def is_loopback(host: str) -> bool:
    """Whether a listening address is this computer only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_error(settings: Settings, tokens: TokenStore) -> str | None:
    """Why the app must not start (a French message naming the settings), or None: open to
    other computers (a public address, or a trusted proxy in front) with no user declared."""
    if len(tokens) or (is_loopback(settings.host) and not settings.trusted_proxies):
        return None
    opened = (f"CONTRACTQA_HOST={settings.host} ouvre l'application à d'autres postes"
              if not is_loopback(settings.host) else
              "CONTRACTQA_TRUSTED_PROXIES place un reverse proxy devant l'application")
    return (
        f"Démarrage refusé : {opened}, mais aucun utilisateur n'est déclaré, donc personne ne "
        "pourrait être identifié. Déclarez les utilisateurs dans CONTRACTQA_API_TOKENS "
        "('nom:jeton:rôle[:dossiers]', rôle reader, editor ou admin) ou "
        "CONTRACTQA_API_TOKENS_FILE : ils se connectent avec leur nom et leur jeton. Derrière "
        "un reverse proxy d'authentification unique, ajoutez CONTRACTQA_TRUSTED_PROXIES "
        "(adresses du proxy) et déclarez chaque utilisateur sans jeton ('nom:-:rôle"
        "[:dossiers]') ; l'en-tête lu est CONTRACTQA_PROXY_USER_HEADER (Remote-User). Ou "
        "gardez CONTRACTQA_HOST=127.0.0.1."
    )


def role_label(who: Principal) -> str:
    """« lecteur », « éditeur » or « administrateur »: the highest role of a principal."""
    return next(label for scope, label in ROLE_NAMES.items() if who.has(scope))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signed session cookies: `payload.mac`, the payload the user's name and expiry, the mac
    an HMAC over it and the digest of the user's token (a changed token ends its sessions)."""

    def __init__(self, secret: bytes, hours: float) -> None:
        self._secret = secret
        self.seconds = int(hours * 3600)

    def _mac(self, payload: str, entry: Entry) -> bytes:
        message = payload.encode("ascii") + b"\0" + (entry.digest or b"")
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def issue(self, entry: Entry) -> str:
        body = {"u": entry.name, "exp": int(time.time()) + self.seconds}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{_b64(self._mac(payload, entry))}"

    def read(self, value: str, tokens: TokenStore) -> Principal | None:
        """The principal of a valid, unexpired cookie, or None."""
        payload, _, mac = value.partition(".")
        try:
            body = json.loads(_unb64(payload))
            given = _unb64(mac)
            name, expires = str(body["u"]), int(body["exp"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if expires < time.time():
            return None
        for entry in tokens.named(name):
            if entry.digest is not None and hmac.compare_digest(given, self._mac(payload, entry)):
                return entry.principal()
        return None


class Requestish(Protocol):
    """A Starlette request or connection, or a Gradio request wrapping one."""

    @property
    def headers(self) -> Any: ...

    @property
    def cookies(self) -> Any: ...

    @property
    def client(self) -> Any: ...


class Identity:
    """Resolves who makes a request to the chat (see the module's docstring)."""

    def __init__(self, settings: Settings, tokens: TokenStore) -> None:
        self.tokens = tokens
        self.local = (not len(tokens) and not settings.trusted_proxies
                      and is_loopback(settings.host))
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.header = settings.proxy_user_header.lower()
        secret = (settings.session_secret.get_secret_value().encode("utf-8")
                  if settings.session_secret else secrets.token_bytes(32))
        self.sessions = Sessions(secret, settings.session_hours)
        self.attempts = RateLimiter(settings.login_attempts_per_minute)

    def trusted(self, client: str | None) -> bool:
        """Whether the TCP peer is a configured reverse proxy."""
        try:
            address = ipaddress.ip_address(client or "")
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def resolve(self, client: str | None, headers: Mapping[str, str],
                cookies: Mapping[str, str]) -> Principal | None:
        if self.local:
            return LOCAL
        if self.trusted(client):
            user = (headers.get(self.header) or "").strip()
            if user:
                entries = self.tokens.named(user)
                if not entries:
                    log.warning("Utilisateur %r du proxy %s non déclaré : refusé", user, client)
                return entries[0].principal() if entries else None
        cookie = cookies.get(COOKIE)
        return self.sessions.read(cookie, self.tokens) if cookie else None

    def of(self, request: Requestish | None) -> Principal | None:
        """The principal of a request (None without one: in-process callers are local only)."""
        if request is None:
            return LOCAL if self.local else None
        client = request.client.host if request.client else None
        return self.resolve(client, request.headers or {}, request.cookies or {})

    def username(self, request: Request) -> str | None:
        """Gradio's `auth_dependency`: the user's name, or None (Gradio then refuses too)."""
        who = self.of(request)
        return who.name if who else None

    def https(self, request: Request) -> bool:
        """Whether the browser speaks HTTPS: to us, or to a trusted proxy that says so."""
        client = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-proto", "").lower() == "https"
        return request.url.scheme == "https" or (forwarded and self.trusted(client))

    def login(self, name: str, token: str) -> Entry | None:
        """The user's entry when the token is theirs (the name must match it)."""
        entry = self.tokens.entry(token)
        return entry if entry is not None and hmac.compare_digest(
            entry.name.encode("utf-8"), name.strip().encode("utf-8")) else None


class ChatGate:
    """In front of the chat: a request without a user is sent to /login (a page) or refused
    (401 JSON); Gradio's file upload needs the editor role. The API has its own gate."""

    def __init__(self, app: ASGIApp, identity: Identity) -> None:
        self.app, self.identity = app, identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or _open(path):
            await self.app(scope, receive, send)
            return
        who = self.identity.of(HTTPConnection(scope))
        if who is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            refused: Response
            if scope.get("method") == "GET" and "text/html" in _header(scope, b"accept"):
                refused = RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            else:
                refused = error_response(401, "login_required",
                                         "Connexion requise : ouvrez /login.")
            await refused(scope, receive, send)
            return
        if path.rstrip("/").endswith("/gradio_api/upload") and not who.has("edit"):
            refused = error_response(403, "forbidden", "Votre rôle ne permet pas d'ajouter "
                                     "des contrats.")
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _open(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p if p.endswith("/") else p + "/")
               for p in OPEN_PATHS)


def _header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == name), "")


def _next_path(value: str | None) -> str:
    """Where to go after logging in: a path of this site only."""
    value = value or "/"
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


LOGIN_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Connexion — ContractQA</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f1f5f9;
  display: flex; justify-content: center; align-items: center; min-height: 100vh; margin: 0; }}
form {{ background: #fff; padding: 2rem; border-radius: 12px; width: 22rem; display: flex;
  box-shadow: 0 2px 12px rgba(15, 23, 42, .12); flex-direction: column; gap: .8rem; }}
h1 {{ margin: 0; font-size: 1.4rem; }} p {{ margin: 0; color: #475569; font-size: .9rem; }}
label {{ display: flex; flex-direction: column; gap: .3rem; font-weight: 600; font-size: .9rem; }}
input {{ padding: .5rem .6rem; border: 1px solid #cbd5e1; border-radius: 6px; font-size: 1rem; }}
button {{ padding: .6rem; border: 0; border-radius: 6px; background: #4f46e5; color: #fff;
  font-size: 1rem; font-weight: 600; cursor: pointer; }}
.error {{ color: #b91c1c; background: #fef2f2; border: 1px solid #fecaca; padding: .5rem;
  border-radius: 6px; }}
</style></head><body>
<form method="post" action="/login" id="cq-login">
<h1>ContractQA</h1><p>Connectez-vous avec votre identifiant et votre jeton d'accès.</p>
{error}
<label>Identifiant<input name="name" id="cq-login-name" autocomplete="username" required
 value="{name}"></label>
<label>Jeton d'accès<input name="token" id="cq-login-token" type="password"
 autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="cq-login-submit">Se connecter</button>
</form></body></html>
"""


def login_page(next_path: str, error: str = "", name: str = "", status: int = 200
               ) -> HTMLResponse:
    block = f'<div class="error" role="alert">{html.escape(error)}</div>' if error else ""
    return HTMLResponse(LOGIN_PAGE.format(error=block, name=html.escape(name, quote=True),
                                          next=html.escape(next_path, quote=True)),
                        status_code=status, headers={"Cache-Control": "no-store"})


def login_router(identity: Identity, audit: AuditLog) -> APIRouter:
    """GET/POST /login (the form, the session cookie) and GET /logout."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    async def login_form(request: Request, next: str = "/") -> Response:
        if identity.of(request) is not None:
            return RedirectResponse(_next_path(next), status_code=303)
        return login_page(_next_path(next))

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        name, token = str(form.get("name") or ""), str(form.get("token") or "")
        target = _next_path(str(form.get("next") or "/"))
        client = request.client.host if request.client else "?"
        wait = identity.attempts.hit(client)
        if wait:
            return login_page(target, f"Trop de tentatives : réessayez dans {wait} s.", name, 429)
        entry = identity.login(name, token)
        if entry is None:
            audit.write("login_failed", None, client=client, user=name[:64], origin="chat")
            return login_page(target, "Identifiant ou jeton incorrect.", name, 401)
        audit.write("login", entry.principal(), client=client, origin="chat")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, identity.sessions.issue(entry),
                            max_age=identity.sessions.seconds, httponly=True, samesite="strict",
                            secure=identity.https(request), path="/")
        return response

    @router.get("/logout")
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return router
