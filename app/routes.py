"""Route constants and URL builders for the console."""

HOME = "/"
SIGN_IN = "/sign-in"
JOBS = "/jobs"
ITEMS = "/items"
BATCHES = "/batches"


def job(job_id: str) -> str:
    return f"/jobs/{job_id}"


def batch(batch_id: str) -> str:
    return f"/batches/{batch_id}"


def item(item_id: str) -> str:
    return f"/items/{item_id}"
