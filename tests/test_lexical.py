"""The French lexical index: stemming, negation tokens, query expansion and the cache."""

from __future__ import annotations

import json
from pathlib import Path

from french.tokens import expand_query, tokenize
from ingest.lexical import BM25Index, load_or_build
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


def test_cache_built_by_another_tokenizer_is_rebuilt(tmp_path: Path) -> None:
    chunks = [_chunk("a", "1", "Objet", "Le présent contrat a pour objet la fourniture.")]
    path = tmp_path / "lexical.json"
    load_or_build(path, "fp", chunks)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["tokenizer"] = "0"
    data["docs"] = [["stale"]]
    path.write_text(json.dumps(data), encoding="utf-8")
    index = load_or_build(path, "fp", chunks)
    assert "stale" not in index.idf
    assert json.loads(path.read_text(encoding="utf-8"))["tokenizer"] != "0"
