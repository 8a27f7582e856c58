"""Password hashing cost, decided for this portal (README "Password hashing").

Argon2id at OWASP's Password Storage minimum (m=19 MiB, t=2, p=1): about 34 ms of one core
and 19 MiB a login on these machines, against Django's default (100 MiB, p=8) at about
260 ms. Online guessing is held by the lockouts (5 a identifier and address per 30 minutes),
so the hash's cost only matters against a stolen database, where 19 MiB of memory per guess
is what makes GPUs pay. Hashes made with other parameters are rehashed with these at the
member's next successful login (Django's must_update).
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
