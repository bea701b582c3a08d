"""French words for search: fold, split, drop stopwords, stem (Snowball), mark negations, and
expand a question with the words lawyers' paraphrases stand for."""

from __future__ import annotations

import re
from functools import lru_cache

from french.normalize import fold

_WORD = re.compile(r"[a-z0-9]+")
_NEGATORS = frozenset({"sans", "non"})
# Words that may stand between a negator and what it negates: "sans l'avoir modifié".
_NEGATION_GAP = frozenset({"l", "le", "la", "les", "en", "y", "se", "s", "lui", "leur", "avoir",
                           "etre", "ete", "eu"})
# Bump when tokenize() changes: cached indexes built by another version are rebuilt.
TOKENIZER_VERSION = "4"
# "sous-traitant", "sous-traitance", "sous traiter" are one word: split, "traitant" would stem
# like "traitement" (processing) and "traitance" like nothing else.
_SOUS = re.compile(r"\bsous-(?=[a-z])|\bsous (?=trait)")
STOPWORDS = frozenset(fold(w) for w in """
a au aux avec ce ces cet cette dans de des du elle en est et eux il ils je la le les leur
leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se
ses son sur ta te tes toi ton tu un une vos votre vous c d j l m n s t y ete etre avoir
sont sera seront ont a-t-il quel quelle quels quelles quoi comment combien est-ce
ceci cela ca lequel laquelle lesquels dont ou si sans sous entre vers chez
prevu prevue prevus prevues prevoit contrat contrats article articles clause clauses
selon concernant ainsi tout toute tous toutes peut peuvent doit doivent faut il-y
""".split())


# How lawyers paraphrase contract vocabulary: a question word also searches for these words.
# General French legal usage, not taken from any particular contract.
LEGAL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "plafond": ("limite", "limitation", "plafonne", "montant"),
    "plafonne": ("limite", "limitation"),
    "fuite": ("violation", "incident"),
    "secret": ("confidentialite", "confidentiel", "confidentielles"),
    "rompre": ("resiliation", "resilier"),
    "rupture": ("resiliation", "resilier"),
    "mettre fin": ("resiliation", "resilier"),
    "arreter": ("resiliation", "cessation"),
    "tribunal": ("juridiction", "competent", "tribunaux"),
    "litige": ("differend", "juridiction", "competent"),
    "prevenir": ("notifier", "informer", "notification"),
    "avertir": ("notifier", "informer", "notification"),
    "indexe": ("revision", "indice", "revises"),
    "augmenter": ("revision", "hausse", "modification"),
    "impaye": ("retard", "defaut", "paiement"),
    "impayee": ("retard", "defaut", "paiement"),
    "pentest": ("intrusion",),
    "penalite": ("penalites", "interet", "indemnite"),
    "prix": ("tarif", "tarifs", "redevance"),
    "cout": ("tarif", "prix", "frais"),
    "renouvellement": ("reconduction", "tacite"),
    "prolonge": ("reconduction", "renouvellement"),
    "duree": ("periode", "pendant"),
    "chiffrement": ("chiffre", "cryptographique"),
    "cryptographiquement": ("chiffrement", "chiffre"),
    "recuperer": ("restitution", "reversibilite", "export"),
    "rendre": ("restitution", "retour"),
    "donnees personnelles": ("caractere", "personnel"),
    "soustraitant": ("sous-traitant", "sous-traitance"),
    "controler": ("audit", "verifier"),
    "controle": ("audit",),
    "disponibilite": ("sla", "taux"),
    "dedommagement": ("indemnisation", "indemnite", "penalites"),
    "indemniser": ("indemnisation", "responsabilite", "dommages"),
    "embaucher": ("sollicitation", "recruter", "debauchage"),
    "force majeure": ("imprevisible", "irresistible"),
    "imprevisible": ("force", "majeure"),
    "copies de secours": ("sauvegarde", "sauvegardes"),
    "avance": ("acompte",),
    "zone": ("localisation", "pays", "hebergement"),
    "geographique": ("localisation", "pays"),
    "propriete": ("titulaire", "droits"),
    "combien de fois": ("frequence", "par an"),
    "enregistrement": ("conservation", "duree"),
    "format": ("export", "restitution"),
}


def expand_query(text: str) -> str:
    """The question plus the contract words lawyers' paraphrases usually stand for.

    A key matches at the start of a word, so inflections match ("controle" in "contrôler")
    but a word hidden inside another does not ("format" in "informations").
    """
    folded = fold(text)
    extra = [w for key, words in LEGAL_SYNONYMS.items()
             if re.search(rf"(?<![a-z]){re.escape(key)}", folded) for w in words]
    return f"{text} {' '.join(extra)}" if extra else text


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("french")


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Fold accents, split words, drop stopwords and stem (French Snowball).

    "Sous-" compounds are one word ("sous-traitant", "sous-traitance": "soustrait"). A word
    negated by "sans" or "non" also gives a negation token built on its first five
    stem letters, so "non modifié", "sans modification" and "sans l'avoir modifié" share
    "non_modif".
    """
    words = _WORD.findall(_SOUS.sub("sous", fold(text)).replace("'", " "))
    tokens: list[str] = []
    negated = False
    for word in words:
        content = word not in STOPWORDS
        if content or keep_stopwords:
            tokens.append(_stem(word))
        if content and negated and not word.isdigit():
            tokens.append("non_" + _stem(word)[:5])
        negated = word in _NEGATORS or (negated and word in _NEGATION_GAP)
    return tokens


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    if word.isdigit():
        return word
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]
