"""API security, one module per concern: tokens and scopes, the rate limit, the audit log,
the error shape, the middleware."""

from contractqa.security.audit import AuditLog
from contractqa.security.errors import ApiError, error_response
from contractqa.security.limits import RateLimiter
from contractqa.security.middleware import ApiGate, JsonCors, SecurityHeaders, valid_origins
from contractqa.security.tokens import (
    NO_TOKENS_MESSAGE,
    SCOPES,
    Principal,
    TokenStore,
    hash_token,
    parse_scopes,
)

__all__ = [
    "NO_TOKENS_MESSAGE", "SCOPES", "ApiError", "ApiGate", "AuditLog", "JsonCors", "Principal",
    "RateLimiter", "SecurityHeaders", "TokenStore", "error_response", "hash_token",
    "parse_scopes", "valid_origins",
]
