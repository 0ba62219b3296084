"""The jobs panel's address and its filters (app.state.jobs): a round trip keeps every
filter; what is no filter's value is left out and named."""

from __future__ import annotations

from app.state.jobs import ANY, address_of, filters_of


def test_an_address_round_trips_its_filters():
    url = address_of(status="FAILED", job_type="PIPELINE/RUN_TASK", q="a b&c", owner="", everyone=True)
    assert url == "/jobs?status=FAILED&type=PIPELINE%2FRUN_TASK&q=a+b%26c&all=1"
    from urllib.parse import parse_qsl, urlsplit

    got, problems = filters_of(dict(parse_qsl(urlsplit(url).query)))
    assert problems == []
    assert got == {"status": "FAILED", "type": "PIPELINE/RUN_TASK", "q": "a b&c", "owner": "", "all": True}
    assert address_of() == "/jobs"
    assert address_of(owner="bob", everyone=True) == "/jobs?owner=bob"  # one user's jobs, not all


def test_what_is_no_filter_is_left_out_and_named():
    got, problems = filters_of({"status": "failed", "type": "NOPE", "q": "x\x00y", "owner": "o" * 201, "all": "yes"})
    assert got == {"status": ANY, "type": ANY, "q": "", "owner": "", "all": False}
    assert problems[0].startswith("'failed' is no status (one of PENDING")
    assert problems[1:] == ["'NOPE' is no job type", "the search is no text a search can take",
                            "the username is no text a search can take"]
