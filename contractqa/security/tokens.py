"""Bearer tokens with scopes.

Tokens come from `CONTRACTQA_API_TOKENS` (comma-separated `name:token[:scopes[:matters]]`,
scopes and matters joined with `+`, default scope `ask`, default every matter) and/or from
`CONTRACTQA_API_TOKENS_FILE` (lines `name:sha256hex:scopes[:matters]`, `#` comments), which
stores only hashes. Scopes are roles: `ask` (a reader: ask, read outlines and articles), `edit`
(an editor: also upload and replace), `admin` (also delete); `reader`, `editor` are their
names too. Matters (dossiers) bound what a token sees: the contracts of those matters only.
Print the hash of a token with `python -m contractqa.security TOKEN`. Only sha256 digests are
kept in memory and they are compared with `hmac.compare_digest`. A user signed in by a trusted
reverse proxy (contractqa/security/identity.py) is declared with `-` for token
(`name:-:scopes[:matters]`): a name, a role and matters, no token to log in with.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from contractqa.settings import MATTER_PATTERN, Settings

log = logging.getLogger("contractqa.api")

SCOPES = ("ask", "edit", "admin")
_IMPLIED = {"admin": {"ask", "edit", "admin"}, "edit": {"ask", "edit"}, "ask": {"ask"}}
_ROLE_NAMES = {"reader": "ask", "editor": "edit"}
_MATTER = re.compile(MATTER_PATTERN)
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_NAME = re.compile(r"^[\w.@-]{1,64}$")
NO_TOKEN = "-"  # a user known by name only: signed in by the trusted proxy, never by a token

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
    """Who is calling: the token's (or user's) name, its scopes, and the matters whose
    contracts it may see (None: every matter)."""

    name: str
    scopes: frozenset[str]
    matters: frozenset[str] | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def sees(self, matters: list[str]) -> bool:
        """Whether a contract of these matters is visible to this principal."""
        return self.matters is None or bool(self.matters & set(matters))


def parse_scopes(text: str) -> frozenset[str]:
    """`ask`, `edit`, `admin`, `ask+admin`, `reader`, `editor` (or `,`/space separated): admin
    implies edit, which implies ask."""
    names = [_ROLE_NAMES.get(s, s) for s in re.split(r"[+,\s|]+", text.strip().lower()) if s]
    unknown = [s for s in names if s not in SCOPES]
    if unknown or not names:
        raise ValueError(f"scopes inconnus {unknown or text!r} (attendus : {', '.join(SCOPES)})")
    return frozenset().union(*(_IMPLIED[s] for s in names))


def parse_matters(text: str) -> frozenset[str] | None:
    """`*` or nothing: every matter; else matter ids joined by `+`."""
    names = [m for m in re.split(r"[+,\s|]+", text.strip()) if m]
    if not names or names == ["*"]:
        return None
    bad = [m for m in names if not _MATTER.match(m)]
    if bad:
        raise ValueError(f"dossiers invalides {bad!r} (lettres, chiffres, « . », « - », « _ »)")
    return frozenset(names)


@dataclass(frozen=True)
class Entry:
    """A known token: its name, sha256 digest (None: a user without token, signed in by the
    trusted proxy only), scopes and matters (None: every matter)."""

    name: str
    digest: bytes | None
    scopes: frozenset[str]
    matters: frozenset[str] | None

    def principal(self) -> Principal:
        return Principal(self.name, self.scopes, self.matters)


class TokenStore:
    """Known tokens as (name, sha256 digest, scopes); verification in constant time."""

    def __init__(self, entries: list[Entry]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenStore:
        entries: list[Entry] = []
        raw = settings.api_tokens.get_secret_value() if settings.api_tokens else ""
        for i, item in enumerate(p.strip() for p in raw.split(",")):
            if not item:
                continue
            parts = item.split(":")
            try:
                if (len(parts) not in (2, 3, 4) or not _NAME.match(parts[0])
                        or (len(parts[1]) < 8 and parts[1] != NO_TOKEN)):
                    raise ValueError("format attendu nom:jeton[:scopes[:dossiers]], jeton ≥ 8 "
                                     "caractères (ou « - » : sans jeton)")
                scopes = parse_scopes(parts[2]) if len(parts) >= 3 else frozenset({"ask"})
                matters = parse_matters(parts[3]) if len(parts) == 4 else None
            except ValueError as exc:  # never log the token itself
                log.error("CONTRACTQA_API_TOKENS, entrée n°%d ignorée : %s", i + 1, exc)
                continue
            digest = None if parts[1] == NO_TOKEN else hashlib.sha256(parts[1].encode()).digest()
            entries.append(Entry(parts[0], digest, scopes, matters))
        if settings.api_tokens_file:
            entries.extend(_read_token_file(settings.api_tokens_file))
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            log.warning("Noms de jetons en double : le quota de requêtes est partagé par nom.")
        return cls(entries)

    def verify(self, token: str) -> Principal | None:
        """The principal of a token, or None."""
        found = self.entry(token)
        return found.principal() if found else None

    def entry(self, token: str) -> Entry | None:
        """The entry of a token, or None; every entry is compared (no early exit)."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: Entry | None = None
        for entry in self._entries:
            if (entry.digest is not None and hmac.compare_digest(digest, entry.digest)
                    and found is None):
                found = entry
        return found

    def named(self, name: str) -> list[Entry]:
        """The entries declared under this name (a user, or a token's name)."""
        return [e for e in self._entries if e.name == name]


def _read_token_file(path: Path) -> list[Entry]:
    entries: list[Entry] = []
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
            if (len(parts) not in (3, 4) or not _NAME.match(parts[0])
                    or not (_HEX64.match(parts[1]) or parts[1] == NO_TOKEN)):
                raise ValueError("format attendu nom:sha256hex:scopes[:dossiers] (ou nom:-:… "
                                 "pour un utilisateur sans jeton)")
            digest = None if parts[1] == NO_TOKEN else bytes.fromhex(parts[1])
            entries.append(Entry(parts[0], digest, parse_scopes(parts[2]),
                                 parse_matters(parts[3]) if len(parts) == 4 else None))
        except ValueError as exc:
            log.error("%s ligne %d ignorée : %s", path, number, exc)
    return entries
