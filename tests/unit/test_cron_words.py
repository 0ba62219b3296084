"""Cron expressions in words (app.cron_words): the common shapes worded, every other
left to be shown as written (never a wrong sentence)."""

from __future__ import annotations

import pytest

from app.cron_words import describe


@pytest.mark.parametrize("cron, words", [
    ("* * * * * *", "Every second"),
    ("* * * * * */10", "Every 10 seconds"),
    ("* * * * *", "Every minute"),
    ("*/15 * * * *", "Every 15 minutes"),
    ("5 * * * *", "Every hour at minute 5"),
    ("0 3 * * *", "At 03:00 every day"),
    ("0 8,20 * * *", "At 08:00 and 20:00 every day"),
    ("30 9 * * 1-5", "At 09:30 on Monday to Friday"),
    ("0 3 * * sat,sun", "At 03:00 on Saturday and Sunday"),
    ("0 0 1 * *", "At 00:00 on the 1st of each month"),
    ("0 12 25 12 *", "At 12:00 on 25 December"),
    ("0 3 * * * 30", "At second 30 at 03:00 every day"),
])
def test_common_shapes_are_worded(cron, words):
    assert describe(cron) == words


@pytest.mark.parametrize("cron", ["*/5 9-17 * * *", "1,2 3 * * *", "0 0 1 * 1", "*/10 3 * * * *", "", "* *",
                                  "0 3 * * mon#2", "99 3 * * *", "0 3 L * *"])
def test_other_shapes_are_left_as_written(cron):
    assert describe(cron) == ""
