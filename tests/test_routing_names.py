"""Routing: the kinds of document a question names."""

from __future__ import annotations


def test_the_longest_kind_written_decides() -> None:
    """"Les conditions générales d'utilisation" are a CGU: the CGV that "conditions générales"
    alone stands for would keep a lease that shares a name with the CGU in the route."""
    from french.normalize import fold
    from retrieval.routing import _named_types

    assert _named_types(fold("l'article 6.2 des conditions générales d’utilisation de l'API")) == {
        "cgu"}
    assert _named_types(fold("les conditions générales de vente et d'utilisation")) == {"cgvu"}
    assert _named_types(fold("les conditions générales de prestation")) == {"cgv"}
    assert _named_types(fold("le DPA et les CGV")) == {"dpa", "cgv"}


def test_a_lettered_paragraph_is_looked_up_by_its_label() -> None:
    """"l'article 7.b", "le point 6.d": the paragraphs the parser labels 7.b and 6.d."""
    from retrieval.routing import _ARTICLE_REF, _article_label

    def refs(question: str) -> list[str]:
        return [_article_label(m.group(1)) for m in _ARTICLE_REF.finditer(question)]

    assert refs("Que prévoit l'article 7.b de la convention de prêt ?") == ["7.b"]
    assert refs("Que dit le point 6.d de la convention ?") == ["6.d"]
    assert refs("Que dit l'article 10.2 du contrat ?") == ["10.2"]
    assert refs("Le point 3 du contrat et l'article L.441-10 du code de commerce") == []
