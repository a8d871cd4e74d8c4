"""Pure parts of the X connector: parsers, pacing rules and settings, on literal fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.twitter_config import load_settings
from connectors.twitter_http import RateLimit, is_usage_cap, next_delay
from connectors.twitter_parse import followers_of, newest, parse_dm, parse_tweet, snowflake_time
from inbox.errors import ConfigError
from inbox.model import IdentityRef

BRAND = "1000000001"
HUGE = str(2**63 + 12345)  # beyond int64 and far beyond float precision
USERS = {"users": [
    {"id": "2244994945", "username": "TheresaK", "name": "Theresa K 🌸", "verified": False},
    {"id": BRAND, "username": "acme", "name": "Acme"},
]}


def tweet(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "1850000000000000001", "text": "@acme my bill is past due",
        "author_id": "2244994945", "conversation_id": "1850000000000000001",
        "created_at": "2026-11-20T10:15:30.000Z", "lang": "en",
        "edit_history_tweet_ids": ["1850000000000000001"],
        "public_metrics": {"retweet_count": 0, "reply_count": 1, "like_count": 2,
                           "quote_count": 0},
        "entities": {"mentions": [{"start": 0, "end": 5, "username": "acme", "id": BRAND}]},
    }
    base.update(overrides)
    return base


def test_mention_becomes_inbound() -> None:
    inbound = parse_tweet(tweet(), USERS, BRAND)
    assert inbound.channel == "x"
    assert inbound.external_id == inbound.revision == "1850000000000000001"
    assert inbound.authors == (IdentityRef("x", "2244994945", label="TheresaK"),
                               IdentityRef("x_handle", "theresak", label="TheresaK"))
    assert inbound.author_name == "Theresa K 🌸"
    assert inbound.created_at == datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
    assert inbound.lang == "en"
    assert inbound.thread_keys == ("x:tweet:1850000000000000001", "x:conv:1850000000000000001")
    assert inbound.parent_keys == ()
    assert not inbound.listening
    meta = inbound.meta
    assert meta["url"] == "https://x.com/TheresaK/status/1850000000000000001"
    assert meta["mentions"] == [{"id": BRAND, "username": "acme"}]
    assert meta["mentions_brand"] and not meta["quotes_brand"]
    assert meta["public_metrics"]["like_count"] == 2
    assert "withheld" not in meta


def test_edit_keeps_the_original_id_and_carries_the_revision() -> None:
    edited = tweet(id="1850000000000000099", text="@acme my bill is past due!!",
                   edit_history_tweet_ids=["1850000000000000001", "1850000000000000099"])
    inbound = parse_tweet(edited, USERS, BRAND)
    assert inbound.external_id == "1850000000000000001"
    assert inbound.revision == "1850000000000000099"
    assert inbound.thread_keys[0] == "x:tweet:1850000000000000001"
    assert inbound.meta["tweet_id"] == "1850000000000000099"
    assert inbound.meta["url"].endswith("/status/1850000000000000099")


def test_reply_points_at_the_original_of_the_replied_post() -> None:
    parent = tweet(id="1850000000000000050",
                   edit_history_tweet_ids=["1850000000000000040", "1850000000000000050"])
    reply = tweet(id="1850000000000000060", conversation_id="1850000000000000040",
                  in_reply_to_user_id=BRAND,
                  edit_history_tweet_ids=["1850000000000000060"],
                  referenced_tweets=[{"type": "replied_to", "id": "1850000000000000050"}])
    inbound = parse_tweet(reply, {**USERS, "tweets": [parent]}, BRAND)
    assert inbound.parent_keys == ("x:tweet:1850000000000000040", "x:conv:1850000000000000040")
    assert inbound.thread_keys == ("x:tweet:1850000000000000060", "x:conv:1850000000000000040")
    assert inbound.meta["in_reply_to_user_id"] == BRAND


def test_huge_ids_emoji_and_rtl_text_survive() -> None:
    text = "@acme التطبيق لا يعمل 😤🇩🇪 ‏(شكرا)"
    inbound = parse_tweet(tweet(id=HUGE, conversation_id=HUGE, edit_history_tweet_ids=[HUGE],
                                text=text), USERS, BRAND)
    assert inbound.external_id == HUGE and inbound.text == text
    assert inbound.thread_keys == (f"x:tweet:{HUGE}", f"x:conv:{HUGE}")


def test_withheld_post_is_kept_and_flagged() -> None:
    withheld = {"copyright": False, "country_codes": ["DE", "FR"], "scope": "tweet"}
    inbound = parse_tweet(tweet(withheld=withheld), USERS, BRAND)
    assert inbound.text == "@acme my bill is past due"
    assert inbound.meta["withheld"] == withheld


def test_deleted_reference_is_recorded_not_fatal() -> None:
    gone = "1850000000000000007"
    errors = [{"value": gone, "resource_id": gone, "resource_type": "tweet",
               "parameter": "referenced_tweets.id", "title": "Not Found Error",
               "detail": f"Could not find tweet with referenced_tweets.id: [{gone}].",
               "type": "https://api.twitter.com/2/problems/resource-not-found"}]
    reply = tweet(referenced_tweets=[{"type": "replied_to", "id": gone}],
                  conversation_id="1850000000000000000")
    inbound = parse_tweet(reply, USERS, BRAND, errors=errors)
    assert inbound.meta["referenced_tweets"] == [
        {"type": "replied_to", "id": gone, "unavailable": "Not Found Error",
         "detail": f"Could not find tweet with referenced_tweets.id: [{gone}]."}]
    assert inbound.parent_keys == (f"x:tweet:{gone}", "x:conv:1850000000000000000")


def test_quote_of_a_brand_post_counts_as_engaging_the_brand() -> None:
    quoted = {"id": "1850000000000000003", "text": "new plans!", "author_id": BRAND,
              "edit_history_tweet_ids": ["1850000000000000003"]}
    quote = tweet(entities={}, text="these plans are a joke",
                  referenced_tweets=[{"type": "quoted", "id": "1850000000000000003"}])
    inbound = parse_tweet(quote, {**USERS, "tweets": [quoted]}, BRAND)
    assert inbound.meta["quotes_brand"] and not inbound.meta["mentions_brand"]
    assert inbound.parent_keys == ()


def test_brand_mention_matched_by_username_when_the_id_is_missing() -> None:
    mention = tweet(entities={"mentions": [{"start": 0, "end": 5, "username": "ACME"}]})
    assert not parse_tweet(mention, USERS, BRAND).meta["mentions_brand"]
    assert parse_tweet(mention, USERS, BRAND, brand_username="acme").meta["mentions_brand"]


def test_sparse_post_falls_back_sensibly() -> None:
    sparse = {"id": "1850000000000000001", "text": "hi", "author_id": "42", "lang": "und"}
    inbound = parse_tweet(sparse, {}, BRAND)
    assert inbound.authors == (IdentityRef("x", "42"),)
    assert inbound.lang is None
    assert inbound.created_at == snowflake_time("1850000000000000001")
    assert inbound.thread_keys == ("x:tweet:1850000000000000001",)
    assert inbound.meta["url"] == "https://x.com/i/web/status/1850000000000000001"


def test_a_post_without_an_author_is_an_error() -> None:
    with pytest.raises(ValueError, match="author_id"):
        parse_tweet({"id": "1", "text": "x"}, {}, BRAND)


def test_dm_and_mention_name_the_same_customer() -> None:
    event = {"id": "1850000000000000200", "event_type": "MessageCreate", "text": "مرحبا 👋",
             "sender_id": "2244994945", "dm_conversation_id": f"{BRAND}-2244994945",
             "participant_ids": [BRAND, "2244994945"], "created_at": "2026-11-20T11:00:00.000Z",
             "attachments": {"media_keys": ["3_1"]}}
    dm = parse_dm(event, USERS)
    assert dm.external_id == "dm:1850000000000000200"
    assert dm.text == "مرحبا 👋"
    assert dm.thread_keys == dm.parent_keys == (f"x:dm:{BRAND}-2244994945",)
    assert dm.meta["kind"] == "dm" and dm.meta["attachments"] == {"media_keys": ["3_1"]}
    assert dm.authors[0] == parse_tweet(tweet(), USERS, BRAND).authors[0]


@given(text=st.text(), tweet_id=st.integers(min_value=1, max_value=2**70))
def test_any_text_and_id_round_trip(text: str, tweet_id: int) -> None:
    inbound = parse_tweet(tweet(id=str(tweet_id), edit_history_tweet_ids=[str(tweet_id)],
                                text=text), USERS, BRAND)
    assert inbound.text == text and inbound.external_id == str(tweet_id)


def test_newest_compares_ids_as_numbers() -> None:
    assert newest(["999", "1000", None]) == "1000"
    assert newest([HUGE, str(2**63)]) == HUGE
    assert newest([]) is None


# --- pacing -------------------------------------------------------------------------------

def test_polls_spread_over_what_is_left_of_the_window() -> None:
    now = 1_000.0
    assert next_delay(60, None, now) == 60
    assert next_delay(60, RateLimit(450, 449, now + 900), now) == 60
    assert next_delay(60, RateLimit(10, 2, now + 600), now) == 300
    assert next_delay(60, RateLimit(10, 2, now + 600), now, share=3) == 900
    assert next_delay(60, RateLimit(10, 0, now + 600), now) == 601
    assert next_delay(60, RateLimit(10, 0, now - 5), now) == 60


def test_usage_cap_is_told_from_the_body() -> None:
    assert is_usage_cap({"title": "UsageCapExceeded"}, {})
    assert is_usage_cap({"type": "https://api.twitter.com/2/problems/usage-capped"}, {})
    assert not is_usage_cap({"title": "Too Many Requests"}, {})


# --- settings -----------------------------------------------------------------------------

ENV = {"INBOX_X_BEARER_TOKEN": "app-secret", "INBOX_X_USER_ID": BRAND}


def test_not_configured_means_no_settings() -> None:
    assert load_settings({}, {}) is None
    assert load_settings({"store": {}}, {"HOME": "/"}) is None


def test_env_overrides_the_file() -> None:
    config = {"x": {"user_id": "5", "bearer_token": "file-token", "keywords": ["a", "b", "a"],
                    "mentions_interval": 30}}
    settings = load_settings(config, {**ENV, "INBOX_X_KEYWORDS": "acme outage\n\n\"acme app\""})
    assert settings is not None
    assert settings.user_id == BRAND and settings.credentials.bearer_token == "app-secret"
    assert settings.keywords == ("acme outage", '"acme app"')
    assert settings.mentions_interval == 30
    assert "app-secret" not in repr(settings)


def test_bearer_token_from_a_named_variable() -> None:
    settings = load_settings({"x": {"user_id": BRAND, "bearer_token_env": "MY_TOKEN"}},
                             {"MY_TOKEN": "t0k"})
    assert settings is not None and settings.credentials.bearer_token == "t0k"


@pytest.mark.parametrize(("config", "env", "key"), [
    ({"x": {"bearer_token": "t"}}, {}, "x.user_id"),
    ({"x": {"user_id": "@acme", "bearer_token": "t"}}, {}, "x.user_id"),
    ({"x": {"user_id": BRAND}}, {}, "x.bearer_token"),
    ({"x": {"user_id": BRAND, "bearer_token": "t", "keywords": "acme"}}, {}, "x.keywords"),
    ({"x": {"user_id": BRAND, "bearer_token": "t", "dm_interval": 0}}, {}, "x.dm_interval"),
    ({"x": {"user_id": BRAND, "bearer_token": "t", "consumer_key": "k"}}, {},
     "x.consumer_secret"),
    ({"x": {"user_id": BRAND, "bearer_token": "t", "api_url": "ftp://x"}}, {}, "x.api_url"),
    ({"x": {"user_id": BRAND, "bearer_tokn": "t"}}, {}, "x.bearer_tokn"),
    ({"x": {"user_id": BRAND, "bearer_token_env": "NOPE"}}, {}, "x.bearer_token_env"),
    ({}, {**ENV, "INBOX_X_SEARCH_INTERVAL": "soon"}, "x.search_interval"),
])
def test_bad_values_name_the_key(config: dict[str, object], env: dict[str, str],
                                 key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env)
    assert caught.value.key == key


@pytest.mark.parametrize(("metrics", "expected"), [
    ({"followers_count": 1234}, 1234), ({"followers_count": 0}, 0), (None, None),
    ({"followers_count": -1}, None), ({"followers_count": True}, None),
    ({"followers_count": "1234"}, None), ({"followers_count": 1.5}, None),
    ({"followers_count": 10**12}, None), ("lots", None), ([1234], None), ({}, None),
])
def test_followers_are_a_count_a_real_account_has(metrics: object, expected: int | None
                                                  ) -> None:
    assert followers_of({"public_metrics": metrics}) == expected
    user = {"id": "2244994945", "username": "TheresaK", "public_metrics": metrics}
    record = parse_tweet(tweet(), {"users": [user]}, BRAND)
    assert record.meta.get("followers") == expected
