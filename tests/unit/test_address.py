"""A list page's filters in its address (app.state.address): each kind of filter read
and written, the default never written, anything else left out and named."""

from __future__ import annotations

from app.state.address import Param, form, parse, said

SPEC = (Param("kind", "choice", "all", ("DATASET", "MODEL"), "kind of item"), Param("q", what="search"),
        Param("mine", "flag", False, what="mine"), Param("day", "date", what="the day"))


def test_each_kind_round_trips_and_defaults_are_not_written():
    values = {"kind": "MODEL", "q": "río & co", "mine": True, "day": "2026-12-02"}
    url = form("/items", SPEC, values)
    assert url == "/items?kind=MODEL&q=r%C3%ADo+%26+co&mine=1&day=2026-12-02"
    from urllib.parse import parse_qsl, urlsplit

    assert parse(SPEC, dict(parse_qsl(urlsplit(url).query))) == (values, [])
    assert form("/items", SPEC, {"kind": "all", "q": " ", "mine": False, "day": ""}) == "/items"
    assert parse(SPEC, {}) == ({"kind": "all", "q": "", "mine": False, "day": ""}, [])


def test_what_is_no_value_is_left_out_and_named():
    got, problems = parse(SPEC, {"kind": "dataset", "q": "a\x07b", "mine": "perhaps", "day": "2026-1-2"})
    assert got == {"kind": "all", "q": "", "mine": False, "day": ""}
    assert problems == ["'dataset' is no kind of item", "the search is no text a search can take",
                        "'perhaps' is not 1 for mine", "'2026-1-2' is no date (a day as 2026-12-02) for the day"]
    assert said(problems).count("; ") == 3
    assert parse(SPEC, {"q": "x" * 201})[1] == ["the search is no text a search can take"]
    assert parse(SPEC, {"q": "x" * 200})[0]["q"] == "x" * 200


def test_a_change_moves_to_its_address_unless_it_is_the_one_shown():
    from app.state.address import moved

    assert moved("/items", SPEC, {"kind": "MODEL"}, {"kind": "MODEL"}) is None
    assert moved("/items", SPEC, {"kind": "MODEL"}, {"kind": "MODEL", "mine": True}) == "/items?kind=MODEL&mine=1"
    assert moved("/items", SPEC, {"kind": "MODEL", "q": "x"}, {}) == "/items"
    # an address with a value no filter takes reads as unfiltered: going unfiltered reads again
    assert moved("/items", SPEC, {"kind": "NOPE"}, {}) is None
