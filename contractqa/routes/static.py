"""The health probe and the embeddable widget's files."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from contractqa.routes.context import ApiContext
from contractqa.schemas import ErrorOut

STATIC = Path(__file__).resolve().parents[1] / "static"


def static_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()

    @router.get("/health", tags=["health"], responses={503: {"model": ErrorOut}})
    async def health() -> JSONResponse:
        """200 once at least one contract is indexed, else 503."""
        if await run_in_threadpool(ctx.service.ready):
            return JSONResponse({"status": "ok"})
        message = "Aucun contrat indexé ou index indisponible."
        body = {"status": "unavailable", "error": {"code": "not_ready", "message": message}}
        return JSONResponse(body, status_code=503)

    @router.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "public, max-age=300",
                                     "Cross-Origin-Resource-Policy": "cross-origin"})

    @router.get("/widget/demo.html", include_in_schema=False)
    async def demo() -> FileResponse:
        return FileResponse(STATIC / "demo.html", media_type="text/html; charset=utf-8")

    return router
