"""The expected answer time customers are told follows the queue as customers lived it, on
every store: the later of their deadline and the time within which the team answered nine in
ten of the channel's customers over the last week; never earlier than the deadline."""

from __future__ import annotations

from datetime import timedelta

from inbox.config import AckSettings
from inbox.enrich import no_enrichment
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef
from inbox.sla import Calendar, SlaPolicy, Target
from inbox.store import Store, WriteBatch
from inbox.usecases.acks import Acknowledgements
from inbox.usecases.conversations import Conversations
from inbox.usecases.outlook import Outlook
from inbox.usecases.replies import Replies
from tests.contract.test_races import Outbox
from tests.factories import at, conversation, customer, inbound

# Email counts opening hours (Mon-Fri 09:00-17:00 UTC), X round the clock
POLICY = SlaPolicy(Calendar(), {"email": Target(timedelta(hours=8), business_hours=True),
                                "x": Target(timedelta(hours=1), business_hours=False)})
NOW = at(20)  # Friday 20 November 2026, 12:00 UTC: the week before holds 40 opening hours


async def _team_week(store: Store) -> None:
    """20 email conversations answered in the last week, half within an opening hour and half
    in 10 (p90: 10 hours), 3 X ones (too few to tell), some still waiting."""
    answered = [conversation(f"a{i}", "c1", "email", 14 + i % 6, status="resolved",
                             first_response_seconds=3600.0 * (1 if i % 2 else 10),
                             first_response_breached=i % 2 == 0)
                for i in range(20)]
    answered += [conversation(f"x{i}", "c1", "x", 15, first_response_seconds=60.0,
                              first_response_breached=False) for i in range(3)]
    waiting = [conversation(f"w{i}", "c1", "email", 19, awaiting_since=at(19, 10),
                            due_at=at(19, 18)) for i in range(5)]
    waiting += [conversation(f"wx{i}", "c1", "x", 20, awaiting_since=at(20, 11),
                             due_at=at(20, 12, 30)) for i in range(2)]
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(*answered, *waiting)))


async def test_the_teams_recent_p90_sets_a_later_time_never_an_earlier(store: Store) -> None:
    await _team_week(store)
    outlook = Outlook(store, POLICY, clock=lambda: NOW)
    promised = at(23, 12)  # 8 opening hours from Friday noon
    assert await outlook.expected("email", promised) == promised  # nothing measured yet

    assert await outlook.refresh() == {"email": 36000.0}  # X: 3 answers, too few to tell
    # 10 opening hours from Friday noon: 5 on Friday, 5 on Monday from 09:00
    assert await outlook.expected("email", promised) == at(23, 14)
    assert await outlook.expected("email", at(24, 9)) == at(24, 9)  # the deadline is later
    assert await outlook.expected("email", None) == at(23, 14)
    assert await outlook.recent("x") is None
    assert await outlook.expected("x", NOW) == NOW

    stale = Outlook(store, POLICY, clock=lambda: NOW + timedelta(days=2))
    assert await stale.expected("email", promised) == promised  # no worker lately


async def test_the_acknowledgement_tells_the_queues_time(store: Store) -> None:
    await _team_week(store)
    conversations = Conversations(store, EventBus(), POLICY, clock=lambda: NOW)
    outbox = Outbox()
    acks = Acknowledgements(Replies(conversations, {"email": outbox}), AckSettings())
    assert acks.outlook is not None
    await acks.outlook.refresh()
    ingest = Ingestor(store, enrich=no_enrichment, sla=POLICY, events=EventBus(),
                      clock=lambda: NOW)
    ingest.on_opened = acks.opened
    await ingest.ingest([inbound("q1", "My router is dead", when=NOW,
                                 authors=(IdentityRef("email", "bo@example.com", "Bo"),))])
    (told,) = outbox.sent  # his deadline is Monday 12:00; nine in ten waited 10 hours
    assert "Monday 23 November, 14:00" in told

    off = Acknowledgements(Replies(conversations, {"email": outbox}),
                           AckSettings(queue=False))
    assert off.outlook is None
    assert await off.expected("email", NOW + timedelta(hours=8)) == NOW + timedelta(hours=8)
