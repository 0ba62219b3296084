"""Pipelines (Analytics Automated's "jobs"): the tasks and pipelines admins configure,
and a user's run of a pipeline on a file they upload.

A task is one executable step bound to a backend: a command template, or a Python
handler registered in HANDLERS (the allow-list). A command never goes through a shell:
its template is split with shlex first, then each placeholder is filled inside its own
argument, so no value (a file name, a parameter) can add an argument or a command.
Placeholders: {input} (the step's first input file), {inputs} (all of them, as
separate arguments; only as a whole argument), {upload} (the file the user uploaded),
{output_dir} (where the step writes the files it keeps) and {<parameter name>}.
A parameter not named in the template but given a flag is passed as `flag value`.
A task's environment variables are added to its command's process environment (never
through a shell); its retries are the retry policy of its steps (app.retries), and its
software version is named in each step's provenance record (app.records).

A pipeline is ordered steps of tasks; steps of equal order run in parallel. Running it
stores the upload, takes the run's version of its tasks (`snapshot`: each task's
definition as saved then, carried by every step beside the run's plan, so a run under
way, its retries included, never runs a task saved after it was lodged) and lodges the
first order's steps as one workflow: the first step is its root (the submission), the
others of that order are lodged with it. Each step runs as a PIPELINE / RUN_TASK job
in a working directory of its own under the data directory, keeps the files matching
its task's output glob, and the last step of an order to succeed lodges the next order
with those files as inputs (`finish_step`, the join, in the transaction that records
its success); an order that keeps no file passes its own inputs on. A step that fails,
or is cancelled, leaves the next order unlodged; retrying it carries the run on, with
the same version of its tasks (a task fixed since is run by running the pipeline again).

The package's modules: `checks` (what a task or pipeline may be), `config` (tasks and
pipelines, read and changed by admins), `submit` (a run lodged on an upload), `steps`
(a step run by a worker, and the join), `snapshot` (a run's version of its tasks),
`scheduled` (a schedule's run: its kept input file, a firing lodged as a run) and
`handlers` (the allow-list of Python handlers). What callers use is exported here.
"""

from app.parameters import ParameterInfo, RunParameter
from app.pipelines.checks import DEFAULT_BACKEND, JOB_SUBTYPE, JOB_TYPE, MAX_STEPS, PLACEHOLDERS, check_command
from app.pipelines.config import (PipelineInfo, StepInfo, TaskInfo, create_pipeline, create_task, delete_pipeline,
                                  delete_task, get_pipeline, get_task, list_pipelines, list_tasks, ok_codes,
                                  update_pipeline, update_task)
from app.pipelines.handlers import HANDLERS, task_handler, word_frequencies
from app.pipelines.snapshot import run_snapshot, task_from_snapshot, task_snapshot
from app.pipelines.steps import (HISTORY_CHARS, TIMEOUT_GRACE_S, KeptFileRow, StepRun, TaskTimedOut, _argv,
                                 changed_since, execute_step, finish_step, task_for_step, time_limit_of)
from app.pipelines.submit import RunBatch, remove_run_files, run_overview, run_pipeline, run_steps, step_job_id
from app.runs import runs_dir

__all__ = [
    "DEFAULT_BACKEND", "HANDLERS", "HISTORY_CHARS", "JOB_SUBTYPE", "JOB_TYPE", "MAX_STEPS", "PLACEHOLDERS",
    "TIMEOUT_GRACE_S", "KeptFileRow", "ParameterInfo", "PipelineInfo", "RunBatch", "RunParameter", "StepInfo", "StepRun",
    "TaskInfo", "TaskTimedOut", "_argv", "changed_since", "check_command", "create_pipeline", "create_task",
    "delete_pipeline", "delete_task", "execute_step", "finish_step", "get_pipeline", "get_task", "list_pipelines",
    "list_tasks", "ok_codes", "remove_run_files", "run_overview", "run_pipeline", "run_snapshot", "run_steps",
    "runs_dir", "step_job_id", "task_for_step", "task_from_snapshot", "task_handler", "task_snapshot",
    "time_limit_of", "update_pipeline", "update_task", "word_frequencies",
]
