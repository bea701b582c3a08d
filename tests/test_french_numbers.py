"""Numbers, amounts and durations as French contracts write them."""

from __future__ import annotations

from french.numbers import figures, has_amount, has_duration, to_digits
from retrieval.support import missing_figures


def test_spelled_out_numbers_are_read() -> None:
    assert to_digits("un délai de quatorze jours") == "1 délai de 14 jours"
    assert to_digits("quarante-cinq jours fin de mois") == "45 jours fin de mois"
    assert "2500 euros" in to_digits("deux mille cinq cents euros")


def test_durations_in_digits_or_words() -> None:
    for text in ("un préavis de quatorze jours", "payables à trente (30) jours",
                 "dans les 72 heures", "une durée de deux ans", "quatre-vingt-dix jours"):
        assert has_duration(text), text
    assert not has_duration("les deux parties conviennent de ce qui suit")


def test_amounts_with_currency_multiplier_or_rate() -> None:
    for text in ("un plafond de 50 000 EUR", "10 k€ par an", "1 M€", "3 % du prix",
                 "deux mille euros"):
        assert has_amount(text), text
    assert not has_amount("article 12 du contrat")


def test_figures_normalised_and_multiplied() -> None:
    assert figures("1 000,50 € ; 1.000 ; 030 ; [3]") == {"1000.5", "1000", "30"}
    assert figures("10 k€ ou 1,5 M€") >= {"10", "10000", "1.5", "1500000"}
    assert figures("quatorze jours", spelled=True) == {"14"}


def test_a_figure_spelled_out_in_the_excerpt_is_not_missing() -> None:
    assert missing_figures("Le délai est de 14 jours [1].", "un délai de quatorze jours") == set()
    assert missing_figures("Un plafond de 10 000 € [1].", "plafonnée à 10 k€") == set()
    assert missing_figures("Un délai de 15 jours [1].", "un délai de quatorze jours") == {"15"}


def test_a_duration_of_one_unit_in_words() -> None:
    """"d'un an": text2num leaves "un" after an elision, and "an" is singular."""
    for text in ("conclu pour une durée d'un an", "un (1) an", "pendant une semaine",
                 "pour un mois"):
        assert has_duration(text), text
    for text in ("un ananas", "un huissier de justice", "une annexe"):
        assert not has_duration(text), text


def test_a_clause_number_is_one_figure_and_units_are_kept() -> None:
    from french.numbers import figures, unit_figures

    assert figures("11.2.6 Sécurité : 6 mois", spelled=True) == {"11.2.6", "6"}
    assert figures("16.3 Cession") == {"16.3"}
    assert figures("1.000 EUR") == {"1000"}
    assert unit_figures("dix pour cent (10 %) ; quarante (40) euros ; 10 k€", spelled=True) == {
        "10%", "40€", "10000€"}
    assert unit_figures("1,5 M€ ; 2 m€ ; 3 KEUR") == {"1500000€", "2000000€", "3000€"}
    assert missing_figures("Les traces sont conservées six mois [2].",
                           "11.2.6 Sécurité. Conserver les traces des accès.") == {"6"}
    assert missing_figures("Une fois par an [1].", "L'audit a lieu chaque année.") == set()
