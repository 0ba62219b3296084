"""The worker side: RQ entry point, handlers, pool and reaper. Imports the domain, never the UI."""
