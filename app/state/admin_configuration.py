"""State of the configuration page (/admin/configuration): backends, tasks and pipelines
as configured, read only."""

from __future__ import annotations

import dataclasses

import reflex as rx

from app import configuration
from app.state.admin import admin_viewer, seconds_text
from app.state.views import exact, iso


@dataclasses.dataclass
class BackendConfigRow:
    name: str = ""
    description: str = ""
    max_workers: int = 0
    idle_timeout: str = ""
    job_timeout: str = ""
    created: str = ""
    created_exact: str = ""


@dataclasses.dataclass
class TaskRow:
    name: str = ""
    description: str = ""
    backend: str = ""
    kind: str = ""
    runs: str = ""  # the command template or the handler's dotted path
    inputs: str = ""
    outputs: str = ""
    ok_exit_codes: str = ""
    timeout: str = ""
    parameters: str = ""


@dataclasses.dataclass
class PipelineRow:
    name: str = ""
    description: str = ""
    steps: str = ""  # "1. a, b (in parallel) → 2. c"
    step_count: int = 0
    fair_use: str = ""  # its soft and hard limits, its own or the global ones
    runnable: bool = True
    public: bool = False
    validators: str = ""  # "seq, pdb_file"; "" for none


def _steps(p) -> str:
    parts = []
    for i, group in enumerate(p.orders, start=1):
        names = [st.task for st in group]
        parts.append(f"{i}. {', '.join(names)}" + (" (in parallel)" if len(names) > 1 else ""))
    return " → ".join(parts)


def _fair_use(p) -> str:
    """E.g. "lower priority from 10, refused at 15 (global)"; 0 reads "off"."""
    from app.fairuse import limits_for

    lim = limits_for(p)
    own = p.queue_hog_size is not None or p.queue_hard_limit is not None
    soft = f"lower priority from {lim.hog_size}" if lim.hog_size else "no soft limit"
    hard = f"refused at {lim.hard_limit}" if lim.hard_limit else "no hard limit"
    return f"{soft}, {hard} ({'its own' if own else 'global'})"


def _param(p) -> str:
    text = f"{p.flag} {p.name}".strip() if p.flag else p.name
    if p.default:
        text += f"={p.default}"
    return text + (" (required)" if p.required else "") + (" (bool_valued)" if p.bool_valued else "")


class AdminConfigurationState(rx.State):
    backends: list[BackendConfigRow] = []
    tasks: list[TaskRow] = []
    pipelines: list[PipelineRow] = []
    loaded: bool = False

    @rx.event
    async def load(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        conf = configuration.read_configuration(actor=user)
        self.backends = [BackendConfigRow(
            name=b.name, description=b.description, max_workers=b.max_workers,
            idle_timeout=seconds_text(b.idle_timeout_s),
            job_timeout=seconds_text(b.job_timeout_s) if b.job_timeout_s else "each job type's own",
            created=iso(b.created_at), created_exact=exact(b.created_at)) for b in conf.backends]
        self.tasks = [TaskRow(
            name=t.name, description=t.description, backend=t.backend, kind=t.kind,
            runs=t.command if t.kind == "command" else t.handler, inputs=t.input_glob, outputs=t.output_glob,
            ok_exit_codes=t.ok_exit_codes, timeout=seconds_text(t.timeout_s),
            parameters=", ".join(_param(p) for p in t.parameters)) for t in conf.tasks]
        self.pipelines = [PipelineRow(name=p.name, description=p.description, steps=_steps(p),
                                      step_count=len(p.steps), fair_use=_fair_use(p), runnable=p.runnable,
                                      public=p.public, validators=", ".join(p.validators))
                          for p in conf.pipelines]
        self.loaded = True
