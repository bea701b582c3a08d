"""Markdown contracts: markup removed, every word kept, articles found under '#' headings."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import load
from ingest.markdown import markdown_blocks
from ingest.pipeline import parse_file

CONTRACT = """---
title: "Conditions générales de vente Orvalis"
layout: page
---
#Conditions générales de vente

## Article 1 - Objet

Les présentes **conditions** régissent l'accès au service [Orvalis](https://example.org),
édité par la société Orvalis.

## Article 2 - Durée

Le contrat est conclu pour *douze mois*. Il se renouvelle tacitement, sauf dénonciation
trois mois avant l'échéance.

## Article 3 - Niveaux de service

| Niveau | Délai de rétablissement |
|---|---|
| P1 | 4 heures |
| P2 | 1 jour ouvré |

Le prestataire s'engage notamment à :

- sauvegarder les données chaque jour ;
- chiffrer les sauvegardes.
"""


def _words(text: str) -> list[str]:
    return re.findall(r"[\wÀ-ÿ'’]+", text.lower())


def test_markup_goes_and_words_stay() -> None:
    blocks = markdown_blocks(CONTRACT)
    text = "\n".join(b for b, _ in blocks)
    assert "**" not in text and "](" not in text and "##" not in text and "|---" not in text
    assert blocks[0] == ("Conditions générales de vente Orvalis", 1)
    assert ("Article 2 - Durée", 2) in blocks
    assert "P1 | 4 heures" in text
    assert "- sauvegarder les données chaque jour ;" in text
    body = CONTRACT.split("---\n", 2)[2]
    for word in ("régissent", "douze", "dénonciation", "rétablissement", "chiffrer"):
        assert word in _words(text), word
    assert len(_words(text)) >= len(_words(re.sub(r"\(https?://[^)]*\)|[#*|\-]", " ", body))) - 2


def test_a_markdown_contract_gets_its_articles(tmp_path: Path) -> None:
    path = tmp_path / "cgv_orvalis.md"
    path.write_text(CONTRACT, encoding="utf-8")
    assert load(path).file_type == "md"
    parsed, _profile, _hash = parse_file(path)
    numbers = [a.number for a in parsed.articles if a.number and a.number != "Préambule"]
    assert numbers == ["1", "2", "3"]
    durée = next(a for a in parsed.articles if a.number == "2")
    assert "douze mois" in durée.text and "**" not in durée.text and "*" not in durée.text
