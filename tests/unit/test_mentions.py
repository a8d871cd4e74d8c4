"""@mentions in notes: who a note names, and how it shows."""

from __future__ import annotations

from inbox.collections import UserDoc
from inbox.mentions import as_meta, find_mentions, mentioned_ids, segments


def user(uid: str, email: str, role: str = "agent", disabled: bool = False) -> UserDoc:
    return {"id": uid, "email": email, "role": role, "password_hash": "h", "name": None,
            "created_at": "2026-11-30T09:00:00+00:00", "disabled": disabled, "epoch": 0,
            "last_sign_in": None}


TEAM = [user("u-ben", "Ben@northwind.example"), user("u-sam", "sam@northwind.example"),
        user("u-old", "old@northwind.example", disabled=True),
        user("u-mkt", "mia@northwind.example", role="marketing"),
        user("u-jo1", "jo@northwind.example"), user("u-jo2", "jo@other.example")]


def names(text: str) -> list[str]:
    return [text[m.start:m.end] for m in find_mentions(text, TEAM)]


def test_by_the_part_before_the_at_or_the_whole_email_case_insensitive() -> None:
    text = "@ben and @SAM@northwind.example, please look"
    assert names(text) == ["@ben", "@SAM@northwind.example"]
    assert mentioned_ids(find_mentions(text, TEAM)) == ["u-ben", "u-sam"]


def test_punctuation_around_a_mention_is_not_part_of_it() -> None:
    assert names("(@ben), @sam. @ben! @sam: @ben-") == ["@ben", "@sam", "@ben", "@sam", "@ben"]
    assert names("Ask @sam@northwind.example.") == ["@sam@northwind.example"]


def test_unknown_inactive_outside_the_care_team_and_ambiguous_names_stay_text() -> None:
    assert names("@nobody @old @mia @jo @ @@ben") == []
    assert names("write to ben@northwind.example or x@ben") == []  # an address is no mention
    assert names("@jo@other.example") == ["@jo@other.example"]  # the whole email is unique
    assert names("@ben@unknown.example") == ["@ben"]  # an unknown domain: the local part


def test_each_colleague_is_notified_once_however_often_named() -> None:
    found = find_mentions("@ben @Ben @ben@northwind.example @sam @ben", TEAM)
    assert len(found) == 5
    assert mentioned_ids(found) == ["u-ben", "u-sam"]


def test_the_note_keeps_its_mentions_and_shows_them_marked() -> None:
    text = "Hi @ben, see <b>this</b>"
    meta = as_meta(find_mentions(text, TEAM))
    assert meta == {"mentions": ["u-ben"], "mention_spans": [[3, 7]]}
    assert segments(text, meta) == [("Hi ", False), ("@ben", True), (", see <b>this</b>", False)]
    assert as_meta(find_mentions("no one", TEAM)) == {}
    # spans that do not fit the text (hostile or stale meta) are ignored, the text is kept whole
    bad = {"mention_spans": [[0, 99], "x", [5, 2], [1, 2], [3, "7"]]}
    assert "".join(p for p, _ in segments(text, bad)) == text
    assert all(not marked for _, marked in segments(text, bad))


def test_a_note_full_of_mentions_marks_only_the_first_twenty() -> None:
    found = find_mentions("@ben " * 5000 + "@sam", TEAM)
    assert len(found) == 20 and mentioned_ids(found) == ["u-ben"]
