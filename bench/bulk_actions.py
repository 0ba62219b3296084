"""Bulk actions at scale: a user with many live jobs among many finished ones. The
count a filter states comes from the kept counts (or a bounded read of its index), a
chunk of the walk costs the same at any depth (keyset), and a bulk cancel's, retry's
and delete's chunk is set-based (one guarded statement and one transaction a chunk),
against the same jobs acted on one by one. Then BY_FILTER queued jobs cancelled, then
retried, then deleted by a filter end to end (the bulk job lodged, run by a worker,
ended), set-based against the per-job path of before in the same run, with the ratio.

    python -m bench.bulk_actions [--live 20000] [--finished 20000] [--act 500] [--chunk 500]
                                 [--by-filter 10000] [--database-url URL]
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
    ap.add_argument("--live", type=int, default=20_000, help="PENDING jobs of the user")
    ap.add_argument("--finished", type=int, default=20_000, help="SUCCEEDED jobs of the user")
    ap.add_argument("--act", type=int, default=500, help="jobs cancelled each way (bulk, one by one)")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--by-filter", type=int, default=10_000,
                    help="queued jobs cancelled by a filter end to end, each way (0: not measured)")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with private_redis() as url:
        fresh_environment(url, args.database_url)
        import sqlalchemy as sa

        from app import auth, bulk_actions, bulk_filter, counts, launch
        from app.db import get_engine, utcnow, write_conn
        from app.models import Job
        from bench import per_job

        _job = Job.__table__
        alice = auth.create_user(username="alice", password="alice-password")
        now = utcnow()
        t0 = time.perf_counter()
        n, chunk = 0, []
        both = 2 * min(args.live, args.finished)  # interleaved, then the rest of the larger
        for i in range(args.live + args.finished):
            live = i % 2 == 0 if i < both else args.live > args.finished
            chunk.append(dict(id=str(uuid.uuid4()), owner="alice", job_type="SYSTEM", job_subtype="NOOP",
                              status="PENDING" if live else "SUCCEEDED", attempt=1, payload={}, queue="system",
                              subject="", priority="normal", created_at=now - timedelta(milliseconds=i),
                              updated_at=now))
            if len(chunk) == 5000:
                with write_conn() as conn:
                    conn.execute(sa.insert(_job), chunk)
                n, chunk = n + len(chunk), []
        if chunk:
            with write_conn() as conn:
                conn.execute(sa.insert(_job), chunk)
            n += len(chunk)
        counts.rebuild()
        if get_engine().dialect.name == "postgresql":
            with get_engine().connect() as conn:
                conn.execute(sa.text("ANALYZE job"))
                conn.commit()
        kept = counts.read("alice")
        print(f"seeded {n:,} jobs in {time.perf_counter() - t0:.1f} s: {kept['PENDING']:,} PENDING, "
              f"{kept['SUCCEEDED']:,} SUCCEEDED ({get_engine().dialect.name})")

        plain = bulk_filter.parse(alice, "cancel", {})
        typed = bulk_filter.parse(alice, "cancel", {"job_type": "SYSTEM"})
        kept_ms = _ms(lambda: bulk_filter.count(plain))
        read_ms = _ms(lambda: bulk_filter.count(typed))
        print(f"count of a filter: kept counts {kept_ms:.2f} ms ({bulk_filter.count(plain).n:,}), "
              f"index read up to {bulk_filter.COUNT_CAP:,} {read_ms:.2f} ms")

        conds = bulk_filter.passes(plain)[0]  # the PENDING pass
        from app.db import session

        def page_at(depth: int):
            q = sa.select(_job.c.created_at, _job.c.id).where(*conds).order_by(
                _job.c.created_at.desc(), _job.c.id.desc()).offset(depth).limit(1)
            with session() as s:
                after = tuple(s.connection().execute(q).first())
            return lambda: session_rows(bulk_filter.page_query(conds, chunk=args.chunk, after=after))

        def session_rows(q):
            with session() as s:
                return s.connection().execute(q).all()

        first = _ms(lambda: session_rows(bulk_filter.page_query(conds, chunk=args.chunk)))
        deep = _ms(page_at(max(0, int(kept["PENDING"] * 0.9) - args.chunk)))
        print(f"a chunk of {args.chunk} PENDING jobs: first {first:.2f} ms, at 90 % {deep:.2f} ms, "
              f"ratio deep/first {deep / max(first, 1e-6):.2f}")

        act = min(args.act, kept["PENDING"] // 2)
        with session() as s:
            ids = list(s.connection().execute(sa.select(_job.c.id).where(_job.c.status == "PENDING")
                                               .order_by(_job.c.created_at).limit(act)).scalars())
        t0 = time.perf_counter()
        for jid in ids:
            launch.cancel_job(actor=alice, job_id=jid)
        single = (time.perf_counter() - t0) * 1000 / max(len(ids), 1)
        done_before = counts.read("alice")["CANCELLED"]
        t0 = time.perf_counter()
        summary = _cancel_newest(bulk_actions, bulk_filter, alice, act, args.chunk)
        bulk = (time.perf_counter() - t0) * 1000 / max(summary.acted, 1)
        assert counts.read("alice")["CANCELLED"] - done_before == summary.acted == act
        print(f"cancel {act} jobs: one by one {single:.2f} ms per job, bulk in chunks of {args.chunk} "
              f"{bulk:.2f} ms per job ({summary.text}); ratio bulk/single {bulk / max(single, 1e-6):.2f}")
        # Retry the jobs just cancelled, then delete them (as an admin, while they wait
        # again): the first half one by one, the other set-based in chunks.
        root = auth.create_user(username="root", password="root-password", role="admin")
        with session() as s:
            ids = list(s.connection().execute(sa.select(_job.c.id).where(_job.c.status == "CANCELLED")
                                               .order_by(_job.c.created_at, _job.c.id)).scalars())
        half = len(ids) // 2
        for action, actor, one in (("retry", alice, lambda j: launch.retry_job(actor=alice, job_id=j)),
                                   ("delete", root, lambda j: per_job.delete_one_by_one(actor=root, job_ids=[j]))):
            t0 = time.perf_counter()
            for jid in ids[:half]:
                one(jid)
            single = (time.perf_counter() - t0) * 1000 / max(half, 1)
            t0 = time.perf_counter()
            summary = bulk_actions.Summary(action)
            for i in range(half, len(ids), args.chunk):
                summary.add(bulk_actions._ON_IDS[action](actor=actor, job_ids=ids[i:i + args.chunk],
                                                         bulk_job_id="bench"))
            bulk = (time.perf_counter() - t0) * 1000 / max(summary.acted, 1)
            assert summary.acted == len(ids) - half, summary.text
            print(f"{action} {summary.acted} jobs: one by one {single:.2f} ms per job, bulk in chunks of "
                  f"{args.chunk} {bulk:.2f} ms per job ({summary.text}); ratio bulk/single "
                  f"{bulk / max(single, 1e-6):.2f}")
        with get_engine().connect() as conn:
            assert counts.kept(conn) == counts.recount(conn)
        if args.by_filter:
            _by_filter(args.by_filter, args.chunk)


def _cancel_newest(bulk_actions, bulk_filter, actor, n: int, chunk: int):
    """The bulk job's own loop (app.bulk_actions.carry_out) over the newest `n` live jobs."""
    f = bulk_filter.parse(actor, "cancel", {"status": "PENDING"})
    total = bulk_actions.Summary("cancel")
    for _read, rows in bulk_filter.walk(f, chunk=chunk):
        rows = rows[:n - total.acted]
        if not rows:
            break
        total.add(bulk_actions.cancel_jobs(actor=actor, job_ids=[r.id for r in rows], bulk_job_id="bench"))
    return total


# The bulk actions' chunks as they were before they were set-based, each job through the
# single action (one transaction a job), with one audit entry a chunk as now.

def _by_filter(n: int, chunk: int) -> None:
    """`n` queued jobs of carol and `n` of dave (each user's on a backend of its own, in
    lodging order: the newest at each queue's tail, as lodged), each cancelled by the
    filter "all my jobs" through the bulk job, run by a worker to its end, then retried
    the same way (their new attempts queued again), then deleted by an admin's filter
    "all of this owner's jobs" (each cancelled first): carol's by the per-job path of
    before (the single action per job, one audit entry a chunk), dave's set-based.
    Seconds end to end each, and the ratio."""
    import sqlalchemy as sa

    from app import auth, bulk_actions, counts, queues
    from app.db import get_engine, session, utcnow, write_conn
    from app.models import Job
    from bench import per_job
    from worker.pool import work

    _job = Job.__table__
    now = utcnow()
    who = {}
    for name, backend in (("carol", "bench-a"), ("dave", "bench-b")):
        who[name] = auth.create_user(username=name, password=f"{name}-password")
        rows = [dict(id=str(uuid.uuid4()), owner=name, job_type="SYSTEM", job_subtype="NOOP", status="PENDING",
                     attempt=1, payload={}, queue=backend, subject="", priority="normal",
                     created_at=now + timedelta(milliseconds=i), updated_at=now) for i in range(n)]
        for i in range(0, n, 5000):
            with write_conn() as conn:
                conn.execute(sa.insert(_job), rows[i:i + 5000])
        queues.enqueue([(r["id"], 1, backend, 60) for r in rows])
    counts.rebuild()
    if get_engine().dialect.name == "postgresql":
        with get_engine().connect() as conn:
            conn.execute(sa.text("ANALYZE job"))
            conn.commit()

    root = auth.find_user("root")  # the admin who deletes (main made it)

    def end_to_end(actor, action: str, filters: dict) -> tuple[float, str]:
        t0 = time.perf_counter()
        lodged = bulk_actions.lodge_bulk(actor=actor, action=action, filters=filters, chunk=chunk)
        work(burst=True, backends=["system"])  # the bulk job's backend; the jobs' own are not served
        took = time.perf_counter() - t0
        with session() as s:
            job = s.get(Job, lodged.job.id)
        assert job.status == "SUCCEEDED", (job.status, job.last_message)
        return took, (job.result or {}).get("summary", "")

    # Each action on carol's jobs by the per-job path of before, then on dave's set-based.
    for action, left_as in (("cancel", "CANCELLED"), ("retry", "PENDING"), ("delete", None)):
        took = {}
        for name in ("carol", "dave"):
            actor, filters = (root, {"owner": name}) if action == "delete" else (who[name], {})
            saved = bulk_actions._ON_IDS[action]
            if name == "carol":
                bulk_actions._ON_IDS[action] = per_job.as_bulk_call(action, per_job.ONE_BY_ONE[action])
            try:
                took[name] = end_to_end(actor, action, filters)
            finally:
                bulk_actions._ON_IDS[action] = saved
        kept = {name: counts.read(name) for name in who}
        for name in who:  # (the user's own bulk jobs SUCCEEDED, until the delete takes them too)
            jobs = {s: k for s, k in kept[name].items() if k and (s != "SUCCEEDED" or left_as is None)}
            assert jobs == ({left_as: n} if left_as else {}), (action, kept[name])
        queued = [queues.queue(b).count for b in ("bench-a", "bench-b")]
        assert queued == ([n, n] if action == "retry" else [0, 0]), (action, queued)
        with get_engine().connect() as conn:
            assert counts.kept(conn) == counts.recount(conn)
        (old_s, old_said), (new_s, new_said) = took["carol"], took["dave"]
        print(f"{action} {n:,} {'queued ' if action == 'cancel' else ''}jobs by a filter, end to end (bulk job "
              f"lodged, run, ended; chunks of {chunk}): per job {old_s:.2f} s ({old_said}), set-based "
              f"{new_s:.2f} s ({new_said}); ratio per-job/set-based {old_s / max(new_s, 1e-6):.1f}")


if __name__ == "__main__":
    main()
