"""Provena's own published client (`provenaclient`), unchanged, against a running Jobdeck:
uvicorn serving app.api.build_api() on a free local port, pointed at the test database and
the tests' Redis, with real RQ workers (the `worker.pool` process, or a burst SimpleWorker
where a test needs jobs to stay put until it says so).

The client's await helpers sleep whole seconds between polls, so each test lodges all
its work first and awaits afterwards, keeping the number of sleeping polls small.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import uvicorn
from provenaclient import Config, ProvenaClient
from provenaclient.auth.manager import AuthManager
from provenaclient.models import AsyncAwaitSettings
from provenaclient.utils.config import APIOverrides
from provenaclient.utils.exceptions import AuthException, BadRequestException, ServerException
from ProvenaInterfaces.AsyncJobAPI import (AdminLaunchJobRequest, AdminListByBatchRequest, AdminListJobsRequest,
                                           JobStatus, ListByBatchRequest, ListJobsRequest)
from ProvenaInterfaces.AsyncJobModels import (ProvLodgeBatchSubmitResult, ProvLodgeModelRunPayload,
                                              ProvLodgeModelRunResult,
                                              RegistryRegisterCreateActivityResult,
                                              RegistryRegisterVersionActivityResult)
from ProvenaInterfaces.ProvenanceAPI import RegisterBatchModelRunRequest
from ProvenaInterfaces.ProvenanceModels import ModelRunRecord
from ProvenaInterfaces.RegistryAPI import VersionRequest
from ProvenaInterfaces.RegistryModels import (DatasetTemplateDomainInfo, DefinedResource, ModelDomainInfo,
                                              ModelRunWorkflowTemplateDomainInfo, OrganisationDomainInfo,
                                              PersonDomainInfo, StudyDomainInfo, TemplateResource)

from app import auth, launch, lifecycle, registry
from app.db import session
from app.models import Job
from app.api import build_api
from app.lifecycle import JobStatus as JD
from tests.conftest import ROOT, free_port, model_run_record, run_workers

AWAIT = AsyncAwaitSettings(job_polling_interval=1, job_async_queue_delay_polling_timeout=20,
                           job_async_pending_polling_timeout=60, job_async_in_progress_polling_timeout=60)


class JobdeckToken(AuthManager):
    """Provena's auth interface handing out a Jobdeck API token."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def get_token(self) -> str:
        return self.token

    def force_refresh(self) -> None:
        pass


@pytest.fixture(scope="module")
def server_url():
    """Jobdeck's API on a real socket. It serves whatever database and Redis the current
    test's settings name, so one server outlives the per-test databases."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_api(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api/provena"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def connect(server_url):
    """connect(username) -> Provena's client for that user, endpoints overridden to Jobdeck."""
    def _connect(username: str, token: str | None = None) -> ProvenaClient:
        token = token or auth.create_token(owner=username, name="provena client")[0]
        overrides = APIOverrides(jobs_service_api_endpoint_override=server_url,
                                 prov_api_endpoint_override=server_url,
                                 registry_api_endpoint_override=server_url)
        return ProvenaClient(auth=JobdeckToken(token),
                             config=Config(domain="jobdeck.invalid", realm_name="jobdeck", api_overrides=overrides))
    return _connect


@pytest.fixture
def pool(jobdeck, tmp_path):
    """Real RQ workers in their own processes (`python -m worker.pool`), on this test's
    database and Redis, for jobs that must run while the client polls."""
    log = open(tmp_path / "pool.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "worker.pool", "--workers", "2"], cwd=ROOT,
                            env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = tmp_path / "pool.log"
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


def run(coro):
    """Run the client's coroutine on a loop of its own thread: after the browser tests,
    Playwright's sync API leaves an event loop running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


def provena_record(world, **over) -> ModelRunRecord:
    """A model run as Provena's own model, so the client validates and sends it."""
    rec = model_run_record(world, **over)
    for d in rec["inputs"] + rec["outputs"]:
        d.setdefault("dataset_type", "DATA_STORE")  # required by Provena's model
    return ModelRunRecord.model_validate(rec)


# --- health, tokens, unknown and foreign session ids ---------------------------------


def test_health_tokens_and_unknown_or_foreign_sessions(users, connect):
    alice, bob = connect("alice"), connect("bob")
    health = run(alice.job_api.get_health_check())
    assert "Jobdeck" in health.message

    with pytest.raises(AuthException) as bad:
        run(connect("alice", token="jdk_not-a-token").job_api.list_jobs(ListJobsRequest()))
    assert bad.value.error_code == 401

    with pytest.raises(BadRequestException) as unknown:
        run(alice.job_api.fetch_job(session_id="no-such-session"))
    assert unknown.value.error_code == 400 and "no-such-session" in unknown.value.message

    # bob's job is not alice's to see, through the user route; an admin sees it.
    wake = launch.launch_job(actor=users["root"], job_type="PROV_LODGE", job_subtype="PROV_LODGE_WAKE_UP",
                             payload={}, owner="bob")
    with pytest.raises(BadRequestException) as foreign:
        run(alice.job_api.fetch_job(session_id=wake.id))
    assert foreign.value.error_code == 400
    assert run(bob.job_api.fetch_job(session_id=wake.id)).job.username == "bob"
    assert run(connect("root").job_api.admin.get_job(session_id=wake.id)).job.session_id == wake.id

    # admin routes need the admin or service role
    with pytest.raises(ServerException) as forbidden:
        run(alice.job_api.admin.list_jobs(AdminListJobsRequest()))
    assert forbidden.value.error_code == 403 and "admins" in forbidden.value.message


# --- statuses onto Provena's closed enum; Jobdeck-only types hidden --------------------


def test_statuses_map_onto_provenas_enum(users, connect):
    """No workers run here, so every job stays exactly where the test puts it."""
    alice, root = users["alice"], users["root"]
    client = connect("alice")
    lodged = [launch.launch_job(actor=root, job_type="REGISTRY", job_subtype="REGISTRY_WAKE_UP", payload={},
                                owner="alice") for _ in range(5)]
    pending, dequeued, running, crashed, cancelled = (j.id for j in lodged)
    lifecycle.transition(dequeued, JD.DEQUEUED, message="Taken by worker w1")
    lifecycle.transition(running, JD.DEQUEUED, message="Taken by worker w1")
    lifecycle.transition(running, JD.IN_PROGRESS, message="Started")
    lifecycle.transition(crashed, JD.DEQUEUED, message="Taken by worker w2")
    lifecycle.transition(crashed, JD.CRASHED, message="Worker w2 died",
                         values={"info": "Worker w2 died while running the job."})
    launch.cancel_job(actor=alice, job_id=cancelled)
    # A Jobdeck-only job of alice's: not in Provena's enums, so never shown to its client.
    noop = launch.launch_job(actor=root, job_type="SYSTEM", job_subtype="NOOP", payload={}, owner="alice")

    seen = {j.session_id: j for j in run(client.job_api.list_all_jobs(ListJobsRequest(limit=2)))}
    assert set(seen) == {j.id for j in lodged}
    assert {sid: j.status for sid, j in seen.items()} == {
        pending: JobStatus.PENDING, dequeued: JobStatus.DEQUEUED, running: JobStatus.IN_PROGRESS,
        crashed: JobStatus.FAILED, cancelled: JobStatus.FAILED}
    assert seen[crashed].info == "CRASHED: Worker w2 died while running the job."
    assert seen[cancelled].info == "CANCELLED: Cancelled by alice"
    assert seen[pending].info is None and seen[pending].result is None
    job = seen[pending]
    assert job.username == "alice" and job.job_type == "REGISTRY" and job.job_sub_type == "REGISTRY_WAKE_UP"
    assert abs(job.created_timestamp - time.time()) < 60  # unix seconds

    with pytest.raises(BadRequestException):
        run(client.job_api.fetch_job(session_id=noop.id))
    with pytest.raises(BadRequestException):
        run(connect("root").job_api.admin.get_job(session_id=noop.id))
    everyone = run(connect("root").job_api.admin.list_all_jobs(AdminListJobsRequest(limit=500)))
    assert noop.id not in {j.session_id for j in everyone} and len(everyone) == 5


# --- lists page by page; admin launch; batches ---------------------------------------------


def test_lists_page_through_everything_and_admin_launch(users, connect):
    root = users["root"]
    admin, alice, bob = connect("root"), connect("alice"), connect("bob")
    batch = launch.launch_batch(actor=root, job_type="PROV_LODGE", job_subtype="PROV_LODGE_WAKE_UP",
                                payloads=[{}] * 23, owner="alice")
    for _ in range(2):
        launch.launch_job(actor=root, job_type="REGISTRY", job_subtype="REGISTRY_WAKE_UP", payload={}, owner="bob")

    # Page by hand: the key is an opaque dict handed back until it is null.
    pages, req = [], ListJobsRequest(limit=10)
    while True:
        page = run(alice.job_api.list_jobs(req))
        pages.append([j.session_id for j in page.jobs])
        if page.pagination_key is None:
            break
        assert isinstance(page.pagination_key, dict)
        req.pagination_key = page.pagination_key
    assert [len(p) for p in pages] == [10, 10, 3]
    ids = [sid for p in pages for sid in p]
    assert len(set(ids)) == 23

    in_batch = run(alice.job_api.list_all_jobs_in_batch(ListByBatchRequest(batch_id=batch.id, limit=10)))
    assert sorted(j.session_id for j in in_batch) == sorted(ids)
    assert {j.batch_id for j in in_batch} == {batch.id}
    with pytest.raises(BadRequestException):  # not bob's batch
        run(bob.job_api.list_jobs_in_batch(ListByBatchRequest(batch_id=batch.id)))
    with pytest.raises(BadRequestException) as bad_key:
        run(alice.job_api.list_jobs(ListJobsRequest(pagination_key={"cursor": "not-ours"})))
    assert "pagination_key" in bad_key.value.message

    only_bob = run(admin.job_api.admin.list_all_jobs(AdminListJobsRequest(username_filter="bob", limit=1)))
    assert len(only_bob) == 2 and {j.username for j in only_bob} == {"bob"}
    assert len(run(admin.job_api.admin.list_all_jobs(AdminListJobsRequest(limit=7)))) == 25
    assert len(run(admin.job_api.admin.list_all_jobs_in_batch(
        AdminListByBatchRequest(batch_id=batch.id, limit=5)))) == 23
    assert run(admin.job_api.admin.list_all_jobs_in_batch(
        AdminListByBatchRequest(batch_id=batch.id, username_filter="bob"))) == []

    # Admin launch: a new batch on request, then a job added to it; Provena's own payload
    # shape for the subtype is accepted too.
    first = run(admin.job_api.admin.launch_job(AdminLaunchJobRequest(
        username="bob", request_batch_id=True, job_type="REGISTRY", job_sub_type="REGISTRY_WAKE_UP",
        job_payload={"reason": "warm up"})))
    assert first.batch_id
    second = run(admin.job_api.admin.launch_job(AdminLaunchJobRequest(
        username="bob", add_to_batch=first.batch_id, job_type="PROV_LODGE", job_sub_type="PROV_LODGE_WAKE_UP",
        job_payload={})))
    listed = run(bob.job_api.list_all_jobs_in_batch(ListByBatchRequest(batch_id=first.batch_id)))
    assert {j.session_id for j in listed} == {first.session_id, second.session_id}
    assert all(j.status == JobStatus.PENDING and j.username == "bob" for j in listed)
    # Provena's EMAIL / SEND_EMAIL is Jobdeck's NOTIFY / SEND_EMAIL, shown by Provena's name.
    mail = run(admin.job_api.admin.launch_job(AdminLaunchJobRequest(
        job_type="EMAIL", job_sub_type="SEND_EMAIL",
        job_payload={"email_to": "bob@example.org", "subject": "Hello", "body": "A note.", "reason": "test"})))
    with session() as s:
        lodged = s.get(Job, mail.session_id)
        assert (lodged.job_type, lodged.job_subtype) == ("NOTIFY", "SEND_EMAIL")
        assert lodged.payload["to"] == "bob@example.org" and lodged.payload["subject"] == "Hello"
    shown = run(admin.job_api.admin.get_job(session_id=mail.session_id)).job
    assert shown.job_type.value == "EMAIL" and shown.job_sub_type.value == "SEND_EMAIL"
    with pytest.raises(Exception) as no_such:
        run(admin.job_api.admin.launch_job(AdminLaunchJobRequest(
            job_type="EMAIL", job_sub_type="EMAIL_WAKE_UP", job_payload={})))
    assert "EMAIL/SEND_EMAIL" in str(no_such.value.message)
    with pytest.raises(ServerException) as not_admin:
        run(alice.job_api.admin.launch_job(AdminLaunchJobRequest(
            job_type="REGISTRY", job_sub_type="REGISTRY_WAKE_UP", job_payload={})))
    assert not_admin.value.error_code == 403

    # Run what was lodged with a real burst worker: SUCCEEDED jobs always carry a result.
    run_workers()
    done = run(bob.job_api.fetch_job(session_id=second.session_id)).job
    assert done.status == JobStatus.SUCCEEDED and done.result is not None and "worker" in done.result


# --- model runs: register, fail, batch, update, with workers running ---------------------------


def test_model_runs_through_provenas_client(world, pool, connect):
    client = connect("alice")
    prov, jobs = client.prov_api, client.job_api
    # Lodge everything first: the workers run it while the client awaits the first one.
    ok = run(prov.register_model_run(provena_record(world, display_name="run ok")))
    # A record naming an unknown dataset is refused at the door, as Provena does (400).
    with pytest.raises(BadRequestException) as bad:
        run(prov.register_model_run(provena_record(world, display_name="run bad", inputs=[
            {"dataset_template_id": world["template"].id, "dataset_id": "no-such-dataset",
             "dataset_type": "DATA_STORE"}])))
    assert "Input dataset with id no-such-dataset was not a valid id" in bad.value.message
    many = run(prov.register_batch_model_runs(RegisterBatchModelRunRequest(records=[
        provena_record(world, display_name=f"batch run {i}") for i in range(3)])))
    # An admin script lodging for alice with Provena's own payload model for the subtype.
    by_admin = run(connect("root").job_api.admin.launch_job(AdminLaunchJobRequest(
        username="alice", job_type="PROV_LODGE", job_sub_type="MODEL_RUN_PROV_LODGE",
        job_payload=ProvLodgeModelRunPayload(record=provena_record(world, display_name="run by admin"),
                                             revalidate=True, user_info="opaque").model_dump(mode="json"))))
    assert ok.status.success and ok.session_id and many.session_id

    done = run(jobs.await_successful_job_completion(ok.session_id, settings=AWAIT))
    assert done.status == JobStatus.SUCCEEDED and done.job_sub_type == "MODEL_RUN_PROV_LODGE"
    record = ProvLodgeModelRunResult.model_validate(done.result).record  # Provena's own result model
    assert record.id == done.result["record_id"] and record.record.display_name == "run ok"
    assert "wasAssociatedWith" in record.prov_json
    assert registry.get_item(record.id).subtype == "MODEL_RUN"

    admin_run = run(jobs.await_successful_job_completion(by_admin.session_id, settings=AWAIT))
    assert admin_run.username == "alice" and admin_run.payload["record"]["display_name"] == "run by admin"
    assert "user_info" not in admin_run.payload

    submitted = run(jobs.await_successful_job_completion(many.session_id, settings=AWAIT))
    batch_id = ProvLodgeBatchSubmitResult.model_validate(submitted.result).batch_id
    deadline = time.monotonic() + 60
    while True:  # the batch's own jobs finish shortly after the submission
        children = run(jobs.list_all_jobs_in_batch(ListByBatchRequest(batch_id=batch_id, limit=2)))
        if len(children) == 3 and all(c.status == JobStatus.SUCCEEDED for c in children):
            break
        assert time.monotonic() < deadline, [(c.session_id, c.status, c.info) for c in children]
        time.sleep(0.2)
    assert {c.payload["record"]["display_name"] for c in children} == {f"batch run {i}" for i in range(3)}
    assert all(c.batch_id == batch_id and c.job_sub_type == "MODEL_RUN_PROV_LODGE" for c in children)

    update = run(prov.update_model_run(model_run_id=record.id, reason="fixed the description",
                                       record=provena_record(world, display_name="run ok",
                                                             description="a better description")))
    updated = run(jobs.await_successful_job_completion(update.session_id, settings=AWAIT))
    assert updated.job_sub_type == "MODEL_RUN_UPDATE" and updated.result["version"] == 2
    new = registry.get_item(updated.result["record_id"])
    assert new.previous_version_id == record.id and new.version_reason == "fixed the description"
    assert pool.poll() is None, pool.log_path.read_text()


# --- registry: create and version through /registry/<category>/<subtype>/... --------------------


def test_registry_create_and_version_through_provenas_client(users, pool, connect):
    client = connect("alice")
    model = run(client.registry.model.create_item(ModelDomainInfo(
        display_name="Reef model", name="reef", description="A model of the reef",
        documentation_url="https://example.org/reef/docs", source_url="https://example.org/reef/src")))
    person = run(client.registry.person.create_item(PersonDomainInfo(
        display_name="Ada Lovelace", email="ada@example.org", first_name="Ada", last_name="Lovelace")))
    org = run(client.registry.organisation.create_item(OrganisationDomainInfo(
        display_name="Reef Institute", name="Reef Institute")))
    assert model.status.success and model.created_item.name == "reef"
    assert model.created_item.item_subtype == "MODEL" and model.created_item.owner_username == "alice"
    assert person.created_item.email == "ada@example.org" and org.created_item.item_category == "AGENT"

    created = run(client.job_api.await_successful_job_completion(model.register_create_activity_session_id,
                                                                 settings=AWAIT))
    lodge_sid = RegistryRegisterCreateActivityResult.model_validate(created.result).lodge_session_id
    assert run(client.job_api.await_successful_job_completion(lodge_sid, settings=AWAIT)).job_sub_type \
        == "LODGE_CREATE_ACTIVITY"
    assert registry.get_item(model.created_item.id).record_status == "LODGED"

    version = run(client.registry.model.version_item(VersionRequest(id=model.created_item.id, reason="new data")))
    versioned = run(client.job_api.await_successful_job_completion(version.version_job_session_id, settings=AWAIT))
    assert versioned.job_sub_type == "REGISTER_VERSION_ACTIVITY"
    RegistryRegisterVersionActivityResult.model_validate(versioned.result)
    new = registry.get_item(version.new_version_id)
    assert (new.version, new.previous_version_id, new.version_reason) == (2, model.created_item.id, "new data")
    assert new.record["name"] == "reef"

    with pytest.raises(BadRequestException) as wrong:  # a person is not versioned through the model route
        run(client.registry.model.version_item(VersionRequest(id=person.created_item.id, reason="x")))
    assert "PERSON" in wrong.value.message
    assert pool.poll() is None, pool.log_path.read_text()


def test_templates_workflows_and_studies_through_provenas_client(users, pool, connect):
    """The other subtypes the client creates: each answers in Provena's own response model
    (the client validates it), runs its create workflow, and versions where Provena does."""
    client, bob = connect("alice"), connect("bob")
    template = run(client.registry.dataset_template.create_item(DatasetTemplateDomainInfo(
        display_name="Gauge readings", description="River gauge CSVs",
        defined_resources=[DefinedResource(path="readings.csv", description="the readings",
                                           usage_type="GENERAL_DATA")])))
    assert template.created_item.item_subtype == "DATASET_TEMPLATE"
    assert template.created_item.defined_resources[0].path == "readings.csv"
    model = run(client.registry.model.create_item(ModelDomainInfo(
        display_name="Flood model", name="flood", description="Floods",
        documentation_url="https://example.org/flood/docs", source_url="https://example.org/flood/src")))
    workflow = run(client.registry.model_run_workflow.create_item(ModelRunWorkflowTemplateDomainInfo(
        display_name="Flood runs", software_id=model.created_item.id,
        input_templates=[TemplateResource(template_id=template.created_item.id)])))
    assert workflow.created_item.item_subtype == "MODEL_RUN_WORKFLOW_TEMPLATE"
    assert workflow.created_item.software_id == model.created_item.id
    study = run(client.registry.study.create_item(StudyDomainInfo(
        display_name="Flood study", title="Floods of 2025", description="What the floods did")))
    assert study.created_item.item_subtype == "STUDY" and study.created_item.item_category == "ACTIVITY"

    for made in (template, workflow, study):
        done = run(client.job_api.await_successful_job_completion(made.register_create_activity_session_id,
                                                                  settings=AWAIT))
        assert done.job_sub_type == "REGISTER_CREATE_ACTIVITY" and done.username == "alice"
        assert registry.get_item(made.created_item.id).subtype == made.created_item.item_subtype

    newer = run(client.registry.dataset_template.version_item(VersionRequest(id=template.created_item.id,
                                                                             reason="a second file")))
    assert registry.get_item(newer.new_version_id).version == 2
    with pytest.raises(ServerException) as not_his:  # bob may not version alice's template
        run(bob.registry.dataset_template.version_item(VersionRequest(id=newer.new_version_id, reason="mine now")))
    assert not_his.value.error_code == 403
    assert registry.get_item(newer.new_version_id).next_version_id is None  # nothing was written
    assert pool.poll() is None, pool.log_path.read_text()
