"""What the audit log costs: jobs lodged by threads at once with each entry appended in
its lodge's transaction (the chain's head locked until that commit) against the same
lodges with the entry written after, in a transaction of its own (the old way); the
flood guard's price per refusal and how many entries a flood of one refusal writes;
and verify over the whole log.

    python -m bench.audit [--jobs 400] [--threads 4] [--refusals 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_environment, private_redis  # noqa: E402


def lodge_all(root, jobs: int, threads: int) -> float:
    """ms per job of `jobs` lodges by `threads` threads at once."""
    from app import launch

    errors: list[BaseException] = []

    def lodge(n: int) -> None:
        try:
            for _ in range(n):
                launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={"sleep_s": 0})
        except BaseException as exc:  # reported below
            errors.append(exc)

    each = max(1, jobs // threads)
    ts = [threading.Thread(target=lodge, args=(each,)) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return (time.perf_counter() - t0) * 1000 / (each * threads)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=400, help="jobs lodged each way")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--refusals", type=int, default=2000, help="the same refusal sent this many times")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args(argv)
    with private_redis() as redis_url:
        fresh_environment(redis_url, args.database_url)
        from app import audit, auth, db
        from app.db import get_engine

        root = auth.create_user(username="bench-root", password="bench-root-password", role="admin")
        lodge_all(root, 8, 2)  # warm the statement caches
        together = lodge_all(root, args.jobs, args.threads)
        hook = audit._append_pending
        db._LAST_BEFORE_COMMIT.remove(hook)  # the entry written after its change instead
        try:
            apart = lodge_all(root, args.jobs, args.threads)
        finally:
            db._LAST_BEFORE_COMMIT.append(hook)
        print(f"jobs={args.jobs} threads={args.threads} database={get_engine().dialect.name}")
        print(f"lodge, entry in its transaction : {together:.2f} ms per job")
        print(f"lodge, entry after, on its own  : {apart:.2f} ms per job; ratio together/apart "
              f"{together / apart:.2f}")

        before = audit.verify().entries
        t0 = time.perf_counter()
        for _ in range(args.refusals):
            audit.record_refusal(action="request", target="POST /api/jobs", actor="anonymous",
                                 message="401 not signed in: The token is unknown or was revoked.")
        per = (time.perf_counter() - t0) * 1000 / args.refusals
        written = audit.verify().entries - before
        print(f"flood of {args.refusals} identical refusals: {written} entries written, {per:.3f} ms per refusal")
        t0 = time.perf_counter()
        verdict = audit.verify()
        took = (time.perf_counter() - t0) * 1000
        print(f"verify: {verdict.entries} entries {'intact' if verdict.ok else 'BROKEN'} in {took:.0f} ms")
        return 0 if verdict.ok and written == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
