"""Saved searches: team documents (a name and a query of the search language) that everyone
who may search sees and runs on the voice of the customer. Who saved one, managers and
admins (permission "searches") rename and delete it; anyone who may search subscribes to
its spike alerts (inbox.usecases.alerts)."""

from __future__ import annotations

from typing import Any

from inbox import permissions
from inbox import query as ql
from inbox.audit import audit
from inbox.collections import SavedSearchDoc, SpikeStateDoc, existing
from inbox.errors import PermissionDenied, QueryError, ValidationError
from inbox.model import User, new_id, utcnow
from inbox.normalize import required_label
from inbox.store import Store
from inbox.usecases.search import Search

MAX_NAME, MAX_QUERY = 100, 1_000
MAX_SEARCHES = 500  # the team's whole set, listed at once
MANAGE_PERMISSION = "searches"  # rename and delete anyone's saved search
MAX_SUBSCRIBERS = 1_000


class SavedSearches:
    def __init__(self, store: Store, search: Search | None = None) -> None:
        """search: checks a query against what its author may search (marketing without
        contacts may not look customers up by address)."""
        self.store, self.search = store, search

    async def all(self) -> list[SavedSearchDoc]:
        """Every saved search, by name."""
        found = [doc for _, doc in await self.store.saved_searches.list(None, MAX_SEARCHES)]
        return sorted(found, key=lambda d: (d["name"].casefold(), d["id"]))

    async def spike_states(self) -> dict[str, SpikeStateDoc]:
        """Where each subscribed search's spike detection stands, by search id."""
        return dict(await self.store.spike_states.list(None, MAX_SEARCHES))

    async def get(self, search_id: str) -> SavedSearchDoc:
        return await existing(self.store.saved_searches, search_id, "saved search")

    async def create(self, actor: User, name: Any, query: Any) -> SavedSearchDoc:
        clean_name, text = _checked(name, query)
        if self.search is not None:
            try:
                self.search.visible(ql.parse(text), text, actor)
            except QueryError as exc:
                raise ValidationError({"query": str(exc)}) from None
        existing = await self.all()
        if len(existing) >= MAX_SEARCHES:
            raise ValidationError({"name": f"at most {MAX_SEARCHES} saved searches; "
                                           "delete one first"})
        _name_free(existing, clean_name, None)
        doc: SavedSearchDoc = {"id": new_id("s"), "name": clean_name, "query": text,
                               "owner": actor.id, "owner_email": actor.email,
                               "created_at": utcnow().isoformat(), "subscribers": []}
        await self.store.saved_searches.put(doc["id"], doc)
        await audit(self.store, actor, "search.save", doc["id"])
        return doc

    async def rename(self, actor: User, search_id: str, name: Any) -> SavedSearchDoc:
        old = await self._changeable(actor, search_id)
        clean_name, _ = _checked(name, old["query"])
        _name_free(await self.all(), clean_name, old["id"])
        return await self._swap(old, lambda d: {**d, "name": clean_name}, actor, "search.rename")

    async def delete(self, actor: User, search_id: str) -> SavedSearchDoc:
        doc = await self._changeable(actor, search_id)
        await self.store.saved_searches.delete(doc["id"])
        await self.store.spike_states.delete(doc["id"])
        await audit(self.store, actor, "search.delete", doc["id"])
        return doc

    async def subscribe(self, user: User, search_id: str, on: bool) -> SavedSearchDoc:
        """Tell (on) or stop telling this user of the search's spikes."""
        def changed(d: SavedSearchDoc) -> SavedSearchDoc:
            rest = [u for u in d["subscribers"] if u != user.id]
            if on and len(rest) >= MAX_SUBSCRIBERS:
                raise ValidationError({"subscribe": f"at most {MAX_SUBSCRIBERS} subscribers"})
            return {**d, "subscribers": [*rest, user.id] if on else rest}

        return await self._swap(await self.get(search_id), changed, None, "")

    async def _swap(self, doc: SavedSearchDoc, change: Any, actor: User | None,
                    action: str) -> SavedSearchDoc:
        """Write change(doc), again from the stored document while another writer wins."""
        for _ in range(10):
            new: SavedSearchDoc = change(doc)
            if await self.store.saved_searches.swap(doc["id"], doc, new):
                if actor is not None:
                    await audit(self.store, actor, action, doc["id"])
                return new
            doc = await self.get(doc["id"])
        raise ValidationError({"search": "changed by someone else meanwhile; try again"})

    async def _changeable(self, actor: User, search_id: str) -> SavedSearchDoc:
        doc = await self.get(search_id)
        if not may_change(actor, doc):
            raise PermissionDenied("only who saved it, managers and admins may rename or "
                                   "delete a saved search")
        return doc


def may_change(user: User, doc: SavedSearchDoc) -> bool:
    return doc["owner"] == user.id or permissions.allowed(user, MANAGE_PERMISSION)


def _name_free(existing: list[SavedSearchDoc], name: str, own_id: str | None) -> None:
    """One name, one saved search (ignoring case), so the team picks the one they mean."""
    if any(d["name"].casefold() == name.casefold() and d["id"] != own_id for d in existing):
        raise ValidationError({"name": f"a search is already saved as {name!r}"})


def _checked(name: Any, query: Any) -> tuple[str, str]:
    """The name, cleaned, and the query as the language writes it; ValidationError says
    what is wrong (a query's error with its position)."""
    errors: dict[str, str] = {}
    clean_name = required_label(name, MAX_NAME, "name", "what the team finds it by", errors)
    text = ""
    if not isinstance(query, str) or not query.strip():
        errors["query"] = "required: the search to save"
    elif len(query) > MAX_QUERY:
        errors["query"] = f"at most {MAX_QUERY:,} characters"
    else:
        try:
            text = ql.to_text(ql.parse(query))
        except QueryError as exc:
            errors["query"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return clean_name, text
