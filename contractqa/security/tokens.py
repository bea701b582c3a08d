"""Bearer tokens with scopes.

Tokens come from `CONTRACTQA_API_TOKENS` (comma-separated `name:token[:scopes]`, scopes joined
with `+`, default `ask`) and/or from `CONTRACTQA_API_TOKENS_FILE` (lines `name:sha256hex:scopes`,
`#` comments), which stores only hashes. Print the hash of a token with
`python -m contractqa.security TOKEN`. Only sha256 digests are kept in memory and they are
compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from contractqa.settings import Settings

log = logging.getLogger("contractqa.api")

SCOPES = ("ask", "admin")
_IMPLIED = {"admin": {"ask", "admin"}, "ask": {"ask"}}
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_NAME = re.compile(r"^[\w.@-]{1,64}$")

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
