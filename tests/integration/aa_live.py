"""What the Analytics Automated tests share: a running Jobdeck (uvicorn over HTTP) with
A_A-style tasks and pipelines, and a client that submits as A_A's example scripts do
(multipart, `input_data` a file part)."""

from __future__ import annotations

from typing import Any, Optional

import httpx

from tests.conftest import run_workers

ROOT = "/analytics_automated"
TEXT = b"banana\napple\ncherry\ndate\n"

TASKS = [
    # sort's -r comes from a switch; the value of `lines` reaches split as its own argument.
    {"name": "sort", "command": "sort {input} -o {output_dir}/sorted.txt", "output_glob": "sorted.txt",
     "parameters": [{"name": "reverse", "flag": "-r", "bool_valued": True}]},
    {"name": "split", "command": "split -l {lines} {input} {output_dir}/part_", "output_glob": "part_*",
     "parameters": [{"name": "lines", "type": "integer", "minimum": 1}]},
    {"name": "fail", "command": "false"},
]
PIPELINES = [
    {"name": "sorter", "public": True, "steps": [{"order": 1, "task": "sort"}, {"order": 2, "task": "split"}]},
    {"name": "broken", "public": True, "steps": [{"order": 1, "task": "sort"}, {"order": 5, "task": "fail"}]},
    {"name": "private", "steps": [{"order": 1, "task": "sort"}]},
    {"name": "disabled", "public": True, "runnable": False, "steps": [{"order": 1, "task": "sort"}]},
]
SORTER = {"sort_reverse": "TRUE", "split_lines": "2"}


def configure(root_user) -> dict[str, Any]:
    from app import pipelines

    for t in TASKS:
        pipelines.create_task(actor=root_user, **t)
    return {p["name"]: pipelines.create_pipeline(actor=root_user, **p) for p in PIPELINES}


class AAClient:
    def __init__(self, url: str, token: Optional[str] = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url + ROOT, headers=headers, timeout=30, follow_redirects=False)
        self.url = url

    def submit(self, job: str = "sorter", *, name: str = "my run", email: str = "someone@example.org",
               content: Optional[bytes] = TEXT, file_name: str = "input.txt", path: str = "/submission.json",
               **fields) -> httpx.Response:
        data = {"job": job, "submission_name": name, "email": email, **fields}
        data = {k: v for k, v in data.items() if v is not None}
        files = {"input_data": (file_name, content)} if content is not None else None
        if files is None:  # multipart even without a file, as a browser form sends it
            files = {"placeholder": ("", b"")}
        return self.http.post(path, data=data, files=files)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def batch(self, uuid: str) -> dict:
        r = self.get(f"/submission/{uuid}")
        assert r.status_code == 200, r.text
        return r.json()

    def close(self) -> None:
        self.http.close()


def lodged_jobs() -> int:
    import sqlalchemy as sa

    from app.db import session
    from app.models import Job

    with session() as s:
        return s.execute(sa.select(sa.func.count()).select_from(Job)).scalar()


def stored_runs() -> list[str]:
    from app.runs import runs_dir

    d = runs_dir()
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


__all__ = ["AAClient", "PIPELINES", "ROOT", "SORTER", "TASKS", "TEXT", "configure", "lodged_jobs", "run_workers",
           "stored_runs"]
