"""Does the time a form takes tell whether an address is registered? Prints figures.

    .venv/bin/python bench/timing.py               # 20 tries of each form, Nayoro
    .venv/bin/python bench/timing.py --tries 5 --smtp-delay 0.1

For each form that mails something (or not) depending on the account, it times the POST for
an existing account and for an unknown one, 20 tries each, and prints both medians and their
difference (the target is under 10 ms). Two setups, measured in the same run:

- **queued**: as production runs it, with a broker (Redis at 127.0.0.1:6379/9, emptied
  after): the request writes the mail to the outbox and hands it to the queue, never waiting
  for the mail server.
- **in-process** (the baseline): no broker, so the task runs inside the request and the
  request waits for the SMTP server (as every request did before the outbox).

The SMTP server is a local aiosmtpd that takes ``--smtp-delay`` seconds (0.3) to answer each
mail, as a real relay over the internet does. The portal runs in this process on its own
SQLite database (a temporary file) with the demo data, through Django's test client; rate
limits are reset between tries (they are not what is measured). Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROKER = "redis://127.0.0.1:6379/9"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlowSink:
    """Answers each mail's DATA after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--smtp-delay", type=float, default=0.3)
    parser.add_argument("--broker", default=BROKER)
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    smtp_port = _free_port()
    sink = Controller(SlowSink(args.smtp_delay), hostname="127.0.0.1", port=smtp_port)
    sink.start()
    workdir = tempfile.mkdtemp(prefix="bench-timing-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="1",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        CELERY_BROKER_URL=args.broker,
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    logging.disable(logging.WARNING)  # the portal's audit lines; only the figures are printed
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("loaddata", "utilities", verbosity=0)
    call_command("load_demo", verbosity=0)

    from portal.celery import app

    rows = []
    try:
        for setup, eager in (("queued", False), ("in-process", True)):
            app.conf.task_always_eager = eager
            for name, measure in FORMS.items():
                existing, unknown = [], []
                for n in range(args.tries):  # alternating, so a busy moment hits both alike
                    existing.append(measure(True, n))
                    unknown.append(measure(False, n))
                rows.append((setup, name, _medians(existing), _medians(unknown)))
    finally:
        sink.stop()
        _empty_queue(args.broker)
    print(f"\nmedians of {args.tries} tries, Nayoro, SMTP answering in {args.smtp_delay:.2f} s")
    print("wall: time the resident waits; cpu: this process's work in it (no waiting)")
    print(
        f"{'setup':<11} {'form':<21} {'existing':>9} {'unknown':>9} {'difference':>11}"
        f"   {'cpu exist.':>10} {'cpu unkn.':>9} {'cpu diff':>9}"
    )
    for setup, name, (existing, cpu_e), (unknown, cpu_u) in rows:
        difference = abs(existing - unknown)
        mark = "   " if setup != "queued" else (" ok" if difference < 10 else " >10")
        print(
            f"{setup:<11} {name:<21} {existing:>7.1f}ms {unknown:>7.1f}ms "
            f"{difference:>9.1f}ms{mark} {cpu_e:>8.1f}ms {cpu_u:>7.1f}ms {abs(cpu_e - cpu_u):>7.1f}ms"
        )


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def _empty_queue(broker: str) -> None:
    import redis

    try:
        redis.Redis.from_url(broker, socket_connect_timeout=1).flushdb()
    except redis.RedisError:
        pass


# The forms -------------------------------------------------------------------------------------

EXISTING = "taro@example.jp"  # the demo's Nayoro resident
PASSWORD = "Nayoro#2026"  # theirs: the email change asks for it
OTHER_MEMBER = "hanako@example.jp"  # another Nayoro resident (a taken address)
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def _client(n: int):
    from django.core.cache import cache
    from django.test import Client

    cache.clear()  # rate limits and cooldowns: not what is measured
    return Client(REMOTE_ADDR=f"10.9.{n // 250}.{n % 250 + 1}")


def _timed(post: Callable[[], object]) -> tuple[float, float]:
    """Wall time and this thread's CPU time of one request, in ms."""
    start, cpu = time.perf_counter(), time.thread_time()
    response = post()
    elapsed = (time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000
    assert response.status_code in (200, 302), response.status_code
    return elapsed


def _unknown(n: int) -> str:
    return f"nobody{n}-{time.monotonic_ns()}@example.jp"


def _last_code(recipient: str) -> str:
    from portal.models import OutboxMail

    mail = OutboxMail.objects.filter(recipient=recipient).order_by("-pk").first()
    # Queued: the mail waits with its body. In-process it was sent; its code is then
    # unknown here, so a wrong one is typed (refused like the unknown account's).
    return CODE_RE.search(mail.body).group(1) if mail and mail.body else "000000"


def signup_step_1(existing: bool, n: int) -> tuple[float, float]:
    client = _client(n)
    email = EXISTING if existing else _unknown(n)
    return _timed(lambda: client.post("/nayoro/signup/", {"email": email}))


def reset_request(existing: bool, n: int) -> tuple[float, float]:
    client = _client(n)
    email = EXISTING if existing else _unknown(n)
    return _timed(lambda: client.post("/nayoro/recovery/", {"email": email}))


def reset_code(existing: bool, n: int) -> tuple[float, float]:
    client = _client(n)
    email = EXISTING if existing else _unknown(n)
    client.post("/nayoro/recovery/", {"email": email})
    code = _last_code(email) if existing else "123456"
    return _timed(lambda: client.post("/nayoro/recovery/code/", {"code": code}))


def _member_client(n: int):
    from accounts.models import Member

    member = Member.objects.get(utility__slug="nayoro", email__iexact=EXISTING)
    client = _client(n)
    client.force_login(member)
    return client, member


def email_change_request(existing: bool, n: int) -> tuple[float, float]:
    client, _member = _member_client(n)
    new = OTHER_MEMBER if existing else _unknown(n)
    data = {"new_email": new, "new_email_confirm": new, "current_password": PASSWORD}
    return _timed(lambda: client.post("/nayoro/account/email/", data))


def email_change_code(existing: bool, n: int) -> tuple[float, float]:
    """Existing: the new address is another member's, so no code passes (and nothing changes).
    Unknown: the right code changes the address and mails the old one."""
    client, member = _member_client(n)
    new = OTHER_MEMBER if existing else _unknown(n)
    data = {"new_email": new, "new_email_confirm": new, "current_password": PASSWORD}
    client.post("/nayoro/account/email/", data)
    code = "123456" if existing else _last_code(new)
    elapsed = _timed(lambda: client.post("/nayoro/account/email/code/", {"code": code}))
    type(member).objects.filter(pk=member.pk).update(email=EXISTING)  # back for the next try
    return elapsed


FORMS: dict[str, Callable[[bool, int], tuple[float, float]]] = {
    "signup step 1": signup_step_1,
    "reset request": reset_request,
    "reset code": reset_code,
    "email-change request": email_change_request,
    "email-change code": email_change_code,
}


if __name__ == "__main__":
    main()
