"""HTTP/1.1 POSTs over kept-alive connections on an asyncio loop, for the open-loop client.

Why not aiohttp: a client's own time per request is part of every latency it reports, and aiohttp's (building a
request object, headers, a response object, the connection bookkeeping) is 0.4–0.7 ms per request on a 2-core VM —
5–7% of a 10 ms answer from Ray Serve (measured side by side, ``benchmarks/serve_latency_crosscheck.py``). Here a
request is a byte string built once per body; sending it is one ``write``; the answer is parsed by ``httptools``
(the C parser uvicorn, and so Ray Serve's own proxy, uses); and the answer's time is taken the moment its last byte
is parsed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

# Ray Serve's proxy closes a connection idle for 5 s (http_options.keep_alive_timeout_s); one idle this long is
# not reused, so a request never races the server's close of its connection.
IDLE_REUSE_S = 4.0


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    done: float  # perf_counter when the last byte was parsed


class HttpError(Exception):
    """A request that got no answer: the connection failed, closed, or the answer could not be parsed."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.body: list[bytes] = []
        self.closed = False
        self.idle_since = time.perf_counter()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # noqa: BLE001 - httptools raises its own HttpParserError family
            self._fail(HttpError(f"unparsable answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc if isinstance(exc, OSError) else HttpError("the server closed the connection"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        done = time.perf_counter()
        waiter, self.waiter = self.waiter, None
        status, body = self.parser.get_status_code(), b"".join(self.body)
        self.body = []
        if not self.parser.should_keep_alive():
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(status, body, done))

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """POSTs to one URL over at most ``max_connections`` kept-alive connections; a request that finds them all busy
    waits for one (and leaves late, which the open-loop client counts)."""

    def __init__(self, url: str, max_connections: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    def request(self, body: bytes, content_type: str = "application/json") -> bytes:
        """The bytes of one POST of ``body`` (build once, send many times)."""
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode("latin-1") + body

    async def post(self, request: bytes, timeout_s: float) -> Response:
        """Send prebuilt ``request`` and wait for its answer; raises OSError, HttpError or TimeoutError."""
        conn = await self._acquire()
        try:
            conn.waiter = asyncio.get_running_loop().create_future()
            conn.transport.write(request)
            response = await asyncio.wait_for(conn.waiter, timeout_s)
        except BaseException:
            conn.close()  # a connection whose request failed or timed out is never reused
            raise
        finally:
            self._release(conn)
        return response

    async def _acquire(self) -> _Connection:
        while True:
            now = time.perf_counter()
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and now - conn.idle_since < IDLE_REUSE_S:
                    return conn
                conn.close()
                self._open -= 1
            if self._open < self.max_connections:
                self._open += 1
                try:
                    _, conn = await asyncio.get_running_loop().create_connection(_Connection, self.host, self.port)
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
                return conn
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter

    def _release(self, conn: _Connection) -> None:
        if conn.closed:
            self._open -= 1
        else:
            conn.idle_since = time.perf_counter()
            self._idle.append(conn)
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


__all__ = ["HttpError", "HttpPool", "Response"]
