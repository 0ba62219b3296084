"""Which address a request comes from: the peer, unless a proxy named in
JOBDECK_TRUSTED_PROXIES forwarded it; X-Forwarded-For from anyone else is ignored."""

from __future__ import annotations

import pytest

from app.clientaddr import client_address
from app.settings import reload_settings


@pytest.fixture
def proxies(monkeypatch):
    def set_(value):
        monkeypatch.setenv("JOBDECK_TRUSTED_PROXIES", value)
        reload_settings()
    yield set_
    monkeypatch.delenv("JOBDECK_TRUSTED_PROXIES", raising=False)
    reload_settings()


def test_without_trusted_proxies_the_header_is_ignored(proxies):
    proxies("")
    assert client_address("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    assert client_address("198.51.100.4", None) == "198.51.100.4"
    assert client_address("", None) == ""


def test_a_trusted_proxy_names_the_client_and_a_client_cannot_pick_its_address(proxies):
    proxies("127.0.0.1, 10.0.0.0/8")
    assert client_address("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # The client wrote the left part itself; the proxies appended the rest.
    assert client_address("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.5") == "203.0.113.9"
    assert client_address("127.0.0.1", ["1.1.1.1, 203.0.113.9", "10.0.0.5"]) == "203.0.113.9"
    assert client_address("198.51.100.4", "203.0.113.9") == "198.51.100.4"  # not from a trusted proxy
    assert client_address("127.0.0.1", "not-an-address, 10.0.0.7") == "10.0.0.7"
    assert client_address("127.0.0.1", "[2001:db8::1]:443") == "2001:db8::1"
    assert client_address("::ffff:127.0.0.1", "203.0.113.9:5000") == "203.0.113.9"
    assert client_address("127.0.0.1", "") == "127.0.0.1"


def test_a_wrong_setting_stops_the_start(monkeypatch):
    monkeypatch.setenv("JOBDECK_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
    with pytest.raises(ValueError, match="JOBDECK_TRUSTED_PROXIES: 'proxy.example'"):
        reload_settings()
    monkeypatch.delenv("JOBDECK_TRUSTED_PROXIES")
    reload_settings()
