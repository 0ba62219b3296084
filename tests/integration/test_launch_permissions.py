"""The permission checks of lodging and reading jobs, in the domain (the REST matrix in
test_api_authz.py goes through the same functions): who may lodge which job type, for
whom, into which batch, and who may see a job; a refusal writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import launch
from app.db import session
from app.errors import NotFound, PermissionDenied
from app.models import Batch, Job, JobMessage, User

RECORD = {
    "workflow_template_id": "wf-1", "display_name": "run", "description": "a run",
    "associations": {"modeller_id": "person-1"}, "start_time": 1_700_000_000, "end_time": 1_700_000_600,
    "inputs": [{"dataset_template_id": "tpl-1", "dataset_id": "ds-1"}],
}
USER_TYPE = ("PROV_LODGE", "MODEL_RUN_PROV_LODGE")  # users may lodge it directly
ADMIN_TYPE = ("SYSTEM", "NOOP")  # only admins and services may


@pytest.fixture
def actors(jobdeck):
    """Users of each role. What is checked here is the username and the role, so their rows
    are written directly, with no password (hashing one costs seconds on a busy machine)."""
    made = {}
    with session(write=True) as s:
        for name, role in (("alice", "user"), ("bob", "user"), ("root", "admin"), ("svc", "service")):
            made[name] = User(username=name, display_name=name, role=role, password_hash="!")
            s.add(made[name])
    return made


def _counts() -> tuple[int, int, int]:
    with session() as s:
        return tuple(s.exec(sa.select(sa.func.count()).select_from(t)).one()[0] for t in (Job, JobMessage, Batch))


def _lodge(actor, kind=USER_TYPE, **kw):
    payload = {"record": RECORD} if kind == USER_TYPE else {}
    return launch.launch_job(actor=actor, job_type=kind[0], job_subtype=kind[1], payload=payload, **kw)


def _lodge_batch(actor, kind=USER_TYPE, **kw):
    payload = {"record": RECORD} if kind == USER_TYPE else {}
    return launch.launch_batch(actor=actor, job_type=kind[0], job_subtype=kind[1], payloads=[payload], **kw)


@pytest.mark.parametrize("lodge", [_lodge, _lodge_batch], ids=["job", "batch"])
def test_a_user_may_not_lodge_an_admin_job_type(actors, lodge):
    before = _counts()
    with pytest.raises(PermissionDenied, match="SYSTEM/NOOP directly is for admins and services"):
        lodge(actors["alice"], ADMIN_TYPE)
    assert _counts() == before


@pytest.mark.parametrize("lodge", [_lodge, _lodge_batch], ids=["job", "batch"])
@pytest.mark.parametrize("who", ["root", "svc"])
def test_admins_and_services_lodge_any_job_type(actors, lodge, who):
    made = lodge(actors[who], ADMIN_TYPE)
    assert made.owner == who
    made = lodge(actors[who], USER_TYPE)
    assert made.owner == who


@pytest.mark.parametrize("lodge", [_lodge, _lodge_batch], ids=["job", "batch"])
def test_a_user_lodges_for_themself_only(actors, lodge):
    alice = actors["alice"]
    assert lodge(alice).owner == "alice"
    assert lodge(alice, owner="alice").owner == "alice"
    assert lodge(alice, owner="").owner == "alice"
    before = _counts()
    with pytest.raises(PermissionDenied, match="Only admins and services may lodge a job for another user"):
        lodge(alice, owner="bob")
    assert _counts() == before


@pytest.mark.parametrize("lodge", [_lodge, _lodge_batch], ids=["job", "batch"])
@pytest.mark.parametrize("who", ["root", "svc"])
def test_admins_and_services_lodge_for_anyone(actors, lodge, who):
    assert lodge(actors[who], owner="bob").owner == "bob"
    assert lodge(actors[who], ADMIN_TYPE, owner="bob").owner == "bob"
    assert lodge(actors[who], owner=None).owner == who


def test_a_job_is_lodged_into_its_owners_batch_only(actors):
    alice, bob = actors["alice"], actors["bob"]
    mine = _lodge_batch(alice)
    theirs = _lodge_batch(bob)
    before = _counts()
    with pytest.raises(NotFound, match=f"No batch {theirs.id} of user alice"):
        _lodge(alice, batch_id=theirs.id)
    with pytest.raises(NotFound):
        _lodge(alice, batch_id="no-such-batch")
    assert _counts() == before
    with session() as s:
        assert (s.get(Batch, theirs.id).total, s.get(Batch, theirs.id).pending) == (1, 1)
    job = _lodge(alice, batch_id=mine.id)
    assert job.batch_id == mine.id
    with session() as s:
        assert (s.get(Batch, mine.id).total, s.get(Batch, mine.id).pending) == (2, 2)
    # An admin lodging for bob lodges into bob's batch, not into one of the admin's.
    job = _lodge(actors["root"], owner="bob", batch_id=theirs.id)
    assert (job.owner, job.batch_id) == ("bob", theirs.id)
    with pytest.raises(NotFound):
        _lodge(actors["root"], batch_id=theirs.id)  # the admin's own job: not bob's batch


def test_a_job_is_seen_by_its_owner_admins_and_services_only(actors):
    job = _lodge(actors["alice"])
    for who in ("alice", "root", "svc"):
        assert launch.job_for(actors[who], job.id).id == job.id
    with pytest.raises(NotFound) as other:
        launch.job_for(actors["bob"], job.id)
    with pytest.raises(NotFound) as unknown:
        launch.job_for(actors["bob"], "no-such-job")
    # Another user's job reads exactly as a job that does not exist.
    assert str(other.value) == f"No job {job.id}." and str(unknown.value) == "No job no-such-job."
    for who in ("alice", "root"):
        with pytest.raises(NotFound):
            launch.job_for(actors[who], "no-such-job")


def test_another_user_can_neither_cancel_nor_retry_a_job(actors):
    job = _lodge(actors["alice"])
    with pytest.raises(NotFound):
        launch.cancel_job(actor=actors["bob"], job_id=job.id)
    assert launch.get_job(job.id).status == "PENDING"
    launch.cancel_job(actor=actors["alice"], job_id=job.id)
    with pytest.raises(NotFound):
        launch.retry_job(actor=actors["bob"], job_id=job.id)
    assert launch.get_job(job.id).status == "CANCELLED"
    assert launch.retry_job(actor=actors["root"], job_id=job.id).attempt == 2
