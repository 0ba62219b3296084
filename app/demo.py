"""Demo data for a first start: one admin, one user, the backends, and a few registry
items (whose create workflows run as soon as workers are up). Running it again adds
nothing."""

from __future__ import annotations

from sqlmodel import select

from app import auth, registry
from app.db import session
from app.jobtypes import BACKENDS
from app.models import Backend, Item

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


def seed() -> bool:
    """Seed once; returns False when the demo data was there already."""
    seed_backends()
    if auth.find_user("admin"):
        return False
    users = {u: auth.create_user(username=u, password=p, display_name=d, role=r) for u, p, d, r in DEMO_USERS}
    with session() as s:
        have = set(s.exec(select(Item.display_name)))
    for subtype, name, desc in DEMO_ITEMS:
        if name not in have:
            registry.create_item(actor=users["alice"], subtype=subtype, display_name=name, description=desc)
    return True
