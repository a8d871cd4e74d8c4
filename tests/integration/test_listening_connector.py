"""The X connector follows the listening rules kept in the store, without a restart: a new
rule is searched, an edited rule searches its new query from a cursor of its own, a paused
or deleted rule is not searched; each poll is counted in the rule's daily rollup, and a
hit's conversation gets its priority (reach x negativity x VIP). Real components: the
runtime on SQLite, the X API fake."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.twitter import ListeningStream
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.model import User
from inbox.usecases.conversations import SYSTEM
from tests.factories import CHEAP_ARGON2
from tests.fakes.x_api import FakeXApi, ManualClock

pytestmark = pytest.mark.integration


@pytest.fixture
async def fake() -> AsyncIterator[FakeXApi]:
    async with FakeXApi(clock=ManualClock(), bearer_token="app-token") as server:
        yield server


@pytest.fixture
async def runtime(fake: FakeXApi, tmp_path: Path) -> AsyncIterator[Runtime]:
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           "INBOX_X_BEARER_TOKEN": "app-token", "INBOX_X_USER_ID": fake.brand_id,
           "INBOX_X_USERNAME": "acme", "INBOX_X_API_URL": fake.url,
           "INBOX_X_KEYWORDS": "acme outage", **CHEAP_ARGON2}
    rt = Runtime(load_config(None, env), env)
    await rt.start()
    yield rt
    await rt.aclose()
    gc.collect()


def searched(fake: FakeXApi, since: int) -> list[dict[str, str]]:
    """The search requests since the `since`-th request."""
    return [q for _, path, q in fake.requests[since:] if path == "/2/tweets/search/recent"]


async def poll(runtime: Runtime) -> tuple[ListeningStream, int]:
    listen = next(c for c in runtime.connectors if isinstance(c, ListeningStream))
    result = await listen.poll_once(runtime.context_for(listen))
    return listen, len(result.stored)


async def test_the_connector_follows_added_edited_paused_and_deleted_rules(
        fake: FakeXApi, runtime: Runtime) -> None:
    rules = runtime.listening
    (imported,) = await rules.all()  # x.keywords, imported once
    assert imported["query"] == "acme outage" and imported["created_by"] == "system"
    assert await rules.import_keywords(["acme outage"]) == []  # never twice
    await rules.delete(SYSTEM, imported["id"])
    assert await rules.import_keywords(["acme outage"]) == []  # nor once deleted

    marketer = User(id="u-m", email="m@example.com", role="marketing", password_hash="")
    ours = await rules.create(marketer, "Ours", "acme outage")
    theresa = fake.add_user("theresa", followers=250_000)
    fake.add_tweet(theresa, "acme outage again, third time this week")
    fake.add_tweet(theresa, "globex down for everyone")
    _, stored = await poll(runtime)
    assert stored == 1

    rival = await rules.create(marketer, "Globex", "globex", "Competitor A")  # a new rule
    mark = len(fake.requests)
    _, stored = await poll(runtime)
    assert stored == 1
    queries = {q["query"] for q in searched(fake, mark)}
    assert queries == {"acme outage -is:retweet", "globex -is:retweet"}
    assert "since_id" in next(q for q in searched(fake, mark)
                              if q["query"] == "acme outage -is:retweet")

    rival = await rules.update(marketer, rival["id"], rival["version"], query="globex down")
    mark = len(fake.requests)
    await poll(runtime)
    edited = next(q for q in searched(fake, mark) if q["query"] == "globex down -is:retweet")
    assert "since_id" not in edited and "start_time" in edited  # its own cursor: from scratch

    await rules.update(marketer, ours["id"], ours["version"], paused=True)
    fake.add_tweet(theresa, "acme outage, still")
    mark = len(fake.requests)
    _, stored = await poll(runtime)
    assert stored == 0
    assert {q["query"] for q in searched(fake, mark)} == {"globex down -is:retweet"}

    await rules.update(marketer, ours["id"], ours["version"] + 1, paused=False)
    await rules.delete(marketer, rival["id"])
    mark = len(fake.requests)
    _, stored = await poll(runtime)
    assert stored == 1  # the post made while it was paused: X still has it
    assert {q["query"] for q in searched(fake, mark)} == {"acme outage -is:retweet"}

    volume = await rules.volume(ours["id"])
    assert (volume.today, volume.week, volume.month) == (2, 2, 2)
    assert volume.reads_month == 2
    shares = {s.group: s.hits for s in await rules.share_of_voice(7)}
    assert shares == {"ours": 2}  # the deleted rival's hits no longer count


async def test_a_hit_gets_its_priority_from_reach_and_the_vip_mark(
        fake: FakeXApi, runtime: Runtime) -> None:
    rules = runtime.listening
    famous = fake.add_user("famous", followers=1_000_000)
    nobody = fake.add_user("nobody", followers=0)
    fake.add_tweet(famous, "acme outage, is anyone there")
    fake.add_tweet(nobody, "acme outage, again")
    await poll(runtime)
    page = await runtime.search.messages(SYSTEM, None, None, 10)
    by_author = {m.meta["username"]: m for m in page.messages}
    assert by_author["famous"].meta["followers"] == 1_000_000
    assert by_author["famous"].meta["rule"] == (await rules.all())[0]["id"]
    convs = await runtime.store.conversations_by_ids(
        [m.conversation_id for m in by_author.values()])
    # full reach: (1 + 1) x (1 + 0) x 1 = 2 -> normal; no reach: 1 -> low
    assert convs[by_author["famous"].conversation_id].priority == "normal"
    assert convs[by_author["nobody"].conversation_id].priority == "low"

    customer = by_author["nobody"].customer_id
    assert customer is not None
    await rules.set_vip(SYSTEM, customer, True)
    fake.add_tweet(nobody, "acme outage and nobody answers")
    await poll(runtime)
    page = await runtime.search.messages(SYSTEM, None, None, 10)
    newest = next(m for m in page.messages if m.text == "acme outage and nobody answers")
    conv = await runtime.store.get_conversation(newest.conversation_id)
    assert conv.priority == "normal"  # (1 + 0) x (1 + 0) x VIP 2 = 2
    prio = await rules.priority_of(newest)
    assert prio.vip and prio.formula.endswith("VIP 2 = 2.00 → normal")
    top = await rules.top_hits()
    assert [t.priority.score for t in top] == [2, 2, 2]  # the VIP's count as full reach's
    assert {t.message.meta["username"] for t in top} == {"famous", "nobody"}


async def test_a_rule_x_refuses_is_reported_and_the_others_go_on(
        fake: FakeXApi, runtime: Runtime) -> None:
    rules = runtime.listening
    marketer = User(id="u-m", email="m@example.com", role="marketing", password_hash="")
    await rules.create(marketer, "Globex", "globex")
    ann = fake.add_user("ann")
    fake.add_tweet(ann, "acme outage here too")
    fake.add_tweet(ann, "globex outage as well")
    fake.fail("/2/tweets/search/recent", 400, times=1,
              body={"title": "Invalid Request", "detail": "There were errors processing "
                    "your request: no viable alternative at character '('"})
    listen, stored = await poll(runtime)
    assert stored == 1  # one rule refused, the other stored its hit
    refused = [r for r in listen.status()["rules"] if r["error"]]
    assert len(refused) == 1 and "no viable alternative" in refused[0]["error"]
    assert listen.status()["state"] == "waiting" and not listen.status()["stopped"]
    kept = await rules.get(refused[0]["rule"])  # for the page: on the rule, no new version
    assert "no viable alternative" in (kept.get("error") or "") and kept["version"] == 1
    _, stored = await poll(runtime)
    assert stored == 1 and not any(r["error"] for r in listen.status()["rules"])
    assert (await rules.get(refused[0]["rule"])).get("error") is None
