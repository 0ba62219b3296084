"""Fair use of the REST API: a fixed one-minute window per API token, counted in Redis
so that every web process behind a load balancer shares the same count.

When Redis does not answer the limit is not enforced (logged): fair use must not take
the API down with the queue.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from app import keys, queues
from app.errors import RateLimited
from app.settings import get_settings

log = logging.getLogger(__name__)

WINDOW_S = 60
# Token requests (password checks) per username per minute: guesses stay slow.
SIGN_IN_LIMIT = 10


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def hit(ident: str, limit: int, what: str) -> None:
    """Count one request of `ident`; raise RateLimited when it is over `limit` in the
    current window."""
    if limit <= 0:
        return
    now = time.time()
    window = int(now // WINDOW_S)
    count = _count(keys.api_rate(ident, window))
    if count is not None and count > limit:
        retry_after = max(1, math.ceil((window + 1) * WINDOW_S - now))
        raise RateLimited(f"More than {limit} {what} per minute; try again in {retry_after} s.",
                          retry_after=retry_after)


def _count(key: str) -> int | None:
    """Add one to a window's count and return it; None when Redis does not answer."""
    try:
        with queues.redis_conn().pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_S * 2)
            count, _ = pipe.execute()
        return count
    except queues.REDIS_ERRORS as exc:
        log.warning("rate limit not counted, Redis did not answer: %s", exc)
        return None


def check_token(token: str) -> None:
    hit(_digest(token), get_settings().api_rate_limit, "requests with this API token")


def check_sign_in(username: str) -> None:
    hit("sign-in:" + _digest(username.strip().lower()), SIGN_IN_LIMIT, "sign-in attempts for this user")


# The console counts wrong passwords only: a person who signs in often is never held up,
# a guesser is after SIGN_IN_LIMIT misses a minute.
def _failures_key(username: str) -> str:
    return keys.api_rate("sign-in-failed:" + _digest(username.strip().lower()), int(time.time() // WINDOW_S))


def check_failed_sign_ins(username: str) -> None:
    """Refuse (RateLimited) while this username has had SIGN_IN_LIMIT wrong passwords in
    the current minute."""
    try:
        count = int(queues.redis_conn().get(_failures_key(username)) or 0)
    except queues.REDIS_ERRORS as exc:
        log.warning("sign-in failures not checked, Redis did not answer: %s", exc)
        return
    if count >= SIGN_IN_LIMIT:
        retry_after = max(1, math.ceil(WINDOW_S - time.time() % WINDOW_S))
        raise RateLimited(f"Too many wrong passwords for this user; try again in {retry_after} s.",
                          retry_after=retry_after)


def count_failed_sign_in(username: str) -> None:
    _count(_failures_key(username))
