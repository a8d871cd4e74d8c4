"""The X connector against the local fake X API (tests/fakes/x_api.py) over real HTTP.

The core is replaced by tests.fakes.core.FakeCore: ingest dedupes on (channel, external_id),
cursors live in a dict. Time is a ManualClock shared by the fake server and the connector:
no real waits.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connectors.twitter import (
    build,
    configure,
)
from connectors.twitter_http import Credentials
from inbox.errors import (
    AuthFailed,
    RateLimited,
    Refused,
    RetryableError,
    StoreUnavailable,
)
from inbox.model import IdentityRef
from tests.fakes.core import FakeCore
from tests.fakes.x_api import (  # noqa: F401
    USAGE_CAPPED,
    X_EPOCH_MS,
    FakeXApi,
    ManualClock,
    fake_x_api,
)
from tests.integration.x_support import Streams, customer, outbound, settings_for, snowflake_at

pytestmark = pytest.mark.integration



# --- mentions -----------------------------------------------------------------------------

async def test_first_poll_ingests_mentions_and_saves_the_newest_id(
        fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    first = fake.add_tweet(theresa, "@acme my bill is past due", age=60)
    reply_id = fake.add_tweet(theresa, "@acme hello?", reply_to=first)
    fake.add_tweet(theresa, "no mention here")
    ours = fake.add_tweet(fake.brand_id, "@acme talking to ourselves")  # skipped, but passed
    core = FakeCore()

    result = await x.mentions.poll_once(core.ctx())

    assert len(result.stored) == 2 and core.texts() == ["@acme hello?", "@acme my bill is past due"]
    assert core.cursors == {"x:mentions": {"since_id": ours}}
    reply = core.messages[("x", reply_id)]
    assert reply.authors[0] == IdentityRef("x", theresa, label="theresa")
    assert reply.parent_keys[0] == f"x:tweet:{first}" and not reply.listening
    _, _, query = fake.requests[-1]
    assert query["tweet.fields"].split(",") == [
        "author_id", "conversation_id", "created_at", "referenced_tweets", "in_reply_to_user_id",
        "lang", "public_metrics", "entities", "edit_history_tweet_ids", "withheld"]
    assert query["expansions"] == "author_id,referenced_tweets.id,in_reply_to_user_id"
    assert query["user.fields"] == "username,name,profile_image_url,verified,public_metrics"
    assert reply.meta["followers"] == 0  # the author's reach, for a listening hit's priority


async def test_incremental_polls_follow_every_page_with_no_gaps_or_duplicates(
        fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    for n in range(12):
        fake.add_tweet(theresa, f"@acme first batch {n}", age=100 - n)
    core = FakeCore()
    first = await x.mentions.poll_once(core.ctx())
    assert len(first.stored) == 12 and len(core.batches) == 3  # pages of 5, 5, 2
    since = core.cursors["x:mentions"]["since_id"]

    for n in range(7):
        fake.add_tweet(theresa, f"@acme second batch {n}")
    fake.requests.clear()
    second = await x.mentions.poll_once(core.ctx())

    assert len(second.stored) == 7 and second.duplicates == 0
    assert len(core.messages) == 19
    assert [q.get("since_id") for _, _, q in fake.requests] == [since, since]
    assert "pagination_token" in fake.requests[1][2]
    assert core.cursors["x:mentions"]["since_id"] == max(core.messages, key=lambda k: int(k[1]))[1]
    assert (await x.mentions.poll_once(core.ctx())).stored == ()


async def test_restart_mid_pagination_loses_nothing_and_doubles_nothing(
        fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    for n in range(12):
        fake.add_tweet(theresa, f"@acme post {n}", age=100 - n)
    core = FakeCore(fail_on_batch=2)  # the store dies while page 2 is ingested
    with pytest.raises(StoreUnavailable):
        await x.mentions.poll_once(core.ctx())
    assert "x:mentions" not in core.cursors and len(core.messages) == 5
    fake.add_tweet(theresa, "@acme arrived during the outage")

    restarted, _ = build(settings_for(fake), clock=fake.clock, page_size=5)  # a new process
    result = await restarted[0].poll_once(core.ctx())
    await restarted[0].aclose()

    assert len(core.messages) == 13
    assert len(result.stored) == 8 and result.duplicates == 5


async def test_an_edit_updates_the_original_instead_of_duplicating(
        fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    original = fake.add_tweet(theresa, "@acme teh app crashed")
    core = FakeCore()
    await x.mentions.poll_once(core.ctx())
    edited = fake.edit_tweet(original, "@acme the app crashed")

    result = await x.mentions.poll_once(core.ctx())

    assert len(result.updated) == 1 and not result.stored
    message = core.messages[("x", original)]
    assert message.text == "@acme the app crashed" and message.revision == edited


async def test_odd_posts_arrive_intact(fake: FakeXApi, x: Streams) -> None:
    omar = customer(fake, "omar")
    huge = str(2**63 + 777)
    fake.add_tweet(omar, "@acme التطبيق لا يعمل 😤🇩🇪", id=huge, lang="ar",
                   withheld={"copyright": False, "country_codes": ["DE"]})
    gone = fake.add_tweet(omar, "@acme earlier post", age=30)
    fake.delete_tweet(gone)
    reply = fake.add_tweet(omar, "@acme see above", reply_to=gone)
    core = FakeCore()

    await x.mentions.poll_once(core.ctx())

    odd = core.messages[("x", huge)]
    assert odd.text == "@acme التطبيق لا يعمل 😤🇩🇪" and odd.lang == "ar"
    assert odd.meta["withheld"]["country_codes"] == ["DE"]
    assert core.messages[("x", reply)].meta["referenced_tweets"][0]["unavailable"]
    assert core.cursors["x:mentions"]["since_id"] == huge


async def test_an_unparseable_post_goes_to_the_dead_letters(fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    broken = fake.add_tweet(theresa, "@acme broken")
    del fake.tweets[broken]["author_id"]
    good = fake.add_tweet(theresa, "@acme fine")
    core = FakeCore()

    await x.mentions.poll_once(core.ctx())

    assert [m.external_id for m in core.messages.values()] == [good]
    assert core.dead[0][0] == "x:mentions" and broken in core.dead[0][1]
    assert core.cursors["x:mentions"]["since_id"] == good


# --- listening ----------------------------------------------------------------------------

async def test_listening_hits_are_voice_of_customer_unless_they_mention_us(
        fake: FakeXApi, x: Streams) -> None:
    yuki = customer(fake, "yuki")
    hit = fake.add_tweet(yuki, "is acme outage over yet")
    care = fake.add_tweet(yuki, "@acme outage again, help")
    fake.add_tweet(yuki, "RT acme outage", retweet_of=hit)
    fake.add_tweet(yuki, "unrelated")
    core = FakeCore()

    await x.listen.poll_once(core.ctx())

    assert core.messages[("x", hit)].listening
    assert not core.messages[("x", care)].listening
    assert len(core.messages) == 2
    assert fake.requests[-1][2]["query"] == "acme outage -is:retweet"
    assert core.cursors["x:listen:acme outage"] == {"since_id": care}


async def test_after_a_long_outage_search_falls_back_to_the_7_day_window(
        fake: FakeXApi, x: Streams) -> None:
    yuki = customer(fake, "yuki")
    fake.add_tweet(yuki, "acme outage six days ago", age=6 * 86400)
    fake.add_tweet(yuki, "acme outage eight days ago", age=8 * 86400)
    core = FakeCore(cursors={"x:listen:acme outage": {
        "since_id": snowflake_at(fake.clock() - 10 * 86400)}})

    await x.listen.poll_once(core.ctx())

    query = fake.requests[-1][2]
    assert "since_id" not in query
    start = datetime.fromisoformat(query["start_time"])
    assert timedelta(days=7) - timedelta(minutes=5) < \
        datetime.fromtimestamp(fake.clock(), UTC) - start < timedelta(days=7)
    assert core.texts() == ["acme outage six days ago"]


async def test_since_id_refused_as_too_old_retries_with_start_time(
        fake: FakeXApi, x: Streams) -> None:
    yuki = customer(fake, "yuki")
    old = fake.add_tweet(yuki, "acme outage then", age=3600)
    core = FakeCore(cursors={"x:listen:acme outage": {"since_id": old}})
    fake.add_tweet(yuki, "acme outage now")
    fake.fail("/2/tweets/search", 400, {
        "errors": [{"parameters": {"since_id": [old]},
                    "message": f"Invalid 'since_id':'{old}'. 'since_id' must be a tweet id "
                               "created after 2026-11-15T00:00Z."}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was "
        "invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"})

    result = await x.listen.poll_once(core.ctx())

    assert fake.requests[-2][2]["since_id"] == old and "start_time" in fake.requests[-1][2]
    # the window re-reads the older hit; the cursor covers it, so it is not ingested again
    assert [m.text for m in result.stored] == ["acme outage now"]


# --- direct messages ------------------------------------------------------------------------

async def test_dms_page_back_to_the_last_event_and_ingest_oldest_first(
        fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    for n in range(7):
        fake.add_dm(theresa, f"dm {n}", age=100 - n)
    fake.add_dm(fake.brand_id, "our answer", to=theresa)
    core = FakeCore()

    await x.dms.poll_once(core.ctx())

    ingested = [m.text for batch in core.batches for m in batch]
    assert ingested == [f"dm {n}" for n in range(7)]  # oldest first, our own DM skipped
    assert core.cursors["x:dms"] == {"last_event_id": max(fake.dm_events, key=int)}
    assert all(fake.requests[-1][2][k] for k in ("dm_event.fields", "expansions"))

    fake.add_dm(theresa, "dm 7")
    fake.requests.clear()
    result = await x.dms.poll_once(core.ctx())
    assert [m.text for m in result.stored] == ["dm 7"] and len(fake.requests) == 1


async def test_dms_refuse_the_app_only_token(fake: FakeXApi) -> None:
    creds = Credentials(bearer_token="app-token", user_token="app-token")
    streams, _ = build(settings_for(fake, credentials=creds), clock=fake.clock)
    dms = next(s for s in streams if s.name == "x:dms")
    with pytest.raises(AuthFailed, match="Unsupported Authentication"):
        await dms.poll_once(FakeCore().ctx())
    await dms.aclose()


# --- budget, backoff, pauses ------------------------------------------------------------------

async def test_rate_limit_waits_for_the_reset_then_resumes(fake: FakeXApi, x: Streams) -> None:
    customer(fake)
    fake.rate_limit("/2/users", reset_in=30)
    core = FakeCore()

    delay = await x.mentions.step(core.ctx())
    assert delay is not None and 30 <= delay <= 32
    assert "rate limit" in (x.mentions.status()["last_error"] or "")
    with pytest.raises(RateLimited):
        fake.rate_limit("/2/users", reset_in=5)
        await x.mentions.poll_once(core.ctx())
    fake.clock.advance(31)
    assert await x.mentions.step(core.ctx()) == 60
    assert x.mentions.status()["last_error"] is None


async def test_polls_are_spread_over_the_remaining_budget(fake: FakeXApi, x: Streams) -> None:
    fake.set_budget("mentions", limit=10, remaining=3, reset_in=600)
    delay = await x.mentions.step(FakeCore().ctx())
    assert delay == pytest.approx(300, abs=1)  # 600 s left / 2 requests left
    status = x.mentions.status()
    assert status["remaining"] == 2 and status["limit"] == 10
    assert status["reset"] == datetime.fromtimestamp(int(fake.clock() + 600), UTC).isoformat()


async def test_search_rules_share_the_search_budget(fake: FakeXApi) -> None:
    streams, _ = build(settings_for(fake, keywords=("a", "b", "c")), clock=fake.clock)
    fake.set_budget("search", limit=180, remaining=10, reset_in=900)
    listen = next(s for s in streams if s.name == "x:listen")
    # one poll searches the 3 rules: the next waits as long as 3 streams would
    assert await listen.step(FakeCore().ctx()) == pytest.approx(900 * 3 / 7, abs=1)
    await listen.aclose()


async def test_server_errors_back_off_exponentially_then_recover(fake: FakeXApi) -> None:
    theresa = customer(fake)
    fake.add_tweet(theresa, "@acme anyone?")
    fake.fail("/2/users", 503, times=3)
    core = FakeCore()
    sleeps = fake.clock.sleeps

    async def sleep_four_times(seconds: float) -> None:
        await fake.clock.sleep(seconds)
        if len(sleeps) == 4:
            raise _Stop

    streams, _ = build(settings_for(fake), clock=fake.clock, sleep=sleep_four_times,
                       rng=random.Random(3))
    mentions = streams[0]
    try:
        with pytest.raises(_Stop):
            await mentions.run(core.ctx())
    finally:
        await mentions.aclose()

    assert 1 <= sleeps[0] <= 2 and 2 <= sleeps[1] <= 4 and 4 <= sleeps[2] <= 8
    assert sleeps[3] == 60 and len(core.messages) == 1
    assert mentions.status()["next_poll"] is not None


async def test_secrets_stay_out_of_the_logs(fake: FakeXApi, x: Streams,
                                            caplog: pytest.LogCaptureFixture) -> None:
    fake.fail("/2/users", 401)
    with caplog.at_level(logging.DEBUG):
        await x.mentions.step(FakeCore().ctx())
        await x.dms.poll_once(FakeCore().ctx())
    assert caplog.records
    assert "app-token" not in caplog.text and f"{fake.brand_id}-at" not in caplog.text


async def test_network_errors_are_retryable(fake: FakeXApi) -> None:
    streams, _ = build(settings_for(fake, api_url="http://127.0.0.1:9"), clock=fake.clock)
    with pytest.raises(RetryableError, match="unreachable"):
        await streams[0].poll_once(FakeCore().ctx())
    await streams[0].aclose()


async def test_usage_cap_pauses_the_stream_and_raises_an_alert(
        fake: FakeXApi, x: Streams) -> None:
    fake.usage_cap("/2/users")
    core = FakeCore()

    delay = await x.mentions.step(core.ctx())

    assert delay == pytest.approx(3600)
    status = x.mentions.status()
    assert status["paused"] and "usage cap" in status["alert"].lower()
    assert status["paused_until"] == datetime.fromtimestamp(fake.clock() + 3600, UTC).isoformat()
    before = len(fake.requests)
    fake.clock.advance(600)
    assert await x.mentions.step(core.ctx()) == pytest.approx(3000)
    assert len(fake.requests) == before  # paused: no request at all
    fake.clock.advance(3000)
    assert await x.mentions.step(core.ctx()) == 60
    assert not x.mentions.status()["paused"]


async def test_refused_credentials_stop_the_stream_without_a_loop(
        fake: FakeXApi, x: Streams) -> None:
    fake.fail("/2/users", 401)
    await x.mentions.run(FakeCore().ctx())  # returns instead of retrying
    status = x.mentions.status()
    assert status["stopped"] and "credentials" in status["alert"]
    assert len(fake.requests) == 1 and fake.clock.sleeps == []


# --- replies ---------------------------------------------------------------------------------

async def test_reply_round_trip_to_a_mention(fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    asked = fake.add_tweet(theresa, "@acme my bill is past due")
    core = FakeCore()
    await x.mentions.poll_once(core.ctx())
    out = outbound(list(core.messages.values()), "@theresa sorry! we fixed it")

    x.sender.check(out)
    receipt = await x.sender.send(out)

    [posted] = fake.posted_tweets
    assert posted["body"] == {"text": "@theresa sorry! we fixed it",
                              "reply": {"in_reply_to_tweet_id": asked}}
    assert posted["authorization"] == "OAuth"  # and the fake checked the X-host signature
    assert receipt.thread_keys == (f"x:tweet:{receipt.provider_id}",)
    assert fake.tweets[receipt.provider_id]["in_reply_to_user_id"] == theresa

    fake.add_tweet(theresa, "@acme thanks!", reply_to=receipt.provider_id)
    await x.mentions.poll_once(core.ctx())
    thanks = next(m for m in core.messages.values() if m.text == "@acme thanks!")
    assert f"x:tweet:{receipt.provider_id}" in thanks.parent_keys


async def test_reply_to_a_post_that_does_not_mention_us_is_refused(
        fake: FakeXApi, x: Streams) -> None:
    yuki = customer(fake, "yuki")
    fake.add_tweet(yuki, "acme outage again")
    core = FakeCore()
    await x.listen.poll_once(core.ctx())
    out = outbound(list(core.messages.values()), "@yuki sorry about that")

    with pytest.raises(Refused, match="mention or quote @acme"):
        x.sender.check(out)
    with pytest.raises(Refused):
        await x.sender.send(out)
    assert fake.posted_tweets == []


async def test_a_reply_x_rejects_is_refused_with_its_detail(fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    fake.add_tweet(theresa, "@acme hello")
    fake.add_tweet(fake.brand_id, "@theresa hi there")
    core = FakeCore()
    await x.mentions.poll_once(core.ctx())
    out = outbound(list(core.messages.values()), "@theresa hi there")

    with pytest.raises(Refused, match="duplicate content"):
        await x.sender.send(out)
    fake.fail("/2/tweets", 503)
    with pytest.raises(RetryableError):
        await x.sender.send(replace(out, message=replace(out.message, text="new text")))
    fake.fail("/2/tweets", 401)
    with pytest.raises(AuthFailed):
        await x.sender.send(out)


async def test_dm_round_trip_and_one_identity_across_mention_and_dm(
        fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    fake.add_tweet(theresa, "@acme check your DMs")
    fake.add_dm(theresa, "my account is 55-0192")
    core = FakeCore()
    await x.mentions.poll_once(core.ctx())
    await x.dms.poll_once(core.ctx())
    dm = core.messages[next(k for k in core.messages if k[1].startswith("dm:"))]
    mention = core.messages[next(k for k in core.messages if not k[1].startswith("dm:"))]
    assert dm.authors[0] == mention.authors[0] == IdentityRef("x", theresa, label="theresa")

    receipt = await x.sender.send(outbound([mention, dm], "Thanks, fixed."))

    [posted] = fake.posted_dms
    conversation = dm.meta["dm_conversation_id"]
    assert posted["path"] == f"/2/dm_conversations/{conversation}/messages"
    assert posted["body"] == {"text": "Thanks, fixed."} and posted["authorization"] == "OAuth"
    assert receipt.provider_id in fake.dm_events
    assert receipt.thread_keys == (f"x:dm:{conversation}",)
    fake.add_dm(theresa, "great, thank you")
    result = await x.dms.poll_once(core.ctx())
    assert [m.text for m in result.stored] == ["great, thank you"]  # our DM is not a customer's


# --- configuration ----------------------------------------------------------------------------

async def test_configure_builds_one_connector_per_stream(fake: FakeXApi) -> None:
    env = {"INBOX_X_BEARER_TOKEN": "app-token", "INBOX_X_USER_ID": fake.brand_id,
           "INBOX_X_KEYWORDS": "acme outage\nacme app", "INBOX_X_API_URL": fake.url,
           "INBOX_X_CONSUMER_KEY": "ck", "INBOX_X_CONSUMER_SECRET": "cs",
           "INBOX_X_ACCESS_TOKEN": "at", "INBOX_X_ACCESS_TOKEN_SECRET": "ats"}
    connectors, senders = configure({}, env)
    assert [c.name for c in connectors] == ["x:mentions", "x:listen", "x:dms"]
    assert connectors[1].keywords == ("acme outage", "acme app")  # type: ignore[attr-defined]
    assert all(c.channel == "x" for c in connectors) and senders[0].channel == "x"
    read_only, no_senders = configure({"x": {"user_id": "1", "bearer_token": "t"}}, {})
    # listening runs without keywords too: the rules are added in the app
    assert [c.name for c in read_only] == ["x:mentions", "x:listen"] and no_senders == []
    assert configure({}, {}) == ([], [])
    await connectors[0].aclose()


async def test_the_shared_fixture_serves_the_demo_seed(fake_x_api: FakeXApi) -> None:  # noqa: F811
    from tests.fakes.x_api import seed_demo

    env = seed_demo(fake_x_api)
    connectors, senders = configure({}, env)
    core = FakeCore()
    try:
        for connector in connectors:
            await connector.poll_once(core.ctx())
    finally:
        await connectors[0].aclose()
    kinds = {(m.meta["kind"], m.listening) for m in core.messages.values()}
    assert kinds == {("tweet", False), ("tweet", True), ("dm", False)}
    theresa = {m.authors[0] for m in core.messages.values() if m.meta["username"] == "theresa_k"}
    assert len(theresa) == 1 and senders


class _Stop(Exception):
    """Ends a run() loop from inside the injected sleep."""
