"""French text analysis (the `french` package): folding with offsets, tokens, sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from french.normalize import fold, fold_with_offsets, folded_words, nfc
from french.sentences import sentences
from french.tokens import tokenize

CONTRACTS = Path(__file__).resolve().parents[1] / "data" / "contracts"


@pytest.mark.parametrize("path", sorted(CONTRACTS.glob("*.txt")), ids=lambda p: p.stem)
def test_fold_and_its_offset_map_agree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    folded, offsets = fold_with_offsets(text)
    assert folded == fold(text)
    assert len(offsets) == len(folded)
    assert offsets == sorted(offsets) and (not offsets or offsets[-1] < len(nfc(text)))


def test_a_match_on_folded_text_is_shown_in_the_original_words() -> None:
    """Ligatures and ellipses fold longer ("ﬁ" is "fi", "…" is "..."), decomposed accents
    shorter: the offset map still slices the written words."""
    question = "Quelle modiﬁcation… selon la Société Te\u0301lé ?"
    folded, offsets = fold_with_offsets(question)
    start = folded.index("societe tele")
    end = start + len("societe tele")
    assert nfc(question)[offsets[start]: offsets[end - 1] + 1] == "Société Télé"
    assert folded_words("Modiﬁcation l’Été") == ["modification", "l", "ete"]


def test_tokens_fold_stem_and_mark_negation() -> None:
    assert tokenize("Résiliation du contrat") == tokenize("resiliation")
    assert "non_modif" in tokenize("le logiciel non modifié")
    assert tokenize("sous-traitant") == tokenize("sous traitance")[:1]


def test_abbreviations_do_not_end_a_sentence() -> None:
    text = ("Les pénalités prévues à l'art. L. 441-10 du code de commerce s'appliquent de plein "
            "droit. M. Dupont représente le Client pour toute la durée du contrat.")
    assert sentences(text) == [
        "Les pénalités prévues à l'art. L. 441-10 du code de commerce s'appliquent de plein "
        "droit.",
        "M. Dupont représente le Client pour toute la durée du contrat.",
    ]
