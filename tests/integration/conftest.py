"""Run the portal as production does (gunicorn, DEBUG off) against the test database."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module", autouse=True)
def no_worker_outlives_the_module():
    """Every process of every Celery worker a module started (the worker, its beat) is gone
    by the module's end; any left is named, killed, and fails the module (issue 19)."""
    yield
    from .worker import left_behind

    left = left_behind()
    assert not left, "celery processes left behind:\n" + "\n".join(left)


def _redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{urllib.parse.quote(db['PASSWORD'] or '')}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("static")
    env = {**os.environ, **_base_env(), "STATIC_ROOT": str(root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return root


def _base_env() -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "0",
        "SECRET_KEY": "integration-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "EMAIL_URL": "consolemail://",
    }


class Machine:
    """One gunicorn server: a stand-in for one machine behind the load balancer."""

    def __init__(self, port: int, process: subprocess.Popen) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = process


class Browser:
    """A cookie-keeping HTTP client that can talk to any machine (as a balancer would)."""

    def __init__(self) -> None:
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def get(self, url: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, data: dict, referer: str) -> tuple[int, str]:
        token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(url, data=body, headers={"Referer": referer})
        return self._open(request)

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def start_machines(static_root: Path, count: int, **environ: str) -> list[Machine]:
    """Start ``count`` gunicorn servers with the production settings plus ``environ``."""
    env = {**os.environ, **_base_env(), "STATIC_ROOT": str(static_root), **environ}
    started = []
    for _ in range(count):
        port = _free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        started.append(Machine(port, process))
    for machine in started:
        _wait_until_up(machine)
    return started


def stop_machines(machines: list[Machine]) -> None:
    for machine in machines:
        machine.process.terminate()
    for machine in machines:
        machine.process.wait(timeout=20)


@pytest.fixture
def machines(transactional_db, static_root):
    """Two gunicorn servers on one PostgreSQL and one Redis; skipped elsewhere (CI has both)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL shared by several servers; .ci/run runs it on PostgreSQL")
    if not _redis_reachable():
        pytest.skip(f"needs Redis at {REDIS_URL}; .ci/run starts one")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    started = start_machines(
        static_root,
        2,
        DATABASE_URL=_database_url(),
        CACHE_URL=REDIS_URL,
        CONN_MAX_AGE="600",
    )
    try:
        yield started
    finally:
        stop_machines(started)


def _wait_until_up(machine: Machine) -> None:
    """Wait until the server answers /healthz at all (a broken one answers 503)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if machine.process.poll() is not None:
            raise RuntimeError(machine.process.stderr.read().decode())
        try:
            with urllib.request.urlopen(f"{machine.url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{machine.url} did not start")


@pytest.fixture
def browser() -> Browser:
    return Browser()


def csrf_ready(browser: Browser, url: str) -> str:
    """GET a form page so the browser holds a CSRF cookie; return the page."""
    status, html = browser.get(url)
    assert status == 200, html[:500]
    assert re.search(r'name="csrfmiddlewaretoken"', html)
    return html


def random_email() -> str:
    return f"scale-{secrets.token_hex(4)}@example.jp"
