"""The crisis view: the saved searches spiking now (and those whose spike ended in the last
48 hours): since when, how many customer messages since the spike began, how many distinct
customers wrote, and how many of their conversations are answered (a first response given)
against waiting. Counted on the voice of the customer (Search.voice) as the viewer may see
it, reading at most MAX_READ of the newest matching messages (capped: says so)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from inbox.collections import SavedSearchDoc, SpikeStateDoc
from inbox.errors import InboxError
from inbox.model import And, FieldTerm, QueryNode, User, utcnow
from inbox.usecases.saved_searches import SavedSearches
from inbox.usecases.search import Search

MAX_READ = 5_000  # newest matching messages read per spike
PAGE = 500
ENDED_WINDOW = timedelta(hours=48)  # spikes that ended this recently are listed, as ended


@dataclass(frozen=True, slots=True)
class Crisis:
    search: SavedSearchDoc
    since: datetime  # when the spike began
    ended: datetime | None  # when it fell back (None: spiking now)
    messages: int  # customer messages since the spike began (until it ended, or now)
    customers: int  # distinct customers who wrote them
    answered: int  # their conversations with a first response
    waiting: int  # and without
    capped: bool  # only the MAX_READ newest messages were read
    error: str | None = None  # the query is not available to the viewer's role


def spike_of(state: SpikeStateDoc | None, now: datetime
             ) -> tuple[datetime, datetime | None] | None:
    """(since, ended) of the spike to show: the current one, or one that ended within
    ENDED_WINDOW; None: nothing to show."""
    if state is None:
        return None
    if state["spiking"] and state["since"]:
        return datetime.fromisoformat(state["since"]), None
    ended = state.get("ended")
    if ended:
        until = datetime.fromisoformat(ended["until"])
        if now - until <= ENDED_WINDOW:
            return datetime.fromisoformat(ended["since"]), until
    return None


async def crises(searches: SavedSearches, search: Search, viewer: User,
                 now: datetime | None = None) -> list[Crisis]:
    """The spikes to show, spiking ones first, then the newest start first."""
    now = now or utcnow()
    states = await searches.spike_states()
    found = []
    for doc in await searches.all():
        spike = spike_of(states.get(doc["id"]), now)
        if spike is not None:
            found.append(await _counted(search, viewer, doc, *spike, now))
    return sorted(found, key=lambda c: (c.ended is not None, -c.since.timestamp()))


async def _counted(search: Search, viewer: User, doc: SavedSearchDoc, since: datetime,
                   ended: datetime | None, now: datetime) -> Crisis:
    """The messages in [since, ended or now), newest first, read back to `since`."""
    try:
        node = await search.parse(doc["query"], viewer)
    except InboxError as exc:
        return Crisis(doc, since, ended, 0, 0, 0, 0, False, str(exc))
    voice = search.voice(viewer, node)
    parts = voice.nodes if isinstance(voice, And) else (voice,)
    query: QueryNode = And((*parts, FieldTerm("after", since.date().isoformat())))
    messages, read, capped, cursor = 0, 0, False, None
    customers: set[str] = set()
    conversations: set[str] = set()
    public = search.hides_contacts(viewer)
    while True:
        page = await search.store.search(query, cursor, PAGE, public=public)
        for m in page.messages:
            if m.created_at < since:
                cursor = None
                break
            if m.created_at >= (ended or now):
                continue
            messages += 1
            customers.add(m.customer_id or m.conversation_id)
            conversations.add(m.conversation_id)
        else:
            cursor = page.next_cursor
        read += len(page.messages)
        if not cursor or not page.messages:
            break
        if read >= MAX_READ:
            capped = True
            break
    convs = await search.store.conversations_by_ids(sorted(conversations))
    answered = sum(1 for c in convs.values() if c.first_response_at is not None)
    return Crisis(doc, since, ended, messages, len(customers), answered,
                  len(convs) - answered, capped)
