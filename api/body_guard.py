"""Request bodies within bounds: size (413) and read time (408), however the body is sent.

:class:`BodyGuard` is ASGI middleware. A body over its route's limit is a 413 with a JSON ``detail``,
whether announced by ``Content-Length`` or streamed (chunked); a body that stalls — no bytes for
``timeout_s`` — is a 408, and so is one that trickles: after its first ``timeout_s`` a body must keep up
an average of :data:`MIN_BODY_RATE_B_S` (a client sending a byte now and then cannot hold a connection
for hours). Only that request waits (the wait is asynchronous). Bodies of ordinary
routes (at most ``max_bytes``, 16 KiB by default) are read whole before the route runs, so every route
answers 413 for an oversized body even if it never reads it; uploads (``prefixes``) are streamed to the
route and counted on the way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The slowest average rate a body may arrive at once its first ``timeout_s`` are over, bytes per second
#: (16 KiB: at most ``timeout_s`` + 16 s; a 50 MB upload: about 14 hours).
MIN_BODY_RATE_B_S = 1024.0


class BodyTooLarge(Exception):
    """The body passed its limit (bytes)."""


class BodyStalled(Exception):
    """No body bytes arrived within the time limit, or too few on average (the message says which)."""


class BodyGuard:
    """413 for bodies over ``max_bytes`` (``prefixes``: ``(path prefix, limit)`` pairs for routes with
    their own limit, streamed; the first matching prefix wins); 408 when the client sends no body
    bytes for ``timeout_s`` seconds."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        prefixes: Sequence[tuple[str, int]] = (),
        timeout_s: float = 30.0,
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = tuple(prefixes)
        self.timeout_s = timeout_s

    def limit_for(self, path: str) -> tuple[int, bool]:
        """(limit, streamed) of a path."""
        for prefix, n in self.prefixes:
            if path.startswith(prefix):
                return n, True
        return self.max_bytes, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, streamed = self.limit_for(str(scope.get("path", "")))
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _reject(send, 413, f"request body too large (limit {limit} bytes)")
        counted = _Counted(receive, limit, self.timeout_s)
        if not streamed:
            try:
                receive = await counted.buffered()
            except BodyTooLarge:
                return await _reject(send, 413, f"request body too large (limit {limit} bytes)")
            except BodyStalled as e:
                return await _reject(send, 408, str(e))
        else:
            receive = counted.receive
        failed: Exception | None = None

        async def guarded_send(message: Message) -> None:
            if counted.failure is None:  # a route that turned the abort into its own answer is not heard
                await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except (BodyTooLarge, BodyStalled) as e:
            failed = e
        failed = counted.failure or failed
        if isinstance(failed, BodyTooLarge):
            await _reject(send, 413, f"request body too large (limit {limit} bytes)")
        elif isinstance(failed, BodyStalled):
            await _reject(send, 408, str(failed))


class _Counted:
    """The body messages of one request, counted against ``limit`` and timed out after ``timeout_s``
    of silence or when slower than :data:`MIN_BODY_RATE_B_S` on average after the first ``timeout_s``;
    ``failure`` remembers the first error raised."""

    def __init__(self, receive: Receive, limit: int, timeout_s: float):
        self._receive = receive
        self.limit = limit
        self.timeout_s = timeout_s
        self.seen = 0
        self.done = False
        self.failure: Exception | None = None
        self.started_s = time.monotonic()

    def wait_s(self) -> float:
        """How long the next body message may take: ``timeout_s``, or less when the body is behind
        the slowest rate allowed."""
        allowed_s = self.timeout_s + self.seen / MIN_BODY_RATE_B_S
        return max(0.0, min(self.timeout_s, self.started_s + allowed_s - time.monotonic()))

    async def receive(self) -> Message:
        if self.done:  # the body is complete: later calls wait for a disconnect, untimed
            return await self._receive()
        wait_s = self.wait_s()
        try:
            with anyio.fail_after(wait_s):
                message = await self._receive()
        except TimeoutError:
            if wait_s < self.timeout_s:
                reason = (
                    f"request body too slow: under {MIN_BODY_RATE_B_S:g} bytes/s on average after "
                    f"{self.timeout_s:g} s"
                )
            else:
                reason = f"request body not received: no bytes for {self.timeout_s:g} s"
            self.failure = BodyStalled(reason)
            raise self.failure from None
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            self.done = not message.get("more_body", False)
            if self.seen > self.limit:
                self.failure = BodyTooLarge()
                raise self.failure
        else:
            self.done = True
        return message

    async def buffered(self) -> Receive:
        """Read the whole body now; a ``receive`` that replays it, then passes on to the server."""
        chunks: list[bytes] = []
        queued: list[Message] = []
        while not self.done:
            message = await self.receive()
            if message["type"] != "http.request":  # the client left
                queued.append(message)
                break
            chunks.append(message.get("body", b""))
        if not queued:
            queued.append({"type": "http.request", "body": b"".join(chunks), "more_body": False})

        async def replay() -> Message:
            if queued:
                return queued.pop(0)
            return await self._receive()

        return replay


async def _reject(send: Send, status: int, detail: str) -> None:
    body = b'{"detail":"%s"}' % detail.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
