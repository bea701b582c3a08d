"""What every API route shares: the service, settings, audit log, worker pool, upload jobs,
and the scope checks and helpers built on them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contractqa.jobs import JobRunner
from contractqa.schemas import AskRequest, UploadOut
from contractqa.security import ApiError, AuditLog, Principal
from contractqa.security.audit import answer_fields
from contractqa.service import ContractQA
from contractqa.settings import Settings
from retrieval.models import Turn

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <jeton>")


@dataclass
class ApiContext:
    """The parts the routers use, built once by `create_api`."""

    service: ContractQA
    settings: Settings
    audit: AuditLog
    pool: ThreadPoolExecutor
    uploads: Path
    jobs: JobRunner[UploadOut]

    def require(self, scope: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency: the caller (authenticated by the gate) if its token has `scope`."""
        async def check(
            request: Request,
            _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        ) -> Principal:
            principal: Principal | None = getattr(request.state, "principal", None)
            if principal is None:  # the gate authenticates every /api request
                raise ApiError(401, "unauthorized", "Authentification requise.")
            if not principal.has(scope):
                self.audit.write("denied", principal, path=request.url.path, scope=scope,
                                 status=403)
                raise ApiError(403, "forbidden", f"Ce jeton n'a pas le droit « {scope} ».")
            return principal

        return check

    async def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run blocking work on the API pool; TimeoutError after api_timeout_s."""
        future = asyncio.wrap_future(self.pool.submit(fn, *args))
        return await asyncio.wait_for(future, timeout or self.settings.api_timeout_s)

    def timeout_error(self) -> ApiError:
        return ApiError(504, "timeout", f"Pas de réponse en {self.settings.api_timeout_s:g} s : "
                        "réessayez ou précisez la question.")

    def check_documents(self, ids: list[str] | None, who: Principal) -> None:
        """404 for any id that is not indexed or not in the caller's matters (alike)."""
        known = {d.document_id for d in self.service.documents(who.matters)}
        unknown = sorted(set(ids or []) - known)
        if unknown:
            raise ApiError(404, "document_not_found", f"Documents inconnus : {', '.join(unknown)}.")

    def audit_answer(self, event: str, who: Principal, request: Request, body: AskRequest,
                     t0: float, status: int, answer: dict[str, Any] | None = None) -> None:
        self.audit.write(
            event, who, client=request.client.host if request.client else None,
            origin=request.headers.get("origin"), question=body.question,
            documents=body.documents, history_turns=len(body.history), status=status,
            duration_ms=round((time.perf_counter() - t0) * 1000), **answer_fields(answer))


def ask_args(body: AskRequest) -> tuple[str, list[str] | None, list[Turn]]:
    return (body.question.strip(), body.documents or None,
            [Turn(question=t.question, answer=t.answer) for t in body.history])
