"""The agents' queue, shown beside every conversation: views, filters and sort of ?view=.

The snoozed view lists what is snoozed, the first to wake first, with its wake time.
The views at risk and breached take the "breaches next" order and keep the conversations
in that SLA state (the state depends on each channel's target, so it is decided here, not in
the store): a bounded number of store pages is read per queue page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from inbox import permissions
from inbox.enrich import LANGUAGES
from inbox.errors import ValidationError
from inbox.model import (
    PRIORITIES,
    Channel,
    Conversation,
    ConversationFilter,
    Status,
    User,
    utcnow,
)
from web import params
from web.guards import current_user
from web.keys import context
from web.seen import SEEN

VIEWS: dict[str, str] = {"all": "All open", "mine": "Mine", "unassigned": "Unassigned",
                         "at_risk": "At risk", "breached": "Breached", "snoozed": "Snoozed"}
SORTS: dict[str, str] = {"due": "Breaches next", "waiting": "Oldest waiting",
                         "recent": "Newest"}
# the queue's own parameters, kept in the links that open a conversation beside it
FILTERS = ("channel", "sentiment", "lang", "tag", "priority")  # kept when the view changes
QUEUE_PARAMS = ("view", "status", *FILTERS, "assignee", "order")
# the choices of the filter bar and the side panel (templates)
CHOICES: dict[str, Any] = {"priorities": PRIORITIES, "sentiments": params.SENTIMENTS,
                           "languages": LANGUAGES, "channels": tuple(Channel)}
PAGE = 50
SCAN_PAGE, SCAN_PAGES = 100, 5  # at risk / breached: store pages read per queue page


@dataclass(frozen=True, slots=True)
class Queue:
    view: str
    items: tuple[Conversation, ...]
    states: dict[str, str | None]
    unread: frozenset[str]  # ids of the conversations with news since the agent opened them
    customers: dict[str, Any]
    users: dict[str, User]
    query: dict[str, str]  # the queue's own parameters, for links that keep it
    more: str | None  # the next page of the queue

    def link(self, conversation_id: str) -> str:
        """Open a conversation beside this queue."""
        qs = urlencode(self.query)
        return f"/conversations/{conversation_id}" + (f"?{qs}" if qs else "")

    def view_link(self, view: str, clear: bool = False) -> str:
        """Another view with this one's filters and sort (`clear`: without the filters)."""
        kept = {k: v for k, v in self.query.items()
                if k == "order" or (k in FILTERS and not clear)}
        return "/inbox?" + urlencode({"view": view, **kept})

    @property
    def agents(self) -> list[User]:
        """Who a selection can be assigned to: the enabled accounts that may work."""
        return sorted((u for u in self.users.values()
                       if not u.disabled and permissions.allowed(u, "work")),
                      key=lambda u: (u.name or u.email).lower())

    @property
    def filtered(self) -> int:
        """How many filters narrow the queue (the filter bar says so)."""
        return sum(1 for k in FILTERS if self.query.get(k))


async def build(request: web.Request) -> Queue:
    """The queue the request's ?view= asks for, with the filters of
    params.conversation_filter (status, channel, sentiment, lang, tag, priority, assignee,
    order)."""
    q = request.query
    view = q.get("view", "all")
    if view not in VIEWS:
        raise ValidationError({"view": f"must be one of {', '.join(VIEWS)}"})
    flt = await params.conversation_filter(request, status=Status.OPEN)
    if view == "snoozed":  # the first to wake first
        flt = replace(flt, status=Status.SNOOZED, order="wake")
    elif view == "mine":
        flt = replace(flt, assignee=await params.assignee(request, "me"))
    elif view == "unassigned":
        flt = replace(flt, assignee="none")
    elif view in ("at_risk", "breached"):
        flt = replace(flt, order="due")
    conversations = context(request).conversations
    now = utcnow()
    cursor = q.get("cursor")
    if view in ("at_risk", "breached"):
        items, cursor = await _in_state(request, flt, cursor, view, now)
    else:
        page = await conversations.page(flt, cursor, PAGE)
        items, cursor = list(page.items), page.next_cursor
    kept = kept_params(q)
    more = "/inbox?" + urlencode({**kept, "cursor": cursor}) if cursor else None
    seen, me = request.app[SEEN], current_user(request).id
    return Queue(view, tuple(items), {c.id: conversations.sla.state(c, now) for c in items},
                 frozenset(c.id for c in items if seen.unread(me, c)),
                 await conversations.customers_of(items),
                 await context(request).accounts.users_by_id(), kept, more)


def kept_params(query: Mapping[str, str]) -> dict[str, str]:
    """The queue's own parameters among a request's (kept by the pages beside it)."""
    return {k: query[k] for k in QUEUE_PARAMS if query.get(k)}


async def _in_state(request: web.Request, flt: ConversationFilter, cursor: str | None,
                    state: str, now: Any) -> tuple[list[Conversation], str | None]:
    conversations = context(request).conversations
    found: list[Conversation] = []
    for _ in range(SCAN_PAGES):
        page = await conversations.page(flt, cursor, SCAN_PAGE)
        found += [c for c in page.items if conversations.sla.state(c, now) == state]
        cursor = page.next_cursor
        if state == "breached" and page.items and \
                conversations.sla.state(page.items[-1], now) != "breached":
            return found, None  # breaches next: the breached ones all came first
        if cursor is None or len(found) >= PAGE:
            break
    return found, cursor
