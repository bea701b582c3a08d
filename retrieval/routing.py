"""Route a question to the contracts and sub-documents it names, and find article references.

Aliases come from each indexed document's record (names found in its own text at ingest);
nothing here knows a particular contract.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, KeysView, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Protocol

from french.normalize import fold, fold_with_offsets, folded_words, nfc
from french.tokens import STOPWORDS
from ingest.aliases import name_variants, title_names
from ingest.store import DocumentRecord
from ingest.vocabulary import Vocabulary, vocabulary_of

if TYPE_CHECKING:
    from retrieval.retriever import HybridSearch

# "l'article 8.2", "art. 7", "l'article 1er", "l'article premier", "article IV" (not "l'article
# 28 du RGPD": a law's article is not the contract's).
# "l'article 7.b", "le point 6.d": a lettered paragraph of an article, as the parser labels it.
_ARTICLE_REF = re.compile(
    r"\b(?:l['’]\s*)?(?:articles?\s+|art\.\s*|points?\s+(?=\d{1,3}\.[a-z]\b))"
    r"((?:\d{1,3}(?:\.\d{1,3})*(?:\.[a-z](?![\w.]))?(?:\s*(?:bis|ter|quater)\b)?)|"
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
    # The longest phrase written decides (see _named_types): "conditions générales
    # d'utilisation" are a CGU, not the CGV "conditions générales" alone stands for.
    "conditions generales d'utilisation": "cgu", "conditions generales de vente": "cgv",
    "conditions generales de vente et d'utilisation": "cgvu",
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


def _frequency(vocabulary: Lexicon, variant: str, words_only: bool = False) -> int:
    """In how many documents a name is written: its words, and as a phrase (its word pairs)."""
    words, terms = _name_terms(variant)
    return len(vocabulary.holding(words if words_only else terms))


def _holders(vocabulary: Lexicon, variant: str) -> AbstractSet[str]:
    return vocabulary.holding(_name_terms(variant)[1])


@lru_cache(maxsize=2**16)  # a name's terms, folded once (65,536: 10,000 contracts' names)
def _name_terms(variant: str) -> tuple[frozenset[str], frozenset[str]]:
    """A name's folded words, and those with its word pairs."""
    words = folded_words(variant)
    return frozenset(words), frozenset([*words, *_pairs(words)])


class Postings:
    """Which documents hold each term (a folded word, or a word pair of a multiword name), and
    each document's terms: the corpus statistics the router counts, updated one document at a
    time (document frequencies are the postings' lengths).

    The documents holding several terms (a name's) are remembered until a change touches them:
    each router build asks the same names. They are filed under their key's first term, so
    that a document added or removed finds the keys it holds by its own terms.
    """

    def __init__(self, vocabulary: Mapping[str, Iterable[str]] | None = None) -> None:
        self._terms: dict[str, set[str]] = {}
        self._holders: dict[str, set[str]] = {}
        self._holding: dict[frozenset[str], frozenset[str]] = {}
        self._filed: dict[str, set[frozenset[str]]] = {}  # first term -> remembered keys
        for document_id, terms in (vocabulary or {}).items():
            self.add(document_id, terms)

    def add(self, document_id: str, terms: Iterable[str]) -> None:
        own = self._terms.setdefault(document_id, set())
        added = [term for term in terms if term not in own]
        for term in added:
            own.add(term)
            self._holders.setdefault(term, set()).add(document_id)
        self._forget(own, added)

    def remove(self, document_id: str) -> None:
        own = self._terms.pop(document_id, set())
        self._forget(own, own)
        for term in own:
            holders = self._holders[term]
            holders.discard(document_id)
            if not holders:
                del self._holders[term]

    def discard(self, term: str) -> None:
        """The term from every document that holds it."""
        for key in [k for k in self._holding if term in k]:
            self._unfile(key)
        for document_id in self._holders.pop(term, set()):
            self._terms[document_id].discard(term)

    def _forget(self, own: set[str], changed: Iterable[str]) -> None:
        """Forget the remembered keys that a document holding `own` holds (`changed`: the terms
        it gained or lost; a key holding none of them did not change)."""
        changed = set(changed)
        if not changed:
            return
        for term in own:
            for key in list(self._filed.get(term, ())):
                if key <= own and not key.isdisjoint(changed):
                    self._unfile(key)

    def _unfile(self, key: frozenset[str]) -> None:
        del self._holding[key]
        filed = self._filed[min(key)]
        filed.discard(key)
        if not filed:
            del self._filed[min(key)]

    def terms(self, document_id: str) -> set[str]:
        return self._terms.get(document_id, set())

    def holding(self, terms: frozenset[str]) -> AbstractSet[str]:
        """The documents holding every term (all of them for no term). Those of several
        terms (a name's) are remembered; those of one word (a question's) are its postings."""
        if not terms:
            return frozenset(self._terms)
        if len(terms) == 1:
            return self._holders.get(next(iter(terms)), frozenset())
        found = self._holding.get(terms)
        if found is None:
            found = self._holding[terms] = frozenset(self._intersect(terms))
            self._filed.setdefault(min(terms), set()).add(terms)
        return found

    def _intersect(self, terms: frozenset[str]) -> set[str]:
        found: set[str] | None = None
        for term in sorted(terms, key=lambda t: len(self._holders.get(t, ()))):
            holders = self._holders.get(term, set())
            found = holders & found if found is not None else set(holders)
            if not found:
                return set()
        return found or set()

    @property
    def documents(self) -> KeysView[str]:
        """The documents held (a live view: no copy)."""
        return self._terms.keys()


# Document ids of the word lists a process keeps in memory from its postings on disk, whatever
# the corpus: about 50 bytes each, so at most about 25 MB. Measured on 1,000 contracts made of
# the sample corpus's vocabularies (1,404 words each): the 340 eval questions' words read
# 3,387 lists, 394,327 ids, 18.9 MB (tracemalloc), 0.15 ms a list read from the file; the same
# postings in memory held 151 MB (docs/figures.md, issue 19).
CACHED_POSTINGS = 500_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (id INTEGER PRIMARY KEY AUTOINCREMENT,
                                      name TEXT NOT NULL UNIQUE, version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS postings (term TEXT NOT NULL, document INTEGER NOT NULL,
                                     PRIMARY KEY (term, document)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postings_of_document ON postings (document);
CREATE TABLE IF NOT EXISTS named (document INTEGER NOT NULL, pair TEXT NOT NULL,
                                  PRIMARY KEY (document, pair)) WITHOUT ROWID;
"""


class StoredPostings:
    """`Postings` kept in a SQLite file (one per lexical index, beside it), with the version of
    each document they hold and its names' word pairs: a process opening a data dir reads no
    vocabulary, and keeps in memory only the word lists its questions read, at most `cached`
    document ids (the least recently used dropped first), whatever the corpus.

    Changes go through `updating` (one write transaction, the state reread from the file
    first): what another process wrote meanwhile is not done twice. The lists kept in memory
    are dropped at any change, this process's or another's seen by `updating`.
    """

    def __init__(self, path: Path, cached: int = CACHED_POSTINGS) -> None:
        if cached < 1:
            raise ValueError("cached must be at least 1")
        self.path = path
        self.cached = cached
        self.versions: dict[str, str] = {}  # document id -> the version held
        self.named: dict[str, set[str]] = {}  # document id -> its names' word pairs
        self.pairs: Counter[str] = Counter()  # a name's word pair -> documents naming it
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._kept: OrderedDict[frozenset[str], frozenset[str]] = OrderedDict()
        self._weight = 0  # document ids in `_kept`
        self._lock = threading.RLock()
        self._db = self._open()
        self._load()

    def _open(self) -> sqlite3.Connection:
        """The file, created if missing; remade empty if unreadable (it is only a cache:
        the router fills it again from the vocabularies)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError:
            for stale in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                stale.unlink(missing_ok=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        # Another process's write transaction is waited for as long as a second writer waits
        # for the first by default (`write_lock_timeout_s`, 300 s): a first fill took 9.3 s
        # for 1,000 contracts of 1,404 words on this 2-core machine, so about 90 s for 10,000.
        db = sqlite3.connect(self.path, timeout=300, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for a writer
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _load(self) -> None:
        """The documents, versions and pairs as the file holds them; no word list kept."""
        self._drop_kept()
        rows = self._db.execute("SELECT id, name, version FROM documents").fetchall()
        for held in (self.versions, self.named, self._ids, self._names):
            held.clear()  # in place: a `Lexicon` reads `documents`, a live view
        for row_id, name, version in rows:
            self._ids[name], self._names[row_id], self.versions[name] = row_id, name, version
        for row_id, pair in self._db.execute("SELECT document, pair FROM named"):
            self.named.setdefault(self._names[row_id], set()).add(pair)
        self.pairs = Counter(pair for pairs in self.named.values() for pair in pairs)

    @contextmanager
    def updating(self) -> Iterator[None]:
        """One write transaction; other processes wait for it (SQLite's lock)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._load()
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._load()
                raise
            finally:
                self._drop_kept()

    def _drop_kept(self) -> None:
        self._kept.clear()
        self._weight = 0

    def hold(self, document_id: str, version: str, pairs: Iterable[str]) -> None:
        """Hold a document's version, its names' word pairs, and none of its terms yet."""
        with self._lock:
            self._register(document_id, version)
            own = set(pairs)
            self._db.executemany("INSERT INTO named VALUES (?, ?)",
                                 [(self._ids[document_id], pair) for pair in own])
            self.named[document_id] = own
            self.pairs.update(own)

    def _register(self, document_id: str, version: str) -> None:
        row_id = self._db.execute("INSERT INTO documents (name, version) VALUES (?, ?)",
                                  (document_id, version)).lastrowid
        assert row_id is not None
        self._ids[document_id], self._names[row_id] = row_id, document_id
        self.versions[document_id] = version

    def add(self, document_id: str, terms: Iterable[str]) -> None:
        """Terms of a document (held from now on, without a version if it was not)."""
        with self._lock:
            if document_id not in self._ids:
                self._register(document_id, "")
            row_id = self._ids[document_id]
            self._db.executemany("INSERT OR IGNORE INTO postings VALUES (?, ?)",
                                 [(term, row_id) for term in set(terms)])
            self._drop_kept()

    def remove(self, document_id: str) -> list[str]:
        """Forget a document; the word pairs of its names that no document names any more."""
        with self._lock:
            row_id = self._ids.pop(document_id, None)
            if row_id is None:
                return []
            for table, column in (("postings", "document"), ("named", "document"),
                                  ("documents", "id")):
                self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (row_id,))
            del self._names[row_id], self.versions[document_id]
            gone = []
            for pair in self.named.pop(document_id, set()):
                self.pairs[pair] -= 1
                if self.pairs[pair] <= 0:
                    del self.pairs[pair]
                    gone.append(pair)
            self._drop_kept()
            return gone

    def discard(self, term: str) -> None:
        """The term from every document that holds it."""
        with self._lock:
            self._db.execute("DELETE FROM postings WHERE term = ?", (term,))
            self._drop_kept()

    def terms(self, document_id: str) -> set[str]:
        with self._lock:
            row_id = self._ids.get(document_id)
            if row_id is None:  # (for tests and checks: a router reads no document's terms)
                return set()
            return {term for (term,) in self._db.execute(
                "SELECT term FROM postings WHERE document = ?", (row_id,))}

    def holding(self, terms: frozenset[str]) -> AbstractSet[str]:
        """The documents holding every term (all of them for no term): each term's list read
        from the file once, kept while it is used and nothing changes."""
        if not terms:
            return frozenset(self.versions)
        with self._lock:
            return self._holding(terms)

    def _holding(self, terms: frozenset[str]) -> frozenset[str]:
        found = self._kept.get(terms)
        if found is not None:
            self._kept.move_to_end(terms)
            return found
        if len(terms) == 1:
            (term,) = terms
            # Ids are never reused: one this process does not know is a document another
            # process added since this one's last update, not visible here until the next.
            found = frozenset(self._names[row_id] for (row_id,) in self._db.execute(
                "SELECT document FROM postings WHERE term = ?", (term,))
                if row_id in self._names)
        else:
            lists = sorted((self._holding(frozenset([t])) for t in terms), key=len)
            found = lists[0].intersection(*lists[1:])
        self._keep(terms, found)
        return found

    def _keep(self, terms: frozenset[str], found: frozenset[str]) -> None:
        self._kept[terms] = found
        self._weight += len(found) + 1
        while self._weight > self.cached and self._kept:
            _key, dropped = self._kept.popitem(last=False)
            self._weight -= len(dropped) + 1

    @property
    def kept(self) -> int:
        """The document ids kept in memory now."""
        return self._weight

    @property
    def documents(self) -> KeysView[str]:
        """The documents held (a live view: no copy)."""
        return self.versions.keys()


class PostingsView(Protocol):
    """What a `Lexicon` reads of postings, in memory or on disk."""

    @property
    def documents(self) -> KeysView[str]: ...

    def terms(self, document_id: str) -> set[str]: ...

    def holding(self, terms: frozenset[str]) -> AbstractSet[str]: ...


class Lexicon:
    """The router's view of `Postings`: the documents `within` (None: all) only."""

    def __init__(self, postings: PostingsView, within: frozenset[str] | None = None) -> None:
        self.postings = postings
        self.within = within
        self._documents = postings.documents if within is None else postings.documents & within

    @classmethod
    def of(cls, vocabulary: Mapping[str, Iterable[str]]) -> Lexicon:
        return cls(Postings(vocabulary))

    def __len__(self) -> int:
        return len(self._documents)

    def __contains__(self, document_id: object) -> bool:
        return document_id in self._documents

    def get(self, document_id: str) -> set[str]:
        """The document's terms (none outside the view)."""
        return self.postings.terms(document_id) if document_id in self._documents else set()

    def holding(self, terms: Iterable[str]) -> AbstractSet[str]:
        """The documents holding every term (all of them for no term)."""
        found = self.postings.holding(frozenset(terms))
        return found if self.within is None else found & self.within

    def holds(self, document_id: str, terms: Iterable[str]) -> bool:
        """Whether the document holds every term (always, for no term): `terms <=
        get(document_id)` without reading all its terms."""
        return all(document_id in self.holding([term]) for term in terms)


def name_limit(documents: int) -> int:
    """How many indexed contracts a word may name: two (one publisher's CGV and DPA), one in a
    base of fewer than ten, where a word in two contracts out of five does not tell them apart."""
    return 1 if documents < 10 else 2


@dataclass(frozen=True)
class RecordNames:
    """A record's folded names, as the router reads them: computed once per document version
    (folding every record's names was most of a router's build)."""

    aliases: tuple[str, ...]  # the ways its parties' names may be written
    candidates: tuple[str, ...]  # its capitalised names, folded
    distinctive: tuple[str, ...]  # those and its file name's words, spaces made single
    titles: tuple[str, ...]  # what a lawyer calls it after its title

    @classmethod
    def of(cls, record: DocumentRecord) -> RecordNames:
        return cls(
            aliases=tuple(v for name in record.aliases for v in name_variants(name)),
            candidates=tuple(fold(name) for name in record.candidates),
            distinctive=tuple(fold(" ".join(name.split())) for name in
                              [*record.candidates, *file_name_words(record.source)]),
            titles=tuple(title_names(record.title)))


class Patterns:
    """The names' compiled patterns, kept from one router build to the next; those no build
    used since the previous `prune` are dropped then (a deleted contract's names)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, bool], re.Pattern[str]] = {}
        self._used: set[tuple[str, bool]] = set()

    def word(self, variant: str) -> re.Pattern[str]:
        return self._get(variant, False)

    def phrase(self, variant: str) -> re.Pattern[str]:
        return self._get(variant, True)

    def _get(self, variant: str, phrase: bool) -> re.Pattern[str]:
        key = (variant, phrase)
        self._used.add(key)
        pattern = self._kept.get(key)
        if pattern is None:
            pattern = self._kept[key] = _phrase(variant) if phrase else _word(variant)
        return pattern

    def prune(self) -> None:
        self._kept = {k: p for k, p in self._kept.items() if k in self._used}
        self._used = set()


Entry = tuple[re.Pattern[str], str, set[str]]  # a name's pattern, the name, its documents
Rank = tuple[str, int]  # where a name first comes: its document's place, its place there
_RUN = re.compile(r"[a-z0-9]+")
NAME, DISTINCTIVE, TITLE = 0, 1, 2  # the kinds of names, strongest first


def _word_key(variant: str) -> str | None:
    """The question word a name's pattern (`_word`) can start at: its first run of letters
    and digits, whole (the pattern's boundaries and the name's next character end it there);
    None for a name that does not start with one (tried on every question)."""
    match = _RUN.match(variant)
    return match.group(0) if match else None


def _phrase_key(variant: str) -> str | None:
    """As `_word_key` for `_phrase`'s patterns: a first word of five letters or more is
    keyed without its plural's "s" or "x" (the pattern takes either form)."""
    word = _word_key(variant)
    if word is None or " " not in variant or len(word) < 5:
        return word
    return word[:-1] if word[-1] in "sx" else word


def _question_keys(folded: str) -> set[str]:
    """The keys a folded question's words can match: each word, and without its "s" or "x"."""
    words = _RUN.findall(folded)
    return {*words, *(w[:-1] for w in words if len(w) >= 5 and w[-1] in "sx")}


class Names:
    """The indexed contracts' names by kind, as routers read them, updated one record at a
    time and looked up by the question's words: a question tries the names its words can
    start, not every name of the base. Each name keeps, per document, where it first came
    (the document's place in the base, then in the document's list), the order in which a
    router tries names of the same length."""

    def __init__(self) -> None:
        self.kinds: tuple[dict[str, dict[str, Rank]], ...] = ({}, {}, {})
        self.candidates: dict[str, set[str]] = {}  # a folded capitalised name -> documents
        self._keyed: dict[str, set[tuple[int, str]]] = {}  # question word -> (kind, name)
        self._unkeyed: set[tuple[int, str]] = set()
        self._held: dict[str, RecordNames] = {}

    @classmethod
    def of(cls, records: list[DocumentRecord]) -> Names:
        names = cls()
        for place, record in enumerate(records):
            names.add(record.document_id, f"{place:09d}", RecordNames.of(record))
        return names

    def add(self, document_id: str, place: str, names: RecordNames) -> None:
        self._held[document_id] = names
        for kind, variants in ((NAME, names.aliases), (DISTINCTIVE, names.distinctive),
                               (TITLE, names.titles)):
            for index, variant in enumerate(variants):
                if kind == DISTINCTIVE and len(variant) < 3:
                    continue
                owners = self.kinds[kind].get(variant)
                if owners is None:
                    owners = self.kinds[kind][variant] = {}
                    self._file(kind, variant, add=True)
                owners.setdefault(document_id, (place, index))
        for variant in names.candidates:
            self.candidates.setdefault(variant, set()).add(document_id)

    def remove(self, document_id: str) -> None:
        names = self._held.pop(document_id, None)
        if names is None:
            return
        for kind, variants in ((NAME, names.aliases), (DISTINCTIVE, names.distinctive),
                               (TITLE, names.titles)):
            for variant in set(variants):
                owners = self.kinds[kind].get(variant)
                if owners is not None:
                    owners.pop(document_id, None)
                    if not owners:
                        del self.kinds[kind][variant]
                        self._file(kind, variant, add=False)
        for variant in set(names.candidates):
            docs = self.candidates.get(variant)
            if docs is not None:
                docs.discard(document_id)
                if not docs:
                    del self.candidates[variant]

    def _file(self, kind: int, variant: str, add: bool) -> None:
        key = _phrase_key(variant) if kind == DISTINCTIVE else _word_key(variant)
        filed = self._unkeyed if key is None else self._keyed.setdefault(key, set())
        if add:
            filed.add((kind, variant))
        else:
            filed.discard((kind, variant))
            if key is not None and not filed:
                del self._keyed[key]

    def __contains__(self, document_id: object) -> bool:
        return document_id in self._held

    def started_by(self, folded: str) -> set[tuple[int, str]]:
        """The names a folded question's words can start."""
        found = set(self._unkeyed)
        for key in _question_keys(folded):
            found |= self._keyed.get(key, set())
        return found


class Router:
    """Match questions against the names, types and sections of the indexed documents.

    `vocabulary` (each document's folded words) lets a candidate name count only where it is
    rare in the rest of the corpus: "Aquaréel" or "DINUM" name a contract, "Client" does not.
    """

    def __init__(self, records: list[DocumentRecord],
                 vocabulary: Lexicon | Mapping[str, Iterable[str]] | None = None, *,
                 names: Names | None = None, within: frozenset[str] | None = None,
                 patterns: Patterns | None = None,
                 lock: threading.RLock | None = None) -> None:
        """`names`: the names of a base the `records` are all of or, with `within`, those
        of the documents `within` (built from the records when not given). `lock`: held
        while routing, and by whoever updates the names and postings the router reads."""
        self.records = {r.document_id: r for r in records}
        self.vocabulary = (vocabulary if isinstance(vocabulary, Lexicon)
                           else Lexicon.of(vocabulary or {}))
        self.index = names if names is not None else Names.of(records)
        self.within = within
        self.limit = name_limit(len(records))
        self.compiled = patterns or Patterns()
        self._entries: dict[tuple[int, str], tuple[Entry, Rank] | None] = {}
        self.lock = lock or threading.RLock()

    def _owners(self, kind: int, variant: str) -> dict[str, Rank]:
        owners = self.index.kinds[kind].get(variant, {})
        if self.within is None:
            return owners
        return {d: rank for d, rank in owners.items() if d in self.within}

    def _entry(self, kind: int, variant: str) -> tuple[Entry, Rank] | None:
        """A name of this kind as the router tries it, with its rank; None when it names no
        document of the view or too many (computed once per router)."""
        key = (kind, variant)
        if key not in self._entries:
            self._entries[key] = self._compute(kind, variant)
        return self._entries[key]

    def _compute(self, kind: int, variant: str) -> tuple[Entry, Rank] | None:
        owners = self._owners(kind, variant)
        if not owners:
            return None
        rank = min(owners.values())
        docs = set(owners)
        if kind == NAME:
            # A frequent capitalised name of a document (not found as a party there) counts
            # when another document names it as a party: two documents of one publisher.
            docs |= {d for d in self.index.candidates.get(variant, set())
                     if self.within is None or d in self.within}
            return ((self.compiled.word(variant), variant, docs), rank) if len(docs) <= 2 else None
        if kind == TITLE:
            return ((self.compiled.word(variant), variant, docs), rank) if len(docs) <= 2 else None
        # Weaker than a party's name: a word of the contract's title or opening that is rare
        # in the corpus (a product, a public body, an acronym, the title's initials). A rare
        # name names every contract whose text holds it, not only those it was found a
        # candidate of: "la Société 24ème" is the company's CGV and its employment contract.
        if self._owners(NAME, variant) or len(docs) > self.limit or _frequency(
                self.vocabulary, variant) > self.limit:
            return None
        docs |= _holders(self.vocabulary, variant)
        if len(docs) > self.limit:
            return None
        return (self.compiled.phrase(variant), variant, docs), rank

    def cased(self, variant: str) -> bool:
        """Whether a distinctive name counts only as written like a name (a capital or a
        digit): one word ("le bailleur" is a role), or a phrase whose words are common (a
        defined term, "Compte Technique", not "compte technique" in a question about another
        contract)."""
        return " " not in variant or _frequency(self.vocabulary, variant,
                                                words_only=True) > self.limit

    def entries(self, kind: int, folded: str | None = None) -> list[Entry]:
        """The names of a kind that a folded question's words can start (all without one),
        longest first, then in the order they come in the base."""
        with self.lock:
            return self._entries_of(kind, folded)

    def _entries_of(self, kind: int, folded: str | None) -> list[Entry]:
        variants = (self.index.kinds[kind] if folded is None else
                    [v for k, v in self.index.started_by(folded) if k == kind])
        found = [e for e in (self._entry(kind, v) for v in variants) if e is not None]
        found.sort(key=lambda item: (-len(item[0][1]), item[1]))
        return [entry for entry, _rank in found]

    @property
    def names(self) -> list[Entry]:
        """Every party's name the router tries (a question tries only those it may hold)."""
        return self.entries(NAME)

    @property
    def distinctive(self) -> list[Entry]:
        return self.entries(DISTINCTIVE)

    @property
    def titles(self) -> list[Entry]:
        return self.entries(TITLE)

    def route(self, question: str) -> Route:
        with self.lock:
            return self._route(question)

    def _route(self, question: str) -> Route:
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
            return doc in docs or (proper and self.vocabulary.holds(doc, set(folded_words(text))))

        for start, text, docs in tiers[first] if first < len(tiers) else []:
            docs = {d for d in mentioned if names(d, text, docs, first < 2)}
            route.matched.append(text)
            named.add(frozenset(docs))
            for doc in docs:
                positions.setdefault(doc, start)
        named_types = _named_types(folded)
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
        for kind in (NAME, DISTINCTIVE, TITLE):
            found: list[tuple[int, str, set[str]]] = []
            for pattern, variant, docs in self._entries_of(kind, folded):
                for match in pattern.finditer(folded):
                    # The question's own words for the match (folding may change lengths).
                    written = question[offsets[match.start()]: offsets[match.end() - 1] + 1]
                    if kind == DISTINCTIVE and self.cased(variant) and (
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
            holders = self.vocabulary.holding({word})
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
        if not len(self.vocabulary):
            return []
        out = []
        for match in _NAMING_CUE.finditer(question):
            name = match.group(1)
            if not name[0].isupper() or fold(name) in _TYPE_WORDS:
                continue
            words = folded_words(name)
            if words and not any(self.vocabulary.holding({w}) for w in words):
                out.append(name)
        return out

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


def _named_types(folded: str) -> set[str]:
    """The kinds of document a question writes ("les CGU", "les conditions générales de
    vente"), each span read by its longest phrase."""
    found: set[str] = set()
    taken: list[tuple[int, int]] = []
    for words in sorted(_TYPE_WORDS, key=len, reverse=True):
        for match in _word(words).finditer(folded):
            if not any(s <= match.start() < e for s, e in taken):
                taken.append((match.start(), match.end()))
                found.add(_TYPE_WORDS[words])
    return found


class Routers:
    """Routers over the contracts a caller may see, rebuilt when the index changes.

    The corpus statistics they count (`StoredPostings`, on disk beside the lexical index, at
    most `cached_postings` document ids of them in memory) follow the store one document
    version at a time: a contract added reads its own vocabulary (kept on disk per version),
    one deleted leaves the postings, and nothing is read of the others (but for a new
    multiword name, the vocabularies of the contracts holding all its words, to learn which
    hold it as a phrase); a process opening a data dir whose postings are up to date reads no
    vocabulary. The names (`Names`) follow the store the same way, each record's folded once
    per version; a router is built in no time and works out, for each question, only the
    names its words can start (cached until the index changes).
    """

    def __init__(self, search: HybridSearch, cached_postings: int = CACHED_POSTINGS) -> None:
        self.search = search
        self._routers: OrderedDict[frozenset[str] | None, Router] = OrderedDict()
        self._key = ""
        self._cached_postings = cached_postings
        self._postings: StoredPostings | None = None
        self.names = Names()
        self._named: dict[str, str] = {}  # document id -> the version `names` holds
        self._patterns = Patterns()
        # Held while routing and while updating: the routers share the names and postings.
        self._lock = threading.RLock()

    def clear(self) -> None:
        with self._lock:
            self._routers.clear()
            self._key = ""

    @property
    def postings(self) -> StoredPostings:
        """The postings file of the search's lexical index, opened on first use."""
        if self._postings is None:
            path = self.search.cache_path
            self._postings = StoredPostings(path.with_name(f"{path.name}-postings.sqlite"),
                                            self._cached_postings)
        return self._postings

    def get(self, within: frozenset[str] | None) -> Router:
        """The router over the contracts `within` (None: all): names, rare words and unknown
        names are counted among those only, so a contract outside them is not indexed as far
        as the question can tell."""
        with self._lock:
            return self._get(within)

    def _get(self, within: frozenset[str] | None) -> Router:
        key = self.search.store.fingerprint()
        if key != self._key:
            self._routers.clear()
            self._update()
            self._key = key
        router = self._routers.get(within)
        if router is None:
            records = [r for r in self.search.store.documents()
                       if within is None or r.document_id in within]
            router = self._routers[within] = Router(
                records, Lexicon(self.postings, within), names=self.names, within=within,
                patterns=self._patterns, lock=self._lock)
            while len(self._routers) > ROUTERS_KEPT:
                self._routers.popitem(last=False)
        self._routers.move_to_end(within)
        return router

    def _update(self) -> None:
        """Bring the postings to the store's documents, changed documents only."""
        self.search.lexical()  # writes the vocabularies of the versions it indexes
        records = {r.document_id: r for r in self.search.store.documents()}
        postings = self.postings
        with postings.updating():
            for document_id in [d for d, v in postings.versions.items()
                                if d not in records or records[d].version != v]:
                self._forget(document_id)
            for document_id, record in records.items():
                if document_id not in postings.versions:
                    self._learn(record)
        for document_id in [d for d, v in self._named.items()
                            if d not in records or records[d].version != v]:
            self.names.remove(document_id)
            del self._named[document_id]
        for document_id, record in records.items():
            if document_id not in self._named:  # records come by id: the id is its place
                self.names.add(document_id, document_id, RecordNames.of(record))
                self._named[document_id] = record.version
        self._patterns.prune()

    def _forget(self, document_id: str) -> None:
        for pair in self.postings.remove(document_id):  # no record names it any more:
            self.postings.discard(pair)  # no document holds it

    def _learn(self, record: DocumentRecord) -> None:
        vocabulary = self.search.vocabulary(record)
        if vocabulary is None:  # no passage: nothing to count (as the full build did)
            return
        document_id = record.document_id
        postings = self.postings
        own = {pair for name in record.candidates for pair in _pairs(folded_words(name))}
        new = [pair for pair in own if pair not in postings.pairs]
        postings.hold(document_id, record.version, own)
        postings.add(document_id, vocabulary.words | {
            pair for pair in vocabulary.pairs if pair in postings.pairs})
        lexicon = Lexicon(postings)
        records = self.search.store.records()
        for pair in new:  # which other documents hold this new name's words as a phrase
            for other in lexicon.holding(set(pair.split())) - {document_id}:
                held = records.get(other)
                theirs = self.search.vocabulary(held) if held is not None else None
                if theirs is not None and pair in theirs.pairs:
                    self.postings.add(other, [pair])
