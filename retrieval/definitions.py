"""Definition questions: find where a contract defines the term a question quotes.

"Que désigne le terme « Données Client » ?" is answered by the clause that defines the term,
not by the clauses that merely use it. Contracts define terms in a few conventional ways,
which are what this module looks for (no contract-specific knowledge):

- a definition list entry: "Données Client : désigne …", "SOW (Statement of Work) : …",
  "Concédant: désigne …", "Robot désigne …", "Sont considérées comme Informations
  Confidentielles …", an article headed "Définition des Informations Confidentielles";
- a term introduced in quotes: "(une « Opération »)", "ci-après les « Informations
  Confidentielles »", "Est considéré comme un « Robot »";
- an article whose heading is the term itself ("3. Réversibilité").
"""

from __future__ import annotations

import re

from french.normalize import fold
from ingest.models import Chunk

_QUOTED = re.compile(r"[«\"“]\s*([^»\"”]{2,60}?)\s*[»\"”]")
_CUE = re.compile(
    r"\b(d[ée]sign\w*|signifi\w*|entend|entend-on|recouvr\w*|notion|terme|d[ée]finition|"
    r"d[ée]fini\w*|au sens|vis[ée]e?s?|qualifi\w*|consid[ée]r\w*)\b",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_LIST_ENTRY = 3  # strengths, strongest first
_QUOTED_IN_TEXT = 2
_HEADING = 2


def defined_term(question: str) -> str | None:
    """The quoted term of a definition question ("Que désigne « X » ?"), else None."""
    match = _QUOTED.search(question)
    if not match or not _CUE.search(question):
        return None
    return match.group(1).strip()


def _norm(text: str) -> str:
    return _SPACES.sub(" ", fold(text)).strip()


def _text_strength(term: str, text: str) -> int:
    """How plainly `text` defines the (normalised) term: 0 when it does not."""
    escaped = re.escape(term)
    entry = re.compile(rf"(?:^|[.;:•*]\s|[-–]\s)\s*{escaped}\s*(?:\([^)]{{0,80}}\)\s*)?"
                       rf"(?::|-\s|–|designe|signifie|s'entend|means)")
    phrase = re.compile(rf"(?:considere(?:e|s|es)? comme|on entend par|entend par|designee?s? par)"
                        rf"\s+(?:les |le |la |l'|un |une |des )?{escaped}\b")
    # Line by line, so that an entry at the start of a line is seen as one.
    lines = [_norm(line) for line in text.splitlines()]
    if any(entry.search(line) or phrase.search(line) for line in lines):
        return _LIST_ENTRY
    if any(re.search(rf"[«\"“]\s*{escaped}\s*[»\"”]", line) for line in lines):
        return _QUOTED_IN_TEXT
    return 0


def _strength(term: str, chunk: Chunk) -> int:
    heading = _norm(chunk.heading or "")
    if "definition" in heading and term in heading:
        return _LIST_ENTRY
    return max(_text_strength(term, chunk.text), _HEADING if heading.strip(" .:") == term else 0)


def defining_sentence(term: str, candidates: list[str]) -> str | None:
    """The sentence among `candidates` that defines the term most plainly, if any."""
    wanted = _norm(term)
    scored = [(_text_strength(wanted, s), -i, s) for i, s in enumerate(candidates)]
    best = max(scored, default=(0, 0, ""))
    return best[2] if best[0] else None


def find_definitions(term: str, chunks: list[Chunk], limit: int = 2) -> list[Chunk]:
    """The chunks that define `term`, strongest convention first, then in reading order."""
    wanted = _norm(term)
    if len(wanted) < 2:
        return []
    scored = [(s, c) for c in chunks if wanted in _norm(c.text) or (
        c.heading and wanted in _norm(c.heading)) if (s := _strength(wanted, c))]
    if not scored:
        return []
    best = max(s for s, _ in scored)
    found = [c for s, c in scored if s == best]
    found.sort(key=lambda c: (c.document_id, c.start, c.part))
    return found[:limit]
