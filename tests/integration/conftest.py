"""Fixtures of the integration tests."""

import pytest

from tests.integration.api_live import api_client


@pytest.fixture
def api(jobdeck, users):
    """The REST API in a TestClient; `api.as_(name)` gives a test user's headers."""
    with api_client(users) as client:
        yield client
