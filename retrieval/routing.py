"""Route a question to the contracts and sub-documents it names, and find article references.

Aliases come from each indexed document's record (names found in its own text at ingest);
nothing here knows a particular contract.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import PurePath
from typing import TYPE_CHECKING

from french.normalize import fold, fold_with_offsets, folded_words, nfc
from french.tokens import STOPWORDS
from ingest.aliases import name_variants, title_names
from ingest.store import DocumentRecord
from ingest.vocabulary import Vocabulary, vocabulary_of

if TYPE_CHECKING:
    from retrieval.retriever import HybridSearch

# "l'article 8.2", "art. 7", "l'article 1er", "l'article premier", "article IV" (not "l'article
# 28 du RGPD": a law's article is not the contract's).
_ARTICLE_REF = re.compile(
    r"\b(?:l['’]\s*)?(?:articles?\s+|art\.\s*)((?:\d{1,3}(?:\.\d{1,3})*(?:\s*(?:bis|ter|quater)\b)?)|"
    r"(?:[IVX]{1,5})|premier)"
    r"(?:er)?\b(?!\s*(?:du|de la)\s+(?:code|rgpd|reglement|règlement|loi))",
    re.IGNORECASE,
)
_ANNEX_REF = re.compile(r"\bannexe\s+([a-z]|\d{1,2}|[ivx]{1,5})\b", re.IGNORECASE)
_COMPARE = re.compile(
    r"\b(compar\w*|diff[ée]ren\w*|respectivement|versus|vs\.?|chacun des contrats)\b", re.IGNORECASE
)
_ALL = re.compile(
    r"\b(chaque contrat|tous les contrats|l['’]ensemble des contrats|dans les contrats|"
    r"chacun des contrats|les différents contrats|d['’]un contrat à l['’]autre)\b",
    re.IGNORECASE,
)
_LOOKUP = re.compile(
    r"\b(que (?:prévoit|prevoit|dit|stipule|contient)|montre[- ]moi|affiche|cite|lis|texte de|"
    r"contenu de|que trouve-t-on)\b",
    re.IGNORECASE,
)
_TOPIC_TYPES = {
    "sous-traitance": "dpa", "donnees personnelles": "dpa", "donnees a caractere personnel": "dpa",
    "protection des donnees": "dpa",
}
_TYPE_WORDS = {
    "cgv": "cgv", "cgvu": "cgvu", "cgu": "cgu", "dpa": "dpa", "msa": "msa", "sla": "sla",
    "licence": "licence", "conditions generales": "cgv", "cdi": "cdi", "cdd": "cdd",
}
# Where a question names its contract: "chez X", "le contrat X", "les CGU de X", "la société X".
# A capitalised word there that no indexed contract contains names a contract not indexed.
_NAMING_CUE = re.compile(
    r"\b(?:chez|avec|soci[ée]t[ée]|contrat|convention|accord|march[ée]|bail|cgu|cgv|cgvu|"
    r"dpa|msa|ccap|ccp|cctp|licence|conditions g[ée]n[ée]rales(?: d['’]\w+| de \w+)?)"
    r"\s+(?:(?:de|du|des|avec|entre|conclu avec|sign[ée] avec)\s+)?(?:(?:la|le|les|l['’])\s*)?"
    r"([A-ZÀ-Ý][\w&.-]*[\w])",
    re.IGNORECASE,
)
# Two words of a question that one contract alone holds route it there, in a base of at least
# five contracts. Measured on the eval's 644 questions over 27 contracts: with two words, two
# answers stop quoting another contract and none starts; with one, a third gains and one more
# question is sent to the wrong contract.
_SUBJECT_MIN_DOCS = 5
_SUBJECT_MIN_WORDS = 2
# ... and when it holds at least twice as many of them as any other contract: "la plateforme
# d'assistant vocal pour restaurants" has two words of the Graham contract alone, one
# ("restaurants") of a convention de stage alone (same 644 questions).
_SUBJECT_LEAD = 2
_CONTENT_WORD = re.compile(r"[a-z]{5,}")
# A web address names its site even in lowercase: "les CGU de gensdeconfiance.com".
_DOMAIN = re.compile(r"\.(?:com|fr|net|org|eu|io|ai|gouv\.fr)\b")
_FOLLOW_UP = re.compile(r"^\s*(et|idem|pareil|même question|meme question|quid)\b", re.IGNORECASE)


@dataclass
class Route:
    """What a question names: documents, their sections, articles, and the kind of question."""

    documents: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    articles: list[str] = field(default_factory=list)
    comparison: bool = False
    all_documents: bool = False
    lookup: bool = False
    follow_up: bool = False
    matched: list[str] = field(default_factory=list)  # the words that named a contract
    unknown: list[str] = field(default_factory=list)  # names of contracts that are not indexed


def _article_label(reference: str) -> str:
    """How the parser labels the referenced article: "premier" is "1", roman numerals upper."""
    if reference.lower() == "premier":
        return "1"
    return re.sub(r"\s+", "", reference.lower()) if reference[0].isdigit() else reference.upper()


def _word(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(pattern)}(?![a-z0-9])")


def _phrase(variant: str) -> re.Pattern[str]:
    """A multiword name as a question may write it, singular or plural ("la Réserve
    d'Instance" for the contract's "Réserves d'Instances"); a single word as written."""
    if " " not in variant:
        return _word(variant)
    parts = re.split(r"([a-z0-9]+)", variant)
    pattern = "".join(
        re.escape(w[:-1] if w[-1] in "sx" else w) + "[sx]?" if i % 2 and len(w) >= 5
        else re.escape(w)
        for i, w in enumerate(parts))
    return re.compile(rf"(?<![a-z0-9]){pattern}(?![a-z0-9])")


def file_name_words(source: str) -> list[str]:
    """The words of a contract's file name ("Contrat Altazion 2017.pdf"): lawyers name a
    document by the name they gave its file."""
    stem = PurePath(source).stem if source else ""
    return [w for w in re.split(r"[\W_]+", stem) if len(w) >= 3 and not w.isdigit()]


def corpus_vocabulary(texts: Iterable[tuple[str, str]],
                      records: list[DocumentRecord]) -> dict[str, frozenset[str]]:
    """Each document's folded words, plus the word pairs of the records' multiword names
    ("compte technique") that its text holds: a defined term is rare as a phrase even when
    its words are common."""
    by_document: dict[str, list[str]] = defaultdict(list)
    for document_id, text in texts:
        by_document[document_id].append(text)
    return routing_vocabulary({doc: vocabulary_of(parts) for doc, parts in by_document.items()},
                              records)


def routing_vocabulary(vocabularies: dict[str, Vocabulary],
                       records: list[DocumentRecord]) -> dict[str, frozenset[str]]:
    """`corpus_vocabulary` from each document's vocabulary computed once (ingest.vocabulary)."""
    pairs = {pair for record in records for name in record.candidates
             for pair in _pairs(folded_words(name))}
    return {doc: v.words | (v.pairs & pairs) for doc, v in vocabularies.items()}


def _pairs(words: list[str]) -> list[str]:
    return [f"{a} {b}" for a, b in pairwise(words)]


def _frequency(vocabulary: dict[str, frozenset[str]], variant: str,
               words_only: bool = False) -> int:
    """In how many documents a name is written: its words, and as a phrase (its word pairs)."""
    if not words_only:
        return len(_holders(vocabulary, variant))
    words = set(folded_words(variant))
    return sum(1 for vocab in vocabulary.values() if words <= vocab)


def _holders(vocabulary: dict[str, frozenset[str]], variant: str) -> set[str]:
    words = folded_words(variant)
    wanted = {*words, *_pairs(words)}
    return {doc for doc, vocab in vocabulary.items() if wanted <= vocab}


def name_limit(documents: int) -> int:
    """How many indexed contracts a word may name: two (one publisher's CGV and DPA), one in a
    base of fewer than ten, where a word in two contracts out of five does not tell them apart."""
    return 1 if documents < 10 else 2


class Router:
    """Match questions against the names, types and sections of the indexed documents.

    `vocabulary` (each document's folded words) lets a candidate name count only where it is
    rare in the rest of the corpus: "Aquaréel" or "DINUM" name a contract, "Client" does not.
    """

    def __init__(self, records: list[DocumentRecord],
                 vocabulary: dict[str, frozenset[str]] | None = None) -> None:
        self.records = {r.document_id: r for r in records}
        self.vocabulary = vocabulary or {}
        owners: dict[str, set[str]] = defaultdict(set)
        for record in records:
            for name in record.aliases:
                for variant in name_variants(name):
                    owners[variant].add(record.document_id)
        # A frequent capitalised name of a document (not found as a party there) counts when
        # another document names it as a party: two documents of one publisher.
        for record in records:
            for name in record.candidates:
                variant = fold(name)
                if variant in owners:
                    owners[variant].add(record.document_id)
        self.names: list[tuple[re.Pattern[str], str, set[str]]] = [
            (_word(variant), variant, docs) for variant, docs in owners.items() if len(docs) <= 2
        ]
        self.names.sort(key=lambda item: -len(item[1]))
        # Weaker than a party's name: a word of the contract's title or opening that is rare in
        # the corpus (a product, a public body, an acronym, the title's initials).
        self.distinctive = self._distinctive(records, self.vocabulary, set(owners))
        # Which of them count only as written like a name (a capital or a digit): one word
        # ("le bailleur" is a role), or a phrase whose words are common (a defined term,
        # "Compte Technique", not "compte technique" in a question about another contract).
        self.cased = {v for _p, v, _d in self.distinctive
                      if " " not in v
                      or _frequency(self.vocabulary, v, words_only=True) > name_limit(len(records))}
        # Weaker than a name: a title phrase ("le contrat de maintenance") routes only a question
        # that names no party or trade name ("le contrat de prestations de Craft AI" is Craft's).
        titled: dict[str, set[str]] = defaultdict(set)
        for record in records:
            for variant in title_names(record.title):
                titled[variant].add(record.document_id)
        self.titles = [(_word(v), v, docs) for v, docs in titled.items() if len(docs) <= 2]

    def route(self, question: str) -> Route:
        question = nfc(question)
        folded, offsets = fold_with_offsets(question)
        route = Route()
        positions: dict[str, int] = {}
        named: set[frozenset[str]] = set()  # the document sets the matched names point to
        tiers = self._matches(question, folded, offsets)
        first = next((i for i, found in enumerate(tiers) if found), len(tiers))
        # (start, written name, documents it names, whether it is a name a text may hold)
        matches = [(st, t, docs, tier < 2) for tier, found in enumerate(tiers)
                   for st, t, docs in found]
        mentioned = {d for _s, _t, docs, _n in matches for d in docs}

        def names(doc: str, text: str, docs: set[str], proper: bool) -> bool:
            # A document is named by a name it owns, or by a party's or product's name its
            # text holds when another name of the question points to it too (the CDI of a
            # company whose CGV owns the company's name). A title phrase only by owning it.
            words = set(folded_words(text))
            return doc in docs or (proper and words <= self.vocabulary.get(doc, frozenset()))

        for start, text, docs in tiers[first] if first < len(tiers) else []:
            docs = {d for d in mentioned if names(d, text, docs, first < 2)}
            route.matched.append(text)
            named.add(frozenset(docs))
            for doc in docs:
                positions.setdefault(doc, start)
        named_types = {t for word, t in _TYPE_WORDS.items() if _word(word).search(folded)}
        topic_types = {t for word, t in _TOPIC_TYPES.items() if _word(word).search(folded)}
        # "X et Y" compares only contracts named apart (two names pointing to disjoint sets of
        # contracts): "Grenoble INP … et quelle indemnité" names one contract twice.
        groups = [docs for _s, _t, docs in tiers[first]] if first < len(tiers) else []
        apart = any(not a & b for i, a in enumerate(groups) for b in groups[i + 1:])
        comparing = (bool(_COMPARE.search(question)) or (" et " in folded and apart)
                     or len(named_types) >= 2 or len(topic_types) >= 2)
        # Outside a comparison, a kind written by its name ("les CGVU") outweighs one the topic
        # suggests ("données à caractère personnel" is a DPA's subject, and the CGVU's too).
        types = named_types | topic_types if comparing else named_types or topic_types
        titled = {d for _s, _t, docs in tiers[2] for d in docs} & set(positions)
        if len(positions) >= 2 and not comparing and titled and first < 2:
            # Two contracts of one company, and the question says which kind: "le contrat de
            # développement conclu avec 24ème" is its CGV, not its employment contract.
            for doc in set(positions) - titled:
                positions.pop(doc)
        if len(positions) >= 2 and not comparing:
            # The documents the question names most: "le CDI de la SCOP 24ème" names the
            # CDI three times (CDI, SCOP, 24ème) and the company's CGV twice.
            count = {d: sum(names(d, t, docs, proper) for _s, t, docs, proper in matches)
                     for d in positions}
            best = max(count.values())
            for doc in [d for d, c in count.items() if c < best]:
                positions.pop(doc)
        documents = sorted(positions, key=lambda d: (positions[d], d))
        if not documents:
            route.unknown = self._unknown_names(question)
        if not documents and not route.unknown and not _ALL.search(question):
            documents = self._subject(folded)
        documents = self._narrow_by_type(documents, named, types)
        if len(documents) >= 2 and not comparing:
            # Named alike ("Grenoble" in both) and of no kind the question writes: told apart
            # by what the question describes, the words one of them alone holds ("machine de
            # prototypage de circuits imprimés").
            documents = self._subject(folded, among=set(documents)) or documents
        route.documents = documents
        for doc in documents:
            section = self._section(self.records[doc], folded)
            if section:
                route.sections[doc] = section
        route.articles = [_article_label(m.group(1)) for m in _ARTICLE_REF.finditer(question)]
        route.all_documents = bool(_ALL.search(question))
        # "X et Y" compares two contracts only when the question names them apart (two names,
        # or two document types): one publisher's name shared by its CGV and its DPA does not.
        distinct = {group & set(documents) for group in named} - {frozenset()}
        named_apart = len(distinct) >= 2 or len(types) >= 2
        route.comparison = route.all_documents or (
            len(documents) >= 2
            and (bool(_COMPARE.search(question)) or (" et " in folded and named_apart))
        )
        route.lookup = bool(route.articles) and (
            bool(_LOOKUP.search(question)) or len(folded.split()) <= 10
        )
        route.follow_up = bool(_FOLLOW_UP.match(question)) or len(folded.split()) <= 4
        return route

    def _matches(self, question: str, folded: str,
                 offsets: list[int]) -> list[list[tuple[int, str, set[str]]]]:
        """The names found in the question, by kind: parties, distinctive words, titles (a
        span matched by a stronger kind is not matched again).

        A distinctive single word counts only as the question writes a name, with a capital or
        a digit ("GDC", "Vidal", "24ème"): "le bailleur" is a role, not the lease's name.
        """
        taken: list[tuple[int, int]] = []
        tiers: list[list[tuple[int, str, set[str]]]] = []
        for patterns in (self.names, self.distinctive, self.titles):
            found: list[tuple[int, str, set[str]]] = []
            for pattern, variant, docs in patterns:
                for match in pattern.finditer(folded):
                    # The question's own words for the match (folding may change lengths).
                    written = question[offsets[match.start()]: offsets[match.end() - 1] + 1]
                    if patterns is self.distinctive and variant in self.cased and (
                            written.islower() and not any(c.isdigit() for c in written)
                            and not _DOMAIN.match(folded, match.end())):
                        continue
                    if any(s <= match.start() < e for s, e in taken):
                        continue
                    taken.append((match.start(), match.end()))
                    found.append((match.start(), written, docs))
            tiers.append(found)
        return tiers

    def _subject(self, folded: str, among: set[str] | None = None) -> list[str]:
        """The one contract whose text alone holds the question's rarest words ("la plateforme
        de jeux promotionnels"): a question describing its contract without naming it; with
        `among`, the one of those contracts that alone holds, among them, words as rare in the
        corpus as a name (`name_limit`): "interdiction" is in one of a publisher's two contracts
        but in many others, so it tells them apart no more than the name does."""
        if len(self.vocabulary) < _SUBJECT_MIN_DOCS:
            return []
        limit = 1 if among is None else name_limit(len(self.vocabulary))
        rare: Counter[str] = Counter()
        for word in set(_CONTENT_WORD.findall(folded)) - STOPWORDS:
            holders = [d for d, vocab in self.vocabulary.items() if word in vocab]
            chosen = [d for d in holders if among is None or d in among]
            if len(chosen) == 1 and len(holders) <= limit:
                rare[chosen[0]] += 1
        ranked = rare.most_common(2)
        if not ranked or ranked[0][1] < _SUBJECT_MIN_WORDS:
            return []
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        return [ranked[0][0]] if ranked[0][1] >= _SUBJECT_LEAD * runner_up else []

    def _unknown_names(self, question: str) -> list[str]:
        """Capitalised names in a naming position that no indexed contract contains."""
        if not self.vocabulary:
            return []
        out = []
        for match in _NAMING_CUE.finditer(question):
            name = match.group(1)
            if not name[0].isupper() or fold(name) in _TYPE_WORDS:
                continue
            words = folded_words(name)
            if words and not any(w in vocab for vocab in self.vocabulary.values()
                                 for w in words):
                out.append(name)
        return out

    @staticmethod
    def _distinctive(records: list[DocumentRecord], vocabulary: dict[str, frozenset[str]],
                     strong: set[str]) -> list[tuple[re.Pattern[str], str, set[str]]]:
        limit = name_limit(len(records))
        owners: dict[str, set[str]] = defaultdict(set)
        for record in records:
            for name in [*record.candidates, *file_name_words(record.source)]:
                variant = fold(" ".join(name.split()))
                if len(variant) >= 3 and variant not in strong:
                    owners[variant].add(record.document_id)

        # A rare name names every contract whose text holds it, not only those it was found a
        # candidate of: "la Société 24ème" is the company's CGV and its employment contract.
        kept = [(_phrase(v), v, docs | _holders(vocabulary, v)) for v, docs in owners.items()
                if len(docs) <= limit and _frequency(vocabulary, v) <= limit]
        return sorted(((p, v, d) for p, v, d in kept if len(d) <= limit),
                      key=lambda item: -len(item[1]))

    def _narrow_by_type(self, documents: list[str], named: set[frozenset[str]],
                        types: set[str]) -> list[str]:
        """Among documents sharing a name (one publisher), keep those of the named type.

        Only within one name: in "le MSA de Craft AI et chez Kimple", "MSA" picks among Craft
        AI's documents and does not drop Kimple, which is named on its own.
        """
        if len(documents) < 2 or not types:
            return documents
        dropped: set[str] = set()
        for group in (g for g in named if len(g) >= 2):
            typed = {d for d in group
                     if types & set(self.records[d].types[:2]) or self._has_section(d, types)}
            if typed:
                dropped |= group - typed
        alone = {d for group in named if len(group) == 1 for d in group}
        return [d for d in documents if d not in dropped or d in alone]

    def _has_section(self, document_id: str, types: set[str]) -> bool:
        return any(fold(s) in types for s in self.records[document_id].sections)

    @staticmethod
    def _section(record: DocumentRecord, folded: str) -> str | None:
        if not record.sections:
            return None
        if match := _ANNEX_REF.search(folded):
            wanted = f"annexe {match.group(1)}"
            for section in record.sections:
                if fold(section) == wanted:
                    return section
        for section in record.sections:
            key = fold(section)
            if not key.startswith("annexe") and _word(key).search(folded):
                return section
        return None


# Routers kept for distinct sets of visible contracts (one per set of matters in use): each
# holds the names of those contracts only. A firm's matters in use at once, not measured.
ROUTERS_KEPT = 32


class Routers:
    """Routers over the contracts a caller may see, rebuilt when the index changes."""

    def __init__(self, search: HybridSearch) -> None:
        self.search = search
        self._routers: OrderedDict[frozenset[str] | None, Router] = OrderedDict()
        self._vocabulary: dict[str, frozenset[str]] = {}
        self._key = ""

    def clear(self) -> None:
        self._routers.clear()
        self._key = ""

    def get(self, within: frozenset[str] | None) -> Router:
        """The router over the contracts `within` (None: all): names, rare words and unknown
        names are counted among those only, so a contract outside them is not indexed as far
        as the question can tell."""
        key = self.search.store.fingerprint()
        if key != self._key:
            self._routers.clear()
            self._vocabulary = routing_vocabulary(self.search.vocabularies(),
                                                  self.search.store.documents())
            self._key = key
        router = self._routers.get(within)
        if router is None:
            records = [r for r in self.search.store.documents()
                       if within is None or r.document_id in within]
            vocabulary = {d: v for d, v in self._vocabulary.items()
                          if within is None or d in within}
            router = self._routers[within] = Router(records, vocabulary)
            while len(self._routers) > ROUTERS_KEPT:
                self._routers.popitem(last=False)
        self._routers.move_to_end(within)
        return router
