"""The app factory: ``create_app(settings)`` wires the database, worker and routes.

Pages are rendered on the server (Jinja2); HTMX, served from this package, adds
the live parts (progress, filters, review decisions) without a page load. Nothing
is fetched from anywhere else: the Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearance import __version__
from clearance.explain_render import _sentence
from clearance.law import installed_packs, load_pack
from clearance.report.figures import SEVERITY_LABELS
from clearance.web.context import TEMPLATES, SignInRequired, Web, fmt_time
from clearance.web.db import make_engine, session_factory
from clearance.web.routes import admin, auth, filings, results, runs, sheets
from clearance.web.security import Tokens, load_secret, security_headers
from clearance.web.settings import Settings, from_environment, local_time
from clearance.web.sheets import SheetWorker
from clearance.web.worker import Worker

STATIC = Path(__file__).parent / "static"
ROUTERS = (auth.router, runs.router, results.router, filings.router, admin.router, sheets.router)
log = logging.getLogger("clearance.web")


def _size(n: int) -> str:
    """A file's size in words: 4.3 GB, 812 MB, 12 KB."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}" if n < 10 * scale else f"{n / scale:,.0f} {unit}"
    return f"{n:,} bytes"


@cache
def _reason_labels() -> dict[str, str]:
    """Each reason code's plain words, from the rule packs' own ``label``s (the first
    pack installed that gives one; Prop 64's first)."""
    labels: dict[str, str] = {}
    for name in sorted(installed_packs(), key=lambda n: n != "prop64"):
        for code, rule in load_pack(name).rules.items():
            if rule.label:
                labels.setdefault(code, rule.label)
    return labels


def _plain(code: str | None) -> str:
    """A code in words: a reason code by its rule pack's label (``baseline`` is "The
    section's outcome"), anything else (a determination, an action) with spaces."""
    code = code or ""
    return _reason_labels().get(code) or code.replace("_", " ")


def _templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    zone = settings.zone
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else ("" if n is None else n)
    env.filters["when"] = lambda value: fmt_time(value, zone)
    env.filters["clock"] = lambda value: (
        "" if value is None else local_time(value, zone, "%H:%M %Z")
    )
    env.filters["size"] = _size
    # F, M, I in words, as the impact report writes them
    env.filters["severity"] = lambda code: SEVERITY_LABELS.get(code or "", code or "").lower()
    env.filters["sentence"] = _sentence
    env.filters["label"] = _plain
    env.globals["version"] = __version__
    return templates


class SecurityHeaders:
    """Puts the security headers on every answer, errors included (an ASGI middleware,
    so streamed files and the answers of other middleware get them too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response = Response(status_code=message["status"])
                response.raw_headers = list(message.get("headers", []))
                security_headers(response, report=path.endswith("/report.html"), https=https)
                if path.startswith("/static/"):
                    response.headers["Cache-Control"] = "private, max-age=3600"
                message = {**message, "headers": response.raw_headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The id columns are INTEGER: up to 2**31 - 1 on PostgreSQL (2**63 - 1 on SQLite).
MAX_ID = 2**31 - 1


async def _ids_in_range(request: Request) -> None:
    """An id in a path beyond what the database holds is no page at all (404), not a
    database error."""
    for name, value in request.path_params.items():
        digits = isinstance(value, str) and value.isdigit()
        if name.endswith("_id") and digits and int(value) > MAX_ID:
            raise StarletteHTTPException(404, "no such page")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web app for a data directory (settings from the environment by default)."""
    settings = (settings or from_environment()).prepare()
    # A connection for every worker thread, and two more (the run worker, start-up).
    engine = make_engine(settings.database, pool_size=settings.threads + 2)
    sessions = session_factory(engine)
    worker = Worker(settings, sessions)
    sheet_worker = SheetWorker(settings, sessions)
    web = Web(
        settings=settings,
        engine=engine,
        sessions=sessions,
        tokens=Tokens(load_secret(settings.secret_file)),
        worker=worker,
        templates=_templates(settings),
        hashing=threading.BoundedSemaphore(settings.hash_concurrency),
    )

    with sessions() as db:
        broken = web.audit.check(db)  # the whole chain, once, at start
    if broken is not None:
        log.error("%s; run `clearance audit verify`", broken.line())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Plain handlers, and the work handlers hand to threads, share one pool of
        # Settings.threads; the database pool is larger (make_engine above).
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, settings.threads)
        if settings.run_worker:
            worker.start()
            sheet_worker.start()
        try:
            yield
        finally:
            worker.stop()
            sheet_worker.stop()

    app = FastAPI(
        title="clearance",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(_ids_in_range)],
    )
    app.state.web = web
    app.state.sheet_worker = sheet_worker
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in ROUTERS:
        app.include_router(router)

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        """Anything unexpected: one line, no detail of the data, the security headers
        still on (this answer comes from outside every other middleware; uvicorn logs
        the exception itself)."""
        response = PlainTextResponse(
            f"internal error ({type(exc).__name__}); the server's log has the details",
            status_code=500,
        )
        security_headers(response, https=request.url.scheme == "https")
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        target = "/setup" if exc.setup else f"/login?next={quote(request.url.path)}"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        if request.method != "GET":
            return PlainTextResponse("sign in first", status_code=401)
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        accepts_html = "text/html" in request.headers.get("accept", "")
        if request.headers.get("hx-request") == "true" or not accepts_html:
            return PlainTextResponse(message, status_code=exc.status_code)
        page = web.templates.get_template("error.html").render(
            status=exc.status_code, message=message, version=__version__
        )
        return HTMLResponse(page, status_code=exc.status_code)

    return app
