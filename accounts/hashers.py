"""Password hashing cost, decided for this portal (README "Password hashing").

Argon2id at OWASP's Password Storage minimum (m=19 MiB, t=2, p=1): about 34 ms of one core
and 19 MiB a login on these machines, against Django's default (100 MiB, p=8) at about
260 ms. Online guessing is held by the lockouts (5 a identifier and address per 30 minutes),
so the hash's cost only matters against a stolen database, where 19 MiB of memory per guess
is what makes GPUs pay. Hashes made with other parameters are rehashed with these at the
member's next successful login (Django's must_update).

Logins must not starve pages (issue 17): a burst of logins would otherwise take every core
for its hashes while page requests wait. So each server process hashes in one thread of its
own, one password at a time (19 MiB at most per process), at a lower CPU priority than the
threads that serve pages. When pages are quiet the hash runs at full speed; when they are
busy, pages go first and logins take longer. The request thread waits for its hash (argon2
runs outside the GIL, so the worker's other threads keep serving).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth.hashers import Argon2PasswordHasher

# Added to the hashing thread's nice value (Linux: per thread); 10 gives it about a tenth of
# the CPU share of a page thread while both want the same core.
HASHING_NICENESS = 10

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def _hashing_thread() -> ThreadPoolExecutor:
    """This process's hashing thread (started at the first hash; a forked worker makes its own)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="password-hashing", initializer=_lower_priority
            )
            _pool_pid = os.getpid()
        return _pool


# The hashing thread's name as the system shows it (ps -L, top -H, /proc/<pid>/task/*/comm):
# bench.load counts the CPU it takes apart from the threads serving pages.
THREAD_NAME = "pw-hash"


def _lower_priority() -> None:
    try:
        thread = threading.get_native_id()
        own = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, own + HASHING_NICENESS)
    except (AttributeError, OSError):  # no per-thread priority here: hash at the same priority
        pass
    try:
        with open("/proc/thread-self/comm", "w") as comm:
            comm.write(THREAD_NAME)
    except OSError:  # not Linux: the name is only for watching
        pass


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        return _hashing_thread().submit(super().encode, password, salt).result()

    def verify(self, password: str, encoded: str) -> bool:
        return _hashing_thread().submit(super().verify, password, encoded).result()
