"""The whole configuration as admins read it: backends, tasks and pipelines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from app import pipelines
from app.db import session
from app.errors import PermissionDenied
from app.models import Backend, User


@dataclass
class Configuration:
    backends: list[Backend]
    tasks: list[pipelines.TaskInfo]  # by name
    pipelines: list[pipelines.PipelineInfo]  # by name


def read_configuration(*, actor: User) -> Configuration:
    """Every configured backend, task (with its parameters) and pipeline (with its
    steps), by name (admins and services)."""
    if actor.role not in ("admin", "service"):
        raise PermissionDenied("The configuration is for admins.")
    with session() as s:
        rows = list(s.exec(select(Backend).order_by(Backend.name)))
    return Configuration(rows, pipelines.list_tasks(actor=actor), pipelines.list_pipelines(actor=actor))
