"""Settings for the water portal: one module, deploy-specific values from the environment."""

from __future__ import annotations

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Production must fail loudly rather than run with a guessable key or an open host list.
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-local-development-only")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    try:
        SECRET_KEY = env.str("SECRET_KEY")
        ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(
            "DEBUG is off: set SECRET_KEY and ALLOWED_HOSTS in the environment. " + str(exc)
        ) from exc
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG is off: ALLOWED_HOSTS must not be empty.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "portal",
    "billing",
    "accounts",
    "moving",
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",  # django-csp, the header built once
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.LocaleMiddleware",  # the language cookie alone; the admin always Japanese
    "portal.middleware.FuriganaMiddleware",  # やさしい日本語's ｜漢字《かんじ》 to <ruby>
    "portal.middleware.LanguageOfPartsMiddleware",  # Japanese words on English pages: lang="ja"
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.AuthenticationMiddleware",  # Django's, + the member carried (sessions)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.UtilityMiddleware",
    "portal.middleware.MethodNotAllowedPageMiddleware",
    "accounts.middleware.OperatingHoursMiddleware",
    "accounts.middleware.SessionIdleTimeoutMiddleware",
    "accounts.middleware.ResidentLoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.utility",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # env.db() always fills CONN_MAX_AGE with 0, so set it outright: keep connections.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
SQLITE_OPTIONS = {"transaction_mode": "IMMEDIATE", "timeout": env.int("SQLITE_TIMEOUT", default=20)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer: a transaction takes the write lock when it begins and waits up to the timeout
    # for another's. Deferred, two imports that both read before writing deadlock and one fails
    # at once with "database is locked" (issue 16, F5) instead of waiting its turn.
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://portal")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # A Redis that stops answering must cost a request half a second, not a hung worker.
    CACHES["default"].setdefault("OPTIONS", {})
    CACHES["default"]["OPTIONS"].setdefault("socket_connect_timeout", 0.5)
    CACHES["default"]["OPTIONS"].setdefault("socket_timeout", 0.5)
# With a shared cache (Redis), sessions are read from it and written through to the database
# (portal.sessions keeps working from the database alone when Redis is down), and carry the
# signed-in member (accounts.sessions); without one, the database alone holds them. Either
# way no worker keeps state of its own.
PORTAL_SHARED_CACHE = "CACHE_URL" in env.ENVIRON
SESSION_ENGINE = (
    "accounts.sessions" if PORTAL_SHARED_CACHE else "django.contrib.sessions.backends.db"
)
# Usage pages, お知らせ and the signed-in member kept between requests (billing/pagecache.py):
# only in a shared cache, where a change made by one process is seen by all.
PORTAL_PAGE_CACHE = env.bool("PORTAL_PAGE_CACHE", default=PORTAL_SHARED_CACHE)

AUTH_USER_MODEL = "accounts.Member"
AUTHENTICATION_BACKENDS = [
    # axes first: it refuses locked-out identifiers and addresses before any password check
    # (and notes which key refused, for the audit log).
    "accounts.lockout.LockoutBackend",
    "accounts.backends.MemberBackend",
]
PASSWORD_HASHERS = [
    # Verifies every argon2 hash whatever its cost; the cost is argued in accounts/hashers.py.
    "accounts.hashers.PortalArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("login_id", "email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.UtilityPasswordRuleValidator"},
]
LOGIN_URL = "index"
# Only Django's own LoginView reads this, i.e. the admin's login when its ?next= is refused
# or missing (residents' logins pick their utility's page themselves).
LOGIN_REDIRECT_URL = "admin:index"

SILENCED_SYSTEM_CHECKS = [
    # Login IDs are unique per utility, not globally (the same ID in two cities is two people).
    # The database enforces it with conditional unique constraints on Member, and
    # accounts.backends.MemberBackend always looks members up within one utility.
    "auth.W004",
]

LANGUAGE_CODE = "ja"
# Date formats of our own (portal/formats/<locale>/formats.py); Django's fill the rest.
FORMAT_MODULE_PATH = ["portal.formats"]
# Each language labelled in its own name (the switch shows these). "ja-easy" is やさしい日本語:
# its catalog is locale/ja_Easy/ (Django's to_locale), and what it lacks falls back to "ja".
# Adding a language: a locale/<locale>/LC_MESSAGES/django.po (compiled), an entry here, and
# the utility's 「提供する言語」 (README "Languages").
LANGUAGES = [("ja", "日本語"), ("ja-easy", "やさしい日本語"), ("en", "English")]
# <html lang> of each language where it is not the code itself (やさしい日本語 is Japanese).
PORTAL_HTML_LANG = {"ja-easy": "ja"}
# The switch's choice is remembered a year (Django's default is the browser session).
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True  # nothing in a page reads it
# locale/: our catalogs (make messages), and in locale/ja/ our Japanese for some of Django's own
# messages; locale_overrides/: the same for やさしい日本語 (kept apart: make messages rebuilds
# locale/ja_Easy/ from our code alone).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_overrides"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Tokyo"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
FIXTURE_DIRS = [BASE_DIR / "fixtures"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed names served by whitenoise; run `manage.py collectstatic` on deploy.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@portal.example.jp")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# How long a worker waits for the relay's reply to the end of a message (RFC 5321 4.5.3.2.6:
# 10 minutes; a relay scanning content answers late). EMAIL_TIMEOUT is for every other reply.
PORTAL_SMTP_DATA_TIMEOUT = env.float("PORTAL_SMTP_DATA_TIMEOUT", default=300.0)

# Background work (Celery). Without a broker, tasks run in-process right away (the demo and
# unit tests need nothing); production sets CELERY_BROKER_URL=redis://... and runs a worker and
# beat (README "Background work and mail").
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# A request must not hang on a broker that is down: publishing gives up quickly and the row
# waits in the outbox for the sweep (portal.outbox).
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Publishing tries once (kombu's default waits 2 s and tries again).
    "max_retries": 0,
    "socket_connect_timeout": 1,
    "socket_timeout": 3,
    # A task a worker took and never finished comes back after this long (the sweep is sooner).
    "visibility_timeout": 3600,
    # A worker reads its queues in the order of CELERY_TASK_QUEUES, not in turn.
    "queue_order_strategy": "priority",
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Mails a resident waits for on the page (PORTAL_OUTBOX_RATE_EXEMPT: codes, links) go to the
# "urgent" queue, read before "celery" (bill-ready and notice batches, imports), so a code
# never waits behind a backlog. A plain `celery -A portal worker` consumes both.
CELERY_TASK_QUEUES = (Queue("urgent"), Queue("celery"))
CELERY_TASK_DEFAULT_QUEUE = "celery"
# One task reserved a worker process at a time: a prefetched batch task (100 mails) would
# otherwise stand between a code and the worker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "portal.tasks.sweep_outbox",
        "schedule": env.float("PORTAL_OUTBOX_SWEEP_SECONDS", default=60.0),
    },
    # Admin CSV uploads (billing.importjobs): dead workers' jobs, lost jobs, files over a day old.
    "import-sweep": {
        "task": "billing.tasks.sweep_imports",
        "schedule": env.float("PORTAL_IMPORT_SWEEP_SECONDS", default=60.0),
    },
    # お知らせ whose publish time came (or whose mailing stalled) start mailing.
    "notice-mail": {
        "task": "billing.tasks.mail_due_notices",
        "schedule": env.float("PORTAL_OUTBOX_SWEEP_SECONDS", default=60.0),
    },
}
# A background CSV import writes its progress (its heartbeat) this often; one silent for the
# lease is taken for dead (失敗); one queued this long without a worker is queued again.
PORTAL_IMPORT_PROGRESS_SECONDS = env.float("PORTAL_IMPORT_PROGRESS_SECONDS", default=1.0)
PORTAL_IMPORT_LEASE_SECONDS = env.float("PORTAL_IMPORT_LEASE_SECONDS", default=300.0)
PORTAL_IMPORT_HANDOFF_SECONDS = env.float("PORTAL_IMPORT_HANDOFF_SECONDS", default=60.0)
# A readings import whose turn it is not (another holds the lock) is queued again this much later.
PORTAL_IMPORT_TURN_SECONDS = env.float("PORTAL_IMPORT_TURN_SECONDS", default=10.0)
# The outbox: tries before a mail is 「送信失敗」, the first retry's wait (doubled each time,
# capped), and how long a worker may hold a claimed mail before the sweep hands it on.
PORTAL_OUTBOX_MAX_ATTEMPTS = env.int("PORTAL_OUTBOX_MAX_ATTEMPTS", default=8)
PORTAL_OUTBOX_RETRY_SECONDS = env.float("PORTAL_OUTBOX_RETRY_SECONDS", default=60.0)
PORTAL_OUTBOX_RETRY_MAX_SECONDS = env.float("PORTAL_OUTBOX_RETRY_MAX_SECONDS", default=3600.0)
PORTAL_OUTBOX_LEASE_SECONDS = env.float("PORTAL_OUTBOX_LEASE_SECONDS", default=600.0)
PORTAL_OUTBOX_HANDOFF_SECONDS = env.float("PORTAL_OUTBOX_HANDOFF_SECONDS", default=60.0)
PORTAL_OUTBOX_SWEEP_BATCH = env.int("PORTAL_OUTBOX_SWEEP_BATCH", default=1000)
# A utility's mail rate (通/分) is counted in fixed windows of this length (scaled to it).
PORTAL_OUTBOX_RATE_WINDOW_SECONDS = env.float("PORTAL_OUTBOX_RATE_WINDOW_SECONDS", default=60.0)
# お知らせ mailing: members written to the outbox per task (each batch one transaction).
PORTAL_NOTICE_MAIL_BATCH = env.int("PORTAL_NOTICE_MAIL_BATCH", default=1000)
# Bill-ready mail after an import: readings per batch (one transaction), and how recent a
# reading must be (read_on within this many days) to be announced at all.
PORTAL_BILL_MAIL_BATCH = env.int("PORTAL_BILL_MAIL_BATCH", default=1000)
PORTAL_BILL_MAIL_RECENT_DAYS = env.int("PORTAL_BILL_MAIL_RECENT_DAYS", default=45)
# 見守り: how long the second person's consent link lives.
PORTAL_WATCH_CONSENT_HOURS = env.int("PORTAL_WATCH_CONSENT_HOURS", default=168)
# Days a member may not ask again an address whose owner pressed 停止 (0: no pause).
PORTAL_WATCH_STOPPED_DAYS = env.int("PORTAL_WATCH_STOPPED_DAYS", default=30)
# The portal's address as residents open it (https://portal.example.jp), for links in mails
# written by workers, which have no request to read it from. Blank: such mails carry no link.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="")
# Web明細 export: the encoding the utility's CIS reads.
PORTAL_WEB_SLIP_CSV_ENCODING = env.str("PORTAL_WEB_SLIP_CSV_ENCODING", default="cp932")
# 使用開始・使用中止: the CIS export's encoding, and how long the mailed status link works.
PORTAL_MOVING_CSV_ENCODING = env.str("PORTAL_MOVING_CSV_ENCODING", default="cp932")
PORTAL_MOVING_STATUS_LINK_DAYS = env.int("PORTAL_MOVING_STATUS_LINK_DAYS", default=180)
# Mails a resident waits for on the page (a code or link with a deadline, or the answer that
# stands in for one): counted in the rate but never held by it. They are limited per address
# and per client by the forms instead.
PORTAL_OUTBOX_RATE_EXEMPT = frozenset(
    f"accounts/{name}"
    for name in (
        "signup_link",
        "signup_code",
        "signup_existing",
        "password_reset_link",
        "password_reset_code",
        "email_change_link",
        "email_change_code",
        "email_change_taken",
    )
)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Secure cookies unless told otherwise (only for plain-HTTP test rigs on loopback).
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"  # under its utility's header and contact block
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# No inline script or style anywhere (the admin included): everything comes from our origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

ADMIN_URL = env.str("ADMIN_URL", default="admin/")

# django-axes: lock an identifier (scoped by utility) and a client address separately
# (README "Login lockout"). Both login forms pass the identifier as ``username``.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_CLIENT_IP_CALLABLE = "portal.net.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.login.locked_out"
# An address is counted within the login it failed at (a utility's, or the admin's): a spray
# at Nayoro locks that address at Nayoro only, where Nayoro's staff see and lift it.
AXES_HANDLER = "accounts.lockout.ScopedDatabaseHandler"
# An attempt refused by a lock is never checked, so it is no failure on either key: the
# standalone backend flags it and the handler records nothing (nor restarts the 30 minutes).
# Otherwise a member's right password at a sprayed address, or their tries while their ID is
# locked, would lock the ID or the address for others (the outside attack's amplification).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success clears only the identifier's count (accounts.backends), never the address's.
AXES_RESET_ON_SUCCESS = False
# Logins are in the audit log already; axes' own access log would cost a write per login.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False  # accounts.admin.LoginLockAdmin: scoped per utility, in Japanese
PORTAL_PROXY_COUNT = env.int("PROXY_COUNT", default=0)

# Rate limits come from the cache: share it (CACHE_URL=redis://...) when running several workers.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = "accounts.views.login.rate_limited"

PORTAL_REMEMBER_ID_COOKIE = "portal_login_id"
PORTAL_REMEMBER_ID_MAX_AGE = 60 * 60 * 24 * 365

# Every line carries the request's id (X-Request-ID, also on the error page); every 500 is
# logged with its traceback by django.request.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "portal": {"handlers": ["console"], "level": "INFO"},
        "accounts": {"handlers": ["console"], "level": "INFO"},
        "billing": {"handlers": ["console"], "level": "INFO"},
    },
}
