"""A PostgreSQL server of a bench's own: a fresh cluster (Debian's postgresql package,
`initdb`) in a folder of its own on a free port, so a bench may stop and restart it
without touching anyone else's server. Run as the postgres user when we are root
(PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from bench.common import free_port


def _bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL's initdb was not found under /usr/lib/postgresql: "
                         "install Debian's postgresql package (apt-get install postgresql)")
    return Path(found[-1]).parent


class PgServer:
    def __init__(self, dbname: str = "jobdeck"):
        self.bin = _bin()
        self.port = free_port()
        self.dbname = dbname
        self.dir = Path(tempfile.mkdtemp(prefix="jobdeck-bench-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as_owner = os.geteuid() == 0
        if self._as_owner:
            shutil.chown(self.dir, "postgres")

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self._as_owner:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def create(self) -> "PgServer":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.dbname)
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                        f"-c synchronous_commit=off -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, down_s: float = 1.0) -> float:
        """Stop the server (every connection cut), stay down `down_s` seconds, start it
        again; returns how long it was down."""
        t = time.monotonic()
        self.stop()
        time.sleep(down_s)
        self.start()
        return time.monotonic() - t

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PgServer":
        return self.create()

    def __exit__(self, *exc: Optional[BaseException]) -> None:
        self.remove()
