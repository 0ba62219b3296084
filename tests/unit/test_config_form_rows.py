"""The configuration forms' rows as the domain takes them: environment variables as a
mapping (a row without a name, or a name twice, refused at its row; empty rows
dropped), a refusal naming a variable placed on its row, and what a form says of the
runs under way it lists."""

from __future__ import annotations

from app.errors import InvalidInput
from app.state.admin_config_rows import EnvRow, env_rows, env_value, live_runs_text, place_env_refusal


def test_rows_become_the_mapping_and_back():
    rows = env_rows({"TZ": "UTC", "LC_ALL": "C"})
    assert [(r.name, r.value) for r in rows] == [("LC_ALL", "C"), ("TZ", "UTC")]
    got, rows = env_value([*rows, EnvRow()])
    assert got == {"LC_ALL": "C", "TZ": "UTC"} and not any(r.error for r in rows)


def test_a_row_without_a_name_or_named_twice_is_refused_at_its_row():
    got, rows = env_value([EnvRow("A", "1"), EnvRow("", "orphan"), EnvRow(" A ", "2")])
    assert [r.error_field for r in rows] == ["", "environment.1.name", "environment.2.name"]
    assert "needs a name" in rows[1].error and "A is set twice" in rows[2].error


def test_a_refusal_naming_a_variable_goes_to_its_row():
    rows = [EnvRow("A", "1"), EnvRow("BIG", "x")]
    placed, on_row = place_env_refusal(rows, InvalidInput("too long", field="environment.BIG"))
    assert on_row and [r.error for r in placed] == ["", "too long"]
    placed, on_row = place_env_refusal(rows, InvalidInput("bad name", field="environment"))
    assert not on_row and not any(r.error for r in placed)


def test_what_a_form_says_of_the_runs_under_way():
    assert live_runs_text(0, 100, 0, "it") == ("No run under way uses it.", "")
    assert live_runs_text(1, 100, 1, "it") == ("1 run under way uses it.", "")
    assert live_runs_text(15, 100, 10, "it") == ("15 runs under way use it.", "and 5 more")
    assert live_runs_text(101, 100, 10, "it") == ("More than 100 runs under way use it.", "and 90+ more")
