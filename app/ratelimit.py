"""Fair use and password guessing, counted in Redis so that every web process behind a
load balancer shares the same counts.

Every limit counts over a sliding window of JOBDECK_RATE_WINDOW_S seconds (a sorted set
of tries per counter, scored by time, checked and added to atomically by one Lua
script), so no calendar boundary ever resets a count: N tries are allowed in any
window of that length, wherever it starts.

- API requests: JOBDECK_API_RATE_LIMIT per API token.
- Password tries, console sign-ins and `POST /api/tokens` counted together; only wrong
  passwords count (a person who signs in often is never held up):
  * JOBDECK_PASSWORD_TRIES per (username, client address): the strict limit;
  * JOBDECK_PASSWORD_TRIES_WIDE per username from every address, and per address for
    every username (guessing from many addresses, or many users from one). These two
    do not hold back an address the username signed in from in the last
    KNOWN_ADDRESS_DAYS, so guessers elsewhere cannot lock the owner out of their usual
    address.
  Once a counter is full, even the right password is refused there until the window
  has room: that is what makes guessing slow.

When Redis does not answer the limits are not enforced (logged): fair use must not take
the API or the console down with the queue.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Optional

from app import keys, queues
from app.errors import RateLimited
from app.settings import get_settings

log = logging.getLogger(__name__)

KNOWN_ADDRESS_DAYS = 30
KNOWN_ADDRESSES_KEPT = 20  # per username, the most recent ones

# KEYS: the counters a try goes to. ARGV: now (ms), window (ms), the try's member, then
# the limit of each key. If every counter has room, the try is added to all of them and
# 0 is returned; else nothing is added and the wait (ms) until each has room is returned.
_TRY = """
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[3 + i])
  local n = redis.call('ZCARD', key)
  if n >= limit then
    -- room comes back when the try at rank n - limit leaves the window
    local edge = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    local w = tonumber(edge[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return math.max(1, math.ceil(wait)) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return 0
"""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def _window_s() -> float:
    return max(0.001, get_settings().rate_window_s)


def _per(window_s: float) -> str:
    return "a minute" if window_s == 60 else f"{window_s:g} s"


def _try(counters: dict[str, int], now: Optional[float]) -> tuple[Optional[str], float]:
    """Add one try to every counter (key -> limit) if all have room. Returns the try's
    member (to take it back later) and 0, or None and the seconds to wait. A member of
    None with no wait: Redis did not answer, nothing was counted."""
    live = {k: n for k, n in counters.items() if n > 0}
    if not live:
        return None, 0.0
    window_ms = int(_window_s() * 1000)
    now_ms = int((time.time() if now is None else now) * 1000)
    member = f"{now_ms}-{secrets.token_hex(6)}"
    try:
        conn = queues.redis_conn()
        wait_ms = conn.eval(_TRY, len(live), *live, now_ms, window_ms, member, *live.values())
    except queues.REDIS_ERRORS as exc:
        log.warning("rate limit not counted, Redis did not answer: %s", exc)
        return None, 0.0
    if wait_ms:
        return None, int(wait_ms) / 1000
    return member, 0.0


def _refuse(message: str, wait_s: float) -> RateLimited:
    retry_after = max(1, math.ceil(wait_s))
    return RateLimited(f"{message}; try again in {retry_after} s.", retry_after=retry_after)


# --- API requests -----------------------------------------------------------------------


def check_token(token: str, *, now: Optional[float] = None) -> None:
    """Count one request made with this API token; RateLimited when the token has made
    JOBDECK_API_RATE_LIMIT requests in the window already (refused ones do not count)."""
    limit = get_settings().api_rate_limit
    _, wait = _try({keys.rate("api", _digest(token)): limit}, now)
    if wait:
        raise _refuse(f"More than {limit} requests with this API token in {_per(_window_s())}", wait)


# --- password tries ---------------------------------------------------------------------


def _user_ident(username: str) -> str:
    return _digest((username or "").strip().lower())


@dataclass
class PasswordTry:
    """One password try, counted (as wrong) from the moment it is allowed: parallel
    guesses cannot overrun a limit while their hashes are checked. `succeeded` takes it
    back and remembers the address as one this username signs in from."""

    username: str
    address: str
    member: Optional[str] = None
    counters: list[str] = field(default_factory=list)

    def succeeded(self, *, now: Optional[float] = None) -> None:
        now_s = time.time() if now is None else now
        known = keys.rate("known-addresses", _user_ident(self.username))
        try:
            with queues.redis_conn().pipeline() as pipe:
                if self.member is not None:
                    for key in self.counters:
                        pipe.zrem(key, self.member)
                if self.address:  # an unknown address is no one's usual one
                    pipe.zadd(known, {self.address: now_s})
                    pipe.zremrangebyrank(known, 0, -KNOWN_ADDRESSES_KEPT - 1)
                    pipe.expire(known, KNOWN_ADDRESS_DAYS * 86400)
                pipe.execute()
        except queues.REDIS_ERRORS as exc:
            log.warning("sign-in not recorded for the rate limits, Redis did not answer: %s", exc)


def _known_address(username: str, address: str, now_s: float) -> bool:
    if not address:
        return False
    try:
        seen = queues.redis_conn().zscore(keys.rate("known-addresses", _user_ident(username)), address)
    except queues.REDIS_ERRORS:
        return False
    return seen is not None and now_s - float(seen) < KNOWN_ADDRESS_DAYS * 86400


def password_try(username: str, address: str, *, now: Optional[float] = None) -> PasswordTry:
    """Allow one password try for `username` from client `address` (before its hash is
    checked), or raise RateLimited naming the wait. Call `succeeded()` on the result
    when the password was right; a wrong one stays counted."""
    s = get_settings()
    now_s = time.time() if now is None else now
    user, addr = _user_ident(username), _digest(address or "unknown")
    counters = {keys.rate("password", f"{user}:{addr}"): s.password_tries}
    if not _known_address(username, address, now_s):
        counters[keys.rate("password-user", user)] = s.password_tries_wide
        counters[keys.rate("password-address", addr)] = s.password_tries_wide
    member, wait = _try(counters, now_s)
    if wait:
        raise _refuse("Too many wrong passwords for this user", wait)
    return PasswordTry(username=username, address=address, member=member, counters=list(counters))
