"""Route constants and URL builders for the console."""

from urllib.parse import quote

HOME = "/"
SIGN_IN = "/sign-in"
JOBS = "/jobs"
JOB = "/jobs/[job_id]"
ITEMS = "/items"
ITEM = "/items/[item_id]"
BATCHES = "/batches"
BATCH = "/batches/[batch_id]"
MODEL_RUNS_NEW = "/model-runs/new"
ADMIN = "/admin"
PROFILE = "/profile"


def job(job_id: str) -> str:
    return f"/jobs/{job_id}"


def batch(batch_id: str) -> str:
    return f"/batches/{batch_id}"


def item(item_id: str) -> str:
    return f"/items/{item_id}"


def jobs_of(owner: str) -> str:
    return f"/jobs?owner={quote(owner)}"


def id_in(path: str) -> str:
    """The id at the end of a page path such as /jobs/<id>."""
    return path.rstrip("/").rsplit("/", 1)[-1]


ADMIN_WORKERS = "/admin/workers"
ADMIN_SUBMISSIONS = "/admin/submissions"
ADMIN_CONFIGURATION = "/admin/configuration"
PIPELINES = "/pipelines"
