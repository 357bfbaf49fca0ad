"""Starting the server: loopback by default, and never exposed before it is safe.

- Without any account, the server listens on a loopback address only: anybody who
  reached it could otherwise create the first admin. ``clearance users add NAME
  --role admin`` (or the setup page, from this machine) creates one.
- Beyond loopback it needs TLS (``--tls-cert``/``--tls-key``): session cookies are
  ``Secure``, which browsers accept over plain HTTP only from the machine itself,
  and passwords must not cross the network in clear.
Uvicorn's access log is off: request paths name people's subject ids. Proxy
headers are believed only from the proxies the settings name (``uvicorn_options``).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from clearance.web.security import is_loopback_host
from clearance.web.settings import Settings


class ServeError(Exception):
    """The server will not start; the message is one line saying what to do."""


@dataclass
class ServePlan:
    host: str
    port: int
    url: str
    accounts: bool
    tls: bool


def check_listen(
    host: str, port: int, *, accounts: bool, tls_cert: Path | None, tls_key: Path | None
) -> ServePlan:
    """Refuse an address that would expose the app before it is safe; say what to do."""
    if not 0 < port < 65536:
        raise ServeError(f"--port {port} is not a port number (1 to 65535)")
    if (tls_cert is None) != (tls_key is None):
        raise ServeError("give both --tls-cert and --tls-key, or neither")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise ServeError(f"{path}: no such file")
    loopback = is_loopback_host(host)
    if not loopback and not accounts:
        raise ServeError(
            f"refusing to listen on {host}: no account exists yet; create one first with "
            "`clearance users add NAME --role admin` (or serve on 127.0.0.1 and use the setup page)"
        )
    tls = tls_cert is not None
    if not loopback and not tls:
        raise ServeError(
            f"refusing to listen on {host} without TLS: give --tls-cert and --tls-key "
            "(or serve on 127.0.0.1 behind an HTTPS proxy)"
        )
    shown = f"[{host}]" if ":" in host else host
    return ServePlan(host, port, f"{'https' if tls else 'http'}://{shown}:{port}", accounts, tls)


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    announce=print,
) -> None:
    """Check the address, then run the app with uvicorn until interrupted."""
    import uvicorn

    from clearance.web.app import create_app
    from clearance.web.db import any_user

    app = create_app(settings)
    with app.state.web.sessions() as session:
        accounts = any_user(session)
    plan = check_listen(host, port, accounts=accounts, tls_cert=tls_cert, tls_key=tls_key)
    # Bound before the address is announced: a port in use is one line and exit 2.
    sock = listen_socket(host, port)
    announce(f"clearance web app on {plan.url} (data in {settings.data_dir}); Ctrl+C stops it")
    if not accounts:
        announce(f"first run: open {plan.url}/setup to create the administrator")
    config = uvicorn.Config(
        app, **uvicorn_options(settings, host, port, tls_cert=tls_cert, tls_key=tls_key)
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def listen_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound as uvicorn binds it; a port in use (another
    program, or another ``clearance serve``) is a ServeError saying so."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        what = exc.strerror or type(exc).__name__
        raise ServeError(
            f"cannot listen on {host} port {port}: {what}; another program (or another "
            "clearance serve) may be using it: stop it, or choose another --port"
        ) from None
    sock.set_inheritable(True)
    return sock


def uvicorn_options(
    settings: Settings,
    host: str,
    port: int,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> dict:
    """How uvicorn serves the app. X-Forwarded-For and X-Forwarded-Proto are believed
    only from the proxies ``Settings.forwarded_allow_ips`` names; by default from
    nobody (uvicorn itself would believe any client on 127.0.0.1, so a program on the
    server's machine could pose as any address, to lock others out or escape its own
    lock)."""
    proxies = settings.forwarded_allow_ips.strip()
    return {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or "",
        "ssl_certfile": str(tls_cert) if tls_cert else None,
        "ssl_keyfile": str(tls_key) if tls_key else None,
    }
