"""Pipeline routes: list pipelines and run one on an uploaded file (any signed-in user);
configure tasks and pipelines (admins). Each calls the domain functions the console
calls (app.pipelines), so the checks and their messages are the same."""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from fastapi import APIRouter, Depends, File, Form, Path, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.concurrency import run_in_threadpool

from app import pipelines
from app.api.deps import AUTH_RESPONSES, current_user
from app.api.jobs import _p
from app.api.schemas import JobOut
from app.errors import InvalidInput, PayloadTooLarge
from app.models import User
from app.settings import get_settings
from app.shapes import PARAMETERS, Line, Text, check_json
from app.validators import DESCRIPTIONS

router = APIRouter(prefix="/api", tags=["pipelines"], responses=AUTH_RESPONSES)

PipelineId = Path(ge=1, le=2**31 - 1, description="The pipeline's id")
TaskId = Path(ge=1, le=2**31 - 1, description="The task's id")


# --- what the routes take and give -----------------------------------------------------------


def _estimate(pipeline_id: int) -> dict:
    from app.estimates import estimate

    e = estimate(pipeline_id)
    return {"runs": e.runs, "p50": e.p50, "p95": e.p95, "typical": e.typical}


class ParameterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(max_length=64, examples=["top"])
    flag: Line = Field(default="", max_length=64, description="Passed as `flag value` when the command "
                                                              "does not name the parameter, e.g. -n")
    default: Line = Field(default="", max_length=1000)
    required: bool = False
    type: str = Field(default="text", max_length=16, description="text | integer | number | choice | boolean; "
                                                                 "a run's value is checked against it when lodged")
    choices: list[str] = Field(default_factory=list, max_length=50, description="The allowed values of a choice")
    minimum: Optional[float] = Field(default=None, description="The least value of an integer or number")
    maximum: Optional[float] = Field(default=None, description="The largest value of an integer or number")
    bool_valued: bool = Field(default=False, description="A switch: its flag alone is passed, and left out when "
                                                         "the value is false (FALSE, False, false, 0, no, off)")


class ParameterOut(ParameterIn):
    pass


class TaskIn(BaseModel):
    """A task: a command template (run without a shell; placeholders {input}, {inputs},
    {upload}, {output_dir} and {<parameter>}) or a registered Python handler."""

    model_config = ConfigDict(extra="forbid")

    name: Line = Field(max_length=64, examples=["line count"])
    description: Text = Field(default="", max_length=2000)
    backend: Line = Field(default=pipelines.DEFAULT_BACKEND, max_length=64)
    kind: Line = Field(default="command", max_length=16, description="command | handler")
    command: Text = Field(default="", max_length=4000, examples=["wc -l {input}"])
    handler: Line = Field(default="", max_length=200, description="Dotted path of a registered handler")
    input_glob: Line = Field(default="", max_length=1000, description="Input files it takes, e.g. *.txt")
    output_glob: Line = Field(default="", max_length=1000, description="Files of {output_dir} it keeps")
    ok_exit_codes: Line = Field(default="0", max_length=200, examples=["0,1"])
    timeout_s: int = Field(default=600, description="Seconds a run of the task may take (1-86400)")
    parameters: list[ParameterIn] = Field(default_factory=list, max_length=50)
    environment: dict[str, str] = Field(default_factory=dict, max_length=50,
                                        description="Variables added to the command's environment, name to value "
                                                    "(names as a shell writes them; values up to 4000 characters)",
                                        examples=[{"LC_ALL": "C"}])
    retries: int = Field(default=0, description="Automatic retries of a step that ended FAILED or CRASHED (0-10)")
    software_version: Line = Field(default="", max_length=500,
                                   description="The software version or configuration each step's provenance "
                                               "record names, e.g. wc (GNU coreutils) 9.1")


class TaskOut(TaskIn):
    id: int

    @classmethod
    def of(cls, t: pipelines.TaskInfo) -> "TaskOut":
        return cls(id=t.id, name=t.name, description=t.description, backend=t.backend, kind=t.kind,
                   command=t.command, handler=t.handler, input_glob=t.input_glob, output_glob=t.output_glob,
                   ok_exit_codes=t.ok_exit_codes, timeout_s=t.timeout_s,
                   parameters=[ParameterIn(**vars(p)) for p in t.parameters], environment=t.environment,
                   retries=t.retries, software_version=t.software_version)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: int = Field(description="Steps of equal order run in parallel", examples=[1])
    task: Union[Line, int] = Field(description="The task's name or id", examples=["line count"])


class PipelineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(max_length=64, examples=["Text summary"])
    description: Text = Field(default="", max_length=2000)
    steps: list[StepIn] = Field(max_length=pipelines.MAX_STEPS)
    queue_hog_size: Optional[StrictInt] = Field(
        default=None, description="Fair use: from this many live submissions of one submitter on, a new run waits "
                                  "one priority lower; 0 off; null: JOBDECK_QUEUE_HOG_SIZE", examples=[10])
    queue_hard_limit: Optional[StrictInt] = Field(
        default=None, description="Fair use: at this many live submissions of one submitter, a new run is refused "
                                  "(429); 0 off; null: JOBDECK_QUEUE_HARD_LIMIT", examples=[15])
    runnable: bool = Field(default=True, description="False: shown, but submissions are refused (403)")
    public: bool = Field(default=False, description="Anyone may run it without signing in (by client address)")
    validators: Optional[list[Line]] = Field(
        default=None, max_length=20, examples=[["seq"]],
        description="Checks every upload must pass before a run is lodged: "
                    + ", ".join(f"`{k}` ({v})" for k, v in DESCRIPTIONS.items())
                    + ". Left out: none on a new pipeline, unchanged on a replaced one.")


class StepOut(BaseModel):
    order: int
    task_id: int
    task: str
    description: str
    kind: str
    input_glob: str


class RunParameterOut(BaseModel):
    name: str
    default: str
    required: bool
    tasks: list[str] = Field(description="The tasks that take it")
    type: str = Field(description="text | integer | number | choice | boolean")
    choices: list[str] = Field(description="The allowed values of a choice")
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    rule: str = Field(description="The rule a value must follow, in words (of every task that takes it)")


class EstimateOut(BaseModel):
    runs: int = Field(description="Complete runs it is drawn from (the newest 5000 at most)")
    p50: Optional[float] = Field(description="Median seconds, lodging to the last step's end")
    p95: Optional[float] = Field(description="95th percentile, seconds")
    typical: Optional[int] = Field(description="Analytics Automated's jobtimes figure (the density's peak), seconds")


class PipelineOut(BaseModel):
    id: int
    name: str
    description: str
    steps: list[StepOut]
    parameters: list[RunParameterOut] = Field(description="What a run takes, in its `parameters`")
    queue_hog_size: Optional[int] = Field(None, description="The pipeline's own soft fair-use limit (null: the "
                                                            "global one)")
    queue_hard_limit: Optional[int] = Field(None, description="The pipeline's own hard fair-use limit (null: the "
                                                              "global one)")
    runnable: bool = True
    public: bool = False
    estimate: Optional[EstimateOut] = Field(default=None, description="How long its complete runs took")
    validators: list[str] = Field(default_factory=list, description="Checks every upload must pass")

    @classmethod
    def of(cls, p: pipelines.PipelineInfo) -> "PipelineOut":
        return cls(id=p.id, name=p.name, description=p.description, steps=[StepOut(**vars(s)) for s in p.steps],
                   parameters=[RunParameterOut(**vars(r)) for r in p.parameters],
                   queue_hog_size=p.queue_hog_size, queue_hard_limit=p.queue_hard_limit, runnable=p.runnable,
                   public=p.public, estimate=EstimateOut(**_estimate(p.id)), validators=list(p.validators))


class RunOut(BaseModel):
    session_id: str = Field(description="The run's root job (its submission): watch it by this id")
    job: JobOut
    steps: list[JobOut] = Field(description="The steps lodged so far (the first order)")


# --- pipelines ---------------------------------------------------------------------------------


@router.get("/pipelines", response_model=list[PipelineOut], summary="Every pipeline, its steps and parameters")
def list_pipelines(user: User = Depends(current_user)) -> list[PipelineOut]:
    return [PipelineOut.of(p) for p in pipelines.list_pipelines(actor=user)]


@router.get("/pipelines/{pipeline_id}", response_model=PipelineOut, summary="One pipeline", responses=_p(404))
def get_pipeline(pipeline_id: int = PipelineId, user: User = Depends(current_user)) -> PipelineOut:
    return PipelineOut.of(pipelines.get_pipeline(actor=user, pipeline=pipeline_id))


def _parameters(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (ValueError, RecursionError):
        raise InvalidInput("parameters must be a JSON object, e.g. {\"top\": \"10\"}.", field="parameters") from None
    if not isinstance(value, dict):
        raise InvalidInput("parameters must be a JSON object, e.g. {\"top\": \"10\"}.", field="parameters")
    return check_json(value, "parameters", PARAMETERS)


@router.post("/pipelines/{pipeline_id}/runs", status_code=201, response_model=RunOut,
             summary="Run a pipeline on an uploaded file (multipart: file, parameters as a JSON object)",
             responses=_p(400, 404, 409, 413, 422, 429, d429="Fair use: the submitter has as many live submissions "
                                                                "as the hard limit allows (the detail names the limit "
                                                                "and how many); nothing is lodged",
                          d400="A parameter is unknown, missing or breaks its rule (the "
                                                        "detail names it and the rule), the upload fails one of "
                                                        "the pipeline's validators (`validator` names it) or "
                                                        "the email is not an address; nothing is lodged",
                          d409="The pipeline has no steps",
                          d413="The file is larger than JOBDECK_MAX_UPLOAD_BYTES"))
async def run_pipeline(response: Response, pipeline_id: int = PipelineId,
                       file: UploadFile = File(description="The file the first steps read"),
                       parameters: str = Form("{}", max_length=20_000,
                                              description='The run\'s parameters as JSON, e.g. {"top": "10"}'),
                       email: str = Form("", max_length=1000,
                                         description="An address told, once, how the run ended, with its link"),
                       user: User = Depends(current_user)) -> RunOut:
    limit = get_settings().max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"{file.filename or 'The file'} is larger than {limit} bytes, the most a pipeline "
                              f"takes (JOBDECK_MAX_UPLOAD_BYTES).", field="file")
    params = _parameters(parameters)
    job = await run_in_threadpool(lambda: pipelines.run_pipeline(
        actor=user, pipeline=pipeline_id, file_name=file.filename or "", content=content, parameters=params,
        email=email or None))
    steps = await run_in_threadpool(pipelines.run_steps, job.id)
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return RunOut(session_id=job.id, job=JobOut.one(job), steps=JobOut.many(steps))


@router.post("/pipelines", status_code=201, response_model=PipelineOut, summary="Configure a pipeline (admins)",
             responses=_p(403, 409, 422, d409="A pipeline of that name exists"))
def create_pipeline(body: PipelineIn, response: Response, user: User = Depends(current_user)) -> PipelineOut:
    p = pipelines.create_pipeline(actor=user, name=body.name, description=body.description,
                                  steps=[s.model_dump() for s in body.steps], queue_hog_size=body.queue_hog_size,
                                  queue_hard_limit=body.queue_hard_limit, runnable=body.runnable,
                                  public=body.public, validators=body.validators)
    response.headers["Location"] = f"/api/pipelines/{p.id}"
    return PipelineOut.of(p)


@router.put("/pipelines/{pipeline_id}", response_model=PipelineOut,
            summary="Replace a pipeline's name, description and steps (admins)",
            responses=_p(403, 404, 409, 422, d409="Another pipeline has that name"))
def update_pipeline(body: PipelineIn, pipeline_id: int = PipelineId, user: User = Depends(current_user)) -> PipelineOut:
    return PipelineOut.of(pipelines.update_pipeline(actor=user, pipeline_id=pipeline_id, name=body.name,
                                                    description=body.description,
                                                    steps=[s.model_dump() for s in body.steps],
                                                    queue_hog_size=body.queue_hog_size,
                                                    queue_hard_limit=body.queue_hard_limit,
                                                    runnable=body.runnable, public=body.public,
                                                    validators=body.validators))


@router.delete("/pipelines/{pipeline_id}", status_code=204, response_class=Response,
               summary="Remove a pipeline (admins); runs under way finish", responses=_p(403, 404))
def delete_pipeline(pipeline_id: int = PipelineId, user: User = Depends(current_user)) -> Response:
    pipelines.delete_pipeline(actor=user, pipeline_id=pipeline_id)
    return Response(status_code=204)


# --- tasks (admins) --------------------------------------------------------------------------------


def _task_fields(body: TaskIn) -> dict[str, Any]:
    return body.model_dump()


@router.get("/tasks", response_model=list[TaskOut], summary="Every task (admins)", responses=_p(403))
def list_tasks(user: User = Depends(current_user)) -> list[TaskOut]:
    return [TaskOut.of(t) for t in pipelines.list_tasks(actor=user)]


@router.get("/tasks/{task_id}", response_model=TaskOut, summary="One task (admins)", responses=_p(403, 404))
def get_task(task_id: int = TaskId, user: User = Depends(current_user)) -> TaskOut:
    return TaskOut.of(pipelines.get_task(actor=user, task_id=task_id))


@router.post("/tasks", status_code=201, response_model=TaskOut, summary="Configure a task (admins)",
             responses=_p(403, 409, 422, d409="A task of that name exists",
                          d422="Invalid input, e.g. an unknown placeholder (the detail names the field)"))
def create_task(body: TaskIn, response: Response, user: User = Depends(current_user)) -> TaskOut:
    t = pipelines.create_task(actor=user, **_task_fields(body))
    response.headers["Location"] = f"/api/tasks/{t.id}"
    return TaskOut.of(t)


@router.put("/tasks/{task_id}", response_model=TaskOut, summary="Replace a task's configuration (admins)",
            responses=_p(403, 404, 409, 422, d409="Another task has that name"))
def update_task(body: TaskIn, task_id: int = TaskId, user: User = Depends(current_user)) -> TaskOut:
    return TaskOut.of(pipelines.update_task(actor=user, task_id=task_id, **_task_fields(body)))


@router.delete("/tasks/{task_id}", status_code=204, response_class=Response,
               summary="Remove a task (admins); refused while a pipeline has it as a step",
               responses=_p(403, 404, 409, d409="A pipeline has the task as a step, or a run under way lodged "
                                                "before runs kept their tasks still needs it (run_id)"))
def delete_task(task_id: int = TaskId, user: User = Depends(current_user)) -> Response:
    pipelines.delete_task(actor=user, task_id=task_id)
    return Response(status_code=204)
