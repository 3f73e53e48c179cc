"""A minimal JSON-over-HTTP client for the load generator: one persistent connection per thread
(as a real client keeps its connection), standard library only, every failure reported with its reason."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlsplit


class JsonClient:
    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.timeout_s = timeout_s
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def post(self, body: bytes) -> tuple[int, Any]:
        """(status, parsed JSON or text). Raises on connection errors and timeouts (recorded by the caller)."""
        conn = self._connection()
        try:
            conn.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
        except Exception:
            conn.close()  # a broken connection is not reused; the next request opens a new one
            self._local.conn = None
            raise
        if response.status != 200:
            return response.status, payload.decode("utf-8", "replace")[:200]
        return response.status, json.loads(payload)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
