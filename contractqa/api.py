"""REST API under /api, the /health probe and the embeddable /widget.js.

The routes live in `contractqa.routes` (questions, documents and jobs, static files); this
module builds the app: their shared context, error handlers, middleware and the /api fallback.

`create_api(service, settings)` returns a FastAPI app; the web UI mounts Gradio on it at "/".
Tokens, scopes, rate limit, body limits, CORS and CSP live in `contractqa.security`.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from contractqa import __version__
from contractqa.jobs import JobRunner
from contractqa.review_api import review_router
from contractqa.routes.context import ApiContext
from contractqa.routes.documents import admin_router, documents_router, jobs_router
from contractqa.routes.questions import questions_router
from contractqa.routes.static import static_router
from contractqa.schemas import (
    UploadOut,
)
from contractqa.security import (
    NO_TOKENS_MESSAGE,
    ApiError,
    ApiGate,
    AuditLog,
    JsonCors,
    SecurityHeaders,
    TokenStore,
    error_response,
    valid_origins,
)
from contractqa.service import (
    ContractQA,
    sweep_partials,
)
from contractqa.settings import Settings
from ingest.locking import IndexBusy
from ingest.store import StoreError

log = logging.getLogger("contractqa.api")
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
         429: "rate_limited", 504: "timeout"}


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
    app.state.tokens, app.state.audit = tokens, audit  # the chat's users and log are the same

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(IndexBusy)
    async def _busy(_: Request, exc: IndexBusy) -> JSONResponse:
        return error_response(503, "index_busy", str(exc), {"Retry-After": "30"})

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> JSONResponse:
        return error_response(503, "store_error", str(exc))

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
                       expose_headers=["Retry-After", "X-Total-Count"], max_age=600)
    app.add_middleware(SecurityHeaders, origins=origins)

    ctx = ApiContext(service, settings, audit, pool, uploads, jobs)
    routers = [questions_router(ctx), documents_router(ctx), admin_router(ctx), jobs_router(ctx),
               static_router(ctx),
               review_router(service, settings, audit, ctx.require)]
    for router in routers:  # all before the /api fallback
        app.include_router(router)
    routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]

    @app.api_route("/api/{rest:path}", include_in_schema=False,
                   methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    async def api_fallback(request: Request, rest: str) -> None:
        """JSON 404/405 for /api paths, even when Gradio is mounted at "/"."""
        allowed = sorted({m for r in routes if r.path_regex.match(request.url.path)
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
