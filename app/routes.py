"""Route constants and URL builders for the console."""

import re
from urllib.parse import quote, unquote, urlsplit

HOME = "/"
SIGN_IN = "/sign-in"
JOBS = "/jobs"
JOB = "/jobs/[job_id]"
JOBS_COMPARE = "/jobs/compare"
ITEMS = "/items"
ITEM = "/items/[item_id]"
BATCHES = "/batches"
BATCH = "/batches/[batch_id]"
MODEL_RUNS_NEW = "/model-runs/new"
ADMIN = "/admin"
PROFILE = "/profile"
MY_METRICS = "/profile/metrics"


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
ADMIN_USERS = "/admin/users"
ADMIN_AUDIT = "/admin/audit"
ADMIN_METRICS = "/admin/metrics"
ADMIN_QUEUES = "/admin/queues"
ADMIN_SCHEDULES = "/admin/schedules"
PIPELINES = "/pipelines"


# Anything a browser could read as leaving this origin, or that it rewrites first: it
# drops tabs and newlines (so "/\t/x" becomes "//x") and reads a backslash as a slash
# (so "/\\x" becomes "//x"). Raw, a space has no business in a path either.
_NOT_RAW = re.compile(r"[\x00-\x20\x7f-\x9f\\\u2028\u2029]")
_NOT_DECODED = re.compile(r"[\x00-\x1f\x7f-\x9f\\\u2028\u2029]")


def _leaves(form: str) -> bool:
    """Could a browser (or a router that resolves it again) read `form` as another site?"""
    if not form.startswith("/") or form.startswith("//") or _NOT_DECODED.search(form):
        return True
    parts = urlsplit(form)
    if parts.scheme or parts.netloc:
        return True
    # "//" anywhere in the path, or a "." / ".." segment, may resolve to one starting with "//".
    path = re.split(r"[?#]", form, maxsplit=1)[0]
    return "//" in path or any(seg in (".", "..") for seg in path.split("/"))


def safe_next(target: str, default: str = JOBS) -> str:
    """Where to go after signing in: `target` if it is a path of this site, else
    `default`. Only "/" and a plain path (never "//", "/\\", a scheme or a host), as
    given and once or twice percent-decoded (a router may decode it again), and never
    the sign-in page itself."""
    if not isinstance(target, str) or not target or len(target) > 2000 or _NOT_RAW.search(target):
        return default
    form = target
    for _ in range(3):  # "%252F" decoded twice is "/"
        if _leaves(form):
            return default
        form = unquote(form)
    if _leaves(form):
        return default
    path = urlsplit(target).path.rstrip("/")
    if path == SIGN_IN or path.startswith(SIGN_IN + "/"):
        return default
    return target
