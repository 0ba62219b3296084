"""Demo data for a first start: one admin, one user, the backends, a few registry
items (whose create workflows run as soon as workers are up), and the tasks and
pipeline "Text summary". Running it again adds nothing."""

from __future__ import annotations

from sqlmodel import select

from app import auth, pipelines, registry
from app.db import session
from app.jobtypes import BACKENDS
from app.models import Backend, Item, Pipeline, Task

DEMO_USERS = [
    # username, password, display name, role
    ("admin", "jobdeck-admin", "Ada Admin", "admin"),
    ("alice", "jobdeck-alice", "Alice Researcher", "user"),
    ("bob", "jobdeck-bob", "Bob Modeller", "user"),
]

DEMO_NAMES = {"person": "Alice Researcher", "org": "Catchment Research Group", "template": "Gridded rainfall template",
              "rain": "Daily rainfall 1990-2020", "flow": "Streamflow forecast",
              "model": "Catchment water balance model", "wf": "Water balance run template"}


def model_run_world(actor, prefix: str = "demo", names: dict[str, str] | None = None) -> dict[str, Item]:
    """The complete items a model run names, consistent with each other: a modeller, an
    organisation, a dataset template, two datasets, a model and a workflow template
    that runs the model from one rainfall dataset to one streamflow dataset. Each is
    named `<prefix> <key>` unless `names` names it."""
    def make(subtype: str, key: str, description: str = "", **record) -> Item:
        name = (names or {}).get(key) or f"{prefix} {key}"
        return registry.create_item(actor=actor, subtype=subtype, display_name=name,
                                    description=description, record=record)[0]

    made = {"person": make("PERSON", "person", "Hydrologist; modeller of the runs.", first_name="Alice",
                           last_name="Researcher", email="alice@example.org"),
            "org": make("ORGANISATION", "org", "Requests the runs.", name="Catchment Research Group"),
            "template": make("DATASET_TEMPLATE", "template", "A gridded daily dataset."),
            "rain": make("DATASET", "rain", "Gridded daily rainfall, 5 km."),
            "flow": make("DATASET", "flow", "Modelled streamflow at 12 gauges."),
            "model": make("MODEL", "model", name="Catchment water balance", description="A lumped rainfall-runoff model.",
                          documentation_url="https://example.org/water-balance/docs",
                          source_url="https://example.org/water-balance/src")}
    made["wf"] = make("MODEL_RUN_WORKFLOW_TEMPLATE", "wf", "Inputs: rainfall; outputs: streamflow.",
                      software_id=made["model"].id, input_templates=[{"template_id": made["template"].id}],
                      output_templates=[{"template_id": made["template"].id}])
    return made


def seed_backends() -> None:
    with session(write=True) as s:
        have = set(s.exec(select(Backend.name)))
        for name in BACKENDS:
            if name not in have:
                s.add(Backend(name=name, description=f"Queue for {name} jobs"))


DEMO_TASKS = [
    dict(name="line count", description="Counts the lines of the file (wc -l); the count is in its history.",
         command="wc -l {input}", timeout_s=60),
    dict(name="sort lines", description="Sorts the lines of the file into sorted.txt.",
         command="sort {input} -o {output_dir}/sorted.txt", output_glob="sorted.txt", timeout_s=120),
    dict(name="word frequencies", description="The most frequent words of the inputs, as CSV.", kind="handler",
         handler="app.pipelines.word_frequencies", input_glob="*.txt", output_glob="*.csv", timeout_s=120,
         parameters=[{"name": "top", "default": "20", "type": "integer", "minimum": 1, "maximum": 100_000}]),
]

DEMO_PIPELINES = [
    ("Text summary", "Counts the lines and sorts them side by side, then the word frequencies of the sorted text.",
     [{"order": 1, "task": "line count"}, {"order": 1, "task": "sort lines"},
      {"order": 2, "task": "word frequencies"}]),
]


def seed_pipelines() -> None:
    """The demo tasks and pipeline, each added when no task or pipeline of its name exists."""
    admin = auth.find_user("admin")
    if admin is None or not admin.is_admin:
        return
    with session() as s:
        tasks, have = set(s.exec(select(Task.name))), set(s.exec(select(Pipeline.name)))
    for t in DEMO_TASKS:
        if t["name"] not in tasks:
            pipelines.create_task(actor=admin, **t)
    for name, description, steps in DEMO_PIPELINES:
        if name not in have:
            pipelines.create_pipeline(actor=admin, name=name, description=description, steps=steps)


def seed() -> bool:
    """Seed once; returns False when the demo data was there already."""
    seed_backends()
    if auth.find_user("admin"):
        seed_pipelines()  # a database seeded before pipelines existed gets them too
        return False
    users = {u: auth.create_user(username=u, password=p, display_name=d, role=r) for u, p, d, r in DEMO_USERS}
    model_run_world(users["alice"], names=DEMO_NAMES)
    seed_pipelines()
    return True
