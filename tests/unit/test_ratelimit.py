"""The rate limits' sliding window, on the tests' real Redis with an injected clock: a
count never resets at a calendar boundary, a try leaves the window exactly one window
after it was made, and password tries are limited per (username, address) strictly and
per username or address widely, with an owner's usual address spared the wide limits."""

from __future__ import annotations

import pytest

from app import ratelimit
from app.errors import RateLimited
from app.settings import reload_settings

# Just before a minute boundary: a fixed one-minute window would start afresh 2 s later.
T0 = 1_800_000_000 // 60 * 60 + 59.0


@pytest.fixture
def limits(jobdeck, monkeypatch):
    def set_(**env):
        for k, v in env.items():
            monkeypatch.setenv(f"JOBDECK_{k.upper()}", str(v))
        return reload_settings()
    return set_


def test_api_requests_are_counted_over_a_sliding_window_not_per_calendar_minute(limits):
    limits(api_rate_limit=3, rate_window_s=60)
    for dt in (0, 0.5, 1.0):  # three requests in the last second of a minute
        ratelimit.check_token("jdk_a", now=T0 + dt)
    with pytest.raises(RateLimited, match="More than 3 requests with this API token in a minute") as refused:
        ratelimit.check_token("jdk_a", now=T0 + 2)  # the next minute has begun: still the same window
    assert refused.value.retry_after == 58  # when the first request leaves the window
    with pytest.raises(RateLimited):
        ratelimit.check_token("jdk_a", now=T0 + 59.9)
    ratelimit.check_token("jdk_a", now=T0 + 60.001)  # the first left the window: room for one
    with pytest.raises(RateLimited):
        ratelimit.check_token("jdk_a", now=T0 + 60.2)
    ratelimit.check_token("jdk_b", now=T0 + 2)  # another token has its own count


def test_refused_requests_do_not_count_and_a_small_window_setting_applies(limits):
    limits(api_rate_limit=2, rate_window_s=5)
    ratelimit.check_token("jdk_a", now=T0)
    ratelimit.check_token("jdk_a", now=T0 + 1)
    for dt in (1.5, 2, 3, 4.9):
        with pytest.raises(RateLimited, match="in 5 s"):
            ratelimit.check_token("jdk_a", now=T0 + dt)
    ratelimit.check_token("jdk_a", now=T0 + 5.01)  # only the two allowed ones were counted
    limits(api_rate_limit=0)
    for _ in range(50):  # 0 turns the limit off
        ratelimit.check_token("jdk_a", now=T0 + 5.02)


def test_parallel_guesses_cannot_overrun_the_limit(limits):
    limits(password_tries=3, password_tries_wide=100)
    tries = [ratelimit.password_try("bob", "203.0.113.9", now=T0) for _ in range(3)]
    with pytest.raises(RateLimited):  # three under way, none answered yet: the fourth waits
        ratelimit.password_try("bob", "203.0.113.9", now=T0)
    tries[0].succeeded(now=T0)  # a right password is taken back
    ratelimit.password_try("bob", "203.0.113.9", now=T0)


def test_password_tries_per_address_strictly_and_per_user_widely(limits):
    limits(password_tries=3, password_tries_wide=5, rate_window_s=60)
    ratelimit.password_try("bob", "198.51.100.1", now=T0).succeeded(now=T0)  # bob's usual address
    for _ in range(3):
        ratelimit.password_try("bob", "203.0.113.9", now=T0)  # a guesser, wrong each time
    with pytest.raises(RateLimited, match="Too many wrong passwords for this user"):
        ratelimit.password_try("bob", "203.0.113.9", now=T0 + 1)
    # From a second and third address the guesser reaches bob's wide limit (5)...
    ratelimit.password_try("bob", "203.0.113.10", now=T0 + 1)
    ratelimit.password_try("bob", "203.0.113.10", now=T0 + 1)
    with pytest.raises(RateLimited):
        ratelimit.password_try("bob", "203.0.113.11", now=T0 + 2)
    # ...which holds back every address bob never signed in from, but not his usual one.
    ratelimit.password_try("bob", "198.51.100.1", now=T0 + 2).succeeded(now=T0 + 2)
    with pytest.raises(RateLimited):
        ratelimit.password_try("bob", "192.0.2.44", now=T0 + 2)
    # Strict still applies at the usual address: three wrong from there and it waits too.
    for _ in range(3):
        ratelimit.password_try("bob", "198.51.100.1", now=T0 + 3)
    with pytest.raises(RateLimited):
        ratelimit.password_try("bob", "198.51.100.1", now=T0 + 3)
    ratelimit.password_try("bob", "198.51.100.1", now=T0 + 63.5)  # the window slid past them
    ratelimit.password_try("alice", "203.0.113.11", now=T0 + 3)  # other users are not held


def test_an_unknown_address_is_never_a_usual_one(limits):
    limits(password_tries=5, password_tries_wide=2)
    ratelimit.password_try("bob", "", now=T0).succeeded(now=T0)  # signed in, address unknown
    for _ in range(2):
        ratelimit.password_try("bob", "203.0.113.9", now=T0)
    with pytest.raises(RateLimited):  # held by the wide limit like any other address
        ratelimit.password_try("bob", "", now=T0)


def test_one_address_guessing_many_users_meets_the_wide_limit(limits):
    limits(password_tries=3, password_tries_wide=4)
    for name in ("u1", "u2", "u3", "u4"):
        ratelimit.password_try(name, "203.0.113.9", now=T0)
    with pytest.raises(RateLimited):
        ratelimit.password_try("u5", "203.0.113.9", now=T0)
    ratelimit.password_try("u5", "198.51.100.7", now=T0)  # another address is not held


def test_the_limits_step_aside_when_redis_does_not_answer(limits, redis_server):
    limits(api_rate_limit=1, password_tries=1)
    redis_server.stop()
    try:
        for _ in range(3):
            ratelimit.check_token("jdk_a")
            ratelimit.password_try("bob", "203.0.113.9").succeeded()
    finally:
        redis_server.start()
