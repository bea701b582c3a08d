"""Numbers, amounts and durations as French contracts write them: digits with a space, a
non-breaking space or a dot between thousands and a decimal comma ("1 000,50", "1.000"),
spelled-out numbers ("quatorze jours", "quarante-cinq", "deux mille cinq cents": text2num, a
maintained parser, not a word list), multipliers ("10 k€", "1 M€") and currencies ("50 000
EUR", "euros", "€")."""

from __future__ import annotations

import re

from text_to_num import alpha2digit

_MARKER = re.compile(r"\[\d+\]")  # an answer's citation marker is not a figure
# A number with dots that is not a thousands separator ("16.3", "11.2.6") numbers a clause: it
# is one figure, never "16" and "3" (a "6 mois" was held by the heading "11.2.6 Sécurité …" of
# another contract in the 1.5B's answer, 2026-12-04). French writes decimals with a comma.
_SECTION = re.compile(r"(?<![\d.,])\d+(?:\.\d+)+(?![\d,])")
_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+")
_FIGURE = re.compile(r"\d+(?:[\s\u00a0\u202f.]\d{3})*(?:,\d+)?")
_MULTIPLIED = re.compile(r"(\d+(?:,\d+)?)\s*([kKM])\s*(?:€|EUR\b|euros?\b)")
_MULTIPLIERS = {"k": 1_000, "K": 1_000, "M": 1_000_000}
# A number, digits or spelled out, before a unit of time; a parenthesised repeat of it in
# digits ("trente (30) jours") is allowed between them.
# "24 h", "17h", "17h30", "48 h" as written in the pool-2 rental terms and DPA annexes.
_UNIT_OF_TIME = r"(?:jours?|mois|ans?|ann[ée]es?|semaines?|heures?|minutes?|h(?:\d{2})?)"
# "un an", "d'un mois", "une semaine": text2num leaves "un" after an elision in words.
DURATION = re.compile(
    rf"\b(?:\d+(?:,\d+)?|une?)\s*(?:\([^)]{{1,30}}\)\s*)?{_UNIT_OF_TIME}\b", re.IGNORECASE)
AMOUNT = re.compile(
    r"\d[\d\s.,]*\s*(?:[kKM]\s*)?(?:€|EUR\b|euros?\b|%)|montant (?:total )?des sommes|"
    r"\bfois le montant",
    re.IGNORECASE,
)


def to_digits(text: str) -> str:
    """`text` with its spelled-out numbers written in digits ("quatorze jours" -> "14 jours",
    "un an" -> "1 an"), the rest unchanged."""
    return str(alpha2digit(text, "fr", threshold=0))


def _normalise(raw: str) -> str:
    digits = re.sub(r"[\s\u00a0\u202f]", "", raw)
    if re.fullmatch(r"\d{1,3}(\.\d{3})+", digits):
        digits = digits.replace(".", "")  # "1.000": a thousands separator
    value = digits.replace(",", ".")
    return value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0"


def figures(text: str, spelled: bool = False) -> set[str]:
    """The numbers of a text, normalised ("1 000,50" -> "1000.5", "030" -> "30"); an amount
    with a multiplier also as its value ("10 k€" -> "10", "10000"); with `spelled`, the
    numbers written in words too ("quatorze" -> "14")."""
    text = _MARKER.sub(" ", text)
    if spelled:
        text = to_digits(text)
    out: set[str] = set()

    def section(match: re.Match[str]) -> str:
        raw = match.group(0)
        if _THOUSANDS.fullmatch(raw) or any(len(part) > 3 for part in raw.split(".")):
            return raw  # "1.000", or a date ("01.02.2024": read as before)
        out.add(raw)
        return " "

    text = _SECTION.sub(section, text)
    out |= {_normalise(raw) for raw in _FIGURE.findall(text)}
    for number, multiplier in _MULTIPLIED.findall(text):
        value = float(number.replace(",", ".")) * _MULTIPLIERS[multiplier]
        out.add(str(int(value)) if value.is_integer() else str(value))
    return out


# A number with the unit that makes it a rate or a sum ("10 %", "dix pour cent", "40 €",
# "1 200 euros HT", "10 k€"): a sentence giving "10 %" is not held by an excerpt that says
# "10 (dix) jours" (the 1.5B's answer to a late-payment rate, 2026-12-03, eval/llm).
_WITH_UNIT = re.compile(
    r"(\d+(?:[\s\u00a0\u202f.]\d{3})*(?:,\d+)?)\s*(?:\([^)]{1,30}\)\s*)?"
    r"(%|pour\s*cent\b|[kKM]\s*(?:€|EUR\b|euros?\b)|€|EUR\b|euros?\b)", re.IGNORECASE)


def unit_figures(text: str, spelled: bool = False) -> set[str]:
    """The rates and sums of a text, each as its number and unit ("10 %" -> "10%", "quarante
    (40) euros" -> "40€", "10 k€" -> "10000€"); with `spelled`, those written in words too."""
    text = _MARKER.sub(" ", text)
    if spelled:
        text = to_digits(text)
    out: set[str] = set()
    for number, unit in _WITH_UNIT.findall(text):
        folded = re.sub(r"\s+", "", unit.lower())
        value = _normalise(number)
        if folded[0] in "km":
            scaled = float(value) * (1_000 if folded[0] == "k" else 1_000_000)
            value = str(int(scaled)) if scaled.is_integer() else str(scaled)
        out.add(value + ("%" if folded in ("%", "pourcent") else "€"))
    return out


def has_duration(text: str) -> bool:
    """Whether a text states a duration ("quatorze jours", "30 jours", "trente (30) jours")."""
    return bool(DURATION.search(text) or DURATION.search(to_digits(text)))


def has_amount(text: str) -> bool:
    """Whether a text states an amount or a rate ("50 000 EUR", "10 k€", "3 %")."""
    return bool(AMOUNT.search(text) or AMOUNT.search(to_digits(text)))
