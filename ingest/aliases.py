"""Derive how lawyers name a contract (parties, trade names, document types) from its text.

Nothing here knows the sample contracts: names come from legal-entity patterns ("X, société
par actions simplifiée"), trade-mark phrases ("marque X", "plateforme X"), distinctive
capitalised names, and the acronyms a contract gives itself ("(ci-après « CGV »)").
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from french.normalize import fold, fold_with_offsets, folded_words, nfc
from french.tokens import STOPWORDS

_NAME = r"[A-Z][\w.&'’-]*(?:[ \t]+[A-Z][\w.&'’-]*){0,3}"
_ENTITY = re.compile(rf"({_NAME}),?\s+(?:une?\s+)?(?:société|Société|SAS\b|SARL\b|SA\b)")
_COMPANY = re.compile(rf"\b(?i:la soci[ée]t[ée])\s+({_NAME})")  # also "DE LA SOCIÉTÉ X"
_TRADE = re.compile(r"\b(?:marque|produit|plateforme|platform|licence)\s+([A-Z][\w.]*[A-Za-z])")
_CAMEL = re.compile(r"\b([A-Z][a-z]+[A-Z][A-Za-z]*|[A-Z]{2,}[a-z]{2,}[A-Z]*)\b")
# Two capitalised words, accents included, maybe joined by "de" ("Durée Ferme", "Réserve
# d'Instance", "Niveau de Service"): how contracts write their defined terms.
_BIGRAM = re.compile(
    r"\b([A-ZÀ-Ý][a-zà-ÿ]{2,}(?:[ \t]+(?:de|des|du)[ \t]+|[ \t]+d['’]|[ \t]+)"
    r"[A-ZÀ-Ý][a-zà-ÿ]{2,})\b")
_ACRONYM = re.compile(
    r"[(«\"“]\s*(?:ci-après\s+(?:le|la|les|l')?\s*)?[«\"“]?\s*([A-Z]{2,6})\s*[»\"”)]"
)
# A title's kind of contract, folded: "contrat de maintenance", "conditions generales d'achat",
# "cahier des clauses particulieres", "bail commercial", "engagement de confidentialite".
_TITLE_KIND = re.compile(
    r"(?<![\w-])(?:(?:contrat|accord-cadre|accord|convention|protocole|engagement|charte)"
    r"\s+(?:de\s+|d')[a-z][a-z-]{3,}|conditions generales (?:d'|de |du )[a-z][a-z-]{3,}|"
    r"cahier des clauses [a-z]{4,}(?: [a-z]{4,})?|bail [a-z]{4,})"
)
_TYPES = {
    "cgv": ("conditions generales de vente",),
    "cgu": ("conditions generales d'utilisation",),
    "cgvu": ("conditions generales de vente et d'utilisation",),
    "dpa": ("data processing", "sous-traitance rgpd", "donnees a caractere personnel",
            "traitement des donnees"),
    "msa": ("master services agreement",),
    "licence": ("licence", "license"),
    # employment contracts, as French lawyers abbreviate them
    "cdi": ("contrat de travail a duree indeterminee", "contrat a duree indeterminee"),
    "cdd": ("contrat de travail a duree determinee", "contrat a duree determinee"),
}
_GENERIC = {
    "client", "clients", "prestataire", "partie", "parties", "contrat", "services", "service",
    "conditions", "generales", "donnees", "personnelles", "responsable", "traitement", "union",
    "europeenne", "code", "civil", "commerce", "article", "annexe", "le", "la", "les", "ce",
    "cette", "en", "si", "tout", "toute", "france", "paris", "sous-traitant", "societe",
    "utilisateur", "utilisateurs", "plateforme", "logiciel", "licence", "dans", "pour", "par",
    "aux", "des", "une", "un", "il", "elle", "chaque", "aucun", "aucune", "lorsque", "cloud",
    "data", "saas", "ai", "ia", "the", "de", "du", "et", "ou",
    # civilities name nobody
    "m", "mme", "mmes", "mlle", "madame", "monsieur", "messieurs", "me", "maitre", "mr",
}


@dataclass(frozen=True)
class Profile:
    """How a contract can be named: display title, party/trade names and document types.

    `candidates` are capitalised names seen often in the text; the router keeps those that are
    distinctive across the indexed corpus (a defined term like "Force Majeure" is not).
    """

    title: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    candidates: tuple[str, ...] = ()


def _clean_name(name: str) -> str | None:
    name = re.sub(r"\s+", " ", name).strip(" .,’'")
    words = [w for w in fold(name).split() if w not in _GENERIC]
    if not words or len(name) < 3:
        return None
    return name


def derive_profile(title: str, text: str) -> Profile:
    head = text[:6000]
    names: list[str] = []
    for pattern in (_ENTITY, _COMPANY, _TRADE):
        for match in pattern.finditer(head):
            name = _clean_name(match.group(1))
            if name and fold(name) not in {fold(n) for n in names}:
                names.append(name)
    camel = Counter(n for m in _CAMEL.finditer(text) if (n := _clean_name(m.group(1))))
    for name, count in camel.most_common(4):
        # A trade name is introduced with the parties; later mentions are often third parties.
        if count >= 3 and name in text[:1500] and fold(name) not in {fold(n) for n in names}:
            names.append(name)
    candidates = _defined_terms(text)
    for name in [*naming_terms(title, text), *subject_phrases(text)]:
        if fold(name) not in {fold(c) for c in candidates}:
            candidates.append(name)
    types = _types(title, head)
    display = _display_title(title, head, names)
    return Profile(display, tuple(names[:6]), tuple(types), tuple(candidates))


def singular_key(name: str) -> str:
    """A name folded with each word's plural mark dropped: "Réserves d'Instances" and "Réserve
    d'Instance" are one defined term."""
    return " ".join(w[:-1] if len(w) >= 5 and w[-1] in "sx" else w for w in folded_words(name))


def _defined_terms(text: str) -> list[str]:
    """Capitalised word pairs the contract writes at least three times, singular and plural
    counted together (the sample NumSpot CGV writes its "Réserve(s) d'Instance(s)" seven times,
    in three forms none of which reaches three alone); the most written form names the term."""
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for match in _BIGRAM.finditer(text):
        name = match.group(1)
        if any(w not in _GENERIC for w in fold(name).split()):
            forms[singular_key(name)][name] += 1
    totals = Counter({key: sum(c.values()) for key, c in forms.items()})
    return [forms[key].most_common(1)[0][0] for key, count in totals.most_common(20)
            if count >= 3]


# Where a contract introduces what it is about and who its parties are: its title block and
# opening, the same 6,000 characters parties are looked for in (the pool's convention names
# its territory in its preamble, 2,600 characters in).
_OPENING = 6000
# A distinctive word: capitalised, an acronym or a brand ("Aquaréel", "DINUM", "HubEE",
# "DGFiP", "iDocus", "24ÈME").
_PROPER = re.compile(
    r"(?<![\w'’-])([A-ZÀ-Ý][\w&-]*[A-Za-zÀ-ÿ0-9]|[a-z]{1,2}[A-ZÀ-Ý][\w&-]*[A-Za-zÀ-ÿ0-9]|"
    r"\d+[A-ZÀ-Ý]{2,}[\w&-]*)(?![\w'’])"
)
_SMALL_WORDS = frozenset(fold(w) for w in """
de des du d la le les l et ou en a au aux pour par sur avec sans dans entre
""".split())


def naming_terms(title: str, text: str) -> list[str]:
    """Words and phrases a lawyer may name the contract by, from its own title and opening.

    Candidates only: the router keeps those that are rare in the rest of the indexed corpus
    (a party, a product, a public body, an acronym; not "Client" or "Article"). They are
    capitalised words not opening a sentence, acronyms, the title and its initials ("Cahier
    des Clauses Particulières" gives "CCP").
    """
    opening = f"{title}\n{text[:_OPENING]}"
    terms: list[str] = []
    for match in _PROPER.finditer(opening):
        word = match.group(1)
        before = opening[:match.start()].rstrip(" \t«\"“(")
        sentence_start = not before or before[-1] in ".!?:\n"
        acronym = sum(c.isupper() for c in word) >= 2 or not word[0].isupper()
        if (acronym or not sentence_start) and len(word) >= 3 and fold(word) not in _GENERIC:
            terms.append(word)
    clean_title = " ".join(title.split())
    if 3 <= len(clean_title) <= 120:
        terms.append(clean_title)
        initials = "".join(w[0] for w in re.findall(r"[A-Za-zÀ-ÿ]+", fold(clean_title))
                           if w not in _SMALL_WORDS and len(w) >= 3)
        # The initials of the title's first words: "Cahier des Clauses Particulières" is the
        # "CCP", "Conditions Générales d'Achat de X" the "CGA" (3 to 6 letters: fewer name
        # nothing, and no acronym of a contract title in our corpora is longer).
        terms.extend(initials[:n].upper() for n in range(3, min(6, len(initials)) + 1))
    seen: set[str] = set()
    out: list[str] = []
    for term in terms:
        key = fold(term)
        if key not in seen:
            seen.add(key)
            out.append(term)
    return out[:40]


# Where a contract says what it governs: the paragraph under its "Objet" heading, or the one
# saying it "a pour objet" something (the sample Kimple CGV, under "1. Objet": "Le Contrat régit (i)
# l'accès par le Client au service de création de jeux promotionnels"; the Graham DPA: "… la
# fourniture du service d'assistant vocal intelligent Graham AI"). Looked for in the first
# 20,000 characters; the paragraph is read up to 700 characters, 12 phrases at most (one of the
# 40 indexed contracts, a partnership convention, reaches the cap). Measured on the 904 questions
# over 40 contracts (2026-12-04): 7 questions routed to their contract, none worse.
_OBJECT = re.compile(
    r"(?im)^[ \t]*(?:article[ \t]+\S+[ \t]*[-–—.:]?[ \t]*|\d{1,2}[ \t]*[.)\-–—:]?[ \t]*)?"
    r"objet\b[^\n]{0,40}\n|\b(?:a|ont)\s+pour\s+objet\b"
)
_OBJECT_SPAN = 20000
_OBJECT_CHARS = 700
# A lower-case word of four letters or more, maybe elided ("d'assistant"), or any other token.
_PHRASE_WORD = re.compile(
    r"(?<![\w'’-])([dlDL]['’])?([a-zà-ÿ][a-zà-ÿ-]{3,})(?![\w'’])|[^\s'’]+['’]?")
# The words that open a noun phrase: a subject phrase starts right after one ("du service
# d'assistant vocal", "de jeux promotionnels"), so "devra permettre" or "plus amplement" is none.
_OPENERS = frozenset({"de", "du", "des", "le", "la", "les", "un", "une", "au", "aux", "en",
                      "par", "pour", "sur"})
SUBJECT_PHRASES = 12


def subject_phrases(text: str) -> list[str]:
    """Two-word phrases in lower case opening a noun phrase where the contract says what it
    governs ("assistant vocal", "jeux promotionnels"): how a question describes a contract it
    does not name. Candidates only, as `naming_terms`: the router keeps those few contracts
    write (`retrieval.routing`), so "données personnelles" names nothing."""
    phrases: list[str] = []
    for match in _OBJECT.finditer(text[:_OBJECT_SPAN]):
        paragraph = text[match.end(): match.end() + _OBJECT_CHARS].lstrip()
        paragraph = paragraph.split("\n\n", 1)[0]
        opened, first = False, None
        for token in _PHRASE_WORD.finditer(paragraph):
            word = token.group(2)
            content = word is not None and fold(word) not in STOPWORDS | _GENERIC
            if content and first is not None:
                phrase = f"{first} {word}"
                if fold(phrase) not in {fold(p) for p in phrases}:
                    phrases.append(phrase)
            # The first word of a phrase follows an opener or is elided ("d'assistant").
            first = word if content and (opened or token.group(1)) else None
            opened = fold(token.group(0)) in _OPENERS
        if len(phrases) >= SUBJECT_PHRASES:
            break
    return phrases[:SUBJECT_PHRASES]


def title_names(title: str) -> list[str]:
    """What a lawyer calls a contract after its title, folded: "contrat de maintenance" for
    "CONTRAT DE MAINTENANCE D'ÉQUIPEMENTS", "accord-cadre de services", singular and plural."""
    folded = fold(" ".join(title.split()))
    # "Contrat de bail commercial" is also "le bail commercial": a kind after "contrat de".
    inner = re.sub(r"^contrat (?:de |d')", "", folded)
    names: list[str] = []
    for text in dict.fromkeys([folded, inner]):
        # Anywhere in the title: a DOCX's first block may carry a table cell before it
        # ("| Année universitaire : 2020-2021 Convention de stage étudiant/e", pool).
        if match := _TITLE_KIND.search(text):
            singular = match.group(0).removesuffix("s")
            names += [singular, f"{singular}s"]
    return names


def _types(title: str, head: str) -> list[str]:
    folded = fold(f"{title}\n{head[:3000]}")
    types = [t for t, phrases in _TYPES.items() if any(p in folded for p in phrases)]
    for match in _ACRONYM.finditer(f"{title}\n{head[:3000]}"):
        acronym = match.group(1).lower()
        if acronym not in types and acronym not in ("sas", "rcs", "rgpd", "ue", "api", "llm"):
            types.append(acronym)
    return types


def _display_title(title: str, head: str, names: list[str]) -> str:
    title = " ".join(title.split())
    if not title or len(title) > 120:
        folded, offsets = fold_with_offsets(head)
        phrase = next((p for phrases in _TYPES.values() for p in phrases if p in folded), "")
        at = folded.find(phrase) if phrase else -1
        # The original words of the phrase found in the folded text.
        title = (nfc(head)[offsets[at]: offsets[at + len(phrase) - 1] + 1] if at >= 0
                 else "Contrat")
    if names and not any(fold(n) in fold(title) for n in names):
        title = f"{title} — {names[0]}"
    return title


def name_variants(name: str) -> set[str]:
    """Folded ways a name may be written in a question: "Sillage.ai" -> "sillage.ai", "sillage"."""
    key = fold(name)
    variants = {key, key.replace(".", " ").strip()}
    base = re.sub(r"\.(ai|io|com|fr)$", "", key)
    variants.add(base)
    words = [w for w in re.split(r"[\s.]+", base) if w]
    if len(words) > 1 and len(words[0]) >= 4 and words[0] not in _GENERIC:
        variants.add(words[0])
    return {v for v in variants if len(v) >= 3 and v not in _GENERIC}
