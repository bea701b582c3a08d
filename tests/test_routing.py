"""Routing: questions name contracts, sub-documents and articles; aliases come from the text."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings
from retrieval.routing import Route, Router

CRAFT = "000_863f8398c9eb4693"
GRAHAM = "001_05fa10e0473d31c4"
NUMSPOT = "002_7a0edd1b49b950df"
SILLAGE = "003_b5b57cd92b7db28d"
KIMPLE = "004_f17bc88fae2ffff9"
CT_CGVU = "cloudtemple_cgvu"
CT_DPA = "cloudtemple_dpa"
CECILL = "cecill_v2_1_fr"


@pytest.fixture(scope="module")
def router(sample_service: ContractQA) -> Router:
    return sample_service.chain.router


def route(router: Router, question: str) -> Route:
    return router.route(question)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Quel est le plafond de responsabilité chez Kimple ?", [KIMPLE]),
        ("Que dit le DPA de Graham AI sur les sous-traitants ultérieurs ?", [GRAHAM]),
        ("Quelles sont les modalités de paiement dans les CGV NumSpot ?", [NUMSPOT]),
        ("Quelle est la durée du contrat chez Cassiop ?", [KIMPLE]),
        ("Comment résilier l'abonnement Sillage ?", [SILLAGE]),
        ("Quelle est la loi applicable à la licence CeCILL ?", [CECILL]),
        ("Quelles sont les pénalités dans les CGVU de Cloud Temple ?", [CT_CGVU]),
    ],
)
def test_question_routes_to_named_contract(router: Router, question: str,
                                           expected: list[str]) -> None:
    assert route(router, question).documents == expected


def test_routing_is_case_and_accent_insensitive(router: Router) -> None:
    assert route(router, "chez KIMPLE").documents == [KIMPLE]
    assert route(router, "chez numspot").documents == [NUMSPOT]
    assert route(router, "chez Sillage.ai").documents == [SILLAGE]


def test_matched_words_are_reported(router: Router) -> None:
    r = route(router, "Quel est le plafond de responsabilité chez Kimple ?")
    assert [m.lower() for m in r.matched] == ["kimple"]


def test_msa_of_craft_ai_selects_msa_section(router: Router) -> None:
    r = route(router, "Quel est le plafond de responsabilité dans le MSA de Craft AI ?")
    assert r.documents == [CRAFT]
    assert r.sections == {CRAFT: "MSA"}


def test_dpa_of_craft_ai_selects_dpa_section(router: Router) -> None:
    r = route(router, "Que prévoit le DPA de Craft AI sur les violations de données ?")
    assert r.documents == [CRAFT]
    assert r.sections == {CRAFT: "DPA"}


def test_annex_reference_selects_annex_section(router: Router) -> None:
    r = route(router, "Que contient l'annexe 3 de NumSpot ?")
    assert r.documents == [NUMSPOT]
    assert r.sections == {NUMSPOT: "Annexe 3"}


def test_publisher_with_two_documents_cgvu(router: Router) -> None:
    r = route(router, "Que prévoient les CGVU de Cloud Temple sur la résiliation ?")
    assert r.documents == [CT_CGVU]


def test_a_kind_written_outweighs_a_kind_the_topic_suggests(router: Router) -> None:
    """Personal data is the DPA's subject, but "les CGVU" names the other document."""
    r = route(router, "Selon les CGVU de Cloud Temple, dans quel délai une violation de données "
                      "à caractère personnel est-elle notifiée ?")
    assert r.documents == [CT_CGVU] and not r.comparison


def test_publisher_with_two_documents_dpa(router: Router) -> None:
    """The Cloud Temple DPA names its publisher ("Cloud Temple assiste le Responsable…")."""
    r = route(router, "Que prévoit le DPA de Cloud Temple sur les sous-traitants ultérieurs ?")
    assert r.documents == [CT_DPA]


def test_one_publisher_with_two_documents_is_not_a_comparison(router: Router) -> None:
    """"Cloud Temple" names both its CGVU and its DPA: search both, do not compare them."""
    r = route(router, "Chez Cloud Temple, combien de temps dure l'interdiction de débaucher "
                      "et combien coûte l'infraction ?")
    assert set(r.documents) == {CT_CGVU, CT_DPA}
    assert not r.comparison


@pytest.mark.parametrize(
    "question",
    [
        "Comparer les délais de notification dans les CGVU et le DPA de Cloud Temple",
        "Quels délais de notification dans les CGVU et dans le DPA de Cloud Temple ?",
    ],
)
def test_one_publisher_documents_named_apart_are_compared(router: Router, question: str) -> None:
    r = route(router, question)
    assert set(r.documents) == {CT_CGVU, CT_DPA}
    assert r.comparison


def test_unnamed_question_routes_nowhere(router: Router) -> None:
    r = route(router, "Quel est le délai de préavis en cas de résiliation ?")
    assert r.documents == []
    assert r.sections == {}
    assert not r.comparison
    assert not r.all_documents


@pytest.mark.parametrize(
    ("question", "articles"),
    [
        ("Que prévoit l'article 8.2 du MSA de Craft AI ?", ["8.2"]),
        ("Montre-moi l'article 7 des CGV NumSpot", ["7"]),
        ("Que disent les articles 10.1 chez NumSpot ?", ["10.1"]),
        ("article 5.3.1 de la licence CeCILL", ["5.3.1"]),
        ("Que prévoit l'article 1er du contrat Kimple ?", ["1"]),
        ("Que dit l'article premier des CGV NumSpot ?", ["1"]),
        ("Montre-moi l'art. 7 des CGV NumSpot", ["7"]),
    ],
)
def test_article_references(router: Router, question: str, articles: list[str]) -> None:
    r = route(router, question)
    assert r.articles == articles
    assert r.lookup


def test_article_8_2_of_craft_msa_route(router: Router) -> None:
    r = route(router, "Que prévoit l'article 8.2 du MSA de Craft AI ?")
    assert r.documents == [CRAFT]
    assert r.sections == {CRAFT: "MSA"}
    assert r.articles == ["8.2"]


def test_law_articles_are_not_contract_articles(router: Router) -> None:
    r = route(router, "Le contrat Kimple respecte-t-il l'article 28 du RGPD ?")
    assert r.articles == []
    assert r.documents == [KIMPLE]


def test_comparison_between_two_named_contracts(router: Router) -> None:
    r = route(router, "Comparer les délais de préavis de résiliation entre NumSpot et Kimple")
    assert r.documents == [NUMSPOT, KIMPLE]  # in the order of the question
    assert r.comparison
    assert not r.all_documents


def test_two_names_joined_by_et_is_a_comparison(router: Router) -> None:
    r = route(router, "Quels plafonds de responsabilité chez Kimple et chez Sillage ?")
    assert r.documents == [KIMPLE, SILLAGE]
    assert r.comparison


def test_a_document_type_narrows_only_its_own_publisher(router: Router) -> None:
    # "MSA" picks Craft AI's MSA; Kimple and Sillage, named on their own, stay in the question.
    r = route(router, "Au-delà de quelle durée la force majeure permet-elle de résilier dans le "
                      "MSA de Craft AI, chez Sillage et chez Kimple ?")
    assert r.documents == [CRAFT, SILLAGE, KIMPLE]
    assert r.sections == {CRAFT: "MSA"}
    assert r.comparison
    r = route(router, "Comment se comparent les plafonds chez Kimple et dans le MSA de Craft AI ?")
    assert r.documents == [KIMPLE, CRAFT] and r.comparison
    # Within one publisher the type still chooses: the DPA of Cloud Temple only.
    r = route(router, "Chez Kimple et dans le DPA de Cloud Temple, quel préavis pour un "
                      "nouveau sous-traitant ?")
    assert r.documents == [KIMPLE, CT_DPA] and r.comparison


@pytest.mark.parametrize(
    "question",
    [
        "Quelle est la durée du préavis de résiliation dans chaque contrat ?",
        "Quel est le plafond de responsabilité dans tous les contrats ?",
    ],
)
def test_all_contracts_question(router: Router, question: str) -> None:
    r = route(router, question)
    assert r.all_documents
    assert r.comparison
    assert r.documents == []


def test_follow_up_detection(router: Router) -> None:
    assert route(router, "Et chez NumSpot ?").follow_up
    assert route(router, "Et chez NumSpot ?").documents == [NUMSPOT]
    assert not route(router, "Quel est le plafond de responsabilité prévu chez NumSpot ?"
                     ).follow_up


# Aliases come from the text -----------------------------------------------------------------

ZORGLUB = """CONDITIONS GÉNÉRALES DE SERVICE

Les présentes conditions sont conclues entre Zorglub Technologies, société par actions \
simplifiée au capital de 10 000 euros, dont le siège social est situé à Lyon (ci-après le \
« Prestataire »), et toute personne morale souscrivant aux services (ci-après le « Client »).

Article 1 - Objet
Les présentes conditions ont pour objet de définir les modalités de fourniture des services \
de maintenance informatique proposés par le Prestataire au Client.

Article 2 - Prix et paiement
Les factures sont payables à quarante-cinq (45) jours à compter de leur date d'émission. Tout \
retard de paiement entraîne des pénalités égales à trois fois le taux d'intérêt légal.

Article 3 - Responsabilité
La responsabilité totale du Prestataire est limitée au montant payé par le Client au cours \
des douze (12) derniers mois précédant le fait générateur.
"""


def test_aliases_are_derived_from_new_contract_text(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "contrat_services.txt"
    path.write_text(ZORGLUB, encoding="utf-8")
    service = ContractQA(settings)
    report = service.ingest([path])
    assert report.ok, [r.message for r in report.results]
    (record,) = service.documents()
    assert any("zorglub" in a.lower() for a in record.aliases), record.aliases

    r = service.chain.router.route("Quel est le délai de paiement chez Zorglub ?")
    assert r.documents == [record.document_id]
    r = service.chain.router.route(
        "Quel est le plafond de responsabilité de Zorglub Technologies ?")
    assert r.documents == [record.document_id]
    assert service.chain.router.route("Quel est le délai de paiement chez Kimple ?").documents == []

    answer = service.ask("Quel est le délai de paiement chez Zorglub ?")
    assert answer.routed == [record.document_id]
    assert answer.citations
    assert {c.document_id for c in answer.citations} == {record.document_id}
    assert answer.citations[0].article == "2"


def test_company_named_in_capitals_in_the_title_is_an_alias() -> None:
    from ingest.aliases import derive_profile

    title = "CONDITIONS GÉNÉRALES DE VENTE DE LA SOCIÉTÉ GAMMA LOGICIELS"
    profile = derive_profile(title, f"{title}\n\n1 - OBJET\nLes présentes conditions régissent "
                                    "la vente des licences de logiciels.\n")
    assert "GAMMA LOGICIELS" in profile.names
    assert "cgv" in profile.types


def test_a_title_phrase_routes_only_questions_that_name_no_party() -> None:
    from ingest.store import DocumentRecord

    def record(doc: str, title: str, aliases: list[str]) -> DocumentRecord:
        return DocumentRecord(doc, title, f"{doc}.txt", doc, 1, 1, aliases=aliases)

    router = Router([
        record("maint", "CONTRAT DE MAINTENANCE D'ÉQUIPEMENTS – OFFRE SENTINELLE",
               ["THERMOCAP", "SENTINELLE"]),
        record("presta", "CONTRAT DE PRESTATIONS DE SERVICES INFORMATIQUES", ["VERTALYS"]),
        record("craft", "MASTER SERVICES AGREEMENT (MSA) — CRAFT AI", ["CRAFT AI"]),
    ])
    assert router.route("Dans le contrat de maintenance, quel délai d'intervention ?"
                        ).documents == ["maint"]
    assert router.route("Quel est le prix du contrat de prestation ?").documents == ["presta"]
    # A named party wins over a title phrase describing one of its documents.
    assert router.route("Que prévoit le contrat de prestations de Craft AI ?"
                        ).documents == ["craft"]


def test_decomposed_accents_keep_the_matched_name_whole(router: Router) -> None:
    # macOS copy-paste: "é" as "e" + U+0301, before and around the name.
    question = unicodedata.normalize(
        "NFD", "Quelle clause de responsabilité précise l'éditeur Kimple à l'égard du client ?")
    assert question != unicodedata.normalize("NFC", question)
    r = route(router, question)
    assert r.documents == [KIMPLE]
    assert r.matched == ["Kimple"]


@pytest.mark.parametrize("kind", ["memory", "disk", "disk, 5 ids in memory"])
def test_postings_remember_only_what_no_change_touched(kind: str, tmp_path: Path) -> None:
    """The postings' remembered answers equal a count from scratch after any sequence of
    additions, removals and discarded terms (a seeded random sequence), in memory and on
    disk, whatever the bound on what the latter keeps in memory."""
    import random

    from retrieval.routing import Postings, PostingsView, StoredPostings

    rng = random.Random(19)
    vocabulary = [f"w{i}" for i in range(12)]
    held: dict[str, set[str]] = {}
    postings: Postings | StoredPostings = Postings()
    if kind != "memory":
        postings = StoredPostings(tmp_path / "postings.sqlite", 5 if "5 ids" in kind else 10**6)
    view: PostingsView = postings
    queries = [frozenset(rng.sample(vocabulary, rng.randint(0, 3))) for _ in range(30)]
    for step in range(300):
        action = rng.random()
        doc = f"d{rng.randint(0, 9)}"
        if action < 0.5:
            terms = set(rng.sample(vocabulary, rng.randint(1, 6)))
            postings.add(doc, terms)
            held.setdefault(doc, set()).update(terms)
        elif action < 0.85:
            postings.remove(doc)
            held.pop(doc, None)
        else:
            term = rng.choice(vocabulary)
            postings.discard(term)
            for terms in held.values():
                terms.discard(term)
        for query in queries:
            expected = {d for d, terms in held.items() if query <= terms}
            assert set(view.holding(query)) == expected, (step, sorted(query))
        assert {d: view.terms(d) for d in view.documents} == held
        if isinstance(postings, StoredPostings):
            assert postings.kept <= postings.cached


def test_stored_postings_are_shared_by_the_processes_of_a_data_dir(tmp_path: Path) -> None:
    """What one opening of the file wrote, another sees at its next update, and a file that
    is not SQLite is remade empty (it is a cache)."""
    from retrieval.routing import StoredPostings

    path = tmp_path / "postings.sqlite"
    first, second = StoredPostings(path), StoredPostings(path)
    with first.updating():
        first.hold("a", "v1", ["compte technique"])
        first.add("a", ["compte", "technique", "compte technique"])
        first.hold("b", "v2", ["compte technique"])
    assert second.versions == {} and second.holding(frozenset(["compte"])) == frozenset()
    with second.updating():
        assert second.versions == {"a": "v1", "b": "v2"}
        assert second.pairs == {"compte technique": 2}
        assert second.remove("b") == []
        assert second.remove("a") == ["compte technique"]
    with first.updating():
        assert first.versions == {}
    assert first.holding(frozenset(["compte"])) == frozenset()
    first.close()
    second.close()
    path.write_bytes(b"not a database" * 100)
    for stale in (tmp_path / "postings.sqlite-wal", tmp_path / "postings.sqlite-shm"):
        stale.unlink(missing_ok=True)
    assert StoredPostings(path).versions == {}


def test_a_question_tries_only_the_names_its_words_can_start(router: Router) -> None:
    """Looking names up by the question's words finds what trying every name finds, on every
    gold question of the sample corpus and the extra contracts."""
    import json

    from french.normalize import fold_with_offsets
    from retrieval.routing import DISTINCTIVE, NAME, TITLE

    gold = Path(__file__).resolve().parents[1] / "eval" / "gold"
    questions = [json.loads(line)["question"] for path in sorted(gold.glob("*.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) > 300
    everything = {kind: router.entries(kind) for kind in (NAME, DISTINCTIVE, TITLE)}
    for question in questions:
        folded, _offsets = fold_with_offsets(unicodedata.normalize("NFC", question))
        for kind, entries in everything.items():
            matching = [(v, d) for p, v, d in entries if p.search(folded)]
            assert [(v, d) for p, v, d in router.entries(kind, folded) if p.search(folded)
                    ] == matching, (question, kind)
