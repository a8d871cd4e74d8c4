"""The X connector against hostile input: posts through the real core, and a hostile X API
(every field of every item, page and header), each hostile item followed by a good one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.twitter import (
    XStream,
)
from connectors.twitter_http import DAY, WINDOW
from inbox import deadletters
from inbox.app.runtime import Runtime
from inbox.errors import (
    FatalError,
)
from tests.fakes.core import FakeCore
from tests.fakes.x_api import (  # noqa: F401
    USAGE_CAPPED,
    X_EPOCH_MS,
    FakeXApi,
    ManualClock,
    fake_x_api,
)
from tests.integration.x_support import Streams, customer, outbound

pytestmark = pytest.mark.integration


# --- hostile posts through the real core ----------------------------------------------------

async def test_a_lone_surrogate_post_does_not_block_the_mentions_stream(
        fake: FakeXApi, x: Streams, runtime: Runtime) -> None:
    ctx = runtime.context_for(x.mentions)
    omar = customer(fake, "omar")
    broken = fake.add_tweet(omar, "@acme utf-16 gone wrong \ud83d here", age=60)
    good = fake.add_tweet(omar, "@acme and a normal one after it")

    first = await x.mentions.poll_once(ctx)
    again = await x.mentions.poll_once(ctx)

    texts = {m.external_id: m.text for m in first.stored}
    assert texts == {broken: "@acme utf-16 gone wrong \ufffd here",
                     good: "@acme and a normal one after it"}
    assert first.dead == () and again.stored == ()
    assert (await runtime.load_cursor("x:mentions")) == {"since_id": good}


# --- a hostile X API: every field of every item, page and header -----------------------------

HOSTILE = json.loads((Path(__file__).parents[1] / "data" / "x" / "hostile.json").read_text())
BAD_DATES = ("garbage", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",
             "1969-07-20T20:17:00Z", 12345, ["2026"])


def placed(item: Any, values: Mapping[str, str]) -> Any:
    """A corpus item with its <placeholders> filled in."""
    if isinstance(item, str):
        for key, value in values.items():
            item = item.replace(key, value)
        return item
    if isinstance(item, list):
        return [placed(i, values) for i in item]
    if isinstance(item, dict):
        return {k: placed(v, values) for k, v in item.items()}
    return item


async def dead_total(runtime: Runtime) -> int:
    return deadletters.total(await runtime.dead_letters.counts())


@pytest.mark.parametrize("endpoint", ["mentions", "dm_events"])
async def test_each_hostile_item_is_stored_or_dead_lettered_and_the_good_one_after_arrives(
        fake: FakeXApi, x: Streams, runtime: Runtime, endpoint: str) -> None:
    stream: XStream = x.mentions if endpoint == "mentions" else x.dms
    ctx = runtime.context_for(stream)
    mallory = customer(fake, "mallory")
    for n, raw in enumerate(HOSTILE[endpoint]):
        item = placed(raw, {"<new>": fake.new_id(), "<author>": mallory,
                            "<brand>": fake.brand_id})
        fake.raw[endpoint] = [item]
        fake.clock.advance(60)
        good = f"@acme the good one after hostile item {n}"
        (fake.add_tweet if endpoint == "mentions" else fake.add_dm)(mallory, good)
        before = await dead_total(runtime)

        first = await stream.poll_once(ctx)
        dead = await dead_total(runtime) - before
        again = await stream.poll_once(ctx)

        why = f"hostile item {n}: {json.dumps(raw)[:200]}"
        texts = [m.text for m in first.stored]
        assert good in texts, why
        assert len(first.stored) + dead == 2, why  # the hostile one: stored or dead-lettered
        assert again.stored == () and await dead_total(runtime) - before == dead, why
        if isinstance(raw, dict) and raw.get("created_at", "") in BAD_DATES:
            hostile = next(m for m in first.stored if m.text != good) if dead == 0 else None
            if hostile is not None:
                received = datetime.fromtimestamp(fake.clock(), UTC)
                assert hostile.created_at == received, why
                assert "date_replaced" in hostile.meta, why
    assert stream.status()["last_error"] is None and stream.status()["failures"] == 0


async def test_far_dates_get_the_received_time_and_a_flag(
        fake: FakeXApi, x: Streams, runtime: Runtime) -> None:
    mallory = customer(fake, "mallory")
    for when in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "garbage"):
        tweet_id = fake.add_tweet(mallory, f"@acme dated {when}")
        fake.tweets[tweet_id]["created_at"] = when
    result = await x.mentions.poll_once(runtime.context_for(x.mentions))
    received = datetime.fromtimestamp(fake.clock(), UTC)
    assert len(result.stored) == 3 and result.dead == ()
    assert {m.meta["date_replaced"] for m in result.stored} == {
        "9999-12-31 23:59:59-23:59", "0001-01-01 00:00:00+14:00", "garbage"}
    assert all(m.created_at == received for m in result.stored)


async def test_a_dm_without_an_id_never_stops_the_dm_stream(
        fake: FakeXApi, x: Streams, runtime: Runtime) -> None:
    """F3: the event without "id" after a good one, as the red team served it."""
    theresa = customer(fake)
    good = fake.add_dm(theresa, "good dm")
    fake.rewrites["dm_events"] = lambda body: {**body, "data": [*body.get("data", []), {
        "event_type": "MessageCreate", "text": "dm no id", "sender_id": theresa,
        "dm_conversation_id": f"{fake.brand_id}-{theresa}"}]}
    ctx = runtime.context_for(x.dms)
    first = await x.dms.poll_once(ctx)
    again = await x.dms.poll_once(ctx)
    assert [m.external_id for m in first.stored] == [f"dm:{good}"]
    assert again.stored == () and await dead_total(runtime) == 1
    letters = await runtime.store.dead_letters.list(None, 10)
    assert letters[0][1]["stage"] == "parse" and "dm no id" in letters[0][1]["raw"]
    assert "'id'" in letters[0][1]["error"]


async def test_hostile_page_fields_are_read_as_absent(fake: FakeXApi, x: Streams) -> None:
    theresa = customer(fake)
    good = fake.add_tweet(theresa, "@acme still here")

    def hostile(body: dict[str, Any]) -> Any:
        return {**body, "includes": {"users": [None, 5, {"id": {"x": 1}},
                                               {"id": theresa, "username": {"a": 1},
                                                "name": ["x"]}], "tweets": "x"},
                "errors": 5, "meta": {**body["meta"], "newest_id": "abc",
                                      "next_token": "n0"}}  # the same token, forever

    fake.rewrites["mentions"] = hostile
    core = FakeCore()
    result = await x.mentions.poll_once(core.ctx())
    assert [m.external_id for m in result.stored] == [good] and core.dead == []
    assert core.cursors["x:mentions"] == {"since_id": good}
    assert len([r for r in fake.requests if r[1].endswith("/mentions")]) == 2  # no loop

    fake.rewrites["mentions"] = lambda body: [1, 2]  # not an object at all
    delay = await x.mentions.step(core.ctx())
    status = x.mentions.status()
    assert delay is not None and status["state"] == "retrying" and status["failures"] == 1
    assert "not a JSON object" in status["last_error"]


@pytest.mark.parametrize("headers", [
    {"x-rate-limit-reset": "inf"}, {"x-rate-limit-reset": "nan"},
    {"x-rate-limit-reset": "1e18", "x-rate-limit-remaining": "0"},
    {"x-rate-limit-remaining": "-5"}, {"x-rate-limit-limit": "many"}])
async def test_hostile_rate_limit_headers_never_park_the_stream(
        fake: FakeXApi, x: Streams, headers: dict[str, str]) -> None:
    fake.extra_headers = headers
    delay = await x.mentions.step(FakeCore().ctx())
    assert delay is not None and delay <= WINDOW + 1


async def test_a_usage_cap_with_hostile_reset_headers_pauses_at_most_a_day(
        fake: FakeXApi, x: Streams) -> None:
    fake.fail("/2/users", 429, USAGE_CAPPED, headers={"x-app-limit-24hour-reset": "nan",
                                                       "x-user-limit-24hour-reset": "1e300"})
    delay = await x.mentions.step(FakeCore().ctx())
    assert delay is not None and delay <= DAY + 1 and x.mentions.status()["paused"]


async def test_a_stream_failing_inside_shows_its_error_in_the_connector_list(
        fake: FakeXApi, x: Streams, runtime: Runtime) -> None:
    fake.rewrites["mentions"] = lambda body: "not an object"
    runtime.connectors.append(x.mentions)
    await runtime.start_workers()
    for _ in range(1000):
        if x.mentions.status()["failures"]:
            break
        await asyncio.sleep(0.01)
    state = (await runtime.status.states())[0]
    assert state["state"] == "backing_off" and state["restarts"] == 0
    assert "not a JSON object" in state["last_error"]
    assert state["next_retry"] == state["status"]["next_poll"]


@pytest.mark.parametrize("answer", [{"data": [1]}, {"data": {"id": {"x": 1}}}, {"data": None}])
async def test_a_reply_answer_without_a_readable_id_is_rejected_never_resent(
        fake: FakeXApi, x: Streams, answer: dict[str, Any]) -> None:
    theresa = customer(fake)
    fake.add_tweet(theresa, "@acme my bill is past due")
    core = FakeCore()
    await x.mentions.poll_once(core.ctx())
    fake.fail("/2/tweets", 201, answer)
    with pytest.raises(FatalError, match="check on X whether it was posted"):
        await x.sender.send(outbound(list(core.messages.values()), "@theresa on it"))
