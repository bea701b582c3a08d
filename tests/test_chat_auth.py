"""The chat's identity, in process: who a request is (local user, trusted proxy's header,
signed session cookie), when the app refuses to start, and the settings that say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from contractqa.security.identity import (
    COOKIE,
    LOCAL,
    Identity,
    Sessions,
    _next_path,
    exposure_error,
    is_loopback,
)
from contractqa.security.tokens import TokenStore
from contractqa.settings import Settings

USERS = ("alice:alice-token-123:reader:dossier-a,root:root-token-890:admin,"
         "carol:-:editor:dossier-b")


def _settings(**values: object) -> Settings:
    return Settings(data_dir=Path("/nonexistent"), _env_file=None, **values)  # type: ignore[call-arg]


def _identity(**values: object) -> Identity:
    settings = _settings(**values)
    return Identity(settings, TokenStore.from_settings(settings))


def test_loopback_hosts_and_the_refusal_to_start_elsewhere() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "192.168.1.20", "::", "contractqa.example.com"):
        assert not is_loopback(host), host
    assert exposure_error(_settings(), TokenStore([])) is None
    public = _settings(host="0.0.0.0")
    message = exposure_error(public, TokenStore.from_settings(public))
    assert message is not None and message.startswith("Démarrage refusé")
    for setting in ("CONTRACTQA_HOST", "CONTRACTQA_API_TOKENS", "CONTRACTQA_API_TOKENS_FILE",
                    "CONTRACTQA_TRUSTED_PROXIES", "CONTRACTQA_PROXY_USER_HEADER"):
        assert setting in message
    declared = _settings(host="0.0.0.0", api_tokens=USERS)
    assert exposure_error(declared, TokenStore.from_settings(declared)) is None
    # A proxy in front of a loopback address opens the app too: users are needed.
    proxied = _settings(trusted_proxies="127.0.0.1")
    message = exposure_error(proxied, TokenStore.from_settings(proxied))
    assert message is not None and "CONTRACTQA_TRUSTED_PROXIES place" in message
    assert not Identity(proxied, TokenStore([])).local


def test_on_loopback_without_users_everyone_is_the_local_admin() -> None:
    identity = _identity()
    assert identity.local
    assert identity.resolve("127.0.0.1", {}, {}) == LOCAL
    assert identity.of(None) == LOCAL and LOCAL.has("admin") and LOCAL.matters is None
    # Users declared: a login is needed, even on loopback.
    declared = _identity(api_tokens=USERS)
    assert not declared.local
    assert declared.resolve("127.0.0.1", {}, {}) is None and declared.of(None) is None


def test_a_session_cookie_is_signed_bound_to_the_token_and_expires() -> None:
    identity = _identity(api_tokens=USERS)
    entry = identity.login("alice", "alice-token-123")
    assert entry is not None
    cookie = identity.sessions.issue(entry)
    who = identity.resolve("10.0.0.9", {}, {COOKIE: cookie})
    assert who is not None and who.name == "alice" and who.matters == {"dossier-a"}
    assert not who.has("edit")
    # Another user's name in the payload, a mac cut short, garbage: no one.
    root = identity.login("root", "root-token-890")
    assert root is not None
    forged = identity.sessions.issue(root).split(".")[0] + "." + cookie.split(".")[1]
    for bad in (forged, cookie[:-4], "garbage", ".", ""):
        assert identity.resolve("10.0.0.9", {}, {COOKIE: bad}) is None, bad
    # Alice's token changed: her sessions end. A restart without CONTRACTQA_SESSION_SECRET too.
    changed = _identity(api_tokens=USERS.replace("alice-token-123", "alice-token-456"))
    changed.sessions = identity.sessions
    assert changed.resolve("10.0.0.9", {}, {COOKIE: cookie}) is None
    assert _identity(api_tokens=USERS).resolve("10.0.0.9", {}, {COOKIE: cookie}) is None
    shared = _identity(api_tokens=USERS, session_secret="a-secret-of-the-firm")
    kept = shared.sessions.issue(entry)
    again = _identity(api_tokens=USERS, session_secret="a-secret-of-the-firm")
    assert again.resolve("10.0.0.9", {}, {COOKIE: kept}) is not None
    expired = Sessions(b"k" * 32, hours=1)
    expired.seconds = -1
    assert expired.read(expired.issue(entry), identity.tokens) is None


def test_login_needs_the_name_and_the_token_of_one_user() -> None:
    identity = _identity(api_tokens=USERS)
    assert identity.login("root", "alice-token-123") is None  # someone else's token
    assert identity.login("alice", "wrong-token-000") is None
    assert identity.login("carol", "-") is None  # a proxy user has no token to log in with
    assert identity.login(" alice ", "alice-token-123") is not None


def test_the_proxy_header_is_honoured_only_from_trusted_addresses() -> None:
    identity = _identity(api_tokens=USERS, trusted_proxies="10.0.0.5, 10.1.0.0/16")
    carol = identity.resolve("10.0.0.5", {"remote-user": "carol"}, {})
    assert carol is not None and carol.name == "carol" and carol.has("edit")
    assert identity.resolve("10.1.200.3", {"remote-user": "root"}, {}) is not None
    # Any other peer: the header is ignored (no user, or the cookie's user).
    for peer in ("10.0.0.6", "127.0.0.1", "192.168.0.5", None, "not-an-address"):
        assert identity.resolve(peer, {"remote-user": "root"}, {}) is None, peer
    entry = identity.login("alice", "alice-token-123")
    assert entry is not None
    cookie = {COOKIE: identity.sessions.issue(entry)}
    who = identity.resolve("192.168.0.5", {"remote-user": "root"}, cookie)
    assert who is not None and who.name == "alice"
    # A name the proxy sends that is not declared: refused, never guessed.
    assert identity.resolve("10.0.0.5", {"remote-user": "mallory"}, {}) is None
    other = _identity(api_tokens=USERS, trusted_proxies="10.0.0.5",
                      proxy_user_header="X-Forwarded-User")
    assert other.resolve("10.0.0.5", {"x-forwarded-user": "carol"}, {}) is not None
    assert other.resolve("10.0.0.5", {"remote-user": "carol"}, {}) is None


def test_settings_check_proxies_and_accept_users_without_token() -> None:
    assert _settings(trusted_proxies="10.0.0.5, 10.1.0.0/16").trusted_proxies == [
        "10.0.0.5", "10.1.0.0/16"]
    with pytest.raises(ValidationError, match="CIDR"):
        _settings(trusted_proxies="10.0.0.5, proxy.local")
    with pytest.raises(ValidationError):
        _settings(proxy_user_header="Remote User")
    store = TokenStore.from_settings(_settings(api_tokens=USERS))
    assert [e.name for e in store.named("carol")] == ["carol"]
    assert store.verify("-") is None


def test_login_redirects_stay_on_this_site() -> None:
    assert _next_path("/?tab=review") == "/?tab=review"
    for bad in ("https://evil.example", "//evil.example", "/\\evil.example", "", None):
        assert _next_path(bad) == "/"
