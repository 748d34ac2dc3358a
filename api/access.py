"""Who may write: reads are open; writes (POST/DELETE of facilities, restores, imports and applying them,
export generation) need a token when the service is configured with tokens.

Tokens come from ``CIRCLES_WRITE_TOKEN`` (one token, named ``env``; the value may be the token itself or
``sha256:<hex digest>``) and from ``CIRCLES_WRITE_TOKENS_FILE``, a text file of ``NAME sha256:<hex>``
lines (``#`` comments), so no token is kept in clear at rest. Make a line with::

    python -m api.access NAME            # prints a new random token and the line for the file

A write then needs ``Authorization: Bearer <token>``: none is a 401, a wrong one a 403. The token's name
is the ``actor`` of the edit in the audit log (``/edits``).

Without any token configured, the service takes writes only from its own machine (a loopback client
address, or the in-process test client): a remote write is a 403 saying how to configure a token. So
``circles serve --host 0.0.0.0`` without a token serves reads to the network and takes edits from
localhost only (it logs a warning at start-up). Behind a reverse proxy on the same machine every client
looks local unless the proxy sets ``X-Forwarded-For`` (uvicorn reads it from 127.0.0.1): configure a
token there.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import sys
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ForbiddenError, SettingsError, UnauthorizedError
from .settings import Settings
from .store import Actor

log = logging.getLogger(__name__)

#: The client address Starlette's TestClient reports (an in-process client, not a network one).
TEST_CLIENT_HOST = "testclient"


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token (what is kept at rest)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _digest_of(value: str, where: str) -> str:
    """The hex digest a configured value means: ``sha256:<hex>`` as is, else the digest of the value."""
    value = value.strip()
    if value.lower().startswith("sha256:"):
        digest = value[7:].strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise SettingsError(f"{where}: 'sha256:' must be followed by 64 hex digits")
        return digest
    if len(value) < 16:
        raise SettingsError(f"{where}: a write token must have at least 16 characters")
    return token_digest(value)


def is_local(host: str | None) -> bool:
    """A loopback address (127.0.0.0/8, ::1), a Unix socket (no address) or the in-process test client."""
    if host is None or host == TEST_CLIENT_HOST:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class Access:
    """The configured write tokens, as ``{sha256 hex digest: name}`` (empty: writes from localhost)."""

    tokens: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        tokens: dict[str, str] = {}
        if settings.write_token is not None:
            tokens[_digest_of(settings.write_token.get_secret_value(), "CIRCLES_WRITE_TOKEN")] = "env"
        if settings.write_tokens_file is not None:
            tokens.update(read_tokens_file(settings.write_tokens_file))
        return cls(tokens)

    @property
    def configured(self) -> bool:
        return bool(self.tokens)

    def actor(self, token: str | None, client: str | None) -> Actor:
        """Who writes with ``token`` from ``client``; a 401/403 error when they may not."""
        if not self.tokens:
            if is_local(client):
                return Actor("local", client)
            raise ForbiddenError(
                "this service takes edits only from its own machine: set CIRCLES_WRITE_TOKEN (or "
                "CIRCLES_WRITE_TOKENS_FILE) on the service and send Authorization: Bearer <token>"
            )
        if token is None:
            raise UnauthorizedError("this edit needs a write token: send Authorization: Bearer <token>")
        digest = token_digest(token)
        for known, name in self.tokens.items():
            if hmac.compare_digest(known, digest):
                return Actor(f"token:{name}", client)
        raise ForbiddenError("the write token is not valid for this service")


def read_tokens_file(path: object) -> dict[str, str]:
    """``{digest: name}`` of a tokens file (``NAME sha256:<hex>`` per line, ``#`` comments); a
    :class:`SettingsError` naming the line otherwise."""
    from pathlib import Path

    file = Path(str(path))
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"CIRCLES_WRITE_TOKENS_FILE {file}: cannot be read ({e})") from None
    tokens: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lower().startswith("sha256:"):
            raise SettingsError(f"{file} line {n}: expected 'NAME sha256:<64 hex digits>'")
        tokens[_digest_of(parts[1], f"{file} line {n}")] = parts[0]
    if not tokens:
        raise SettingsError(f"CIRCLES_WRITE_TOKENS_FILE {file}: no token in it")
    return tokens


_bearer = HTTPBearer(auto_error=False, description="a write token (see CIRCLES_WRITE_TOKEN)")


def actor_of(request: Request) -> Actor:
    """Who writes with ``request`` (its ``Authorization: Bearer`` token and client address), or a
    401/403 error."""
    scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    access: Access = request.app.state.access
    client = request.client.host if request.client is not None else None
    return access.actor(bearer, client)


async def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The dependency of every write (documents the bearer scheme): the :class:`~api.store.Actor`, or
    a 401/403."""
    return actor_of(request)


#: A write route's parameter: who writes (checked before anything else of the request).
Writer = Annotated[Actor, Depends(require_writer)]


def open_host_warning(settings: Settings, host: str) -> str | None:
    """The start-up warning of a service listening beyond loopback without a write token, or None."""
    if is_local(host) or Access.from_settings(settings).configured:
        return None
    return (
        f"listening on {host} without a write token: reads are open to the network and edits are taken "
        "from this machine only; set CIRCLES_WRITE_TOKEN (or CIRCLES_WRITE_TOKENS_FILE) to take edits "
        "from other machines"
    )


def main(argv: list[str]) -> int:
    """``python -m api.access NAME``: a new token and its line for the tokens file."""
    if len(argv) != 1 or not argv[0].isidentifier():
        sys.stderr.write("usage: python -m api.access NAME   (NAME: letters, digits, _)\n")
        return 2
    token = secrets.token_urlsafe(32)
    sys.stdout.write(f"token (give it to the client): {token}\n")
    sys.stdout.write(f"line for CIRCLES_WRITE_TOKENS_FILE: {argv[0]} sha256:{token_digest(token)}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
