"""Documents and upload jobs: list, outline, upload (indexed in the background), delete; the
jobs' list and status."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import asyncio
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from contractqa.jobs import Job, Outcome, QueueFull, Work, WriterBusy, busy_message
from contractqa.routes.context import ApiContext
from contractqa.schemas import (
    ERRORS,
    ArticleOut,
    DocumentOut,
    ErrorOut,
    FileProgressOut,
    FileResultOut,
    JobOut,
    MattersIn,
    UploadOut,
)
from contractqa.security import ApiError, Principal
from contractqa.service import (
    IngestReport,
    Upload,
    partial_upload,
    place_upload,
    settle_uploads,
)
from french.normalize import fold
from ingest.loaders import SUPPORTED
from ingest.locking import IndexBusy
from ingest.progress import ProgressCallback
from ingest.store import DocumentRecord


def safe_filename(name: str | None) -> str | None:
    """A plain file name (its stem is the document id), or None if the type is not supported."""
    base = re.sub(r"[^\w.\- ]", "_", Path((name or "").replace("\\", "/")).name).strip(". ")
    base = base[-120:]
    return base if Path(base).suffix.lower() in SUPPORTED and Path(base).stem else None


def matches(record: DocumentRecord, q: str | None) -> bool:
    """Whether every word of `q` is in the contract's title, id, file name or names (folded:
    accents and case do not matter)."""
    if not q:
        return True
    haystack = fold(" ".join([record.title, record.document_id, record.source,
                              *record.aliases]))
    return all(word in haystack for word in fold(q).split())


def document_out(r: DocumentRecord, matters: list[str]) -> DocumentOut:
    return DocumentOut(document_id=r.document_id, title=r.title, filename=Path(r.source).name,
                       chunks=r.chunks, articles=r.articles, sections=r.sections,
                       aliases=r.aliases, ingested_at=r.ingested_at, matters=matters)


@dataclass(frozen=True)
class Received:
    """An uploaded file saved as a partial, placed in uploads/ under `name` by its job."""

    name: str
    partial: Path


def job_url(job_id: str) -> str:
    return f"/api/jobs/{job_id}"


def job_out(job: Job[UploadOut]) -> JobOut:
    result = job.result
    return JobOut(
        job_id=job.job_id, status=job.status, message=job.message, url=job_url(job.job_id),
        progress=job.progress, seconds_left=job.seconds_left, created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        files=[FileProgressOut(filename=f.filename, stage=f.stage, passages_done=f.done,
                               passages_total=f.total) for f in job.files],
        ok=result.ok if result else (False if job.status == "échec" else None),
        results=result.results if result else [])


def upload_summary(out: UploadOut) -> str:
    """A finished upload in French: ready, or which files were refused and how to fix them."""
    failed = [r for r in out.results if r.status == "error"]
    if not failed:
        return (f"Indexation terminée : {len(out.results)} fichier(s), interrogeable(s) dès "
                "maintenant.")
    reasons = " ".join(f"« {r.filename} » : {r.message.removeprefix(r.filename + ':').strip()}"
                       for r in failed)
    return f"Échec : {len(failed)} fichier(s) sur {len(out.results)} non indexé(s). {reasons}"


def receive(ctx: ApiContext, files: list[UploadFile],
            ) -> tuple[list[Received], dict[str, FileResultOut]]:
    """Save each supported file as a partial in uploads/; refuse the others at once."""
    received: list[Received] = []
    results: dict[str, FileResultOut] = {}
    try:
        for f in files:
            name = safe_filename(f.filename)
            if name is None:
                results[f.filename or "?"] = FileResultOut(
                    filename=f.filename or "?", document_id=None, status="error",
                    message=f"Format non pris en charge (acceptés : {', '.join(SUPPORTED)}).")
                continue
            partial = partial_upload(ctx.uploads, name)
            received.append(Received(name, partial))
            with partial.open("wb") as fh:
                shutil.copyfileobj(f.file, fh, 1 << 20)
            results[name] = FileResultOut(filename=name, document_id=Path(name).stem,
                                          status="error")
    except BaseException:
        for r in received:
            r.partial.unlink(missing_ok=True)
        raise
    return received, results


def index_received(ctx: ApiContext, received: list[Received], progress: ProgressCallback,
                   matter: str) -> IngestReport | None:
    """Place the received files in uploads/ and index them (in the job, one at a time)."""
    saved: list[Upload] = []
    report = None
    try:
        for r in received:
            saved.append(place_upload(ctx.uploads, r.partial, r.name))
        if saved:
            report = ctx.service.ingest([u.path for u in saved], progress=progress,
                                        matters=[matter])
    finally:
        for r in received[len(saved):]:
            r.partial.unlink(missing_ok=True)
        settle_uploads(saved, report)
    return report


def upload_work(ctx: ApiContext, received: list[Received], results: dict[str, FileResultOut],
                who: Principal, client: str | None, matter: str) -> Work[UploadOut]:
    def work(job_id: str, progress: ProgressCallback) -> Outcome[UploadOut]:
        try:
            report = index_received(ctx, received, progress, matter)
        except IndexBusy as exc:  # another process kept the index: its French message
            report = None
            for waiting in results.values():
                waiting.message = waiting.message or str(exc)
        for r in report.results if report else []:
            name = Path(r.path).name
            results[name] = FileResultOut(
                filename=name, document_id=r.document_id, status=r.status,
                message=r.message.replace(str(ctx.uploads) + "/", ""), articles=r.articles,
                chunks=r.chunks, note=r.note.replace(str(ctx.uploads) + "/", ""))
        out = UploadOut(ok=all(r.status != "error" for r in results.values()),
                        results=list(results.values()))
        ctx.audit.write("upload", who, client=client, job_id=job_id, matter=matter,
                        files=[[r.filename, r.status] for r in out.results])
        return Outcome(out.ok, upload_summary(out), out)

    return work


def upload_matter(ctx: ApiContext, who: Principal, matter: str | None) -> str:
    """The matter an upload goes to: the one asked (if the caller's), else the caller's only
    matter, else the default one (if the caller's)."""
    if matter is None and who.matters is not None and len(who.matters) == 1:
        matter = next(iter(who.matters))
    matter = matter or ctx.settings.default_matter
    if not who.sees([matter]):
        raise ApiError(403, "forbidden", f"Ce jeton n'a pas accès au dossier « {matter} » : "
                       "précisez l'un des siens (champ « matter »).")
    return matter


def delete_now(ctx: ApiContext, document_id: str, who: Principal) -> bool:
    """Delete once no upload job runs (waiting for one at most the API timeout); a contract
    outside the caller's matters is not indexed as far as it can tell."""
    wait = min(ctx.settings.write_lock_timeout_s, ctx.settings.api_timeout_s)
    with ctx.jobs.exclusive(wait):
        record = next((d for d in ctx.service.documents(who.matters)
                       if d.document_id == document_id), None)
        deleted = record is not None and ctx.service.delete(document_id)
        uploaded = ctx.uploads / Path(record.source).name if record else None
        if (deleted and record and uploaded and uploaded.is_file()
                and record.origin in ("", str(uploaded.resolve()))
                and (record.origin or uploaded.stem == document_id)):
            uploaded.unlink()  # the copy saved by POST /api/documents (or by the UI)
        return deleted


def documents_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["documents"])
    Asker = Annotated[Principal, Depends(ctx.require("ask"))]
    Editor = Annotated[Principal, Depends(ctx.require("edit"))]

    @router.get("/api/documents", response_model=list[DocumentOut], responses=ERRORS)
    async def documents(
        who: Asker, response: Response,
        q: Annotated[str | None, Query(max_length=200, description=(
            "mots du titre, de l'identifiant, du fichier ou d'un nom du contrat"))] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    ) -> list[DocumentOut]:
        """The indexed contracts of the caller's matters, by id; with `q`, those whose title,
        id, file name or names hold its words; a page of them with `offset` and `limit` (the
        `X-Total-Count` header gives how many match)."""
        records = await ctx.call(ctx.service.documents, who.matters)
        found = [r for r in records if matches(r, q)]
        response.headers["X-Total-Count"] = str(len(found))
        page = found[offset: offset + limit if limit else None]
        return [document_out(r, ctx.service.matters_of(r)) for r in page]

    @router.get("/api/documents/{document_id}/articles", response_model=list[ArticleOut],
                responses=ERRORS)
    async def articles(document_id: str, who: Asker) -> list[dict[str, Any]]:
        """The article outline of one contract."""
        try:
            return await ctx.call(ctx.service.outline, document_id, who.matters)
        except KeyError:
            raise ApiError(404, "document_not_found",
                           f"Document inconnu : {document_id}.") from None

    @router.post("/api/documents", status_code=202, response_model=JobOut,
                 responses={200: {"model": UploadOut, "description": "avec ?wait=true"},
                            503: {"model": ErrorOut}, **ERRORS})
    async def upload(files: Annotated[list[UploadFile], File(description="PDF, DOCX ou TXT")],
                     request: Request, who: Editor,
                     wait: Annotated[bool, Query(description="répondre une fois indexés")] = False,
                     matter: Annotated[str | None, Form(
                         description="dossier des contrats (défaut : le seul dossier du jeton, "
                                     "sinon le dossier par défaut)")] = None,
                     ) -> JSONResponse:
        """Upload contracts (multipart `files`), indexed in the background (scope edit).

        Answers 202 at once with the job (`Location`: `GET /api/jobs/{job_id}`, its progress
        and at the end the per-file results). With `?wait=true`, answers once the files are
        indexed: 200 and the per-file results.
        """
        target = upload_matter(ctx, who, matter)
        received, results = await run_in_threadpool(receive, ctx, files)
        client = request.client.host if request.client else None
        try:
            job = ctx.jobs.submit([r.name for r in received],
                                  upload_work(ctx, received, results, who, client, target))
        except QueueFull as exc:
            for r in received:
                r.partial.unlink(missing_ok=True)
            raise ApiError(503, "too_many_jobs", str(exc), {"Retry-After": "60"}) from None
        ctx.audit.write("upload_queued", who, client=client, job_id=job.job_id,
                        files=[r.name for r in received])
        if wait:
            done = await asyncio.wrap_future(job.future)
            if done.result is None:
                raise ApiError(500, "internal_error", done.message)
            return JSONResponse(done.result.model_dump())
        return JSONResponse(job_out(job).model_dump(), status_code=202,
                            headers={"Location": job_url(job.job_id), "Retry-After": "2"})

    return router


def admin_router(ctx: ApiContext) -> APIRouter:
    """What only an admin does to a contract: put it in matters, delete it."""
    router = APIRouter(tags=["documents"])
    Admin = Annotated[Principal, Depends(ctx.require("admin"))]

    @router.put("/api/documents/{document_id}/matters", response_model=DocumentOut,
                responses=ERRORS)
    async def put_matters(document_id: str, body: MattersIn, request: Request, who: Admin
                          ) -> DocumentOut:
        """Put a contract in these matters (scope admin; the caller's own matters only)."""
        if not who.sees(body.matters) or (who.matters is not None
                                          and not who.matters.issuperset(body.matters)):
            raise ApiError(403, "forbidden", "Ce jeton ne peut classer un contrat que dans ses "
                           "propres dossiers.")
        visible = await ctx.call(ctx.service.documents, who.matters)
        if document_id not in {d.document_id for d in visible}:
            raise ApiError(404, "document_not_found", f"Document inconnu : {document_id}.")
        record = await ctx.call(ctx.service.set_matters, document_id, body.matters)
        ctx.audit.write("matters", who, client=request.client.host if request.client else None,
                        document_id=document_id, to=record.matters)
        return document_out(record, ctx.service.matters_of(record))

    @router.delete("/api/documents/{document_id}",
                   responses={503: {"model": ErrorOut}, **ERRORS})
    async def delete(document_id: str, request: Request, who: Admin) -> dict[str, Any]:
        """Remove a contract from the index (and its uploaded file, if any) (scope admin).

        While an upload job is indexing, waits for it at most CONTRACTQA_API_TIMEOUT_S, then
        answers 503 (`index_busy`, `Retry-After`) naming the job.
        """
        client = request.client.host if request.client else None
        try:
            deleted = await run_in_threadpool(delete_now, ctx, document_id, who)
        except WriterBusy as exc:
            ctx.audit.write("delete", who, client=client, document_id=document_id, status=503)
            message = busy_message(exc.job, f"la suppression de « {document_id} »")
            raise ApiError(503, "index_busy", message, {"Retry-After": "30"}) from None
        ctx.audit.write("delete", who, client=client, document_id=document_id,
                        status=200 if deleted else 404)
        if not deleted:
            raise ApiError(404, "document_not_found", f"Document inconnu : {document_id}.")
        return {"document_id": document_id, "deleted": True}

    return router


def jobs_router(ctx: ApiContext) -> APIRouter:
    """The upload jobs: list and status (scope admin)."""
    router = APIRouter(tags=["documents"])
    Admin = Annotated[Principal, Depends(ctx.require("admin"))]

    @router.get("/api/jobs", response_model=list[JobOut], responses=ERRORS)
    async def list_jobs(_: Admin) -> list[JobOut]:
        """The upload jobs this server remembers, newest first (scope admin)."""
        return [job_out(j) for j in ctx.jobs.jobs()]

    @router.get("/api/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
    async def get_job(job_id: str, _: Admin) -> JobOut:
        """Where an upload job stands: status, progress of each file, then its results."""
        job = ctx.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "job_not_found", f"Tâche inconnue : {job_id}. Le serveur ne garde "
                           f"que les {ctx.settings.api_jobs_kept} dernières tâches terminées, et "
                           "aucune après un redémarrage.")
        return job_out(job)

    return router
