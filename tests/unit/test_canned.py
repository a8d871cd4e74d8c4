"""How a canned reply's variables are filled in (inbox.canned)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.canned import Facts, answer_time, first_name, render, values

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("name", "first"), [
    ("Ann Lee", "Ann"), ("  Ann   Lee ", "Ann"), ("Lee, Ann", "Ann"), ("Ann", "Ann"),
    (None, "there"), ("", "there"), ("ann@example.com", "there"), ("@ann_x", "there"),
    ('"Ann" Lee', "Ann"), ("<script>alert(1)</script> Bob", "<script>alert(1)</script>"),
    ("Ann" * 100, ("Ann" * 100)[:60]),
])
def test_the_customer_first_name_is_the_first_word_or_there(name: str | None,
                                                             first: str) -> None:
    assert first_name(name) == first  # text, never markup: pages and mails escape it


def test_the_expected_answer_time_is_the_deadline_in_the_team_zone_or_soon() -> None:
    due = datetime(2026, 11, 30, 13, 5, tzinfo=UTC)
    assert answer_time(due, ZoneInfo("Europe/London"), NOW) == "by Monday 30 November, 13:05 GMT"
    assert answer_time(due, ZoneInfo("Europe/Paris"), NOW) == "by Monday 30 November, 14:05 CET"
    assert answer_time(None, ZoneInfo("UTC"), NOW) == "soon"
    assert answer_time(NOW - timedelta(minutes=1), ZoneInfo("UTC"), NOW) == "soon"  # overdue


def test_known_variables_are_filled_and_unknown_ones_stay_as_typed() -> None:
    filled = values(Facts(customer_name="Ann Lee", agent_name="Dana  Smith", due_at=None,
                          reference=10482, team_zone=ZoneInfo("UTC"), now=NOW))
    text = ("Hi {customer_first_name}, {agent_name} ({reference}) answers {expected_answer_time}."
            " {Customer_First_Name} {nope} {agent_name {} {{reference}}")
    assert render(text, filled) == ("Hi Ann, Dana Smith (#10482) answers soon."
                                    " {Customer_First_Name} {nope} {agent_name {} {#10482}")


def test_an_agent_without_a_name_signs_as_the_team() -> None:
    filled = values(Facts(customer_name=None, agent_name=None, due_at=None, reference=None,
                          team_zone=ZoneInfo("UTC"), now=NOW))
    assert render("Hi {customer_first_name}, {agent_name}", filled) == (
        "Hi there, The support team")


def test_a_value_that_looks_like_a_variable_is_not_filled_again() -> None:
    filled = values(Facts(customer_name="{agent_name}", agent_name="Dana", due_at=None,
                          reference=1, team_zone=ZoneInfo("UTC"), now=NOW))
    assert render("Hi {customer_first_name}", filled) == "Hi {agent_name}"
