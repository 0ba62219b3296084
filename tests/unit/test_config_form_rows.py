"""The configuration forms' rows as the domain takes them: environment variables as a
mapping (a row without a name, or a name twice, refused at its row; empty rows
dropped), a refusal naming a variable placed on its row, what a form says of the
runs under way it lists, and a pipeline's step dragged onto another's row (its place
taken, lanes kept, numbered again in run order)."""

from __future__ import annotations

from app.errors import InvalidInput
from app.state.admin_config_rows import (EnvRow, StepRow, env_rows, env_value, live_runs_text, moved_steps,
                                         place_env_refusal)


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


def _steps(*pairs) -> list:
    return [StepRow(order=o, task=t) for o, t in pairs]


def _seen(rows) -> list[tuple[str, str]]:
    return [(r.order, r.task) for r in rows]


def test_a_step_dragged_onto_another_takes_its_place_and_the_orders_follow_the_list():
    rows = _steps(("1", "a"), ("2", "b"), ("3", "c"))
    assert _seen(moved_steps(rows, 2, 0)) == [("1", "c"), ("2", "a"), ("3", "b")]  # up: before it
    assert _seen(moved_steps(rows, 0, 2)) == [("1", "b"), ("2", "c"), ("3", "a")]  # down: after it
    assert _seen(moved_steps(rows, 0, 1)) == [("1", "b"), ("2", "a"), ("3", "c")]
    assert moved_steps(rows, 1, 1) is rows and moved_steps(rows, 0, 3) is rows and moved_steps(rows, -1, 0) is rows
    # two rows alike are still two rows, each moved by its place
    twins = _steps(("1", "a"), ("2", "b"), ("2", "b"))
    assert _seen(moved_steps(twins, 2, 0)) == [("1", "b"), ("2", "a"), ("3", "b")]


def test_steps_side_by_side_stay_so_and_one_dropped_between_them_joins_them():
    rows = _steps(("1", "a"), ("1", "b"), ("2", "c"), ("5", "d"))
    # c dropped on a (up: before a): alone first; a and b still side by side
    assert _seen(moved_steps(rows, 2, 0)) == [("1", "c"), ("2", "a"), ("2", "b"), ("3", "d")]
    # c dropped on b (up: between a and b): it joins them
    assert _seen(moved_steps(rows, 2, 1)) == [("1", "a"), ("1", "c"), ("1", "b"), ("2", "d")]
    # a dropped on c (down: after c): b alone first, then c, then a, then d
    assert _seen(moved_steps(rows, 0, 2)) == [("1", "b"), ("2", "c"), ("3", "a"), ("4", "d")]
    # a dropped on b (down: after b): alone after b
    assert _seen(moved_steps(rows, 0, 1)) == [("1", "b"), ("2", "a"), ("3", "c"), ("4", "d")]


def test_the_rows_are_taken_in_run_order_and_a_bad_number_is_numbered_too():
    # as typed: out of order, one number no whole number (the move numbers it: last, alone)
    rows = [StepRow(order="3", task="c"), StepRow(order="x", task="bad", error="no", error_field="steps.1.order"),
            StepRow(order="1", task="a"), StepRow(order="2", task="b")]
    got = moved_steps(rows, 0, 2)  # c dropped on a: before it
    assert _seen(got) == [("1", "c"), ("2", "a"), ("3", "b"), ("4", "bad")]
    assert not any(r.error or r.error_field for r in got)  # a refusal named the old places
