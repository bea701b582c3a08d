"""Ingest files: load, clean, parse, chunk, embed and write each document atomically."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from ingest.aliases import Profile, derive_profile
from ingest.chunking import Chunker
from ingest.cleaning import CONTENTS, check_words, clean_with_report
from ingest.embeddings import EmbeddingModel
from ingest.loaders import SUPPORTED, document_id_for, load
from ingest.models import IngestError, ParsedDocument
from ingest.progress import IngestProgress, ProgressCallback, Stage
from ingest.store import ChunkStore, DocumentRecord, DocumentWrite
from ingest.structure import StructureParser

log = logging.getLogger(__name__)

Status = Literal["indexed", "replaced", "unchanged", "error"]
# One step of the file being ingested: (stage, passages done, passages in all).
Step = Callable[[Stage, int, int], None]
# Passages embedded per call, one progress step each: a multiple of the "use" model's own batch
# of 16, so the vectors are the same as in one call.
EMBED_BATCH = 64
# Passages gathered from consecutive files before they are written to Chroma in one go (its
# own call batch): a call costs about as much as 15 rows (ingest.store.write_documents). 1,000
# generated contracts of 25 passages (`contractqa bench scale-cli`): see docs/figures.md.
WRITE_ROWS = 256
# A folder's own documentation, never a contract: exactly these names ("README.md", "LICENSE"),
# not "licence_logiciel.pdf" nor "sources_contrat.txt" nor "licence.txt".
_REPO_DOCS = frozenset({"readme", "sources", "changelog", "license", "licence", "copying"})
_REPO_DOC_SUFFIXES = ("", ".md", ".rst")
# Bump when parsing, chunking or alias derivation changes: an unchanged file is then re-indexed.
PIPELINE_VERSION = "24"  # 15: contents over two pages; 16: long paragraphs cut to the budget;
# 17: articles numbered "1)", roman articles skipping a number; 18: "3.1. – Titre", lettered
# paragraphs "3.a.", styled headings numbered by their paragraphs, amended articles quoted;
# 19: Symbol and Wingdings bullets read as bullets; 20, 21: an unnumbered title line is not glued
# to the sentence under it; 22: Word's "Erreur ! Signet non défini." ends a contents entry;
# 23: sub-headings in lower case after a dash ("1.1 - la boutique"); 24: lower-case phrases of
# the object clause are naming candidates ("assistant vocal")


@dataclass
class FileResult:
    """The outcome for one file, with a French message for errors."""

    path: str
    document_id: str
    status: Status
    message: str = ""
    articles: int = 0
    chunks: int = 0
    seconds: float = 0.0
    fallback: bool = False
    note: str = ""  # which document it became: new, replacing its earlier version, renamed


@dataclass
class _Prepared:
    """A file parsed, cut and embedded, waiting for its batch to be written."""

    result: FileResult
    write: DocumentWrite
    step: Step
    seconds: float = 0.0  # spent on it before the write


def _stepper(progress: ProgressCallback | None, name: str, index: int, files: int,
             reached: list[float]) -> Step:
    """The `Step` of one file: an `IngestProgress` for `progress` (nothing without one).
    `reached` holds the share of the call reported so far: a file written after the next
    ones were read (files are written by batches) never makes it go back."""

    def step(stage: Stage, done: int, total: int) -> None:
        if progress is not None:
            event = IngestProgress(name, index, files, stage, done, total, floor=reached[0])
            reached[0] = event.fraction
            progress(event)

    return step


def origin_of(path: Path) -> str:
    """Where a document comes from: its absolute path (an upload's saved copy included)."""
    return str(path.resolve())


def _suffixed_id(stem: str, origin: str) -> str:
    """The id of a file whose name is taken by another file: name plus a hash of its path."""
    return f"{stem}-{hashlib.sha1(origin.encode()).hexdigest()[:6]}"


def _same_origin(record: DocumentRecord, path: Path, origin: str) -> bool:
    # Records written before origins were kept (pipeline 6) only know the file name.
    return record.origin == origin or (not record.origin and record.source == path.name)


def file_hash(path: Path) -> str:
    """The SHA-256 of the file's bytes ("" when it cannot be read: the load says why)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus the contract files of named folders (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.iterdir())
                if p.is_file() and not p.name.startswith(".") and not _is_repo_doc(p)
            )
        else:
            files.append(path)
    return files


def _is_repo_doc(path: Path) -> bool:
    return path.stem.lower() in _REPO_DOCS and path.suffix.lower() in _REPO_DOC_SUFFIXES


def outline_of(parsed: ParsedDocument) -> list[dict[str, object]]:
    return [
        {"section": a.section, "article": a.number, "heading": a.heading, "pages": a.pages,
         "chars": len(a.text)}
        for a in parsed.articles
    ]


def words_of(parsed: ParsedDocument) -> dict[str, object]:
    """What cleaning kept and removed, for `contractqa articles` (words and removed lines)."""
    check = parsed.words
    return {
        "extracted": check.extracted,
        "kept": check.kept,
        "kept_share": round(check.kept_share, 4),
        "unexplained": check.unexplained,
        "removed": [{"text": r.text, "page": r.page, "reason": r.reason} for r in check.removed],
    }


def parse_file(path: Path, max_mb: float = 20.0) -> tuple[ParsedDocument, Profile, str]:
    """Load and parse one file: (parsed document with display title, profile, content hash)."""
    loaded = load(path, max_mb=max_mb)
    cleaned = clean_with_report(loaded.lines)
    contents = [r.text for r in cleaned.removed if r.reason == CONTENTS]
    parsed = StructureParser().parse(loaded.document_id, cleaned.lines, contents)
    parsed.words = check_words(loaded.lines, cleaned)
    if parsed.words.unexplained:
        log.warning("%s: %d extracted words neither kept nor reported as removed",
                    path, parsed.words.unexplained)
    profile = derive_profile(parsed.title, loaded.text)
    parsed.title = profile.title
    return parsed, profile, loaded.content_hash


@dataclass(frozen=True)
class IngestConfig:
    """How files are cut into passages, and the largest file accepted."""

    chunk_tokens: int = 400
    max_file_mb: float = 20.0

    def __post_init__(self) -> None:
        if self.chunk_tokens < 50:
            raise ValueError(f"chunk_tokens must be at least 50, got {self.chunk_tokens}")
        if self.max_file_mb <= 0:
            raise ValueError(f"max_file_mb must be positive, got {self.max_file_mb}")


class Ingestor:
    """Index contract files into a `ChunkStore`; one bad file never stops the others."""

    def __init__(self, store: ChunkStore, embedder: EmbeddingModel,
                 config: IngestConfig | None = None) -> None:
        config = config or IngestConfig()
        self.store = store
        self.embedder = embedder
        self.chunker = Chunker(config.chunk_tokens)
        self.max_mb = config.max_file_mb

    def ingest(self, paths: Iterable[Path], progress: ProgressCallback | None = None,
               matters: Sequence[str] = ()) -> list[FileResult]:
        """Index each file; `progress` hears every step of every file (see ingest.progress).

        `matters`: the matters the files' contracts belong to (an unchanged contract is moved
        to them; a replaced one keeps its own when none are given).
        """
        removed = self.store.collect_garbage()
        if removed:
            log.warning("removed %d chunks left by an interrupted ingest", removed)
        files = expand(paths)
        results: list[FileResult] = []
        waiting: list[_Prepared] = []
        reached = [0.0]
        for i, path in enumerate(files):
            step = _stepper(progress, path.name, i, len(files), reached)
            step("reading", 0, 0)
            started = time.perf_counter()
            try:
                outcome = self._ingest_one(path, step, sorted(set(matters)), waiting)
            except IngestError as exc:
                outcome = FileResult(str(path), document_id_for(path), "error", str(exc))
            if isinstance(outcome, _Prepared):
                outcome.seconds = time.perf_counter() - started
                waiting.append(outcome)
                results.append(outcome.result)
                if sum(len(p.write.chunks) for p in waiting) >= WRITE_ROWS:
                    self._flush(waiting)
                continue
            outcome.seconds = round(time.perf_counter() - started, 3)
            results.append(outcome)
            step("failed" if outcome.status == "error" else "done", outcome.chunks,
                 outcome.chunks)
        self._flush(waiting)
        return results

    def _flush(self, waiting: list[_Prepared]) -> None:
        """Write the files waiting, in one store write, and empty the list; each hears its
        last steps. The write's time is shared among them by their passages."""
        if not waiting:
            return
        started = time.perf_counter()
        self.store.write_documents([p.write for p in waiting])
        written, waiting[:] = list(waiting), []
        share = (time.perf_counter() - started) / max(1, sum(p.result.chunks for p in written))
        for p in written:
            p.result.seconds = round(p.seconds + share * p.result.chunks, 3)
            p.step("done", p.result.chunks, p.result.chunks)

    @staticmethod
    def _waits(waiting: list[_Prepared], document_ids: Iterable[str], content_hash: str) -> bool:
        """Whether a file waiting to be written has one of these ids or this content."""
        ids = set(document_ids)
        return any(p.write.record.document_id in ids or p.write.record.content_hash
                   == content_hash for p in waiting)

    def _embed(self, texts: list[str], step: Step) -> np.ndarray:
        """Embed passages `EMBED_BATCH` at a time, reporting each batch."""
        parts = []
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(self.embedder.embed_batch(texts[start: start + EMBED_BATCH]))
            step("embedding", min(start + EMBED_BATCH, len(texts)), len(texts))
        return np.vstack(parts)

    def _indexed(self, path: Path, digest: str) -> DocumentRecord | None:
        """The record of this very file when it is indexed, unchanged, by this pipeline: a
        folder indexed again (an interrupted ingest resumed) skips it without reading it."""
        records = self.store.records()
        for document_id in (path.stem, _suffixed_id(path.stem, origin_of(path))):
            record = records.get(document_id)
            if (digest and record is not None and record.file_hash == digest
                    and record.pipeline_version == PIPELINE_VERSION):
                return record
        return None

    def _ingest_one(self, path: Path, step: Step, matters: list[str],
                    waiting: list[_Prepared]) -> FileResult | _Prepared:
        """A file unchanged or refused (its result), or ready to be written (`_Prepared`);
        `waiting`, the files ready before it, are written first when it shares an id or
        content with one of them."""
        if path.suffix.lower() not in SUPPORTED:
            load(path)  # raises the unsupported-format message
        digest = file_hash(path)
        indexed = self._indexed(path, digest)
        if indexed is not None:
            if matters and matters != indexed.matters:
                self.store.set_matters(indexed.document_id, matters)
            return FileResult(str(path), indexed.document_id, "unchanged",
                              "déjà indexé, inchangé", indexed.articles, indexed.chunks)
        parsed, profile, content_hash = parse_file(path, self.max_mb)
        origin = origin_of(path)
        if self._waits(waiting, (parsed.document_id, _suffixed_id(parsed.document_id, origin)),
                       content_hash):
            self._flush(waiting)  # its id or its twin is decided by what the store holds
        document_id, taken_by = self._identity(parsed.document_id, path, origin, content_hash)
        parsed.document_id = document_id
        existing = self.store.records().get(document_id)
        if (existing and existing.content_hash == content_hash
                and existing.pipeline_version == PIPELINE_VERSION):
            if matters and matters != existing.matters:
                self.store.set_matters(document_id, matters)
            return FileResult(str(path), document_id, "unchanged", "déjà indexé, inchangé",
                              existing.articles, existing.chunks)
        matters = matters or (existing.matters if existing else [])
        if existing and existing.content_hash == content_hash:
            self.store.delete_document(document_id)  # re-parse with the current pipeline
            existing = None
        twin = self.store.find_by_hash(content_hash)
        if twin and twin.document_id != document_id:
            raise IngestError(
                f"{path}: même contenu que le document « {twin.document_id} » déjà indexé. "
                f"Supprimez l'un des deux (contractqa delete {twin.document_id}) ou ignorez ce "
                "fichier."
            )
        step("chunking", 0, 0)
        chunks = self.chunker.chunks(parsed, content_hash)
        if not chunks:
            raise IngestError(f"{path}: aucun texte exploitable après nettoyage.")
        step("embedding", 0, len(chunks))
        vectors = self._embed([c.indexed_text for c in chunks], step)
        record = DocumentRecord(
            document_id=document_id,
            title=parsed.title,
            source=path.name,
            content_hash=content_hash,
            chunks=len(chunks),
            articles=sum(1 for a in parsed.articles if a.number),
            sections=parsed.sections,
            aliases=list(profile.names),
            types=list(profile.types),
            candidates=list(profile.candidates),
            fallback=parsed.fallback,
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
            outline=outline_of(parsed),
            pipeline_version=PIPELINE_VERSION,
            origin=origin,
            matters=matters,
            file_hash=digest,
        )
        message = (
            "aucun article reconnu : découpage par paragraphes" if parsed.fallback
            else f"{record.articles} articles"
        )
        if existing:
            note = f"remplacé (version précédente indexée le {existing.ingested_at[:10]})"
        elif taken_by:
            note = (f"nouveau document : le nom « {path.stem} » désigne déjà un autre fichier "
                    f"({taken_by}), celui-ci est indexé sous « {document_id} »")
        else:
            note = "nouveau document"
        result = FileResult(str(path), document_id, "replaced" if existing else "indexed",
                            message, record.articles, len(chunks), fallback=parsed.fallback,
                            note=note)
        write = DocumentWrite(record, chunks, vectors,
                              lambda done, total: step("writing", done, total))
        return _Prepared(result, write, step)

    def _identity(self, stem: str, path: Path, origin: str, content_hash: str
                  ) -> tuple[str, str]:
        """This file's id, and the file already holding its plain name ("" when none).

        A file keeps its name as id unless another file (another folder, another saved upload)
        with other content holds it; then it gets the name plus a short hash of its path,
        stable across re-ingests. The same content moved elsewhere is the same document.
        """
        holder = self.store.records().get(stem)
        if (holder is None or holder.content_hash == content_hash
                or _same_origin(holder, path, origin)):
            return stem, ""
        return _suffixed_id(stem, origin), holder.origin or holder.source
