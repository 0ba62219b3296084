"""The jobs panel's address and its filters (app.state.jobs over app.state.address): a
round trip keeps every filter; what is no filter's value is left out and named."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

from app.state.jobs import ANY, address_of, created_range, filters_of

NONE = {"status": ANY, "type": ANY, "q": "", "owner": "", "all": False, "from": "", "to": "", "sort": "created"}


def test_an_address_round_trips_its_filters():
    url = address_of(status="FAILED", job_type="PIPELINE/RUN_TASK", q="a b&c", owner="", everyone=True)
    assert url == "/jobs?status=FAILED&type=PIPELINE%2FRUN_TASK&q=a+b%26c&all=1"
    got, problems = filters_of(dict(parse_qsl(urlsplit(url).query)))
    assert problems == []
    assert got == {**NONE, "status": "FAILED", "type": "PIPELINE/RUN_TASK", "q": "a b&c", "all": True}
    assert address_of() == "/jobs"
    assert address_of(owner="bob", everyone=True) == "/jobs?owner=bob"  # one user's jobs, not all


def test_the_range_and_the_sort_round_trip():
    url = address_of(q="soil", date_from="2026-11-01", date_to="2026-11-30", sort="duration")
    assert url == "/jobs?q=soil&from=2026-11-01&to=2026-11-30&sort=duration"
    got, problems = filters_of(dict(parse_qsl(urlsplit(url).query)))
    assert problems == [] and got == {**NONE, "q": "soil", "from": "2026-11-01", "to": "2026-11-30",
                                      "sort": "duration"}
    assert address_of(sort="created") == "/jobs"  # the default is never written
    assert filters_of({"from": "2026-11-03", "to": "2026-11-03"})[1] == []  # one day


def test_what_is_no_filter_is_left_out_and_named():
    got, problems = filters_of({"status": "failed", "type": "NOPE", "q": "x\x00y", "owner": "o" * 201, "all": "yes"})
    assert got == NONE
    assert problems[0].startswith("'failed' is no status (one of PENDING")
    assert problems[1:] == ["'NOPE' is no job type", "the search is no text a search can take",
                            "the username is no text a search can take", "'yes' is not 1 for all users"]


def test_a_bad_day_a_backwards_range_or_an_unknown_sort_is_left_out_and_named():
    got, problems = filters_of({"from": "2026-02-30", "to": "yesterday", "sort": "random"})
    assert got == NONE
    assert problems == ["'2026-02-30' is no date (a day as 2026-12-02) for the range's first day",
                        "'yesterday' is no date (a day as 2026-12-02) for the range's last day",
                        "'random' is no sort (one of created, started, duration)"]
    got, problems = filters_of({"from": "2026-12-05", "to": "2026-12-01", "status": "FAILED"})
    assert got == {**NONE, "status": "FAILED"}
    assert problems == ["the range 2026-12-05 to 2026-12-01 ends before it begins"]
    assert filters_of({"from": "2026-12-01" + "x" * 5000})[1][0].startswith("'2026-12-01xxxxxxxxxx")
    assert len(filters_of({"sort": "s" * 5000})[1][0]) < 100


def test_a_range_of_days_is_from_the_first_days_start_to_the_end_of_the_last():
    utc = timezone.utc
    assert created_range("2026-11-01", "2026-11-30") == (datetime(2026, 11, 1, tzinfo=utc),
                                                         datetime(2026, 12, 1, tzinfo=utc))
    assert created_range("", "2026-11-30") == (None, datetime(2026, 12, 1, tzinfo=utc))
    assert created_range("", "") == (None, None)
