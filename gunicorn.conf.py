"""gunicorn settings for production: `gunicorn portal.wsgi` picks this file up from the checkout."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Sync workers with a few threads: pages are short queries, mail and CSV download block briefly.
threads = int(os.environ.get("GUNICORN_THREADS", 2))
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
