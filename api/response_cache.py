"""A response cache for the read endpoints whose answer is a function of the store revision.

``GET /gaps``, ``/coverage``, ``/communities``, ``/categories`` and ``/facilities`` answer from the
published plan, which is a function of the store's committed edits (:mod:`api.sync`). Their encoded
answers are kept in a bounded LRU keyed by

    (path, normalised query, store revision, scenario revisions)

so a repeated read costs one indexed SQLite read (the revision) and a dict lookup, before FastAPI's
routing and validation run at all. The key holds the *store* revision read before the request, and an
answer is kept only when the worker's published plan was at exactly that revision when the answer was
made (plans are published in revision order, so it was answered from that revision): an edit on any
worker process changes the revision, and no worker serves an older answer after it. A ``scenario=``
parameter is part of the query, and the scenario's own revision (when the store has one) is part of the
key too.

Every cached answer carries a strong ``ETag`` (a digest of its bytes); ``If-None-Match`` with it gets a
304 without a body. Only 200 answers are kept, each at most :data:`MAX_ENTRY_BYTES`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

__all__ = [
    "CACHED_PATHS",
    "CachedResponse",
    "ResponseCache",
    "ResponseCacheMiddleware",
    "cache_key",
    "etag_matches",
    "normalised_query",
]

#: Paths (exact, or a prefix ending in "/") whose GET answers are cached.
CACHED_PATHS = ("/gaps", "/coverage", "/communities", "/communities/", "/categories", "/facilities")
#: Answers larger than this are not kept, bytes.
MAX_ENTRY_BYTES = 8_000_000
#: Cached answers ask clients to revalidate (an edit may change them at any time).
CACHE_CONTROL = b"no-cache"

#: (service state, scenario id) -> the scenario's revision, or None when unknown
ScenarioRevision = Callable[[Any, str], Hashable]


@dataclass(frozen=True)
class CachedResponse:
    """An encoded answer: status, headers (ASGI byte pairs, with the ETag) and body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: bytes


class ResponseCache:
    """A least-recently-used map of keys to :class:`CachedResponse`, bounded in total body bytes
    (``max_bytes``; 0 keeps nothing) and in entries. Used from the event loop only (no lock)."""

    def __init__(self, max_bytes: int, max_entries: int = 4096):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, CachedResponse] = OrderedDict()
        self._bytes = 0
        self._revision: int | None = None
        self.hits = 0
        self.misses = 0

    def at_revision(self, revision: int) -> None:
        """Forget every answer when the store revision moves on (revisions only grow: keys of an older
        one are never asked again)."""
        if revision != self._revision:
            self.clear()
            self._revision = revision

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> CachedResponse | None:
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: Hashable, value: CachedResponse) -> None:
        size = len(value.body)
        if size > min(self.max_bytes, MAX_ENTRY_BYTES):
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        self._items[key] = value
        self._bytes += size
        while self._items and (self._bytes > self.max_bytes or len(self._items) > self.max_entries):
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped.body)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


def cacheable_path(path: str) -> bool:
    """Whether GET answers of ``path`` are cached (see :data:`CACHED_PATHS`)."""
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in CACHED_PATHS)


def normalised_query(query_string: bytes) -> tuple[tuple[str, str], ...]:
    """The query's parameters sorted by name (the order of a repeated name kept), percent-escapes
    decoded; undecodable bytes are kept apart (``surrogateescape``), so two different queries never
    share a key."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="surrogateescape")
    return tuple(sorted(pairs, key=lambda kv: kv[0]))


def cache_key(
    path: str, query: tuple[tuple[str, str], ...], revision: int, scenarios: tuple[Hashable, ...] = ()
) -> Hashable:
    """The key of one answer: path, normalised query, store revision and the revisions of the
    scenarios the query names."""
    return (path, query, revision, scenarios)


def etag_of(body: bytes) -> bytes:
    """A strong ETag: the quoted BLAKE2b digest (128 bits) of the body."""
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def etag_matches(if_none_match: bytes | None, etag: bytes) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (or is ``*``); weak tags compare by value."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return bytes(v)
    return None


async def _send_cached(send: Send, hit: CachedResponse, if_none_match: bytes | None) -> None:
    if etag_matches(if_none_match, hit.etag):
        headers = [(b"etag", hit.etag), (b"cache-control", CACHE_CONTROL)]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": hit.status, "headers": list(hit.headers)})
    await send({"type": "http.response.body", "body": hit.body})


def scenario_revisions(state: Any, query: tuple[tuple[str, str], ...]) -> tuple[Hashable, ...]:
    """(id, revision, created) of each scenario a query names (``scenario=``; None for an unknown one):
    a change to the scenario bumps its revision, so its answers are asked again."""
    out: list[Hashable] = []
    for name, sid in query:
        if name == "scenario":
            found = state.store.scenario(sid) if _is_text(sid) else None
            row = None if found is None else found[0]
            out.append((sid, None if row is None else (row["revision"], row["created_at"])))
    return tuple(out)


def _is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode (no undecodable bytes kept as surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ResponseCacheMiddleware:
    """ASGI middleware answering cached GETs of :data:`CACHED_PATHS` before the application runs, and
    keeping (with an ETag) the 200 answers the application makes at an unchanged revision.

    The service state is ``scope["app"].state.service`` (None before start-up: nothing is cached)."""

    def __init__(self, app: ASGIApp, *, cache: ResponseCache):
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or self.cache.max_bytes <= 0
            or not cacheable_path(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        state = getattr(getattr(app, "state", None), "service", None)
        if state is None:
            await self.app(scope, receive, send)
            return
        query = normalised_query(scope.get("query_string", b""))
        revision = state.store.revision()
        self.cache.at_revision(revision)
        key = cache_key(scope["path"], query, revision, scenario_revisions(state, query))
        if_none_match = _header(scope, b"if-none-match")
        hit = self.cache.get(key)
        if hit is not None:
            await _send_cached(send, hit, if_none_match)
            return
        await self._answer_and_keep(scope, receive, send, state, key, revision, if_none_match)

    async def _answer_and_keep(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        state: Any,
        key: Hashable,
        revision: int,
        if_none_match: bytes | None,
    ) -> None:
        """Run the application with its answer buffered; a 200 gets an ETag (and becomes a 304 when the
        client has it) and is kept when the plan that answered was at ``revision``."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:  # errors and the rest pass straight through
                    await send(message)
                return
            if start is None or start["status"] != 200:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish(send, start, b"".join(chunks), state, key, revision, if_none_match)

        await self.app(scope, receive, capture)

    async def _finish(
        self,
        send: Send,
        start: Message,
        body: bytes,
        state: Any,
        key: Hashable,
        revision: int,
        if_none_match: bytes | None,
    ) -> None:
        etag = etag_of(body)
        headers = tuple(
            (bytes(k), bytes(v)) for k, v in start.get("headers", ()) if k not in (b"etag", b"cache-control")
        ) + ((b"etag", etag), (b"cache-control", CACHE_CONTROL))
        entry = CachedResponse(200, headers, body, etag)
        if state.revision == revision:  # answered from the plan of exactly this store revision
            self.cache.put(key, entry)
        await _send_cached(send, entry, if_none_match)
