"""Splitting excerpts into quotable units: a list stays with the sentence announcing it."""

from __future__ import annotations

from french.sentences import sentences
from french.tokens import tokenize

CLAUSE = """10.4 Responsabilité illimitée.
La limitation de responsabilité prévue à l'article 10.2 ne s'applique pas :

• en cas de faute lourde ou dolosive commise par une Partie,
• en cas d'atteinte volontaire aux droits de propriété intellectuelle de l'autre Partie.
Les Parties conviennent que la présente clause est essentielle au Contrat."""


def test_a_list_is_quoted_with_its_lead_in() -> None:
    units = sentences(CLAUSE)
    assert units[0] == (
        "La limitation de responsabilité prévue à l'article 10.2 ne s'applique pas : "
        "• en cas de faute lourde ou dolosive commise par une Partie, "
        "• en cas d'atteinte volontaire aux droits de propriété intellectuelle de l'autre Partie.")
    assert units[1] == "Les Parties conviennent que la présente clause est essentielle au Contrat."
    # The words are the contract's own, only line breaks become spaces.
    assert " ".join(units) == " ".join(CLAUSE.split("\n", 1)[1].split())


def test_numbered_items_follow_their_lead_in_and_items_can_stand_alone() -> None:
    text = ("En cas de retard de paiement, les conséquences suivantes s'appliqueront :\n"
            "1. des pénalités égales à trois fois le taux légal seront exigibles ;\n"
            "2. une indemnité forfaitaire de quarante (40) euros sera due.")
    (unit,) = sentences(text)
    assert unit.startswith("En cas de retard") and unit.endswith("quarante (40) euros sera due.")
    alone = sentences(text, lists=False)
    assert len(alone) == 3 and alone[1].startswith("1. des pénalités")


def test_a_long_list_is_quoted_item_by_item() -> None:
    items = "\n".join(f"- l'obligation numéro {i} du prestataire envers le client final est "
                      "maintenue pendant toute la durée du contrat," for i in range(12))
    units = sentences(f"Le prestataire s'engage notamment aux obligations suivantes :\n{items}")
    assert len(units) > 2  # not one 1,300-character quote
    assert all(len(u) < 900 for u in units)


def test_headings_are_not_quotes() -> None:
    assert sentences("10.2 Limitation de responsabilité.\n") == []


def test_a_title_in_capitals_is_not_a_quote() -> None:
    text = ("CONDITIONS GÉNÉRALES DE VENTE DE LA SOCIÉTÉ GAMMA LOGICIELS\n"
            "LE LOGICIEL EST FOURNI EN L'ÉTAT, SANS GARANTIE D'AUCUNE SORTE.")
    assert sentences(text) == ["LE LOGICIEL EST FOURNI EN L'ÉTAT, SANS GARANTIE D'AUCUNE SORTE."]
    # A colon inside is a heading's; one at the end announces a list.
    assert sentences("ARTICLE 2 : TERRITOIRE ET DUREE DE LA COEDITION\nLa coédition vaut pour "
                     "l'univers entier.") == ["La coédition vaut pour l'univers entier."]
    assert sentences("LE CLIENT S'ENGAGE EXPRESSÉMENT À :\n- payer le prix convenu ;") == [
        "LE CLIENT S'ENGAGE EXPRESSÉMENT À : - payer le prix convenu ;"]


def test_a_list_item_is_not_cut_at_its_semicolons() -> None:
    text = ("Les délais sont les suivants.\n- Panne P1 : télédiagnostic sous trente (30) minutes ; "
            "Délai d'intervention de quatre (4) heures ;\n- Panne P2 : Délai d'intervention de "
            "huit (8) heures ouvrées ;")
    units = sentences(text, lists=False)
    assert ("- Panne P1 : télédiagnostic sous trente (30) minutes ; Délai d'intervention de "
            "quatre (4) heures ;") in units


def test_the_contracts_name_in_every_quoted_passage_does_not_choose_the_quote() -> None:
    """"Veloria" is in every passage quoted from the Veloria terms: the sentence naming the
    platform does not outweigh the one on the notice asked about (LOCAL_DAMPING)."""
    from retrieval.extractive import damped, select_sentences
    from retrieval.models import Citation

    def passage(n: int, text: str) -> Citation:
        return Citation(n=n, document_id="v", document_title="CGU Veloria", section=None,
                        article=str(n), heading=None, pages=[1], excerpt=text, score=1.0)

    quoted = [passage(1, "La plateforme Veloria est ouverte à tous les usagers."),
              passage(2, "Veloria - Résiliation. Chaque partie peut résilier avec un préavis "
                         "de trois mois."),
              passage(3, "Le support de Veloria répond sous un jour.")]
    question = "Quel préavis pour résilier l'abonnement Veloria ?"
    idf = {term: 2.0 for term in tokenize(question)} | {tokenize("Veloria")[0]: 6.0}
    assert select_sentences(question, quoted, idf).evidence[0].citation == 1
    chosen = select_sentences(question, quoted, damped(idf, question, quoted)).evidence[0]
    assert chosen.citation == 2 and "préavis" in chosen.sentence


def test_a_sentence_pointing_back_is_quoted_with_the_one_it_qualifies() -> None:
    """"Ce délai est porté à …" qualifies the sentence before it: quoting either alone misleads
    a lawyer, so the chosen sentence comes with its neighbour, in the contract's order."""
    from retrieval.extractive import points_back, select_sentences
    from retrieval.models import Citation

    text = ("Le Client peut demander la restitution de ses Données pendant trente jours après la "
            "fin du Contrat. Ce délai est porté à quatre-vingt-dix jours pour les clients en "
            "licence entreprise. Le Prestataire supprime ensuite les Données de ses serveurs "
            "et en délivre une attestation écrite.")
    quoted = [Citation(n=1, document_id="o", document_title="CGV Orvane", section=None,
                       article="9", heading=None, pages=[2], excerpt=text, score=1.0)]
    question = "Pendant combien de temps le client peut-il demander la restitution de ses données ?"
    idf = {term: 2.0 for term in tokenize(question)}
    alone = select_sentences(question, quoted, idf, limit=1).evidence
    assert [e.sentence[:25] for e in alone] == ["Le Client peut demander l"]
    kept = select_sentences(question, quoted, idf, limit=1, context=True).evidence
    assert [e.sentence[:22] for e in kept] == ["Le Client peut demande", "Ce délai est porté à q"]
    # Asked about the extension, the sentence it extends comes first.
    asked = "Quel délai pour les clients en licence entreprise ?"
    extended = select_sentences(asked, quoted, {t: 2.0 for t in tokenize(asked)}, limit=1,
                                context=True).evidence
    assert [e.sentence[:22] for e in extended] == ["Le Client peut demande",
                                                   "Ce délai est porté à q"]
    # The rule reads the grammar (demonstratives, exception connectives), not the impersonal
    # "il" of legal French.
    assert points_back("Toutefois, le Client peut résilier sans frais.")
    assert points_back("À l'issue de ce délai, les Données sont détruites.")
    assert not points_back("Il est convenu que le Client paie à trente jours.")
    assert not points_back("Le Contrat est conclu pour un an.")


def test_a_symbol_font_bullet_is_a_bullet() -> None:
    """Word's Symbol and Wingdings bullets reach a PDF's text as private characters
    ("\\uf0b7"): read as "•", the list stays with the sentence announcing it, and no private
    character reaches a quote."""
    from ingest.cleaning import normalise_characters

    text = normalise_characters("L'artisan s'engage à :\n\uf0b7 Régler les frais relatifs aux "
                                "déchets déposés dans la benne ;\n\uf0a7 Trier ses déchets "
                                "avant de les déposer à la déchèterie.")
    assert "\uf0b7" not in text and "\uf0a7" not in text
    assert sentences(text) == ["L'artisan s'engage à : • Régler les frais relatifs aux déchets "
                               "déposés dans la benne ; • Trier ses déchets avant de les "
                               "déposer à la déchèterie."]


def test_a_question_asking_two_things_is_split_into_its_parts() -> None:
    from retrieval.extractive import question_parts

    assert question_parts("Quelle loi régit le contrat et quelle juridiction est compétente ?") == [
        "Quelle loi régit le contrat", "quelle juridiction est compétente ?"]
    assert question_parts("Sous quel délai et dans quels formats les données sont-elles "
                          "rendues ?")[1].startswith("dans quels formats")
    assert len(question_parts("Le client peut-il résilier, et au bout de combien de temps ?")) == 2
    # "et" between nouns, or not opening a question, does not split.
    assert question_parts("Quels sont les droits et obligations du client ?") == [
        "Quels sont les droits et obligations du client ?"]
    assert len(question_parts("Le prestataire et le client peuvent-ils résilier ?")) == 1


def test_each_part_of_a_question_gets_its_sentence() -> None:
    """"Quel droit … et quelle juridiction …": the clause's two sentences are both quoted, the
    one on the courts alone would leave the law unanswered."""
    from retrieval.extractive import cover_parts, select_sentences
    from retrieval.models import Citation

    text = ("Le présent contrat est soumis au droit français. Tout litige né du contrat sera "
            "soumis à la compétence exclusive des tribunaux de Rennes. Les parties recherchent "
            "d'abord une solution amiable pendant un mois.")
    quoted = [Citation(n=1, document_id="o", document_title="CGV Orvane", section=None,
                       article="12", heading=None, pages=[3], excerpt=text, score=1.0),
              Citation(n=2, document_id="o", document_title="CGV Orvane", section=None,
                       article="1", heading=None, pages=[1], excerpt="Les présentes conditions "
                       "régissent les relations entre Orvane et ses clients.", score=0.5)]
    question = ("Quel droit s'applique au contrat et quelle juridiction est compétente en cas de "
                "litige ?")
    idf = {term: 2.0 for term in tokenize(question)}
    chosen = select_sentences(question, quoted, idf, limit=1).evidence
    assert [e.sentence[:15] for e in chosen] == ["Tout litige né "]
    covered = cover_parts(question, quoted, chosen, idf)
    assert [e.sentence[:15] for e in covered] == ["Tout litige né ", "Le présent cont"]
    # A question asking one thing is left as it was chosen.
    single = "Quelle juridiction est compétente en cas de litige ?"
    assert cover_parts(single, quoted, chosen, idf) == chosen
