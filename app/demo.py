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

DEMO_ITEMS = [
    ("PERSON", "Alice Researcher", "Hydrologist; modeller of the demo runs."),
    ("ORGANISATION", "Catchment Research Group", "The organisation that requests the demo runs."),
    ("DATASET_TEMPLATE", "Gridded rainfall template", "Template of a gridded daily rainfall dataset."),
    ("DATASET", "Daily rainfall 1990-2020", "Gridded daily rainfall, 5 km."),
    ("DATASET", "Streamflow forecast", "Modelled streamflow at 12 gauges."),
    ("MODEL", "Catchment water balance model", "A lumped rainfall-runoff model."),
    ("MODEL_RUN_WORKFLOW_TEMPLATE", "Water balance run template", "Inputs: rainfall; outputs: streamflow."),
]


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
    with session() as s:
        have = set(s.exec(select(Item.display_name)))
    for subtype, name, desc in DEMO_ITEMS:
        if name not in have:
            registry.create_item(actor=users["alice"], subtype=subtype, display_name=name, description=desc)
    seed_pipelines()
    return True
