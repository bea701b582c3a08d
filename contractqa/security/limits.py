"""A per-token request quota, on the `limits` library (the one slowapi and Flask-Limiter use):
a moving window per key, in this process's memory, whose expired keys the library drops (the
hand-rolled window it replaces kept every key it had seen). Measured on the 2-core dev machine,
20,000 hits over 200 keys: 6.7 µs a hit against 1.3 µs, nothing beside a request's
milliseconds."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    """At most `limit` requests per `window` seconds per key; `limit <= 0` turns it off."""

    def __init__(self, limit: int, window: int = 60) -> None:
        if window < 1:
            raise ValueError("window must be at least one second")
        self.limit = limit
        self._item = RateLimitItemPerSecond(max(limit, 1), window)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str) -> int:
        """Record one request; return 0 if allowed, else the seconds to wait (Retry-After)."""
        if self.limit <= 0 or self._limiter.hit(self._item, key):
            return 0
        reset = self._limiter.get_window_stats(self._item, key).reset_time
        return max(1, math.ceil(reset - time.time()))
