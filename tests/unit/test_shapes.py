"""The shared checks of what callers send: free-form JSON within depth and sizes, text
without control characters, and the sign-in page's `next=` guard and CORS origins."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from app import shapes
from app.errors import InvalidInput
from app.routes import safe_next
from app.settings import parse_origins
from app.shapes import FREE_FORM, PARAMETERS, RECORD, JsonLimits, check_json, check_text, json_problem


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_free_form_json_within_its_limits_passes():
    value = {"name": "rain", "tags": ["a", "b"], "n": 3, "x": 1.5, "ok": True, "none": None,
             "text": "two\nlines\tand tabs", "deep": nested(FREE_FORM.max_depth - 2)}  # 32 levels in all
    assert check_json(value, "record") is value


@pytest.mark.parametrize("value, where", [
    (nested(300), "record" + ".a" * FREE_FORM.max_depth),
    (nested(100_000), "record" + ".a" * FREE_FORM.max_depth),  # judged without recursion
    ({"k": "nul\x00inside"}, "record.k"),
    ({"k": "lone \ud800 surrogate"}, "record.k"),
    ({"k\x01": 1}, "record"),
    ({"k": float("nan")}, "record.k"),
    ({"k": float("inf")}, "record.k"),
    ({"k": 2**64}, "record.k"),
    ({"k": [1] * (FREE_FORM.max_entries + 1)}, "record.k"),
    ({"k": "x" * (FREE_FORM.max_string_chars + 1)}, "record.k"),
    ({"k" * (FREE_FORM.max_key_chars + 1): 1}, "record"),
    ({"k": object()}, "record.k"),
])
def test_free_form_json_outside_its_limits_is_refused_naming_where(value, where):
    with pytest.raises(InvalidInput) as err:
        check_json(value, "record")
    assert err.value.field == where


# Small limits, so that generated values reach each of them; leaves near each edge.
_TIGHT = JsonLimits(max_depth=3, max_entries=3, max_key_chars=3, max_string_chars=4)
_LEAVES = (st.none() | st.booleans() | st.sampled_from([2**63 - 1, -(2**63 - 1), 2**63, -(2**63)])
           | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(alphabet=st.sampled_from("ab\x00\x01\t\n\ud800é☂"), max_size=6))
_KEYS = st.text(alphabet=st.sampled_from("ab\x00\x1f\x85\ud800é"), max_size=5)
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
                       max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_the_quick_pass_says_within_exactly_when_the_full_walk_finds_nothing(value):
    # json_problem trusts the quick pass's "within" without walking again: it must never
    # pass what the full walk refuses, and should refuse only what the walk refuses.
    assert shapes._within(value, _TIGHT) == (shapes._first_problem(value, "v", _TIGHT) is None)


@pytest.mark.parametrize("value", [True, None, 3, "x", {"k": 1.5}])
def test_what_the_quick_pass_is_not_sure_of_goes_to_the_full_walk(value):
    class Text(str):
        pass

    odd = {"k": [Text("x"), value]}
    assert not shapes._within(odd, FREE_FORM)
    assert json_problem(odd, "v") is None  # the full walk judged it (and passed it)


def test_a_record_has_a_byte_budget():
    assert json_problem({"k": "x" * 300_000}, "record", RECORD) is not None  # 256 kB
    assert json_problem({"top": "10"}, "parameters", PARAMETERS) is None
    assert json_problem({"top": {"a": {"b": 1}}}, "parameters", PARAMETERS)[0] == "parameters.top.a"


@pytest.mark.parametrize("text, multiline, ok", [
    ("rain 2026", False, True), ("zürich ☂", False, True), ("a\tb", False, False), ("a\nb", False, False),
    ("a\nb\r\n\tc", True, True), ("a\x00b", True, False), ("a\x1bb", True, False), ("a\x7f", False, False),
    ("a\x85", True, False), ("\ud800", True, False),
])
def test_text_refuses_control_characters(text, multiline, ok):
    if ok:
        assert check_text(text, "name", multiline=multiline) == text
    else:
        with pytest.raises(InvalidInput) as err:
            check_text(text, "name", multiline=multiline)
        assert err.value.field == "name"


@pytest.mark.parametrize("target", [
    "/jobs", "/jobs/3f2c", "/items?q=a%20b&subtype=DATASET", "/batches/x#top", "/jobs?next=//x",
    "/admin/workers", "/a/b/",
])
def test_next_keeps_paths_of_this_site(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", [
    "", "//evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/%2F/evil.example",
    "/%2f%2fevil.example", "/%252F/evil.example", "/%25252F%25252Fevil.example", "/%5Cevil.example",
    "/%5C%5Cevil.example", "https:evil.example", "https://evil.example", "http:/evil.example",
    "javascript:alert(1)", "evil.example", " /evil", "/\t/evil.example", "/\n/evil.example",
    "/\r\n/evil.example", "/%09/evil.example", "/%0a/evil.example", "/x\x00y", "/.//evil.example",
    "/%2e/%2fevil.example", "/jobs/../..//evil.example", "/\u2028/evil", "/sign-in", "/sign-in/",
    "/sign-in?next=/jobs", "/" + "a" * 3000,
])
def test_next_refuses_everything_else(target):
    assert safe_next(target) == "/jobs"


def test_cors_origins_are_origins_only():
    assert parse_origins("") == ()
    assert parse_origins(" https://App.example.org/ , http://localhost:8080") == (
        "https://app.example.org", "http://localhost:8080")
    for bad in ("*", "https://x.example/path", "x.example", "https://*.example.org", "null"):
        with pytest.raises(ValueError):
            parse_origins(bad)
