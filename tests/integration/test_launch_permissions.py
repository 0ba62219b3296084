"""The permission checks of lodging and reading jobs, in the domain (the REST matrix in
test_api_authz.py goes through the same functions): who may lodge which job type, for
whom, into which batch, and who may see a job; a refusal writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import launch
from app.db import session
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
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
    with pytest.raises(PermissionDenied) as refused:
        lodge(actors["alice"], ADMIN_TYPE)
    assert str(refused.value) == ("Lodging SYSTEM/NOOP directly is for admins and services; users start it "
                                  "through the registry.")
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
    with pytest.raises(PermissionDenied) as refused:
        lodge(alice, owner="bob")
    assert str(refused.value) == "Only admins and services may lodge a job for another user."
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
    with pytest.raises(NotFound) as refused:
        _lodge(alice, batch_id=theirs.id)
    assert str(refused.value) == f"No batch {theirs.id} of user alice."
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


def test_an_idempotency_key_replays_its_owners_request_only(actors):
    alice, bob = actors["alice"], actors["bob"]
    earlier = _lodge(alice, idempotency_key="k0")
    first = _lodge(alice, idempotency_key="k1")  # another key: another request
    assert first.id != earlier.id and _counts()[0] == 2
    assert (first.idempotency_key, first.workflow_id) == ("k1", first.id)
    again = _lodge(alice, idempotency_key="k1")
    assert again.id == first.id and _counts()[0] == 2
    # The same key from another user is another request: bob gets a job of his own.
    theirs = _lodge(bob, idempotency_key="k1")
    assert theirs.id != first.id and theirs.owner == "bob"
    # An admin lodging for alice with her key replays her job.
    assert _lodge(actors["root"], owner="alice", idempotency_key="k1").id == first.id
    with pytest.raises(Conflict, match="used before for a different request") as clash:
        launch.launch_job(actor=alice, job_type=USER_TYPE[0], job_subtype=USER_TYPE[1],
                          payload={"record": {**RECORD, "display_name": "another run"}}, idempotency_key="k1")
    assert clash.value.detail["session_id"] == first.id
    with pytest.raises(Conflict):
        _lodge(actors["root"], ADMIN_TYPE, owner="alice", idempotency_key="k1")
    assert _counts()[0] == 3


def test_an_idempotency_key_raced_in_by_a_twin_request_replays_it(actors, monkeypatch):
    """The twin committed between the look-up and the insert: the unique key refuses the
    insert, and the twin's job is the answer."""
    alice = actors["alice"]
    twin = _lodge(alice, idempotency_key="k2")
    looked = []

    def not_yet(owner, key):  # the first look-up misses: the twin was not committed yet
        looked.append((owner, key))
        monkeypatch.setattr(launch, "_by_idempotency_key", real)
        return None

    real = launch._by_idempotency_key
    monkeypatch.setattr(launch, "_by_idempotency_key", not_yet)
    assert _lodge(alice, idempotency_key="k2").id == twin.id
    assert looked == [("alice", "k2")] and _counts()[0] == 1
    monkeypatch.setattr(launch, "_by_idempotency_key", lambda owner, key: None)
    with pytest.raises(sa.exc.IntegrityError):  # no twin to be found: the refusal stands
        _lodge(alice, idempotency_key="k2")


def test_an_insert_refused_for_another_reason_is_not_answered_with_another_job(actors, monkeypatch):
    earlier = _lodge(actors["alice"])
    monkeypatch.setattr(launch, "new_id", lambda: earlier.id)  # the new row's id is taken
    with pytest.raises(sa.exc.IntegrityError):
        _lodge(actors["alice"])


def test_a_job_records_the_item_it_is_about(actors):
    job = _lodge(actors["alice"], entity_id="item-7")
    assert (job.entity_id, job.workflow_id, job.owner, job.idempotency_key) == ("item-7", job.id, "alice", None)


def test_one_bad_payload_refuses_the_whole_batch_naming_its_item(actors):
    before = _counts()
    with pytest.raises(InvalidInput) as bad:
        launch.launch_batch(actor=actors["root"], job_type="SYSTEM", job_subtype="NOOP",
                            payloads=[{}, {"sleep_s": -1}])
    assert bad.value.field == "payloads.1.payload.sleep_s"
    assert [e["field"] for e in bad.value.errors] == ["payloads.1.payload.sleep_s"]
    assert str(bad.value).startswith("Item 1: Invalid SYSTEM/NOOP payload: payload.sleep_s: ")
    assert _counts() == before


def test_a_batchs_jobs_are_its_own_lodged_together(actors):
    batch = launch.launch_batch(actor=actors["root"], job_type="SYSTEM", job_subtype="NOOP",
                                payloads=[{}, {}, {}], owner="bob")
    assert (batch.owner, batch.label, batch.total, batch.pending) == ("bob", "", 3, 3)
    with session() as s:
        jobs = list(s.exec(sa.select(Job).where(Job.batch_id == batch.id)).scalars())
    assert len(jobs) == 3 and all(j.owner == "bob" and j.workflow_id == j.id for j in jobs)
    assert len({j.created_at for j in jobs}) == 1  # one time for the lot: it pages as one


# --- the REST caller (app/api/deps.py) -------------------------------------------


def test_a_rest_caller_is_the_user_of_a_valid_token_within_its_rate(actors, monkeypatch):

    from app import auth
    from app.api import deps
    from app.errors import AuthenticationFailed, RateLimited
    from app.settings import reload_settings

    monkeypatch.setenv("JOBDECK_API_RATE_LIMIT", "2")
    reload_settings()
    try:
        _current_user_checks(auth, deps, AuthenticationFailed, RateLimited)
    finally:
        monkeypatch.delenv("JOBDECK_API_RATE_LIMIT")
        reload_settings()


def _current_user_checks(auth, deps, AuthenticationFailed, RateLimited):
    from fastapi.security import HTTPAuthorizationCredentials

    with pytest.raises(AuthenticationFailed) as none:
        deps.current_user(None)
    assert str(none.value) == "Send a personal API token as 'Authorization: Bearer <token>'."
    with pytest.raises(AuthenticationFailed):
        deps.current_user(HTTPAuthorizationCredentials(scheme="Bearer", credentials="jdk_not-a-token"))
    plain, _ = auth.create_token(owner="bob")
    creds = HTTPAuthorizationCredentials(scheme="Bearer", credentials=plain)
    assert [deps.current_user(creds).username for _ in range(2)] == ["bob", "bob"]
    with pytest.raises(RateLimited):  # the third request of the minute is over the limit of 2
        deps.current_user(creds)


@pytest.mark.parametrize("who,allowed", [("alice", False), ("root", True), ("svc", True)])
def test_admin_routes_are_for_admins_and_services(actors, who, allowed):
    from app.api import deps

    if allowed:
        assert deps.admin_user(actors[who]) is actors[who]
    else:
        with pytest.raises(PermissionDenied) as refused:
            deps.admin_user(actors[who])
        assert str(refused.value) == "This route is for admins and services."
