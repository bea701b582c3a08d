"""Word automatic numbering rebuilt from numbering.xml, as Word prints it ("2.1.", "IV.", "b)").

A paragraph is numbered by its own w:numPr or by its style's (following w:basedOn). Counters are
kept per abstract list; a level restarts when a higher level advances; a w:num with a
w:startOverride restarts its list the first time it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docx.oxml.ns import qn


@dataclass(frozen=True)
class Level:
    start: int
    fmt: str  # decimal, upperRoman, lowerRoman, upperLetter, lowerLetter, bullet, none…
    text: str  # lvlText, e.g. "%1.%2."


@dataclass
class Numbering:
    """The lists of one DOCX and the counters of the paragraphs read so far."""

    abstract: dict[str, dict[int, Level]] = field(default_factory=dict)
    nums: dict[str, str] = field(default_factory=dict)  # numId -> abstractNumId
    overrides: dict[str, dict[int, int]] = field(default_factory=dict)  # numId -> ilvl -> start
    styles: dict[str, tuple[str, int]] = field(default_factory=dict)  # styleId -> numId, ilvl
    counters: dict[str, dict[int, int]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)

    def label(self, num_id: str, ilvl: int) -> str | None:
        """Advance the list and return the paragraph's printed number; None when undefined."""
        abstract_id = self.nums.get(num_id)
        levels = self.abstract.get(abstract_id or "", {})
        if abstract_id is None or ilvl not in levels:
            return None
        counters = self.counters.setdefault(abstract_id, {})
        if num_id not in self.started:
            self.started.add(num_id)
            for level, start in self.overrides.get(num_id, {}).items():
                counters[level] = start - 1
        counters[ilvl] = counters.get(ilvl, levels[ilvl].start - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        if levels[ilvl].fmt in ("bullet", "none"):
            return None
        text = levels[ilvl].text
        for level in range(ilvl + 1):
            value = counters.get(level, levels[level].start if level in levels else 1)
            fmt = levels[level].fmt if level in levels else "decimal"
            text = text.replace(f"%{level + 1}", format_number(value, fmt))
        return text.strip() or None


def format_number(value: int, fmt: str) -> str:
    if fmt in ("upperRoman", "lowerRoman"):
        roman = _roman(value)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt in ("upperLetter", "lowerLetter"):
        letter = chr(ord("A") + (value - 1) % 26) * ((value - 1) // 26 + 1)
        return letter if fmt == "upperLetter" else letter.lower()
    if fmt == "decimalZero":
        return f"{value:02d}"
    return str(value)


def _roman(value: int) -> str:
    out = ""
    for size, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"),
                          (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"),
                          (4, "IV"), (1, "I")):
        count, value = divmod(value, size)
        out += letters * count
    return out


def _val(element: Any, tag: str) -> str | None:
    child = element.find(qn(tag)) if element is not None else None
    return child.get(qn("w:val")) if child is not None else None


def read_numbering(document: Any) -> Numbering:
    """The list definitions of a python-docx Document (empty when it has no numbering part)."""
    numbering = Numbering()
    try:
        root = document.part.numbering_part.element
    except (KeyError, NotImplementedError):
        root = None
    if root is not None:
        for abstract in root.findall(qn("w:abstractNum")):
            levels: dict[int, Level] = {}
            for lvl in abstract.findall(qn("w:lvl")):
                levels[int(lvl.get(qn("w:ilvl")))] = Level(
                    int(_val(lvl, "w:start") or 1), _val(lvl, "w:numFmt") or "decimal",
                    _val(lvl, "w:lvlText") or "",
                )
            numbering.abstract[abstract.get(qn("w:abstractNumId"))] = levels
        for num in root.findall(qn("w:num")):
            num_id = num.get(qn("w:numId"))
            numbering.nums[num_id] = _val(num, "w:abstractNumId") or ""
            for override in num.findall(qn("w:lvlOverride")):
                start = _val(override, "w:startOverride")
                if start is not None:
                    numbering.overrides.setdefault(num_id, {})[
                        int(override.get(qn("w:ilvl")))] = int(start)
    for style in document.styles.element.findall(qn("w:style")):
        found = _style_numbering(style, document.styles.element)
        if found:
            numbering.styles[style.get(qn("w:styleId"))] = found
    return numbering


def _style_numbering(style: Any, styles: Any) -> tuple[str, int] | None:
    seen: set[str] = set()
    while style is not None and style.get(qn("w:styleId")) not in seen:
        seen.add(style.get(qn("w:styleId")))
        ppr = style.find(qn("w:pPr"))
        numpr = ppr.find(qn("w:numPr")) if ppr is not None else None
        if numpr is not None and _val(numpr, "w:numId"):
            return _val(numpr, "w:numId") or "", int(_val(numpr, "w:ilvl") or 0)
        based = _val(style, "w:basedOn")
        style = next((s for s in styles.findall(qn("w:style"))
                      if s.get(qn("w:styleId")) == based), None)
    return None


def paragraph_numbering(paragraph: Any, numbering: Numbering) -> tuple[str, int] | None:
    """(numId, ilvl) of a paragraph: its own w:numPr, else its style's; None when unnumbered."""
    ppr = paragraph._p.pPr
    numpr = ppr.numPr if ppr is not None else None
    style_id = _val(ppr, "w:pStyle") if ppr is not None else None
    from_style = numbering.styles.get(style_id or "")
    if numpr is not None:
        num_id = numpr.numId.val if numpr.numId is not None else (from_style or ("", 0))[0]
        ilvl = numpr.ilvl.val if numpr.ilvl is not None else (from_style or ("", 0))[1]
        if str(num_id) == "0":  # numbering switched off on this paragraph
            return None
        return str(num_id), int(ilvl)
    return from_style
