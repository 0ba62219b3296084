"""Builds the Reflex app and adds the pages; nothing else lives here."""

import reflex as rx

from app import routes, web_security
from app.api import build_api
from app.pages.admin import admin_overview_page
from app.pages.admin_configuration import admin_configuration_page
from app.pages.admin_metrics import admin_metrics_page
from app.pages.my_metrics import my_metrics_page
from app.pages.admin_queues import admin_queues_page
from app.pages.admin_users import admin_users_page
from app.pages.admin_audit import admin_audit_page
from app.pages.admin_schedules import admin_schedules_page
from app.pages.admin_submissions import admin_submissions_page
from app.pages.admin_workers import admin_workers_page
from app.pages.batch import batch_page
from app.pages.batches import batches_page
from app.pages.compare import compare_page
from app.pages.home import go_home, home
from app.pages.item import item_page
from app.pages.items import items_page
from app.pages.job import job_page
from app.pages.jobs import jobs_page
from app.pages.model_runs import model_runs_page
from app.pages.pipelines import pipelines_page
from app.pages.profile import profile_page
from app.pages.signin import sign_in_page
from app.state import live
from app.state.admin import AdminState
from app.state.admin_configuration import AdminConfigurationState
from app.state.admin_metrics import AdminMetricsState
from app.state.my_metrics import MyMetricsState
from app.state.admin_queues import AdminQueuesState
from app.state.admin_users import AdminUsersState
from app.state.admin_audit import AdminAuditState
from app.state.admin_schedules import AdminSchedulesState
from app.state.admin_submissions import AdminSubmissionsState
from app.state.admin_workers import AdminWorkersState
from app.state.batches import BatchesState, BatchState
from app.state.bulk import BulkState
from app.state.compare import CompareState
from app.state.item import ItemState
from app.state.items import ItemsState
from app.state.job import JobState
from app.state.jobs import JobsState
from app.state.lineage import LineageState
from app.state.pipelines import PipelinesState
from app.state.profile import ProfileState
from app.state.record import JobRecordState
from app.state.signin import SignInState

app = rx.App(
    # The API is mounted first; then every answer (pages, assets, /api) gets the headers.
    api_transformer=[build_api(), web_security.SecurityHeaders],
    stylesheets=["/jobdeck.css"],
    head_components=[rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml")],
)
app.register_lifespan_task(live.listen)
web_security.restrict_socket_origins(app.sio)

app.add_page(home, route=routes.HOME, title="Jobdeck", on_load=go_home)
app.add_page(sign_in_page, route=routes.SIGN_IN, title="Sign in · Jobdeck", on_load=SignInState.load)
app.add_page(jobs_page, route=routes.JOBS, title="Jobs · Jobdeck", on_load=JobsState.load)
app.add_page(job_page, route=routes.JOB, title="Job · Jobdeck", on_load=[JobState.load, JobRecordState.load])
app.add_page(compare_page, route=routes.JOBS_COMPARE, title="Compare · Jobdeck", on_load=CompareState.load)
app.add_page(items_page, route=routes.ITEMS, title="Items · Jobdeck", on_load=ItemsState.load)
app.add_page(item_page, route=routes.ITEM, title="Item · Jobdeck", on_load=[ItemState.load, LineageState.load])
app.add_page(batches_page, route=routes.BATCHES, title="Batches · Jobdeck", on_load=BatchesState.load)
app.add_page(batch_page, route=routes.BATCH, title="Batch · Jobdeck", on_load=BatchState.load)
app.add_page(model_runs_page, route=routes.MODEL_RUNS_NEW, title="Register model runs · Jobdeck",
             on_load=BulkState.load)
app.add_page(profile_page, route=routes.PROFILE, title="Profile · Jobdeck", on_load=ProfileState.load)
app.add_page(my_metrics_page, route=routes.MY_METRICS, title="Your metrics · Jobdeck", on_load=MyMetricsState.load)
app.add_page(admin_overview_page, route=routes.ADMIN, title="Admin · Jobdeck", on_load=AdminState.load)
app.add_page(admin_metrics_page, route=routes.ADMIN_METRICS, title="Metrics · Admin · Jobdeck",
             on_load=AdminMetricsState.load)
app.add_page(admin_queues_page, route=routes.ADMIN_QUEUES, title="Queues · Admin · Jobdeck",
             on_load=AdminQueuesState.load)
app.add_page(admin_workers_page, route=routes.ADMIN_WORKERS, title="Workers · Admin · Jobdeck",
             on_load=AdminWorkersState.load)
app.add_page(admin_submissions_page, route=routes.ADMIN_SUBMISSIONS, title="Submissions · Admin · Jobdeck",
             on_load=AdminSubmissionsState.load)
app.add_page(admin_configuration_page, route=routes.ADMIN_CONFIGURATION, title="Configuration · Admin · Jobdeck",
             on_load=AdminConfigurationState.load)
app.add_page(admin_users_page, route=routes.ADMIN_USERS, title="Users · Admin · Jobdeck", on_load=AdminUsersState.load)
app.add_page(admin_audit_page, route=routes.ADMIN_AUDIT, title="Audit · Admin · Jobdeck", on_load=AdminAuditState.load)
app.add_page(admin_schedules_page, route=routes.ADMIN_SCHEDULES, title="Schedules · Admin · Jobdeck",
             on_load=AdminSchedulesState.load)
app.add_page(pipelines_page, route=routes.PIPELINES, title="Pipelines · Jobdeck", on_load=PipelinesState.load)
