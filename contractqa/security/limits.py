"""A per-token request quota."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    """Sliding-window limit of `limit` requests per `window` seconds per key, in memory."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int:
        """Record one request; return 0 if allowed, else the seconds to wait (Retry-After)."""
        if self.limit <= 0:
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return 0
