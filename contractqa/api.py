"""REST API under /api, the /health probe and the embeddable /widget.js.

`create_api(service, settings)` returns a FastAPI app; the web UI mounts Gradio on it at "/".
Tokens, scopes, rate limit, body limits, CORS and CSP live in `contractqa.security`.
"""

import asyncio
import json
import logging
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, File, Query, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from contractqa import __version__
from contractqa.jobs import Job, JobRunner, Outcome, QueueFull, Work, WriterBusy, busy_message
from contractqa.schemas import (
    ERRORS,
    AnswerOut,
    ArticleOut,
    AskRequest,
    DocumentOut,
    ErrorOut,
    FileProgressOut,
    FileResultOut,
    JobOut,
    UploadOut,
)
from contractqa.security import (
    NO_TOKENS_MESSAGE,
    ApiError,
    ApiGate,
    AuditLog,
    JsonCors,
    Principal,
    SecurityHeaders,
    TokenStore,
    error_response,
    valid_origins,
)
from contractqa.service import (
    ContractQA,
    IngestReport,
    Upload,
    partial_upload,
    place_upload,
    settle_uploads,
    sweep_partials,
)
from contractqa.settings import Settings
from ingest.loaders import SUPPORTED
from ingest.locking import IndexBusy
from ingest.progress import ProgressCallback
from ingest.store import DocumentRecord
from retrieval.models import Turn

log = logging.getLogger("contractqa.api")
STATIC = Path(__file__).parent / "static"
T = TypeVar("T")
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
         429: "rate_limited", 504: "timeout"}


bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <jeton>")


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def safe_filename(name: str | None) -> str | None:
    """A plain file name (its stem is the document id), or None if the type is not supported."""
    base = re.sub(r"[^\w.\- ]", "_", Path((name or "").replace("\\", "/")).name).strip(". ")
    base = base[-120:]
    return base if Path(base).suffix.lower() in SUPPORTED and Path(base).stem else None


# Pydantic's messages are English: the usual ones, in French (others: "valeur invalide").
_VALIDATION = {
    "missing": "champ obligatoire", "string_type": "texte attendu",
    "list_type": "liste attendue", "json_invalid": "JSON invalide",
    "model_attributes_type": "objet JSON attendu", "dict_type": "objet JSON attendu",
    "string_too_short": "texte trop court", "string_too_long": "texte trop long",
    "too_long": "trop d'éléments", "too_short": "pas assez d'éléments",
    "extra_forbidden": "champ inconnu",
}


def french_validation(error: Any) -> str:
    """One validation error in French, without Pydantic's English wording or class names."""
    if error.get("type") == "value_error":  # our validators' own French messages
        return str(error.get("msg", "")).removeprefix("Value error, ")
    message = _VALIDATION.get(str(error.get("type")), "valeur invalide")
    limit = (error.get("ctx") or {}).get("max_length")
    return f"{message} (maximum {limit})" if limit is not None else message


def document_out(r: DocumentRecord) -> DocumentOut:
    return DocumentOut(document_id=r.document_id, title=r.title, filename=Path(r.source).name,
                       chunks=r.chunks, articles=r.articles, sections=r.sections,
                       aliases=r.aliases, ingested_at=r.ingested_at)


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
        progress=job.progress, created_at=job.created_at, started_at=job.started_at,
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


def create_api(service: ContractQA, settings: Settings) -> FastAPI:
    """The API app: /api/*, /health, /widget.js and /docs (OpenAPI)."""
    tokens = TokenStore.from_settings(settings)
    if not len(tokens):
        log.error(NO_TOKENS_MESSAGE)
    audit = AuditLog(settings.data_dir / "audit.log")
    pool = ThreadPoolExecutor(settings.api_workers, thread_name_prefix="contractqa-api")
    uploads = settings.data_dir / "uploads"
    sweep_partials(uploads)
    jobs: JobRunner[UploadOut] = JobRunner(settings.api_jobs_kept, settings.api_jobs_pending_max)
    app = FastAPI(title="contractqa API", version=__version__, redoc_url=None,
                  description="Questions en français sur des contrats, réponses citant les "
                  "articles. Jeton : `Authorization: Bearer <jeton>` (scopes ask, admin).")
    app.state.jobs = jobs

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(IndexBusy)
    async def _busy(_: Request, exc: IndexBusy) -> JSONResponse:
        return error_response(503, "index_busy", str(exc), {"Retry-After": "30"})

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = CODES.get(exc.status_code, "error")
        message = str(exc.detail)
        if message in (HTTPStatus(exc.status_code).phrase, ""):  # Starlette's English default
            message = {404: "Ressource introuvable.", 405: "Méthode non autorisée."}.get(
                exc.status_code, f"Erreur HTTP {exc.status_code}.")
        return error_response(exc.status_code, code, message, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": french_validation(e)}
                  for e in exc.errors()]
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else "?"
        message = f"Requête invalide ({where} : {errors[0]['msg'] if errors else ''})."
        return error_response(422, "invalid_request", message, details=errors[:20])

    app.add_middleware(ApiGate, settings=settings, tokens=tokens)
    origins = valid_origins(settings)
    app.add_middleware(JsonCors, allow_origins=origins,
                       allow_methods=["GET", "POST", "DELETE"],
                       allow_headers=["Authorization", "Content-Type"],
                       expose_headers=["Retry-After"], max_age=600)
    app.add_middleware(SecurityHeaders, origins=origins)

    def require(scope: str) -> Callable[..., Awaitable[Principal]]:
        async def check(
            request: Request,
            _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        ) -> Principal:
            principal: Principal | None = getattr(request.state, "principal", None)
            if principal is None:  # the gate authenticates every /api request
                raise ApiError(401, "unauthorized", "Authentification requise.")
            if not principal.has(scope):
                audit.write("denied", principal, path=request.url.path, scope=scope, status=403)
                raise ApiError(403, "forbidden", f"Ce jeton n'a pas le droit « {scope} ».")
            return principal

        return check

    Asker = Annotated[Principal, Depends(require("ask"))]
    Admin = Annotated[Principal, Depends(require("admin"))]

    async def call(fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run blocking work on the API pool; TimeoutError after api_timeout_s."""
        future = asyncio.wrap_future(pool.submit(fn, *args))
        return await asyncio.wait_for(future, timeout or settings.api_timeout_s)

    def timeout_error() -> ApiError:
        return ApiError(504, "timeout", f"Pas de réponse en {settings.api_timeout_s:g} s : "
                        "réessayez ou précisez la question.")

    def check_documents(ids: list[str] | None) -> None:
        unknown = sorted(set(ids or []) - {d.document_id for d in service.documents()})
        if unknown:
            raise ApiError(404, "document_not_found", f"Documents inconnus : {', '.join(unknown)}.")

    def ask_args(body: AskRequest) -> tuple[str, list[str] | None, list[Turn]]:
        return (body.question.strip(), body.documents or None,
                [Turn(question=t.question, answer=t.answer) for t in body.history])

    def audit_answer(event: str, who: Principal, request: Request, body: AskRequest,
                     t0: float, status: int, answer: dict[str, Any] | None = None) -> None:
        audit.write(
            event, who, client=request.client.host if request.client else None,
            origin=request.headers.get("origin"), question=body.question,
            documents=body.documents, history_turns=len(body.history), status=status,
            duration_ms=round((time.perf_counter() - t0) * 1000),
            answer_id=(answer or {}).get("id"), abstained=(answer or {}).get("abstained"),
            cited=[f"{c['document_id']}#{c['article']}" for c in (answer or {}).get(
                "citations", [])])

    @app.post("/api/ask", response_model=AnswerOut, responses=ERRORS, tags=["questions"])
    async def ask(body: AskRequest, request: Request, who: Asker) -> dict[str, Any]:
        """Answer a question; citations in rank order, excerpts in the contract's own words."""
        t0, status, answer = time.perf_counter(), 500, None

        def work() -> dict[str, Any]:
            check_documents(body.documents)
            return service.ask(*ask_args(body)).to_json()

        try:
            answer = await call(work)
            status = 200
            return answer
        except TimeoutError:
            status = 504
            raise timeout_error() from None
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            audit_answer("ask", who, request, body, t0, status, answer)

    @app.post("/api/ask/stream", responses={200: {"content": {"text/event-stream": {}}}, **ERRORS},
              response_class=StreamingResponse, tags=["questions"])
    async def ask_stream(body: AskRequest, request: Request, who: Asker) -> StreamingResponse:
        """Server-sent events: `delta` {"text"} events, then `answer` (as /api/ask) or `error`."""
        t0 = time.perf_counter()
        deadline = t0 + settings.api_timeout_s
        end = object()

        def start() -> Iterator[Any]:
            check_documents(body.documents)
            return iter(service.stream(*ask_args(body)))

        async def next_event(events: Iterator[Any]) -> Any:
            left = max(0.01, deadline - time.perf_counter())
            return await call(next, events, end, timeout=left)

        try:
            events = await call(start)
            first = await next_event(events)
        except TimeoutError:
            audit_answer("ask_stream", who, request, body, t0, 504)
            raise timeout_error() from None
        except ApiError as exc:
            audit_answer("ask_stream", who, request, body, t0, exc.status)
            raise

        async def produce() -> AsyncIterator[str]:
            event, status = first, 500
            try:
                while event is not end:
                    if event.kind == "answer":
                        answer = event.answer.to_json()
                        status = 200
                        audit_answer("ask_stream", who, request, body, t0, 200, answer)
                        yield sse("answer", answer)
                        return
                    if event.kind == "delta" and event.text:
                        yield sse("delta", {"text": event.text})
                    event = await next_event(events)
            except TimeoutError:
                status = 504
                yield sse("error", {"error": {"code": "timeout",
                                              "message": timeout_error().message}})
            except Exception:
                log.exception("Erreur pendant /api/ask/stream")
                yield sse("error", {"error": {"code": "internal_error",
                                              "message": "Erreur interne."}})
            if status != 200:
                audit_answer("ask_stream", who, request, body, t0, status)

        return StreamingResponse(produce(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/documents", response_model=list[DocumentOut], responses=ERRORS,
             tags=["documents"])
    async def documents(_: Asker) -> list[DocumentOut]:
        """The indexed contracts."""
        return [document_out(r) for r in await call(service.documents)]

    @app.get("/api/documents/{document_id}/articles", response_model=list[ArticleOut],
             responses=ERRORS, tags=["documents"])
    async def articles(document_id: str, _: Asker) -> list[dict[str, Any]]:
        """The article outline of one contract."""
        try:
            return await call(service.outline, document_id)
        except KeyError:
            raise ApiError(404, "document_not_found",
                           f"Document inconnu : {document_id}.") from None

    def receive(files: list[UploadFile]) -> tuple[list[Received], dict[str, FileResultOut]]:
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
                partial = partial_upload(uploads, name)
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

    def index_received(received: list[Received], progress: ProgressCallback) -> IngestReport | None:
        """Place the received files in uploads/ and index them (in the job, one at a time)."""
        saved: list[Upload] = []
        report = None
        try:
            for r in received:
                saved.append(place_upload(uploads, r.partial, r.name))
            if saved:
                report = service.ingest([u.path for u in saved], progress=progress)
        finally:
            for r in received[len(saved):]:
                r.partial.unlink(missing_ok=True)
            settle_uploads(saved, report)
        return report

    def upload_work(received: list[Received], results: dict[str, FileResultOut],
                    who: Principal, client: str | None) -> Work[UploadOut]:
        def work(job_id: str, progress: ProgressCallback) -> Outcome[UploadOut]:
            try:
                report = index_received(received, progress)
            except IndexBusy as exc:  # another process kept the index: its French message
                report = None
                for waiting in results.values():
                    waiting.message = waiting.message or str(exc)
            for r in report.results if report else []:
                name = Path(r.path).name
                results[name] = FileResultOut(
                    filename=name, document_id=r.document_id, status=r.status,
                    message=r.message.replace(str(uploads) + "/", ""), articles=r.articles,
                    chunks=r.chunks, note=r.note.replace(str(uploads) + "/", ""))
            out = UploadOut(ok=all(r.status != "error" for r in results.values()),
                            results=list(results.values()))
            audit.write("upload", who, client=client, job_id=job_id,
                        files=[[r.filename, r.status] for r in out.results])
            return Outcome(out.ok, upload_summary(out), out)

        return work

    @app.post("/api/documents", status_code=202, response_model=JobOut, tags=["documents"],
              responses={200: {"model": UploadOut, "description": "avec ?wait=true"},
                         503: {"model": ErrorOut}, **ERRORS})
    async def upload(files: Annotated[list[UploadFile], File(description="PDF, DOCX ou TXT")],
                     request: Request, who: Admin,
                     wait: Annotated[bool, Query(description="répondre une fois indexés")] = False,
                     ) -> JSONResponse:
        """Upload contracts (multipart `files`), indexed in the background (scope admin).

        Answers 202 at once with the job (`Location`: `GET /api/jobs/{job_id}`, its progress
        and at the end the per-file results). With `?wait=true`, answers once the files are
        indexed: 200 and the per-file results.
        """
        received, results = await run_in_threadpool(receive, files)
        client = request.client.host if request.client else None
        try:
            job = jobs.submit([r.name for r in received],
                              upload_work(received, results, who, client))
        except QueueFull as exc:
            for r in received:
                r.partial.unlink(missing_ok=True)
            raise ApiError(503, "too_many_jobs", str(exc), {"Retry-After": "60"}) from None
        audit.write("upload_queued", who, client=client, job_id=job.job_id,
                    files=[r.name for r in received])
        if wait:
            done = await asyncio.wrap_future(job.future)
            if done.result is None:
                raise ApiError(500, "internal_error", done.message)
            return JSONResponse(done.result.model_dump())
        return JSONResponse(job_out(job).model_dump(), status_code=202,
                            headers={"Location": job_url(job.job_id), "Retry-After": "2"})

    @app.get("/api/jobs", response_model=list[JobOut], responses=ERRORS, tags=["documents"])
    async def list_jobs(_: Admin) -> list[JobOut]:
        """The upload jobs this server remembers, newest first (scope admin)."""
        return [job_out(j) for j in jobs.jobs()]

    @app.get("/api/jobs/{job_id}", response_model=JobOut, responses=ERRORS, tags=["documents"])
    async def get_job(job_id: str, _: Admin) -> JobOut:
        """Where an upload job stands: status, progress of each file, then its results."""
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(404, "job_not_found", f"Tâche inconnue : {job_id}. Le serveur ne garde "
                           f"que les {settings.api_jobs_kept} dernières tâches terminées, et "
                           "aucune après un redémarrage.")
        return job_out(job)

    def delete_now(document_id: str) -> bool:
        """Delete once no upload job runs (waiting for one at most the API timeout)."""
        with jobs.exclusive(min(settings.write_lock_timeout_s, settings.api_timeout_s)):
            record = next((d for d in service.documents() if d.document_id == document_id), None)
            deleted = service.delete(document_id)
            uploaded = uploads / Path(record.source).name if record else None
            if (deleted and record and uploaded and uploaded.is_file()
                    and record.origin in ("", str(uploaded.resolve()))
                    and (record.origin or uploaded.stem == document_id)):
                uploaded.unlink()  # the copy saved by POST /api/documents (or by the UI)
            return deleted

    @app.delete("/api/documents/{document_id}", tags=["documents"],
                responses={503: {"model": ErrorOut}, **ERRORS})
    async def delete(document_id: str, request: Request, who: Admin) -> dict[str, Any]:
        """Remove a contract from the index (and its uploaded file, if any) (scope admin).

        While an upload job is indexing, waits for it at most CONTRACTQA_API_TIMEOUT_S, then
        answers 503 (`index_busy`, `Retry-After`) naming the job.
        """
        client = request.client.host if request.client else None
        try:
            deleted = await run_in_threadpool(delete_now, document_id)
        except WriterBusy as exc:
            audit.write("delete", who, client=client, document_id=document_id, status=503)
            message = busy_message(exc.job, f"la suppression de « {document_id} »")
            raise ApiError(503, "index_busy", message, {"Retry-After": "30"}) from None
        audit.write("delete", who, client=client, document_id=document_id,
                    status=200 if deleted else 404)
        if not deleted:
            raise ApiError(404, "document_not_found", f"Document inconnu : {document_id}.")
        return {"document_id": document_id, "deleted": True}

    @app.get("/health", tags=["health"], responses={503: {"model": ErrorOut}})
    async def health() -> JSONResponse:
        """200 once at least one contract is indexed, else 503."""
        if await run_in_threadpool(service.ready):
            return JSONResponse({"status": "ok"})
        message = "Aucun contrat indexé ou index indisponible."
        body = {"status": "unavailable", "error": {"code": "not_ready", "message": message}}
        return JSONResponse(body, status_code=503)

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "public, max-age=300",
                                     "Cross-Origin-Resource-Policy": "cross-origin"})

    @app.get("/widget/demo.html", include_in_schema=False)
    async def demo() -> FileResponse:
        return FileResponse(STATIC / "demo.html", media_type="text/html; charset=utf-8")

    @app.api_route("/api/{rest:path}", include_in_schema=False,
                   methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    async def api_fallback(request: Request, rest: str) -> None:
        """JSON 404/405 for /api paths, even when Gradio is mounted at "/"."""
        allowed = sorted({m for r in app.routes if isinstance(r, APIRoute)
                          and r.path != "/api/{rest:path}" and r.path_regex.match(request.url.path)
                          for m in r.methods or ()})
        if allowed:
            raise HTTPException(405, "Méthode non autorisée.", {"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"Point d'accès inconnu : /api/{rest}.")

    return app


def app_from_env() -> FastAPI:
    """API only, settings from the environment: `uvicorn contractqa.api:app_from_env --factory`."""
    logging.basicConfig(level=logging.INFO)
    settings = Settings()
    return create_api(ContractQA(settings), settings)
