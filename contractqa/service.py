"""The application facade: what the CLI, the web app and the API call.

One `ContractQA` is built at the entry point from `Settings`; it owns the store, the embedder,
the lexical index and the retrieval chain. UI and API code call only these methods.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from contractqa.review import (
    Review,
    ReviewProgress,
    ReviewQuestion,
    ReviewRunner,
    Summarizer,
    llm_summarizer,
)
from contractqa.review_storage import CellCache, ChecklistStore, ReviewStore
from contractqa.settings import Settings
from contractqa.wiring import build_chain, build_parts
from french.normalize import nfc
from ingest.embeddings import EmbeddingModel
from ingest.locking import Notify, writer_lock
from ingest.pipeline import FileResult
from ingest.progress import ProgressCallback
from ingest.store import DocumentRecord
from retrieval.chain import AnswerEvent
from retrieval.models import Answer, Turn


@dataclass(frozen=True)
class Upload:
    """A file saved in uploads/, and the earlier file of that name kept aside meanwhile."""

    path: Path
    previous: Path | None

    def settle(self, kept: bool) -> None:
        if kept:
            if self.previous is not None:
                self.previous.unlink(missing_ok=True)
        elif self.previous is not None:
            self.previous.replace(self.path)
        else:
            self.path.unlink(missing_ok=True)


class UnknownDocuments(ValueError):
    """Document ids that are not in the index."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__(f"Contrats inconnus : {', '.join(ids)}. La liste des contrats indexés "
                         "est donnée par `contractqa documents` (ou GET /api/documents).")


class EmptyQuestion(ValueError):
    """A blank or whitespace-only question."""

    def __init__(self) -> None:
        super().__init__("La question est vide : saisissez une question.")


def _question(text: str | None) -> str:
    question = nfc(text or "").strip()
    if not question:
        raise EmptyQuestion()
    return question


@dataclass
class IngestReport:
    """Per-file results of one ingest call; `ok` is False when any file failed."""

    results: list[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != "error" for r in self.results)


def partial_upload(folder: Path, name: str) -> Path:
    """A new, unique file in `folder` to receive an upload before it is placed."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    os.close(fd)
    return Path(path)


def sweep_partials(folder: Path, older_than_s: float = 86400.0) -> int:
    """Remove received files never placed (their job was lost when the server stopped), once
    older than `older_than_s`: another server on this data dir may be receiving one now."""
    cutoff = time.time() - older_than_s
    removed = 0
    for path in folder.glob(".*.part") if folder.is_dir() else []:
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:  # removed meanwhile by its own request or another server
            continue
    return removed


def place_upload(folder: Path, partial: Path, name: str) -> Upload:
    """Move a received file to folder/NAME, keeping aside the file it replaces."""
    target = folder / name
    previous = None
    if target.exists():
        previous = target.with_name(f".{name}.{uuid.uuid4().hex[:8]}.prev")
        target.replace(previous)
    partial.replace(target)
    return Upload(target, previous)


def settle_uploads(uploads: list[Upload], report: IngestReport | None) -> None:
    """Keep what was indexed; a refused file is removed and the one it replaced restored."""
    refused = {r.path for r in report.results if r.status == "error"} if report else set()
    for upload in uploads:
        upload.settle(report is not None and str(upload.path) not in refused)


class ContractQA:
    """Ingest contracts and answer questions about them."""

    def __init__(self, settings: Settings, embedder: EmbeddingModel | None = None) -> None:
        self.settings = settings
        parts = build_parts(settings, embedder)
        self.embedder = parts.embedder
        self.store = parts.store
        self.ingestor = parts.ingestor
        self.chain = build_chain(settings, self.store, self.embedder)
        self.checklists = ChecklistStore(settings.data_dir / "checklists")
        self.reviews = ReviewStore(settings.data_dir / "reviews")
        self._cells: CellCache | None = None

    # Writes (one writer per data dir, whatever the process) ----------------------------------
    @contextmanager
    def _writing(self, notify: Notify | None = None) -> Iterator[None]:
        """Hold the data dir's writer lock, up to date with what others wrote before."""
        with writer_lock(self.settings.data_dir, self.settings.write_lock_timeout_s, notify):
            self.catch_up()
            try:
                yield
            except BaseException:
                self.store.invalidate()  # a write cut short: read what Chroma holds now
                raise
            finally:
                self.chain.refresh()

    def catch_up(self) -> bool:
        """Reload what another process changed in the index since we last looked (cheap check:
        the record fingerprint); True when something changed."""
        changed = self.store.sync()
        if changed:
            self.chain.refresh()
        return changed

    def ingest(self, paths: list[Path], progress: ProgressCallback | None = None,
               notify: Notify | None = None, matters: list[str] | None = None
               ) -> IngestReport:
        """Index files; `matters`: the matters their contracts go to (none given: a new
        contract goes to the default matter, an indexed one stays in its own)."""
        with self._writing(notify):
            report = IngestReport(self.ingestor.ingest(paths, progress=progress,
                                                       matters=matters or ()))
        # The lexical index and the router's vocabularies take the new versions now, at ingest
        # (per document: what did not change is not read), not at the first question.
        self.chain.search.lexical()
        return report

    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    def save_upload(self, source: Path) -> Upload:
        """Copy a file received by the UI into uploads/ under its own name."""
        partial = partial_upload(self.uploads_dir, source.name)
        shutil.copyfile(source, partial)
        return place_upload(self.uploads_dir, partial, source.name)

    # Matters: who sees which contracts ------------------------------------------------------
    def matters_of(self, record: DocumentRecord) -> list[str]:
        """A contract's matters (the default one for a contract put in none)."""
        return record.matters or [self.settings.default_matter]

    def visible(self, matters: frozenset[str] | None) -> frozenset[str] | None:
        """The contracts of these matters (None: every matter, no restriction)."""
        return visible_documents(self.store.documents(), matters, self.settings.default_matter)

    def set_matters(self, document_id: str, matters: list[str]) -> DocumentRecord:
        """Put an indexed contract in these matters (KeyError if it is not indexed)."""
        with self._writing():
            if document_id not in self.store.records():
                raise KeyError(document_id)
            return self.store.set_matters(document_id, matters)

    def documents(self, matters: frozenset[str] | None = None) -> list[DocumentRecord]:
        """The indexed contracts (of these matters only, when given)."""
        self.catch_up()
        within = self.visible(matters)
        return [r for r in self.store.documents() if within is None or r.document_id in within]

    def _check_visible(self, document_id: str, matters: frozenset[str] | None) -> None:
        within = self.visible(matters)
        if within is not None and document_id not in within:
            raise KeyError(document_id)  # as if it were not indexed

    def outline(self, document_id: str, matters: frozenset[str] | None = None
                ) -> list[dict[str, object]]:
        """The article outline of an indexed document (section, article, heading, pages, chars)."""
        self._check_visible(document_id, matters)
        return self.store.outline(document_id)

    def article_text(self, document_id: str, section: str | None, article: str | None,
                     matters: frozenset[str] | None = None) -> str:
        """The whole article (with its sub-articles) in the contract's own words."""
        self._check_visible(document_id, matters)
        return self.store.article_text(document_id, section, article)

    def delete(self, document_id: str, notify: Notify | None = None) -> bool:
        with self._writing(notify):
            existed = self.store.delete_document(document_id)
        self.chain.search.lexical()
        return existed

    def ready(self) -> bool:
        return self.store.ready()

    # Questions -----------------------------------------------------------------------------
    def ask(
        self, question: str, documents: list[str] | None = None, history: list[Turn] | None = None,
        generate: bool = True, matters: frozenset[str] | None = None,
    ) -> Answer:
        """The answer; `generate=False` quotes the contracts even when an LLM is configured;
        `matters`: only their contracts are named, searched and quoted."""
        question = _question(question)
        self.catch_up()
        return self.chain.answer(question, documents=documents, history=history or [],
                                 generate=generate, within=self.visible(matters))

    def stream(
        self, question: str, documents: list[str] | None = None, history: list[Turn] | None = None,
        matters: frozenset[str] | None = None,
    ) -> Iterator[AnswerEvent]:
        """Yield `AnswerEvent`s: text deltas as they come, then the final validated answer."""
        question = _question(question)
        self.catch_up()
        return self.chain.stream(question, documents=documents, history=history or [],
                                 within=self.visible(matters))

    # Reviews: contracts × questions, one cited cell each ------------------------------------
    @property
    def review_cells(self) -> CellCache:
        """The cache of review cells (opened on first use)."""
        if self._cells is None:
            self._cells = CellCache(self.settings.data_dir / "reviews" / "cells.sqlite")
        return self._cells

    def _summarizer(self) -> Summarizer | None:
        return llm_summarizer(self.chain.llm) if self.chain.llm is not None else None

    def review_documents(self, documents: list[str] | None = None,
                         matters: frozenset[str] | None = None) -> list[DocumentRecord]:
        """The indexed contracts a review covers, in the order asked (all when None)."""
        records = self.documents(matters)
        if not documents:
            return records
        by_id = {r.document_id: r for r in records}
        unknown = [d for d in documents if d not in by_id]
        if unknown:
            raise UnknownDocuments(unknown)
        return [by_id[d] for d in dict.fromkeys(documents)]

    def review(self, questions: list[ReviewQuestion], documents: list[str] | None = None, *,
               title: str = "", checklist: str | None = None,
               progress: ReviewProgress | None = None, stop: threading.Event | None = None,
               refresh: bool = False, matters: frozenset[str] | None = None) -> Review:
        """Ask every question of every contract (cells cached), save and return the table;
        `matters`: the contracts of those matters only (others are unknown ids)."""
        records = self.review_documents(documents, matters)
        runner = ReviewRunner(self, self.review_cells, self._summarizer(), refresh)
        review = runner.run(questions, records, title or "Questions personnalisées", checklist,
                            progress, stop)
        self.reviews.save(review)
        return review

    def saved_review(self, review_id: str) -> Review | None:
        return self.reviews.load(review_id)


def visible_documents(records: Iterable[DocumentRecord], matters: frozenset[str] | None,
                      default_matter: str) -> frozenset[str] | None:
    """The ids of the contracts of these matters (None: every matter, no restriction); a
    contract put in no matter belongs to the default one."""
    if matters is None:
        return None
    return frozenset(r.document_id for r in records
                     if matters & set(r.matters or [default_matter]))
