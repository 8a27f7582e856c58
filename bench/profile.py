"""Profile single requests in-process: where a signed-in page spends its time.

    .venv/bin/python -m bench.pages --customers 100000 --reuse   # fills bench_pages once
    .venv/bin/python -m bench.profile                             # then profile against it
    .venv/bin/python -m bench.profile --requests 300 --top 25

Runs the whole middleware stack (production settings, DEBUG off, the bench database and
Redis as bench.pages uses them) through Django's test client with the bench member signed
in, and prints for /healthz and each page:

- CPU ms a request, not profiled (this thread's CPU time: waiting on PostgreSQL or Redis is
  not counted, so a busy machine changes it little), and each page's against /healthz's: the
  share of /healthz's requests/s a CPU-bound server could reach;
- each middleware's own CPU µs a request (its hooks, not what it wraps; the lazy member is
  loaded by the first middleware that looks at ``request.user``), and the view's;
- under cProfile, the functions with the most cumulative time.

The test client itself costs some CPU in each figure (the same for every page).
Figures only, like every bench here.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import os
import pstats
import sys
import time
from collections import defaultdict

from bench.pages import DATABASE, LOGIN_ID, SLUG, _environment, use_database

PAGES = [
    ("/healthz", "/healthz"),
    ("trivial signed-in", "/{slug}/account/email/sent/"),
    ("dashboard", "/{slug}/usage/"),
    ("history", "/{slug}/usage/{number}/history/"),
]
VIEW = "(view and process_view hooks of none above)"


class MiddlewareClock:
    """CPU time each middleware spends in its own code, the layers it wraps subtracted."""

    def __init__(self) -> None:
        self.own: dict[str, int] = defaultdict(int)
        self._inner: list[int] = []

    def layer(self, name: str, call):
        @functools.wraps(call)
        def timed(request):
            self._inner.append(0)
            started = time.thread_time_ns()
            try:
                return call(request)
            finally:
                spent = time.thread_time_ns() - started
                inner = self._inner.pop()
                self.own[name] += spent - inner
                if self._inner:
                    self._inner[-1] += spent

        return timed

    def hook(self, name: str, method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            started = time.thread_time_ns()
            try:
                return method(*args, **kwargs)
            finally:
                spent = time.thread_time_ns() - started
                self.own[name] += spent
                self.own[VIEW] -= spent  # it ran inside the innermost layer, the view's

        return timed

    def install(self, handler) -> None:
        """Wrap each layer of an already loaded middleware chain, and its view hooks."""
        from django.core.handlers.base import BaseHandler

        instances = []
        owner = _owner(handler._middleware_chain)
        while not isinstance(owner, BaseHandler):  # the innermost layer is the handler's view
            instances.append(owner)
            owner = _owner(owner.get_response)
        names = [type(instance).__name__ for instance in instances] + [VIEW]
        handler._middleware_chain = self.layer(names[0], handler._middleware_chain)
        for instance, inner in zip(instances, names[1:], strict=True):
            instance.get_response = self.layer(inner, instance.get_response)
        handler._view_middleware = [
            self.hook(type(method.__self__).__name__, method) for method in handler._view_middleware
        ]


def _owner(layer):
    """The middleware instance (or handler) behind one layer of Django's chain."""
    target = getattr(layer, "__wrapped__", layer)
    return getattr(target, "__self__", target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=18)
    parser.add_argument("--database", default=DATABASE, help="the database bench.pages filled")
    args = parser.parse_args()
    use_database(args.database)
    os.environ.update(_environment())
    os.environ["SECURE_COOKIES"] = "0"
    import django

    django.setup()
    from django.test import Client

    from accounts.models import Member

    member = Member.objects.get(utility__slug=SLUG, login_id=LOGIN_ID)
    number = member.contracts.values_list("number", flat=True).first()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    client.get("/healthz")
    clock = MiddlewareClock()
    clock.install(client.handler)
    print(f"load average {os.getloadavg()[0]:.2f}, {args.requests} requests a page")
    cpu, shares = {}, {}
    for name, template in PAGES:
        path = template.format(slug=SLUG, number=number)
        for _ in range(20):  # warm: connections, templates, caches
            assert client.get(path).status_code == 200, path
        clock.own.clear()
        started = time.thread_time()
        for _ in range(args.requests):
            client.get(path)
        cpu[name] = 1000 * (time.thread_time() - started) / args.requests
        shares[name] = {k: v / args.requests / 1000 for k, v in clock.own.items()}
    print("\nCPU ms a request (not profiled), and /healthz's as a share of it")
    for name, ms in cpu.items():
        print(f"  {name:20} {ms:6.2f} ms   {100 * cpu['/healthz'] / ms:4.0f} %")
    print("\neach middleware's own CPU µs a request")
    print(f"  {'':42}" + "".join(f"{name[:14]:>16}" for name in cpu))
    rows = sorted(
        {k for s in shares.values() for k in s}, key=lambda k: -shares[PAGES[1][0]].get(k, 0)
    )
    for row in rows:
        print(f"  {row[:42]:42}" + "".join(f"{shares[name].get(row, 0):16.0f}" for name in cpu))

    for name, template in PAGES[1:]:
        path = template.format(slug=SLUG, number=number)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            client.get(path)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
        print(
            f"\n== {name} {path}: {1000 * stats.total_tt / args.requests:.2f} ms CPU-profiled a request"
        )
        stats.print_stats(args.top)
        print("\n".join(out.getvalue().splitlines()[8 : 10 + args.top]))
    sys.exit(0)


if __name__ == "__main__":
    main()
