"""The one error shape of the API."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The one error shape of the API: {"error": {"code", "message", ...}}."""
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


class ApiError(Exception):
    """Raised by routes; rendered by `error_response`."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
