"""Markdown contracts as a reader sees them: markup removed, the words and their order kept.

Contracts published as Markdown (terms of service in a documentation site, a template rendered
by a script) carry heading markers, emphasis, links, tables and YAML front matter that are not
the contract's words. markdown-it-py (CommonMark) parses them; each block becomes lines of
plain text: a heading with its level, a list item with its bullet or number, a table row as
"cell | cell". Nothing else is dropped: inline HTML and unknown syntax stay as text.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

# "##Article 1" (no space after the markers) is a heading to its author, not to CommonMark.
_GLUED_HEADING = re.compile(r"^(#{1,6})(?=[^\s#])", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE)
# Pandoc's title block: "% Title" lines at the very top (title, authors, date).
_PANDOC_TITLE = re.compile(r"\A(?:%[^\n]*\n)+")

Block = tuple[str, int | None]


def markdown_blocks(text: str) -> list[Block]:
    """The text of a Markdown document as (block, heading level) pairs, in reading order."""
    blocks: list[Block] = []
    if match := _FRONT_MATTER.match(text):
        # Front matter is metadata; its title is the document's title.
        if title := _FRONT_TITLE.search(match.group(1)):
            blocks.append((title.group(1), 1))
        text = text[match.end():]
    if match := _PANDOC_TITLE.match(text):
        lines = [_plain(MarkdownIt().parseInline(ln[1:].strip())[0])
                 for ln in match.group(0).splitlines()]
        blocks.extend((ln, 1 if i == 0 else None) for i, ln in enumerate(lines) if ln)
        text = text[match.end():]
    tokens = MarkdownIt("commonmark").enable("table").parse(_GLUED_HEADING.sub(r"\1 ", text))
    prefixes: list[str] = []  # the marker of each open list: "-" or the next number
    row: list[str] = []
    level: int | None = None
    for i, token in enumerate(tokens):
        kind = token.type
        if kind == "heading_open":
            level = int(token.tag[1])
        elif kind == "heading_close":
            level = None
        elif kind == "bullet_list_open":
            prefixes.append("-")
        elif kind == "ordered_list_open":
            prefixes.append(str(int(str(token.attrs.get("start", 1)))))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            prefixes.pop()
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            blocks.append((" | ".join(row), None))
        elif kind == "inline" and _in_cell(tokens, i):
            row.append(_plain(token))
        elif kind == "inline":
            blocks.append((_item_marker(tokens, i, prefixes) + _plain(token), level))
        elif kind in ("fence", "code_block", "html_block"):
            blocks.append((token.content.rstrip("\n"), None))
        if kind in ("paragraph_close", "heading_close") and not prefixes:
            blocks.append(("", None))  # a blank line between paragraphs, as in the source
    return blocks


def _in_cell(tokens: list[Token], index: int) -> bool:
    return index > 0 and tokens[index - 1].type in ("th_open", "td_open")


def _item_marker(tokens: list[Token], index: int, prefixes: list[str]) -> str:
    """"- " or "3. " before the first paragraph of a list item."""
    if index < 2 or tokens[index - 2].type != "list_item_open" or not prefixes:
        return ""
    marker = prefixes[-1]
    if marker == "-":
        return "- "
    prefixes[-1] = str(int(marker) + 1)
    return f"{marker}. "


def _plain(inline: Token) -> str:
    """An inline token's text without markup: emphasis and link syntax go, the words stay."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)
