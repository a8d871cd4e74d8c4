"""Search: the search language for one user, what their role may see, and the voice of
the customer (volume, trending words). Pages, the API and the CSV export all go through
`messages`, so contacts stay hidden from whoever may not see them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from inbox import permissions
from inbox import query as ql
from inbox.errors import QueryError
from inbox.model import (
    And,
    Direction,
    Facet,
    FieldTerm,
    Interval,
    QueryNode,
    SearchResult,
    User,
)
from inbox.privacy import inbound_only, redact_message
from inbox.store import Store
from inbox.usecases.accounts import Accounts

INBOUND = FieldTerm("direction", Direction.INBOUND)
TRENDING = 15


@dataclass(frozen=True, slots=True)
class Voc:
    """The voice of the customer for one query."""

    result: SearchResult  # a first page of messages, with facets
    volume: list[tuple[str, int]]  # (bucket start, count)
    trending: list[tuple[str, float]]  # (word, score), best first


class Search:
    def __init__(self, store: Store, accounts: Accounts, marketing_contacts: bool = False
                 ) -> None:
        self.store, self.accounts = store, accounts
        self.marketing_contacts = marketing_contacts  # the privacy setting

    async def parse(self, text: str, viewer: User) -> QueryNode | None:
        """The query with assignee:me and assignee:<email> turned into user ids, limited to
        what the viewer may see (`visible`); QueryError says where it is wrong."""
        node = ql.resolve_me(ql.parse(text), viewer.id)
        if "assignee" in ql.fields_used(node):
            ids = {u.email: u.id for u in await self.accounts.users()}

            def user_id(value: str) -> str:
                if "@" not in value:
                    return value
                if value.lower() not in ids:
                    raise QueryError(f"no user {value}", text.find(value), text)
                return ids[value.lower()]

            node = ql.map_assignees(node, user_id)
        return self.visible(node, text, viewer)

    def hides_contacts(self, viewer: User) -> bool:
        """Searches of this user match the public copy of the text (Store `public=True`): no
        word, phrase or prefix finds a piece of an address or number they may not see."""
        return not permissions.sees_contacts(viewer, self.marketing_contacts)

    def visible(self, node: QueryNode | None, text: str, viewer: User) -> QueryNode | None:
        """Who may not read conversations (marketing) searches inbound customer messages
        only, and without contacts may not look customers up by address (from:)."""
        if permissions.sees_care(viewer):
            return node
        if "from" in ql.fields_used(node) and self.hides_contacts(viewer):
            raise QueryError("from: is not available to your role (customer contacts are "
                             "hidden)", max(text.lower().find("from:"), 0), text)
        if node is None:
            return INBOUND
        return And((INBOUND, *(node.nodes if isinstance(node, And) else (node,))))

    async def messages(self, viewer: User, node: QueryNode | None, cursor: str | None,
                       limit: int, facets: Sequence[Facet] = (),
                       volume: Interval | None = None) -> SearchResult:
        """The one way to search messages (node: from `parse`): contacts redacted for who
        may not see them, only customer messages for who may not read conversations."""
        hidden = self.hides_contacts(viewer)
        result = await self.store.search(node, cursor, limit, facets, public=hidden,
                                         volume=volume)
        if permissions.sees_care(viewer):
            return result
        shown = redact_message if hidden else inbound_only
        return replace(result, messages=tuple(shown(m) for m in result.messages))

    async def volume(self, viewer: User, node: QueryNode | None, interval: Interval
                     ) -> list[tuple[str, int]]:
        return await self.store.volume(node, interval, public=self.hides_contacts(viewer))

    async def voc(self, viewer: User, node: QueryNode | None, interval: Interval,
                  facets: Sequence[Facet]) -> Voc:
        """Volume over time, trending words and a first page of the matching messages."""
        result = await self.messages(viewer, node, None, 20, facets, interval)
        return Voc(result, list(result.volume),
                   await self.store.trending(node, TRENDING,
                                             public=self.hides_contacts(viewer)))

    @staticmethod
    def text(node: QueryNode | None) -> str:
        """The query as the search language writes it (normalized)."""
        return ql.to_text(node)
