"""The web app under an office's load: readers, deciding attorneys, analysts uploading.

    python benchmarks/load.py                       # 50 clients for 60 s, print the figures
    python benchmarks/load.py --record              # also append them to benchmarks/RESULTS.md
    python benchmarks/load.py --subjects 5000 --duration 20    # a quick look

It starts ``clearance serve`` on 127.0.0.1 with a fresh data directory, makes the
accounts (``clearance users add``), uploads a synthetic extract (``clearance synth``,
about 25 rows a person) as an analyst and runs it; then, for a bounded time, runs
the clients, each a thread with its own session:

- **readers** (50 minus the others): a results page (any page), a results page
  filtered on a determination, a person page, the run's page, in turn;
- **attorneys** (10): a page of the convictions still pending review, one of them
  on its person page, then a decision posted with the page's form (its idempotency
  token and the decision it was shown); one decision in five is posted twice, as a
  browser retrying would; a 409 (another attorney decided the case first) is
  counted as a conflict, not an error;
- **analysts** (3): an upload of a small synthetic extract (about 2 MB), again and
  again.

Every client signs in first, at a random moment in the first ``--ramp`` seconds (an
office does not sign in at one instant; ``--ramp 0`` tries that too). Requests time
out after 60 s. An error is a request that failed, timed out or answered anything
but what that request answers when it works (a 409 of a decision excepted).

It reports requests per second, the 50th, 95th and 99th percentile and the longest
latency and the errors, by kind of request, and checks in the database, after the
server has stopped, that every decision the server accepted is recorded exactly
once (by its form's token), that no other decision was recorded, and that
``clearance audit verify`` finds the chain whole. The target (issue 15): no error,
no request over 5 s, every decision recorded once. Nothing here is asserted by the
test suite: the figures are measured and recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
PASSWORD = "load test password 15"
COUNTY = "SACRAMENTO"
AS_OF = "2020-07-01"
TIMEOUT = 60.0
TARGET_SECONDS = 5.0


def clearance(*args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "clearance", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"clearance {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


ADD_USERS = """
import sys
from clearance.web.accounts import create_user
from clearance.web.db import make_engine, session_factory
from clearance.web.settings import Settings
settings = Settings(data_dir=__import__("pathlib").Path(sys.argv[1])).prepare()
with session_factory(make_engine(settings.database))() as db:
    for line in sys.stdin:
        name, role, password = line.rstrip("\\n").split("\\t")
        create_user(db, name, role, password)
    db.commit()
"""


def add_users(home: Path, names: list[tuple[str, str]]) -> None:
    """The accounts, made in one process (as `clearance users add` makes each)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    lines = "".join(f"{name}\t{role}\t{PASSWORD}\n" for name, role in names)
    done = subprocess.run(
        [sys.executable, "-c", ADD_USERS, str(home)],
        input=lines, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"cannot add the accounts: {done.stderr.strip()[-300:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One signed-in person: an httpx client that keeps the app's cookies itself (they
    are Secure, which httpx does not send over http://127.0.0.1 as browsers do)."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=TIMEOUT, follow_redirects=False)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers=headers, **kwargs)
        for line in response.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def close(self) -> None:
        self.http.close()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


def panel_form(page: str, cnt: str) -> dict[str, str] | None:
    start = page.find(f'id="review-{cnt}"')
    if start < 0:
        return None
    panel = page[start:]
    end = panel.find("</form>")
    if end < 0 or "/reviews/decide" not in panel[:end]:
        return None
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', panel[:end]))


class Phase:
    """Sign-ins first (spread over the ramp), then, once everyone is in, the load for a
    fixed time: the two are measured apart."""

    def __init__(self, clients: int, duration: float) -> None:
        self.duration = duration
        self.began = 0.0
        self.until = 0.0
        self.barrier = threading.Barrier(clients, action=self._start, timeout=900)

    def _start(self) -> None:
        self.began = time.monotonic()
        self.until = self.began + self.duration

    def signed_in(self, ok: bool) -> bool:
        """Wait for every client to have signed in (or failed to)."""
        self.barrier.wait()
        return ok


@dataclass
class Figures:
    """What the clients measured, shared by every thread (under a lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    accepted: set[str] = field(default_factory=set)  # request keys answered 303
    conflicts: int = 0
    retries: int = 0

    def note(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if error:
                self.errors[kind].append(error)


def timed(figures: Figures, kind: str, call, expect: tuple[int, ...] = (200,)):
    """Make the request, note its latency and any error; the response, or None."""
    start = time.perf_counter()
    try:
        response = call()
    except httpx.HTTPError as exc:
        figures.note(kind, time.perf_counter() - start, type(exc).__name__)
        return None
    elapsed = time.perf_counter() - start
    error = None if response.status_code in expect else f"HTTP {response.status_code}"
    figures.note(kind, elapsed, error)
    return response


def sign_in(browser: Browser, name: str, figures: Figures) -> bool:
    page = timed(figures, "sign-in: the page", lambda: browser.request("GET", "/login"))
    if page is None or page.status_code != 200:
        return False
    data = {"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    done = timed(
        figures,
        "sign-in: the password",
        lambda: browser.request("POST", "/login", data=data),
        (303,),
    )
    if done is None or done.status_code != 303:
        return False
    runs = timed(figures, "sign-in: the first page", lambda: browser.request("GET", "/runs"))
    if runs is None or runs.status_code != 200:
        return False
    browser.csrf = csrf_of(runs.text)
    return True


def arrive(base: str, name: str, phase: Phase, ramp: float, figures: Figures):
    """A client's start: its own random sequence, a moment in the ramp, then signing in.

    Returns (rng, browser), or None when the sign-in failed (the client then stops)."""
    rng = random.Random(name)
    browser = Browser(base)
    time.sleep(rng.uniform(0, ramp))
    if not phase.signed_in(sign_in(browser, name, figures)):
        return None
    return rng, browser


def reader(base: str, name: str, run_id: int, phase: Phase, ramp: float, figures: Figures):
    if (started := arrive(base, name, phase, ramp, figures)) is None:
        return
    rng, browser = started
    until = phase.until
    people: list[str] = []
    pages = 1
    step = 0
    while time.monotonic() < until:
        step += 1
        if step % 4 == 1:
            page = rng.randint(1, pages)
            response = timed(
                figures,
                "results page",
                lambda page=page: browser.request("GET", f"/runs/{run_id}/results?page={page}"),
            )
            if response is not None and response.status_code == 200:
                found = re.search(r"page \d+ of ([\d,]+)", response.text)
                pages = int(found.group(1).replace(",", "")) if found else pages
                people = re.findall(r"/people/(\d+)#", response.text) or people
        elif step % 4 == 2:
            choice = rng.choice(("dismiss", "reduce", "not_eligible", "review"))
            timed(
                figures,
                "results filtered",
                lambda choice=choice: browser.request(
                    "GET", f"/runs/{run_id}/results?determination={choice}&page=2"
                ),
            )
        elif step % 4 == 3 and people:
            subject = rng.choice(people)
            timed(
                figures,
                "person page",
                lambda subject=subject: browser.request("GET", f"/runs/{run_id}/people/{subject}"),
            )
        else:
            timed(figures, "run page", lambda: browser.request("GET", f"/runs/{run_id}"))
    browser.close()


def attorney(base: str, name: str, run_id: int, phase: Phase, ramp: float, figures: Figures):
    if (started := arrive(base, name, phase, ramp, figures)) is None:
        return
    rng, browser = started
    until = phase.until
    number = 0
    while time.monotonic() < until:
        page = rng.randint(1, 5)
        listing = timed(
            figures,
            "pending reviews",
            lambda page=page: browser.request(
                "GET", f"/runs/{run_id}/results?review=pending&page={page}"
            ),
        )
        if listing is None or listing.status_code != 200:
            continue
        cases = re.findall(r"/people/(\d+)#conviction-(\d+)", listing.text)
        if not cases:
            break  # nothing left to decide
        subject, cnt = rng.choice(cases)
        person = timed(
            figures,
            "person page",
            lambda subject=subject: browser.request("GET", f"/runs/{run_id}/people/{subject}"),
        )
        if person is None or person.status_code != 200:
            continue
        form = panel_form(person.text, cnt)
        if form is None:
            continue
        number += 1
        decision = rng.choice(("dismiss", "reduce", "not_eligible"))
        data = {**form, "decision": decision, "note": f"load test: {name} #{number}"}
        times = 2 if rng.random() < 0.2 else 1
        for attempt in range(times):
            response = timed(
                figures,
                "decision",
                lambda data=data: browser.request(
                    "POST", f"/runs/{run_id}/reviews/decide", data=data
                ),
                (303, 409),
            )
            if response is None:
                continue
            with figures.lock:
                if response.status_code == 303:
                    figures.accepted.add(form["request_key"])
                    figures.retries += attempt
                elif response.status_code == 409:
                    figures.conflicts += 1
    browser.close()


def analyst(
    base: str, name: str, extract: bytes, phase: Phase, ramp: float, figures: Figures
) -> None:
    if (started := arrive(base, name, phase, ramp, figures)) is None:
        return
    rng, browser = started
    until = phase.until
    while time.monotonic() < until:
        files = [("files", (f"{name}.dat", extract, "application/octet-stream"))]
        timed(
            figures,
            "upload",
            lambda files=files: browser.request(
                "POST", "/uploads", data={"csrf_token": browser.csrf}, files=files
            ),
            (303,),
        )
        time.sleep(rng.uniform(0.5, 2.0))  # an analyst looks at the form between uploads
    browser.close()


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/login", timeout=2)
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start") from None
            time.sleep(0.3)


def prepare_run(base: str, extract: Path, database: Path, figures: Figures) -> int:
    """Upload the extract as an analyst, run it, wait for it: the run the load reads."""
    browser = Browser(base)
    if not sign_in(browser, "analyst1", figures):
        raise SystemExit("cannot sign in to prepare the run")
    with extract.open("rb") as handle:
        response = browser.request(
            "POST",
            "/uploads",
            data={"csrf_token": browser.csrf},
            files=[("files", (extract.name, handle, "application/octet-stream"))],
        )
    if response.status_code != 303:
        raise SystemExit(f"the extract was refused: {response.text[:200]}")
    upload_id = response.headers["location"].rsplit("=", 1)[1]
    data = {
        "csrf_token": browser.csrf,
        "upload": upload_id,
        "county": COUNTY,
        "policy_mode": "preset",
        "preset": "statute",
        "as_of": AS_OF,
    }
    response = browser.request("POST", "/runs", data=data)
    if response.status_code != 303:
        raise SystemExit(f"the run was refused: {response.text[:200]}")
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        state = connection.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
        connection.close()
        if state[0] == "done":
            break
        if state[0] not in ("queued", "running"):
            raise SystemExit(f"the run ended {state[0]}")
        time.sleep(1)
    browser.close()
    return run_id


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def check_decisions(database: Path, accepted: set[str]) -> tuple[int, int, int, int]:
    """(decisions recorded, accepted decisions recorded exactly once, accepted missing,
    recorded more than once or never accepted)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    rows = connection.execute(
        "SELECT request_key, count(*) FROM audit_log WHERE action = 'review_decided' "
        "GROUP BY request_key"
    ).fetchall()
    total = connection.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'review_decided'"
    ).fetchone()[0]
    connection.close()
    counts = {key: n for key, n in rows}
    once = sum(1 for key in accepted if counts.get(key) == 1)
    missing = sum(1 for key in accepted if key not in counts)
    extra = sum(n for key, n in counts.items() if key not in accepted) + sum(
        n - 1 for key, n in counts.items() if key in accepted and n > 1
    )
    return total, once, missing, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=20_000, help="people in the run")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--attorneys", type=int, default=10)
    parser.add_argument("--analysts", type=int, default=3)
    parser.add_argument("--ramp", type=float, default=10.0, help="sign-ins spread over (s)")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    readers = args.clients - args.attorneys - args.analysts
    args.load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="clearance-load-") as tmp:
        home, folder = Path(tmp) / "home", Path(tmp)
        extract = folder / "county.dat"
        clearance("synth", "--subjects", str(args.subjects), "--out", str(extract))
        small = folder / "small.dat"
        clearance("synth", "--subjects", "200", "--seed", "7", "--out", str(small))
        names = (
            [(f"reader{i}", "analyst") for i in range(1, readers + 1)]
            + [(f"attorney{i}", "attorney") for i in range(1, args.attorneys + 1)]
            + [(f"analyst{i}", "analyst") for i in range(1, args.analysts + 1)]
        )
        add_users(home, names)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        server = subprocess.Popen(
            [sys.executable, "-m", "clearance", "serve", "--port", str(port),
             "--data-dir", str(home)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            wait_until_up(base, server)
            setup = Figures()
            started = time.monotonic()
            run_id = prepare_run(base, extract, home / "clearance.db", setup)
            print(f"run {run_id} of {args.subjects:,} people ready in "
                  f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
            figures = Figures()
            phase = Phase(len(names), args.duration)
            ramp_began = time.monotonic()
            threads = []
            payload = small.read_bytes()
            for name, _ in names:
                if name.startswith("reader"):
                    target, extra = reader, (run_id,)
                elif name.startswith("attorney"):
                    target, extra = attorney, (run_id,)
                else:
                    target, extra = analyst, (payload,)
                threads.append(
                    threading.Thread(
                        target=target, args=(base, name, *extra, phase, args.ramp, figures)
                    )
                )
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - phase.began
            signing = phase.began - ramp_began
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        verify = subprocess.run(
            [sys.executable, "-m", "clearance", "audit", "verify", "--data-dir", str(home)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        rows = sum(1 for _ in extract.open("rb"))
        decisions = check_decisions(home / "clearance.db", figures.accepted)
    verified = verify.stdout.strip() or verify.stderr.strip()
    report(args, figures, (signing, elapsed), rows, decisions, verified)


def table(figures: Figures, kinds: list[str], elapsed: float, label: str) -> list[str]:
    """Rows of the figures table for ``kinds``, measured over ``elapsed`` seconds."""
    lines = []
    for kind in kinds:
        values = figures.latencies[kind]
        errs = figures.errors.get(kind, [])
        described = ", ".join(f"{n} x {e}" for e, n in sorted(_count(errs).items())) or "0"
        lines.append(
            f"| {kind} | {len(values):,} | {len(values) / elapsed:.1f} | "
            f"{statistics.median(values):.2f} s | {percentile(values, 0.95):.2f} s | "
            f"{percentile(values, 0.99):.2f} s | {max(values):.2f} s | "
            f"{sum(1 for x in values if x > TARGET_SECONDS)} | {described} |"
        )
    every = [x for k in kinds for x in figures.latencies[k]]
    if not every:
        return lines
    errors = sum(len(figures.errors.get(k, [])) for k in kinds)
    slow = sum(1 for x in every if x > TARGET_SECONDS)
    lines.append(
        f"| **{label}** | {len(every):,} | {len(every) / elapsed:.1f} | "
        f"{statistics.median(every):.2f} s | {percentile(every, 0.95):.2f} s | "
        f"{percentile(every, 0.99):.2f} s | {max(every):.2f} s | {slow} | {errors} |"
    )
    return lines


def report(args, figures: Figures, elapsed, rows: int, decisions, verified: str) -> None:
    signing, elapsed = elapsed
    signs = sorted(k for k in figures.latencies if k.startswith("sign-in"))
    load = sorted(k for k in figures.latencies if not k.startswith("sign-in"))
    recorded, once, missing, extra = decisions
    lines = [
        "| request | requests | per s | p50 | p95 | p99 | max | over 5 s | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *table(figures, load, elapsed, f"all, {elapsed:.0f} s of load"),
        *table(figures, signs, signing, f"sign-ins, {signing:.0f} s"),
    ]
    parts = {"load": load, "sign-in": signs}
    slow = {
        part: sum(1 for k in kinds for x in figures.latencies[k] if x > TARGET_SECONDS)
        for part, kinds in parts.items()
    }
    errors = {
        part: sum(len(figures.errors.get(k, [])) for k in kinds) for part, kinds in parts.items()
    }
    once_each = missing == 0 and extra == 0 and once == len(figures.accepted)
    target = not errors["load"] and not slow["load"] and once_each
    signs_ok = not errors["sign-in"] and not slow["sign-in"]
    summary = (
        f"{args.clients} clients ({args.clients - args.attorneys - args.analysts} readers, "
        f"{args.attorneys} attorneys deciding, {args.analysts} analysts uploading) sign in, "
        f"spread over {args.ramp:.0f} s ({signing:.0f} s until the last was in), then "
        f"{elapsed:.0f} s of load, on a run of {args.subjects:,} people ({rows:,} rows). "
        f"Decisions: {len(figures.accepted):,} accepted ({figures.retries} of them posted "
        f"twice), {figures.conflicts} refused as conflicts (409: another attorney had "
        f"decided the case first); in the database {recorded:,} decisions, "
        f"{once:,} of the accepted recorded exactly once, {missing} missing, {extra} extra. "
        f"`clearance audit verify`: {verified.removeprefix('clearance: ')}. "
        f"Target under load (no error, nothing over 5 s, every decision once): "
        f"{'met' if target else 'missed'} ({errors['load']} errors, {slow['load']} over 5 s); "
        f"sign-ins: {'met' if signs_ok else 'missed'} ({errors['sign-in']} errors, "
        f"{slow['sign-in']} over 5 s)."
    )
    print("\n".join(lines))
    print(summary)
    if args.record:
        record(lines, summary, args.load_before)


def _count(items: list[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return counts


def record(lines: list[str], summary: str, before: float) -> None:
    sys.path.insert(0, str(HERE))
    from bench import machine  # the same description of the machine as the other figures

    after = os.getloadavg()[0]
    text = RESULTS.read_text()
    section = (
        f"\n## The web app under load (issue 15)\n\n"
        f"Measured {dt.date.today().isoformat()} with `python benchmarks/load.py --record` "
        f"on: {machine()}. One-minute load average: {before:.1f} before, {after:.1f} "
        "after.\n\n" + "\n".join(lines) + f"\n\n{summary}\n"
    )
    RESULTS.write_text(text.rstrip("\n") + "\n" + section)


if __name__ == "__main__":
    main()
