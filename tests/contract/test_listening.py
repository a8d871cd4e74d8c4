"""Listening rules on every store: added, edited (an older version refused), paused and
deleted, every change audited; x.keywords imported once; each poll's reads and hits in a
daily rollup, giving the same hit volume, cost and share of voice on both stores; a hit's
conversation gets its priority, a VIP customer's ranks higher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox.enrich import Enrichment
from inbox.errors import ConflictError, NotFound, ValidationError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef, Message, User
from inbox.sla import SlaPolicy
from inbox.store import Store
from inbox.usecases.conversations import Conversations
from inbox.usecases.listening import ListeningRules
from tests.factories import inbound

MARK = User("u-mark", "mark@example.com", "marketing", "-", name="Mark")
MEG = User("u-meg", "meg@example.com", "manager", "-", name="Meg")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def rules_of(store: Store) -> ListeningRules:
    rules = ListeningRules(store, Conversations(store, EventBus(), SlaPolicy()))
    rules.clock = lambda: NOW
    return rules


def angry_words(text: str, lang: str | None = None) -> Enrichment:
    """A sentiment model for the test: negative (0.9) when it says down or broken."""
    bad = "down" in text or "broken" in text
    return Enrichment("en", "negative" if bad else "neutral", 0.9 if bad else 0.6)


async def hits(store: Store, *posts: tuple[str, str, int]) -> list[Message]:
    """Listening hits stored (external id, text, author's followers)."""
    ingest = Ingestor(store, enrich=angry_words, sla=SlaPolicy(), events=EventBus())
    result = await ingest.ingest([
        inbound(ext, text, channel="x", authors=(IdentityRef("x", f"u{ext}", f"user{ext}"),),
                when=NOW - timedelta(hours=1), listening=True,
                meta={"followers": followers}) for ext, text, followers in posts])
    return list(result.stored)


async def test_rules_are_added_edited_paused_and_deleted(store: Store) -> None:
    rules = rules_of(store)
    ours = await rules.create(MARK, "Acme outages", "acme (outage OR down)")
    rival = await rules.create(MARK, "Globex", "globex", "Competitor A", paused=True)
    assert [r["name"] for r in await rules.all()] == ["Globex", "Acme outages"]  # by group
    assert [(a.id, a.query) for a in await rules.active()] == [
        (ours["id"], "(acme (outage OR down)) -is:retweet")]

    edited = await rules.update(MEG, ours["id"], 1, query="acme outage")
    assert edited["version"] == 2 and edited["updated_by"] == MEG.email
    with pytest.raises(ConflictError, match="meg@example.com"):
        await rules.update(MARK, ours["id"], 1, name="Mine")
    with pytest.raises(ValidationError):
        await rules.update(MARK, ours["id"], 2, query="x" * 600)
    with pytest.raises(ValidationError):
        await rules.create(MARK, "acme OUTAGES", "other")  # one name per rule
    resumed = await rules.update(MARK, rival["id"], 1, paused=False)
    assert not resumed["paused"] and len(await rules.active()) == 2
    await rules.delete(MARK, rival["id"])
    with pytest.raises(NotFound):
        await rules.get(rival["id"])
    actions = sorted(d["action"] for _, d in await store.audit.list(None, 50))
    assert actions == ["listening.add", "listening.add", "listening.delete",
                       "listening.edit", "listening.resume"]


async def test_keywords_are_imported_once(store: Store) -> None:
    rules = rules_of(store)
    made = await rules.import_keywords(["acme outage", "\"acme app\" crash"])
    assert [r["query"] for r in made] == ["acme outage", "\"acme app\" crash"]
    assert await rules.import_keywords(["acme outage", "\"acme app\" crash"]) == []
    await rules.delete(MARK, made[0]["id"])
    assert await rules.import_keywords(["acme outage"]) == []  # deleted in the app: stays
    assert len(await rules.all()) == 1
    await rules.create(MARK, "acme down", "acme (down OR outage)")
    assert await rules.import_keywords(["acme down"]) == []  # its name taken: skipped
    assert len(await rules.all()) == 2


async def test_volume_cost_and_share_of_voice_from_the_rollup(store: Store) -> None:
    rules = rules_of(store)
    ours = await rules.create(MARK, "Ours", "acme")
    rival = await rules.create(MARK, "Globex", "globex", "Competitor A")
    ours_hits = await hits(store, ("1", "acme is down", 50_000), ("2", "acme rocks", 10),
                           ("3", "acme again", 0))
    angry = ours_hits
    assert [m.sentiment for m in angry] == ["negative", "neutral", "neutral"]
    await rules.counted(ours["id"], 120, angry, angry)
    rival_hits = await hits(store, ("4", "globex broken", 0))
    await rules.counted(rival["id"], 80, rival_hits, rival_hits)
    await store.listening_counts.put(f"{ours['id']}/2026-11-20", {  # 10 days ago
        "rule": ours["id"], "day": "2026-11-20", "reads": 1_000, "hits": 4, "negative": 0})
    await store.listening_counts.put(f"{ours['id']}/2026-09-01", {  # long ago: not counted
        "rule": ours["id"], "day": "2026-09-01", "reads": 9_999, "hits": 99, "negative": 9})

    volume = await rules.volume(ours["id"])
    assert (volume.today, volume.week, volume.month) == (3, 3, 7)
    assert volume.reads_month == 1_120 and rules.cost(volume) == 5.6  # x US$0.005
    week = await rules.share_of_voice(7)
    assert [(s.group, s.hits, s.share, s.negative, s.negative_share) for s in week] == [
        ("ours", 3, 0.75, 1, 1 / 3), ("Competitor A", 1, 0.25, 1, 1.0)]
    month = {s.group: s.hits for s in await rules.share_of_voice(30)}
    assert month == {"ours": 7, "Competitor A": 1}

    convs = await store.conversations_by_ids([m.conversation_id for m in angry])
    levels = {m.external_id: convs[m.conversation_id].priority for m in angry}
    # "1": (1 + 0.94) x (1 + 2 x 0.9) = 5.4 high; "2": reach 0.2 -> 1.2 low; "3": 1 low
    assert levels == {"1": "high", "2": "low", "3": "low"}
    top = await rules.top_hits()
    assert top[0].message.external_id == "1" and top[0].rule == ours
    assert top[0].priority.level == "high" and "negativity 0.90" in top[0].priority.formula

    await rules.set_vip(MEG, ours_hits[2].customer_id or "", True)
    assert (await rules.priority_of(ours_hits[2])).level == "normal"  # 1 x 1 x 2
    await rules.set_vip(MEG, ours_hits[2].customer_id or "", False)
    assert not (await rules.priority_of(ours_hits[2])).vip
    with pytest.raises(NotFound):
        await rules.set_vip(MEG, "no-such-customer", True)

    # a customer with a conversation agents tagged vip is a VIP too
    assert await rules.vip(ours_hits[1].customer_id or "") is None
    await rules.conversations.set_tags(ours_hits[1].conversation_id, ["vip"], MEG)  # type: ignore[union-attr]
    assert await rules.vip(ours_hits[1].customer_id or "") == "tagged"
    assert (await rules.priority_of(ours_hits[1])).vip
