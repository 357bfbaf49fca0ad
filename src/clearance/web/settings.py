"""Where the web app keeps its data, and its limits, declared as data.

Everything the app stores lives in one data directory (``--data-dir``, else
``CLEARANCE_HOME``, else ``~/.clearance``): the database (unless a database URL is
given), the signing secret, uploaded extracts and run folders. Settings come from
the environment so that a service manager can set them without a config file.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOME_ENV = "CLEARANCE_HOME"
DATABASE_ENV = "CLEARANCE_DATABASE_URL"
MAX_UPLOAD_ENV = "CLEARANCE_MAX_UPLOAD_MB"
PROXY_ENV = "CLEARANCE_FORWARDED_ALLOW_IPS"
TIMEZONE_ENV = "CLEARANCE_TIMEZONE"
LOCALTIME = Path("/etc/localtime")

DEFAULT_HOME = Path("~/.clearance")
# A 10M-row county extract is about 4.3 GB; a statewide one is several times that.
DEFAULT_MAX_UPLOAD_MB = 20_480
SESSION_HOURS = 8  # a working day; sign in again after that


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the setting."""


def utc_clock() -> dt.datetime:
    """Now, in UTC, without a zone: how the database stores every time."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def time_zone(name: str = "") -> dt.tzinfo:
    """The zone times are shown in: an IANA name (``America/Los_Angeles``), else the
    machine's own zone (``TZ``, else /etc/localtime), else UTC. The database keeps UTC."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"{TIMEZONE_ENV}={name!r} is not a time zone; give an IANA name such as "
                "America/Los_Angeles, or UTC"
            ) from None
    local = os.environ.get("TZ", "").strip().lstrip(":")
    if local:
        try:
            return ZoneInfo(local)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with LOCALTIME.open("rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return dt.UTC


def local_time(value: dt.datetime, zone: dt.tzinfo, pattern: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A stored UTC time (without a zone, as the database keeps it) in ``zone``."""
    return value.replace(tzinfo=dt.UTC).astimezone(zone).strftime(pattern)


@dataclass(frozen=True)
class SignInLimits:
    """How many failed sign-ins are tolerated before sign-in is refused (docs/web.md).

    Five failures for one account name within a quarter of an hour lock that name
    for a quarter of an hour (a person mistyping does not get there; a guesser gets
    five tries in 15 minutes, not thousands). Twenty failures from one client address
    lock that address, whatever names it tries (a guesser spreading tries over many
    names). An admin can lift either lock at once.
    """

    account_failures: int = 5
    address_failures: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    # After an admin unlocks a name, failures lock it only from the failing address for
    # this long, so nobody can keep an admin out by failing five times after each unlock.
    unlock_grace: dt.timedelta = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Settings:
    """The app's settings (documented in docs/web.md, "Settings")."""

    data_dir: Path
    database_url: str = ""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    session_hours: int = SESSION_HOURS
    # The background worker that carries out runs (off only in tests of pages).
    run_worker: bool = True
    sign_in: SignInLimits = SignInLimits()
    # Threads for blocking work (database, argon2, files): the event loop never waits on
    # them. The connection pool holds as many connections, so no thread waits for one.
    threads: int = 64
    # argon2 verifications at once (64 MB and a third of a second each); more sign-ins
    # wait their turn, up to ``hash_wait_seconds``, then are asked to try again (503).
    hash_concurrency: int = 4
    hash_wait_seconds: float = 20.0
    # The reverse proxies trusted to give the browser's address in X-Forwarded-For (and
    # the scheme in X-Forwarded-Proto): addresses or networks, comma-separated. Empty:
    # the headers are ignored and the address is the connection's.
    forwarded_allow_ips: str = ""
    # The IANA time zone times are shown in; empty: the machine's own (``time_zone``).
    timezone: str = ""
    # What time it is: sign-in throttling reads it (tests move it instead of sleeping).
    clock: Callable[[], dt.datetime] = field(default=utc_clock, compare=False)

    @property
    def database(self) -> str:
        """The SQLAlchemy URL: the setting, else SQLite in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'clearance.db'}"

    @cached_property
    def zone(self) -> dt.tzinfo:
        """The zone times are shown in (SettingsError for an unknown name)."""
        return time_zone(self.timezone)

    def today(self) -> dt.date:
        """Today's date in the app's zone (the default of the new-run form's as-of date)."""
        return self.clock().replace(tzinfo=dt.UTC).astimezone(self.zone).date()

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def secret_file(self) -> Path:
        return self.data_dir / "secret.key"

    def prepare(self) -> Settings:
        """Create the data directory (owner-only: it holds criminal histories)."""
        for folder in (self.data_dir, self.uploads_dir, self.runs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        return self


def data_dir_from(value: str | Path | None = None) -> Path:
    """``--data-dir``, else CLEARANCE_HOME, else ~/.clearance."""
    chosen = value or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def from_environment(data_dir: str | Path | None = None) -> Settings:
    """Settings from the command line's ``--data-dir`` and the environment."""
    raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    max_mb = DEFAULT_MAX_UPLOAD_MB
    if raw:
        try:
            max_mb = int(raw)
        except ValueError:
            raise SettingsError(f"{MAX_UPLOAD_ENV}={raw!r} is not a whole number of MB") from None
        if max_mb < 1:
            raise SettingsError(f"{MAX_UPLOAD_ENV} must be at least 1 (MB)")
    zone = os.environ.get(TIMEZONE_ENV, "").strip()
    time_zone(zone)  # an unknown zone is refused now, with the setting's name
    return Settings(
        data_dir=data_dir_from(data_dir),
        database_url=os.environ.get(DATABASE_ENV, "").strip(),
        max_upload_bytes=max_mb * 1024 * 1024,
        forwarded_allow_ips=os.environ.get(PROXY_ENV, "").strip(),
        timezone=zone,
    )
