"""The app factory: ``create_app(settings)`` wires the database, worker and routes.

Pages are rendered on the server (Jinja2); HTMX, served from this package, adds
the live parts (progress, filters, review decisions) without a page load. Nothing
is fetched from anywhere else: the Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from clearance import __version__
from clearance.explain_render import _sentence
from clearance.web.context import TEMPLATES, SignInRequired, Web, fmt_time
from clearance.web.db import POOL_OVERFLOW, POOL_SIZE, make_engine, session_factory
from clearance.web.routes import admin, auth, results, runs
from clearance.web.security import Tokens, load_secret, security_headers
from clearance.web.settings import Settings, from_environment
from clearance.web.worker import Worker

STATIC = Path(__file__).parent / "static"
ROUTERS = (auth.router, runs.router, results.router, admin.router)
THREADS = 64  # the thread pool's size (anyio's default is 40)
assert POOL_SIZE + POOL_OVERFLOW > THREADS + 1  # every thread, and the worker, connects
log = logging.getLogger("clearance.web")


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else ("" if n is None else n)
    env.filters["when"] = fmt_time
    env.filters["sentence"] = _sentence
    env.filters["label"] = lambda s: (s or "").replace("_", " ")
    env.globals["version"] = __version__
    return templates


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web app for a data directory (settings from the environment by default)."""
    settings = (settings or from_environment()).prepare()
    engine = make_engine(settings.database)
    sessions = session_factory(engine)
    worker = Worker(settings, sessions)
    web = Web(
        settings=settings,
        engine=engine,
        sessions=sessions,
        tokens=Tokens(load_secret(settings.secret_file)),
        worker=worker,
        templates=_templates(),
    )

    with sessions() as db:
        broken = web.audit.check(db)  # the whole chain, once, at start
    if broken is not None:
        log.error("%s; run `clearance audit verify`", broken.line())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Plain handlers, and the work handlers hand to threads, share one pool; it is
        # made larger than the office's clients, and the database pool larger still.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, THREADS)
        if settings.run_worker:
            worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(
        title="clearance",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.web = web
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        security_headers(response, report=request.url.path.endswith("/report.html"))
        if request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "private, max-age=3600"
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
