"""What a job's provenance record costs, and reading records back: a workflow of STEPS
no-op steps run by one Jobdeck worker (each step's record written in the commit that
ends it), then each record written again on its own, then the workflow's PROV-JSON
and a diff of the workflow with itself.

    python -m bench.records [--steps 200] [--database-url URL]

Prints ms per workflow step without records and with them (the same workflow, the
record writer switched off in the first worker) and their ratio, ms per record write (a new record, and
one rewritten for a later attempt), the record's share of a step, and the time of the
workflow's PROV-JSON (built, and read back by `prov.read`) and of its diff.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment, private_redis  # noqa: E402
from bench.throughput import _jobdeck_worker  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = ap.parse_args()
    with private_redis() as url:
        fresh_environment(url, args.database_url)
        import prov
        import sqlalchemy as sa

        from app import auth, compare, launch, records
        from app.db import session, write_conn
        from app.models import Job
        from app.record_tables import JobRecord
        from app.settings import get_settings

        root = auth.create_user(username="bench", password="bench-password", role="admin")

        def workflow() -> tuple[Job, float]:
            t0 = time.perf_counter()
            job = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP",
                                    payload={"then": args.steps - 1})
            proc = mp.get_context("fork").Process(target=_jobdeck_worker)  # inherits records as set here
            proc.start()
            proc.join()
            return job, (time.perf_counter() - t0) / args.steps * 1000

        writer = records.write_record
        records.write_record = lambda conn, job_id, **kw: None  # the same workflow without records
        _, bare_ms = workflow()
        records.write_record = writer
        first, step_ms = workflow()
        with session() as s:
            ids = list(s.exec(sa.select(Job.id).where(Job.workflow_id == first.id)).scalars())
            recorded = s.exec(sa.select(sa.func.count()).select_from(JobRecord)
                              .where(JobRecord.workflow_id == first.id)).one()[0]
        assert len(ids) == recorded == args.steps, (len(ids), recorded)

        def rewrite() -> float:  # in one transaction, as in the commit that ends a step
            t = time.perf_counter()
            with write_conn() as conn:
                for jid in ids:
                    records.write_record(conn, jid)
            return (time.perf_counter() - t) / len(ids) * 1000

        again_ms = rewrite()
        with write_conn() as conn:
            conn.execute(sa.delete(JobRecord.__table__))
        new_ms = rewrite()
        t = time.perf_counter()
        _, recs = records.workflow_records(root, first.id)
        doc = records.prov_json(recs)
        build_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        read = prov.read(json.dumps(doc), format="json")
        read_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        d = compare.diff(actor=root, a=first.id, b=first.id, scope="workflow")
        diff_ms = (time.perf_counter() - t) * 1000
        assert d["outputs_match"] is True
        db = get_settings().database_url.split(":", 1)[0]
    acts = len(list(read.get_records(prov.model.ProvActivity)))
    print(f"steps={args.steps} database={db}, one worker")
    print(f"workflow step without a record : {bare_ms:7.2f} ms per step")
    print(f"workflow step, record included : {step_ms:7.2f} ms per step; ratio {step_ms / bare_ms:.2f}")
    print(f"record write                   : new {new_ms:6.2f} ms, rewritten {again_ms:6.2f} ms per job")
    print(f"record share of a step         : {new_ms / step_ms * 100:5.1f} %")
    print(f"PROV-JSON of the workflow      : built {build_ms:7.1f} ms, read back by prov {read_ms:7.1f} ms "
          f"({acts} activities)")
    print(f"diff of the workflow           : {diff_ms:7.1f} ms")


if __name__ == "__main__":
    main()
