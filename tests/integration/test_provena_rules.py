"""Provena's model-run validation, registry reads and CSV routes, driven through
Provena's own published client against a live Jobdeck (the server of test_provena.py),
and the same rules on Jobdeck's own routes, which list every problem of every record.
"""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from provenaclient.utils.exceptions import BadRequestException
from ProvenaInterfaces.AsyncJobAPI import AdminLaunchJobRequest, JobStatus, ListByBatchRequest
from ProvenaInterfaces.ProvenanceAPI import RegisterBatchModelRunRequest
from ProvenaInterfaces.ProvenanceModels import ModelRunRecord
from ProvenaInterfaces.RegistryAPI import FilterOptions, GeneralListRequest, QueryRecordTypes
from ProvenaInterfaces.RegistryModels import ItemModelRun, ItemPerson, SeededItem

from app import registry
from app.db import session
from app.models import Item, Job
from tests.plans import assert_reads_index
from tests.conftest import run_workers
from tests.integration.test_provena import connect, run, server_url  # noqa: F401 (fixtures)

WRAP = "Failed to validate an entity's ID in the record, error: "


def _make(actor, subtype, display_name, description="", **record):
    return registry.create_item(actor=actor, subtype=subtype, display_name=display_name, description=description,
                                record=record)[0]


@pytest.fixture
def reg(users):
    """A registry with every part the rules read: a workflow template asking for a
    required input (with a required and an optional deferred resource key), an optional
    input, an output and annotations; plus seeds and workflows gone wrong."""
    alice = users["alice"]
    m = {}
    m["person"] = _make(alice, "PERSON", "Ada", first_name="Ada", last_name="Lovelace", email="ada@example.org")
    m["seed_person"] = _make(alice, "PERSON", "Someone not filled in")
    m["org"] = _make(alice, "ORGANISATION", "Reef Institute", name="Reef Institute")
    m["study"] = _make(alice, "STUDY", "Floods", title="Floods of 2025", description="What the floods did")
    m["seed_study"] = _make(alice, "STUDY", "A study without a title")
    m["model"] = _make(alice, "MODEL", "Flood model", name="flood", description="Floods",
                       documentation_url="https://example.org/d", source_url="https://example.org/s")
    m["seed_model"] = _make(alice, "MODEL", "A model without URLs", name="half")
    m["forcing"] = _make(alice, "DATASET_TEMPLATE", "Forcing", deferred_resources=[
        {"key": "rain", "description": "rain", "usage_type": "FORCING_DATA"},
        {"key": "notes", "description": "notes", "usage_type": "GENERAL_DATA", "optional": True}])
    m["extra"] = _make(alice, "DATASET_TEMPLATE", "Extra inputs")
    m["result"] = _make(alice, "DATASET_TEMPLATE", "Results")
    m["stray"] = _make(alice, "DATASET_TEMPLATE", "Not in the workflow")
    m["rain"] = _make(alice, "DATASET", "Rainfall")
    m["flow"] = _make(alice, "DATASET", "Streamflow")
    templates = dict(input_templates=[{"template_id": m["forcing"].id}, {"template_id": m["extra"].id,
                                                                         "optional": True}],
                     output_templates=[{"template_id": m["result"].id}],
                     annotations={"required": ["scenario", "grid"], "optional": ["note"]})
    m["wf"] = _make(alice, "MODEL_RUN_WORKFLOW_TEMPLATE", "Flood runs", software_id=m["model"].id, **templates)
    m["wf_ghost_template"] = _make(alice, "MODEL_RUN_WORKFLOW_TEMPLATE", "Runs of a lost template",
                                   software_id=m["model"].id, input_templates=[{"template_id": "ghost-template"}])
    m["wf_seed_model"] = _make(alice, "MODEL_RUN_WORKFLOW_TEMPLATE", "Runs of a half model",
                               software_id=m["seed_model"].id, **templates)
    m["wf_dataset_model"] = _make(alice, "MODEL_RUN_WORKFLOW_TEMPLATE", "Runs of a dataset",
                                  software_id=m["rain"].id, **templates)
    run_workers()
    return m


def good(m, **over) -> dict:
    rec = {"workflow_template_id": m["wf"].id, "display_name": "flood run", "description": "a run",
           "inputs": [{"dataset_template_id": m["forcing"].id, "dataset_id": m["rain"].id,
                       "dataset_type": "DATA_STORE", "resources": {"rain": "rain/2025.nc"}}],
           "outputs": [{"dataset_template_id": m["result"].id, "dataset_id": m["flow"].id,
                        "dataset_type": "DATA_STORE"}],
           "annotations": {"scenario": "wet", "grid": "5km"}, "study_id": m["study"].id,
           "associations": {"modeller_id": m["person"].id, "requesting_organisation_id": m["org"].id},
           "start_time": 1_700_000_000, "end_time": 1_700_000_600}
    rec.update(over)
    return rec


def with_assoc(m, **assoc) -> dict:
    return good(m, associations={"modeller_id": m["person"].id, "requesting_organisation_id": m["org"].id,
                                 **assoc})


def broken(m) -> list[tuple[str, dict, str]]:
    """(rule, a record breaking it and nothing earlier, the start of Provena's detail)."""
    f, r, s = m["forcing"].id, m["result"].id, m["stray"].id
    inp = good(m)["inputs"][0]
    out = good(m)["outputs"][0]
    not_found = "error: Failed to retrieve item with details: Could not find the given key ({}) in the registry."
    return [
        ("1 unknown study", good(m, study_id="no-such-study"),
         WRAP + "Provided model run workflow definition with id no-such-study was not a valid id, "
         + not_found.format("no-such-study")),
        ("1 seed study", good(m, study_id=m["seed_study"].id),
         WRAP + f"Provided model run workflow definition with id {m['seed_study'].id} was not a valid id, error: "
         f"Failed to retrieve item with details: The item with id {m['seed_study'].id} is a seed item"),
        ("1 study of another kind", good(m, study_id=m["org"].id),
         WRAP + f"Provided model run workflow definition with id {m['org'].id} was not a valid id, error: Failed "
         f"to retrieve item with details: The item with id {m['org'].id} is a ORGANISATION, not a STUDY"),
        ("2 workflow", good(m, workflow_template_id=m["person"].id),
         WRAP + f"Provided model run workflow definition with id {m['person'].id} was not a valid id, error: "
         f"Failed to retrieve item with details: The item with id {m['person'].id} is a PERSON, not a "
         f"MODEL_RUN_WORKFLOW_TEMPLATE"),
        ("3 template", good(m, workflow_template_id=m["wf_ghost_template"].id),
         WRAP + "Provided dataset template with id ghost-template (associated with the workflow def.) was not a "
         "valid id, " + not_found.format("ghost-template")),
        ("4 input", good(m, inputs=[]),
         WRAP + f"The workflow definition expects dataset with template ID {f} but it was not present in the "
         f"inputs."),
        ("5 output", good(m, outputs=[]),
         WRAP + f"The workflow definition expects dataset with template ID {r} but it was not present in the "
         f"outputs."),
        ("6 input template", good(m, inputs=[inp, {**inp, "dataset_template_id": s, "resources": None}]),
         f"An input template in the payload (id: {s}) does not exist in the workflow definition's list of "
         f"expected/required input dataset templates. Check your workflow definition"),
        ("6b input dataset", good(m, inputs=[{**inp, "dataset_id": "no-such-dataset"}]),
         WRAP + f"An input dataset validation process failed, type DatasetType.DATA_STORE, template id {f}, "
         f"reason Input dataset with id no-such-dataset was not a valid id, " + not_found.format("no-such-dataset")),
        ("6b missing key", good(m, inputs=[{**inp, "resources": {"notes": "n.txt"}}]),
         WRAP + f"An input dataset validation process failed, type DatasetType.DATA_STORE, template id {f}, "
         f"reason The provided dataset template with id {f} and dataset id {m['rain'].id} was missing deferred "
         f"resource paths for the following required resource keys (rain).."),
        ("6b unexpected key", good(m, inputs=[{**inp, "resources": {"rain": "r.nc", "bogus": "b"}}]),
         WRAP + f"An input dataset validation process failed, type DatasetType.DATA_STORE, template id {f}, "
         f"reason The provided dataset template with id {f} and dataset id {m['rain'].id} provided unexpected "
         f"deferred resource paths for the following unexpected resource keys (bogus).."),
        ("7 output template", good(m, outputs=[out, {**out, "dataset_template_id": s}]),
         f"An output template in the payload (id: {s}) does not exist in the workflow definition's list of "
         f"expected/required output dataset templates."),
        ("7b output dataset", good(m, outputs=[{**out, "dataset_id": m["person"].id}]),
         WRAP + f"An output dataset validation process failed, type DatasetType.DATA_STORE, template id {r}, "
         f"reason Input dataset with id {m['person'].id} was not a valid id"),
        ("8 seed model", good(m, workflow_template_id=m["wf_seed_model"].id),
         WRAP + f"Model with id {m['seed_model'].id} (associated with workflow definition) was not a valid model, "
         f"error: Failed to retrieve item with details: The item with id {m['seed_model'].id} is a seed item"),
        ("8 model of another kind", good(m, workflow_template_id=m["wf_dataset_model"].id),
         WRAP + f"Model with id {m['rain'].id} (associated with workflow definition) was not a valid model"),
        ("9 modeller", with_assoc(m, modeller_id=m["seed_person"].id),
         WRAP + f"Modeller with id {m['seed_person'].id} was not a valid person, error: Failed to retrieve item "
         f"with details: The item with id {m['seed_person'].id} is a seed item"),
        ("10 organisation", with_assoc(m, requesting_organisation_id=m["person"].id),
         WRAP + f"Organisation with id {m['person'].id} was not a valid organisation, error: Failed to retrieve "
         f"item with details: The item with id {m['person'].id} is a PERSON, not a ORGANISATION"),
        ("11 annotations", good(m, annotations={"grid": "5km", "extra": "not checked"}),
         WRAP + "Missing required annotations with keys: (scenario)."),
        # the first rule broken wins: the modeller (9) before the annotations (11), the study (1) first of all
        ("9 before 11", good(m, annotations={}, associations={"modeller_id": m["org"].id}),
         WRAP + f"Modeller with id {m['org'].id} was not a valid person"),
        ("1 before all", good(m, study_id="nope", inputs=[], annotations={}, associations={"modeller_id": "x"}),
         WRAP + "Provided model run workflow definition with id nope was not a valid id"),
    ]


def _jobs() -> int:
    with session() as s:
        return s.exec(sa.select(sa.func.count()).select_from(Job)).one()[0]


def test_every_rule_answers_provenas_400_on_register_and_update_before_anything_is_lodged(reg, connect):
    client = connect("alice")
    first = run(client.prov_api.register_model_run(ModelRunRecord.model_validate(good(reg))))
    run_workers()
    done = run(client.job_api.fetch_job(session_id=first.session_id)).job
    assert done.status == JobStatus.SUCCEEDED, done.info
    run_id = done.result["record_id"]

    before = _jobs()
    for rule, record, detail in broken(reg):
        parsed = ModelRunRecord.model_validate(record)  # Provena's own model takes it: only the registry refuses
        with pytest.raises(BadRequestException) as refused:
            run(client.prov_api.register_model_run(parsed))
        assert refused.value.error_code == 400 and detail in refused.value.message, (rule, refused.value.message)
        with pytest.raises(BadRequestException) as refused_update:
            run(client.prov_api.update_model_run(model_run_id=run_id, reason="fix", record=parsed))
        assert detail in refused_update.value.message, (rule, refused_update.value.message)
    assert _jobs() == before  # nothing was lodged
    # Provena leaves extra annotations and the values alone; optional templates may be left out.
    ok = run(client.prov_api.register_model_run(ModelRunRecord.model_validate(
        good(reg, annotations={"scenario": "", "grid": "x", "anything": "else"}))))
    assert ok.status.success


def test_a_batch_answers_200_and_each_bad_records_job_ends_failed_with_provenas_words(reg, connect):
    client = connect("alice")
    cases = broken(reg)
    records = [good(reg, display_name="the good one")] + [r for _, r, _ in cases]
    submitted = run(client.prov_api.register_batch_model_runs(RegisterBatchModelRunRequest(
        records=[ModelRunRecord.model_validate(r) for r in records])))
    assert submitted.status.success
    run_workers()
    submit = run(client.job_api.fetch_job(session_id=submitted.session_id)).job
    assert submit.status == JobStatus.SUCCEEDED
    children = run(client.job_api.list_all_jobs_in_batch(ListByBatchRequest(batch_id=submit.result["batch_id"],
                                                                            limit=100)))
    by_name = {}
    for c in children:
        by_name.setdefault(c.payload["record"]["display_name"], []).append(c)
    [good_job] = by_name.pop("the good one")
    assert good_job.status == JobStatus.SUCCEEDED
    infos = sorted(c.info for cs in by_name.values() for c in cs)
    assert all(c.status == JobStatus.FAILED for cs in by_name.values() for c in cs)
    for rule, _, detail in cases:
        assert any(i.startswith(detail) for i in infos), (rule, detail, infos)


def test_update_and_lodge_validate_again_inside_their_jobs(reg, connect, users):
    client = connect("alice")
    first = run(client.prov_api.register_model_run(ModelRunRecord.model_validate(good(reg))))
    run_workers()
    run_id = run(client.job_api.fetch_job(session_id=first.session_id)).job.result["record_id"]
    # Passes the door; then the modeller loses a field its kind needs before the job runs.
    update = run(client.prov_api.update_model_run(model_run_id=run_id, reason="more detail",
                                                  record=ModelRunRecord.model_validate(good(reg))))
    with session(write=True) as s:
        s.exec(sa.update(Item).where(Item.id == reg["person"].id).values(record_type="SEED_ITEM"))
    run_workers()
    job = run(client.job_api.fetch_job(session_id=update.session_id)).job
    assert job.status == JobStatus.FAILED and job.job_sub_type == "MODEL_RUN_UPDATE"
    assert job.info.startswith(WRAP + f"Modeller with id {reg['person'].id} was not a valid person")
    assert registry.get_item(run_id).next_version_id is None
    # An admin's launch skips the door: the job itself refuses the record.
    launched = run(connect("root").job_api.admin.launch_job(AdminLaunchJobRequest(
        username="alice", job_type="PROV_LODGE", job_sub_type="MODEL_RUN_PROV_LODGE",
        job_payload={"record": good(reg, inputs=[])})))
    run_workers()
    job = run(client.job_api.fetch_job(session_id=launched.session_id)).job
    assert job.status == JobStatus.FAILED and "was not present in the inputs." in job.info


# --- registry reads -----------------------------------------------------------------------


def test_fetch_with_seeds_general_fetch_and_model_runs(reg, connect):
    client = connect("bob")  # items are read by everyone; bob owns none of these
    person = run(client.registry.person.fetch(reg["person"].id))
    assert isinstance(person.item, ItemPerson) and person.item.email == "ada@example.org"
    assert (person.item.first_name, person.item.owner_username) == ("Ada", "alice")
    assert person.item_is_seed is False and person.roles == ["metadata-read"]
    model = run(client.registry.model.fetch(reg["model"].id)).item
    assert str(model.documentation_url) == "https://example.org/d" and model.name == "flood"
    wf = run(client.registry.model_run_workflow.fetch(reg["wf"].id)).item
    assert wf.software_id == reg["model"].id and [t.template_id for t in wf.input_templates] == [
        reg["forcing"].id, reg["extra"].id]
    assert wf.annotations.required == ["scenario", "grid"]
    template = run(client.registry.dataset_template.fetch(reg["forcing"].id)).item
    assert [r.key for r in template.deferred_resources] == ["rain", "notes"]
    assert run(client.registry.study.fetch(reg["study"].id)).item.title == "Floods of 2025"
    assert run(client.registry.organisation.fetch(reg["org"].id)).item.name == "Reef Institute"

    with pytest.raises(Exception) as seed:  # a seed is not fetched unless asked for
        run(client.registry.person.fetch(reg["seed_person"].id))
    assert "seed item" in str(seed.value)
    with pytest.raises(Exception):
        run(client.registry.person.fetch(reg["seed_person"].id, seed_allowed=False))
    got = run(client.registry.person.fetch(reg["seed_person"].id, seed_allowed=True))
    assert got.item_is_seed is True and isinstance(got.item, SeededItem) and got.item.record_type == "SEED_ITEM"
    with pytest.raises(Exception) as unknown:
        run(client.registry.person.fetch("no-such-id"))
    assert "Could not find the given key (no-such-id)" in str(unknown.value)
    with pytest.raises(Exception) as wrong:
        run(client.registry.person.fetch(reg["org"].id))
    assert "is a ORGANISATION, not a PERSON" in str(wrong.value)

    general = run(client.registry.general_fetch_item(reg["wf"].id))
    assert general.status.success and general.item["software_id"] == reg["model"].id
    assert general.item["item_subtype"] == "MODEL_RUN_WORKFLOW_TEMPLATE"
    with pytest.raises(Exception):
        run(client.registry.general_fetch_item("no-such-id"))

    alice = connect("alice")
    lodged = run(alice.prov_api.register_model_run(ModelRunRecord.model_validate(good(reg))))
    run_workers()
    run_id = run(alice.job_api.fetch_job(session_id=lodged.session_id)).job.result["record_id"]
    fetched = run(alice.registry.model_run.fetch(run_id))
    assert isinstance(fetched.item, ItemModelRun) and fetched.roles[-1] == "admin"
    assert fetched.item.record_status == "LODGED" and fetched.item.record.display_name == "flood run"
    assert fetched.item.record.inputs[0].resources == {"rain": "rain/2025.nc"}
    assert "wasAssociatedWith" in fetched.item.prov_serialisation


def test_lists_filter_by_record_type_and_page_by_key(reg, connect, users):
    for i in range(4):
        _make(users["bob"], "PERSON", f"Person {i}", first_name="P", last_name=str(i), email=f"p{i}@example.org")
        _make(users["bob"], "PERSON", f"Seed {i}")
    client = connect("alice")

    def every(record_type):
        items, seeds, key, pages = [], [], None, 0
        while True:
            page = run(client.registry.person.list_items(GeneralListRequest(
                filter_by=FilterOptions(record_type=record_type), pagination_key=key, page_size=2)))
            items += page.items or []
            seeds += page.seed_items or []
            pages += 1
            assert len((page.items or []) + (page.seed_items or [])) <= 2
            if page.pagination_key is None:
                return items, seeds, pages
            key = page.pagination_key

    complete, seeds, pages = every(QueryRecordTypes.COMPLETE_ONLY)
    assert {p.email for p in complete} == {"ada@example.org"} | {f"p{i}@example.org" for i in range(4)}
    assert seeds == [] and pages == 3
    assert [p.created_timestamp for p in complete] == sorted((p.created_timestamp for p in complete), reverse=True)
    complete, seeds, _ = every(QueryRecordTypes.SEED_ONLY)
    assert complete == [] and len(seeds) == 5 and all(s.record_type == "SEED_ITEM" for s in seeds)
    complete, seeds, pages = every(QueryRecordTypes.ALL)
    assert (len(complete), len(seeds), pages) == (5, 5, 5)
    default = run(client.registry.person.list_items(GeneralListRequest()))  # COMPLETE_ONLY, 20 a page
    assert len(default.items) == 5 and default.pagination_key is None
    assert {m.name for m in run(client.registry.model.list_items(GeneralListRequest())).items} == {"flood"}

    for forged in ({"cursor": "not-ours"}, {"cursor": 5}, {"other": "x"}):
        with pytest.raises(BadRequestException) as bad:
            run(client.registry.person.list_items(GeneralListRequest(pagination_key=forged)))
        assert "pagination_key" in bad.value.message


# --- CSV routes -----------------------------------------------------------------------------


def test_csv_template_of_a_workflow_and_converting_it_back(reg, connect):
    client = connect("alice")
    text = run(client.prov_api.generate_csv_template(workflow_template_id=reg["wf"].id))
    [header] = list(csv.reader(io.StringIO(text)))
    f, e, r = reg["forcing"].id, reg["extra"].id, reg["result"].id
    assert header == [
        f"_workflow template id {reg['wf'].id}", "display name", "description", "model version (optional)",
        "agent id", "study id", "execution start time (YYYY-MM-DD HH:MM:SS+HH:MM)",
        "execution end time (YYYY-MM-DD HH:MM:SS+HH:MM)",
        f"Input dataset id for template: Forcing [template id: {f}]", "Input resource: rain", "Input resource: notes",
        f"Input dataset id for template: Extra inputs [template id: {e}]",
        f"Output dataset id for template: Results [template id: {r}]",
        "annotation: scenario", "annotation: grid", "annotation: note",
        "_job_id", "_job_status", "_model_run_record_id", "_error_info"]

    values = {"display name": "csv run", "description": "from the template", "agent id": reg["person"].id,
              "study id": reg["study"].id, header[6]: "2024-03-01 09:00:00+00:00",
              header[7]: "2024-03-01 21:30:00+10:00", header[8]: reg["rain"].id, "Input resource: rain": "r.nc",
              header[12]: reg["flow"].id, "annotation: scenario": "wet", "annotation: grid": "5km"}
    row = [values.get(h, "") for h in header]
    buf = io.StringIO()
    csv.writer(buf).writerows([header, row, row])
    converted = run(client.prov_api.convert_model_runs(buf.getvalue()))
    assert converted.status.success and len(converted.new_records) == 2 and converted.existing_records == []
    rec = converted.new_records[0]
    assert rec.workflow_template_id == reg["wf"].id and rec.associations.modeller_id == reg["person"].id
    assert rec.inputs[0].resources == {"rain": "r.nc"} and rec.inputs[0].dataset_template_id == f
    assert [o.dataset_id for o in rec.outputs] == [reg["flow"].id] and len(rec.inputs) == 1
    assert rec.annotations == {"scenario": "wet", "grid": "5km"} and rec.study_id == reg["study"].id
    assert (rec.start_time, rec.end_time) == (1709283600, 1709292600)  # 09:00Z and 21:30+10:00
    assert _jobs_lodged_by_convert() == 0  # converting registers nothing
    # The records register as they are.
    assert run(client.prov_api.register_model_run(converted.new_records[1])).status.success

    bad = [dict(values, **{"display name": ""}), dict(values, **{header[6]: "yesterday"})]
    buf = io.StringIO()
    csv.writer(buf).writerows([header] + [[b.get(h, "") for h in header] for b in bad])
    with pytest.raises(BadRequestException) as refused:
        run(client.prov_api.convert_model_runs(buf.getvalue()))
    assert "Line 2, column display name" in refused.value.message and "Line 3, column execution start" in \
        refused.value.message

    with pytest.raises(BadRequestException) as unknown:
        run(client.prov_api.generate_csv_template(workflow_template_id="no-such-workflow"))
    assert "Could not find the given key (no-such-workflow)" in unknown.value.message
    with pytest.raises(BadRequestException) as wrong:
        run(client.prov_api.generate_csv_template(workflow_template_id=reg["person"].id))
    assert "is a PERSON, not a MODEL_RUN_WORKFLOW_TEMPLATE" in wrong.value.message
    with pytest.raises(BadRequestException) as lost:
        run(client.prov_api.generate_csv_template(workflow_template_id=reg["wf_ghost_template"].id))
    assert "ghost-template" in lost.value.message


def _jobs_lodged_by_convert() -> int:
    with session() as s:
        return s.exec(sa.select(sa.func.count()).select_from(Job).where(
            Job.job_subtype == "MODEL_RUN_PROV_LODGE")).one()[0]


# --- Jobdeck's own routes: every problem of every record ---------------------------------------


def test_jobdecks_own_routes_list_every_problem_of_every_record(reg, api):
    h = api.as_("alice")
    three = good(reg, study_id="nope", inputs=[], annotations={"grid": "x"})
    r = api.post("/api/model-runs", json=three, headers=h)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [(e["rule"], e["field"]) for e in errors] == [("1", "study_id"), ("4", "inputs"), ("11", "annotations")]
    assert errors[2]["message"] == "Missing required annotations with keys: (scenario)."

    other = with_assoc(reg, modeller_id=reg["org"].id)
    r = api.post("/api/model-runs/bulk", json={"records": [good(reg), three, other]}, headers=h)
    assert r.status_code == 422
    assert [(e["field"], e["rule"]) for e in r.json()["errors"]] == [
        ("records.1.study_id", "1"), ("records.1.inputs", "4"), ("records.1.annotations", "11"),
        ("records.2.associations.modeller_id", "9")]

    # Jobdeck's CSV, and Provena's template filled in: every row, every problem, with its line
    from app import bulk
    from app.provena_csv import template_header

    rows = [bulk.record_row(good(reg)), bulk.record_row(three), bulk.record_row(other)]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=bulk.COLUMNS)
    w.writeheader()
    w.writerows(rows)
    r = api.post("/api/model-runs/bulk", content=buf.getvalue(), headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 422
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [
        (2, "inputs"), (3, "study_id"), (3, "inputs"), (3, "annotations"), (4, "inputs"), (4, "modeller_id")]
    # (Jobdeck's own columns name no deferred resource, so the forcing input misses its key: rows 2-4)
    assert "missing deferred resource paths" in r.json()["errors"][0]["message"]

    with session() as s:
        header = template_header(s.connection(), reg["wf"].id)
    values = {"display name": "csv run", "description": "d", "agent id": reg["person"].id, header[6]: "1700000000",
              header[7]: "1700000600", header[8]: reg["rain"].id, "Input resource: rain": "r.nc",
              header[12]: reg["flow"].id, "annotation: scenario": "wet", "annotation: grid": "5km"}
    buf = io.StringIO()
    csv.writer(buf).writerows([header, [values.get(c, "") for c in header],
                               [dict(values, **{"agent id": reg["org"].id}).get(c, "") for c in header]])
    r = api.post("/api/model-runs/bulk", content=buf.getvalue(), headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 422 and [(e["line"], e["field"]) for e in r.json()["errors"]] == [(3, "modeller_id")]
    buf = io.StringIO()
    csv.writer(buf).writerows([header, [values.get(c, "") for c in header]])
    r = api.post("/api/model-runs/bulk", content=buf.getvalue(), headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    run_workers()
    with session() as s:
        [job] = s.exec(sa.select(Job).where(Job.batch_id == r.json()["id"])).scalars().all()
    assert job.status == "SUCCEEDED", job.info
    assert job.payload["record"]["inputs"][0]["resources"] == {"rain": "r.nc"}


def test_item_kinds_refuse_wrong_values_and_model_runs_come_only_from_their_route(api, users):
    h = api.as_("alice")
    for record, field in (({"email": "not an email"}, "record.email"), ({"orcid": "ftp://x"}, "record.orcid"),
                          ({"first_name": 5}, "record.first_name")):
        r = api.post("/api/items", json={"subtype": "PERSON", "display_name": "x", "record": record}, headers=h)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    r = api.post("/api/items", json={"subtype": "MODEL_RUN_WORKFLOW_TEMPLATE", "display_name": "x",
                                     "record": {"input_templates": [{"template_id": "a"}, {"template_id": "a"}]}},
                 headers=h)
    assert r.status_code == 422 and "twice" in r.json()["detail"]
    r = api.post("/api/items", json={"subtype": "MODEL_RUN", "display_name": "x"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "subtype"


def test_hostile_input_to_the_read_and_csv_routes_is_a_4xx_naming_the_problem(api, reg):
    h = api.as_("alice")
    base = "/api/provena/registry/agent/person"
    for params in ({"id": "a\x00b"}, {"id": "x" * 65}, {}, {"id": reg["person"].id, "seed_allowed": "maybe"}):
        r = api.get(base + "/fetch", params=params, headers=h)
        assert 400 <= r.status_code < 500, (params, r.text)
    for body, field in (({"page_size": 0}, "page_size"), ({"page_size": 10_000}, "page_size"),
                        ({"filter_by": {"record_type": "BOGUS"}}, "record_type"),
                        ({"sort_by": {"sort_type": "DISPLAY_NAME"}}, "sort_by"),
                        ({"sort_by": {"ascending": True}}, "sort_by"),
                        ({"pagination_key": {"cursor": "bm90IGEgY3Vyc29y"}}, "pagination_key"),
                        ({"pagination_key": {"cursor": "x" * 600}}, "pagination_key"),
                        ({"pagination_key": "a string"}, "pagination_key")):
        r = api.post(base + "/list", json=body, headers=h)
        assert 400 <= r.status_code < 500 and field in r.text, (body, r.status_code, r.text)
    nested: dict = {}
    for _ in range(300):
        nested = {"k": nested}
    r = api.post(base + "/list", json={"pagination_key": nested}, headers=h)
    assert 400 <= r.status_code < 500, r.text
    assert api.get(base + "/fetch", params={"id": reg["person"].id}).status_code == 401  # no token

    csv_route = "/api/provena/bulk/convert_model_runs/csv"
    assert api.get("/api/provena/bulk/generate_template/csv", headers=h).status_code == 422
    r = api.post(csv_route, files={"csv_file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")}, headers=h)
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
    r = api.post(csv_route, files={"csv_file": ("x.csv", b"display_name,description\nx,y\n", "text/csv")},
                 headers=h)
    assert r.status_code == 400 and "_workflow template id" in r.json()["detail"]
    r = api.post(csv_route, files={"csv_file": ("x.csv", b"a" * (5 * 1024 * 1024 + 1), "text/csv")}, headers=h)
    assert r.status_code == 413
    assert api.post(csv_route, headers=h).status_code == 422  # no file
    with session() as s:
        from app.provena_csv import template_header

        header = template_header(s.connection(), reg["wf"].id)
    r = api.post(csv_route, files={"csv_file": ("x.csv", (",".join(header) + "\n").encode(), "text/csv")},
                 headers=h)
    assert r.status_code == 422 and "no model runs" in r.json()["detail"]
    stray = ",".join(header) + "\n" + ",".join([""] * 9 + ["r.nc"]) + ",x\n"  # a resource without its dataset
    r = api.post(csv_route, files={"csv_file": ("x.csv", stray.encode(), "text/csv")}, headers=h)
    assert r.status_code == 400 and "Line 2, column Input resource: rain" in r.json()["detail"]


def test_a_registry_list_page_reads_its_index_in_order(reg, users):
    """The statement a page runs, as the database plans it: an index gives the rows in
    the page's order (no scan of the kind, no sort), whatever the record type asked."""
    from app import provena_registry
    from app.db import get_engine

    engine = get_engine()
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM item" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    first = provena_registry.list_items(actor=users["alice"], subtype="PERSON", record_type="ALL", page_size=1)
    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        for record_type in ("COMPLETE_ONLY", "SEED_ONLY", "ALL"):
            provena_registry.list_items(actor=users["alice"], subtype="PERSON", record_type=record_type,
                                        page_size=1, pagination_key=first["pagination_key"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) == 3
    # complete items or seeds only: the index of kind and record type, so seeds are never read past
    wanted = ["ix_item_subtype_rtype_created", "ix_item_subtype_rtype_created", "ix_item_subtype_created"]
    for (statement, parameters), index in zip(seen, wanted):
        assert_reads_index(engine, statement, parameters, index, "item", no_scan=True)
