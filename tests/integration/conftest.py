"""Fixtures of the integration tests."""

import pytest

from tests.integration.api_live import api_client


@pytest.fixture
def api(jobdeck, users):
    """The REST API in a TestClient; `api.as_(name)` gives a test user's headers."""
    with api_client(users) as client:
        yield client


@pytest.fixture
def service_api(jobdeck, users):
    """The REST API with a service user "svc" besides the test users."""
    from app import auth

    auth.create_user(username="svc", password="svc-password", role="service")
    with api_client((*users, "svc")) as client:
        yield client
