"""How lawyers name a contract: words rare in the indexed corpus, from each contract's own title
and opening; a question naming a contract that is not indexed is told so. Contracts written here,
not the samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings
from ingest.aliases import naming_terms

# Three short contracts of kinds the samples lack, each naming its product, body and parties in
# its own way (no "X SAS, société par actions simplifiée" to find a party by).
CONTRACTS = {
    "marche_ccap": """CAHIER DES CLAUSES ADMINISTRATIVES PARTICULIÈRES
Marché de fourniture du logiciel Hydrolys pour l'Office des Eaux du Ponant (OEP)

Article 1 – Objet
Le présent marché a pour objet la fourniture et la maintenance du logiciel Hydrolys au profit
de l'Office des Eaux du Ponant.

Article 2 – Durée
Le marché est conclu pour une durée de deux ans à compter de sa notification. Il peut être
reconduit une fois pour une durée d'un an.

Article 3 – Pénalités de retard
En cas de retard dans la livraison, le titulaire encourt une pénalité de cent euros par jour
calendaire de retard, plafonnée à 5 % du montant du marché.

Article 4 – Résiliation
Le pouvoir adjudicateur peut résilier le marché dans les conditions prévues par le CCAG-TIC.
Le prix est ferme pendant toute la durée du marché.
""",
    "cgu_plateforme": """CONDITIONS GÉNÉRALES D'UTILISATION DE LA PLATEFORME VELORIA

Les présentes conditions générales d'utilisation régissent l'accès à la plateforme Veloria,
éditée par l'Agence Numérique des Mobilités Douces (ANMD).

Article 1 – Accès au service
L'accès à la plateforme Veloria est gratuit pour tout utilisateur disposant d'un compte.

Article 2 – Durée de conservation
Les données de trajet sont conservées pendant une durée de treize mois, puis supprimées.

Article 3 – Résiliation
L'utilisateur peut fermer son compte à tout moment depuis son espace personnel. Aucune
compensation financière n'est due en cas de fermeture du service.
""",
    "bail_local": """BAIL PROFESSIONNEL

Entre les soussignés, Madame Irène Ferrandou, ci-après le Bailleur, et le cabinet Orvanne
Conseil, ci-après le Preneur.

Article 1 – Désignation
Le Bailleur donne à bail au Preneur un local de cent vingt mètres carrés.

Article 2 – Durée
Le bail est consenti pour une durée de six années entières et consécutives.

Article 3 – Loyer
Le loyer annuel est fixé à dix-huit mille euros hors taxes, payable par trimestre à échoir.

Article 4 – Résiliation
Le Preneur peut donner congé à tout moment en respectant un préavis de six mois, par lettre
recommandée avec demande d'avis de réception.
""",
    # A title "contrat de bail commercial", a defined term of common words ("Durée Ferme": its
    # words are in the CCAP too, the phrase only here), a party known by its web address.
    "bail_commercial": """CONTRAT DE BAIL COMMERCIAL

Entre la société Tessaline Immobilier, ci-après le Bailleur, et la société Quorvel, exploitant
le site quorvel.fr, ci-après le Preneur.

Article 1 – Durée
Le bail est conclu pour neuf années. Les trois premières années forment la Durée Ferme.
Pendant la Durée Ferme, le Preneur ne peut pas donner congé. À l'issue de la Durée Ferme, le
congé est donné six mois à l'avance par acte extrajudiciaire.

Article 2 – Loyer
Le loyer annuel est de quarante mille euros, payable par mois à échoir.
""",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ContractQA:
    root = tmp_path_factory.mktemp("naming")
    folder = root / "contracts"
    folder.mkdir()
    for name, text in CONTRACTS.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    settings = Settings(data_dir=root / "data", _env_file=None)  # type: ignore[call-arg]
    qa = ContractQA(settings)
    report = qa.ingest([folder])
    assert report.ok, [r.message for r in report.results]
    return qa


def test_naming_terms_come_from_the_title_and_opening() -> None:
    text = CONTRACTS["marche_ccap"]
    title, body = text.split("\n", 1)
    terms = naming_terms(title, body)
    assert {"Hydrolys", "OEP", "CCAP"} <= set(terms)
    # A word opening a sentence is not a name ("Le", "Marché").
    assert "Le" not in terms and "Marché" not in terms


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Quelle est la durée du marché Hydrolys ?", "marche_ccap"),
        ("Selon le CCAP, quelles pénalités de retard encourt le titulaire ?", "marche_ccap"),
        ("Que risque le titulaire du marché de l'OEP s'il livre en retard ?", "marche_ccap"),
        ("Combien de temps Veloria conserve-t-elle les données de trajet ?", "cgu_plateforme"),
        ("Dans les CGU de l'ANMD, une compensation est-elle due ?", "cgu_plateforme"),
        ("Quel préavis pour quitter le local loué à Orvanne Conseil ?", "bail_local"),
        ("Dans le bail commercial, quel est le loyer annuel ?", "bail_commercial"),
        ("Le preneur peut-il donner congé pendant la Durée Ferme ?", "bail_commercial"),
        ("Selon les CGU de veloria.fr, une compensation est-elle due ?", "cgu_plateforme"),
    ],
)
def test_a_question_is_routed_by_the_contract_it_names(service: ContractQA, question: str,
                                                      expected: str) -> None:
    answer = service.chain.answer(question)
    assert answer.routed == [expected]
    assert answer.citations and {c.document_id for c in answer.citations} == {expected}


@pytest.mark.integration
def test_common_contract_words_name_no_contract(service: ContractQA) -> None:
    """"Résiliation" or "Article" are in every contract: they route nowhere."""
    route = service.chain.router.route("Quelles sont les conditions de résiliation ?")
    assert route.documents == [] and route.unknown == []


@pytest.mark.integration
def test_a_defined_term_of_common_words_names_only_as_written(service: ContractQA) -> None:
    """"durée ferme" in lowercase is a question's words, not the lease's defined term."""
    assert service.chain.router.route("Quelle est la durée ferme du prix ?").documents == []


@pytest.mark.integration
def test_a_contract_that_is_not_indexed_is_said_so(service: ContractQA) -> None:
    answer = service.chain.answer("Quel est le préavis de résiliation du contrat Zorbalux ?")
    assert answer.abstained and not answer.citations
    assert "Aucun contrat indexé ne correspond à « Zorbalux »" in answer.answer


def test_unknown_names_need_a_naming_position(tmp_path: Path) -> None:
    from ingest.store import DocumentRecord
    from retrieval.routing import Router

    record = DocumentRecord("a", "CONTRAT", "a.txt", "h", 1, 1)
    router = Router([record], {"a": frozenset({"contrat", "prix", "duree"})})
    assert router.route("Chez Zorbalux, quel est le prix ?").unknown == ["Zorbalux"]
    # A capitalised word elsewhere (a law, an event) is not a contract's name.
    assert router.route("Le prix change-t-il après le Brexit ?").unknown == []


def test_one_companys_two_contracts_are_told_apart_by_their_kind() -> None:
    """A rare name held by two contracts names both; the kind the question writes picks one."""
    from ingest.store import DocumentRecord
    from retrieval.routing import Router, corpus_vocabulary

    texts = {
        "cgv": ("Conditions générales de vente", "La société Quorvel vend ses logiciels."),
        "cdi": ("Contrat de travail", "Le salarié est engagé par Quorvel à durée indéterminée."),
    }
    # Eight more contracts: in a base of ten, a name may belong to two of them.
    texts |= {f"autre{i}": (f"Contrat de maintenance {i}", "Le Client paie le prix convenu.")
              for i in range(8)}
    records = [DocumentRecord(doc, title, f"{doc}.txt", doc, 1, 1, candidates=["Quorvel"]
                              if doc == "cgv" else [])
               for doc, (title, _text) in texts.items()]
    router = Router(records, corpus_vocabulary(
        [(doc, f"{title}\n{text}") for doc, (title, text) in texts.items()], records))
    assert router.route("Quel préavis chez Quorvel ?").documents == ["cdi", "cgv"]
    assert router.route("Quelle période d'essai prévoit le contrat de travail de Quorvel ?"
                        ).documents == ["cdi"]


def test_a_question_describing_its_contract_by_two_words_only_it_holds() -> None:
    """"la plateforme de jeux promotionnels": words no other contract holds name it; one such
    word alone (a rare term another contract may also answer about) does not."""
    from ingest.store import DocumentRecord
    from retrieval.routing import Router, corpus_vocabulary

    texts = {f"c{i}": f"Le prestataire fournit le service {i}. Le prix est payable."
             for i in range(6)}
    texts["jeux"] = "La plateforme de jeux promotionnels est fournie. Le prix est payable."
    records = [DocumentRecord(doc, "Contrat", f"{doc}.txt", doc, 1, 1) for doc in texts]
    router = Router(records, corpus_vocabulary(list(texts.items()), records))
    assert router.route("Quel prix pour la plateforme de jeux promotionnels ?").documents == [
        "jeux"]
    assert router.route("Quel prix pour les jeux ?").documents == []
    assert router.route("Quel est le prix ?").documents == []


def test_a_question_describing_its_contract_by_more_words_than_another_holds() -> None:
    """Two words only one contract holds outweigh one word only another holds: "l'assistant
    vocal pour restaurants", where a convention de stage alone mentions restaurants."""
    from ingest.store import DocumentRecord
    from retrieval.routing import Router, corpus_vocabulary

    texts = {f"c{i}": f"Le prestataire fournit le service {i}. Le prix est payable."
             for i in range(5)}
    texts["vocal"] = "L'assistant vocal répond aux appels. Le prix est payable."
    texts["stage"] = "Le stagiaire travaille dans un des restaurants. Le prix est payable."
    records = [DocumentRecord(doc, "Contrat", f"{doc}.txt", doc, 1, 1) for doc in texts]
    router = Router(records, corpus_vocabulary(list(texts.items()), records))
    assert router.route("Quel prix pour l'assistant vocal des restaurants ?").documents == [
        "vocal"]
    # One word each: no contract leads.
    assert router.route("Quel prix pour le vocal des restaurants ?").documents == []


def test_a_defined_term_written_singular_and_plural_names_its_contract() -> None:
    """A contract writes its defined term in several forms, none three times ("Réserve
    d'Instance", "Réserves d'Instance", "Réserves d'Instances"): counted together, the term
    names the contract, whichever form the question writes."""
    from ingest.aliases import derive_profile
    from ingest.store import DocumentRecord
    from retrieval.routing import Router, corpus_vocabulary

    reserved = ("Le client souscrit une Réserve d'Instance pour un an. Le prix des Réserves "
                "d'Instance est payable d'avance. Le prix des Réserves d'Instances n'est pas "
                "remboursable. Le client cède sa Réserve d'Instance avec notre accord.")
    profile = derive_profile("Conditions générales de vente", reserved)
    assert [c for c in profile.candidates if "Instance" in c] == ["Réserve d'Instance"]
    texts = {f"c{i}": f"Le prestataire fournit le service {i} pour une durée d'un an."
             for i in range(9)} | {"cloud": reserved}
    records = [DocumentRecord(doc, "Contrat", f"{doc}.txt", doc, 1, 1,
                              candidates=list(derive_profile("Contrat", text).candidates))
               for doc, text in texts.items()]
    router = Router(records, corpus_vocabulary(list(texts.items()), records))
    for question in ("Quelle durée pour une Réserve d'Instance ?",
                     "Les Réserves d'Instances sont-elles remboursables ?"):
        assert router.route(question).documents == ["cloud"], question


def test_a_name_two_contracts_hold_is_told_apart_by_what_the_question_describes() -> None:
    """"Grenoble" names a CCAP and a maintenance contract that both hold it; the words the
    question adds ("machine de prototypage") only the CCAP holds, and a question in two parts
    ("… et quelle indemnité ?") compares nothing."""
    from ingest.store import DocumentRecord
    from retrieval.routing import Router, corpus_vocabulary

    texts = {
        "ccap": ("Cahier des clauses administratives particulières",
                 "Acquisition d'une machine de prototypage de circuits imprimés pour l'Institut "
                 "de Rivemont. Le titulaire livre la machine."),
        "maint": ("Contrat de maintenance", "Le prestataire entretient les installations "
                  "frigorifiques du site de Rivemont."),
    }
    texts |= {f"autre{i}": (f"Contrat de service {i}", "Le Client paie le prix convenu.")
              for i in range(8)}
    records = [DocumentRecord(doc, title, f"{doc}.txt", doc, 1, 1,
                              candidates=["Rivemont"] if doc in ("ccap", "maint") else [])
               for doc, (title, _text) in texts.items()]
    router = Router(records, corpus_vocabulary(
        [(doc, f"{title}\n{text}") for doc, (title, text) in texts.items()], records))
    assert router.route("Quel préavis à Rivemont ?").documents == ["ccap", "maint"]
    route = router.route("Dans quel délai Rivemont paie-t-il la machine de prototypage de "
                         "circuits imprimés, et quelle indemnité est due en cas de retard ?")
    assert route.documents == ["ccap"] and not route.comparison


def test_a_phrase_of_the_object_clause_names_its_contract() -> None:
    """"l'assistant vocal": one word only one contract holds does not route a question (see
    above), but the phrase its object clause writes names it; a phrase every contract's object
    clause writes ("suivi technique") names none, and a phrase written elsewhere in a
    contract is no candidate."""
    from ingest.aliases import derive_profile, subject_phrases
    from ingest.store import DocumentRecord
    from retrieval.routing import Router, corpus_vocabulary

    def contract(service: str) -> str:
        return (f"Article 1 – Objet\nLe présent contrat a pour objet la fourniture du service "
                f"{service} et le suivi technique des appels.\n\nArticle 2 – Prix\nLe "
                "prix est payable. Un assistant juridique répond aux questions sur le tarif.\n")

    texts = {f"c{i}": contract(f"de maintenance {i}") for i in range(9)}
    texts["vocal"] = contract("d'assistant vocal")
    assert subject_phrases(texts["vocal"]) == ["assistant vocal", "suivi technique"]
    assert "assistant juridique" not in subject_phrases(texts["vocal"])
    records = [DocumentRecord(doc, "Contrat", f"{doc}.txt", doc, 1, 1,
                              candidates=list(derive_profile("Contrat", text).candidates))
               for doc, text in texts.items()]
    router = Router(records, corpus_vocabulary(list(texts.items()), records))
    assert router.route("Quel est le prix de l'assistant vocal ?").documents == ["vocal"]
    assert router.route("Quel est le prix du suivi technique ?").documents == []
    assert router.route("Quel est le prix de l'assistant ?").documents == []
