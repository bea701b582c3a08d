"""Split a contract excerpt into sentences and list items, keeping the contract's exact words:
French abbreviations do not end a sentence, a list stays with the sentence announcing it."""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-ZÀ-Ý«(\"“-])")  # within one line (see _split)
_LIST_ITEM = re.compile(r"^(?:[•◦▪\-–—*]|\(?(?:[a-z]|\d{1,2}|[ivx]{1,4})\)|\d{1,2}\.)\s")
_LEAD_IN_LIMIT = 900  # characters: a longer list is quoted item by item


def sentences(text: str, lists: bool = True) -> list[str]:
    """Split an excerpt into sentences or list items (the contract's exact words).

    A sentence announcing a list ("… ne s'applique pas :") keeps its items: alone it says
    nothing, and a quote must not cut off what it announces. With `lists=False` every item
    stands alone.
    """
    units: list[str] = []
    in_list = False
    for part in (p.strip() for p in _split(text)):
        if not part:
            continue
        item = lists and bool(_LIST_ITEM.match(part))
        if item and units and (in_list or units[-1].endswith(":")) and (
                len(units[-1]) + len(part) < _LEAD_IN_LIMIT):
            units[-1] = f"{units[-1]} {part}"
            in_list = True
            continue
        units.append(part)
        in_list = False
    # Headings ("10.2 Limitation de responsabilité.", a title in capitals) are labels, not
    # evidence.
    return [u for u in units if len(u) > 12 and len(u.split()) >= 6 and not _title(u)]


def _title(unit: str) -> bool:
    """A line in capitals with no sentence punctuation: "CONDITIONS GÉNÉRALES DE VENTE …"."""
    # A colon inside is a heading's ("ARTICLE 2 : TERRITOIRE ET DUREE", pool-3); one at the
    # end announces a list ("LE CLIENT S'ENGAGE À :").
    return (unit == unit.upper() and not re.search(r"[.;!?]|:\s*$", unit)
            and len(unit.split()) <= 15)


# French abbreviations and initials that end with a period inside a sentence: "art. L. 441-10",
# "M. Dupont", "cf. article 3", "n. 12", "S.A.S. au capital". Standard French legal usage (the
# issue's examples), not taken from any contract.
_ABBREVIATION = re.compile(
    r"(?:\b(?:art|arts|cf|M|MM|Mme|Mmes|Mlle|Me|Dr|Pr|St|Ste|n|no|p|pp|al|alin|ch|chap|"
    r"sect|réf|ref|vol|ex|env|éd|ed|c|civ|com|trav|pén|suiv|s|ss|av|bd|tél)|\b[A-Z]|"
    r"\b(?:[A-Z]\.){1,3}[A-Z])\.$"
)


def _split(text: str) -> list[str]:
    """Sentences, line by line; a list item stays whole ("- Panne P1 : … ; Délai … ;").

    A period after an abbreviation or an initial does not end a sentence.
    """
    parts: list[str] = []
    for line in text.split("\n"):
        if _LIST_ITEM.match(line.strip()) and len(line) < _LEAD_IN_LIMIT:
            parts.append(line)
            continue
        pieces: list[str] = []
        for piece in _SENTENCE.split(line):
            if pieces and _ABBREVIATION.search(pieces[-1]):
                pieces[-1] = f"{pieces[-1]} {piece}"
            else:
                pieces.append(piece)
        parts.extend(pieces)
    return parts
