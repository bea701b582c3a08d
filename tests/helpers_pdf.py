"""Build laid-out contract PDFs (fpdf2): justified text, running header and "Page N / M" footer,
table of contents, capitals, wrapped headings, two columns; and a PDF whose fonts cannot be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.helpers_docs import require_font

TITLE = "CONTRAT DE PARTENARIAT LOGISTIQUE"
HEADER = "Convention de partenariat – Transports Aubrac / Coopérative du Larzac"
WORDS = ("le transporteur s'engage à livrer les marchandises confiées dans les délais convenus "
         "entre les parties et à informer sans délai la coopérative de toute difficulté "
         "rencontrée lors de l'exécution des prestations, notamment en cas de force majeure "
         "au sens de l'article 1218 du code civil, de grève ou d'intempéries").split()


@dataclass
class Article:
    number: str
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    capitals: bool = False  # body written in capitals (as liability clauses often are)


def sample_articles(count: int = 8, sentences: int = 6) -> list[Article]:
    """Articles with long justified paragraphs; figures in every paragraph."""
    out: list[Article] = []
    for n in range(1, count + 1):
        paragraphs = []
        for p in range(2):
            words = [WORDS[(n * 7 + p * 11 + k) % len(WORDS)] for k in range(12 * sentences)]
            words[0] = words[0].capitalize()
            paragraphs.append(
                " ".join(words) + f", pour un montant de {n * 1000 + p} euros sous {n + 2} jours."
            )
        heading = ("Obligations du transporteur relatives à la sécurité des marchandises et à "
                   "leur assurance pendant le transport" if n == 4 else f"Clause numéro {n}")
        out.append(Article(str(n), heading, paragraphs, capitals=n == 6))
    return out


def contract_pdf(
    out: Path,
    articles: list[Article],
    *,
    toc: bool = True,
    columns: int = 1,
    ligatures: bool = False,
) -> None:
    """A contract PDF as a word processor prints it: a title on page 1, a table of contents
    with page numbers, justified paragraphs, a running header and a "Page N / M" footer."""
    from fpdf import FPDF

    font = require_font()

    class Contract(FPDF):
        def header(self) -> None:
            if self.page_no() > 1:
                self.set_font("DejaVu", size=8)
                self.cell(0, 5, HEADER, align="C", new_x="LMARGIN", new_y="NEXT")
                self.ln(3)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", size=8)
            self.cell(0, 5, f"Page {self.page_no()} / {{nb}}", align="C")

    pdf = Contract(format="A4")
    pdf.add_font("DejaVu", "", str(font))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 15, 20)
    pdf.add_page()
    pdf.set_font("DejaVu", size=14)
    pdf.multi_cell(0, 8, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    if toc:
        pdf.set_font("DejaVu", size=10)
        pdf.cell(0, 6, "SOMMAIRE", new_x="LMARGIN", new_y="NEXT")
        for k, article in enumerate(articles):
            pdf.cell(150, 5, f"Article {article.number} – {article.heading[:60]}")
            pdf.cell(0, 5, str(2 + k // 2), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.add_page()
    width = (pdf.epw - 8) / columns
    pdf.set_font("DejaVu", size=10)
    if columns == 2:
        with pdf.text_columns(ncols=2, gutter=8, text_align="J") as cols:
            for article in articles:
                cols.write(f"Article {article.number} – {article.heading}\n")
                for paragraph in article.paragraphs:
                    cols.write(_text(paragraph, article, ligatures) + "\n")
        pdf.output(str(out))
        return
    for article in articles:
        pdf.multi_cell(width, 5, f"Article {article.number} – {article.heading}",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        for paragraph in article.paragraphs:
            pdf.multi_cell(width, 5, _text(paragraph, article, ligatures), align="J",
                           new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(out))



# Headings as a generated table of contents lists them, without the articles' numbers.
TOPICS = ["Objet", "Durée", "Prix", "", "Facturation", "Paiement", "Responsabilité",
          "Assurances", "Confidentialité", "Données personnelles", "Sous-traitance",
          "Résiliation", "Force majeure", "Cession", "Propriété intellectuelle", "Garanties",
          "Réversibilité", "Audit", "Sécurité", "Pénalités", "Révision des prix", "Réclamations",
          "Notifications", "Intégralité", "Divisibilité", "Tolérance", "Indépendance des parties",
          "Loi applicable", "Litiges", "Élection de domicile", "Annexes", "Signatures"]


def dotted_articles() -> list[Article]:
    """32 short articles named as above (the fourth keeps its long, wrapping heading)."""
    articles = sample_articles(count=len(TOPICS), sentences=1)
    return [replace(a, heading=topic or a.heading)
            for a, topic in zip(articles, TOPICS, strict=True)]


DOTTED_FOOTER = "CGU API IP_PROD_v4.0.odt"


def dotted_contents_pdf(out: Path, articles: list[Article]) -> None:
    """A contract PDF as a word processor exports it with a generated table of contents: dot
    leaders and page numbers, one entry per line, spread over two pages, an entry that wraps
    onto a second line, and a footer naming the file and ending with the page number on every
    page ("CGU ….odt 3"); entries without the articles' numbers ("Clause numéro 3 ….. 5")."""
    from fpdf import FPDF

    font = require_font()

    class Contract(FPDF):
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font("DejaVu", size=8)
            self.cell(0, 5, f"{DOTTED_FOOTER} {self.page_no()}")

    pdf = Contract(format="A4")
    pdf.add_font("DejaVu", "", str(font))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 15, 20)
    pdf.add_page()
    pdf.set_font("DejaVu", size=14)
    pdf.multi_cell(0, 8, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.set_font("DejaVu", size=10)
    pdf.cell(0, 8, "Table des matières", align="C", new_x="LMARGIN", new_y="NEXT")
    for k, article in enumerate(articles):
        heading, page = article.heading, str(4 + k // 8)
        link = pdf.add_link(page=1)  # each entry links into the document, as Word's do
        if pdf.get_string_width(heading) > 140:  # wraps: the first line has no leader
            cut = heading.rfind(" ", 0, len(heading) // 2)
            pdf.cell(0, 6, heading[:cut], new_x="LMARGIN", new_y="NEXT", link=link)
            heading = heading[cut + 1:]
        dots = "." * int((150 - pdf.get_string_width(heading + " ")) / pdf.get_string_width("."))
        pdf.cell(155, 9, f"{heading} {dots}", link=link)
        pdf.cell(0, 9, page, align="R", new_x="LMARGIN", new_y="NEXT", link=link)
    pdf.add_page()
    for article in articles:
        pdf.multi_cell(0, 5, f"{article.number}. {article.heading}", new_x="LMARGIN",
                       new_y="NEXT")
        for paragraph in article.paragraphs:
            pdf.multi_cell(0, 5, paragraph, align="J", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(out))


def _text(paragraph: str, article: Article, ligatures: bool) -> str:
    text = paragraph.upper() if article.capitals else paragraph
    if ligatures:  # the presentation forms a word processor writes for "fi", "fl"
        text = text.replace("fi", "\ufb01").replace("fl", "\ufb02")
    return text


def body_words(articles: list[Article]) -> list[str]:
    """Every word of the articles' headings and paragraphs, as written."""
    words: list[str] = []
    for article in articles:
        words += f"Article {article.number} – {article.heading}".split()
        for paragraph in article.paragraphs:
            words += (paragraph.upper() if article.capitals else paragraph).split()
    return words


def without_unicode_maps(source: Path, out: Path) -> None:
    """Copy a PDF with every font's ToUnicode map removed: glyphs no longer map to letters,
    as in PDFs printed from some word processors (the issue-15 lease)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    writer = PdfWriter(clone_from=PdfReader(str(source)))
    for page in writer.pages:
        resources: Any = page["/Resources"]
        fonts = resources.get_object().get("/Font")
        if fonts is None:
            continue
        for ref in fonts.get_object().values():
            font = ref.get_object()
            if NameObject("/ToUnicode") in font:
                del font[NameObject("/ToUnicode")]
    with out.open("wb") as handle:
        writer.write(handle)
