"""gunicorn settings for production: `gunicorn portal.wsgi` picks this file up from the checkout."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Threads a worker (gthread): pages are short queries, mail and CSV download block briefly,
# and a login waits for its password hash (accounts/hashers.py: one hash at a time per
# process, at a lower CPU priority) while the worker's other threads serve pages. A login
# holds its thread while it waits, longest when pages are busy (the hash yields to them): with
# 4 threads, a few logins on one worker left its pages queueing behind them (bench.load, issue
# 17: pages fell to a quarter during a burst of 4, the workers idle); 8 leave room for them.
threads = int(os.environ.get("GUNICORN_THREADS", 8))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so no slow leak can grow for ever.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# The load balancer terminates TLS; trust its X-Forwarded-* only from itself.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
