"""Retention: final jobs older than their retention are removed, with their history and
files, by the pool's housekeeper, a bounded chunk at a time.

`JOBDECK_RETAIN_DAYS` is the default (0 keeps every job forever);
`JOBDECK_RETAIN_DAYS_BY_TYPE` overrides it per job type, e.g. `SYSTEM=1,PIPELINE=30`
(0 there keeps that type forever). Age counts from the job's end (`finished_at`); jobs
that have not ended are never touched. The owner and batch counts lose exactly the
rows deleted (read back from the DELETE itself, so two housekeepers racing on the same
rows cannot count one twice), a batch left empty goes with its last job, and the
provenance records (items, activities, PROV edges) are never touched: they outlive the
jobs that made them.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

import sqlalchemy as sa

from app import counts, events
from app.db import utcnow, write_conn
from app.lifecycle import FINAL
from app.models import Batch, Job, JobFile, JobMessage
from app.settings import get_settings

log = logging.getLogger("jobdeck.retention")

CHUNK = 500  # jobs removed per transaction: a short hold of SQLite's write lock

_job, _msg, _file, _batch = Job.__table__, JobMessage.__table__, JobFile.__table__, Batch.__table__
_FINAL = sorted(s.value for s in FINAL)


@dataclass(frozen=True)
class Policy:
    default_days: float
    by_type: dict[str, float]

    def days(self, job_type: str) -> float:
        return self.by_type.get(job_type, self.default_days)

    @property
    def active(self) -> bool:
        return self.default_days > 0 or any(d > 0 for d in self.by_type.values())

    def describe(self) -> str:
        """One line for the admin overview."""
        if not self.active:
            return "Jobs are kept forever (JOBDECK_RETAIN_DAYS is 0)."
        base = (f"Finished jobs are removed {self.default_days:g} days after they end"
                if self.default_days > 0 else "Jobs are kept forever")
        extra = ", ".join(f"{t}: {'forever' if d <= 0 else f'{d:g} days'}" for t, d in sorted(self.by_type.items()))
        return base + (f"; by type: {extra}." if extra else ".") + " Provenance records are always kept."


def parse_by_type(text: str) -> dict[str, float]:
    """`SYSTEM=1,PIPELINE=30` -> {"SYSTEM": 1.0, "PIPELINE": 30.0}; ValueError naming the bad part."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, days = part.partition("=")
        try:
            value = float(days)
        except ValueError:
            value = -1.0
        if not sep or not name.strip() or value < 0:
            raise ValueError(f"JOBDECK_RETAIN_DAYS_BY_TYPE: {part!r} is not JOB_TYPE=DAYS (days >= 0)")
        out[name.strip().upper()] = value
    return out


def policy() -> Policy:
    s = get_settings()
    return Policy(s.retain_days, parse_by_type(s.retain_days_by_type))


@dataclass
class Pruned:
    jobs: int = 0
    files: int = 0
    batches: int = 0


def prune(*, now: Optional[datetime] = None, chunk: int = CHUNK, max_chunks: int = 20,
          rules: Optional[Policy] = None) -> Pruned:
    """Remove up to `max_chunks` chunks of jobs past their retention; call again for more
    (the housekeeper does, on its schedule)."""
    rules = rules or policy()
    done = Pruned()
    if not rules.active:
        return done
    now = now or utcnow()
    # One query per retention period: types with their own days, then every other type.
    groups: list[tuple[Optional[list[str]], float, bool]] = [([t], d, True) for t, d in rules.by_type.items() if d > 0]
    if rules.default_days > 0:
        groups.append((list(rules.by_type), rules.default_days, False))
    for types, days, only in groups:
        cutoff = now - timedelta(days=days)
        for _ in range(max_chunks):
            n = _prune_chunk(cutoff, types, only, chunk, done)
            if n < chunk:
                break
    if done.jobs:
        log.info("retention removed %d jobs, %d files, %d empty batches", done.jobs, done.files, done.batches)
    return done


def _prune_chunk(cutoff: datetime, types: Optional[list[str]], only: bool, chunk: int, done: Pruned) -> int:
    q = (sa.select(_job.c.id).where(_job.c.finished_at < cutoff, _job.c.status.in_(_FINAL))
         .order_by(_job.c.finished_at).limit(chunk))
    if types:
        q = q.where(_job.c.job_type.in_(types) if only else _job.c.job_type.not_in(types))
    with write_conn() as conn:
        ids = list(conn.execute(q).scalars())
    if ids:
        remove_final(ids, done)
    return len(ids)


def remove_final(ids: list[str], done: Optional[Pruned] = None) -> list[str]:
    """Remove those of these jobs that are final, with their history and files (and a
    pipeline run's directories with its root), in one transaction; a batch loses them
    from its counts and goes with its last job. Jobs not final (or gone) are left as
    they are. Returns the ids removed. Retention and bulk delete (app.bulk_actions)
    remove jobs this one way."""
    from app.files import stored_file_path

    done = done if done is not None else Pruned()
    if not ids:
        return []
    with write_conn() as conn:
        # Only final rows are deleted, and what was deleted is what is counted.
        gone = conn.execute(sa.delete(_job).where(_job.c.id.in_(ids), _job.c.status.in_(_FINAL))
                            .returning(_job.c.id, _job.c.owner, _job.c.status, _job.c.batch_id,
                                       _job.c.job_type, _job.c.parent_job_id)).all()
        gone_ids = [g.id for g in gone]
        paths: list[str] = []
        if gone_ids:
            paths = list(conn.execute(sa.select(_file.c.stored_path).where(_file.c.job_id.in_(gone_ids))).scalars())
            conn.execute(sa.delete(_file).where(_file.c.job_id.in_(gone_ids)))
            conn.execute(sa.delete(_msg).where(_msg.c.job_id.in_(gone_ids)))
        counts.removed(conn, [(g.id, g.owner, g.status) for g in gone])
        per_batch: dict[str, Counter] = {}
        for g in gone:
            if g.batch_id:
                per_batch.setdefault(g.batch_id, Counter())[g.status.lower()] += 1
        for bid, c in sorted(per_batch.items()):
            conn.execute(sa.update(_batch).where(_batch.c.id == bid).values(
                total=_batch.c.total - sum(c.values()), **{k: _batch.c[k] - v for k, v in c.items()}))
        emptied = list(conn.execute(sa.delete(_batch).where(_batch.c.id.in_(sorted(per_batch)), _batch.c.total <= 0)
                                    .returning(_batch.c.id)).scalars()) if per_batch else []
    roots = [g.id for g in gone if g.job_type == "PIPELINE" and g.parent_job_id is None]
    for stored in paths:
        path = stored_file_path(stored)
        if path is not None and path.is_file():
            path.unlink()
            done.files += 1
    if roots:
        from app.pipelines import remove_run_files
        for r in roots:
            remove_run_files(r)
    done.jobs += len(gone)
    done.batches += len(emptied)
    by_owner = Counter(g.owner for g in gone)
    for owner, n in by_owner.items():
        events.publish({"kind": "deleted", "owner": owner, "root_job_id": None, "batch_ids": emptied,
                        "job_ids": [g.id for g in gone if g.owner == owner][-200:], "count": n})
    return gone_ids
