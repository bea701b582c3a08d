"""Issue 15, "every article found": lettered and ordinal sub-articles, repeated numbers, annexes
that restart the numbering, structure given only by heading styles, chapters that number their
articles, wrapped headings. Every input is built here; each test checks the outline and that
no word of the contract is lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from docx import Document

from ingest.cleaning import CONTENTS, clean_with_report
from ingest.models import Line, ParsedDocument
from ingest.pipeline import parse_file
from ingest.structure import PREAMBLE, StructureParser
from tests.helpers_docs import text_to_docx

Outline = list[tuple[str | None, str | None]]


def _lines(texts: list[str], levels: dict[int, int] | None = None) -> list[Line]:
    lines, offset = [], 0
    for i, text in enumerate(texts):
        lines.append(Line(text, offset, 1, (levels or {}).get(i)))
        offset += len(text) + 1
    return lines


def _words(texts: list[str]) -> Counter[str]:
    return Counter(word for text in texts for word in text.split())


def _outline(doc: ParsedDocument) -> Outline:
    return [(a.number, a.heading) for a in doc.articles if a.number != PREAMBLE]


def parse(texts: list[str], levels: dict[int, int] | None = None) -> Outline:
    """The outline of `texts`, after checking that its articles hold every word."""
    doc = StructureParser().parse("doc", _lines(texts, levels))
    assert _words([a.text for a in doc.articles]) == _words(texts), "a word was lost"
    return _outline(doc)


def _file_words(doc: ParsedDocument) -> Counter[str]:
    return _words([a.text for a in doc.articles])


# Lettered and ordinal sub-articles ------------------------------------------------------------

SAAS_TERMS = [
    "Conditions générales de vente",
    "1. Objet", "Les présentes conditions régissent la solution.",
    "2. Obligations du CLIENT",
    "a. Le CLIENT et son compte :", "Le CLIENT s'engage à garder son identifiant.",
    "b. Le CLIENT et son utilisation de la solution :", "Le CLIENT utilise la solution.",
    "3. Obligations du PRESTATAIRE",
    "a. Sécurité", "Le PRESTATAIRE protège les données.",
    "b. Confidentialité", "Les parties gardent le secret.",
    "c. Protection des données à caractère personnel", "Le PRESTATAIRE respecte le RGPD.",
    "4. Loi applicable", "Le droit français s'applique.",
]


def test_lettered_sub_headings_are_sub_articles_of_their_article() -> None:
    assert parse(SAAS_TERMS) == [
        ("1", "Objet"), ("2", "Obligations du CLIENT"),
        ("2.a", "Le CLIENT et son compte"),
        ("2.b", "Le CLIENT et son utilisation de la solution"),
        ("3", "Obligations du PRESTATAIRE"), ("3.a", "Sécurité"), ("3.b", "Confidentialité"),
        ("3.c", "Protection des données à caractère personnel"), ("4", "Loi applicable")]


def test_capital_letters_and_parenthesis_markers() -> None:
    texts = ["ARTICLE 1 – Objet", "Le contrat a un objet.", "ARTICLE 2 – Sécurité",
             "A) Chiffrement des données", "Les données sont chiffrées.",
             "B) Contrôle d'accès", "Les accès sont nominatifs.", "ARTICLE 3 – Durée",
             "Un an."]
    assert parse(texts) == [("1", "Objet"), ("2", "Sécurité"), ("2.A", "Chiffrement des données"),
                            ("2.B", "Contrôle d'accès"), ("3", "Durée")]


LEASE = [
    "CONTRAT DE BAIL COMMERCIAL",
    "ARTICLE 1 : OBJET DU CONTRAT", "Le bailleur donne à bail les locaux.",
    "ARTICLE 2 : OBLIGATIONS DU BAILLEUR",
    "1°) Mise à disposition", "Le bailleur délivre les locaux.",
    "2°) Assurances", "Le bailleur assure l'immeuble.",
    "ARTICLE 3 : OBLIGATIONS DU LOCATAIRE",
    "1°) Jouissance", "Le locataire jouit des locaux paisiblement.",
    "2°) Entretien et réparations", "Le locataire entretient les locaux.",
    "3°) Travaux", "Aucun travail sans accord écrit.",
    "ARTICLE 4 : EXTINCTION DU CONTRAT",
    "1°) Causes", "Le bail prend fin à son terme.",
    "ARTICLE 5 : COMPETENCE", "Les tribunaux de Paris sont compétents.",
]


def test_letters_under_a_numbered_sub_article_stay_in_it() -> None:
    """Where the contract numbers its sub-articles, letters below them mark paragraphs."""
    texts = ["1. Objet", "Le contrat a un objet.", "2. Sécurité", "2.1 Mesures techniques",
             "A. Chiffrement des données :", "- TLS 1.3 en transit.", "B. Contrôle d'accès :",
             "- Authentification forte.", "2.2 Mesures organisationnelles", "Une charte.",
             "3. Durée", "Un an."]
    assert [n for n, _ in parse(texts)] == ["1", "2", "2.1", "2.2", "3"]


def test_ordinal_sub_headings_and_a_lone_one_of_the_same_kind() -> None:
    """"1°) Causes", alone in its article, is a heading like the other "N°)" runs."""
    assert parse(LEASE) == [
        ("1", "OBJET DU CONTRAT"), ("2", "OBLIGATIONS DU BAILLEUR"),
        ("2.1°", "Mise à disposition"), ("2.2°", "Assurances"),
        ("3", "OBLIGATIONS DU LOCATAIRE"), ("3.1°", "Jouissance"),
        ("3.2°", "Entretien et réparations"), ("3.3°", "Travaux"),
        ("4", "EXTINCTION DU CONTRAT"), ("4.1°", "Causes"), ("5", "COMPETENCE")]


def test_ordinal_sub_headings_without_parenthesis() -> None:
    texts = ["Article 1 - Objet", "Le contrat a un objet.", "Article 2 - Charges",
             "1° Charges locatives", "Le preneur paie les charges.", "2° Impôts",
             "Le preneur paie les impôts.", "Article 3 - Durée", "Neuf ans."]
    assert [n for n, _ in parse(texts)] == ["1", "2", "2.1°", "2.2°", "3"]


def test_an_enumeration_is_not_a_run_of_sub_articles() -> None:
    """Items on consecutive lines, items ending with ";", a clause continued on the next line
    and a lone lettered line stay in their article."""
    texts = [
        "1. Documents contractuels", "Le contrat se compose :", "a) du présent document ;",
        "b) de l'annexe technique ;", "c) de la proposition commerciale.",
        "2. Résiliation", "Le contrat peut être résilié :",
        "a) Le Client peut résilier le contrat en cas de manquement grave du Prestataire à",
        "ses obligations, après une mise en demeure restée sans effet.",
        "b) Le Prestataire peut résilier le contrat en cas de défaut de paiement du",
        "Client, après une mise en demeure restée sans effet.",
        "3. Prix", "a) Le prix est ferme.", "Il est payable à trente jours.",
        "4. Durée", "Le contrat dure un an.",
    ]
    assert [n for n, _ in parse(texts)] == ["1", "2", "3", "4"]


def test_lettered_headings_under_a_section_without_number_keep_their_letter() -> None:
    """A Markdown licence: "## GARANTIE LIMITEE" among "## 1. Objet"…, with "### A." parts."""
    texts = ["Conditions d'utilisation", "1. Objet", "La licence est concédée.",
             "2. Champ d'application", "La licence couvre le logiciel.", "GARANTIE LIMITEE",
             "A. GARANTIE LIMITEE.", "Le logiciel est garanti.", "B. DURÉE DE LA GARANTIE",
             "La garantie dure un an.", "CONDITIONS D'HEBERGEMENT", "Le logiciel est hébergé."]
    levels = {0: 1, 1: 2, 3: 2, 5: 2, 6: 3, 8: 3, 10: 2}
    assert parse(texts, levels) == [
        ("1", "Objet"), ("2", "Champ d'application"), ("GARANTIE LIMITEE", "GARANTIE LIMITEE"),
        ("A", "GARANTIE LIMITEE"), ("B", "DURÉE DE LA GARANTIE"),
        ("CONDITIONS D'HEBERGEMENT", "CONDITIONS D'HEBERGEMENT")]


# Repeated numbers, annexes ---------------------------------------------------------------------

def test_a_docx_with_two_articles_numbered_vii_keeps_them_apart(tmp_path: Path) -> None:
    texts = ["CONTRAT DE MAINTENANCE", "ARTICLE I – OBJET",
             "Le contrat a pour objet la maintenance.", "ARTICLE II – DURÉE",
             "Le contrat dure un an.", "ARTICLE III – PRIX",
             "Le prix est ferme.", "ARTICLE IV – VISITES", "Deux visites par an.",
             "ARTICLE V – PANNES", "Intervention sous quatre heures.",
             "ARTICLE VI – PIÈCES", "Les pièces sont fournies.",
             "ARTICLE VII – ASSURANCES", "Le prestataire est assuré.",
             "ARTICLE VII – RÉSILIATION", "Préavis de trois mois.",
             "ARTICLE VIII – LITIGES", "Les tribunaux de Lyon sont compétents."]
    path = tmp_path / "maintenance.docx"
    text_to_docx(texts, path)
    doc = parse_file(path)[0]
    assert [n for n, _ in _outline(doc)] == ["I", "II", "III", "IV", "V", "VI", "VII", "VII",
                                             "VIII"]
    sevens = [a for a in doc.articles if a.number == "VII"]
    assert [a.heading for a in sevens] == ["ASSURANCES", "RÉSILIATION"]
    assert "Préavis de trois mois." in sevens[1].text
    assert _file_words(doc) == _words(texts)


def test_a_cross_reference_to_the_same_roman_article_is_not_a_second_one() -> None:
    texts = ["ARTICLE I – OBJET", "Le contrat a un objet.", "ARTICLE II – PRIX",
             "ARTICLE II ci-dessus s'applique aux avenants.", "ARTICLE III – DURÉE", "Un an."]
    assert [n for n, _ in parse(texts)] == ["I", "II", "III"]


def test_an_annex_that_restarts_the_numbering_is_its_own_section() -> None:
    texts = ["1. Objet", "Le contrat a un objet.", "2. Prix", "Le prix est ferme.",
             "3. Durée", "Un an.", "ANNEXE 1 – CONDITIONS TECHNIQUES",
             "1. Hébergement", "Les données sont hébergées en France.",
             "2. Sauvegardes", "Une sauvegarde par jour.", "3. Durée de conservation",
             "Trente jours."]
    doc = StructureParser().parse("doc", _lines(texts))
    assert [(a.section, a.number, a.heading) for a in doc.articles] == [
        (None, "1", "Objet"), (None, "2", "Prix"), (None, "3", "Durée"),
        ("Annexe 1", PREAMBLE, "CONDITIONS TECHNIQUES"), ("Annexe 1", "1", "Hébergement"),
        ("Annexe 1", "2", "Sauvegardes"), ("Annexe 1", "3", "Durée de conservation")]
    assert _file_words(doc) == _words(texts)


# Structure from heading styles, chapters --------------------------------------------------

def test_a_docx_whose_only_structure_is_heading_styles(tmp_path: Path) -> None:
    texts = ["Conditions générales d'utilisation", "Les présentes conditions s'appliquent.",
             "Vocabulaire", "Service : la plateforme.", "Engagements", "Obligations de l'usager",
             "L'usager garde son mot de passe.", "Obligations de l'éditeur",
             "L'éditeur assure le service.", "Sécurité", "Les données sont chiffrées."]
    path = tmp_path / "cgu.docx"
    text_to_docx(texts, path, heading_levels={2: 1, 4: 1, 5: 2, 7: 2, 9: 1})
    doc = parse_file(path)[0]
    assert not doc.fallback
    assert [(a.number, a.level) for a in doc.articles if a.number != PREAMBLE] == [
        ("Vocabulaire", 1), ("Engagements", 1), ("Obligations de l'usager", 2),
        ("Obligations de l'éditeur", 2), ("Sécurité", 1)]
    assert "L'éditeur assure le service." in doc.articles[-2].text
    assert _file_words(doc) == _words(texts)


def test_a_chapter_whose_articles_it_numbers_is_their_parent() -> None:
    texts = ["CAHIER DES CLAUSES PARTICULIERES", "CHAPITRE 1 : PRÉSENTATION",
             "1.1. OBJET DU MARCHÉ", "Le marché porte sur le gardiennage.", "1.2. DURÉE",
             "Un an.", "CHAPITRE 2 : CLAUSES ADMINISTRATIVES", "2.1 Prix",
             "Le prix est global.", "2.2 Pénalités", "Cent euros par jour de retard."]
    assert parse(texts) == [("1", "PRÉSENTATION"), ("1.1", "OBJET DU MARCHÉ"), ("1.2", "DURÉE"),
                            ("2", "CLAUSES ADMINISTRATIVES"), ("2.1", "Prix"),
                            ("2.2", "Pénalités")]


def test_a_title_over_articles_numbered_on_their_own_stays_a_divider() -> None:
    texts = ["TITRE I – DISPOSITIONS GÉNÉRALES", "ARTICLE 1 – Objet", "Le contrat a un objet.",
             "ARTICLE 2 – Durée", "Un an.", "TITRE II – CONDITIONS FINANCIÈRES",
             "ARTICLE 3 – Prix", "Le prix est ferme."]
    assert parse(texts) == [("1", "Objet"), ("2", "Durée"), ("3", "Prix")]


# Headings that wrap or start like a sentence ---------------------------------------------

def test_wrapped_headings_stay_whole() -> None:
    texts = ["1. Objet", "Les conditions régissent le service.",
             "2. Accès à la Plateforme, à l'Application et aux", "Services",
             "La Plateforme est accessible à tous.",
             "2.1 Déclaration de conformité des traitements à la réglementation relative à la",
             "protection des données à caractère personnel",
             "Le fournisseur déclare ses traitements.",
             "ARTICLE 3 – TRAITEMENT DES DONNEES", "PERSONNELLES",
             "Les informations recueillies sont traitées."]
    assert parse(texts) == [
        ("1", "Objet"), ("2", "Accès à la Plateforme, à l'Application et aux Services"),
        ("2.1", "Déclaration de conformité des traitements à la réglementation relative à la "
                "protection des données à caractère personnel"),
        ("3", "TRAITEMENT DES DONNEES PERSONNELLES")]


def test_short_headings_starting_like_a_sentence_and_names_below_them() -> None:
    texts = ["1. Les parties", "Les présentes conditions lient les parties.", "2. Le prix",
             "Le prix est affiché sur le site.", "2.1 Support iDocus",
             "iDocus assure un support par courriel.",
             "2.2 La responsabilité du prestataire est limitée au montant payé.",
             "3. OBJET", "iDocus numérise les documents."]
    assert parse(texts) == [("1", "Les parties"), ("2", "Le prix"), ("2.1", "Support iDocus"),
                            ("2.2", None), ("3", "OBJET")]


def test_punctuation_after_the_number_on_the_next_line() -> None:
    texts = ["Art. 1er", ". – Objet", "La convention a un objet.", "Art. 2. – Durée", "Un an."]
    assert parse(texts) == [("1", "Objet"), ("2", "Durée")]


def test_a_sub_article_numbered_with_a_hyphen() -> None:
    texts = ["Article 6 – Protection sociale", "Le stagiaire reste affilié.",
             "6-1 Gratification d'un montant maximum de 15 % du plafond horaire de la sécurité "
             "sociale – protection par la France (voir conditions article 6.4)",
             "La gratification n'est pas soumise à cotisation.",
             "6.2 – Gratification supérieure au plafond", "Les cotisations sont calculées.",
             "Article 7 – Responsabilité", "Entre 10-12 Rue de Paris et la gare."]
    assert [n for n, _ in parse(texts)] == ["6", "6-1", "6.2", "7"]


# A table of contents whose entries wrap ------------------------------------------------------

HUBEE_LIKE = [
    "Conditions générales d'utilisation du portail", "Sommaire",
    "Vocabulaire ....................................... 2",
    "Traitements des données à caractère personnel ..... 4",
    "Traitements effectués pour les demandes d'abonnement d'un service à une démarche via",
    "DataPass ......................................... 5",
    "Sécurité ......................................... 6",
    "Vocabulaire", "Service : la plateforme en ligne.",
    "Traitements des données à caractère personnel", "La DINUM traite des données.",
    "Traitements effectués pour les demandes d'abonnement d'un service à une démarche",
    "via DataPass", "Les demandes passent par DataPass.",
    "Sécurité", "Les comptes sont protégés.",
]


def test_wrapped_contents_entries_and_wrapped_headings_mark_unnumbered_sections() -> None:
    cleaned = clean_with_report(_lines(HUBEE_LIKE))
    contents = [r.text for r in cleaned.removed if r.reason == CONTENTS]
    assert len(contents) == 5  # the wrapped entry's first line is part of the contents
    doc = StructureParser().parse("cgu", cleaned.lines, contents)
    assert [a.number for a in doc.articles if a.number != PREAMBLE] == [
        "Vocabulaire", "Traitements des données à caractère personnel",
        "Traitements effectués pour les demandes d'abonnement d'un service à une démarche via "
        "DataPass", "Sécurité"]
    removed = _words(contents)
    assert _file_words(doc) + removed == _words(HUBEE_LIKE)


# DOCX tables -------------------------------------------------------------------------------

def test_a_table_nested_in_a_layout_cell_is_read_paragraph_by_paragraph(tmp_path: Path) -> None:
    """The nested table's cells are read whole (none skipped), each paragraph a line."""
    doc = Document()
    doc.add_paragraph("CONVENTION DE STAGE")
    outer = doc.add_table(rows=1, cols=2)
    left, right = outer.rows[0].cells
    left.paragraphs[0].text = "Article 1 – Objet"
    for sentence in ["La convention règle les rapports entre les parties."] * 5:
        left.add_paragraph(sentence)
    right.paragraphs[0].text = "Article 2 – Durée"
    inner = right.add_table(rows=2, cols=1)
    inner.rows[0].cells[0].paragraphs[0].text = "Article 3 – Droit applicable"
    inner.rows[0].cells[0].add_paragraph("La convention est régie par le droit français. " * 8)
    inner.rows[1].cells[0].paragraphs[0].text = "L'enseignant référent du stagiaire"
    inner.rows[1].cells[0].add_paragraph("Nom et signature")
    path = tmp_path / "stage.docx"
    doc.save(str(path))
    parsed = parse_file(path)[0]
    assert _outline(parsed) == [("1", "Objet"), ("2", "Durée"), ("3", "Droit applicable")]
    last = parsed.articles[-1].text
    assert "L'enseignant référent du stagiaire" in last and "Nom et signature" in last
    assert [ln.text for ln in parsed.articles[-1].lines][-2:] == [
        "L'enseignant référent du stagiaire", "Nom et signature"]


def test_styled_titles_over_restarted_numbering_stay_sub_documents(tmp_path: Path) -> None:
    """Heading styles on the sub-document titles only: the numbering gives the structure."""
    texts = ["CONDITIONS GÉNÉRALES DE VENTE (« CGV »)", "1. Objet", "Le contrat a un objet.",
             "2. Prix", "Le prix est ferme.", "ACCORD DE TRAITEMENT DES DONNÉES (« DPA »)",
             "1. Objet", "Le DPA encadre les traitements.", "2. Sécurité",
             "Les données sont chiffrées."]
    path = tmp_path / "cgv.docx"
    text_to_docx(texts, path, heading_levels={0: 1, 5: 1})
    doc = parse_file(path)[0]
    assert doc.sections == ["CGV", "DPA"]
    assert [(a.section, a.number) for a in doc.articles if a.number != PREAMBLE] == [
        ("CGV", "1"), ("CGV", "2"), ("DPA", "1"), ("DPA", "2")]
    assert _file_words(doc) == _words(texts)


# Articles numbered "1)" and roman articles that skip a number (the pool-2 contracts) ----------

RENTAL_TERMS = [
    "CONDITIONS GENERALES DE VENTE",
    "1) Location saisonnière:", "Les locaux sont loués à titre d'habitation provisoire.",
    "2) Réservation:", "La réservation devient ferme à réception de l'acompte.",
    "3) Paiements:", "Le solde est payable trente jours avant l'arrivée.",
    "5) Annulation:", "Toute annulation est notifiée par écrit.",
    "6) Jour de départ, le locataire s'engage à :", "rendre les clés ;",
    "laisser les lieux propres.",
]


def test_articles_numbered_with_a_parenthesis() -> None:
    assert parse(RENTAL_TERMS) == [
        ("1", "Location saisonnière"), ("2", "Réservation"), ("3", "Paiements"),
        ("5", "Annulation"), ("6", "Jour de départ, le locataire s'engage à")]


def test_parenthesis_items_inside_numbered_articles_stay_inside() -> None:
    texts = ["1. Objet", "Le contrat a pour objet :", "1) Livraison", "2) Installation",
             "2. Prix", "Le prix est ferme.", "3. Durée", "Un an."]
    assert parse(texts) == [("1", "Objet"), ("2", "Prix"), ("3", "Durée")]


def test_parenthesis_items_inside_keyword_articles_stay_inside() -> None:
    texts = ["ARTICLE 1 – Objet", "Le prestataire assure :", "1) Le dépannage", "2) L'entretien",
             "ARTICLE 2 – Prix", "Le prix est ferme."]
    assert parse(texts) == [("1", "Objet"), ("2", "Prix")]


def test_roman_keyword_article_after_a_skipped_number() -> None:
    texts = ["ARTICLE I - OBJET", "Le contrat a un objet.",
             "ARTICLE II - OBLIGATIONS", "Les parties s'obligent.",
             "ARTICLE II - PENALITES", "Des pénalités s'appliquent.",
             "ARTICLE IV - EXCLUSIVITE", "Le client confie l'entretien au seul prestataire.",
             "ARTICLE V - JURIDICTION", "Le tribunal de commerce est compétent."]
    assert parse(texts) == [("I", "OBJET"), ("II", "OBLIGATIONS"), ("II", "PENALITES"),
                            ("IV", "EXCLUSIVITE"), ("V", "JURIDICTION")]


# Pool-3's numbering: "3.1. – Titre", lettered paragraphs, amended articles, lost Word numbers --


def test_a_dash_after_the_number_still_opens_the_sub_article() -> None:
    """"3.1. – Destination" (a commercial lease) is sub-article 3.1 titled "Destination"."""
    outline = parse(["ARTICLE 3 – DESTINATION",
                     "3.1. – Destination", "Les locaux sont destinés à un restaurant.",
                     "3.2. – Le Preneur fait son affaire des autorisations administratives.",
                     "ARTICLE 4 – DUREE", "Le bail dure neuf années."])
    assert outline == [("3", "DESTINATION"), ("3.1", "Destination"), ("3.2", None),
                       ("4", "DUREE")]


def test_lettered_paragraphs_are_the_articles_sub_articles() -> None:
    """"3.a. Conformément…" in a loan agreement is its article 3.a, cited as such."""
    outline = parse(["Article 3. Modalités pratiques – droit de rétractation",
                     "3.a. Le Prêteur dispose de 14 jours pour se rétracter.",
                     "3.b. La rétractation entraîne celle de la Convention.",
                     "Article 4. Montant du Prêt", "Le montant du Prêt est indiqué ci-dessous."])
    assert [number for number, _h in outline] == ["3", "3.a", "3.b", "4"]


def test_an_amended_article_named_inside_particular_terms_is_no_new_article() -> None:
    """Particular terms that rewrite "Article 2 – …" of the lease stay in their own article."""
    outline = parse(["ARTICLE 1 – DESIGNATION", "Les locaux sont au rez-de-chaussée.",
                     "ARTICLE 2 – DUREE", "Le bail dure neuf années.",
                     "ARTICLE 3 – DISPOSITIONS PARTICULIERES",
                     "Les Parties conviennent de modifier les articles suivants :",
                     "Article 2 – Durée", "Le bail dure dix années.",
                     "ARTICLE 4 – SIGNATURE", "Le bail est signé électroniquement."])
    assert [number for number, _h in outline] == ["1", "2", "3", "4"]


def test_styled_headings_take_the_number_of_their_paragraphs(tmp_path: Path) -> None:
    """A Word NDA whose headings lost their numbering while its paragraphs kept theirs
    ("2.1.", "2.2."): each heading is the article its paragraphs number, one with no numbered
    paragraph takes the next number, and the one before the first numbered the number before."""
    document = Document()
    document.add_paragraph("ACCORD DE CONFIDENTIALITÉ")
    document.add_heading("IL EST ENTENDU CE QUI SUIT :", level=2)
    document.add_paragraph("Les Parties envisagent un projet commun.")
    document.add_heading("Définitions", level=3)
    document.add_paragraph("« Informations confidentielles » désigne toute information "
                           "échangée entre les Parties.")
    document.add_heading("Engagements de confidentialité", level=2)
    document.add_paragraph("2.1. Les Parties utilisent les Informations confidentielles pour "
                           "le seul Projet.")
    document.add_paragraph("2.2. Les Parties ne les divulguent à aucun tiers.")
    document.add_heading("Durée", level=3)
    document.add_paragraph("Le présent accord est conclu pour une durée de quatre ans.")
    document.add_heading("Divers", level=3)
    document.add_paragraph("4.1. Aucun retard n'emporte renonciation à un droit.")
    path = tmp_path / "nda.docx"
    document.save(str(path))
    parsed, _profile, _ = parse_file(path)
    outline = [(a.number, a.heading) for a in parsed.articles]
    assert ("1", "Définitions") in outline
    assert ("2", "Engagements de confidentialité") in outline
    assert [n for n, _h in outline if n and n[0].isdigit()] == ["1", "2", "2.1", "2.2", "3",
                                                                "4", "4.1"]
    assert ("IL EST ENTENDU CE QUI SUIT :", "IL EST ENTENDU CE QUI SUIT :") in outline
