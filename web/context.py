"""What the web layer is given by the composition root: the use cases, the event bus and
its typed settings. The web reaches stores and connectors only through these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from inbox.config import FormLimits, WebSettings
from inbox.events import EventBus
from inbox.presence import Presence
from inbox.usecases.accounts import Accounts
from inbox.usecases.acks import Acknowledgements
from inbox.usecases.canned import CannedReplies
from inbox.usecases.connectors import ConnectorStatus
from inbox.usecases.conversations import Conversations
from inbox.usecases.csat import Surveys
from inbox.usecases.customers import Customers
from inbox.usecases.dead_letters import DeadLetters
from inbox.usecases.forms import Forms
from inbox.usecases.incidents import Incidents
from inbox.usecases.listening import ListeningRules
from inbox.usecases.replies import Replies
from inbox.usecases.reports import Reports
from inbox.usecases.saved_searches import SavedSearches
from inbox.usecases.search import Search


@dataclass(frozen=True, slots=True)
class WebContext:
    conversations: Conversations
    replies: Replies
    customers: Customers
    reports: Reports
    accounts: Accounts
    search: Search
    dead_letters: DeadLetters
    connectors: ConnectorStatus
    forms: Forms
    events: EventBus
    web: WebSettings
    form_limits: FormLimits
    health: Callable[[], Awaitable[None]]  # raises StoreUnavailable when the store is down
    presence: Presence  # who is viewing or typing which conversation (this process)
    canned: CannedReplies  # the team's canned replies, filled in per conversation
    saved_searches: SavedSearches  # the team's saved searches
    listening: ListeningRules  # the X listening rules, their volume, cost, share of voice
    incidents: Incidents  # outages: linked conversations, updates to every linked customer
    acks: Acknowledgements  # the customers' acknowledgement and update templates
    surveys: Surveys  # the satisfaction surveys after resolution, their answers and report
