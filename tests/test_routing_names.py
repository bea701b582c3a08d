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
