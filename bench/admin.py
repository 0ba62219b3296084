"""What the admin pages cost: a page of the submissions list near the top and deep
down, for everyone and for one owner, and the reads of one overview refresh.

    python -m bench.admin [--roots 20000] [--batches 100] [--batch-size 200]

Seeds a fresh SQLite database directly (no workers): ROOTS standalone jobs over three
owners, each with one workflow step after it (as a registry workflow has), and BATCHES
batches of BATCH_SIZE jobs lodged at once (owner "bulk", as a CSV registration lodges
them). Then, 30 times each, p50 in ms:

1. list_submissions, first page of 25 and a page 90 % of the way down (keyset cursor),
   for everyone and for one owner: the ratio deep / first says whether depth costs.
2. one overview refresh: status counts of every user's jobs, and the stuck-job scan.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_environment, private_redis  # noqa: E402


def _p50(fn, n: int = 30) -> float:
    fn()  # warm
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def seed(roots: int, batches: int, batch_size: int) -> int:
    import sqlalchemy as sa

    from app.db import utcnow, write_conn
    from app.models import Batch, Job
    from app.columns import new_id

    job, batch = Job.__table__, Batch.__table__
    t0 = utcnow() - timedelta(days=30)
    rows, brows = [], []
    owners = ["alice", "bob", "carol"]

    def row(i: int, **kw):
        at = t0 + timedelta(milliseconds=i)
        base = dict(id=new_id(), owner=owners[i % 3], job_type="SYSTEM", job_subtype="NOOP", status="SUCCEEDED",
                    attempt=1, payload={}, queue="system", last_message="Succeeded", created_at=at, updated_at=at,
                    batch_id=None, parent_job_id=None)
        base.update(kw)
        base.setdefault("workflow_id", base["id"])
        return base

    n = 0
    per = max(1, roots // max(1, batches))
    for i in range(roots):
        r = row(n)
        n += 1
        rows.append(r)
        rows.append(row(n, parent_job_id=r["id"], workflow_id=r["id"]))
        n += 1
        if batches and i % per == 0 and len(brows) < batches:
            bid = new_id()
            at = t0 + timedelta(milliseconds=n)
            brows.append(dict(id=bid, owner="bulk", label=f"bulk {len(brows)}", created_at=at, total=batch_size,
                              pending=0, dequeued=0, in_progress=0, succeeded=batch_size, failed=0, crashed=0,
                              cancelled=0))
            for _ in range(batch_size):
                rows.append(row(n, owner="bulk", batch_id=bid))
                n += 1
    with write_conn() as conn:
        for k in range(0, len(rows), 5000):
            conn.execute(sa.insert(job), rows[k:k + 5000])
        if brows:
            conn.execute(sa.insert(batch), brows)
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--roots", type=int, default=20000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=200)
    args = ap.parse_args()
    with private_redis() as redis_url:
        fresh_environment(redis_url)
        from app import queries, submissions, workers
        from app.models import User
        from app.registry import encode_cursor

        admin = User(username="root", display_name="", role="admin", password_hash="")
        t = time.perf_counter()
        total = seed(args.roots, args.batches, args.batch_size)
        print(f"seeded {total} jobs ({args.roots} submissions of 2 jobs, {args.batches} batches of "
              f"{args.batch_size}) in {time.perf_counter() - t:.1f} s")

        def deep_cursor(owner):
            # the keyset position 90 % of the way down, as many "load more" clicks would reach
            everything = []
            cursor = None
            while True:
                p = submissions.list_submissions(viewer=admin, owner=owner, cursor=cursor, limit=500)
                everything += p.submissions
                cursor = p.next_cursor
                if not cursor:
                    break
            s = everything[int(len(everything) * 0.9)]
            return encode_cursor(s.created_at, s.id), len(everything)

        for owner in (None, "alice"):
            cursor, count = deep_cursor(owner)
            first = _p50(lambda: submissions.list_submissions(viewer=admin, owner=owner, limit=25))
            deep = _p50(lambda: submissions.list_submissions(viewer=admin, owner=owner, cursor=cursor, limit=25))
            who = owner or "everyone"
            print(f"submissions of {who} ({count}): first page {first:.2f} ms, page at 90 % {deep:.2f} ms, "
                  f"ratio deep/first {deep / first:.2f}")
        counts = _p50(lambda: queries.status_counts(viewer=admin, all_users=True))
        stuck = _p50(lambda: workers.stuck_jobs())
        status = _p50(lambda: workers.backend_status())
        print(f"overview refresh: status counts {counts:.2f} ms, stuck jobs {stuck:.2f} ms, "
              f"backend status {status:.2f} ms (every 3 s per open overview)")


if __name__ == "__main__":
    main()
