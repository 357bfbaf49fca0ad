"""Sessions, CSRF tokens and response headers.

- The signing secret is random, made once per data directory and kept in it
  (``secret.key``, owner-only): copying the data directory keeps people signed in,
  a new one signs everyone out.
- The session cookie holds a random token signed with that secret; the database
  holds only the token's SHA-256, so a copy of the database cannot be replayed.
  It is ``Secure``, ``HttpOnly`` and ``SameSite=Strict`` (browsers accept Secure
  cookies from http://127.0.0.1 and http://localhost, which is why the server
  needs TLS anywhere else; server.py).
- Every POST carries a CSRF token (a form field, or the ``X-CSRF-Token`` header that
  HTMX sends): an HMAC of the session token, or before sign-in of a random
  pre-session cookie, under the secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "clearance_session"
PRESESSION_COOKIE = "clearance_presession"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# No script, style or image from anywhere but this server; no framing by others.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
# The impact report is a self-contained HTML file (inline styles, embedded charts,
# no script): shown in a sandboxed frame with its own, still closed, policy.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'self'; sandbox"
)


def load_secret(path: Path) -> bytes:
    """The data directory's signing secret, made on first use (owner-only file)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


class Tokens:
    """Signs session tokens and derives CSRF tokens from the data directory's secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._signer = Signer(secret, salt="clearance-session")

    def new_session(self) -> tuple[str, str]:
        """(cookie value, database id) for a new session."""
        token = secrets.token_urlsafe(32)
        return self._signer.sign(token).decode(), session_id(token)

    def session_token(self, cookie: str | None) -> str | None:
        """The token inside a session cookie, or None if absent or forged."""
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie).decode()
        except BadSignature:
            return None

    def csrf_for(self, key: str) -> str:
        return hmac.new(self._secret, b"csrf:" + key.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, key: str | None, token: str | None) -> bool:
        return bool(key and token) and hmac.compare_digest(self.csrf_for(key), token)

    def name_key(self, name: str) -> str:
        """What the security log keeps of a typed user name: a keyed hash of it, so
        failures for one name are counted without writing down what was typed."""
        normal = name.strip().lower().encode()
        return hmac.new(self._secret, b"sign-in-name:" + normal, hashlib.sha256).hexdigest()


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def expires(hours: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=hours)


def is_loopback_host(host: str) -> bool:
    """Whether an address to listen on (or a client's) is this machine only."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_address(request: Request) -> str:
    """The client's address (behind a proxy on this machine, uvicorn's proxy headers
    make it the browser's, not the proxy's)."""
    return request.client.host if request.client is not None else "unknown"


def client_is_loopback(request: Request) -> bool:
    return request.client is not None and is_loopback_host(request.client.host)


# Browsers that reached the app over HTTPS keep to HTTPS for a year.
HSTS = "max-age=31536000"


def security_headers(response: Response, *, report: bool = False, https: bool = False) -> None:
    response.headers["Content-Security-Policy"] = REPORT_CSP if report else CSP
    if https:  # only over TLS (or from a trusted proxy that says so): RFC 6797
        response.headers["Strict-Transport-Security"] = HSTS
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    # Pages hold criminal histories: no copy in a shared cache or the browser's disk cache.
    response.headers.setdefault("Cache-Control", "no-store")
