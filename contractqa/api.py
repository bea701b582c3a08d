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
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, File, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from contractqa import __version__
from contractqa.schemas import (
    ERRORS,
    AnswerOut,
    ArticleOut,
    AskRequest,
    DocumentOut,
    ErrorOut,
    FileResultOut,
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
    Upload,
    partial_upload,
    place_upload,
    settle_uploads,
)
from contractqa.settings import Settings
from ingest.loaders import SUPPORTED
from ingest.locking import IndexBusy
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


def create_api(service: ContractQA, settings: Settings) -> FastAPI:
    """The API app: /api/*, /health, /widget.js and /docs (OpenAPI)."""
    tokens = TokenStore.from_settings(settings)
    if not len(tokens):
        log.error(NO_TOKENS_MESSAGE)
    audit = AuditLog(settings.data_dir / "audit.log")
    pool = ThreadPoolExecutor(settings.api_workers, thread_name_prefix="contractqa-api")
    uploads = settings.data_dir / "uploads"
    admin_lock = asyncio.Lock()
    app = FastAPI(title="contractqa API", version=__version__, redoc_url=None,
                  description="Questions en français sur des contrats, réponses citant les "
                  "articles. Jeton : `Authorization: Bearer <jeton>` (scopes ask, admin).")

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

    @app.post("/api/documents", response_model=UploadOut, responses=ERRORS, tags=["documents"])
    async def upload(files: Annotated[list[UploadFile], File(description="PDF, DOCX ou TXT")],
                     request: Request, who: Admin) -> UploadOut:
        """Upload contracts (multipart `files`); they are saved, then indexed (scope admin)."""
        results: dict[str, FileResultOut] = {}
        saved: list[Upload] = []
        for f in files:
            name = safe_filename(f.filename)
            if name is None:
                results[f.filename or "?"] = FileResultOut(
                    filename=f.filename or "?", document_id=None, status="error",
                    message=f"Format non pris en charge (acceptés : {', '.join(SUPPORTED)}).")
                continue
            partial = partial_upload(uploads, name)
            try:
                with partial.open("wb") as fh:
                    await run_in_threadpool(shutil.copyfileobj, f.file, fh, 1 << 20)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            saved.append(place_upload(uploads, partial, name))
            results[name] = FileResultOut(filename=name, document_id=Path(name).stem,
                                          status="error")
        report = None
        try:
            async with admin_lock:
                if saved:
                    report = await run_in_threadpool(service.ingest, [u.path for u in saved])
        finally:
            settle_uploads(saved, report)
        for r in report.results if report else []:
            name = Path(r.path).name
            results[name] = FileResultOut(
                filename=name, document_id=r.document_id, status=r.status,
                message=r.message.replace(str(uploads) + "/", ""), articles=r.articles,
                chunks=r.chunks, note=r.note.replace(str(uploads) + "/", ""))
        out = UploadOut(ok=all(r.status != "error" for r in results.values()),
                        results=list(results.values()))
        audit.write("upload", who, client=request.client.host if request.client else None,
                    files=[[r.filename, r.status] for r in out.results])
        return out

    @app.delete("/api/documents/{document_id}", responses=ERRORS, tags=["documents"])
    async def delete(document_id: str, request: Request, who: Admin) -> dict[str, Any]:
        """Remove a contract from the index (and its uploaded file, if any) (scope admin)."""
        async with admin_lock:
            record = next((d for d in await call(service.documents)
                           if d.document_id == document_id), None)
            deleted = await run_in_threadpool(service.delete, document_id)
        audit.write("delete", who, client=request.client.host if request.client else None,
                    document_id=document_id, status=200 if deleted else 404)
        if not deleted:
            raise ApiError(404, "document_not_found", f"Document inconnu : {document_id}.")
        uploaded = uploads / Path(record.source).name if record else None
        if (record and uploaded and uploaded.is_file()
                and record.origin in ("", str(uploaded.resolve()))
                and (record.origin or uploaded.stem == document_id)):
            uploaded.unlink()  # the copy saved by POST /api/documents (or by the UI)
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

    # The review table's endpoints (contractqa/review_api.py), before the /api fallback.
    from contractqa.review_api import review_router

    app.include_router(review_router(service, settings, audit, require))

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
