"""The survey's pure parts: its default text per channel and language, the link's token, the
answer's checks and the report's figures (hand-computed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox import acks, csat
from inbox.errors import ValidationError
from inbox.sla import SlaPolicy

DAY = datetime(2026, 11, 30, tzinfo=UTC)


def survey(channel: str, assignee: str | None, hours: float, score: int | None,
           sent: bool = True) -> dict[str, object]:
    return {"channel": channel, "assignee": assignee, "score": score,
            "resolved_at": (DAY + timedelta(hours=hours)).isoformat(),
            "sent_at": DAY.isoformat() if sent else None}


def test_the_survey_text_per_channel_and_language() -> None:
    def survey_text(channel: str, lang: str, name: str | None, ref: int) -> str:
        facts = acks.AckFacts(channel, lang, name, None, ref, DAY, "https://x.test/csat/t")
        return acks.render(acks.default_template("csat", channel, lang), facts, SlaPolicy())

    mail = survey_text("webform", "nl", "Ann Lee", 10482)  # a web form's survey goes by mail
    assert mail.startswith("Hallo Ann,") and "#10482" in mail and "https://x.test/csat/t" in mail
    dm = survey_text("x", "xx", None, 7)  # a language without templates: English
    assert dm == "We resolved #7. How satisfied are you, 1 to 5? https://x.test/csat/t"


def test_tokens_are_random_and_only_their_own_shape_is_looked_up() -> None:
    token, key = csat.new_token()
    assert token != csat.new_token()[0] and len(token) >= 43
    assert csat.token_key(token) == key and len(key) == 64
    for bad in ("", "short", "x" * 65, token[:-1] + "/", "../" + token, token + "\n"):
        assert csat.token_key(bad) is None


@pytest.mark.parametrize("value", ["1", "5", 3, " 4 "])
def test_scores_one_to_five(value: object) -> None:
    assert csat.checked_score(value) in csat.SCORES


@pytest.mark.parametrize("value", ["0", "6", "", "4.5", "five", None, 4.0, True, ["4"]])
def test_other_scores_are_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        csat.checked_score(value)


def test_comments_are_cleaned_and_bounded() -> None:
    assert csat.checked_comment(None) is None and csat.checked_comment("   ") is None
    assert csat.checked_comment(" ok\x00\r\nthanks ") == "ok\nthanks"
    assert csat.checked_comment("y" * csat.MAX_COMMENT) == "y" * csat.MAX_COMMENT
    for bad in ("y" * (csat.MAX_COMMENT + 1), 5, {"a": 1}):
        with pytest.raises(ValidationError):
            csat.checked_comment(bad)


def test_the_figures_by_channel_agent_and_day_over_the_range() -> None:
    docs = [survey("email", "u1", 1, 5), survey("email", "u1", 2, 2),
            survey("email", "u2", 3, None), survey("x", None, 4, 4),
            survey("webform", "u2", 30, 1),  # the next day (UTC)
            survey("email", "u1", 5, None, sent=False),  # never sent: not counted
            survey("email", "u1", -1, 5)]  # resolved before the range
    rows = {(r.group, r.key): r for r in csat.summarize(docs, DAY, DAY + timedelta(days=2),
                                                          UTC)}
    overall = rows[("all", "all")]
    assert (overall.sent, overall.responses, overall.satisfied, overall.total) == (5, 4, 2, 12)
    assert overall.average == 3.0 and overall.satisfied_rate == 0.5
    assert overall.response_rate == 0.8
    assert rows[("agent", "u1")].average == 3.5 and rows[("agent", "unassigned")].sent == 1
    u2 = rows[("agent", "u2")]
    assert (u2.sent, u2.responses, u2.average, u2.response_rate) == (2, 1, 1.0, 0.5)
    assert rows[("channel", "x")].satisfied_rate == 1.0
    assert rows[("day", "2026-11-30")].sent == 4 and rows[("day", "2026-12-01")].sent == 1
    # days in the team's zone (UTC-8): 1-5 h UTC on 30 November is the 29th in Los Angeles,
    # 06:00 UTC on 1 December the 30th
    west = {r.key for r in csat.summarize(docs, DAY - timedelta(days=1),
                                          DAY + timedelta(days=2),
                                          ZoneInfo("America/Los_Angeles")) if r.group == "day"}
    assert west == {"2026-11-29", "2026-11-30"}
    nobody = csat.summarize([survey("email", None, 1, None)], DAY, DAY + timedelta(days=1), UTC)
    assert nobody[0].average is None and nobody[0].satisfied_rate is None
    assert csat.summarize([], DAY, DAY, UTC) == ()


def test_a_score_in_the_link_preselects_only_a_valid_one() -> None:
    assert csat.score_from_query("4") == 4
    assert [csat.score_from_query(v) for v in (None, "", "0", "9", "4'")] == [None] * 5
