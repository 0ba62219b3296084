"""Jobdeck: background jobs for a research data registry, watched live.

The domain modules of this package import no Reflex, so the worker, the REST API and
the tests can use them without starting a web server.
"""
