"""The worker side: RQ entry point, handlers, pool and reaper. Imports the domain, never the UI."""

# Every worker-side process moves jobs to their end (workers, the housekeeper's reaper):
# the mail a run's or batch's end lodges is registered with the state machine here.
import app.notify  # noqa: E402,F401
