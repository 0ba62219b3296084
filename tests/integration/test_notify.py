"""Email when a run or batch ends, through a real local SMTP server (aiosmtpd): exactly
one message for a run that succeeds and one for a run that fails, with the subject, the
body and the console link; a mail server that is down at first makes the mail job retry
until the message arrives, the run's status untouched; a bad address is a 400 and lodges
nothing; steps that end a run at once (PostgreSQL's concurrent commits too) lodge one."""

from __future__ import annotations

import email
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller

from app import queues, retries
from app.jobtypes import BACKENDS

from tests.conftest import free_port, run_workers
from tests.pools import wait_for

PUBLIC = "https://jobdeck.example.org"
TEXT = b"to be or not to be\nthat is the question\n"


class Inbox:
    """aiosmtpd's handler: every message it is given, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def smtp(jobdeck, monkeypatch):
    """A free port for a local SMTP server, and the settings pointing at it; the test
    starts the server (`smtp.start()`) when it wants one to answer."""
    from app.settings import reload_settings

    port = free_port()
    monkeypatch.setenv("JOBDECK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("JOBDECK_SMTP_PORT", str(port))
    monkeypatch.setenv("JOBDECK_SMTP_FROM", "runs@jobdeck.example.org")
    monkeypatch.setenv("JOBDECK_PUBLIC_URL", PUBLIC + "/")
    reload_settings()

    class Server:
        inbox = Inbox()
        controller = None

        def start(self):
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)
            self.controller.start()

    server = Server()
    yield server
    if server.controller is not None:
        server.controller.stop()


def _pipeline(api, *, fail: bool = False) -> int:
    tasks = [{"name": "line count", "command": "wc -l {input}"},
             {"name": "sort lines", "command": "sort {input} -o {output_dir}/sorted.txt", "output_glob": "sorted.txt"},
             {"name": "last", "command": "false" if fail else "cat {input}"}]
    for t in tasks:
        assert api.post("/api/tasks", json=t, headers=api.as_("root")).status_code == 201
    steps = [{"order": 1, "task": "line count"}, {"order": 1, "task": "sort lines"}, {"order": 2, "task": "last"}]
    r = api.post("/api/pipelines", json={"name": "Text summary", "steps": steps}, headers=api.as_("root"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _run(api, pipeline_id: int, address: str = "ada@example.org"):
    return api.post(f"/api/pipelines/{pipeline_id}/runs", headers=api.as_("alice"),
                    files={"file": ("poem.txt", TEXT, "text/plain")}, data={"email": address})


def _mail_jobs(api):
    return [j for j in api.get("/api/admin/jobs", headers=api.as_("root")).json()["jobs"]
            if j["job_type"] == "NOTIFY"]


def _status(api, job_id):
    """The run's state as a whole (its root's answer carries it), else the job's own."""
    job = api.get(f"/api/jobs/{job_id}", headers=api.as_("alice")).json()
    return job["run"]["status"] if job.get("run") else job["status"]


def test_a_run_that_succeeds_sends_one_email_with_its_link(api, smtp):
    smtp.start()
    r = _run(api, _pipeline(api))
    assert r.status_code == 201, r.text
    run_id = r.json()["session_id"]
    assert r.json()["job"]["payload"]["email"] == "ada@example.org"
    run_workers()
    assert _status(api, run_id) == "SUCCEEDED"
    wait_for(lambda: smtp.inbox.messages, message="the email")
    (msg,) = smtp.inbox.messages
    assert smtp.inbox.envelopes == [("runs@jobdeck.example.org", ["ada@example.org"])]
    assert msg["Subject"] == "Text summary on poem.txt succeeded"
    assert msg["To"] == "ada@example.org" and msg["From"] == "runs@jobdeck.example.org"
    body = msg.get_content()
    assert "Your run of Text summary on poem.txt succeeded." in body and "All 3 step(s) succeeded." in body
    assert f"{PUBLIC}/jobs/{run_id}" in body
    (mail,) = _mail_jobs(api)
    assert mail["status"] == "SUCCEEDED" and mail["job_subtype"] == "SEND_EMAIL"
    assert mail["payload"]["about"] == run_id and mail["payload"]["link"] == f"{PUBLIC}/jobs/{run_id}"


def test_a_run_that_fails_sends_one_email_saying_which_step(api, smtp):
    smtp.start()
    r = _run(api, _pipeline(api, fail=True), "  Grace@Example.org ")
    run_id = r.json()["session_id"]
    run_workers()
    assert _status(api, run_id) == "FAILED"
    wait_for(lambda: smtp.inbox.messages, message="the email")
    (msg,) = smtp.inbox.messages
    assert msg["Subject"] == "Text summary on poem.txt failed"
    assert smtp.inbox.envelopes[0][1] == ["Grace@example.org"]  # the domain normalised
    body = msg.get_content()
    assert "2 of 3 step(s) succeeded." in body and "Step 2 failed: last: false exited with code 1" in body
    assert f"{PUBLIC}/jobs/{run_id}" in body
    # a step retried by hand that ends the run again lodges no second email
    (last,) = [j for j in api.get("/api/jobs", headers=api.as_("alice")).json()["jobs"] if j["step"] == 2]
    assert api.post(f"/api/jobs/{last['id']}/retry", headers=api.as_("alice")).status_code in (200, 201, 202)
    run_workers()
    assert _status(api, last["id"]) == "FAILED" and len(_mail_jobs(api)) == 1
    assert len(smtp.inbox.messages) == 1


def test_a_run_without_an_address_sends_nothing(api, smtp):
    smtp.start()
    r = api.post(f"/api/pipelines/{_pipeline(api)}/runs", headers=api.as_("alice"),
                 files={"file": ("poem.txt", TEXT, "text/plain")})
    run_workers()
    assert _status(api, r.json()["session_id"]) == "SUCCEEDED"
    assert _mail_jobs(api) == [] and smtp.inbox.messages == []


def _release_and_run() -> bool:
    retries.release_due(BACKENDS)
    if any(queues.queue(b).count for b in BACKENDS):
        run_workers()
    return True


def test_a_mail_server_that_is_down_makes_the_mail_job_retry_never_the_run_fail(api, smtp):
    r = _run(api, _pipeline(api))
    run_id = r.json()["session_id"]
    run_workers()
    assert _status(api, run_id) == "SUCCEEDED"
    (mail,) = _mail_jobs(api)
    detail = api.get(f"/api/jobs/{mail['id']}", headers=api.as_("root")).json()
    assert detail["attempt"] == 2 and detail["status"] == "PENDING"  # attempt 1 failed; the next one waits
    texts = " ".join(m["text"] for m in api.get(f"/api/jobs/{mail['id']}/messages", headers=api.as_("root")).json())
    assert f"did not take the email to ada@example.org" in texts and "Retrying automatically after FAILED" in texts
    smtp.start()
    wait_for(lambda: _release_and_run() and smtp.inbox.messages, timeout=60, message="the retried email")
    (msg,) = smtp.inbox.messages
    assert msg["Subject"] == "Text summary on poem.txt succeeded"
    (mail,) = _mail_jobs(api)
    assert mail["status"] == "SUCCEEDED" and mail["attempt"] >= 2
    assert _status(api, run_id) == "SUCCEEDED"


@pytest.mark.parametrize("address", ["not an address", "ada@", "@example.org", "ada@example..org",
                                     "ada@exa mple.org", "a" * 250 + "@example.org", "ada@example.org\r\nBcc: x@y.z"])
def test_a_bad_address_is_a_400_and_lodges_nothing(api, smtp, address):
    from app.runs import runs_dir

    r = _run(api, _pipeline(api), address)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "email" and "email" in r.json()["detail"]
    assert api.get("/api/admin/jobs", headers=api.as_("root")).json()["jobs"] == []
    assert not runs_dir().exists() or not any(runs_dir().iterdir())


def _notify_jobs(about: str):
    from sqlmodel import select

    from app.db import session
    from app.models import Job

    with session() as s:
        return list(s.exec(select(Job).where(Job.job_type == "NOTIFY", Job.parent_job_id == about)))


@pytest.mark.parametrize("outcomes", [("SUCCEEDED",) * 6, ("SUCCEEDED", "FAILED") * 3, ("FAILED",) * 6])
def test_steps_that_end_a_run_at_once_lodge_exactly_one_email(users, outcomes):
    """Six parallel steps, the whole run, finish at the same moment on six threads (as
    six workers commit at once): whichever ends the run lodges its email, once. Run on
    PostgreSQL, where the commits really overlap, to see the lock on the run's root."""
    from app import lifecycle, pipelines
    from app.payloads import RunTask
    from app.lifecycle import JobStatus

    root_user, alice = users["root"], users["alice"]
    pipelines.create_task(actor=root_user, name="echo", command="echo {input}")
    p = pipelines.create_pipeline(actor=root_user, name="Fan", steps=[{"order": 1, "task": "echo"}] * 6)
    for _round in range(3):
        run = pipelines.run_pipeline(actor=alice, pipeline=p.id, file_name="a.txt", content=b"a\n",
                                     email="ada@example.org")
        steps = pipelines.run_steps(run.id)
        assert len(steps) == 6
        for j in steps:
            lifecycle.transition(j.id, JobStatus.DEQUEUED, message="taken")
            lifecycle.transition(j.id, JobStatus.IN_PROGRESS, message="started")
        barrier = threading.Barrier(len(steps))
        errors: list[BaseException] = []

        def finish(job, outcome):
            payload = RunTask.model_validate(job.payload)
            barrier.wait()
            try:
                if outcome == "SUCCEEDED":
                    lifecycle.transition(job.id, JobStatus.SUCCEEDED, message="done",
                                         also=lambda conn, done: pipelines.finish_step(conn, done, payload=payload,
                                                                                       files=[]))
                else:
                    lifecycle.transition(job.id, JobStatus.FAILED, message="failed", values={"info": "no"})
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=finish, args=(j, o)) for j, o in zip(steps, outcomes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        (mail,) = _notify_jobs(run.id)
        ended = "succeeded" if set(outcomes) == {"SUCCEEDED"} else "failed"
        assert mail.payload["subject"] == f"Fan on a.txt {ended}" and mail.payload["to"] == "ada@example.org"


def test_a_batch_that_carries_an_address_is_told_once_when_its_last_job_ends(api, smtp):
    smtp.start()
    body = {"job_type": "SYSTEM", "job_subtype": "NOOP", "label": "Nightly checks",
            "payloads": [{}, {"outcome": "fail"}, {}], "email": "ops@example.org"}
    r = api.post("/api/batches", json=body, headers=api.as_("root"))
    assert r.status_code == 201, r.text
    batch_id = r.json()["id"]
    run_workers()
    wait_for(lambda: smtp.inbox.messages, message="the batch's email")
    (msg,) = smtp.inbox.messages
    assert msg["Subject"] == "Nightly checks failed" and msg["To"] == "ops@example.org"
    text = msg.get_content()
    assert "2 of 3 job(s) succeeded, 1 failed." in text and f"{PUBLIC}/batches/{batch_id}" in text
    assert len(_notify_jobs(batch_id)) == 1

    r = api.post("/api/batches", json=body | {"email": "ops@@example.org"}, headers=api.as_("root"))
    assert r.status_code == 400 and r.json()["field"] == "email"
    assert len(api.get("/api/batches", headers=api.as_("root")).json()["batches"]) == 1
    r = api.post("/api/batches", json=body | {"email": None}, headers=api.as_("root"))
    run_workers()
    assert len(smtp.inbox.messages) == 1 and _notify_jobs(r.json()["id"]) == []
