"""The per-minute aggregates the console's charts and `/metrics` read (never a scan of
the jobs): Core tables of counts, sums and run-time histograms, written in the same
transaction as the transitions they count (app.metrics, app.waits, app.worker_metrics,
app.my_metrics). On the same metadata as app.models, which imports this module so that
every table is made and migrated together."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

from app.db import UTCDateTime

# The bounds (seconds) of the run-time histogram of finished jobs: Prometheus' default
# buckets, then the minutes and hours a research job may take. Bucket i of a row counts
# the runs in (RUN_BOUNDS[i-1], RUN_BOUNDS[i]]; the last bucket everything longer.
RUN_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
              30.0, 60.0, 300.0, 900.0, 3600.0)
RUN_BUCKETS = tuple(f"b{i}" for i in range(len(RUN_BOUNDS) + 1))

# Jobs finished per minute (app.metrics keeps it in every final transition): per job
# type and subtype, backend and final status, how many, how many ran and for how long
# in all, and their run times' histogram. The row of minute 1970-01-01 is the running
# total since the table began: the housekeeper prunes old minutes, never it. Each key is
# split over shards like the job counts; a value is the sum of its shards. A Core table:
# twenty bucket columns are written from RUN_BUCKETS rather than by hand.
job_minute = sa.Table(
    "jobminute", SQLModel.metadata,
    sa.Column("minute", UTCDateTime(), primary_key=True),
    sa.Column("job_type", sa.String(32), primary_key=True),
    sa.Column("job_subtype", sa.String(64), primary_key=True),
    sa.Column("backend", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("shard", sa.Integer(), primary_key=True),
    sa.Column("n", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("ran", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("run_s", sa.Float(), nullable=False, server_default="0"),
    *(sa.Column(b, sa.Integer(), nullable=False, server_default="0") for b in RUN_BUCKETS),
)


# Queue waits per minute and backend (app.waits keeps it as a job starts): how many
# started, their waits (lodged to started) in all and in a histogram with RUN_BOUNDS.
# Minute 1970-01-01 holds the running totals; shards as above.
job_wait_minute = sa.Table(
    "jobwaitminute", SQLModel.metadata,
    sa.Column("minute", UTCDateTime(), primary_key=True),
    sa.Column("backend", sa.String(64), primary_key=True),
    sa.Column("shard", sa.Integer(), primary_key=True),
    sa.Column("n", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("wait_s", sa.Float(), nullable=False, server_default="0"),
    *(sa.Column(b, sa.Integer(), nullable=False, server_default="0") for b in RUN_BUCKETS),
)

# Failures per minute and worker (app.worker_metrics, kept by each move to FAILED or
# CRASHED): one row only where a worker had one. Minute 1970-01-01 holds a worker's
# running total while any of its minutes is kept.
worker_failure_minute = sa.Table(
    "workerfailureminute", SQLModel.metadata,
    sa.Column("minute", UTCDateTime(), primary_key=True),
    sa.Column("worker", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("backend", sa.String(64), nullable=False, server_default=""),
    sa.Column("n", sa.Integer(), nullable=False, server_default="0"),
)

# Workers busy and idle per minute and backend, sampled by the housekeeper from the
# heartbeats: the sums over the minute's samples (a mean is a sum over `samples`).
worker_busy_minute = sa.Table(
    "workerbusyminute", SQLModel.metadata,
    sa.Column("minute", UTCDateTime(), primary_key=True),
    sa.Column("backend", sa.String(64), primary_key=True),
    sa.Column("samples", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("busy", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("idle", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("other", sa.Integer(), nullable=False, server_default="0"),  # starting or stopping
)

# A user's jobs finished per minute and job type (app.my_metrics, kept by every final
# transition): a row only where the owner had a job end that minute, the final statuses
# as columns, the run times as in job_minute. No shards: one owner's jobs seldom end on
# many workers in the same instant, and the row count stays owner x minute x type.
owner_job_minute = sa.Table(
    "ownerjobminute", SQLModel.metadata,
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("minute", UTCDateTime(), primary_key=True),
    sa.Column("job_type", sa.String(32), primary_key=True),
    *(sa.Column(s.lower(), sa.Integer(), nullable=False, server_default="0")
      for s in ("SUCCEEDED", "FAILED", "CRASHED", "CANCELLED")),
    sa.Column("ran", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("run_s", sa.Float(), nullable=False, server_default="0"),
    *(sa.Column(b, sa.Integer(), nullable=False, server_default="0") for b in RUN_BUCKETS),
    sa.Index("ix_ownerjobminute_minute", "minute"),  # the housekeeper's prune by minute, past every owner
)
