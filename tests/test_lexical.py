"""The French lexical index: stemming, negation tokens, query expansion and the cache."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from french.tokens import expand_query, tokenize
from ingest.lexical import BM25Index, LexicalIndex
from ingest.models import Chunk


def _chunk(chunk_id: str, article: str, heading: str, text: str) -> Chunk:
    return Chunk(chunk_id=chunk_id, document_id="doc", document_title="Contrat", section=None,
                 article=article, heading=heading, text=text, context="", pages=(1,), start=0,
                 end=len(text))


def test_accents_stopwords_and_stems() -> None:
    assert tokenize("La Résiliation du contrat") == tokenize("resiliation")


def test_sous_compounds_are_one_word() -> None:
    # "sous-traitant" must meet "sous-traitance", and not "traitement" (processing).
    assert tokenize("sous-traitant") == tokenize("sous-traitance") == tokenize("sous traiter")
    assert not set(tokenize("sous-traitant")) & set(tokenize("traitement des données"))
    assert tokenize("sous réserve") == tokenize("réserve")


def test_negated_word_shares_a_token_across_phrasings() -> None:
    negated = {t for t in tokenize("un logiciel non modifié") if t.startswith("non_")}
    assert negated
    assert negated <= set(tokenize("distribution du logiciel sans modification"))
    assert not negated & set(tokenize("distribution du logiciel modifié"))
    # Pronouns and auxiliaries between the negator and the verb keep the negation.
    for phrasing in ("sans l'avoir modifié", "sans les modifier", "sans avoir été modifié"):
        assert negated <= set(tokenize(phrasing)), phrasing
    assert not {t for t in tokenize("sans que le logiciel soit modifié") if t == "non_modif"}


def test_negation_ranks_the_unmodified_case_first() -> None:
    chunks = [
        _chunk("a", "5.3.2", "Logiciel modifié", "Lorsque le logiciel est modifié, le licencié "
               "fournit le logiciel modifié et ses modifications."),
        _chunk("b", "5.3.1", "Logiciel sans modification", "Le logiciel sans modification est "
               "distribué avec le texte de la licence."),
    ]
    index = BM25Index.from_chunks(chunks)
    assert index.search("distribuer un logiciel non modifié", 2)[0][0] == "b"


def test_expansion_keys_match_word_starts_only() -> None:
    assert "limitation" in expand_query("Quel est le plafond ?")
    assert expand_query("Quelles informations ?") == "Quelles informations ?"


def _records(docs: dict[str, list[Chunk]], version: str = "1") -> list[SimpleNamespace]:
    return [SimpleNamespace(document_id=d, version=f"{d}-{version}") for d in docs]


def _corpus() -> dict[str, list[Chunk]]:
    words = ("résiliation préavis prix facture paiement responsabilité plafond données "
             "sous-traitant confidentialité durée renouvellement garantie disponibilité").split()
    docs: dict[str, list[Chunk]] = {}
    for d in range(6):
        docs[f"doc{d}"] = [
            Chunk(chunk_id=f"doc{d}:{i}", document_id=f"doc{d}", document_title=f"Contrat {d}",
                  section=None, article=str(i), heading=words[(d + i) % len(words)],
                  text=" ".join(words[(d * i + j) % len(words)] for j in range(3 + 7 * i % 40)),
                  context="", pages=(1,), start=i, end=i + 1)
            for i in range(12)]
    return docs


def test_lexical_index_ranks_as_bm25_with_exact_lengths(tmp_path: Path) -> None:
    docs = _corpus()
    index = LexicalIndex(tmp_path / "lexical")
    assert index.sync(_records(docs), docs.__getitem__) == len(docs)
    reference = BM25Index.from_chunks([c for chunks in docs.values() for c in chunks])
    for query in ("préavis de résiliation", "plafond de responsabilité et garantie",
                  "données du sous-traitant", "prix"):
        got = index.search(query, 10)
        want = reference.search(query, 10)
        assert [round(s, 6) for _c, s in got] == [round(s, 6) for _c, s in want], query
        assert {c for c, _s in got} == {c for c, _s in want}, query
        assert index.idf.get("prix") == reference.idf.get("prix")


def test_deleting_and_replacing_touch_only_that_document(tmp_path: Path) -> None:
    docs = _corpus()
    index = LexicalIndex(tmp_path / "lexical")
    index.sync(_records(docs), docs.__getitem__)
    read: list[str] = []

    def reader(document_id: str) -> list[Chunk]:
        read.append(document_id)
        return docs[document_id]

    gone = docs.pop("doc3")
    assert index.sync(_records(docs), reader) == 1 and read == []
    assert not {c for c, _s in index.search("préavis résiliation prix", 100)} & {
        c.chunk_id for c in gone}
    records = _records(docs)
    records[0] = SimpleNamespace(document_id="doc0", version="doc0-2")  # doc0 replaced
    assert index.sync(records, reader) == 2 and read == ["doc0"]
    reference = BM25Index.from_chunks([c for chunks in docs.values() for c in chunks])
    # Deleted passages count no more in the weights (Tantivy's own counts keep them a while).
    assert [s for _c, s in index.search("préavis de résiliation", 20)] == pytest.approx(
        [s for _c, s in reference.search("préavis de résiliation", 20)])
    assert index.search("prix", 50, ["doc1"]) and all(
        c.startswith("doc1:") for c, _s in index.search("prix", 50, ["doc1"]))


def test_a_second_process_catches_up_without_rebuilding(tmp_path: Path) -> None:
    docs = _corpus()
    first = LexicalIndex(tmp_path / "lexical")
    second = LexicalIndex(tmp_path / "lexical")  # opened before the first one writes
    first.sync(_records(docs), docs.__getitem__)

    def refuse(document_id: str) -> list[Chunk]:
        raise AssertionError(f"{document_id} read again")

    assert second.sync(_records(docs), refuse) == 0
    assert second.search("préavis", 5) == first.search("préavis", 5)
    assert LexicalIndex(tmp_path / "lexical").documents() == first.documents()


def test_index_of_another_tokenizer_or_schema_is_rebuilt(tmp_path: Path) -> None:
    docs = _corpus()
    LexicalIndex(tmp_path / "lexical").sync(_records(docs), docs.__getitem__)
    manifest = tmp_path / "lexical" / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "tokenizer": "0"}), encoding="utf-8")
    index = LexicalIndex(tmp_path / "lexical")
    assert index.documents() == {} and index.search("préavis", 5) == []
    assert index.sync(_records(docs), docs.__getitem__) == len(docs)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "meta.json").write_text("{not json", encoding="utf-8")
    assert LexicalIndex(tmp_path / "broken").search("préavis", 5) == []


def test_a_manifest_of_the_previous_layout_is_migrated_not_rebuilt(tmp_path: Path) -> None:
    """Before, manifest.json named every version held (rewritten whole at each change); now
    each version is a row of versions.sqlite. An index of the previous layout opens with its
    versions as rows and is not indexed again; a change then touches its own row only."""
    import json

    docs = _corpus()
    path = tmp_path / "lexical"
    LexicalIndex(path).sync(_records(docs), docs.__getitem__)
    first = LexicalIndex(path)
    held, sizes = first.documents(), dict(first._sizes)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == {"version", "tokenizer"}
    (path / "versions.sqlite").unlink()
    (path / "manifest.json").write_text(json.dumps({**manifest, "documents": held,
                                                    "sizes": sizes}), encoding="utf-8")

    def refuse(document_id: str) -> list[Chunk]:
        raise AssertionError(f"{document_id} read again")

    migrated = LexicalIndex(path)
    assert migrated.documents() == held and migrated.sync(_records(docs), refuse) == 0
    assert set(json.loads((path / "manifest.json").read_text(encoding="utf-8"))) == {
        "version", "tokenizer"}
    gone = docs.pop("doc2")
    assert migrated.sync(_records(docs), refuse) == 1 and migrated.removed == ["doc2-1"]
    assert "doc2-1" not in LexicalIndex(path).documents()
    assert not {c for c, _s in migrated.search("prix", 100)} & {c.chunk_id for c in gone}
