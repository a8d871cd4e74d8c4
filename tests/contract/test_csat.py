"""CSAT surveys on every store: one survey per resolved conversation even with two workers
sweeping at once and a second resolution, none before it is due; answers kept (the last one
counts), a low score told to the managers once; the report's figures by channel, agent and
day over the range."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from inbox.collections import CSAT
from inbox.config import AckSettings, CsatSettings
from inbox.csat import CsatRow
from inbox.enrich import no_enrichment
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef, Status
from inbox.passwords import Passwords
from inbox.sla import SlaPolicy
from inbox.store import Store
from inbox.usecases.accounts import Accounts
from inbox.usecases.acks import Acknowledgements
from inbox.usecases.conversations import Conversations
from inbox.usecases.csat import Surveys
from inbox.usecases.delivery import Delivery
from inbox.usecases.replies import Replies
from tests.contract.test_acks import Outbox
from tests.factories import inbound

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)
ANN = (IdentityRef("email", "ann@example.com", "Ann Lee"),)
LINK = "https://help.example.com/csat/"


class Desk:
    """One worker's surveys over a shared store and outbox, on a clock the test moves."""

    def __init__(self, store: Store, outbox: Outbox, now: list[datetime]) -> None:
        self.conversations = Conversations(store, EventBus(), SlaPolicy(),
                                           clock=lambda: now[0])
        self.accounts = Accounts(store, CHEAP)
        replies = Replies(self.conversations, {"email": outbox})
        self.surveys = Surveys(replies, CsatSettings(delay_minutes=30), self.accounts,
                               Delivery(self.conversations.notifications, self.accounts),
                               "https://help.example.com/",
                               Acknowledgements(replies, AckSettings()))
        self.conversations.on_resolved = self.surveys.resolved
        self.ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus(),
                               clock=lambda: now[0])


def token_of(text: str) -> str:
    return text.split(LINK, 1)[1].split()[0]


async def test_one_survey_per_resolved_conversation_answered_and_reported(
        store: Store) -> None:
    outbox, now = Outbox(), [datetime(2026, 11, 30, 10, 0, tzinfo=UTC)]
    one, two = Desk(store, outbox, now), Desk(store, outbox, now)
    mia = await one.accounts.add_user("mia@example.com", "manager", "plum orbit canyon 71",
                                      "Mia")
    ava = await one.accounts.add_user("ava@example.com", "agent", "plum orbit canyon 72",
                                      "Ava")
    got = await one.ingest.ingest([inbound("m1", "My router is dead", authors=ANN,
                                           when=now[0], thread_keys=("mid:m1",))])
    conv_id = got.stored[0].conversation_id
    await one.conversations.assign(conv_id, ava.id, ava)
    await one.conversations.set_status(conv_id, Status.RESOLVED, ava)

    assert await one.surveys.sweep() == 0 and outbox.sent == []  # due in 30 minutes
    now[0] += timedelta(minutes=31)
    await two.conversations.set_status(conv_id, Status.OPEN, ava)  # reopened, resolved again:
    await two.conversations.set_status(conv_id, Status.RESOLVED, ava)  # still one survey
    assert sorted(await asyncio.gather(one.surveys.sweep(), two.surveys.sweep())) == [0, 1]
    assert await one.surveys.sweep() == 0
    (text,) = outbox.sent
    conv = await store.get_conversation(conv_id)
    assert "Hello Ann" in text and f"#{conv.ref}" in text
    token = token_of(text)

    shown = await one.surveys.survey(token)
    assert (shown.reference, shown.score) == (conv.ref, None)
    await one.surveys.answer(token, "1", "  slow\x00 ")
    answered = await two.surveys.answer(token, 4)  # the last answer counts
    assert (answered.score, answered.comment) == (4, None)
    doc = await store.collection(CSAT).get(conv_id)
    assert doc is not None and doc["score"] == 4 and doc["alerted"] and doc["assignee"] == ava.id
    await two.surveys.answer(token, 2)  # low again: the managers were told already
    told = await one.conversations.notifications.for_user(mia)
    assert [n["kind"] for n in told] == ["csat.low"] and "scored 1 of 5" in told[0]["text"]

    day = datetime(2026, 11, 30, tzinfo=UTC)
    rows = {(r.group, r.key): r for r in await one.surveys.report(day, day + timedelta(days=1),
                                                                  UTC)}
    assert set(rows) == {("all", "all"), ("channel", "email"), ("agent", ava.id),
                         ("day", "2026-11-30")}
    overall = rows[("all", "all")]
    assert (overall.sent, overall.responses, overall.average, overall.satisfied_rate,
            overall.response_rate) == (1, 1, 2.0, 0.0, 1.0)
    assert await one.surveys.report(day + timedelta(days=1), day + timedelta(days=2), UTC) == ()


async def test_a_resolved_listening_hit_gets_no_survey(store: Store) -> None:
    outbox, now = Outbox(), [datetime(2026, 11, 30, 10, 0, tzinfo=UTC)]
    desk = Desk(store, outbox, now)
    ava = await desk.accounts.add_user("ava@example.com", "agent", "plum orbit canyon 72")
    hit = await desk.ingest.ingest([inbound("x1", "acme broadband down", channel="x",
                                            listening=True,
                                            authors=(IdentityRef("x", "7", "@ann"),))])
    conv_id = hit.stored[0].conversation_id
    assert (await store.get_conversation(conv_id)).status == Status.LISTENING
    await desk.conversations.set_status(conv_id, Status.RESOLVED, ava)
    now[0] += timedelta(hours=1)
    assert await desk.surveys.sweep() == 0 and outbox.sent == []
    assert await store.collection(CSAT).get(conv_id) is None


async def test_the_report_counts_the_surveys_resolved_in_its_range_only(store: Store) -> None:
    """Surveys of conversations resolved on three days: a range counts those resolved from
    its first instant up to (not at) its end, however many pages it reads."""
    outbox, now = Outbox(), [datetime(2026, 11, 2, 0, 0, tzinfo=UTC)]
    desk = Desk(store, outbox, now)
    desk.surveys.report_page = 2
    ava = await desk.accounts.add_user("ava@example.com", "agent", "plum orbit canyon 72")
    resolved = {}
    for i, when in enumerate([datetime(2026, 11, d, h, tzinfo=UTC)
                              for d, h in ((2, 0), (2, 9), (2, 23), (3, 0), (3, 12), (4, 0))]):
        now[0] = when
        got = await desk.ingest.ingest([inbound(f"r{i}", "Help", when=when,
                                                authors=(IdentityRef("email", f"c{i}@x.org"),),
                                                thread_keys=(f"mid:r{i}",))])
        resolved[when] = got.stored[0].conversation_id
        await desk.conversations.set_status(resolved[when], Status.RESOLVED, ava)
    now[0] = datetime(2026, 11, 5, tzinfo=UTC)
    assert await desk.surveys.sweep() == 6
    for text, score in zip(outbox.sent, (5, 4, 1, 5, 3, 2), strict=True):
        await desk.surveys.answer(token_of(text), score)

    def overall(rows: tuple[CsatRow, ...]) -> tuple[int, int, float | None]:
        (row,) = [r for r in rows if r.group == "all"]
        return row.sent, row.responses, row.average

    day2, day3 = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    assert overall(await desk.surveys.report(day2, day3, UTC)) == (3, 3, 10 / 3)
    assert overall(await desk.surveys.report(day3, day3 + timedelta(days=1), UTC)) == (2, 2, 4)
    assert overall(await desk.surveys.report(day2, day3 + timedelta(days=2), UTC)) == (6, 6, 20 / 6)
