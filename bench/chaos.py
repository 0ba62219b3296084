"""Chaos: jobs keep their promises while workers die, Redis restarts and the web backend
restarts.

    python -m bench.chaos [--creates 80] [--versions 50] [--model-runs 120] [--batches 12]
                          [--batch-size 10] [--kill-every 1.0] [--seed 1]
                          [--postgres [--restart-postgres]] [--workers N]

The default mix lodges a little over 500 jobs (a create or version is two jobs, a batch
one submission plus a job per record) through the REST API, served by uvicorn running
`app.api.build_api()` (the API the Reflex app mounts; the console itself is not needed
to lodge). A worker pool runs them while this script kills a random worker with SIGKILL
about every second, restarts Redis once (all its data lost) and the web backend once.
Afterwards it checks that every job is in exactly one final state, none is lost (every
session id answered exists; every workflow step and batch job that should exist does),
no PROV edge is duplicated or missing, every item whose lodge succeeded is LODGED, and
every kill that hit a job is recorded on that job (CRASHED, naming the worker; no other
end stamped after the kill). Prints jobs, kills, crashes recovered and times to recover.

With --postgres the job database is a PostgreSQL server of the run's own
(bench/pgserver.py); --restart-postgres stops it for a second in the middle of the
lodging (every connection cut): lodging answers 503 meanwhile and the client retries,
workers hold their transitions until it answers again, and the same checks must pass.
--workers sets every backend's maximum number of workers.

The short form runs in the tests (tests/integration/test_chaos.py), and on PostgreSQL
with a restart in the PostgreSQL pass.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FINAL = {"SUCCEEDED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProcess:
    """A redis-server of our own that keeps nothing: a restart loses every key."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                                      "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                      "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = redis.Redis(port=self.port)
        for _ in range(500):
            try:
                if r.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Service:
    """A child process (the web backend or the pool), logging to a file."""

    def __init__(self, name: str, argv: list[str], log: Path):
        self.name, self.argv, self.log = name, argv, log
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=dict(os.environ), stdout=self.log.open("a"),
                                     stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Kill:
    at: float  # monotonic, for the time to recover
    worker: str
    pid: int
    job_id: Optional[str]
    attempt: Optional[int]
    # wall clock read just after the SIGKILL was sent, as the job's history is stamped:
    # the victim can write nothing stamped later than this
    wall: float = 0.0


@dataclass
class Records:
    """What the checker reads from the database after the run."""

    jobs: dict[str, Any]
    msgs: dict[str, list]  # job id -> its history lines, in order
    batches: dict[str, Any]
    items: dict[str, Any]
    edges: list
    activities: list
    # the per-owner status counts as kept by the transitions ((owner, status) -> n)
    kept_counts: Optional[dict] = None


@dataclass
class Report:
    jobs: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    session_ids: int = 0
    kills: int = 0
    kills_on_jobs: int = 0
    crashes_recorded: int = 0
    crashes_recovered: int = 0
    requeued_after_loss: int = 0
    detect_s: list[float] = field(default_factory=list)
    redis_recover_s: Optional[float] = None
    web_downtime_s: Optional[float] = None
    database: str = "SQLite"
    pg_downtime_s: Optional[float] = None
    answered_503: int = 0
    recover_s: Optional[float] = None
    prov_edges: int = 0
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        d = sorted(self.detect_s)
        det = (f"median {statistics.median(d):.2f} s, max {d[-1]:.2f} s" if d else "none")
        return [
            f"jobs                 : {self.jobs} ({', '.join(f'{k} {v}' for k, v in sorted(self.by_status.items()))})",
            f"session ids answered : {self.session_ids}",
            f"workers killed (-9)  : {self.kills} ({self.kills_on_jobs} while running a job)",
            f"crashes recorded     : {self.crashes_recorded}, recovered by a later attempt: {self.crashes_recovered}",
            f"re-queued after loss : {self.requeued_after_loss} (Redis restart, or popped by a worker that died)",
            f"kill -> CRASHED      : {det}",
            f"Redis restart        : jobs flowed again {self._s(self.redis_recover_s)} after Redis was back",
            f"web backend restart  : lodging paused {self._s(self.web_downtime_s)}",
            f"database             : {self.database}" + (f"; restarted, down {self._s(self.pg_downtime_s)}, "
                                                         f"{self.answered_503} lodging(s) answered 503 meanwhile"
                                                         if self.pg_downtime_s is not None else ""),
            f"time to recover      : {self._s(self.recover_s)} from the last disruption to every job final",
            f"PROV edges           : {self.prov_edges}",
            f"elapsed              : {self.elapsed_s:.1f} s",
            "problems             : " + ("none" if not self.problems else "; ".join(self.problems[:20])),
        ]

    @staticmethod
    def _s(v: Optional[float]) -> str:
        return "n/a" if v is None else f"{v:.2f} s"


class Api:
    """The driver's HTTP client: retries while the web backend restarts."""

    def __init__(self, base: str, token: str):
        import httpx

        self.httpx = httpx
        self.base = base
        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.down_since: Optional[float] = None
        self.downtimes: list[float] = []
        self.unavailable = 0  # answers 503: the database (or Redis) was away
        self.lock = threading.Lock()

    def post(self, path: str, body: Any, idem: Optional[str] = None) -> dict:
        headers = {"Idempotency-Key": idem} if idem else {}
        for _ in range(600):
            try:
                r = self.client.post(path, json=body, headers=headers)
            except self.httpx.TransportError:
                with self.lock:
                    self.down_since = self.down_since or time.monotonic()
                time.sleep(0.1)
                continue
            with self.lock:
                if self.down_since is not None:
                    self.downtimes.append(time.monotonic() - self.down_since)
                    self.down_since = None
            if r.status_code in (429, 502, 503):
                if r.status_code == 503:
                    with self.lock:
                        self.unavailable += 1
                time.sleep(0.2)
                continue
            if r.status_code >= 300:
                raise RuntimeError(f"POST {path} answered {r.status_code}: {r.text[:300]}")
            return r.json()
        raise RuntimeError(f"POST {path}: the web backend did not come back")


def _record(ids: dict[str, str], i: int, *, prefix: str = "run") -> dict:
    return {
        "workflow_template_id": ids["wf"], "display_name": f"{prefix} {i}", "description": "chaos run",
        "inputs": [{"dataset_template_id": ids["template"], "dataset_id": ids["rain"]}],
        "outputs": [{"dataset_template_id": ids["template"], "dataset_id": ids["flow"]}],
        "associations": {"modeller_id": ids["person"], "requesting_organisation_id": ids["org"]},
        "start_time": 1_700_000_000 + i, "end_time": 1_700_000_600 + i,
    }


def run(*, workdir: Path, creates: int = 80, versions: int = 50, model_runs: int = 120, batches: int = 12,
        batch_size: int = 10, slow: int = 25, kill_every: float = 1.0, seed: int = 1,
        env: Optional[dict[str, str]] = None, settle_timeout_s: float = 300,
        say: Callable[[str], None] = print, postgres: bool = False, restart_postgres: bool = False,
        workers: Optional[int] = None) -> Report:
    """Run the chaos and return what was found. The environment is restored afterwards."""
    saved = dict(os.environ)
    pg = None
    try:
        if postgres:
            from bench.pgserver import PgServer

            pg = PgServer(dbname="chaos").create()
        return _run(workdir=workdir, creates=creates, versions=versions, model_runs=model_runs, batches=batches,
                    batch_size=batch_size, slow=slow, kill_every=kill_every, seed=seed, env=env or {},
                    settle_timeout_s=settle_timeout_s, say=say, pg=pg,
                    restart_postgres=restart_postgres and pg is not None, workers=workers)
    finally:
        if pg is not None:
            from app.db import dispose_engines as _dispose

            _dispose()
            pg.remove()
        os.environ.clear()
        os.environ.update(saved)
        from app import queues
        from app.db import dispose_engines
        from app.settings import reload_settings

        dispose_engines()
        queues.reset_connections()
        reload_settings()


def _run(*, workdir, creates, versions, model_runs, batches, batch_size, slow, kill_every, seed, env,
         settle_timeout_s, say, pg, restart_postgres, workers) -> Report:
    rng = random.Random(seed)
    report = Report()
    t_start = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    redis_srv = RedisProcess(workdir)
    redis_srv.start()
    data = workdir / "data"
    os.environ.update({
        "JOBDECK_DATA_DIR": str(data),
        "JOBDECK_DATABASE_URL": pg.url if pg is not None else f"sqlite:///{data / 'jobdeck.db'}",
        "JOBDECK_REDIS_URL": redis_srv.url, "JOBDECK_API_RATE_LIMIT": "0", **env})
    from app import auth, queues
    from app.db import dispose_engines, migrate
    from app.demo import seed_backends
    from app.settings import reload_settings

    dispose_engines()
    queues.reset_connections()
    reload_settings()
    migrate()
    seed_backends()
    if pg is not None:
        report.database = "PostgreSQL"
    if workers:
        from sqlmodel import update

        from app.db import session
        from app.models import Backend

        with session(write=True) as s:
            s.exec(update(Backend).values(max_workers=workers))
    auth.create_user(username="alice", password="alice-chaos-password")
    auth.create_user(username="chaos-admin", password="admin-chaos-password", role="admin")
    token, _ = auth.create_token(owner="alice", name="chaos")
    admin_token, _ = auth.create_token(owner="chaos-admin", name="chaos")
    port = free_port()
    web = Service("web", [sys.executable, "-m", "uvicorn", "--factory", "app.api:build_api", "--host", "127.0.0.1",
                          "--port", str(port), "--log-level", "warning"], workdir / "web.log")
    pool = Service("pool", [sys.executable, "-m", "worker.pool"], workdir / "pool.log")
    web.start()
    pool.start()
    api = Api(f"http://127.0.0.1:{port}", token)
    admin_api = Api(f"http://127.0.0.1:{port}", admin_token)
    kills: list[Kill] = []
    session_ids: list[str] = []
    marks: dict[str, float] = {}
    stop_chaos = threading.Event()
    try:
        _wait_http(api, web)
        say(f"web backend on :{port}, pool and Redis up; lodging")
        # the items every model run names
        ids = {}
        records = {"person": {"first_name": "Chaos", "last_name": "Modeller", "email": "chaos@example.org"},
                   "org": {"name": "Chaos group"},
                   "model": {"name": "chaos", "description": "A model", "documentation_url": "https://example.org/d",
                             "source_url": "https://example.org/s"}}
        for key, subtype in (("person", "PERSON"), ("org", "ORGANISATION"), ("template", "DATASET_TEMPLATE"),
                             ("rain", "DATASET"), ("flow", "DATASET"), ("model", "MODEL"),
                             ("wf", "MODEL_RUN_WORKFLOW_TEMPLATE")):
            if key == "wf":  # the workflow template names the model and the dataset template
                records["wf"] = {"software_id": ids["model"], "input_templates": [{"template_id": ids["template"]}],
                                 "output_templates": [{"template_id": ids["template"]}]}
            got = api.post("/api/items", {"subtype": subtype, "display_name": f"chaos {key}",
                                          "record": records.get(key, {})})
            ids[key] = got["item"]["id"]
            session_ids.append(got["session_id"])
        ops: list[tuple[str, int]] = ([("create", i) for i in range(creates)] + [("run", i) for i in range(model_runs)]
                                      + [("batch", i) for i in range(batches)] + [("slow", i) for i in range(slow)])
        rng.shuffle(ops)
        created: list[str] = []
        lock = threading.Lock()

        def do(op: tuple[str, int]) -> None:
            kind, i = op
            if kind == "create":
                got = api.post("/api/items", {"subtype": "MODEL", "display_name": f"chaos model {i}"})
                with lock:
                    created.append(got["item"]["id"])
                    session_ids.append(got["session_id"])
                    if len(created) <= versions:  # version each of the first items once
                        pending_versions.append(got["item"]["id"])
            elif kind == "run":
                got = api.post("/api/model-runs", _record(ids, i), idem=f"chaos-run-{seed}-{i}")
                with lock:
                    session_ids.append(got["id"])
            elif kind == "batch":
                recs = [_record(ids, 10_000 + i * batch_size + k, prefix=f"batch {i} run") for k in range(batch_size)]
                got = api.post("/api/jobs", {"job_type": "PROV_LODGE", "job_subtype": "MODEL_RUN_BATCH_SUBMIT",
                                             "payload": {"records": recs, "label": f"chaos batch {i}"}},
                               idem=f"chaos-batch-{seed}-{i}")
                with lock:
                    session_ids.append(got["id"])
            elif kind == "slow":  # a diagnostic job that runs a while, so that kills land mid-job
                got = admin_api.post("/api/jobs", {"job_type": "SYSTEM", "job_subtype": "FLAKY",
                                                   "payload": {"fail_attempts": 0, "sleep_s": 1.0}},
                                     idem=f"chaos-slow-{seed}-{i}")
                with lock:
                    session_ids.append(got["id"])
            elif kind == "version":
                got = api.post(f"/api/items/{i}/versions", {"reason": "chaos says so"})
                with lock:
                    session_ids.append(got["session_id"])

        pending_versions: list[str] = []
        chaos = threading.Thread(target=_kill_loop, daemon=True, args=(rng, kill_every, kills, stop_chaos))
        chaos.start()
        redis_at, web_at, pg_at = round(len(ops) * 0.35), round(len(ops) * 0.6), round(len(ops) * 0.5)

        def step(k_op: tuple[int, tuple[str, int]]) -> None:
            # the other lodging threads go on meanwhile (and wait for the web backend)
            k, op = k_op
            if k == redis_at:
                _restart_redis(redis_srv, marks)
            if k == pg_at and restart_postgres:
                report.pg_downtime_s = pg.restart(down_s=1.0)
                marks["pg_back"] = time.monotonic()
                say(f"PostgreSQL restarted (down {report.pg_downtime_s:.1f} s)")
            if k == web_at:
                _restart_web(web, marks, during=lambda: do(op))
            else:
                do(op)

        with ThreadPoolExecutor(3) as ex:
            list(ex.map(step, enumerate(ops)))
            versioned = list(pending_versions)
            list(ex.map(do, [("version", item) for item in versioned]))
        marks["lodged"] = time.monotonic()
        say(f"lodged {len(session_ids)} requests; waiting for the jobs while the chaos goes on")
        # keep the chaos going while the backlog drains, then let the system settle
        _wait(lambda: _all_final() or time.monotonic() - marks["lodged"] > 60, 120)
        stop_chaos.set()
        chaos.join(30)
        last_disruption = max([k.at for k in kills] + [marks.get("redis_back", 0), marks.get("web_back", 0),
                                                      marks.get("pg_back", 0)])
        settled = _wait(lambda: _all_final() and _quiet(2.0), settle_timeout_s)
        report.recover_s = (time.monotonic() - last_disruption) if settled else None
        if not settled:
            report.problems.append(f"jobs still not final after {settle_timeout_s:.0f} s")
    finally:
        stop_chaos.set()
        pool.stop()
        web.stop()
    report.elapsed_s = time.monotonic() - t_start
    report.kills = len(kills)
    report.session_ids = len(session_ids)
    downs = api.downtimes + admin_api.downtimes
    report.web_downtime_s = max(downs) if downs else None
    report.answered_503 = api.unavailable + admin_api.unavailable
    if "redis_back" in marks and "redis_flowing" in marks:
        report.redis_recover_s = marks["redis_flowing"] - marks["redis_back"]
    _verify(report, session_ids, kills)
    redis_srv.stop()
    return report


def _wait_http(api: Api, web: Service) -> None:
    import httpx

    for _ in range(300):
        if web.proc.poll() is not None:
            raise RuntimeError(f"the web backend exited: {web.log.read_text()[-2000:]}")
        try:
            if httpx.get(api.base + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the web backend did not answer")


def _wait(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except Exception:  # the database is busy: look again
            pass
        time.sleep(0.25)
    return False


def _counts() -> dict[str, int]:
    import sqlalchemy as sa

    from app.db import session
    from app.models import Job

    with session() as s:
        return dict(s.connection().execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all())


def _all_final() -> bool:
    """Every job final, and none waiting for an automatic retry (a worker may have died
    between a job's failure and its retry; the sweep brings those back)."""
    import sqlalchemy as sa

    from app.db import session
    from app.jobtypes import spec_for
    from app.models import Job

    c = _counts()
    if not c or not set(c) <= FINAL:
        return False
    with session() as s:
        ended = s.connection().execute(sa.select(Job.job_type, Job.job_subtype, Job.status, Job.attempt)
                                       .where(Job.status.in_(["FAILED", "CRASHED"]))).all()
    return not any(spec_for(r.job_type, r.job_subtype).retry.retries(r.status, r.attempt) for r in ended)


_last_change = {"n": None, "at": 0.0}


def _quiet(secs: float) -> bool:
    """No job was added or changed for `secs` seconds."""
    import sqlalchemy as sa

    from app.db import session
    from app.models import JobMessage

    with session() as s:
        n = s.connection().execute(sa.select(sa.func.max(JobMessage.id))).scalar()
    if n != _last_change["n"]:
        _last_change.update(n=n, at=time.monotonic())
    return time.monotonic() - _last_change["at"] >= secs


def _succeeded_since(t_wall: float) -> bool:
    import sqlalchemy as sa

    from app.db import session
    from app.models import Job
    from datetime import datetime, timezone

    since = datetime.fromtimestamp(t_wall, timezone.utc)
    with session() as s:
        return bool(s.connection().execute(sa.select(sa.func.count()).select_from(Job).where(
            Job.status == "SUCCEEDED", Job.finished_at > since)).scalar())


def _restart_redis(redis_srv: RedisProcess, marks: dict[str, float]) -> None:
    redis_srv.stop()
    time.sleep(0.5)
    redis_srv.start()
    marks["redis_back"] = time.monotonic()
    wall = time.time()

    def flowing() -> None:
        if _wait(lambda: _succeeded_since(wall), 120):
            marks["redis_flowing"] = time.monotonic()

    threading.Thread(target=flowing, daemon=True).start()


def _restart_web(web: Service, marks: dict[str, float], *, during: Callable[[], None]) -> None:
    """Stop the web backend, lodge something while it is down (the client waits and
    retries), start it again."""
    web.stop()
    failed: list[BaseException] = []

    def lodge() -> None:
        try:
            during()
        except BaseException as exc:  # raised again below, in the lodging thread
            failed.append(exc)

    lodging = threading.Thread(target=lodge)
    lodging.start()
    time.sleep(0.3)
    web.start()
    marks["web_back"] = time.monotonic()
    lodging.join()
    if failed:
        raise failed[0]


def _kill_loop(rng: random.Random, kill_every: float, kills: list[Kill], stop: threading.Event) -> None:
    """Kill a worker with SIGKILL about every `kill_every` seconds, a busy one when
    there is one (most of the time)."""
    from app import queues
    from app.workers import list_workers

    while not stop.wait(kill_every * rng.uniform(0.7, 1.3)):
        try:
            live = [w for w in list_workers() if w.alive and w.pid]
        except queues.REDIS_ERRORS:
            continue
        if not live:
            continue
        busy = [w for w in live if w.current_job_id]
        victim = rng.choice(busy if busy and rng.random() < 0.8 else live)
        try:
            os.kill(victim.pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        kills.append(Kill(time.monotonic(), victim.name, victim.pid, victim.current_job_id, victim.current_attempt,
                          wall=time.time()))


def _verify(report: Report, session_ids: list[str], kills: list[Kill]) -> None:
    check(report, _read_records(), session_ids, kills)


def _read_records() -> Records:
    from sqlmodel import select

    from app.db import session
    from app.models import Activity, Batch, Item, Job, JobMessage, ProvEdge

    with session() as s:
        jobs = {j.id: j for j in s.exec(select(Job))}
        msgs: dict[str, list] = {}
        for m in s.exec(select(JobMessage).order_by(JobMessage.id)):
            msgs.setdefault(m.job_id, []).append(m)
        from app import counts
        kept = counts.kept(s.connection())
        return Records(jobs=jobs, msgs=msgs, batches={b.id: b for b in s.exec(select(Batch))},
                       items={i.id: i for i in s.exec(select(Item))}, edges=list(s.exec(select(ProvEdge))),
                       activities=list(s.exec(select(Activity))), kept_counts=kept)


def check(report: Report, records: Records, session_ids: list[str], kills: list[Kill],
          explain: Callable[[Any], str] = lambda j: _rq_state(j)) -> None:
    """Every promise the run must have kept, checked on what it left behind; each one
    broken is added to report.problems. `explain` says where RQ holds a job that is not
    final."""
    jobs, msgs, batches, items = records.jobs, records.msgs, records.batches, records.items
    edges, activities = records.edges, records.activities
    p = report.problems
    report.jobs = len(jobs)
    report.by_status = {}
    for j in jobs.values():
        report.by_status[j.status] = report.by_status.get(j.status, 0) + 1
        if j.status not in FINAL:
            p.append(f"job {j.id} is {j.status} ({explain(j)})")
        hist = [m.status for m in msgs.get(j.id, []) if m.status in FINAL and m.attempt == j.attempt]
        if j.status in FINAL and hist.count(j.status) != 1:
            p.append(f"job {j.id}: its last attempt has {hist.count(j.status)} {j.status} lines")
    # the status counts every page reads equal a full recount, per owner and everyone's
    if records.kept_counts is not None:
        full: dict = {}
        for j in jobs.values():
            for who in (j.owner, "*"):
                full[(who, j.status)] = full.get((who, j.status), 0) + 1
        if records.kept_counts != full:
            wrong = sorted(k for k in set(full) | set(records.kept_counts)
                           if full.get(k, 0) != records.kept_counts.get(k, 0))
            p.append(f"status counts differ from a recount for {wrong[:3]}")
    # none lost: every session id answered exists, every step and batch job that should exist does
    missing = [sid for sid in session_ids if sid not in jobs]
    if missing:
        p.append(f"{len(missing)} session ids answered but not in the database, e.g. {missing[0]}")
    children = {}
    for j in jobs.values():
        if j.parent_job_id:
            children.setdefault(j.parent_job_id, []).append(j)
    for j in jobs.values():
        if j.status != "SUCCEEDED":
            continue
        if j.job_subtype in ("REGISTER_CREATE_ACTIVITY", "REGISTER_VERSION_ACTIVITY") and len(children.get(j.id, [])) != 1:
            p.append(f"workflow step after {j.id} ({j.job_subtype}): {len(children.get(j.id, []))} lodged, not 1")
        if j.job_subtype == "MODEL_RUN_BATCH_SUBMIT":
            b = batches.get(j.result["batch_id"]) if j.result else None
            n = len(j.payload["records"])
            if b is None or b.total != n or len(children.get(j.id, [])) != n:
                p.append(f"batch of submission {j.id}: expected {n} jobs")
    for b in batches.values():
        counted = sum(getattr(b, st.lower()) for st in ("PENDING", "DEQUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED",
                                                         "CRASHED", "CANCELLED"))
        actual = [j for j in jobs.values() if j.batch_id == b.id]
        by = {st: sum(1 for j in actual if j.status == st) for st in FINAL}
        if counted != b.total or len(actual) != b.total or any(getattr(b, st.lower()) != n for st, n in by.items()):
            p.append(f"batch {b.id}: counts {counted}/{b.total} do not match its {len(actual)} jobs")
    # PROV: none duplicated, none missing for what was lodged
    report.prov_edges = len(edges)
    triples = [(e.subject, e.relation, e.object) for e in edges]
    have = set(triples)
    if len(have) != len(triples):
        p.append(f"{len(triples) - len(have)} PROV edges duplicated")
    accounted: set[tuple[str, str, str]] = set()
    for j in jobs.values():
        if j.status != "SUCCEEDED":
            continue
        want = _expected_edges(j)
        accounted |= want
        if want - have:
            p.append(f"{j.job_subtype} {j.id}: PROV edges missing: {sorted(want - have)[:2]}")
    # A repeat that lodged anew (another activity or run id) would leave edges no
    # succeeded job accounts for, and more activities than lodges.
    if have - accounted:
        p.append(f"{len(have - accounted)} PROV edges no succeeded lodge accounts for: {sorted(have - accounted)[:2]}")
    lodges = {"Create": "LODGE_CREATE_ACTIVITY", "Version": "LODGE_VERSION_ACTIVITY",
              "ModelRun": "MODEL_RUN_PROV_LODGE"}
    for kind, subtype in lodges.items():
        made = sum(1 for a in activities if a.kind == kind)
        done = sum(1 for j in jobs.values() if j.job_subtype == subtype and j.status == "SUCCEEDED")
        if kind == "ModelRun" and made != done:
            p.append(f"{made} model runs registered for {done} succeeded registrations")
        elif kind != "ModelRun" and made < done:
            p.append(f"{made} {kind} activities for {done} succeeded lodges")
    per_item = {}
    for a in activities:
        if a.kind in ("Create", "Version"):
            per_item[(a.kind, a.item_id)] = per_item.get((a.kind, a.item_id), 0) + 1
    twice = [k for k, n in per_item.items() if n > 1]
    if twice:
        p.append(f"{len(twice)} items with their {twice[0][0]} activity recorded twice")
    # every item whose provenance lodge succeeded is LODGED
    for j in jobs.values():
        lodged = {"LODGE_CREATE_ACTIVITY": "item_id", "LODGE_VERSION_ACTIVITY": "to_item_id"}.get(j.job_subtype)
        if j.status != "SUCCEEDED" or not lodged:
            continue
        item_id = (j.payload or {}).get(lodged)
        item = items.get(item_id)
        if item is None:
            p.append(f"item {item_id} lodged by {j.id} does not exist")
        elif item.record_status != "LODGED":
            p.append(f"item {item_id} lodged by {j.id} is {item.record_status}, not LODGED")
    # every crash recorded: a kill that hit a job left a CRASHED line naming the worker on that attempt
    crashed_lines = [(jid, m) for jid, ms in msgs.items() for m in ms if m.status == "CRASHED"]
    report.crashes_recorded = len(crashed_lines)
    report.crashes_recovered = sum(1 for jid, m in crashed_lines if jobs[jid].attempt > m.attempt)
    report.requeued_after_loss = sum(1 for ms in msgs.values() for m in ms
                                     if m.text.startswith(("Queued again:", "Queued: its queue did not hold it")))
    for k in kills:
        if not k.job_id or k.job_id not in jobs:
            continue
        same = [m for m in msgs.get(k.job_id, []) if m.attempt == k.attempt]
        taken_by_victim = any(m.status == "DEQUEUED" and k.worker in m.text for m in same)
        if not taken_by_victim:
            continue  # the kill landed before the worker recorded the job: it was queued again
        report.kills_on_jobs += 1
        ended = [m for m in same if m.status in FINAL]
        if not ended:
            p.append(f"kill of {k.worker} while on job {k.job_id}: attempt {k.attempt} never ended")
            continue
        if ended[0].status == "CRASHED":
            if k.worker not in ended[0].text:
                p.append(f"crash of {k.job_id} does not name worker {k.worker}: {ended[0].text}")
            else:
                report.detect_s.append(max(0.0, ended[0].at.timestamp() - k.wall))
        elif ended[0].at.timestamp() > k.wall:
            # A line is stamped before its transaction commits, so a job that ended before
            # the kill is stamped before it; one stamped later cannot have come from the
            # dead worker, and the attempt should have been recorded CRASHED.
            p.append(f"job {k.job_id} ended {ended[0].status} {ended[0].at.timestamp() - k.wall:.3f} s after "
                     f"its worker {k.worker} was killed, not CRASHED")


def _rq_state(j) -> str:
    """Where RQ holds a job that is not final (to explain a problem)."""
    from app import keys, queues

    try:
        conn = queues.redis_conn()
        rq_id = keys.rq_job_id(j.id, j.attempt)
        q = queues.queue(j.queue, getattr(j, "priority", None) or "normal")
        h = {k.decode(): v.decode() for k, v in conn.hgetall(f"rq:job:{rq_id}").items()
             if k.decode() in ("status", "worker_name", "origin", "enqueued_at", "started_at")}
        wip = [m.decode() for m in conn.zrange(f"rq:wip:{q.name}", 0, -1) if m.decode().startswith(rq_id)]
        return (f"rq {h}, queued {conn.lpos(q.key, rq_id) is not None}, "
                f"intermediate {conn.lpos(q.intermediate_queue_key, rq_id) is not None}, wip {wip}")
    except Exception as exc:
        return f"RQ state unknown: {exc}"


def _expected_edges(j) -> set[tuple[str, str, str]]:
    """The PROV edges a succeeded lodge job must have left (the same rules as app.provenance)."""
    agent, pl = f"user/{j.owner}", j.payload
    if j.job_subtype == "LODGE_CREATE_ACTIVITY":
        a, i = pl["activity_id"], pl["item_id"]
        return {(i, "wasGeneratedBy", a), (a, "wasAssociatedWith", agent), (i, "wasAttributedTo", agent)}
    if j.job_subtype == "LODGE_VERSION_ACTIVITY":
        a, old, new = pl["activity_id"], pl["from_item_id"], pl["to_item_id"]
        return {(new, "wasGeneratedBy", a), (a, "used", old), (a, "wasAssociatedWith", agent),
                (new, "wasAttributedTo", agent), (new, "wasDerivedFrom", old)}
    if j.job_subtype == "MODEL_RUN_PROV_LODGE" and j.result:
        run, rec = j.result["record_id"], pl["record"]
        modeller = rec["associations"]["modeller_id"]
        want = {(run, "used", rec["workflow_template_id"]), (run, "wasAssociatedWith", modeller)}
        if rec["associations"].get("requesting_organisation_id"):
            want.add((run, "wasAssociatedWith", rec["associations"]["requesting_organisation_id"]))
        want |= {(run, "used", d["dataset_id"]) for d in rec["inputs"]}
        for d in rec["outputs"]:
            want |= {(d["dataset_id"], "wasGeneratedBy", run), (d["dataset_id"], "wasAttributedTo", modeller)}
        return want
    return set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--creates", type=int, default=80)
    ap.add_argument("--versions", type=int, default=50)
    ap.add_argument("--model-runs", type=int, default=120)
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--slow", type=int, default=25, help="diagnostic jobs of 1 s each, so kills land mid-job")
    ap.add_argument("--kill-every", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, database)")
    ap.add_argument("--postgres", action="store_true", help="a PostgreSQL server of the run's own as the job database")
    ap.add_argument("--restart-postgres", action="store_true", help="restart it in the middle of the lodging")
    ap.add_argument("--workers", type=int, default=None, help="every backend's maximum number of workers")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jobdeck-chaos-"))
    try:
        report = run(workdir=workdir, creates=args.creates, versions=args.versions, model_runs=args.model_runs,
                     batches=args.batches, batch_size=args.batch_size, slow=args.slow, kill_every=args.kill_every,
                     seed=args.seed, postgres=args.postgres, restart_postgres=args.restart_postgres,
                     workers=args.workers)
        print("\n".join(report.lines()))
        if args.keep:
            print(f"work directory: {workdir}")
        sys.exit(1 if report.problems else 0)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
