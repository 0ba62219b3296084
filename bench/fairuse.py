"""Fair use's count of a submitter's live submissions, at scale: a user and an address
with many live pipeline runs, among many finished ones. The count stops at the limit
(app.fairuse reads its partial index by run), so it costs the same at any size; the
full count of the same rows is shown for comparison.

    python -m bench.fairuse [--runs 100000] [--finished 200000] [--limit 15] [--repeat 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment, median_ms as _ms, private_redis  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000, help="live runs of the user, and of the address")
    ap.add_argument("--finished", type=int, default=200_000, help="finished pipeline jobs of the user")
    ap.add_argument("--limit", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with private_redis() as url:
        fresh_environment(url, args.database_url)
        import sqlalchemy as sa

        from app import fairuse
        from app.db import get_engine, session, utcnow, write_conn
        from app.models import Job

        _job = Job.__table__
        now = utcnow()
        n = 0

        def rows(count: int, *, owner: str, client_addr, status: str, per_run: int):
            for i in range(count):
                run = str(uuid.uuid4())
                for k in range(per_run):
                    yield dict(id=run if k == 0 else str(uuid.uuid4()), owner=owner, job_type="PIPELINE",
                               job_subtype="RUN_TASK", status=status, attempt=1, payload={}, workflow_id=run,
                               queue="pipeline", subject="", client_addr=client_addr, priority="normal",
                               created_at=now - timedelta(seconds=i), updated_at=now)

        t0 = time.perf_counter()
        for gen in (rows(args.runs, owner="hog", client_addr=None, status="PENDING", per_run=2),
                    rows(args.runs, owner="anonymous", client_addr="192.0.2.1", status="IN_PROGRESS", per_run=2),
                    rows(args.finished, owner="hog", client_addr=None, status="SUCCEEDED", per_run=1)):
            chunk = []
            for r in gen:
                chunk.append(r)
                if len(chunk) == 5000:
                    with write_conn() as conn:
                        conn.execute(sa.insert(_job), chunk)
                    n += len(chunk)
                    chunk = []
            if chunk:
                with write_conn() as conn:
                    conn.execute(sa.insert(_job), chunk)
                n += len(chunk)
        if get_engine().dialect.name == "postgresql":
            with get_engine().connect() as conn:
                conn.execute(sa.text("ANALYZE job"))
                conn.commit()
        print(f"seeded {n:,} jobs in {time.perf_counter() - t0:.1f} s: {args.runs:,} live runs of one user and "
              f"of one address (2 jobs each), {args.finished:,} finished ({get_engine().dialect.name})")

        def full():
            with session() as s:
                return s.connection().execute(
                    sa.select(sa.func.count(sa.distinct(_job.c.workflow_id)))
                    .where(_job.c.owner == "hog", _job.c.job_type == "PIPELINE",
                           _job.c.status.in_(["PENDING", "DEQUEUED", "IN_PROGRESS"]))).scalar()

        assert fairuse.live_submissions(owner="hog", client_addr=None, at_most=args.limit) == min(args.limit,
                                                                                                   args.runs)
        assert full() == args.runs
        user = _ms(lambda: fairuse.live_submissions(owner="hog", client_addr=None, at_most=args.limit), args.repeat)
        addr = _ms(lambda: fairuse.live_submissions(owner="", client_addr="192.0.2.1", at_most=args.limit),
                   args.repeat)
        fresh = _ms(lambda: fairuse.live_submissions(owner="nobody", client_addr=None, at_most=args.limit),
                    args.repeat)
        whole = _ms(full, max(3, args.repeat // 5))
        print(f"count up to {args.limit}: one user {user:.2f} ms, one address {addr:.2f} ms, "
              f"a submitter with none {fresh:.2f} ms")
        print(f"full count of the user's {args.runs:,} live runs: {whole:.2f} ms")
        print(f"ratio full/bounded = {whole / max(user, 1e-6):.1f}")


if __name__ == "__main__":
    main()
