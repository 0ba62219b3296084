"""The live listener's bursts, on a real Redis: a lodging and the start of what it
lodged reach each tab as one push, and that push leaves as soon as every lodged job
has started (not after the longest wait); after losing Redis it subscribes again."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time

import redis.asyncio as aioredis

from app import events, keys
from app.settings import get_settings
from app.state import live


class RecordingHub(live.Hub):
    """The real listener, with the bursts it would apply to tabs recorded instead."""

    def __init__(self) -> None:
        super().__init__()
        self.bursts: asyncio.Queue = asyncio.Queue()

    async def _dispatch(self, burst_events):
        await self.bursts.put(burst_events)


def _run(publish_after_subscribe, *, coalesce_s: float, monkeypatch, expect: int = 1, wait_s: float = 3.0):
    """Listen, publish, and return the bursts seen within WAIT_S (stopping at EXPECT)."""
    monkeypatch.setattr(live, "COALESCE_S", coalesce_s)

    async def main():
        hub = RecordingHub()
        conn = aioredis.Redis.from_url(get_settings().redis_url)
        try:
            async with conn.pubsub(ignore_subscribe_messages=True) as ps:
                await ps.subscribe(keys.events_channel())
                listener = asyncio.create_task(hub._listen(ps))
                try:
                    await asyncio.to_thread(publish_after_subscribe)
                    got = []
                    loop = asyncio.get_running_loop()
                    deadline = loop.time() + wait_s
                    while len(got) < expect and loop.time() < deadline:
                        try:
                            got.append(await asyncio.wait_for(hub.bursts.get(), deadline - loop.time()))
                        except asyncio.TimeoutError:
                            break
                    return got
                finally:
                    listener.cancel()
        finally:
            await conn.aclose()

    # A loop of its own in a thread of its own: an earlier test (Playwright's sync API)
    # may have left this thread with a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _lodged(*ids: str) -> dict:
    return {"kind": "lodged", "owner": "alice", "batch_id": None, "count": len(ids), "job_ids": list(ids)}


def _job(job_id: str, status: str) -> dict:
    return {"kind": "job", "job_id": job_id, "owner": "alice", "status": status}


def test_a_lodging_and_its_start_are_one_burst_that_leaves_once_started(jobdeck, monkeypatch):
    def publish():
        events.publish(_lodged("a"))
        events.publish(_job("a", "DEQUEUED"))  # taken, not started: the burst still waits
        events.publish(_job("a", "IN_PROGRESS"))

    # The longest wait is far beyond what the test waits for: the burst must leave early.
    got = _run(publish, coalesce_s=30.0, monkeypatch=monkeypatch, wait_s=5.0)
    assert len(got) == 1, "the burst waited for its longest wait although its job had started"
    assert [(e["kind"], e.get("status")) for e in got[0]] == [
        ("lodged", None), ("job", "DEQUEUED"), ("job", "IN_PROGRESS")]


def test_a_burst_waits_for_every_job_it_lodged(jobdeck, monkeypatch):
    def publish():
        events.publish(_lodged("a", "b"))
        events.publish(_job("a", "IN_PROGRESS"))
        time.sleep(0.2)  # b is taken later, within the wait
        events.publish(_job("b", "SUCCEEDED"))

    got = _run(publish, coalesce_s=3.0, monkeypatch=monkeypatch)
    assert len(got) == 1
    assert [(e.get("job_id"), e.get("status")) for e in got[0]] == [
        (None, None), ("a", "IN_PROGRESS"), ("b", "SUCCEEDED")]


def test_a_lodging_no_worker_takes_is_pushed_after_the_wait(jobdeck, monkeypatch):
    def publish():
        events.publish(_lodged("a"))

    got = _run(publish, coalesce_s=0.3, monkeypatch=monkeypatch)
    assert got == [[_lodged("a")]]


def test_transitions_without_a_lodging_are_pushed_at_once_and_bad_events_skipped(jobdeck, monkeypatch):
    def publish():
        events.publish(_job("a", "SUCCEEDED"))

    got = _run(publish, coalesce_s=30.0, monkeypatch=monkeypatch, wait_s=5.0)
    assert got == [[_job("a", "SUCCEEDED")]]

    def publish_malformed():
        from app import queues

        queues.redis_conn().publish(keys.events_channel(), "not json")
        events.publish(_job("b", "FAILED"))

    got = _run(publish_malformed, coalesce_s=30.0, monkeypatch=monkeypatch, wait_s=5.0)
    assert json.dumps(got) == json.dumps([[_job("b", "FAILED")]])


def test_the_listener_subscribes_again_after_losing_redis(jobdeck, redis_server, monkeypatch):
    """The lifespan task (Hub.run) with the tests' Redis server restarted under it: once
    Redis is back it subscribes again, has every tab read its page afresh (a burst of
    None: events may have been missed) and delivers events again."""
    from app import queues

    monkeypatch.setattr(live, "COALESCE_S", 0.0)

    async def next_burst(hub: RecordingHub, what: str, timeout: float = 30.0):
        try:
            return await asyncio.wait_for(hub.bursts.get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no burst within {timeout} s: {what}") from None

    async def main():
        hub = RecordingHub()
        runner = asyncio.create_task(hub.run(app=None))
        try:
            await asyncio.wait_for(hub.connected.wait(), 15)
            await asyncio.to_thread(events.publish, _job("a", "SUCCEEDED"))
            assert await next_burst(hub, "before the restart") == [_job("a", "SUCCEEDED")]

            await asyncio.to_thread(redis_server.stop)
            queues.reset_connections()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while hub.connected.is_set():  # it notices the loss
                assert loop.time() < deadline, "the listener did not notice that Redis went away"
                await asyncio.sleep(0.05)
            await asyncio.to_thread(redis_server.start)  # same port, nothing kept
            queues.reset_connections()

            assert await next_burst(hub, "the re-read after reconnecting") is None
            assert hub.connected.is_set()
            await asyncio.to_thread(events.publish, _job("b", "FAILED"))
            assert await next_burst(hub, "after the restart") == [_job("b", "FAILED")]
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()
