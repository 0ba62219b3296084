"""The audit log's flood guard: the same refusal again and again (a script retrying with
a revoked token, a password guesser) is written once per window, not once per try.

Two refusals are the same when actor, address, via, action, target and message are.
The first in a window of WINDOW_S seconds is written to the log; the others in that
window are only counted in Redis (one INCR), and the next entry of that refusal says
how many there were ("and 41 more like it before"). Nothing already written is ever
changed, so the hash chain stays as it was. A count whose refusal never comes again
stays in Redis for COUNT_TTL_S and is lost after.

When Redis does not answer, every refusal is written (logged): the log may grow, but
it never misses a refusal.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Optional

from app import keys, queues

log = logging.getLogger(__name__)

WINDOW_S = 60
COUNT_TTL_S = 24 * 3600
_SAME = ("actor", "address", "via", "action", "target", "message")


def _ident(values: dict[str, Any]) -> str:
    same = json.dumps([values.get(k, "") for k in _SAME], ensure_ascii=False)
    return hashlib.sha256(same.encode("utf-8")).hexdigest()[:32]


def admit(values: dict[str, Any]) -> Optional[str]:
    """None when this refusal is only counted; else what its entry adds to its message
    ('' or "and N more like it before")."""
    ident = _ident(values)
    window, count = keys.refusal_window(ident), keys.refusal_count(ident)
    try:
        r = queues.redis_conn()
        if not r.set(window, "1", nx=True, ex=WINDOW_S):
            pipe = r.pipeline()
            pipe.incr(count)
            pipe.expire(count, COUNT_TTL_S)
            pipe.execute()
            return None
        pipe = r.pipeline()
        pipe.get(count)
        pipe.delete(count)
        before = int(pipe.execute()[0] or 0)
    except Exception as exc:  # Redis away: write every refusal
        log.warning("the audit flood guard is off (Redis: %s)", exc)
        return ""
    return f"and {before} more like it before" if before else ""
