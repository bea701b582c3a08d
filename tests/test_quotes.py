"""Quotes a lawyer can read: sentences rebuilt across line breaks, never cut at an abbreviation,
a heading never glued to the text under it. Texts written here, not the samples."""

from __future__ import annotations

from french.lines import join_lines
from french.sentences import sentences
from retrieval.extractive import best_sentences
from retrieval.models import Citation


def test_a_line_starting_with_a_figure_continues_its_sentence() -> None:
    """A PDF wraps "…entraîne une hausse" / "de 3 % du prix": the figure stays in the quote."""
    text = join_lines([
        "Le prix peut être révisé une fois par an si celle-ci entraîne une hausse",
        "3 % au plus du prix de l'année précédente.",
        "30 jours avant la date anniversaire, le Prestataire informe le Client.",
    ])
    assert "entraîne une hausse 3 % au plus du prix" in text


def test_numbered_items_and_headings_still_start_a_block() -> None:
    text = join_lines(["Les parties conviennent de ce qui suit :", "1. Objet du contrat",
                       "2. Durée du contrat", "3.1 – Durée initiale"])
    assert text.split("\n") == ["Les parties conviennent de ce qui suit :", "1. Objet du contrat",
                                "2. Durée du contrat", "3.1 – Durée initiale"]


def test_a_heading_is_never_glued_to_the_text_under_it() -> None:
    text = join_lines(["10.2 Limitation de responsabilité",
                       "La responsabilité du Prestataire est limitée au montant annuel payé.",
                       "ARTICLE 11 – DURÉE", "Le contrat est conclu pour un an."])
    assert text.split("\n")[0] == "10.2 Limitation de responsabilité"
    assert "ARTICLE 11 – DURÉE" in text.split("\n")
    units = sentences(text)
    assert all(not u.startswith(("10.2", "ARTICLE")) for u in units)


def test_a_word_cut_by_a_hyphen_at_a_line_end_is_rejoined() -> None:
    text = join_lines(["Le sous-", "traitant est autorisé par écrit."])
    assert text == "Le sous-traitant est autorisé par écrit."


def test_french_abbreviations_do_not_end_a_sentence() -> None:
    text = ("Des pénalités sont dues conformément à l'art. L. 441-10 du Code de commerce. "
            "M. Dupont, gérant, représente la société ACME S.A.S. au capital de 10 000 €. "
            "Voir cf. article 3 pour les délais de paiement applicables.")
    assert sentences(text) == [
        "Des pénalités sont dues conformément à l'art. L. 441-10 du Code de commerce.",
        "M. Dupont, gérant, représente la société ACME S.A.S. au capital de 10 000 €.",
        "Voir cf. article 3 pour les délais de paiement applicables.",
    ]


def test_the_quote_holds_the_figure_asked_for() -> None:
    excerpt = join_lines([
        "Le Client peut résilier le contrat à tout moment, moyennant un préavis de",
        "trois (3) mois notifié par lettre recommandée avec accusé de réception.",
    ])
    citation = Citation(1, "c", "Contrat", None, "9", "Résiliation", [1], excerpt, 1.0)
    (best,) = best_sentences("Quel préavis pour résilier ?", [citation], {}, limit=1)
    assert "trois (3) mois" in best.sentence and best.sentence.endswith("réception.")


def test_a_title_alone_on_its_line_is_not_glued_to_the_sentence_under_it() -> None:
    """"Présentation" over "Tchap est une messagerie…": the title is not part of the quote."""
    text = join_lines(["Présentation",
                       "Tchap est une messagerie instantanée développée et opérée par la DINUM,",
                       "conçue pour les administrations de l'État.",
                       "Modalités d’utilisation du Service",
                       "L’utilisation du Service est gratuite et facultative."])
    assert sentences(text) == [
        "Tchap est une messagerie instantanée développée et opérée par la DINUM, conçue pour "
        "les administrations de l'État.",
        "L’utilisation du Service est gratuite et facultative."]
    # A sentence wrapped before a capitalised name still reads as one.
    assert join_lines(["Le contrat est signé par la société Cloud",
                       "Temple et le Client."]) == ("Le contrat est signé par la société Cloud "
                                                    "Temple et le Client.")


def test_the_documents_title_is_never_quoted_as_evidence() -> None:
    title = "CONVENTION de mise à disposition des services numériques aux administrations"
    excerpt = (f"{title}\nLa présente convention a pour objet de définir les conditions de mise "
               "à disposition des services numériques aux administrations.")
    cited = [Citation(n=1, document_id="c", document_title=f"{title} — DINUM", section=None,
                      article="Préambule", heading=None, pages=[1], excerpt=excerpt, score=1.0)]
    quotes = best_sentences("Quels services numériques la convention met-elle à disposition "
                            "des administrations ?", cited, {})
    assert [q.sentence[:25] for q in quotes] == ["La présente convention a "]
