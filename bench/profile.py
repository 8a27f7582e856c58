"""Profile single requests in-process: where a signed-in page spends its time.

    .venv/bin/python -m bench.pages --customers 100000 --reuse   # fills bench_pages once
    .venv/bin/python -m bench.profile                             # then profile against it
    .venv/bin/python -m bench.profile --requests 300 --top 25

Runs the whole middleware stack (production settings, DEBUG off, the bench database and
Redis as bench.pages uses them) through Django's test client with the bench member signed
in, under cProfile, and prints the functions with the most cumulative time per page.
Figures only, like every bench here.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys

from bench.pages import DATABASE, LOGIN_ID, SLUG, _environment, use_database

PAGES = [
    ("trivial signed-in", "/{slug}/account/email/sent/"),
    ("dashboard", "/{slug}/usage/"),
    ("history", "/{slug}/usage/{number}/history/"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=18)
    parser.add_argument("--database", default=DATABASE, help="the database bench.pages filled")
    args = parser.parse_args()
    use_database(args.database)
    os.environ.update(_environment())
    os.environ["SECURE_COOKIES"] = "0"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from accounts.models import Member

    member = Member.objects.get(utility__slug=SLUG, login_id=LOGIN_ID)
    number = member.contracts.values_list("number", flat=True).first()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    for name, template in PAGES:
        path = template.format(slug=SLUG, number=number)
        for _ in range(20):  # warm: connections, templates, caches
            assert client.get(path).status_code == 200, path
        queries_before = len(connection.queries_log)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            client.get(path)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
        total = sum(row[3] for row in stats.stats.values() if row[3]) and stats.total_tt
        print(
            f"\n== {name} {path}: {1000 * stats.total_tt / args.requests:.2f} ms CPU-profiled a request"
        )
        stats.print_stats(args.top)
        print("\n".join(out.getvalue().splitlines()[8 : 10 + args.top]))
        del queries_before, total
    sys.exit(0)


if __name__ == "__main__":
    main()
