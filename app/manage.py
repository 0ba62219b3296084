"""Small administrative commands used by scripts/run: `python -m app.manage COMMAND`.

  setup        apply migrations and seed the demo data (idempotent)
  redis-ping   exit 0 when Redis answers at JOBDECK_REDIS_URL
  redis-port   print the port of JOBDECK_REDIS_URL (to start a server there)
  banner       print the address to open and the demo sign-ins
"""

from __future__ import annotations

import sys
from urllib.parse import urlparse


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
    print(__doc__)
    return 0 if cmd == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
