"""Load test: a mix of login, dashboard, history and CSV at 32 users, then the same during imports.

    .venv/bin/python -m bench.load                      # 100,000 customers × 24 periods, 60 s
    .venv/bin/python -m bench.load --reuse --duration 20
    .venv/bin/python -m bench.load --customers 5000 --duration 10   # a quick look

It fills its own PostgreSQL database (``bench_load``) the way bench/pages.py does, serves the
portal with production settings on gunicorn with 4 workers, and drives it with wrk (32
connections) through a Lua script that mixes, per 8 requests, 1 login (a real form POST with
its CSRF token and password hash), 3 dashboards, 2 history pages and 2 CSV downloads of the
member's own contracts. The second run is the same while ``manage.py import_readings`` loads
files of 200,000 readings one after another for the whole run. It prints requests/s, p50/p99
and the error count of both runs, and the imports' own rows/s. Figures only: nothing here
passes or fails on time.
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
WORKERS = 4
CONNECTIONS = 32
IMPORT_ROWS = 200_000
TARGET_P99_RATIO = 2.0

LUA = r"""
local requests = {}
local counter = 0
init = function(args)
  local get = {["Cookie"] = "%(session)s"}
  local post = {["Cookie"] = "csrftoken=%(csrf)s",
                ["Content-Type"] = "application/x-www-form-urlencoded"}
  local login = wrk.format("POST", "/%(slug)s/", post, "%(body)s")
  local dash = wrk.format("GET", "/%(slug)s/usage/", get)
  local hist = wrk.format("GET", "/%(slug)s/usage/%(number)s/history/", get)
  local csv = wrk.format("GET", "/%(slug)s/usage/%(number)s/history.csv", get)
  requests = {login, dash, hist, csv, dash, hist, csv, dash}
end
request = function()
  counter = counter + 1
  return requests[(counter %% #requests) + 1]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--duration", type=int, default=60, help="seconds of each run")
    parser.add_argument("--reuse", action="store_true", help="keep a filled bench database")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    pages.DATABASE = DATABASE
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
    files_needed = max(2, args.duration // 5 + 2)

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp_path = Path(tmp)
        imports = [
            _write_import_file(tmp_path / f"readings-{n}.csv", args, n, numbers)
            for n in range(files_needed)
        ]
        port = pages._free_port()
        server = pages._start_gunicorn(env, port, tmp_path)
        try:
            base = f"127.0.0.1:{port}"
            script = _lua_script(base, numbers[0], tmp_path)
            _wrk(base, script, 5, "warm-up")
            quiet = _wrk(base, script, args.duration, "without import")
            importer = _Importer(env, imports)
            importer.start()
            try:
                busy = _wrk(base, script, args.duration, "during import")
            finally:
                importer.stop()
        finally:
            server.terminate()
            server.wait(timeout=30)
    _report([quiet, busy], importer, args)


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


def _lua_script(base: str, number: str, tmp: Path) -> Path:
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
    script = tmp / "mix.lua"
    script.write_text(
        LUA
        % {
            "session": pages._log_in(base),
            "csrf": csrf,
            "slug": pages.SLUG,
            "body": body,
            "number": number,
        }
    )
    return script


def _wrk(base: str, script: Path, duration: int, label: str) -> Run:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    command += ["-s", str(script), f"http://{base}/"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    errors, detail = 0, []
    for pattern in (r"Non-2xx or 3xx responses: (\d+)",):
        if match := re.search(pattern, output):
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


def _report(runs: list[Run], importer: _Importer, args) -> None:
    print()
    print(
        f"{args.customers:,} customers × {args.periods} periods; gunicorn {WORKERS} workers; "
        f"wrk {CONNECTIONS} connections, {args.duration} s per run; mix per 8 requests: "
        f"1 login, 3 dashboard, 2 history, 2 CSV; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'run':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for r in runs:
        print(
            f"{r.label:<16} {r.requests_per_second:>8.1f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} "
            f"{r.requests:>9} {r.errors:>7}" + (f"  ({r.detail})" if r.detail else "")
        )
    ratio = runs[1].p99_ms / runs[0].p99_ms if runs[0].p99_ms else 0.0
    print(f"p99 during import / without: {ratio:.2f}× (target ≤ {TARGET_P99_RATIO:.0f}×, 0 errors)")
    if importer.done:
        rows = sum(n for n, _ in importer.done)
        seconds = sum(s for _, s in importer.done)
        print(
            f"imports during the run: {len(importer.done)} files, {rows:,} readings, "
            f"{rows / seconds:,.0f} rows/s while serving"
        )
    for failure in importer.failures:
        print(f"import failed: {failure}")


if __name__ == "__main__":
    main()
