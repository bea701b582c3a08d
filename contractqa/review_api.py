"""REST endpoints of the review table, included by `contractqa.api.create_api`.

- `GET /api/checklists`, `POST /api/checklists`: the question lists, and saving one's own.
- `POST /api/reviews`: server-sent events while the table fills (`start`, `progress` per
  cell, then `review` with the whole table, or `error`).
- `GET /api/reviews/{id}`: the table; `GET /api/reviews/{id}/export/{xlsx|csv|md}`: a file.

All need a token with the `ask` scope, as questions do. Reviews run on their own two
threads, so a long table never holds up the questions of others.
"""

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.sse import format_sse_event
from pydantic import BaseModel, Field, field_validator

from contractqa.review import (
    Cell,
    Checklist,
    Review,
    ReviewCancelled,
    ReviewQuestion,
    ReviewTooLarge,
    check_size,
    custom_questions,
)
from contractqa.review_export import FORMATS, ExportFormat, export_bytes, export_name
from contractqa.review_storage import ChecklistError
from contractqa.schemas import ERRORS
from contractqa.security import ApiError, AuditLog, Principal
from contractqa.service import ContractQA, UnknownDocuments
from contractqa.settings import Settings

log = logging.getLogger("contractqa.api")
REVIEW_THREADS = 2


def sse(event: str, data: Any) -> bytes:
    """One server-sent event in FastAPI's own wire format, its data as JSON."""
    return format_sse_event(data_str=json.dumps(data, ensure_ascii=False), event=event)


class ReviewRequest(BaseModel):
    checklist: str | None = Field(None, max_length=80, examples=["due-diligence"],
                                  description="identifiant d'une liste (GET /api/checklists)")
    questions: list[str] = Field(default_factory=list, max_length=60,
                                 description="questions ajoutées à la liste, ou seules posées")
    documents: list[str] | None = Field(None, max_length=500,
                                        description="identifiants ; absent = tous les contrats")
    refresh: bool = Field(False, description="recalculer les cellules déjà en cache")

    @field_validator("questions")
    @classmethod
    def _short(cls, value: list[str]) -> list[str]:
        if any(len(q) > 2000 for q in value):
            raise ValueError("une question dépasse 2000 caractères")
        return value


class ChecklistRequest(BaseModel):
    title: str = Field(min_length=1, max_length=120, examples=["Audit baux commerciaux"])
    questions: list[str] = Field(min_length=1, max_length=60)


class QuestionOut(BaseModel):
    id: str
    label: str
    question: str
    clues: list[str] = Field(default_factory=list,
                             description="mots dont une clause qui répond emploie l'un")


class ChecklistOut(BaseModel):
    id: str
    title: str
    description: str
    builtin: bool
    questions: list[QuestionOut]


class CellSourceOut(BaseModel):
    document_id: str
    document_title: str
    section: str | None
    article: str | None
    heading: str | None
    pages: list[int]
    excerpt: str


class CellOut(BaseModel):
    document_id: str
    question_id: str
    status: Literal["found", "absent", "error"]
    text: str = Field(description="la citation, ou « Non prévu par le contrat »")
    quote: str
    source: CellSourceOut | None
    confidence: float | None
    note: str
    summary: str | None
    summary_note: str
    cached: bool


class ReviewDocumentOut(BaseModel):
    document_id: str
    title: str
    content_hash: str


class ReviewOut(BaseModel):
    id: str
    title: str
    checklist: str | None
    mode: str
    created_at: str
    seconds: float
    cached_cells: int
    counts: dict[str, int]
    documents: list[ReviewDocumentOut]
    questions: list[QuestionOut]
    cells: list[CellOut]
    exports: dict[str, str] = Field(default_factory=dict)


def review_json(review: Review) -> dict[str, Any]:
    data = review.to_json()
    data["exports"] = {fmt: f"/api/reviews/{review.id}/export/{fmt}" for fmt in FORMATS}
    return data


def review_questions(service: ContractQA, body: ReviewRequest
                     ) -> tuple[list[ReviewQuestion], str, str | None]:
    """The review's questions, title and checklist id; ApiError when they make no table."""
    base: list[ReviewQuestion] = []
    title = "Questions personnalisées"
    if body.checklist:
        try:
            checklist = service.checklists.get(body.checklist)
        except ChecklistError as exc:
            raise ApiError(404, "checklist_not_found", str(exc)) from None
        base, title = list(checklist.questions), checklist.title
    questions = base + custom_questions(body.questions, [q.question for q in base])
    if not questions:
        raise ApiError(422, "no_questions", "Aucune question : donnez `checklist` (voir GET "
                       "/api/checklists) ou `questions`.")
    return questions, title, body.checklist


def _progress_event(done: int, total: int, cell: Cell) -> dict[str, Any]:
    return {"done": done, "total": total, "document_id": cell.document_id,
            "question_id": cell.question_id, "status": cell.status, "cached": cell.cached}


class ReviewStream:
    """One review filled on the review threads, its cells streamed as server-sent events:
    `start`, a `progress` per cell, then `review` or `error`. When the client goes away, the
    review stops at its next cell."""

    def __init__(self, fill: Callable[[Callable[[int, int, Cell], None], threading.Event], Review],
                 finish: Callable[[Review | None, int], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.fill = fill
        self.finish = finish
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.stop = threading.Event()

    def post(self, kind: str, data: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, data))
        except RuntimeError:  # the server's loop is closed: nobody listens any more
            self.stop.set()

    def progress(self, done: int, total: int, cell: Cell) -> None:
        self.post("progress", _progress_event(done, total, cell))

    def work(self) -> None:
        try:
            review = self.fill(self.progress, self.stop)
        except ReviewCancelled:  # the client went away: nothing to send or save
            return
        except ReviewTooLarge as exc:
            self.post("too_large", str(exc))
            return
        except Exception:
            log.exception("Erreur pendant /api/reviews")
            self.post("failed", None)
            return
        self.post("done", review)

    async def events(self, pool: ThreadPoolExecutor, start: dict[str, Any]
                     ) -> AsyncIterator[bytes]:
        pool.submit(self.work)
        yield sse("start", start)
        try:
            kind, data = await self.queue.get()
            while kind == "progress":
                yield sse("progress", data)
                kind, data = await self.queue.get()
        finally:
            self.stop.set()  # the client went away: the review stops at its next cell
        if kind == "done":
            self.finish(data, 200)
            yield sse("review", review_json(data))
        elif kind == "too_large":
            self.finish(None, 422)
            yield sse("error", {"error": {"code": "review_too_large", "message": data}})
        else:
            self.finish(None, 500)
            yield sse("error", {"error": {"code": "internal_error",
                                          "message": "Erreur interne."}})


def checklists_router(service: ContractQA, audit: AuditLog, Asker: Any,
                      run: Callable[..., Awaitable[Any]]) -> APIRouter:
    """The question lists: read them, save one's own."""
    router = APIRouter(tags=["revues"])

    def checklist_out(c: Checklist) -> ChecklistOut:
        return ChecklistOut(**c.to_json())

    @router.get("/api/checklists", response_model=list[ChecklistOut], responses=ERRORS)
    async def checklists(_: Asker) -> list[ChecklistOut]:
        """The question lists: shipped (due diligence, DPA/RGPD, SaaS) and saved by users."""
        return [checklist_out(c) for c in await run(service.checklists.all)]

    @router.post("/api/checklists", response_model=ChecklistOut, responses=ERRORS)
    async def save_checklist(body: ChecklistRequest, request: Request, who: Asker
                             ) -> ChecklistOut:
        """Save a list of questions under its title (replaces a saved list of that title)."""
        try:
            saved = await run(service.checklists.save, body.title, body.questions)
        except ChecklistError as exc:
            raise ApiError(422, "invalid_checklist", str(exc)) from None
        audit.write("checklist", who, client=request.client.host if request.client else None,
                    checklist=saved.id, questions=len(saved.questions))
        return checklist_out(saved)

    return router


def review_router(service: ContractQA, settings: Settings, audit: AuditLog,
                  require: Callable[[str], Callable[..., Awaitable[Principal]]]) -> APIRouter:
    """The review endpoints, sharing `create_api`'s audit log and scope check."""
    router = APIRouter(tags=["revues"])
    pool = ThreadPoolExecutor(REVIEW_THREADS, thread_name_prefix="contractqa-review")
    Asker = Annotated[Principal, Depends(require("ask"))]

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(pool.submit(fn, *args))

    router.include_router(checklists_router(service, audit, Asker, run))

    @router.post("/api/reviews", response_class=StreamingResponse,
                 responses={200: {"content": {"text/event-stream": {}}}, **ERRORS})
    async def start_review(body: ReviewRequest, request: Request, who: Asker
                           ) -> StreamingResponse:
        """Fill a table, streamed: `start` {total, documents, questions}, `progress` {done,
        total, document_id, question_id, status, cached} per cell, then `review` (as
        GET /api/reviews/{id}) or `error`."""
        t0 = time.perf_counter()
        questions, title, checklist = review_questions(service, body)
        try:
            records = await run(service.review_documents, body.documents, who.matters)
        except UnknownDocuments as exc:
            raise ApiError(404, "document_not_found", str(exc)) from None
        try:
            check_size(len(records), len(questions))
        except ReviewTooLarge as exc:
            raise ApiError(422, "review_too_large", str(exc)) from None
        client = request.client.host if request.client else None

        def finish(review: Review | None, status: int) -> None:
            audit.write("review", who, client=client, checklist=checklist,
                        documents=len(records), questions=len(questions),
                        review_id=review.id if review else None, status=status,
                        cached_cells=review.cached_cells if review else None,
                        duration_ms=round((time.perf_counter() - t0) * 1000))

        def fill(progress: Callable[[int, int, Cell], None], stop: threading.Event) -> Review:
            return service.review(questions, [r.document_id for r in records], title=title,
                                  checklist=checklist, progress=progress, stop=stop,
                                  refresh=body.refresh)

        start = {"total": len(records) * len(questions),
                 "documents": [r.document_id for r in records],
                 "questions": [q.to_json() for q in questions]}
        produce = ReviewStream(fill, finish, asyncio.get_running_loop()).events(pool, start)
        return StreamingResponse(produce, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def saved(review_id: str, who: Principal) -> Review:
        review = await run(service.saved_review, review_id)
        visible = service.visible(who.matters)
        if review is not None and visible is not None and not visible.issuperset(
                d.document_id for d in review.documents):
            review = None  # a table of contracts outside the caller's matters: not found
        if review is None:
            raise ApiError(404, "review_not_found", f"Revue inconnue : {review_id}. Lancez-en "
                           "une avec POST /api/reviews.")
        return review

    @router.get("/api/reviews/{review_id}", response_model=ReviewOut, responses=ERRORS)
    async def get_review(review_id: str, who: Asker) -> dict[str, Any]:
        """A finished table: contracts, questions and every cell with its citation."""
        return review_json(await saved(review_id, who))

    @router.get("/api/reviews/{review_id}/export/{fmt}", responses={
        200: {"content": {m: {} for m in FORMATS.values()}}, **ERRORS})
    async def export(review_id: str, fmt: ExportFormat, who: Asker) -> Response:
        """The table as a file: xlsx (with a sheet of sources), csv (`;`) or md."""
        review = await saved(review_id, who)
        content = await run(export_bytes, review, fmt)
        name = export_name(review, fmt)
        return Response(content, media_type=FORMATS[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return router
