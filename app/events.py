"""Job events on Redis pub/sub, published after each committed transition.

The database is the source of truth: an event that is lost (Redis down) costs a live
update, never a record, and a page that reconnects reads the database again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from app import keys, queues

log = logging.getLogger(__name__)


def publish(event: dict[str, Any]) -> bool:
    try:
        queues.redis_conn().publish(keys.events_channel(), json.dumps(event, default=str))
        return True
    except queues.REDIS_ERRORS as exc:  # the record is committed; only the push is lost
        log.warning("event for job %s not published: %s", event.get("job_id"), exc)
        return False


def add_to(pipe, batch: list[dict[str, Any]]) -> None:
    """Queue the publishes of `batch` on a caller's Redis pipeline, sent with whatever
    else it holds in one round trip (a worker's report that it finished the job)."""
    for event in batch:
        pipe.publish(keys.events_channel(), json.dumps(event, default=str))


def publish_many(batch: list[dict[str, Any]]) -> bool:
    """Publish several events in one round trip, in order."""
    if len(batch) == 1:
        return publish(batch[0])
    try:
        with queues.redis_conn().pipeline(transaction=False) as pipe:
            add_to(pipe, batch)
            pipe.execute()
        return True
    except queues.REDIS_ERRORS as exc:
        log.warning("events for job %s not published: %s", batch[0].get("job_id") if batch else None, exc)
        return False
