"""Questions: /api/ask (one JSON answer) and /api/ask/stream (server-sent events)."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from contractqa.routes.context import ApiContext, ask_args
from contractqa.schemas import ERRORS, AnswerOut, AskRequest
from contractqa.security import ApiError, Principal

log = logging.getLogger("contractqa.api")
_END = object()  # what `next` returns once the answer's events are over


@dataclass
class OpenedStream:
    """A question whose first event is already computed: every error that can be an HTTP
    status (unknown documents, timeout) has been raised before the stream starts."""

    body: AskRequest
    request: Request
    who: Principal
    started: float
    events: Iterator[Any]
    first: Any


async def next_event(ctx: ApiContext, events: Iterator[Any], deadline: float) -> Any:
    """The answer's next event, computed on the API's threads, by `deadline`."""
    left = max(0.01, deadline - time.perf_counter())
    return await ctx.call(next, events, _END, timeout=left)


def stream_opener(ctx: ApiContext, Asker: Any) -> Callable[..., Awaitable[OpenedStream]]:
    """The dependency that starts an answer and waits for its first event: it runs before the
    stream, so its errors (unknown documents, timeout) are plain HTTP errors."""

    async def open_stream(body: AskRequest, request: Request, who: Asker) -> OpenedStream:
        t0 = time.perf_counter()

        def start() -> Iterator[Any]:
            ctx.check_documents(body.documents, who)
            return iter(ctx.service.stream(*ask_args(body), matters=who.matters))

        try:
            events = await ctx.call(start)
            first = await next_event(ctx, events, t0 + ctx.settings.api_timeout_s)
        except TimeoutError:
            ctx.audit_answer("ask_stream", who, request, body, t0, 504)
            raise ctx.timeout_error() from None
        except ApiError as exc:
            ctx.audit_answer("ask_stream", who, request, body, t0, exc.status)
            raise
        return OpenedStream(body, request, who, t0, events, first)

    return open_stream


def questions_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["questions"])
    Asker = Annotated[Principal, Depends(ctx.require("ask"))]

    @router.post("/api/ask", response_model=AnswerOut, responses=ERRORS)
    async def ask(body: AskRequest, request: Request, who: Asker) -> dict[str, Any]:
        """Answer a question; citations in rank order, excerpts in the contract's own words."""
        t0, status, answer = time.perf_counter(), 500, None

        def work() -> dict[str, Any]:
            ctx.check_documents(body.documents, who)
            return ctx.service.ask(*ask_args(body), matters=who.matters).to_json()

        try:
            answer = await ctx.call(work)
            status = 200
            return answer
        except TimeoutError:
            status = 504
            raise ctx.timeout_error() from None
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            ctx.audit_answer("ask", who, request, body, t0, status, answer)

    open_stream = stream_opener(ctx, Asker)

    @router.post("/api/ask/stream", response_class=EventSourceResponse,
                 responses={200: {"content": {"text/event-stream": {}}}, **ERRORS})
    async def ask_stream(
        stream: Annotated[OpenedStream, Depends(open_stream)],
    ) -> AsyncIterator[ServerSentEvent]:
        """Server-sent events: in LLM mode a `status` {"text"} event first (the model is
        reading the excerpts), then `delta` {"text"} events, then `answer` (as /api/ask) or
        `error`."""
        s = stream
        deadline = s.started + ctx.settings.api_timeout_s
        event, status = s.first, 500
        try:
            while event is not _END:
                if event.kind == "answer":
                    answer = event.answer.to_json()
                    status = 200
                    ctx.audit_answer("ask_stream", s.who, s.request, s.body, s.started, 200,
                                     answer)
                    yield ServerSentEvent(event="answer", data=answer)
                    return
                if event.kind in ("status", "delta") and event.text:
                    yield ServerSentEvent(event=event.kind, data={"text": event.text})
                event = await next_event(ctx, s.events, deadline)
        except TimeoutError:
            status = 504
            yield ServerSentEvent(event="error", data={"error": {
                "code": "timeout", "message": ctx.timeout_error().message}})
        except Exception:
            log.exception("Erreur pendant /api/ask/stream")
            yield ServerSentEvent(event="error", data={"error": {
                "code": "internal_error", "message": "Erreur interne."}})
        if status != 200:
            ctx.audit_answer("ask_stream", s.who, s.request, s.body, s.started, status)

    return router
