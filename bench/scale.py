"""Reads at scale: every list, filter and count of the console and the API, at 10,000 jobs
and at N, side by side.

    python -m bench.scale [--jobs 1000000] [--database-url URL] [--repeat 15]
    python -m bench.scale --measure-only --database-url URL   # again, on what an earlier run seeded

Seeds jobs straight into a database of its own (a new SQLite file by default; with
--database-url an empty PostgreSQL or SQLite database, which it refuses unless it is
empty or one this benchmark seeded before): a realistic mix of owners (one user holds
95% of the jobs, as the heaviest user of a registry would), statuses (mostly
SUCCEEDED, a few FAILED, rare CRASHED), job types, workflows of two steps on items,
small batches and one large batch (up to 100,000 jobs), and the counts rebuilt as
`python -m app.manage rebuild-counts` does. It measures at 10,000 jobs, grows the same
database to N, and measures again, calling the domain functions the pages and the API
call (server side, in this process), each --repeat times; then prints median and max
per read, and the ratio of the medians N / 10k (the goal: every ratio <= 1.5, every
first page <= 5 ms at 1,000,000 on SQLite). On PostgreSQL it gathers the planner's
statistics after seeding (ANALYZE), as autovacuum does on a live database.

With --measure-only it seeds nothing: it measures the database an earlier run seeded (the
given URL, which must hold this benchmark's marker), at the size it has, once; so a
change can be measured on the same million jobs without seeding them again.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

MARKER = "jobdeck_bench_scale"  # the table that says this benchmark seeded the database
BASE = 10_000
HEAVY = "alice"
OWNERS = [HEAVY] + [f"user{i:02d}" for i in range(1, 40)]
STATUSES = [("SUCCEEDED", 0.90), ("FAILED", 0.04), ("CANCELLED", 0.02), ("PENDING", 0.02),
            ("IN_PROGRESS", 0.01), ("DEQUEUED", 0.0095), ("CRASHED", 0.0005)]
PAGE = 25
DEEP = 400  # "page 400"


class Refused(SystemExit):
    pass


def prepare(url: Optional[str]) -> str:
    """The database to seed: a new SQLite file, or the one given if it is empty or ours."""
    if not url:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='jobdeck-scale-')}/scale.db"
    eng = sa.create_engine(url)
    tables = set(sa.inspect(eng).get_table_names())
    eng.dispose()
    if tables and MARKER not in tables:
        raise Refused(f"refused: {url} already holds tables ({', '.join(sorted(tables)[:5])}…) that this "
                      f"benchmark did not create; give it an empty database. Nothing was changed.")
    os.environ["JOBDECK_DATABASE_URL"] = url
    os.environ.setdefault("JOBDECK_DATA_DIR", tempfile.mkdtemp(prefix="jobdeck-scale-data-"))
    from app.db import dispose_engines, get_engine, migrate
    from app.settings import reload_settings

    dispose_engines()
    reload_settings()
    if tables:  # seeded before: start again from nothing
        from app.models import TABLES
        with get_engine().begin() as conn:
            TABLES.drop_all(conn)
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {MARKER}"))
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    with get_engine().begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {MARKER} (seeded_at VARCHAR(40))"))
    migrate()
    return url


class Seeder:
    """Adds jobs (with one history line each), items, workflows and batches."""

    def __init__(self, total: int, seed: int = 7):
        self.rng = random.Random(seed)
        self.total = total
        self.n = 0
        self.t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.big_batch = "batch-big"
        self.big_size = min(100_000, max(total // 10, 100))
        self.big_left = 0
        self.big_had = 0
        self.rows_in: dict[str, int] = {}  # batch id -> rows numbered so far
        self.items: list[str] = []
        self.sample_ids: dict[str, str] = {}

    @classmethod
    def of_seeded(cls) -> "Seeder":
        """What a later measurement needs of a database seeded before: its size, the
        large batch's, a REGISTRY job and an item in the middle."""
        from app.db import get_engine
        from app.models import Item, Job

        job, item = Job.__table__, Item.__table__
        with get_engine().connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(job)).scalar_one()
            seeder = cls(total)
            seeder.n = total
            seeder.big_had = conn.execute(sa.select(sa.func.count()).select_from(job)
                                          .where(job.c.batch_id == seeder.big_batch)).scalar_one()
            seeder.sample_ids["REGISTRY"] = conn.execute(sa.select(job.c.id).where(job.c.job_type == "REGISTRY")
                                                         .limit(1)).scalar_one()
            items = conn.execute(sa.select(sa.func.count()).select_from(item)).scalar_one()
            seeder.items = [conn.execute(sa.select(item.c.id).order_by(item.c.created_at, item.c.id)
                                         .offset(items // 2).limit(1)).scalar_one()]
        return seeder

    def _status(self) -> str:
        x, acc = self.rng.random(), 0.0
        for s, p in STATUSES:
            acc += p
            if x < acc:
                return s
        return "SUCCEEDED"

    def grow(self, to: int, *, big_batch: int) -> None:
        """Add jobs up to `to` in all, the large batch among them up to `big_batch` jobs."""
        from app.db import get_engine
        from app.models import Batch, Item, Job, JobMessage

        job, msg, item, batch = Job.__table__, JobMessage.__table__, Item.__table__, Batch.__table__
        eng = get_engine()
        chunk = 20_000
        self.big_left = big_batch - self.big_had
        self.big_had = big_batch
        first = True
        while self.n < to:
            jobs, msgs, items, batches = [], [], [], []
            for _ in range(min(chunk, to - self.n)):
                self.n += 1
                at = self.t0 + timedelta(seconds=self.n * 3)
                owner = HEAVY if self.rng.random() < 0.95 else self.rng.choice(OWNERS[1:])
                status = self._status()
                jid = str(uuid.UUID(int=self.rng.getrandbits(128)))
                row = dict(id=jid, owner=owner, status=status, attempt=1, payload={}, queue="system",
                           job_type="SYSTEM", job_subtype="NOOP", last_message=status.lower(),
                           created_at=at, updated_at=at, batch_id=None, workflow_id=jid, parent_job_id=None,
                           entity_id=None, step=None, prev_status=None, result=None, info=None,
                           error_detail=None, progress=None, lineage_key=None, idempotency_key=None,
                           worker=None, dequeued_at=None, started_at=None, finished_at=None)
                kind = self.rng.random()
                if self.big_left > 0:
                    self.big_left -= 1
                    row.update(batch_id=self.big_batch, job_type="PROV_LODGE", job_subtype="MODEL_RUN_PROV_LODGE",
                               queue="prov")
                elif kind < 0.30:  # an item's create workflow: register, then lodge its activity
                    iid = str(uuid.UUID(int=self.rng.getrandbits(128)))
                    items.append(dict(id=iid, subtype=self.rng.choice(["DATASET", "MODEL", "PERSON"]),
                                      display_name=f"item {self.n}", description="", owner=owner, version=1,
                                      record={}, record_status="LODGED", create_workflow_id=jid,
                                      created_at=at, updated_at=at))
                    row.update(job_type="REGISTRY", job_subtype="REGISTER_CREATE_ACTIVITY", queue="registry",
                               entity_id=iid)
                    self.items.append(iid)
                elif kind < 0.50 and self.items:  # its second step
                    row.update(job_type="PROV_LODGE", job_subtype="LODGE_CREATE_ACTIVITY", queue="prov",
                               entity_id=self.items[-1])
                    prev = jobs[-1] if jobs else None
                    if prev and prev["job_type"] == "REGISTRY":
                        row.update(workflow_id=prev["id"], parent_job_id=prev["id"], step=2)
                elif kind < 0.65:  # small batches of model runs
                    bid = f"batch-{self.n // 50}"
                    if not batches or batches[-1]["id"] != bid:
                        batches.append(dict(id=bid, owner=owner, label="runs", created_at=at, total=0, pending=0,
                                            dequeued=0, in_progress=0, succeeded=0, failed=0, crashed=0,
                                            cancelled=0))
                    row.update(batch_id=bid, owner=batches[-1]["owner"], job_type="PROV_LODGE",
                               job_subtype="MODEL_RUN_PROV_LODGE", queue="prov")
                elif kind < 0.75:
                    row.update(job_type="PIPELINE", job_subtype="RUN_TASK", queue="pipeline")
                if row["batch_id"]:
                    n = self.rows_in[row["batch_id"]] = self.rows_in.get(row["batch_id"], 0) + 1
                    row["batch_row"] = n
                row.setdefault("batch_row", None)
                row.update(lodged_at=at, lodged_by=owner, subject=f"{row['job_type'].lower()} {self.n}",
                           ran_ms=None)
                if status in ("SUCCEEDED", "FAILED", "CRASHED", "IN_PROGRESS"):  # it ran (and ended)
                    ran = self.rng.randint(5, 600_000)
                    row["started_at"] = at + timedelta(seconds=1)
                    if status != "IN_PROGRESS":
                        row.update(finished_at=row["started_at"] + timedelta(milliseconds=ran), ran_ms=ran)
                jobs.append(row)
                msgs.append(dict(job_id=jid, at=at, level="info", status=status, attempt=1, text="Lodged"))
                self.sample_ids.setdefault(row["job_type"], jid)
            with eng.begin() as conn:
                if first and not conn.execute(sa.select(batch.c.id).where(batch.c.id == self.big_batch)).first():
                    conn.execute(sa.insert(batch), [dict(id=self.big_batch, owner=HEAVY, label="big", created_at=self.t0,
                                                         total=0, pending=0, dequeued=0, in_progress=0, succeeded=0,
                                                         failed=0, crashed=0, cancelled=0)])
                if batches:
                    existing = set(conn.execute(sa.select(batch.c.id).where(batch.c.id.in_([b["id"] for b in batches])))
                                   .scalars())
                    batches = [b for b in batches if b["id"] not in existing]
                    if batches:
                        conn.execute(sa.insert(batch), batches)
                if items:
                    conn.execute(sa.insert(item), items)
                conn.execute(sa.insert(job), jobs)
                conn.execute(sa.insert(msg), msgs)
            first = False
        self._fix_batches()

    def _fix_batches(self) -> None:
        """Batch counts as the transitions would have kept them."""
        from app.db import get_engine
        from app.models import Batch, Job

        job, batch = Job.__table__, Batch.__table__
        with get_engine().begin() as conn:
            rows = conn.execute(sa.select(job.c.batch_id, job.c.status, sa.func.count())
                                .where(job.c.batch_id.is_not(None)).group_by(job.c.batch_id, job.c.status)).all()
            per: dict[str, dict[str, int]] = {}
            for bid, st, n in rows:
                per.setdefault(bid, {})[st.lower()] = n
            for bid, c in per.items():
                conn.execute(sa.update(batch).where(batch.c.id == bid).values(total=sum(c.values()), **c))


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm: the first call reads pages into the cache
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms), max(ms)


def deep_cursor(stmt, model) -> Optional[str]:
    """The cursor of page DEEP of a list (found once with OFFSET; not timed)."""
    from app.db import session
    from app.paging import encode_cursor

    with session() as s:
        row = s.exec(stmt.order_by(model.created_at.desc(), model.id.desc())
                     .offset(PAGE * (DEEP - 1) - 1).limit(1)).first()
    return encode_cursor(row.created_at, row.id) if row is not None else None


def reads(seeder: Seeder) -> dict[str, Callable[[], Any]]:
    """Every read to time, by name."""
    from sqlmodel import select
    from starlette.testclient import TestClient

    from app import auth, provena_compat, queries, registry, submissions, workers
    from app.api import build_api
    from app.models import Item, Job, User
    from app.queries import JobFilter
    from app.state import live
    from app.state.jobs import _counts, _rows_of

    alice = User(username=HEAVY, display_name=HEAVY, role="user", password_hash="")
    admin = User(username="root", display_name="root", role="admin", password_hash="")
    out: dict[str, Callable[[], Any]] = {}

    def lists(name: str, fn: Callable[..., Any], stmt, model, **kw) -> None:
        out[f"{name}: first page"] = lambda: fn(cursor=None, **kw)
        cur = deep_cursor(stmt, model)
        if cur:
            out[f"{name}: page {DEEP}"] = lambda: fn(cursor=cur, **kw)

    own = select(Job).where(Job.owner == HEAVY)
    lists("jobs of one user", queries.list_jobs, own, Job, viewer=alice, limit=PAGE)
    for st in ("FAILED", "CRASHED"):
        lists(f"jobs, status {st}", queries.list_jobs, own.where(Job.status == st), Job, viewer=alice,
              filters=JobFilter(status=st), limit=PAGE)
    lists("jobs, type PIPELINE", queries.list_jobs, own.where(Job.job_type == "PIPELINE"), Job, viewer=alice,
          filters=JobFilter(job_type="PIPELINE"), limit=PAGE)
    lists("jobs, subtype LODGE_CREATE_ACTIVITY", queries.list_jobs,
          own.where(Job.job_subtype == "LODGE_CREATE_ACTIVITY"), Job, viewer=alice,
          filters=JobFilter(job_subtype="LODGE_CREATE_ACTIVITY"), limit=PAGE)
    out["jobs, a type none has: first page"] = lambda: queries.list_jobs(
        viewer=alice, filters=JobFilter(job_type="EMAIL"), limit=PAGE)
    lists("jobs of all users (admin)", queries.list_jobs, select(Job), Job, viewer=admin, all_users=True, limit=PAGE)
    lists("all users, status FAILED", queries.list_jobs, select(Job).where(Job.status == "FAILED"), Job,
          viewer=admin, all_users=True, filters=JobFilter(status="FAILED"), limit=PAGE)
    lists("all users, type REGISTRY", queries.list_jobs, select(Job).where(Job.job_type == "REGISTRY"), Job,
          viewer=admin, all_users=True, filters=JobFilter(job_type="REGISTRY"), limit=PAGE)
    lists("one other user (admin)", queries.list_jobs, select(Job).where(Job.owner == "user07"), Job,
          viewer=admin, owner="user07", limit=PAGE)
    lists("the large batch", queries.batch_jobs, select(Job).where(Job.batch_id == seeder.big_batch),
          Job, viewer=admin, batch_id=seeder.big_batch, limit=PAGE)
    out["the large batch, failures only: first page"] = lambda: queries.batch_jobs(
        viewer=admin, batch_id=seeder.big_batch, failures_only=True, limit=PAGE)
    out["the large batch in file order (batch view): first page"] = lambda: queries.batch_jobs_in_order(
        viewer=admin, batch_id=seeder.big_batch, limit=PAGE)
    deep_row = queries.batch_jobs_in_order(viewer=admin, batch_id=seeder.big_batch, limit=PAGE)
    if deep_row.next_cursor:  # a cursor deep in the batch: its row number stands for its place
        import base64
        at = min(seeder.big_had, PAGE * (DEEP - 1))
        deep = base64.urlsafe_b64encode(f"row:{at}|".encode()).decode()
        out[f"the large batch in file order: page {DEEP}"] = lambda: queries.batch_jobs_in_order(
            viewer=admin, batch_id=seeder.big_batch, cursor=deep, limit=PAGE)
    # The jobs panel's sorts and searches (app.job_search): each order's index, a
    # created-time range, an id prefix; the bounded reads (words of a subject, a filter
    # with another sort) look through job_search.WINDOW jobs at most whatever N is.
    from app import job_search

    def sorted_lists(name: str, **kw) -> None:
        out[f"{name}: first page"] = lambda: job_search.find_jobs(limit=PAGE, **kw)
        cur, n = None, 0
        while n < DEEP - 1:  # the cursor of page DEEP, found by paging (not timed)
            page = job_search.find_jobs(limit=PAGE, cursor=cur, **kw)
            if not page.next_cursor:
                return
            cur, n = page.next_cursor, n + 1
        out[f"{name}: page {DEEP}"] = lambda: job_search.find_jobs(limit=PAGE, cursor=cur, **kw)

    sorted_lists("jobs by started", viewer=alice, sort="started")
    sorted_lists("jobs by run time", viewer=alice, sort="duration")
    sorted_lists("all users by run time (admin)", viewer=admin, all_users=True, sort="duration")
    day = seeder.t0 + timedelta(seconds=3 * seeder.n // 2)
    sorted_lists("jobs created in one day", viewer=alice, filters=JobFilter(since=day, until=day + timedelta(days=1)))
    prefix = seeder.sample_ids["REGISTRY"][:6]
    out["search by id prefix: first page"] = lambda: job_search.find_jobs(viewer=alice, q=prefix, limit=PAGE)
    out[f"words of a subject, bounded ({job_search.WINDOW:,} looked at)"] = lambda: job_search.find_jobs(
        viewer=alice, q="pipeline 77", limit=PAGE)
    out[f"status FAILED by run time, bounded ({job_search.WINDOW:,} looked at)"] = lambda: job_search.find_jobs(
        viewer=alice, filters=JobFilter(status="FAILED"), sort="duration", limit=PAGE)
    sample = seeder.sample_ids["REGISTRY"]
    out["search by session id"] = lambda: queries.search_jobs(viewer=alice, text=sample, limit=PAGE)
    out["search by batch id"] = lambda: queries.search_jobs(viewer=admin, text=seeder.big_batch, limit=PAGE)
    item_id = seeder.items[len(seeder.items) // 2]
    out["an item's workflow graph"] = lambda: queries.item_workflow(item_id)
    lists("items", lambda cursor, **kw: registry.list_items(cursor=cursor, **kw), select(Item), Item, limit=PAGE)
    lists("items, subtype DATASET", lambda cursor, **kw: registry.list_items(cursor=cursor, **kw),
          select(Item).where(Item.subtype == "DATASET"), Item, subtype="DATASET", limit=PAGE)
    lists("one user's items", lambda cursor, **kw: registry.list_items(cursor=cursor, **kw),
          select(Item).where(Item.owner == HEAVY), Item, owner=HEAVY, limit=PAGE)
    out["submissions (admin): first page"] = lambda: submissions.list_submissions(viewer=admin, limit=PAGE)
    out["Provena list_jobs: first page"] = lambda: provena_compat.list_jobs(actor=alice, limit=PAGE)
    out["status counts, one user"] = lambda: queries.status_counts(viewer=alice)
    out["status counts, everyone"] = lambda: queries.status_counts(viewer=admin, all_users=True)
    out["admin overview (counts, stuck jobs)"] = lambda: (queries.status_counts(viewer=admin, all_users=True),
                                                          workers.stuck_jobs(viewer=admin))

    # a burst of the live listener: 10 changed jobs read once, counts of 20 watched
    # owners, the new rows built once
    burst_ids = [j.id for j in queries.list_jobs(viewer=alice, limit=10).jobs]
    events = [{"kind": "job", "job_id": j, "owner": HEAVY, "batch_id": None} for j in burst_ids]

    def burst() -> None:
        b = live.Burst(events)
        b.load()
        for o in OWNERS[:19] + [None]:
            _counts(o)
        _rows_of([b.job(j) for j in burst_ids[:2]])
    out["listener, one burst (10 jobs, 20 owners)"] = burst

    if "api" not in seeder.sample_ids:  # a token for alice, made once
        auth_user = _ensure_user(HEAVY)
        seeder.sample_ids["api"] = auth.create_token(owner=auth_user.username, name="scale")[0]
    client = TestClient(build_api())
    headers = {"Authorization": f"Bearer {seeder.sample_ids['api']}"}
    out["GET /api/jobs (first page)"] = lambda: client.get("/api/jobs?limit=25", headers=headers).raise_for_status()
    return out


def _ensure_user(name: str):
    from app import auth
    from app.errors import NotFound

    try:
        return auth.get_user(name)
    except NotFound:
        return auth.create_user(username=name, password=f"{name}-scale-password")


def analyze() -> None:
    """On PostgreSQL, the planner's statistics of what was just seeded, as autovacuum
    gathers them after a large insert on a live database (a bulk load measured before it
    runs would time plans made for an empty table). SQLite keeps none unless asked, and
    Jobdeck never asks: its plans are measured as they are."""
    from app.db import get_engine

    eng = get_engine()
    if eng.dialect.name == "postgresql":
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))


def measure(seeder: Seeder, repeat: int) -> dict[str, tuple[float, float]]:
    analyze()
    return {name: timed(fn, repeat) for name, fn in reads(seeder).items()}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--measure-only", action="store_true",
                    help="seed nothing: measure the database an earlier run seeded (--database-url), as it is")
    args = ap.parse_args(argv)
    if args.measure_only:
        return measure_only(args.database_url, args.repeat)
    if args.jobs < BASE:
        ap.error(f"--jobs must be at least {BASE:,}")
    url = prepare(args.database_url)
    print(f"database: {url.split('@')[-1]}")
    from app import counts

    seeder = Seeder(args.jobs)
    t = time.perf_counter()
    seeder.grow(BASE, big_batch=BASE // 10)
    counts.rebuild()
    print(f"seeded {BASE:,} jobs in {time.perf_counter() - t:.1f} s")
    small = measure(seeder, args.repeat)
    t = time.perf_counter()
    seeder.grow(args.jobs, big_batch=seeder.big_size)
    seeded = time.perf_counter() - t
    t = time.perf_counter()
    counted = counts.rebuild()
    print(f"seeded {args.jobs:,} jobs in {seeded:.1f} s; counts rebuilt in {time.perf_counter() - t:.1f} s "
          f"({counted:,} jobs)")
    large = measure(seeder, args.repeat)
    width = max(len(k) for k in large)
    print(f"\n{'read':<{width}}  {'10k median':>10} {'10k max':>8}  {'N median':>9} {'N max':>8}  ratio")
    worst = 0.0
    for name, (med, mx) in large.items():
        smed, smx = small.get(name, (float("nan"), float("nan")))
        ratio = med / smed if smed == smed and smed > 0 else float("nan")
        worst = max(worst, ratio) if ratio == ratio else worst
        print(f"{name:<{width}}  {smed:>8.2f}ms {smx:>6.1f}ms  {med:>7.2f}ms {mx:>6.1f}ms  {ratio:5.2f}")
    firsts = [m for n, (m, _) in large.items() if "first page" in n]
    print(f"\nN = {args.jobs:,}: worst ratio N/10k {worst:.2f} (goal <= 1.5); slowest first page "
          f"{max(firsts):.2f} ms (goal <= 5 ms on SQLite)")
    return 0


def measure_only(url: Optional[str], repeat: int) -> int:
    if not url:
        raise Refused("refused: --measure-only measures a database an earlier run seeded: give its --database-url")
    eng = sa.create_engine(url)
    tables = set(sa.inspect(eng).get_table_names())
    eng.dispose()
    if MARKER not in tables:
        raise Refused(f"refused: {url.split('@')[-1]} was not seeded by this benchmark (no {MARKER} table). "
                      f"Nothing was changed.")
    os.environ["JOBDECK_DATABASE_URL"] = url
    os.environ.setdefault("JOBDECK_DATA_DIR", tempfile.mkdtemp(prefix="jobdeck-scale-data-"))
    from app.db import dispose_engines
    from app.settings import reload_settings

    dispose_engines()
    reload_settings()
    seeder = Seeder.of_seeded()
    print(f"database: {url.split('@')[-1]}, {seeder.n:,} jobs (seeded before; measured as it is)")
    got = measure(seeder, repeat)
    width = max(len(k) for k in got)
    print(f"\n{'read':<{width}}  {'median':>9} {'max':>8}")
    for name, (med, mx) in got.items():
        print(f"{name:<{width}}  {med:>7.2f}ms {mx:>6.1f}ms")
    firsts = [m for n, (m, _) in got.items() if "first page" in n]
    print(f"\nslowest first page {max(firsts):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
