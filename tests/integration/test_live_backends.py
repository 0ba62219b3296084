"""Several web backends: each listener updates the tabs connected to its own process.
Reflex's Redis token manager (real, on the tests' Redis) also caches tabs connected to
another backend when it looks them up to forward a push; a tab that reconnected to
backend B is B's to update, so A's listener drops its watch instead of computing every
push for it a second time."""

from __future__ import annotations

import asyncio
import concurrent.futures
from types import SimpleNamespace

import redis.asyncio as aioredis
from reflex.utils.token_manager import RedisTokenManager

from app.state.live import Hub


def test_a_tab_that_moved_to_another_backend_is_not_this_listeners(redis_server):
    url = redis_server.url.rsplit("/", 1)[0] + "/5"  # a database of its own: others flush 0

    async def scenario() -> tuple[set, set, bool]:
        a, b = RedisTokenManager(aioredis.Redis.from_url(url)), RedisTokenManager(aioredis.Redis.from_url(url))
        try:
            await a.link_token_to_sid("tab-here", "sid-1")
            await a.link_token_to_sid("tab-moved", "sid-2")
            # The tab leaves A and reconnects to B; A then looks it up (to forward a push).
            await a.disconnect_token("tab-moved", "sid-2")
            await b.link_token_to_sid("tab-moved", "sid-9")
            found = await a.is_token_connected("tab-moved")
            hub = Hub()
            hub.app = SimpleNamespace(event_namespace=SimpleNamespace(_token_manager=a,
                                                                      token_to_sid=a.token_to_sid))
            return set(a.token_to_sid), hub._live_tokens(), found
        finally:
            for m in (a, b):
                await m.redis.delete(m._get_redis_key("tab-here"), m._get_redis_key("tab-moved"))
                await m.close()

    # In a thread of its own: after the Playwright tests the main thread has an event loop running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        cached, live, found = pool.submit(asyncio.run, scenario()).result()
    assert found and cached == {"tab-here", "tab-moved"}  # Reflex's map holds B's tab too
    assert live == {"tab-here"}
