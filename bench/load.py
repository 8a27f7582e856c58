"""Load test: how many logins 2 workers sustain, and what a login burst does to page latency.

    .venv/bin/python -m bench.load                      # 100,000 customers × 24 periods, 20 s runs
    .venv/bin/python -m bench.load --reuse --duration 10
    .venv/bin/python -m bench.load --customers 5000 --duration 5     # a quick look
    .venv/bin/python -m bench.load --reuse --with-import             # also pages during imports

It fills its own PostgreSQL database (``bench_load``, or ``--database``) the way bench/pages.py
does and serves the portal with production settings on gunicorn, 2 workers with threads as
gunicorn.conf.py runs them (gthread), Redis for sessions and the cache when it answers. Then,
each for ``--duration`` seconds, with wrk:

1. pages alone: 16 connections cycling dashboard, history and CSV of the member's contract;
2. logins alone: ``--login-connections`` connections posting the login form (a real POST with
   its CSRF token; every one hashes the password with Argon2id, see accounts/hashers.py);
3. the same pages during the same login burst (both wrk runs at once);
4. with ``--with-import``: the pages while ``manage.py import_readings`` loads files of 200,000
   readings back to back.

It prints logins/s, the pages' requests/s, p50 and p99 of each run, the p99 of pages during
the burst against pages alone (target ≤ 2×), the CPU the workers spent during each run, split
between their password-hashing threads (named ``pw-hash``, accounts/hashers.py) and the rest
(serving: pages, and the logins' own work), in cores, and the load average before and after
(the machine is "quiet" below 1.5 at the start). ``--threads`` sets gunicorn's threads a
worker (default 8, as gunicorn.conf.py). Figures only: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import pages

DATABASE = "bench_load"
WORKERS = 2
THREADS = 8  # gunicorn.conf.py's default
PAGE_CONNECTIONS = 16
LOGIN_CONNECTIONS = 4
IMPORT_ROWS = 200_000
TARGET_P99_RATIO = 2.0
QUIET_LOAD = 1.5

PAGES_LUA = r"""
local requests = {}
local counter = 0
init = function(args)
  local get = {["Cookie"] = "%(session)s"}
  local dash = wrk.format("GET", "/%(slug)s/usage/", get)
  local hist = wrk.format("GET", "/%(slug)s/usage/%(number)s/history/", get)
  local csv = wrk.format("GET", "/%(slug)s/usage/%(number)s/history.csv", get)
  requests = {dash, hist, csv}
end
request = function()
  counter = counter + 1
  return requests[(counter %% #requests) + 1]
end
"""

LOGIN_LUA = r"""
request = function()
  return wrk.format("POST", "/%(slug)s/", {["Cookie"] = "csrftoken=%(csrf)s",
    ["Content-Type"] = "application/x-www-form-urlencoded"}, "%(body)s")
end
"""


@dataclass
class Run:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    detail: str
    # the workers' CPU seconds a second of the run (cores): serving threads, hashing thread
    cores: tuple[float, float] | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--duration", type=int, default=20, help="seconds of each run")
    parser.add_argument("--login-connections", type=int, default=LOGIN_CONNECTIONS)
    parser.add_argument("--reuse", action="store_true", help="keep a filled bench database")
    parser.add_argument("--database", default=DATABASE, help="the bench's own database")
    parser.add_argument("--with-import", action="store_true", help="also pages during imports")
    parser.add_argument("--threads", type=int, default=THREADS, help="gunicorn threads a worker")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    pages.use_database(args.database)
    pages.WORKERS = WORKERS
    env = pages._environment()
    os.environ.update(env)
    import django

    django.setup()
    if not (args.reuse and pages._database_exists()):
        pages._recreate_database()
        pages._manage(env, "migrate", "--noinput", "-v0")
        started = time.perf_counter()
        rows = pages._fill(args.customers, args.periods)
        print(f"filled {rows:,} readings in {time.perf_counter() - started:.1f} s")
    pages._manage(env, "collectstatic", "--noinput", "-v0")
    numbers = pages._prepare_member()

    load_before = os.getloadavg()[0]
    importer = None
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp_path = Path(tmp)
        port = pages._free_port()
        # Threads as production runs them (gunicorn.conf.py): a login hashing in one thread
        # leaves the worker's others to serve pages.
        server = pages._start_gunicorn(
            env,
            port,
            tmp_path,
            extra=f"worker_class = 'gthread'\nthreads = {args.threads}\n",
            log=tmp_path / "server.log",
        )
        try:
            base = f"127.0.0.1:{port}"
            page_script, login_script = _lua_scripts(base, numbers[0], tmp_path)
            _wrk(base, page_script, 3, "warm-up", PAGE_CONNECTIONS)
            _wrk(base, login_script, 3, "warm-up", args.login_connections)
            clock = _CpuClock(server.pid)
            runs = [
                clock.run(_wrk, base, page_script, args.duration, "pages alone", PAGE_CONNECTIONS),
                clock.run(
                    _wrk, base, login_script, args.duration, "logins alone", args.login_connections
                ),
            ]
            during, logins = clock.run(_together, base, page_script, login_script, args)
            runs += [during, logins]
            if args.with_import:
                files = max(2, args.duration // 5 + 2)
                imports = [
                    _write_import_file(tmp_path / f"readings-{n}.csv", args, n, numbers)
                    for n in range(files)
                ]
                importer = _Importer(env, imports)
                importer.start()
                try:
                    runs.append(
                        clock.run(
                            _wrk,
                            base,
                            page_script,
                            args.duration,
                            "pages, import",
                            PAGE_CONNECTIONS,
                        )
                    )
                finally:
                    importer.stop()
        finally:
            server.terminate()
            server.wait(timeout=30)
    _report(runs, importer, args, load_before)


class _CpuClock:
    """The CPU the server's workers spend during a run, per thread kind, from /proc."""

    def __init__(self, master: int) -> None:
        self.master = master

    def run(self, measure, *args):
        """Call ``measure(*args)`` (a Run, or a pair of them: the first gets the figures)."""
        before, started = self._seconds(), time.monotonic()
        result = measure(*args)
        after, elapsed = self._seconds(), time.monotonic() - started
        cores = tuple((a - b) / elapsed for a, b in zip(after, before, strict=True))
        (result[0] if isinstance(result, tuple) else result).cores = cores
        return result

    def _seconds(self) -> tuple[float, float]:
        """CPU seconds so far of the workers' threads: (serving, hashing)."""
        from accounts.hashers import THREAD_NAME

        tick = os.sysconf("SC_CLK_TCK")
        serving = hashing = 0.0
        for worker in pages._children(self.master):
            for task in Path(f"/proc/{worker}/task").iterdir():
                try:
                    stat = (task / "stat").read_text()
                except OSError:  # the thread ended meanwhile
                    continue
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
                if name == THREAD_NAME:
                    hashing += seconds
                else:
                    serving += seconds
        return serving, hashing


def _together(base: str, page_script: Path, login_script: Path, args) -> tuple[Run, Run]:
    """Run the pages and the login burst at the same time; return both."""
    results: dict[str, Run] = {}

    def burst() -> None:
        results["logins"] = _wrk(
            base, login_script, args.duration + 2, "logins, pages", args.login_connections
        )

    thread = threading.Thread(target=burst)
    thread.start()
    time.sleep(1)  # the burst is running before the pages are measured
    during = _wrk(base, page_script, args.duration, "pages, logins", PAGE_CONNECTIONS)
    thread.join()
    return during, results["logins"]


def _lua_scripts(base: str, number: str, tmp: Path) -> tuple[Path, Path]:
    import http.client
    from urllib.parse import urlencode

    host, port = base.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", f"/{pages.SLUG}/")
    response = conn.getresponse()
    page = response.read().decode()
    csrf = pages._cookies(response)["csrftoken"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urlencode(
        {"csrfmiddlewaretoken": token, "identifier": pages.LOGIN_ID, "password": pages.PASSWORD}
    )
    values = {
        "session": pages._log_in(base),
        "csrf": csrf,
        "slug": pages.SLUG,
        "body": body,
        "number": number,
    }
    page_script, login_script = tmp / "pages.lua", tmp / "login.lua"
    page_script.write_text(PAGES_LUA % values)
    login_script.write_text(LOGIN_LUA % values)
    return page_script, login_script


def _write_import_file(path: Path, args, n: int, numbers: list[str]) -> tuple[Path, int]:
    """Readings for two periods older than the bench history (new rows, all dates past)."""
    from billing.models import Customer

    ends = []
    first_end = pages._period_ends(args.periods)[0][1]
    for k in (2 * n + 1, 2 * n + 2):  # two months per period, going further back per file
        index = first_end.year * 12 + first_end.month - 1 - 2 * k
        ends.append(datetime.date(index // 12, index % 12 + 1, 25))
    count = IMPORT_ROWS // 2
    customers = Customer.objects.filter(utility__slug=pages.SLUG).exclude(number__in=numbers)
    wanted = list(customers.order_by("number").values_list("number", flat=True)[:count])
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            "utility,customer_number,period_start,period_end,read_on,previous_index,"
            "current_index,usage_m3,water_charge,sewer_charge,tax,total\n"
        )
        for number in wanted:
            for end in ends:
                start = (end - datetime.timedelta(days=60)).replace(day=26)
                out.write(
                    f"{pages.SLUG},{number},{start},{end},{end},1000,1040,40,7424,5676,1190,13100\n"
                )
    return path, 2 * len(wanted)


class _Importer(threading.Thread):
    """Run the files through manage.py import_readings back to back until stopped."""

    def __init__(self, env: dict, files: list[tuple[Path, int]]) -> None:
        super().__init__(daemon=True)
        self.env, self.files = env, files
        self.halt = threading.Event()
        self.done: list[tuple[int, float]] = []
        self.failures: list[str] = []

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - reported with the figures, never lost
            self.failures.append(repr(exc))

    def _run(self) -> None:
        for path, rows in self.files:
            if self.halt.is_set():
                return
            started = time.perf_counter()
            result = subprocess.run(
                [pages.PYTHON, "manage.py", "import_readings", str(path), "-v", "0"],
                cwd=pages.ROOT,
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
            )
            if result.returncode:
                self.failures.append(result.stdout[-500:] + result.stderr[-500:])
                return
            self.done.append((rows, time.perf_counter() - started))

    def stop(self) -> None:
        self.halt.set()
        self.join()


def _wrk(base: str, script: Path, duration: int, label: str, connections: int) -> Run:
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(script), f"http://{base}/"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    errors, detail = 0, []
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
        detail.append(match.group(0))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(x) for x in match.groups())
        detail.append(match.group(0))
    return Run(
        label=label,
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=pages._milliseconds(re.search(r"\s50%\s+([\d.]+\w+)", output).group(1)),
        p99_ms=pages._milliseconds(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1)),
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
        errors=errors,
        detail="; ".join(detail),
    )


def _report(runs: list[Run], importer: _Importer | None, args, load_before: float) -> None:
    by_label = {r.label: r for r in runs}
    quiet = "quiet" if load_before < QUIET_LOAD else f"NOT quiet (≥ {QUIET_LOAD})"
    print()
    print(
        f"{args.customers:,} customers × {args.periods} periods; gunicorn {WORKERS} workers × "
        f"{args.threads} threads (gthread); wrk {PAGE_CONNECTIONS} connections for pages "
        f"(dashboard, history, CSV), {args.login_connections} for logins; {args.duration} s "
        f"a run; {os.cpu_count()} CPUs; load average {load_before:.1f} at the start "
        f"({quiet}), {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'run':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}"
        f" {'serving':>8} {'hashing':>8}  (workers' CPU, cores)"
    )
    for r in runs:
        cores = "".join(f" {c:>8.2f}" for c in r.cores) if r.cores else ""
        print(
            f"{r.label:<16} {r.requests_per_second:>8.1f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} "
            f"{r.requests:>9} {r.errors:>7}{cores}" + (f"  ({r.detail})" if r.detail else "")
        )
    alone, during = by_label["pages alone"], by_label["pages, logins"]
    print(
        f"logins/s on {WORKERS} workers: {by_label['logins alone'].requests_per_second:.1f} alone, "
        f"{by_label['logins, pages'].requests_per_second:.1f} while pages are served"
    )
    ratio = during.p99_ms / alone.p99_ms if alone.p99_ms else 0.0
    print(
        f"page p99 during the login burst / alone: {ratio:.2f}× "
        f"(target ≤ {TARGET_P99_RATIO:.0f}×, 0 errors)"
    )
    if "pages, import" in by_label:
        ratio = by_label["pages, import"].p99_ms / alone.p99_ms if alone.p99_ms else 0.0
        print(f"page p99 during imports / alone: {ratio:.2f}×")
    if importer and importer.done:
        rows = sum(n for n, _ in importer.done)
        seconds = sum(s for _, s in importer.done)
        print(
            f"imports during the run: {len(importer.done)} files, {rows:,} readings, "
            f"{rows / seconds:,.0f} rows/s while serving"
        )
    for failure in importer.failures if importer else []:
        print(f"import failed: {failure}")


if __name__ == "__main__":
    main()
