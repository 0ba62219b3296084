"""Small administrative commands used by scripts/run: `python -m app.manage COMMAND`.

  setup        apply migrations and seed the demo data (idempotent)
  redis-ping   exit 0 when Redis answers at JOBDECK_REDIS_URL
  redis-port   print the port of JOBDECK_REDIS_URL (to start a server there)
  banner       print the address to open and the demo sign-ins
  create-user USERNAME [--role user|admin|service] [--name "Display name"]
               add a user; the password is read from JOBDECK_PASSWORD, or asked for
  set-password USERNAME
               give a user a new password (same source); their console sign-ins end
  rebuild-counts
               recount every job into the per-owner status counts (after a restore,
               or to repair them); refuses a database without Jobdeck's tables
  end-sign-ins USERNAME
               end every console sign-in of a user (their API tokens keep working)
  disable-user USERNAME
               disable a user: their console sign-ins end, their API tokens are refused
  enable-user USERNAME
               enable a disabled user again (their API tokens work again)
  verify-audit check the audit log's hash chain: exit 0 when intact, 1 naming the
               first entry altered, inserted, reordered or removed
"""

from __future__ import annotations

import sys
from urllib.parse import urlparse

import app.notify  # noqa: F401  (commands that cancel or delete jobs end runs: their mail is registered)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    from app.settings import get_settings

    s = get_settings()
    if cmd == "redis-ping":
        from app import queues
        try:
            return 0 if queues.redis_conn().ping() else 1
        except queues.REDIS_ERRORS:
            return 1
    if cmd == "redis-port":
        print(urlparse(s.redis_url).port or 6379)
        return 0
    if cmd == "setup":
        from app import demo
        from app.db import migrate
        migrate()
        print("demo data seeded" if demo.seed() else "demo data present already")
        return 0
    if cmd == "banner":
        from app.demo import DEMO_USERS
        line = "-" * 64
        print(f"\n{line}\n  Jobdeck is running: open http://localhost:{s.port}/\n")
        for username, password, _, role in DEMO_USERS:
            print(f"  sign in as {username:<6} password {password:<15} ({role})")
        print(f"\n  REST API: http://localhost:{s.port}/api/docs   Ctrl-C stops everything\n{line}")
        return 0
    if cmd == "verify-audit":
        return _verify_audit()
    if cmd == "rebuild-counts":
        return _rebuild_counts()
    if cmd in ("create-user", "set-password", "end-sign-ins", "disable-user", "enable-user"):
        return _user_command(cmd, argv[1:])
    print(__doc__)
    return 0 if cmd == "help" else 2


def _rebuild_counts() -> int:
    import sqlalchemy as sa

    from app import counts
    from app.db import get_engine

    tables = set(sa.inspect(get_engine()).get_table_names())
    if not {"job", "jobcount"} <= tables:
        print("This database has no Jobdeck job tables (job, jobcount): run `python -m app.manage "
              "setup` (or the migrations) on it first; nothing was changed.", file=sys.stderr)
        return 2
    print(f"counted {counts.rebuild()} jobs")
    return 0


def _verify_audit() -> int:
    from app import audit

    verdict = audit.verify()
    if verdict.ok:
        print(f"audit log intact: {verdict.entries} entries")
        return 0
    print(f"audit log broken at entry {verdict.bad_entry}: {verdict.problem} "
          f"({verdict.entries} entries before it are intact)", file=sys.stderr)
    return 1


def _password() -> str:
    import getpass
    import os

    if os.environ.get("JOBDECK_PASSWORD"):
        return os.environ["JOBDECK_PASSWORD"]
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("The two passwords differ; nothing was changed.")
    return first


def _user_command(cmd: str, args: list[str]) -> int:
    import argparse

    from app import auth, users
    from app.db import migrate
    from app.errors import JobdeckError

    ap = argparse.ArgumentParser(prog=f"python -m app.manage {cmd}")
    ap.add_argument("username")
    if cmd == "create-user":
        ap.add_argument("--role", default="user", choices=auth.ROLES)
        ap.add_argument("--name", default="", help="display name (default: the username)")
    opts = ap.parse_args(args)
    migrate()
    try:
        if cmd == "create-user":
            user = users.add_user(actor=users.OPERATOR, username=opts.username, password=_password(),
                                  display_name=opts.name, role=opts.role)
            print(f"user {user.username} created ({user.role})")
        elif cmd == "set-password":
            user = users.reset_password(actor=users.OPERATOR, username=opts.username, password=_password())
            print(f"password of {user.username} changed; their console sign-ins have ended")
        elif cmd == "end-sign-ins":
            n = users.end_sign_ins(actor=users.OPERATOR, username=opts.username)
            print(f"{n} console sign-in{'' if n == 1 else 's'} of {opts.username} ended")
        elif cmd == "disable-user":
            summary = users.disable_user(actor=users.OPERATOR, username=opts.username)
            print(f"user {summary.username} disabled: console sign-ins ended, API tokens refused")
        else:
            summary = users.enable_user(actor=users.OPERATOR, username=opts.username)
            print(f"user {summary.username} enabled")
    except JobdeckError as exc:
        print(f"refused: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
